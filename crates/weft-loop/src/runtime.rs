//! [`Runtime`], [`Builder`] and [`Handle`]: starting the workers, spawning
//! from anywhere, and shutting down.
//!
//! # Starting
//!
//! `Builder::build` makes the driver, one deque, LIFO slot and inbox per
//! worker, and the shared state (`state.rs`), then starts the worker threads
//! (`scheduler/worker.rs`). With an `on_thread_start` hook it waits until each
//! worker has run it; if one panicked, `build` drops the runtime (the steps
//! below, with no grace) and fails with an error naming the panic.
//!
//! # Shutdown protocol
//!
//! `shutdown_timeout(grace)`, and `Drop` with no grace:
//!
//! 1. Note whether the caller runs on one of this runtime's own workers, and
//!    which loop it runs (its pinned tasks cannot run while it waits).
//! 2. With a grace, if not closed yet: cancel every live task but the
//!    caller's own, then wait (polling the registry) until none is live but
//!    those pinned to the caller's loop, or the grace has passed. On one of
//!    its own workers it does not wait: the wait would hold up the cleanup it
//!    waits for.
//! 3. Store how destroyed tasks are reported (`warn_destroyed`) and who
//!    finishes step 6 (`last_worker_finishes`: the last worker out, when the
//!    caller is one of them and cannot join itself). Relaxed: `close`'s
//!    Release store publishes them to every worker's Acquire `is_closed`.
//! 4. `Shared::close`: the registry refuses new tasks (spawns now return
//!    `SpawnError` / a cancelled task), the closed flag is set, the driver is
//!    closed (pending timers dropped after waking their wakers, socket waits
//!    woken to fail), the blocking pool drops its queued jobs, and every
//!    worker is unparked.
//! 5. Each worker sees the flag at its next tick and leaves its loop: it
//!    shuts down its pinned tasks on its own thread, drops its deque and LIFO
//!    slot, runs `on_thread_stop`, and counts itself out of `live_workers`.
//! 6. The caller joins the workers (or, per step 3, the last worker out
//!    does this itself) and then shuts down what is left
//!    (`Shared::shutdown_remaining`): the stealable tasks still registered,
//!    whatever is in the injector, and timers registered since step 4.
//!
//! Why no task is polled while step 6 drops it: every worker has exited, and
//! a `block_on` loop never polls a stealable task (a wake on its thread goes
//! to the injector, which step 6 drains, and a push after close is cancelled
//! at once by `Shared::inject`) except in the first step of an eager spawn
//! made there; step 6 leaves a task whose step is running alone (its state
//! says `RUNNING`), and `scheduler::start_eager` cancels it after the step if
//! the registry closed meanwhile. A `block_on` still running on another thread
//! keeps its own pinned tasks, which it shuts down when it returns.

use crate::context::{self, with_current};
use crate::driver::Driver;
use crate::error::{BlockOnError, SpawnError};
use crate::lifo::LifoSlot;
use crate::loom::sync::{Arc, Ordering};
use crate::metrics::{PollTimeHistogram, RuntimeMetrics, WorkerMetrics, WorkerStats};
use crate::scheduler::{self, PinTo, Scheduler};
use crate::state::{Config, ExceptionHandler, LoopRemote, Remote, Shared};
use crossbeam_deque::Worker;
use crossbeam_utils::CachePadded;
use std::fmt;
use std::future::Future;
use std::io;
use std::panic::Location;

use std::thread::JoinHandle;
use std::time::Duration;
use weft_task::{ExceptionContext, Spawned, Task, TaskDump, TaskRef};

/// How long [`run`](crate::run) lets cancelled tasks clean up before it drops
/// them.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Configures and starts a [`Runtime`].
///
/// ```
/// let rt = weft::Builder::new()
///     .workers(2)
///     .thread_name("my-worker")
///     .on_thread_start(|| println!("worker up"))
///     .build()
///     .unwrap();
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// ```
#[must_use = "a Builder does nothing until .build()"]
pub struct Builder {
    workers: Option<usize>,
    thread_name: String,
    on_thread_start: Option<std::sync::Arc<dyn Fn() + Send + Sync>>,
    on_thread_stop: Option<std::sync::Arc<dyn Fn() + Send + Sync>>,
    max_blocking_threads: usize,
    blocking_keep_alive: Duration,
    eager_tasks: bool,
    poll_time_histogram: bool,
    exception_handler: Option<ExceptionHandler>,
    slow_poll: Option<Duration>,
    /// Run on the new runtime at the end of `build`, which fails with its
    /// error (the dump on a signal: `dump_signal.rs`).
    pub(crate) on_built: Option<OnBuilt>,
}

/// See `Builder::on_built`.
pub(crate) type OnBuilt = Box<dyn FnOnce(&Handle) -> io::Result<()> + Send>;

impl Builder {
    /// Defaults: one worker per available core, threads named `weft-worker-N`.
    ///
    /// ```
    /// let rt = weft::Builder::new().build().unwrap();
    /// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
    /// ```
    pub fn new() -> Builder {
        Builder {
            workers: None,
            thread_name: "weft-worker".into(),
            on_thread_start: None,
            on_thread_stop: None,
            max_blocking_threads: crate::thread_pool::DEFAULT_MAX_THREADS,
            blocking_keep_alive: crate::thread_pool::DEFAULT_KEEP_ALIVE,
            eager_tasks: false,
            poll_time_histogram: false,
            exception_handler: None,
            slow_poll: None,
            on_built: None,
        }
    }

