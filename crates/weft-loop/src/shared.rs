//! State shared by all loops of one runtime, and the two [`Schedule`]
//! implementations: [`Scheduler`] for tasks any worker may run, and
//! [`LocalScheduler`] for tasks pinned to one loop.
//!
//! # Where a woken task goes
//!
//! | task      | woken on                         | goes to                                   |
//! |-----------|----------------------------------|-------------------------------------------|
//! | stealable | a worker of this runtime         | that worker's LIFO slot (its old occupant to the back of its deque) |
//! | stealable | anywhere else                    | the injector, then a parked worker is woken |
//! | stealable | itself, during its own poll      | the back of the worker's deque (a yield)  |
//! | pinned    | its own loop's thread            | that loop's pinned queue                  |
//! | pinned    | any other thread                 | its loop's inbox (a channel), then that loop's parker |
//!
//! Every push of stealable work is followed by `notify_one` (see `park.rs` for
//! why that loses no wake-up).

use crate::blocking::BlockingPool;
use crate::driver::Driver;
use crate::event_loop::Loop;
use crate::loom::sync::{AtomicBool, AtomicUsize, Ordering};
use crate::park::{Idle, Parker};
use crate::queue::LifoSlot;
use crossbeam_deque::{Injector, Stealer};
use crossbeam_utils::CachePadded;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use weft_task::context::CallSoon;
use weft_task::{Runnable, Schedule, TaskRegistry};

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

impl LoopRemote {
    /// On this loop's own thread, hands `item` to `local` there; elsewhere
    /// gives it back for the cross-thread path.
    pub(crate) fn on_own_thread<T>(&self, item: T, local: impl FnOnce(&Loop, T)) -> Option<T> {
        Loop::with_current(|lp| match lp {
            Some(lp) if lp.key() == self.key => {
                local(lp, item);
                None
            }
            _ => Some(item),
        })
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
    pub(crate) steals: CachePadded<AtomicUsize>,
    pub(crate) parks: CachePadded<AtomicUsize>,
}

/// User hooks and settings, fixed at build time.
pub(crate) struct Config {
    pub(crate) on_thread_start: Option<Arc<dyn Fn() + Send + Sync>>,
    pub(crate) on_thread_stop: Option<Arc<dyn Fn() + Send + Sync>>,
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
        // SAFETY: every worker has exited (the caller is the last one, or joined
        // them all), and block_on loops never poll tasks with owner 0, so no
        // thread polls the tasks accepted here; their futures are Send.
        unsafe { self.registry.shutdown_tasks(|owner| owner == 0, report) };
        self.drain_injector();
        // Timers registered after `close` (a `call_later` from a destructor).
        self.driver.close();
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

    /// On a loop of this runtime, offers `item` to `local` there (which may
    /// give it back: a `block_on` loop cannot run stealable tasks); elsewhere,
    /// or if refused, gives it back for the cross-thread path. The
    /// runtime-wide counterpart of `LoopRemote::on_own_thread`.
    pub(crate) fn on_own_loop<T>(
        &self,
        item: T,
        local: impl FnOnce(&Loop, T) -> Option<T>,
    ) -> Option<T> {
        Loop::with_current(|lp| match lp {
            Some(lp) if lp.shared().same(self) => local(lp, item),
            _ => Some(item),
        })
    }

    pub(crate) fn same(&self, other: &Shared) -> bool {
        std::ptr::eq(self, other)
    }

    /// Waits (polling) until no task is live, except those pinned to the loop
    /// keyed `skip_loop` (0: none skipped), or `timeout` passes.
    pub(crate) fn wait_for_tasks(&self, timeout: Duration, skip_loop: usize) -> bool {
        let deadline = std::time::Instant::now() + timeout;
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

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("workers", &self.remotes.len())
            .field("idle", &self.idle)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Queues a `call_soon` callback: on this thread's loop if it belongs to the
/// runtime, else through a worker's inbox.
pub(crate) fn call_soon(shared: &Shared, f: Callback) {
    let local = |lp: &Loop, f: Callback| {
        lp.push_callback(f);
        None
    };
    if let Some(f) = shared.on_own_loop(f, local) {
        shared.call_soon_remote(f);
    }
}

/// Schedules tasks that any worker may run.
pub(crate) struct Scheduler {
    pub(crate) shared: Arc<Shared>,
}

impl Scheduler {
    /// `schedule` without needing a `Scheduler` (spawn uses it).
    pub(crate) fn schedule_on(shared: &Shared, task: Runnable) {
        if let Some(task) = shared.on_own_loop(task, Loop::push_woken) {
            shared.inject(task);
        }
    }
}

// SAFETY: `registry` always returns the one registry of `self.shared`.
unsafe impl Schedule for Scheduler {
    fn schedule(&self, task: Runnable) {
        Scheduler::schedule_on(&self.shared, task);
    }

    fn yield_now(&self, task: Runnable) {
        if let Some(task) = self.shared.on_own_loop(task, Loop::push_yielded) {
            self.shared.inject(task);
        }
    }

    fn registry(&self) -> &TaskRegistry {
        &self.shared.registry
    }
}

impl CallSoon for Scheduler {
    fn call_soon(&self, f: Callback) {
        call_soon(&self.shared, f);
    }
}

/// Schedules tasks pinned to one loop (`spawn_local`).
pub(crate) struct LocalScheduler {
    pub(crate) shared: Arc<Shared>,
    pub(crate) owner: Arc<LoopRemote>,
}

// SAFETY: `registry` always returns the one registry of `self.shared`.
unsafe impl Schedule for LocalScheduler {
    fn schedule(&self, task: Runnable) {
        if let Some(task) = self.owner.on_own_thread(task, Loop::push_pinned) {
            self.owner.send(Msg::Task(task));
        }
    }

    fn registry(&self) -> &TaskRegistry {
        &self.shared.registry
    }
}

impl CallSoon for LocalScheduler {
    fn call_soon(&self, f: Callback) {
        call_soon(&self.shared, f);
    }
}

/// What a [`Promise`](weft_task::Promise) made on a loop uses for its callbacks.
pub(crate) struct LoopCallSoon {
    pub(crate) shared: Arc<Shared>,
    pub(crate) owner: Arc<LoopRemote>,
}

impl CallSoon for LoopCallSoon {
    fn call_soon(&self, f: Callback) {
        let f = self.owner.on_own_thread(f, |lp, f| lp.push_callback(f));
        if let Some(f) = f {
            if self.shared.is_closed() {
                return;
            }
            // The loop the promise was made on may have ended (a finished
            // `block_on`): then any worker runs the callbacks.
            if let Err(Msg::Call(f)) = self.owner.try_send(Msg::Call(f)) {
                self.shared.call_soon_remote(f);
            }
        }
    }
}
