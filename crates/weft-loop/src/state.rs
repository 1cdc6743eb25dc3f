//! The state all loops of one runtime share ([`Shared`]): the injector, each
//! worker's remote side (stealer, LIFO slot, counters), the sleepers
//! (`park.rs`), the task registry, the driver and the blocking pool, and the
//! shutdown flags; plus [`LoopRemote`], the side of one loop other threads
//! reach (its inbox and parker), and the [`Msg`]s they send it.
//!
//! This is data and the operations on it alone; which loop is current is
//! `context.rs`'s business, and where a task goes is `scheduler/`'s.

use crate::driver::Driver;
use crate::lifo::LifoSlot;
use crate::loom::sync::{AtomicBool, AtomicUsize, Mutex, Ordering};
use crate::metrics::{StepTiming, WorkerStats};
use crate::park::{Idle, Parker};
use crate::stop::StopSignal;
use crate::thread_pool::BlockingPool;
use crossbeam_deque::{Injector, Stealer};
use crossbeam_utils::CachePadded;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use weft_task::{ExceptionContext, Runnable, TaskError, TaskRegistry};

/// The runtime's exception handler: the user's, as `Builder::exception_handler`
/// and `Handle::set_exception_handler` wrap it (they make the `Handle` it
/// receives from the `Shared`).
pub(crate) type ExceptionHandler = Arc<dyn Fn(&Arc<Shared>, &ExceptionContext) + Send + Sync>;

/// A callback queued with `call_soon`.
pub(crate) type Callback = Box<dyn FnOnce() + Send>;

/// What other threads send to one loop.
pub(crate) enum Msg {
    /// A pinned task of this loop was woken elsewhere.
    Task(Runnable),
    /// `call_soon` from another thread.
    Call(Callback),
}

/// The side of a loop other threads can reach: its inbox and its parker.
pub(crate) struct LoopRemote {
    pub(crate) inbox: crossbeam_channel::Sender<Msg>,
    pub(crate) parker: Arc<Parker>,
    /// Unique across the process; the local-owner key of its pinned tasks.
    pub(crate) key: usize,
}

/// Loop keys, unique in the process. A std static (loom atomics cannot be
/// statics); only uniqueness matters, so it synchronises nothing.
static NEXT_KEY: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

impl LoopRemote {
    /// A fresh remote side and the inbox it feeds, for a new loop.
    pub(crate) fn new(driver: &Arc<Driver>) -> (Arc<LoopRemote>, crossbeam_channel::Receiver<Msg>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        // Relaxed: only uniqueness matters.
        let key = NEXT_KEY.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (
            Arc::new(LoopRemote {
                inbox: tx,
                parker: Parker::new(driver.clone()),
                key,
            }),
            rx,
        )
    }

    /// Sends `msg` and wakes the loop; a loop that has ended gives it back.
    pub(crate) fn try_send(&self, msg: Msg) -> Result<(), Msg> {
        self.inbox.send(msg).map_err(|e| e.into_inner())?;
        self.parker.unpark();
        Ok(())
    }

    /// Sends `msg` and wakes the loop. A closed loop drops the message (its
    /// pinned tasks were already shut down, so only stale wakes arrive late).
    pub(crate) fn send(&self, msg: Msg) {
        let _ = self.try_send(msg);
    }
}

/// Per-worker state reachable from other workers.
pub(crate) struct Remote {
    pub(crate) stealer: Stealer<Runnable>,
    pub(crate) lifo: LifoSlot,
    pub(crate) lp: Arc<LoopRemote>,
    /// The worker's counters (`metrics.rs`), on cache lines of their own.
    pub(crate) stats: CachePadded<WorkerStats>,
}

/// User hooks and settings, fixed at build time.
pub(crate) struct Config {
    pub(crate) on_thread_start: Option<Arc<dyn Fn() + Send + Sync>>,
    pub(crate) on_thread_stop: Option<Arc<dyn Fn() + Send + Sync>>,
    /// `Builder::eager_tasks`: every spawn runs the task's first step at once.
    pub(crate) eager_tasks: bool,
    /// `Builder::slow_poll_threshold` (`None`: off): steps taking at least
    /// this long are logged (`scheduler/step_timing.rs`).
    pub(crate) slow_poll: Option<std::time::Duration>,
    /// `Builder::enable_poll_time_histogram`: workers time every task step.
    pub(crate) poll_time_histogram: bool,
}