    /// Keeps a histogram of how long each task step takes, per worker, in
    /// [`RuntimeMetrics::poll_time_histogram`] and each
    /// [`WorkerMetrics::poll_time_histogram`] (tokio's
    /// `enable_metrics_poll_time_histogram`). The buckets are fixed:
    /// powers of two from 256 ns up to 16.78 ms and beyond
    /// ([`PollTimeHistogram`] lists them). It costs two clock reads per
    /// step, which is why it is off by default: without it the poll path
    /// reads no clock.
    ///
    /// ```
    /// let rt = weft::Builder::new()
    ///     .workers(1)
    ///     .enable_poll_time_histogram()
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(async { weft::spawn(async {}).await.unwrap() });
    /// // The step is counted just after it returns: the awaiter may be
    /// // woken first.
    /// let counted = (0..1000).any(|_| {
    ///     std::thread::sleep(std::time::Duration::from_millis(1));
    ///     rt.handle().metrics().poll_time_histogram.total() >= 1
    /// });
    /// assert!(counted);
    /// ```
    pub fn enable_poll_time_histogram(mut self) -> Builder {
        self.poll_time_histogram = true;
        self
    }

    /// Makes every task spawned on this runtime eager (asyncio 3.12's
    /// `loop.set_task_factory(asyncio.eager_task_factory)`): `spawn`,
    /// `spawn_local`, [`Handle::spawn`] and the spawns of `TaskGroup`,
    /// `gather!` and `ensure_future!` run the new task's first step at once,
    /// inside the spawn call, as [`spawn_eager`](crate::spawn_eager) does for
    /// one task. A spawn from a thread that runs no loop of this runtime (a
    /// plain thread calling [`Handle::spawn`], another runtime's worker)
    /// schedules the task as usual, as asyncio starts a task eagerly only on
    /// its running loop. Default: off.
    ///
    /// ```
    /// let rt = weft::Builder::new().workers(1).eager_tasks(true).build().unwrap();
    /// rt.block_on(async {
    ///     let t = weft::spawn(async { 7 });
    ///     assert!(t.done()); // it finished inside `spawn`
    ///     assert_eq!(t.await.unwrap(), 7);
    /// });
    /// ```
    pub fn eager_tasks(mut self, eager: bool) -> Builder {
        self.eager_tasks = eager;
        self
    }

