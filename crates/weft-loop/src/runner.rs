//! [`Runner`]: asyncio's `Runner` (Python 3.11): one runtime, several
//! [`run`](Runner::run) calls on the calling thread, then
//! [`close`](Runner::close).
//!
//! # The runner's loop
//!
//! Each `run` is a `block_on` on one loop record the runner keeps for its
//! whole life (`scheduler::BlockOn`), instead of a fresh one per call:
//! tasks pinned to it ([`spawn_local`](crate::spawn_local) inside a run) and
//! callbacks queued on it wait between runs and go on in the next one, as an
//! asyncio loop's do between `run_until_complete` calls. A wake or callback
//! sent there between runs waits in its inbox. Tasks any worker may run
//! ([`spawn`](crate::spawn)) do not wait: the workers run them all along.
//!
//! # The runner's context
//!
//! As asyncio's `Runner` keeps one `contextvars` context (a copy of the
//! creating thread's) and runs every `run` in it, each `run` here drives its
//! future in the runner's [`Context`](weft_task::contextvars::Context): what
//! one run sets, the next one sees (tasks spawned in a run copy it, as any
//! spawn does). [`run_with_context`](Runner::run_with_context) runs one
//! future in a copy of another context instead.
//!
//! # Closing
//!
//! asyncio's `Runner.close` (as `asyncio.run` ends): cancel every task, run
//! the loop until they have all finished, then close. Here:
//!
//! 1. Cancel every live task of the runtime (once).
//! 2. Run the runner's loop, so its pinned tasks run their cleanup too,
//!    until no task is live or the grace ([`DEFAULT_SHUTDOWN_GRACE`]) has
//!    passed. Called on a thread already running a weft loop, it cannot run
//!    its own, and skips this wait.
//! 3. Shut down the runner's pinned tasks still pending (reported as
//!    destroyed while pending), with its loop current on this thread.
//! 4. Close the runtime (`Runtime::close_now`: steps 3 to 6 of its shutdown
//!    protocol), reporting the tasks still pending as destroyed.

use crate::context;
use crate::error::BlockOnError;
use crate::loop_handle::LoopHandle;
use crate::runtime::{Builder, Handle, Runtime, DEFAULT_SHUTDOWN_GRACE};
use crate::scheduler::BlockOn;
use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

/// asyncio's `Runner`: a runtime for several top-level [`run`](Self::run)
/// calls from one thread, closed once at the end (asyncio's `with
/// asyncio.Runner() as runner:`). Each `run` drives its future on this
/// thread while the workers run everything else, as
/// [`Runtime::block_on`] does; between runs, the tasks spawned keep
/// running on the workers, and those pinned to the runner's loop
/// ([`spawn_local`](crate::spawn_local)) wait for the next run.
///
/// A `Runner` stays on the thread that made it (it is neither `Send` nor
/// `Sync`), as its loop does:
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// send(weft::Runner::new().unwrap());
/// ```
///
/// **Dropping it** closes it, as [`close`](Self::close) does: every task is
/// cancelled and given up to [`DEFAULT_SHUTDOWN_GRACE`] to clean up, then
/// the runtime shuts down.
///
/// ```
/// use std::rc::Rc;
///
/// let runner = weft::Runner::new().unwrap();
/// let counter = runner.run(async { weft::spawn_local(async { Rc::new(1) }) });
/// // The pinned task runs in the next run, on this thread.
/// let value = runner.run(counter).unwrap();
/// assert_eq!(*value, 1);
/// assert_eq!(runner.run(async { 2 + 2 }), 4);
/// assert!(runner.close());
/// ```
pub struct Runner {
    /// `None` once closed (by `close`, before `Drop` runs).
    rt: Option<Runtime>,
    /// The loop each run drives (module header).
    lp: BlockOn,
    /// How long `close` lets cancelled tasks clean up.
    grace: Duration,
    /// The context every [`run`](Runner::run) runs in, kept across runs
    /// (asyncio's `Runner._context`): a copy of the creating thread's.
    context: std::cell::RefCell<weft_task::contextvars::Context>,
    /// Tied to this thread (module header), whatever the fields say.
    _not_send: PhantomData<*const ()>,
}