impl Config {
    /// How the loops time their steps (`metrics.rs`'s `StepTiming`).
    pub(crate) fn step_timing(&self) -> StepTiming {
        StepTiming::new(self.slow_poll, self.poll_time_histogram)
    }
}

pub(crate) struct Shared {
    pub(crate) injector: Injector<Runnable>,
    pub(crate) remotes: Box<[Remote]>,
    pub(crate) idle: Idle,
    pub(crate) registry: TaskRegistry,
    pub(crate) closed: AtomicBool,
    /// Whether `shutdown_remaining` reports destroyed tasks as warnings (a
    /// graceful shutdown that ran out of time) or at debug level (a drop).
    pub(crate) warn_destroyed: AtomicBool,
    /// Workers still running.
    pub(crate) live_workers: AtomicUsize,
    /// Set (before `close`) when the runtime is dropped on one of its own
    /// workers, where nobody joins them: the last worker to exit then calls
    /// `shutdown_remaining`. Otherwise the dropping thread does, after joining.
    pub(crate) last_worker_finishes: AtomicBool,
    pub(crate) config: Config,
    /// The reactor and timers.
    pub(crate) driver: Arc<Driver>,
    /// Threads for `spawn_blocking`.
    pub(crate) blocking: Arc<BlockingPool>,
    /// `run_forever`'s stop signal.
    pub(crate) stop: StopSignal,
    /// The exception handler; `None`: the default one. Read (cloned out)
    /// only when something is reported, never on a hot path.
    pub(crate) exception_handler: Mutex<Option<ExceptionHandler>>,
    next_call_target: AtomicUsize,
}

