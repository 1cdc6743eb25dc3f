//! weft's loops: worker threads with work-stealing queues, parking, `block_on`,
//! and the [`Runtime`] that owns them.
//!
//! Users normally reach this through the `weft` crate; see its docs.
//!
//! # Modules, in layers
//!
//! Each module uses only those in the layers before its own (no import
//! cycle: `python3 .ci/modcycles.py .` checks it):
//!
//! 1. `loom` (the sync shim), `deadline` (saturating deadlines), `error`,
//!    `stop` (`run_forever`'s stop signal), `metrics` (the workers'
//!    counters and the `RuntimeMetrics` snapshot).
//! 2. `park` (sleeping workers), `lifo` (the LIFO slot), `reactor/` (the
//!    selector and readiness), `timer/` (the timer wheels), `thread_pool`
//!    (the blocking pool's threads).
//! 3. `driver`: the reactor and the wheels, turned by one parked worker.
//! 4. `state`: what all loops of a runtime share.
//! 5. `context`: the one thread-local, the current loop.
//! 6. `scheduler/`: where work goes (`mod.rs`), a worker's loop
//!    (`worker.rs`), pinned tasks and the inbox (`local.rs`), `block_on`
//!    (`block_on.rs`).
//! 7. `time/` (`Sleep`, `Interval`, the one timer entry), then `loop_handle`
//!    (`LoopHandle`, `call_soon`, `call_later`).
//! 8. `runtime`: `Builder`, `Runtime`, `Handle`; then `runner` (`Runner`).
//! 9. `bridge` (`ConcurrentFuture`, `run_coroutine_threadsafe`), then
//!    `blocking` (`spawn_blocking`), then `net/` (sockets, with `PollIo`),
//!    then `signal` (Unix signals, read through a `PollIo`), then
//!    `dump_signal` (a task dump on a signal).
//! 10. `criterion` (feature `criterion`): criterion's `AsyncExecutor` for
//!     `&Runtime` and `Handle`.

#![warn(missing_docs)]

mod blocking;
mod bridge;
mod context;
#[cfg(feature = "criterion")]
mod criterion;
mod deadline;
mod driver;
#[cfg(unix)]
mod dump_signal;
mod error;
mod lifo;
mod loom;
mod loop_handle;
mod metrics;
pub mod net;
mod park;
mod reactor;
mod runner;
mod runtime;
mod scheduler;
#[cfg(unix)]
pub mod signal;
mod state;
mod stop;
mod thread_pool;
mod time;
mod timer;

pub use blocking::{spawn_blocking, to_thread};
pub use bridge::{run_coroutine_threadsafe, ConcurrentFuture, FutureError, Target};
pub use error::{BlockOnError, SpawnError};
pub use loop_handle::{call_at, call_later, call_soon, loop_time, CallbackHandle, LoopHandle};
pub use metrics::{PollTimeHistogram, RuntimeMetrics, WorkerMetrics};
pub use runner::Runner;
pub use runtime::{Builder, Handle, Runtime, DEFAULT_SHUTDOWN_GRACE};
pub use time::{interval, interval_at, sleep, sleep_until, sleep_with, Interval, Sleep, SleepWith};
pub use weft_task::current_task;

use runtime::Start;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use weft_task::{Task, TaskRef};

/// Spawns `future` on the current runtime (asyncio's `create_task`). On a
/// runtime built with [`Builder::eager_tasks`] it is eager: see
/// [`spawn_eager`].
///
/// Dropping the returned [`Task`] does not cancel it.
///
/// # Panics
///
/// Outside a weft runtime (use [`Handle::spawn`] there), and on a loop whose
/// runtime has shut down (a `block_on` still running after its `Runtime` was
/// dropped, a destructor run at shutdown): both are the same misuse, spawning
/// where nothing will run the task, and get the same answer, as in asyncio
/// (`create_task` raises `RuntimeError` with no running loop and on a closed
/// one) and tokio (`tokio::spawn` panics outside a runtime). Code that may
/// run in either place uses [`try_spawn`], which returns the error instead.
///
/// ```
/// weft::run(async {
///     let t = weft::spawn(async { 40 + 2 });
///     assert_eq!(t.await.unwrap(), 42);
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    or_panic(
        Handle::try_spawn_current_at(future, Location::caller(), Start::Configured),
        "weft::spawn called outside a weft runtime: use Handle::spawn",
        "spawn",
    )
}

/// The task, or the panic `spawn` / `spawn_local` document for `Err`:
/// `outside` outside a runtime, else one naming `try_{name}`.
#[track_caller]
fn or_panic<T>(spawned: Result<T, SpawnError>, outside: &str, name: &str) -> T {
    match spawned {
        Ok(task) => task,
        Err(e) if e.is_outside_runtime() => panic!("{outside}"),
        Err(e) => panic!("weft::{name}: {e}: use weft::try_{name} where that can happen"),
    }
}