impl Runner {
    /// A runner on a runtime with default settings ([`Builder::new`]).
    ///
    /// ```
    /// let runner = weft::Runner::new().unwrap();
    /// assert_eq!(runner.run(async { 1 }), 1);
    /// ```
    pub fn new() -> io::Result<Runner> {
        Runner::with_builder(Builder::new())
    }

    /// A runner on a runtime built from `builder` (asyncio's
    /// `Runner(loop_factory=...)`): worker count, thread names, hooks, the
    /// exception handler.
    ///
    /// ```
    /// let runner = weft::Runner::with_builder(weft::Builder::new().workers(1)).unwrap();
    /// assert_eq!(runner.handle().metrics().workers, 1);
    /// ```
    pub fn with_builder(builder: Builder) -> io::Result<Runner> {
        let rt = builder.build()?;
        let lp = BlockOn::new(&rt.handle().shared);
        Ok(Runner {
            rt: Some(rt),
            lp,
            grace: DEFAULT_SHUTDOWN_GRACE,
            context: std::cell::RefCell::new(weft_task::contextvars::copy_context()),
            _not_send: PhantomData,
        })
    }

    /// How long [`close`](Self::close) (and dropping) lets cancelled tasks
    /// clean up: [`DEFAULT_SHUTDOWN_GRACE`] unless set here.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let runner = weft::Runner::new().unwrap().shutdown_grace(Duration::from_millis(50));
    /// runner.run(async {
    ///     weft::spawn(std::future::pending::<()>()).detach();
    /// });
    /// assert!(runner.close()); // the pending task is cancelled and ends
    /// ```
    pub fn shutdown_grace(mut self, grace: Duration) -> Runner {
        self.grace = grace;
        self
    }

    fn runtime(&self) -> &Runtime {
        self.rt
            .as_ref()
            .expect("a Runner is open until close or drop consumes it")
    }

    /// Drives `future` to completion on this thread, on the runner's loop
    /// (asyncio's `Runner.run`); the module header says what waits between
    /// runs. The future is driven directly, as [`Runtime::block_on`] drives
    /// it, not as a task.
    ///
    /// # Panics
    ///
    /// On a thread already running a weft loop (asyncio's "Runner.run()
    /// cannot be called from a running event loop"); see
    /// [`try_run`](Self::try_run). A panic of `future` passes through, and
    /// the runner stays usable.
    ///
    /// ```
    /// use weft::ContextVar;
    ///
    /// static USER: ContextVar<&str> = ContextVar::new("user");
    ///
    /// let runner = weft::Runner::new().unwrap();
    /// let here = std::thread::current().id();
    /// let ran_on = runner.run(async {
    ///     USER.set("ann");
    ///     std::thread::current().id()
    /// });
    /// assert_eq!(ran_on, here, "driven on the calling thread");
    /// // Each run is in the runner's one context: the next run sees the set.
    /// assert_eq!(runner.run(async { USER.get() }), Some("ann"));
    /// assert_eq!(USER.get(), None, "the caller's own context is untouched");
    /// ```
    #[track_caller]
    pub fn run<F: Future>(&self, future: F) -> F::Output {
        match self.try_run(future) {
            Ok(out) => out,
            Err(e) => e.raise(),
        }
    }

    /// Like [`run`](Self::run), with `future` running in a copy of `context`
    /// instead of the runner's own (asyncio's `Runner.run(coro, context=ctx)`).
    /// As with [`spawn_with_context`](crate::spawn_with_context), a context is
    /// a value: what `future` sets stays in its copy, and neither `context`
    /// nor the runner's context changes.
    ///
    /// ```
    /// use weft::contextvars::{Context, ContextVar};
    ///
    /// static USER: ContextVar<&str> = ContextVar::new("user");
    ///
    /// let mut ctx = Context::new();
    /// ctx.run(|| USER.set("ann"));
    /// let runner = weft::Runner::new().unwrap();
    /// assert_eq!(runner.run_with_context(&ctx, async { USER.get() }), Some("ann"));
    /// assert_eq!(USER.get(), None); // the caller's own context is untouched
    /// ```
    ///
    /// # Panics
    ///
    /// As [`run`](Self::run).
    #[track_caller]
    pub fn run_with_context<F: Future>(
        &self,
        context: &weft_task::contextvars::Context,
        future: F,
    ) -> F::Output {
        if context::is_entered() {
            BlockOnError::nested().raise()
        }
        self.lp.run(future, false, &mut context.clone())
    }