impl Shared {
    pub(crate) fn new(
        remotes: Box<[Remote]>,
        config: Config,
        driver: Arc<Driver>,
        blocking: BlockingPool,
    ) -> Shared {
        let workers = remotes.len();
        Shared {
            injector: Injector::new(),
            idle: Idle::new(workers),
            registry: TaskRegistry::new(workers),
            closed: AtomicBool::new(false),
            warn_destroyed: AtomicBool::new(false),
            live_workers: AtomicUsize::new(workers),
            last_worker_finishes: AtomicBool::new(false),
            config,
            driver,
            blocking: Arc::new(blocking),
            stop: StopSignal::new(),
            exception_handler: Mutex::new(None),
            next_call_target: AtomicUsize::new(0),
            remotes,
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        // Acquire: pairs with the Release in `close`.
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn close(&self) {
        self.registry.close();
        // Release: pairs with the Acquire in `is_closed`.
        self.closed.store(true, Ordering::Release);
        self.driver.close();
        self.blocking.close();
        for r in self.remotes.iter() {
            r.lp.parker.unpark();
        }
    }

    /// A stealable task from outside any worker of this runtime.
    pub(crate) fn inject(&self, task: Runnable) {
        self.injector.push(task);
        if self.is_closed() {
            // Raced with shutdown (which may have drained the injector already):
            // nobody will run it, so cancel it here rather than strand it.
            self.drain_injector();
            return;
        }
        self.notify_one();
    }

    /// Cancels everything queued in the injector (after close).
    pub(crate) fn drain_injector(&self) {
        loop {
            match self.injector.steal() {
                crossbeam_deque::Steal::Success(t) => t.shutdown(),
                crossbeam_deque::Steal::Retry => continue,
                crossbeam_deque::Steal::Empty => break,
            }
        }
    }

    /// After every worker has exited: cancels the tasks any thread may run
    /// that are still registered, and what is still queued. `warn` reports
    /// each task destroyed while pending.
    pub(crate) fn shutdown_remaining(&self) {
        let warn = self.warn_destroyed.load(Ordering::Relaxed);
        let report = |task: &weft_task::TaskRef| {
            if warn {
                tracing::warn!(task = ?task, location = %task.location(), "task destroyed while pending");
            } else {
                tracing::debug!(task = ?task, "task dropped at runtime shutdown");
            }
        };
        // Every worker has exited (the caller is the last one, or joined them
        // all), and block_on loops poll tasks with owner 0 only in an eager
        // spawn's first step, which holds RUNNING (so the shutdown of that one
        // task is refused: `to_running_for_shutdown`).
        // SAFETY: so no thread polls the tasks shut down here; their futures are Send.
        unsafe { self.registry.shutdown_tasks(|owner| owner == 0, report) };
        self.drain_injector();
        // Timers registered after `close` (a `call_later` from a destructor).
        self.driver.close();
        // The handler goes with the runtime: one that keeps the contexts it
        // is given keeps their tasks, which keep this `Shared` (a cycle that
        // would leak the runtime). Reports after this use the default one.
        let handler = self.exception_handler.lock().take();
        drop(handler);
    }

    /// Wakes a parked worker if work may be waiting and nobody is looking.
    pub(crate) fn notify_one(&self) {
        if let Some(i) = self.idle.worker_to_notify() {
            self.remotes[i].lp.parker.unpark();
        }
    }

    /// Whether any stealable work is visible (the parking re-check).
    pub(crate) fn has_stealable_work(&self) -> bool {
        !self.injector.is_empty()
            || self
                .remotes
                .iter()
                .any(|r| !r.stealer.is_empty() || !r.lifo.is_empty())
    }

    /// `call_soon` from a thread that is not one of this runtime's loops: a
    /// worker, chosen round-robin, gets it through its inbox.
    pub(crate) fn call_soon_remote(&self, f: Callback) {
        // Relaxed: only spreads load.
        let i = self.next_call_target.fetch_add(1, Ordering::Relaxed) % self.remotes.len();
        self.remotes[i].lp.send(Msg::Call(f));
    }

    /// Hands `context` to the exception handler, on this thread (asyncio's
    /// `call_exception_handler`); the default one if none was set. A handler
    /// that panics is reported through `tracing` ("Unhandled error in
    /// exception handler", with the context it was given), as asyncio logs it.
    pub(crate) fn call_exception_handler(self: &Arc<Self>, context: ExceptionContext) {
        // Cloned out: the handler may set another, or report again.
        let handler = self.exception_handler.lock().clone();
        match handler {
            None => weft_task::default_exception_handler(&context),
            Some(handler) => {
                if let Err(panic) = weft_task::catch_panic(|| handler(self, &context)) {
                    tracing::error!(
                        error = %panic,
                        context = %context,
                        "Unhandled error in exception handler"
                    );
                    weft_task::discard_context(
                        ExceptionContext::default().with_error(TaskError::Panicked(panic)),
                    );
                }
            }
        }
        weft_task::discard_context(context);
    }

    pub(crate) fn same(&self, other: &Shared) -> bool {
        std::ptr::eq(self, other)
    }

    /// Waits (polling) until no task is live, except those pinned to the loop
    /// keyed `skip_loop` (0: none skipped), or `timeout` passes.
    pub(crate) fn wait_for_tasks(&self, timeout: Duration, skip_loop: usize) -> bool {
        let deadline = crate::deadline::after(timeout);
        loop {
            let live = self
                .registry
                .count_where(|owner| skip_loop == 0 || owner != skip_loop);
            if live == 0 {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }
}

/// A runtime's exception handler as the task core reaches it (through the
/// hook `context.rs` installs): what a panic caught on one of its loops, or a
/// promise error dropped there unread, is reported to.
pub(crate) struct RuntimeExceptions(pub(crate) Arc<Shared>);

impl weft_task::CallExceptionHandler for RuntimeExceptions {
    fn call_exception_handler(&self, context: ExceptionContext) {
        self.0.call_exception_handler(context);
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("workers", &self.remotes.len())
            .field("idle", &self.idle)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}