/// Like [`spawn`], but outside a runtime, or on a shut-down one, returns
/// [`SpawnError`] (and drops `future` unpolled) instead of panicking.
///
/// ```
/// assert!(weft::try_spawn(async {}).unwrap_err().is_outside_runtime());
/// weft::run(async {
///     let t = weft::try_spawn(async { 7 }).unwrap();
///     assert_eq!(t.await.unwrap(), 7);
/// });
/// ```
#[track_caller]
pub fn try_spawn<F>(future: F) -> Result<Task<F::Output>, SpawnError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Handle::try_spawn_current_at(future, Location::caller(), Start::Configured)
}

/// Spawns `future` as an eager task (asyncio 3.12's `eager_task_factory`, for
/// one task): its first step runs now, inside this call, with the new task as
/// [`current_task`] (the caller's is back when it returns). If the future
/// finishes in that step, the task is never scheduled and the returned handle
/// is already done, its done callbacks scheduled as usual; if it suspends, it
/// goes on as any spawned task. [`Builder::eager_tasks`] makes every spawn of
/// a runtime eager.
///
/// Cancelling the handle after it returned acts as on any task: a task that
/// finished in its first step stays finished (`cancel()` returns false).
///
/// # Panics
///
/// Outside a weft runtime, or on a loop whose runtime has shut down, as
/// [`spawn`]; see [`try_spawn_eager`]. From a plain thread use
/// [`Handle::spawn`] (which is eager on a runtime built with
/// [`Builder::eager_tasks`] only where a loop of it runs the caller: a plain
/// thread has none, so the task is scheduled as usual).
///
/// ```
/// weft::run(async {
///     let t = weft::spawn_eager(async {
///         // The first step runs inside spawn_eager, as the new task.
///         weft::current_task().expect("a task").name()
///     });
///     assert!(t.done());
///     assert!(t.await.unwrap().starts_with("Task-"));
/// });
/// ```
#[track_caller]
pub fn spawn_eager<F>(future: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    or_panic(
        Handle::try_spawn_current_at(future, Location::caller(), Start::Eager),
        "weft::spawn_eager called outside a weft runtime: use Handle::spawn",
        "spawn_eager",
    )
}

/// Like [`spawn_eager`], but outside a runtime, or on a shut-down one,
/// returns [`SpawnError`] (and drops `future` unpolled) instead of panicking.
///
/// ```
/// assert!(weft::try_spawn_eager(async {}).unwrap_err().is_outside_runtime());
/// weft::run(async {
///     let t = weft::try_spawn_eager(async { 7 }).unwrap();
///     assert!(t.done());
///     assert_eq!(t.await.unwrap(), 7);
/// });
/// ```
#[track_caller]
pub fn try_spawn_eager<F>(future: F) -> Result<Task<F::Output>, SpawnError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Handle::try_spawn_current_at(future, Location::caller(), Start::Eager)
}

/// Spawns `future` on the current runtime to run in `context` instead of a
/// copy of the caller's (asyncio's `create_task(coro, context=ctx)`). The
/// task starts with `context`'s values; what it sets stays in the task
/// ([`TaskRef::context`] reads it), not in `context`, which is a value here.
///
/// # Panics
///
/// As [`spawn`].
///
/// ```
/// use weft::contextvars::{Context, ContextVar};
///
/// static LEVEL: ContextVar<u8> = ContextVar::new("level");
///
/// weft::run(async {
///     let mut ctx = Context::new();
///     ctx.run(|| LEVEL.set(3));
///     LEVEL.set(1);
///     let t = weft::spawn_with_context(ctx.clone(), async { LEVEL.get() });
///     assert_eq!(t.context(), ctx);
///     assert_eq!(t.await.unwrap(), Some(3));
/// });
/// ```
#[track_caller]
pub fn spawn_with_context<F>(context: weft_task::contextvars::Context, future: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let location = Location::caller();
    let mut context = context;
    // A spawn copies the current context: entering `context` makes it that.
    let spawned = context.run(|| Handle::try_spawn_current_at(future, location, Start::Configured));
    or_panic(
        spawned,
        "weft::spawn_with_context called outside a weft runtime: use Handle::spawn",
        "spawn",
    )
}

/// Spawns a `!Send` future pinned to the current loop: it is never stolen, and
/// runs only on this thread (a worker, or the thread inside `block_on`). Tasks
/// still pending when their loop ends are cancelled.
///
/// # Panics
///
/// Outside a weft loop, or on a loop whose runtime has shut down, as
/// [`spawn`]; see [`try_spawn_local`].
///
/// ```
/// use std::rc::Rc;
///
/// weft::run(async {
///     let shared = Rc::new(5);
///     let t = weft::spawn_local(async move { *shared + 1 });
///     assert_eq!(t.await.unwrap(), 6);
/// });
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    or_panic(
        Handle::try_spawn_local_at(future, Location::caller()),
        "spawn_local called outside a weft loop: call it from a task or block_on",
        "spawn_local",
    )
}

