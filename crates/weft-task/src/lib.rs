//! The core of weft: tasks and promises with asyncio's semantics, independent of
//! any loop.
//!
//! * [`Task<T>`]: asyncio's Task. Await it for `Result<T, TaskError>`; cancel it
//!   with [`cancel`](TaskRef::cancel) / [`cancel_with`](TaskRef::cancel_with);
//!   dropping it does not cancel.
//! * [`Promise<T>`]: asyncio's Future, settled by hand, awaited by many.
//! * [`contextvars`]: PEP 567 context variables; every task runs in a copy
//!   of its spawner's context.
//! * [`catch_cancel`] and [`Cancelled::raise`]: intercept a cancellation, clean
//!   up (awaiting if need be), then re-raise or refuse it.
//! * [`Schedule`], [`Runnable`], [`TaskRegistry`], [`spawn`] and
//!   [`spawn_unchecked`]: the interface a loop (weft-loop) implements and uses.
//! * [`ResultCell`] and [`DoneCallbacks`]: the one result cell and the one
//!   done-callback list, which `Task`, `Promise` and weft-loop's
//!   `ConcurrentFuture` share; [`catch_panic`] and [`run_reporting`]: the one
//!   runner for code weft does not own.
//! * [`ExceptionContext`] and [`default_exception_handler`]: what reaches a
//!   loop's exception handler (a panicking callback, an error never
//!   retrieved), through the [`CallExceptionHandler`] a loop provides.
//!
//! Users normally reach all of this through the `weft` crate.

#![warn(missing_docs)]

// Public (hidden) for the leaf futures of weft's own crates (weft-loop's
// `ConcurrentFuture`), as `chain` is.
#[doc(hidden)]
pub mod awaiting;
mod callback;
mod cancel;
// Public (hidden) for the leaf futures of weft's own crates (weft-loop's
// `ConcurrentFuture`); users see its effects through `Task` and `Promise`.
#[doc(hidden)]
pub mod chain;
mod clock;
pub mod context;
pub mod contextvars;
mod dealloc;
mod dump;
mod error;
mod events;
mod exception;
mod header;
mod id;
// The workspace's one loom shim, public (hidden) for weft's own crates only.
#[doc(hidden)]
pub mod loom;
mod panic;
mod promise;
mod raw;
mod registry;
mod repr;
mod result_cell;
mod schedule;
// The short spin before a thread sleeps, public (hidden) for weft-loop's
// bridge and weft-sync's blocking waits.
#[doc(hidden)]
pub mod spin;
mod state;
mod task;
mod trace;
mod varmap;

#[cfg(all(test, loom))]
mod loom_tests;

pub use callback::{DoneCallback, DoneCallbacks};
pub use cancel::{catch_cancel, CatchCancel, Raise};
pub use chain::AwaitDescription;
pub use clock::SpawnClock;
pub use dump::{AwaitEdge, SpawnSite, TaskDump, TaskInfo, TaskState};
pub use error::{Cancelled, ContextError, InvalidStateError, PanicError, TaskError, TimeoutError};
pub use exception::{
    default_exception_handler, discard_context, set_exception_hook, CallExceptionHandler,
    ExceptionContext, ExceptionHook,
};
pub use header::TaskRef;
pub use id::TaskId;
pub use panic::{catch_panic, run_reporting, wake_all};
pub use promise::{Promise, PromiseWait};
pub use registry::TaskRegistry;
pub use result_cell::{ResultCell, Wakeups};
pub use schedule::Schedule;
pub use task::{Runnable, Task};

/// Cooperative scheduling budget, for leaf futures.
pub mod coop {
    pub use crate::context::{has_budget_remaining, poll_proceed};
}

use header::RawTask;
use raw::Built;
use std::future::Future;
use std::panic::Location;

/// The result of spawning: the task's handle, and its first [`Runnable`] unless
/// the registry (the runtime) was closed.
#[derive(Debug)]
pub enum Spawned<T> {
    /// Registered: queue the `Runnable` to start the task.
    Ready(Task<T>, Runnable),
    /// The registry is closed: the future was dropped unpolled and the handle
    /// resolves to `Cancelled("runtime is shut down")`.
    Refused(Task<T>),
}

/// Creates a task running `future` on `scheduler`, registered in its registry.
pub fn spawn<F, S>(
    future: F,
    scheduler: S,
    location: &'static Location<'static>,
) -> Spawned<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: F and its output are Send, so any thread may run and drop them.
    unsafe { spawn_unchecked(future, scheduler, location) }
}

/// [`spawn`] without the `Send` bounds, for tasks pinned to one loop.
///
/// # Safety
///
/// If `F` is not `Send`, `scheduler` must run the task's `Runnable`s only on the
/// thread that called this, its [`Schedule::local_owner`] must be a non-zero
/// key naming that thread's loop, and that thread must shut the task down (through
/// [`TaskRegistry::shutdown_tasks`]) before it exits. If `F::Output` is not
/// `Send`, the returned `Task` is not `Send` either, so the output stays put.
pub unsafe fn spawn_unchecked<F, S>(
    future: F,
    scheduler: S,
    location: &'static Location<'static>,
) -> Spawned<F::Output>
where
    F: Future + 'static,
    S: Schedule,
{
    // SAFETY: the caller upholds allocate's contract (same as ours).
    let (raw, built) = unsafe { raw::allocate(future, scheduler, location) };
    match built {
        Built::Ready => Spawned::Ready(Task::from_raw(raw), Runnable::from_raw(raw.header_ptr())),
        Built::Refused => Spawned::Refused(Task::from_raw(raw)),
    }
}

/// The task being polled on this thread (asyncio's `current_task()`), or `None`
/// outside any task. The future given to `block_on` / `weft::run` is driven
/// directly rather than as a task, so it sees `None` too.
///
/// ```
/// assert!(weft_task::current_task().is_none());
/// weft::run(async {
///     let t = weft::spawn(async { weft_task::current_task().map(|t| t.id()) });
///     let id = t.id();
///     assert_eq!(t.await.unwrap(), Some(id));
/// });
/// ```
pub fn current_task() -> Option<TaskRef> {
    RawTask::current().map(TaskRef::from_raw_inc)
}