    /// Warns about slow steps (asyncio's debug-mode `slow_callback_duration`):
    /// a task's poll (or the drop that delivers its cancellation), a
    /// callback (`call_soon`, `call_later`, a done callback) or a turn of a
    /// `block_on` / [`Runner`](crate::Runner) future that takes `threshold`
    /// or longer is logged through `tracing` at `WARN`, target
    /// `weft::slow_poll`, in asyncio's words: `Executing <Task pending
    /// name='Task-7' coro=<handler() running at src/main.rs:40>> took 0.123
    /// seconds`, with the task's id, name and spawn site and the time taken
    /// as fields too. Such a step held its worker up for that long; the
    /// usual culprit is blocking code (a file read, a lock, a long
    /// computation) that belongs in [`spawn_blocking`](crate::spawn_blocking).
    ///
    /// Off by default: then no clock is read. `Duration::ZERO` turns it off
    /// (every step takes zero time or more, so "warn about every step" would
    /// only flood the log); it is the way to undo an earlier call.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft::Builder::new()
    ///     .slow_poll_threshold(Duration::from_millis(20))
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(async {
    ///     // Logs "Executing <Task ...> took 0.03.. seconds" at WARN.
    ///     weft::spawn(async { std::thread::sleep(Duration::from_millis(30)) })
    ///         .await
    ///         .unwrap();
    /// });
    /// ```
    pub fn slow_poll_threshold(mut self, threshold: Duration) -> Builder {
        self.slow_poll = (!threshold.is_zero()).then_some(threshold);
        self
    }

    /// Sets the runtime's exception handler (asyncio's
    /// `loop.set_exception_handler`): what receives the errors nobody else
    /// will see, each as an [`ExceptionContext`], on the thread where it
    /// was found: a `call_soon` / `call_later` callback, done callback or
    /// waker that panicked ("... panicked"), a task whose error was never
    /// retrieved (its handle dropped without awaiting it, `result()` or
    /// `exception()`: "Task exception was never retrieved"), a
    /// [`Promise`](weft_task::Promise) settled with an error nobody read
    /// ("Future exception was never retrieved"), and what
    /// [`Handle::call_exception_handler`] is given. Without one,
    /// [`default_exception_handler`](weft_task::default_exception_handler)
    /// logs through `tracing`. A handler that panics is reported through
    /// `tracing` ("Unhandled error in exception handler") and the runtime
    /// goes on. The handler is dropped when the runtime shuts down (so one
    /// that keeps the contexts it is given, and with them their tasks, does
    /// not keep the runtime alive); a report after that goes to the default
    /// handler.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// let rt = weft::Builder::new()
    ///     .exception_handler(move |_handle, ctx| s.lock().unwrap().push(ctx.message.clone()))
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(async {
    ///     weft::call_soon(|| panic!("boom"));
    ///     weft::yield_now().await;
    /// });
    /// assert_eq!(*seen.lock().unwrap(), ["a call_soon callback panicked"]);
    /// ```
    pub fn exception_handler(
        mut self,
        handler: impl Fn(&Handle, &ExceptionContext) + Send + Sync + 'static,
    ) -> Builder {
        self.exception_handler = Some(wrap_handler(handler));
        self
    }

    /// The most threads [`spawn_blocking`](crate::spawn_blocking) runs at
    /// once (default 512; at least 1). Jobs beyond it wait for a free thread.
    ///
    /// ```
    /// let rt = weft::Builder::new().max_blocking_threads(1).build().unwrap();
    /// rt.block_on(async {
    ///     // One thread: the second job starts once the first is done.
    ///     let a = weft::spawn_blocking(|| std::thread::current().id());
    ///     let b = weft::spawn_blocking(|| std::thread::current().id());
    ///     a.await.unwrap();
    ///     b.await.unwrap();
    /// });
    /// ```
    pub fn max_blocking_threads(mut self, n: usize) -> Builder {
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking thread waits for a job before it exits
    /// (default 10 s).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft::Builder::new()
    ///     .blocking_keep_alive(Duration::from_millis(100))
    ///     .build()
    ///     .unwrap();
    /// let out = rt.block_on(async { weft::spawn_blocking(|| 7).await });
    /// assert_eq!(out.unwrap(), 7);
    /// ```
    pub fn blocking_keep_alive(mut self, keep_alive: Duration) -> Builder {
        self.blocking_keep_alive = keep_alive;
        self
    }

    /// Number of worker threads (at least 1).
    ///
    /// ```
    /// let rt = weft::Builder::new().workers(2).build().unwrap();
    /// assert_eq!(rt.handle().metrics().workers, 2);
    /// assert!(weft::Builder::new().workers(0).build().is_err());
    /// ```
    pub fn workers(mut self, n: usize) -> Builder {
        self.workers = Some(n);
        self
    }

    /// Prefix of the worker threads' names (`{name}-{index}`).
    ///
    /// ```
    /// let rt = weft::Builder::new().workers(1).thread_name("db").build().unwrap();
    /// let name = rt.block_on(rt.spawn(async {
    ///     std::thread::current().name().map(str::to_owned)
    /// }));
    /// assert_eq!(name.unwrap().as_deref(), Some("db-0"));
    /// ```
    pub fn thread_name(mut self, name: impl Into<String>) -> Builder {
        self.thread_name = name.into();
        self
    }

    /// Runs `f` on each worker thread as it starts. If `f` panics on any
    /// worker, [`build`](Self::build) fails with an error naming the panic
    /// (and stops the workers it started) rather than return a runtime with
    /// a dead worker.
    ///
    /// ```
    /// let err = weft::Builder::new()
    ///     .workers(1)
    ///     .on_thread_start(|| panic!("no config"))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("no config"));
    /// ```
    pub fn on_thread_start(mut self, f: impl Fn() + Send + Sync + 'static) -> Builder {
        self.on_thread_start = Some(std::sync::Arc::new(f));
        self
    }

    /// Runs `f` on each worker thread as it stops. A panic in `f` is
    /// reported through `tracing`, and the worker finishes its exit.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let stopped = Arc::new(AtomicUsize::new(0));
    /// let count = stopped.clone();
    /// let rt = weft::Builder::new()
    ///     .workers(2)
    ///     .on_thread_stop(move || {
    ///         count.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// drop(rt); // joins the workers
    /// assert_eq!(stopped.load(Ordering::SeqCst), 2);
    /// ```
    pub fn on_thread_stop(mut self, f: impl Fn() + Send + Sync + 'static) -> Builder {
        self.on_thread_stop = Some(std::sync::Arc::new(f));
        self
    }

    /// Starts the workers. Fails with `InvalidInput` for zero workers, with
    /// the OS error if a thread cannot be started, or with an `Other` error
    /// ("on_thread_start panicked: ...") if the start hook panicked; it then
    /// waits for every worker's hook to return before it returns.
    ///
    /// ```
    /// let rt = weft::Builder::new().workers(1).build().unwrap();
    /// assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
    /// let err = weft::Builder::new().workers(0).build().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    pub fn build(self) -> io::Result<Runtime> {
        let n = match self.workers {
            Some(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "workers must be at least 1",
                ))
            }
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let driver = Arc::new(Driver::new(n)?);
        let mut locals = Vec::with_capacity(n);
        let mut remotes = Vec::with_capacity(n);
        for _ in 0..n {
            let queue = Worker::new_fifo();
            let (lp, inbox) = LoopRemote::new(&driver);
            remotes.push(Remote {
                stealer: queue.stealer(),
                lifo: LifoSlot::new(),
                lp: lp.clone(),
                stats: CachePadded::new(WorkerStats::new(n)),
            });
            locals.push((queue, lp, inbox));
        }
        let config = Config {
            on_thread_start: self.on_thread_start,
            on_thread_stop: self.on_thread_stop,
            eager_tasks: self.eager_tasks,
            slow_poll: self.slow_poll,
            poll_time_histogram: self.poll_time_histogram,
        };
        let blocking = crate::thread_pool::BlockingPool::new(
            self.max_blocking_threads,
            self.blocking_keep_alive,
            format!("{}-blocking", self.thread_name),
        );
        let shared = Arc::new(Shared::new(
            remotes.into_boxed_slice(),
            config,
            driver,
            blocking,
        ));
        *shared.exception_handler.lock() = self.exception_handler;
        let mut rt = Runtime {
            handle: Handle {
                shared: shared.clone(),
            },
            threads: Vec::with_capacity(n),
        };
        // Only a start hook can fail a started worker: then each reports.
        let (started_tx, started_rx) = match shared.config.on_thread_start {
            Some(_) => {
                let (tx, rx) = crossbeam_channel::bounded(n);
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        for (index, (queue, lp, inbox)) in locals.into_iter().enumerate() {
            let shared = shared.clone();
            let started = started_tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("{}-{index}", self.thread_name))
                .spawn(move || scheduler::run_worker(shared, index, queue, lp, inbox, started));
            match spawned {
                Ok(t) => rt.threads.push(t),
                Err(e) => return Err(e), // `rt` drops here and stops the others
            }
        }
        drop(started_tx);
        if let Some(rx) = started_rx {
            for outcome in rx.iter() {
                if let Err(message) = outcome {
                    // `rt` drops here and stops the workers.
                    return Err(io::Error::other(format!(
                        "on_thread_start panicked: {message}"
                    )));
                }
            }
        }
        if let Some(on_built) = self.on_built {
            // On failure `rt` drops here and stops the workers.
            on_built(&rt.handle)?;
        }
        Ok(rt)
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("workers", &self.workers)
            .field("thread_name", &self.thread_name)
            .field("eager_tasks", &self.eager_tasks)
            .field("slow_poll_threshold", &self.slow_poll)
            .field("poll_time_histogram", &self.poll_time_histogram)
            .finish_non_exhaustive()
    }
}

/// A weft runtime: worker threads with work-stealing loops.
///
/// **Dropping it** shuts it down at once: new work is refused, the workers
/// stop, and every task still pending is cancelled without being polled again
/// (its future is dropped; awaiters see `Cancelled`). For asyncio's gentler
/// ending (cancel, let tasks clean up, then stop) use
/// [`shutdown_timeout`](Self::shutdown_timeout) or [`run`](crate::run).
///
/// ```
/// let rt = weft::Runtime::new().unwrap();
/// let task = rt.spawn(async { "hi" });
/// assert_eq!(rt.block_on(task).unwrap(), "hi");
/// ```
pub struct Runtime {
    handle: Handle,
    threads: Vec<JoinHandle<()>>,
}

impl Runtime {
    /// A runtime with default settings ([`Builder::new`]).
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// assert!(rt.handle().metrics().workers >= 1);
    /// ```
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// A handle for spawning from elsewhere.
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// let t = std::thread::spawn(move || handle.block_on(async { 3 }));
    /// assert_eq!(t.join().unwrap(), 3);
    /// ```
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Spawns `future` (see [`Handle::spawn`]).
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let t = rt.spawn(async { "from a worker" });
    /// assert_eq!(rt.block_on(t).unwrap(), "from a worker");
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Like [`spawn`](Self::spawn), but a shut-down runtime is an error (see
    /// [`Handle::try_spawn`]).
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let t = rt.try_spawn(async { 1 }).unwrap();
    /// assert_eq!(rt.block_on(t).unwrap(), 1);
    /// ```
    #[track_caller]
    pub fn try_spawn<F>(&self, future: F) -> Result<Task<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.try_spawn(future)
    }

    /// Drives `future` to completion on this thread (see [`Handle::block_on`]).
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let out = rt.block_on(async {
    ///     weft::yield_now().await;
    ///     40 + 2
    /// });
    /// assert_eq!(out, 42);
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Like [`block_on`](Self::block_on), but nested use is an error (see
    /// [`Handle::try_block_on`]).
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// let nested = rt.try_block_on(async move { handle.try_block_on(async {}) });
    /// assert!(nested.unwrap().unwrap_err().is_nested());
    /// ```
    pub fn try_block_on<F: Future>(&self, future: F) -> Result<F::Output, BlockOnError> {
        self.handle.try_block_on(future)
    }

    /// Runs a loop on this thread until [`stop`](Self::stop) (see
    /// [`Handle::run_forever`]).
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// rt.spawn(async move { handle.stop() }).detach();
    /// rt.run_forever(); // returns once the task has called stop()
    /// ```
    #[track_caller]
    pub fn run_forever(&self) {
        self.handle.run_forever()
    }

    /// See [`Handle::try_run_forever`].
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// rt.stop(); // the next run_forever returns after one iteration
    /// assert!(rt.try_run_forever().is_ok());
    /// ```
    pub fn try_run_forever(&self) -> Result<(), BlockOnError> {
        self.handle.try_run_forever()
    }

    /// Stops [`run_forever`](Self::run_forever) (see [`Handle::stop`]).
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// rt.stop();
    /// rt.run_forever(); // one iteration, then returns
    /// ```
    pub fn stop(&self) {
        self.handle.stop()
    }

    /// Shuts down gracefully: cancels every pending task, lets them run their
    /// cleanup for up to `grace`, then stops the workers and drops what is
    /// left, reporting each such task through `tracing` ("destroyed while
    /// pending"). Returns whether every task finished within `grace`.
    ///
    /// Called from a task running on one of this runtime's own workers it
    /// cannot wait (it would hold up the very cleanup it waits for): it
    /// cancels everything, closes at once and returns false. Tasks pinned to
    /// the calling loop are not waited for either (they cannot run meanwhile).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// let forever = rt.spawn(std::future::pending::<()>()).task_ref();
    /// assert!(rt.shutdown_timeout(Duration::from_secs(5)));
    /// assert!(forever.cancelled());
    /// ```
    pub fn shutdown_timeout(mut self, grace: Duration) -> bool {
        self.shutdown(grace)
    }

    fn shutdown(&mut self, grace: Duration) -> bool {
        let shared = self.handle.shared.clone();
        let (on_own_worker, current_loop) = caller_loop(&shared);
        let mut clean = true;
        if !grace.is_zero() && !shared.is_closed() {
            let me = weft_task::current_task();
            for task in shared.registry.live_tasks() {
                if me.as_ref() != Some(&task) {
                    task.cancel();
                }
            }
            // On one of its own workers, waiting would hold up the cleanup it
            // waits for; elsewhere, wait for every task but the caller's own
            // and those pinned to the caller's loop (which cannot run now).
            clean = !on_own_worker && shared.wait_for_tasks(grace, current_loop);
        }
        self.close_now(!grace.is_zero());
        clean
    }

    /// Steps 3 to 6 of the shutdown protocol (module header), after the
    /// grace, if any, was given: `warn` reports the tasks destroyed while
    /// pending as warnings (a grace ran out) rather than at debug level.
    pub(crate) fn close_now(&mut self, warn: bool) {
        let shared = self.handle.shared.clone();
        let (on_own_worker, _) = caller_loop(&shared);
        shared.warn_destroyed.store(warn, Ordering::Relaxed);
        shared
            .last_worker_finishes
            .store(on_own_worker, Ordering::Relaxed);
        shared.close();
        // Dropped on one of its own workers, it cannot join itself: the
        // workers exit on their own and the last one shuts down what is left.
        // Otherwise join them, then do it here (reports land on this thread).
        let threads = std::mem::take(&mut self.threads);
        if !on_own_worker {
            for t in threads {
                if t.join().is_err() {
                    tracing::error!("a weft worker thread panicked");
                }
            }
            shared.shutdown_remaining();
        }
    }
}

/// Whether the caller runs on one of `shared`'s own workers, and the key of
/// the loop it runs if that loop is `shared`'s (0 if none).
fn caller_loop(shared: &Arc<Shared>) -> (bool, usize) {
    with_current(|lp| match lp {
        Some(lp) if lp.shared().same(shared) => (lp.is_worker(), lp.key()),
        _ => (false, 0),
    })
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.shutdown(Duration::ZERO);
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.threads.len())
            .finish()
    }
}

/// A cheap, cloneable, `Send + Sync` reference to a runtime, for spawning and
/// blocking from any thread. Holding one does not keep the runtime running:
/// once the [`Runtime`] is dropped, spawning through it is refused.
///
/// ```
/// let rt = weft::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// let t = std::thread::spawn(move || handle.block_on(handle.spawn(async { 7 })).unwrap());
/// assert_eq!(t.join().unwrap(), 7);
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl Handle {
    /// The runtime whose loop runs on this thread.
    ///
    /// # Panics
    ///
    /// Outside a weft loop; see [`try_current`](Self::try_current).
    ///
    /// ```
    /// weft::run(async {
    ///     let handle = weft::Handle::current();
    ///     assert_eq!(handle.spawn(async { 1 }).await.unwrap(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn current() -> Handle {
        Handle::try_current().expect("not inside a weft runtime: call this from a task or block_on")
    }

    /// The runtime whose loop runs on this thread, if any.
    ///
    /// ```
    /// assert!(weft::Handle::try_current().is_none());
    /// weft::run(async { assert!(weft::Handle::try_current().is_some()) });
    /// ```
    pub fn try_current() -> Option<Handle> {
        with_current(|lp| {
            lp.map(|lp| Handle {
                shared: lp.shared().clone(),
            })
        })
    }

    /// Spawns `future` as a task any worker may run (asyncio's `create_task`).
    /// From a worker it goes to that worker's queue, from elsewhere to the
    /// shared injector. On a runtime built with
    /// [`eager_tasks`](Builder::eager_tasks), a spawn from a loop of this
    /// runtime first runs the task's first step inside this call (see
    /// [`spawn_eager`](crate::spawn_eager)); from any other thread the task is
    /// scheduled as usual. On a shut-down runtime the future is dropped unpolled
    /// and the returned task is already `Cancelled` ("runtime is shut down");
    /// [`try_spawn`](Self::try_spawn) reports that as an error instead.
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// let t = handle.spawn(async { 2 });
    /// assert_eq!(rt.block_on(t).unwrap(), 2);
    /// drop(rt);
    /// assert!(handle.spawn(async { 3 }).task_ref().cancelled());
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match spawn_on(&self.shared, future, Location::caller(), Start::Configured) {
            Ok(task) | Err(task) => task,
        }
    }

    /// Like [`spawn`](Self::spawn), but a shut-down runtime is an error.
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// assert!(handle.try_spawn(async {}).is_ok());
    /// drop(rt);
    /// assert!(handle.try_spawn(async {}).unwrap_err().is_shutdown());
    /// ```
    #[track_caller]
    pub fn try_spawn<F>(&self, future: F) -> Result<Task<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_on(&self.shared, future, Location::caller(), Start::Configured)
            .map_err(|_| SpawnError::shut_down())
    }

    /// Drives `future` on this thread until it completes, while the workers run
    /// everything else (asyncio's `run_until_complete`). Tasks spawned with
    /// [`spawn_local`](crate::spawn_local) inside it run on this thread; any
    /// still pending when it returns are cancelled.
    ///
    /// # Panics
    ///
    /// On a thread already running a weft loop (a worker, or inside another
    /// `block_on`), where blocking would deadlock, or if the runtime is shut
    /// down; see [`try_block_on`](Self::try_block_on).
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// let out = std::thread::spawn(move || handle.block_on(async { 6 * 7 }));
    /// assert_eq!(out.join().unwrap(), 42);
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        match self.try_block_on(future) {
            Ok(out) => out,
            Err(e) => e.raise(),
        }
    }

    /// Like [`block_on`](Self::block_on), but nested use, or a shut-down
    /// runtime, is an error; the future is then dropped unpolled.
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// assert_eq!(handle.try_block_on(async { 1 }).unwrap(), 1);
    /// drop(rt);
    /// assert!(handle.try_block_on(async { 1 }).unwrap_err().is_closed());
    /// ```
    pub fn try_block_on<F: Future>(&self, future: F) -> Result<F::Output, BlockOnError> {
        if context::is_entered() {
            return Err(BlockOnError::nested());
        }
        if self.shared.is_closed() {
            return Err(BlockOnError::closed());
        }
        Ok(scheduler::block_on(&self.shared, future))
    }

    /// Blocks the calling thread, running this runtime, until
    /// [`stop`](Self::stop) is called (asyncio's `loop.run_forever()`).
    ///
    /// A weft runtime's workers run its tasks and callbacks from the moment
    /// it is built, with or without this call; what it adds is the wait, on
    /// a loop of the calling thread (a `block_on` loop: tasks and callbacks
    /// that this loop's own callbacks pin to it run there, and those still
    /// pending when it returns are cancelled). As in asyncio, a `stop()`
    /// made before this call makes it return after one iteration of that
    /// loop, and one made during the run ends it once the iteration under
    /// way has run. It does not shut the runtime down: run it again, or
    /// drop the runtime.
    ///
    /// # Panics
    ///
    /// As [`block_on`](Self::block_on), and while another `run_forever` of
    /// this runtime runs; see [`try_run_forever`](Self::try_run_forever).
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::{DoneCallback, Promise};
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// let future = Promise::new();
    /// let setter = future.clone();
    /// rt.spawn(async move {
    ///     weft::sleep(Duration::from_millis(5)).await;
    ///     setter.set_result("Future is done!").unwrap();
    /// })
    /// .detach();
    /// future.add_done_callback(DoneCallback::new(move |f: &Promise<&str>| {
    ///     assert_eq!(f.result().unwrap().unwrap(), "Future is done!");
    ///     handle.stop();
    /// }));
    /// rt.run_forever();
    /// assert!(future.done());
    /// ```
    #[track_caller]
    pub fn run_forever(&self) {
        match self.try_run_forever() {
            Ok(()) => {}
            Err(e) => e.raise(),
        }
    }

    /// Like [`run_forever`](Self::run_forever), but nested use, a shut-down
    /// runtime, or another `run_forever` of this runtime still running
    /// ([`BlockOnError::is_running`]) is an error.
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// rt.stop();
    /// rt.try_run_forever().unwrap(); // one iteration, then returns
    /// let handle = rt.handle().clone();
    /// rt.block_on(async move {
    ///     assert!(handle.try_run_forever().unwrap_err().is_nested());
    /// });
    /// ```
    pub fn try_run_forever(&self) -> Result<(), BlockOnError> {
        if context::is_entered() {
            return Err(BlockOnError::nested());
        }
        if self.shared.is_closed() {
            return Err(BlockOnError::closed());
        }
        let run = self.shared.stop.start().ok_or_else(BlockOnError::running)?;
        scheduler::block_on(&self.shared, run);
        Ok(())
    }

    /// Stops [`run_forever`](Self::run_forever) (asyncio's `loop.stop()`):
    /// the one running returns once the iteration under way has run; if none
    /// runs, the next one returns after one iteration. Callable from any
    /// thread, a task or a callback; it does not stop the workers, nor shut
    /// the runtime down.
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// let stopper = std::thread::spawn(move || {
    ///     std::thread::sleep(std::time::Duration::from_millis(5));
    ///     handle.stop();
    /// });
    /// rt.run_forever();
    /// stopper.join().unwrap();
    /// ```
    pub fn stop(&self) {
        self.shared.stop.stop();
    }

    /// Replaces the runtime's exception handler (asyncio's
    /// `loop.set_exception_handler`). See [`Builder::exception_handler`]
    /// for what it receives.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// let calls = Arc::new(AtomicUsize::new(0));
    /// let c = calls.clone();
    /// rt.handle().set_exception_handler(move |_, _| {
    ///     c.fetch_add(1, Ordering::SeqCst);
    /// });
    /// rt.handle().call_exception_handler(weft::ExceptionContext::new("one"));
    /// rt.handle().reset_exception_handler();
    /// rt.handle().call_exception_handler(weft::ExceptionContext::new("logged by the default"));
    /// assert_eq!(calls.load(Ordering::SeqCst), 1);
    /// ```
    pub fn set_exception_handler(
        &self,
        handler: impl Fn(&Handle, &ExceptionContext) + Send + Sync + 'static,
    ) {
        self.replace_exception_handler(Some(wrap_handler(handler)));
    }

    /// Goes back to the default exception handler (asyncio's
    /// `loop.set_exception_handler(None)`):
    /// [`default_exception_handler`](weft_task::default_exception_handler),
    /// which logs through `tracing`.
    ///
    /// ```
    /// let rt = weft::Builder::new().exception_handler(|_, _| {}).build().unwrap();
    /// rt.handle().reset_exception_handler();
    /// ```
    pub fn reset_exception_handler(&self) {
        self.replace_exception_handler(None);
    }

    fn replace_exception_handler(&self, handler: Option<ExceptionHandler>) {
        // The old one is dropped outside the lock.
        let old = std::mem::replace(&mut *self.shared.exception_handler.lock(), handler);
        drop(old);
    }

    /// Hands `context` to the runtime's exception handler now, on this
    /// thread (asyncio's `loop.call_exception_handler`): the one set with
    /// [`Builder::exception_handler`] or
    /// [`set_exception_handler`](Self::set_exception_handler), else
    /// [`default_exception_handler`](weft_task::default_exception_handler).
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// rt.handle().call_exception_handler(
    ///     weft::ExceptionContext::new("a protocol error").with_error(weft::TaskError::failed(
    ///         std::io::Error::other("bad frame"),
    ///     )),
    /// );
    /// ```
    pub fn call_exception_handler(&self, context: ExceptionContext) {
        self.shared.call_exception_handler(context);
    }

    /// The tasks of this runtime that are not done yet (asyncio's
    /// `all_tasks`), from any thread; [`dump`](Self::dump) also says what
    /// each is doing.
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let t = rt.spawn(weft::sleep(std::time::Duration::from_secs(5)));
    /// let tasks = rt.handle().all_tasks();
    /// assert!(tasks.iter().any(|r| r.id() == t.id()));
    /// t.cancel();
    /// ```
    pub fn all_tasks(&self) -> Vec<TaskRef> {
        self.shared.registry.live_tasks()
    }

    /// Every live task of this runtime with what it is doing and what it
    /// awaits (see [`TaskDump`]: its `Display` draws the await graph as
    /// `python -m asyncio pstree` does). From any thread, workers busy or
    /// not: it takes each registry shard's locks once, and reads each task
    /// without blocking it.
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let t = rt.spawn(weft::sleep(std::time::Duration::from_secs(5)));
    /// let handle = rt.handle().clone();
    /// let dump = std::thread::spawn(move || handle.dump()).join().unwrap();
    /// assert!(dump.get(t.id()).is_some());
    /// t.cancel();
    /// ```
    pub fn dump(&self) -> TaskDump {
        self.shared.registry.dump()
    }

    /// A snapshot of the runtime's counters: tasks, each worker's polls,
    /// busy time, steals, parks and queue, the injector, I/O events, timer
    /// fires, the blocking pool (see [`RuntimeMetrics`]). Callable from any
    /// thread at any time; it never stops or waits for a worker (it reads
    /// each counter once, so the figures are each a moment's, not one
    /// moment's; it takes the blocking pool's and the registry's locks for
    /// a count).
    ///
    /// ```
    /// let rt = weft::Builder::new().workers(2).build().unwrap();
    /// let m = rt.handle().metrics();
    /// assert_eq!(m.per_worker.len(), 2);
    /// assert_eq!(m.injection_queue_depth, 0);
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        let s = &self.shared;
        let histogram = s.config.poll_time_histogram;
        let per_worker: Vec<WorkerMetrics> = s
            .remotes
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let stolen = s.remotes.iter().map(|t| t.stats.stolen_from(i)).sum();
                let depth = r.stealer.len() + usize::from(!r.lifo.is_empty());
                r.stats.snapshot(stolen, depth, histogram)
            })
            .collect();
        let mut poll_time_histogram = PollTimeHistogram::default();
        for w in &per_worker {
            poll_time_histogram.add(&w.poll_time_histogram);
        }
        let sum = |f: fn(&WorkerMetrics) -> u64| -> usize {
            usize::try_from(per_worker.iter().map(f).sum::<u64>()).unwrap_or(usize::MAX)
        };
        RuntimeMetrics {
            workers: s.remotes.len(),
            live_tasks: s.registry.len(),
            spawned: s.registry.spawned(),
            steals: sum(|w| w.steal_operations),
            parks: sum(|w| w.park_count),
            io_sources: s.driver.reactor.len(),
            pending_timers: s.driver.timers.len(),
            blocking_threads: s.blocking.threads(),
            injection_queue_depth: s.injector.len(),
            io_driver_ready_count: s.driver.io_ready_count(),
            timer_fire_count: s.driver.timer_fire_count(),
            blocking_queue_depth: s.blocking.queue_depth(),
            poll_time_histogram,
            per_worker,
        }
    }

    /// Whether the runtime has shut down (new work is refused).
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// assert!(!handle.is_closed());
    /// drop(rt);
    /// assert!(handle.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Spawns `future` pinned to this thread's loop (`spawn_local`):
    /// `Err` outside a loop or on a shut-down runtime.
    pub(crate) fn try_spawn_local_at<F>(
        future: F,
        location: &'static Location<'static>,
    ) -> Result<Task<F::Output>, SpawnError>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        with_current(|lp| {
            let lp = lp.ok_or_else(SpawnError::outside_runtime)?;
            scheduler::spawn_pinned(PinTo::here(lp), future, location)
                .map_err(|_| SpawnError::shut_down())
        })
    }

    /// Spawns `future` on this thread's runtime (`spawn`): `Err` outside a
    /// loop or on a shut-down runtime.
    pub(crate) fn try_spawn_current_at<F>(
        future: F,
        location: &'static Location<'static>,
        start: Start,
    ) -> Result<Task<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        with_current(|lp| {
            let lp = lp.ok_or_else(SpawnError::outside_runtime)?;
            spawn_on(lp.shared(), future, location, start).map_err(|_| SpawnError::shut_down())
        })
    }
}