/// Like [`spawn_local`], but outside a loop, or on a shut-down runtime,
/// returns [`SpawnError`] (and drops `future` unpolled) instead of panicking.
///
/// ```
/// use std::rc::Rc;
///
/// assert!(weft::try_spawn_local(async {}).unwrap_err().is_outside_runtime());
/// weft::run(async {
///     let t = weft::try_spawn_local(async { Rc::new(3) }).unwrap();
///     assert_eq!(*t.await.unwrap(), 3);
/// });
/// ```
#[track_caller]
pub fn try_spawn_local<F>(future: F) -> Result<Task<F::Output>, SpawnError>
where
    F: Future + 'static,
    F::Output: 'static,
{
    Handle::try_spawn_local_at(future, Location::caller())
}

/// Yields once to the loop: the task goes to the back of its worker's queue
/// and other ready work runs first.
///
/// ```
/// weft::run(async {
///     weft::yield_now().await;
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
///
/// ```
/// weft::run(async {
///     let step: weft::YieldNow = weft::yield_now();
///     step.await; // back after the loop's other ready work
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The current runtime's tasks that are not done yet (asyncio's `all_tasks`);
/// empty outside a runtime.
///
/// ```
/// weft::run(async {
///     let t = weft::spawn(std::future::pending::<()>());
///     assert!(weft::all_tasks().iter().any(|x| x.id() == t.id()));
///     t.cancel();
/// });
/// ```
pub fn all_tasks() -> Vec<TaskRef> {
    Handle::try_current()
        .map(|h| h.all_tasks())
        .unwrap_or_default()
}

/// asyncio's `run`: starts a runtime with default settings, drives `main` to
/// completion on this thread, then cancels the tasks still pending, gives them
/// up to [`DEFAULT_SHUTDOWN_GRACE`] to clean up, and reports (through
/// `tracing`) any it had to destroy while pending. Returns `main`'s output.
///
/// # Panics
///
/// If the runtime's threads cannot be started, or on a thread already running
/// a weft loop.
///
/// ```
/// let out = weft::run(async {
///     let t = weft::spawn(async { 40 + 2 });
///     t.await.unwrap()
/// });
/// assert_eq!(out, 42);
/// ```
#[track_caller]
pub fn run<F: Future>(main: F) -> F::Output {
    run_with(Builder::new(), main)
}

/// [`run`] on a runtime built from `builder`: what `#[weft::main]` and
/// `#[weft::test]` expand to. Not a stable API; use the attributes, or
/// [`Builder::build`] and [`Runtime::block_on`].
///
/// # Panics
///
/// As [`run`], and if `builder` is refused (zero workers).
///
/// ```
/// let out = weft_loop::run_with(weft_loop::Builder::new().workers(1), async { 7 });
/// assert_eq!(out, 7);
/// ```
#[doc(hidden)]
#[track_caller]
pub fn run_with<F: Future>(builder: Builder, main: F) -> F::Output {
    let rt = builder
        .build()
        .unwrap_or_else(|e| panic!("cannot start the weft runtime: {e}"));
    let out = rt.block_on(main);
    rt.shutdown_timeout(DEFAULT_SHUTDOWN_GRACE);
    out
}

/// [`run_with`] on a thread of its own, named as the calling one, for at
/// most `limit`: what `#[weft::test(time_limit = ..)]` expands to. Not a
/// stable API.
///
/// # Panics
///
/// If `main` has not returned within `limit` (the thread is left behind,
/// with its runtime: a hung test fails instead of hanging the suite), with
/// `main`'s own panic payload if it panicked, and as [`run_with`].
///
/// ```
/// use std::time::Duration;
///
/// let out = weft_loop::run_with_time_limit(
///     weft_loop::Builder::new().workers(1),
///     Duration::from_secs(30),
///     || async { 7 },
/// );
/// assert_eq!(out, 7);
///
/// let hung = std::panic::catch_unwind(|| {
///     weft_loop::run_with_time_limit(
///         weft_loop::Builder::new().workers(1),
///         Duration::from_millis(20),
///         || std::future::pending::<()>(),
///     )
/// });
/// assert!(hung.is_err());
/// ```
#[doc(hidden)]
pub fn run_with_time_limit<M, F>(builder: Builder, limit: std::time::Duration, main: M) -> F::Output
where
    M: FnOnce() -> F + Send + 'static,
    F: Future,
    F::Output: Send + 'static,
{
    use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
    let (tx, rx) = crossbeam_channel::bounded(1);
    let name = std::thread::current()
        .name()
        .unwrap_or("weft-main")
        .to_owned();
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        // The future is made here, so it need not be `Send`.
        let out = catch_unwind(AssertUnwindSafe(|| run_with(builder, main())));
        // The receiver is gone only if the limit passed: nobody waits.
        let _ = tx.send(out);
    });
    if let Err(e) = spawned {
        panic!("cannot start a thread for the body: {e}");
    }
    match rx.recv_timeout(limit) {
        Ok(Ok(out)) => out,
        Ok(Err(payload)) => resume_unwind(payload),
        Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
            panic!("did not finish within {limit:?}: a hang or a deadlock")
        }
        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
            panic!("the thread running the body ended without a result")
        }
    }
}
