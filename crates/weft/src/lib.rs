//! # weft
//!
//! Python asyncio's task model — `create_task`, `cancel`, `gather`, `wait`,
//! `TaskGroup`, `run_coroutine_threadsafe` — on a multi-threaded work-stealing
//! Rust runtime.
//!
//! ```
//! let out = weft::run(async {
//!     let t = weft::spawn(async { 40 + 2 }); // asyncio.create_task
//!     println!("waiting for {t:?}");           // e.g. Task { id: 1, name: "Task-1", state: pending }
//!     t.await.unwrap()
//! });
//! assert_eq!(out, 42);
//! ```
//!
//! | asyncio                         | weft                                       |
//! |---------------------------------|--------------------------------------------|
//! | `asyncio.run(main())`           | [`run`]`(main)` / [`#[weft::main]`](macro@main) |
//! | `asyncio.create_task(coro)`     | [`spawn`]`(fut)` / [`Handle::spawn`]       |
//! | `task.cancel(msg)`              | [`TaskRef::cancel_with`]`(msg)`            |
//! | `try: await x except CancelledError:` | [`catch_cancel`]`(x).await`          |
//! | `asyncio.Future()`              | [`Promise::new`]                           |
//! | `asyncio.current_task()`        | [`current_task`]                           |
//! | `contextvars.ContextVar(name)` / `copy_context()` | [`ContextVar::new`] / [`copy_context`] ([`contextvars`]) |
//! | `asyncio.create_task(c, context=ctx)` | [`spawn_with_context`]`(ctx, fut)`   |
//! | `asyncio.all_tasks()`           | [`all_tasks`]                              |
//! | `loop.run_until_complete(f)`    | [`Runtime::block_on`]                      |
//! | `loop.run_forever()` / `loop.stop()` | [`Runtime::run_forever`] / [`Handle::stop`] |
//! | `with asyncio.Runner() as r: r.run(c)` | [`Runner::new`], [`Runner::run`]     |
//! | `loop.set_exception_handler(h)` | [`Builder::exception_handler`], [`Handle::set_exception_handler`] |
//! | `await asyncio.sleep(d)`        | [`sleep`]`(d).await`                       |
//! | `loop.call_soon(f)` / `call_later` / `call_at` | [`call_soon`] / [`call_later`] / [`call_at`] |
//! | `loop.call_soon_threadsafe(f)`  | [`LoopHandle::call_soon_threadsafe`]       |
//! | `asyncio.open_connection` / `start_server` | [`net::TcpStream::connect`] / [`net::TcpListener::bind`]; for HTTP, `weft::hyper::serve` and `weft::hyper::client` (feature `hyper`) |
//! | `asyncio.open_unix_connection` / `start_unix_server` | [`net::UnixStream::connect`] / [`net::UnixListener::bind`] |
//! | `loop.add_signal_handler(sig, cb)` | [`signal::signal`]`(kind)?.recv().await` / [`signal::ctrl_c`]`().await` |
//! | `await asyncio.gather(*tasks)`  | [`gather`](fn@gather)`(tasks).await` / [`gather!`](macro@gather)`(a, b).await` |
//! | `await asyncio.wait(tasks, ...)` | [`wait`]`(tasks).timeout(t).return_when(w).await` |
//! | `asyncio.as_completed(tasks)`   | [`as_completed`]`(tasks)` (a `Stream`)     |
//! | `await asyncio.wait_for(t, d)`  | [`wait_for`]`(task, Some(d)).await`        |
//! | `async with asyncio.timeout(d):` | [`timeout`]`(d).run(block).await`         |
//! | `await asyncio.shield(t)`       | [`shield`]`(task).await`                   |
//! | `async with asyncio.TaskGroup() as tg:` | [`task_group`]`(\|tg\| async move { .. }).await` |
//! | `asyncio.run_coroutine_threadsafe(c, loop)` | [`run_coroutine_threadsafe`]`(fut, &handle)` → [`ConcurrentFuture`] |
//! | `await asyncio.to_thread(f)`    | [`to_thread`]`(f).await` / [`spawn_blocking`]`(f)` |
//! | `asyncio.Lock()`, `Event()`, `Condition()` | [`sync::Mutex`], [`sync::Event`], [`sync::Condition`] |
//! | `asyncio.Semaphore(n)`, `BoundedSemaphore(n)`, `Barrier(n)` | [`sync::Semaphore`], [`sync::BoundedSemaphore`], [`sync::Barrier`] |
//! | `asyncio.Queue(maxsize)`, `LifoQueue`, `PriorityQueue` | [`queue::Queue::new`]`(maxsize)`, [`queue::LifoQueue`], [`queue::PriorityQueue`] |
//!
//! See `docs/asyncio.md` in the repository for the full guide.
//!
//! Feature `criterion` (off by default): criterion's `AsyncExecutor` for
//! `&`[`Runtime`] and [`Handle`], so `b.to_async(&rt)` benches async code on
//! weft as it does on tokio. Calling tokio-only libraries (reqwest, sqlx,
//! tonic) from weft tasks: `docs/ecosystem.md`.