/// How a new task takes its first step.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Start {
    /// As the runtime's [`Builder::eager_tasks`] says.
    Configured,
    /// Eagerly, whatever the runtime says ([`spawn_eager`](crate::spawn_eager)).
    Eager,
}

/// The user's handler, as the runtime keeps it: given the `Shared`, it
/// makes the `Handle` the user's receives (a handler kept in `Shared` that
/// held a `Handle` would keep it alive).
fn wrap_handler(
    handler: impl Fn(&Handle, &ExceptionContext) + Send + Sync + 'static,
) -> ExceptionHandler {
    std::sync::Arc::new(move |shared: &Arc<Shared>, ctx: &ExceptionContext| {
        handler(
            &Handle {
                shared: shared.clone(),
            },
            ctx,
        )
    })
}

/// Spawns onto `shared`: the one `Arc` clone a task needs, then its first
/// `Runnable` goes where a wake-up would put it, or, for an eager `start`,
/// runs here (`scheduler::schedule_spawned` decides, and says where that
/// falls back).
pub(crate) fn spawn_on<F>(
    shared: &Arc<Shared>,
    future: F,
    location: &'static Location<'static>,
    start: Start,
) -> Result<Task<F::Output>, Task<F::Output>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match weft_task::spawn(
        future,
        Scheduler {
            shared: shared.clone(),
        },
        location,
    ) {
        Spawned::Ready(task, runnable) => {
            scheduler::schedule_spawned(shared, runnable, matches!(start, Start::Eager));
            Ok(task)
        }
        Spawned::Refused(task) => Err(task),
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("shared", &self.shared)
            .finish()
    }
}