    /// Like [`run`](Self::run), but on a thread already running a weft loop
    /// returns [`BlockOnError`] (and drops `future` unpolled).
    ///
    /// ```
    /// let runner = weft::Runner::new().unwrap();
    /// runner.run(async {
    ///     assert!(runner.try_run(async {}).unwrap_err().is_nested());
    /// });
    /// ```
    pub fn try_run<F: Future>(&self, future: F) -> Result<F::Output, BlockOnError> {
        if context::is_entered() {
            return Err(BlockOnError::nested());
        }
        // Not nested (checked above), so the runner's context is not lent out.
        let mut context = self.context.borrow_mut();
        Ok(self.lp.run(future, false, &mut context))
    }

    /// The runtime's handle (asyncio's `Runner.get_loop()`, as what spawns).
    ///
    /// ```
    /// let runner = weft::Runner::new().unwrap();
    /// let t = runner.handle().spawn(async { 3 });
    /// assert_eq!(runner.run(t).unwrap(), 3);
    /// ```
    pub fn handle(&self) -> &Handle {
        self.runtime().handle()
    }

    /// The runner's own loop, the one [`run`](Self::run) drives (asyncio's
    /// `Runner.get_loop()`, as what callbacks go to): callbacks and
    /// [`run_coroutine_threadsafe`](crate::run_coroutine_threadsafe) sent
    /// there run on this thread, during a run.
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let runner = weft::Runner::new().unwrap();
    /// let (tx, rx) = mpsc::channel();
    /// runner.loop_handle().call_soon_threadsafe(move || tx.send(7).unwrap());
    /// assert!(rx.try_recv().is_err()); // waits for a run
    /// let got = runner.run(async {
    ///     loop {
    ///         if let Ok(v) = rx.try_recv() {
    ///             break v;
    ///         }
    ///         weft::yield_now().await;
    ///     }
    /// });
    /// assert_eq!(got, 7);
    /// ```
    pub fn loop_handle(&self) -> LoopHandle {
        LoopHandle::from_parts(
            self.runtime().handle().shared.clone(),
            self.lp.lp().remote.clone(),
        )
    }

    /// Closes the runner (asyncio's `Runner.close()`): cancels every task,
    /// lets them clean up for up to the grace, then shuts the runtime down
    /// (module header, "Closing"). Returns whether every task finished
    /// within the grace.
    ///
    /// ```
    /// let runner = weft::Runner::new().unwrap();
    /// let handle = runner.handle().clone();
    /// runner.run(async {
    ///     weft::spawn(std::future::pending::<()>()).detach();
    /// });
    /// assert!(runner.close());
    /// assert!(handle.is_closed());
    /// ```
    pub fn close(mut self) -> bool {
        self.close_inner()
    }

    fn close_inner(&mut self) -> bool {
        let Some(mut rt) = self.rt.take() else {
            return true;
        };
        let shared = rt.handle().shared.clone();
        let deadline = crate::deadline::after(self.grace);
        for task in shared.registry.live_tasks() {
            task.cancel();
        }
        // Step 2: only where this thread may run a loop.
        let clean = !context::is_entered()
            && self.lp.run(
                all_done(&shared, deadline),
                false,
                &mut self.context.borrow_mut(),
            );
        {
            let lp = self.lp.lp();
            let _enter = lp.enter();
            lp.shutdown_pinned(true);
        }
        rt.close_now(true);
        clean
    }
}

/// Waits, on the loop polling it, until `shared` has no live task or
/// `deadline` has passed; returns whether none is left.
async fn all_done(shared: &crate::state::Shared, deadline: Instant) -> bool {
    loop {
        if shared.registry.is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        crate::sleep(Duration::from_millis(1)).await;
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.close_inner();
    }
}

impl fmt::Debug for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runner")
            .field("runtime", &self.rt)
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}