#![warn(missing_docs)]

pub use weft_combinators::{
    as_completed, ensure_future, gather, gather_settled, shield, task_group, timeout, timeout_at,
    wait, wait_for, AsCompleted, AsCompletedTasks, EmptyError, ReturnWhen, TaskGroup,
    TaskGroupError, TaskGroupSpawnError, TimedOut, Timeout, Wait, WaitResult,
};
pub use weft_loop::net;
#[cfg(unix)]
pub use weft_loop::signal;
pub use weft_loop::{
    all_tasks, call_at, call_later, call_soon, current_task, interval, interval_at, loop_time, run,
    sleep, sleep_until, sleep_with, spawn, spawn_local, try_spawn, try_spawn_local, yield_now,
    BlockOnError, Builder, CallbackHandle, Handle, Interval, LoopHandle, Runtime, RuntimeMetrics,
    Sleep, SleepWith, SpawnError, YieldNow, DEFAULT_SHUTDOWN_GRACE,
};
pub use weft_loop::{
    run_coroutine_threadsafe, spawn_blocking, to_thread, ConcurrentFuture, FutureError, Target,
};
// Issue 16 section 4: eager tasks (asyncio 3.12's eager_task_factory); the
// runtime-wide switch is `Builder::eager_tasks`.
pub use weft_loop::{spawn_eager, try_spawn_eager};
// Issue 17 section 5 (metrics): per-worker figures in `RuntimeMetrics`, the
// opt-in poll-time histogram (`Builder::enable_poll_time_histogram`).
pub use weft_loop::{PollTimeHistogram, WorkerMetrics};
// Issue 16, section 5 (the loop's own API): run_forever / stop (on
// `Runtime` and `Handle`), `Runner`, the exception handler.
pub use weft_loop::Runner;
pub use weft_macros::{main, test};
pub use weft_sync as sync;
pub use weft_sync::queue;
pub use weft_task::{
    catch_cancel, coop, Cancelled, CatchCancel, DoneCallback, InvalidStateError, PanicError,
    Promise, PromiseWait, Raise, Task, TaskError, TaskId, TaskRef, TimeoutError,
};
pub use weft_task::{default_exception_handler, ExceptionContext};

// Issue 16, section 3: context variables (PEP 567). The `Context` type stays
// inside `weft::contextvars`, so it is never confused with `std::task::Context`.
pub use weft_loop::spawn_with_context;
pub use weft_task::contextvars;
pub use weft_task::contextvars::{copy_context, ContextVar};
// Issue 17, sections 1 and 2: task dumps and the await graph
// (`Handle::dump`, `TaskRef::awaiting`, `Builder::dump_on_signal`).
pub use weft_task::{AwaitDescription, AwaitEdge, SpawnSite, TaskDump, TaskInfo, TaskState};

/// What the code `#[weft::main]` and `#[weft::test]` generate calls. Not a
/// stable API: it changes with the attributes.
#[doc(hidden)]
pub mod __private {
    pub use weft_loop::{run_with, run_with_time_limit};
}

/// Everything a typical program uses, for `use weft::prelude::*`.
pub mod prelude {
    pub use crate::{
        as_completed, catch_cancel, gather, shield, sleep, spawn, spawn_local, task_group, timeout,
        wait, wait_for, yield_now, Promise, ReturnWhen, Task, TaskError, TaskRef,
    };
}

/// hyper 1.x and axum on weft (feature `hyper`): executor, timer, I/O
/// adapter, the [`serve`](hyper::serve) helper with graceful shutdown, and
/// client connections. See the `weft-hyper` crate.
///
/// ```
/// let _timer = weft::hyper::WeftTimer::new();
/// ```
#[cfg(feature = "hyper")]
pub use weft_hyper as hyper;