// Unwind safety, as tokio's `Runtime` and `Handle` have it. The compiler
// cannot see it: the shared state holds locks' `UnsafeCell`s, raw task
// pointers and the hooks' `dyn Fn` (none of them `RefUnwindSafe`), and a
// `Runtime` owns its workers' `JoinHandle`s. What `UnwindSafe` guards
// against, a panic leaving state half-changed that code observes after
// `catch_unwind`, cannot happen through these types:
// - user code (a poll, a drop, a waker, a callback, a hook, a blocking job)
//   runs only through weft-task's one panic runner (`catch_panic`,
//   `run_reporting`), so its panic never unwinds through runtime code that
//   is halfway through a change;
// - the locks do not poison and nothing holds one across user code, and
//   the atomics' states are whole at every store;
// - the panics of `Handle` itself (a nested `block_on`, `Handle::current`
//   outside a runtime) come before it changes anything, and a `block_on`
//   whose future panics shuts its pinned tasks down on the way out
//   (`ShutdownPinned` in `scheduler/block_on.rs`).
// Send and Sync stay as derived from the fields (nothing is asserted here).
impl std::panic::UnwindSafe for Handle {}
impl std::panic::RefUnwindSafe for Handle {}
impl std::panic::UnwindSafe for Runtime {}
impl std::panic::RefUnwindSafe for Runtime {}
