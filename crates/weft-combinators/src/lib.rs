//! asyncio's combinators for weft: [`gather`](fn@gather),
//! [`wait`](fn@wait), [`as_completed`](fn@as_completed), [`wait_for`],
//! [`timeout`](fn@timeout) scopes, [`shield`](fn@shield) and
//! [`task_group`].
//!
//! | asyncio                                   | weft                                         |
//! |-------------------------------------------|----------------------------------------------|
//! | `await gather(*tasks)`                    | [`gather`](fn@gather)`(tasks).await`         |
//! | `await gather(a(), b())` (mixed types)    | [`gather!`]`(a(), b()).await`                |
//! | `gather(..., return_exceptions=True)`     | [`gather_settled`](fn@gather_settled) / [`gather_settled!`] |
//! | `await wait(tasks, timeout=t, return_when=w)` | [`wait`](fn@wait)`(tasks).timeout(t).return_when(w).await` |
//! | `for f in as_completed(tasks, timeout=t)` | [`as_completed`](fn@as_completed)`(tasks).timeout(t)` (a `Stream`) |
//! | `await wait_for(task, t)`                 | [`wait_for`]`(task, Some(t)).await`          |
//! | `async with timeout(t) as cm:`            | [`timeout`](fn@timeout)`(t).run(block).await` |
//! | `await shield(task)`                      | [`shield`](fn@shield)`(task).await`          |
//! | `async with TaskGroup() as tg:`           | [`task_group`]`(\|tg\| async move { .. }).await` |
//! | `ensure_future(x)`                        | [`ensure_future!`]`(x)`                      |
//!
//! # Children are tasks
//!
//! Each combinator takes [`Task`](weft_task::Task) handles and watches them
//! with `Task::poll_done`, never by awaiting them, so what a cancellation of
//! the caller does to the children is the combinator's own rule, written in
//! its documentation: gather and wait_for cancel them and wait for their
//! cleanup, then re-raise; wait, as_completed and shield leave them running.
//! Dropping a combinator's future without cancelling it only drops the
//! handles it holds, and, as with any handle, the tasks run on.
//!
//! asyncio's functions accept coroutines and tasks alike and wrap the
//! coroutines in tasks. Rust's coherence rules forbid one generic function
//! that spawns a plain future yet passes a `Task` (itself a future) through
//! unchanged, so: the functions take tasks (spawn plain futures with
//! `weft::spawn` first, which is what asyncio does for you), and the macros
//! [`gather!`], [`gather_settled!`] and [`ensure_future!`] take tasks and plain
//! futures mixed, spawning the futures. [`Timeout::run`] runs a plain future
//! inline, without spawning.

#![warn(missing_docs)]

mod as_completed;
mod body;
mod child;
mod gather;
mod group;
mod loom;
#[cfg(all(test, loom))]
mod loom_tests;
mod shield;
mod timeout;
mod wait;
mod wake_set;

pub use as_completed::{as_completed, AsCompleted, AsCompletedTasks, TimedOut};
pub use gather::{gather, gather_settled};
pub use group::{task_group, TaskGroup, TaskGroupError, TaskGroupSpawnError};
pub use shield::shield;
pub use timeout::{timeout, timeout_at, wait_for, Timeout};
pub use wait::{wait, EmptyError, ReturnWhen, Wait, WaitResult};

/// Support for the macros; not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::child::Child;
    pub use crate::gather::{gather_tuple, gather_tuple_settled, TaskTuple};
    use std::future::Future;
    use weft_task::{Promise, Task};

    /// Holds one argument of [`ensure_future!`](crate::ensure_future!) while
    /// method resolution picks [`EnsureTask`] (a `Task`, passed through) or
    /// [`EnsurePromise`] (a `Promise`, passed through) over [`EnsureFuture`]
    /// (any other future, spawned).
    #[derive(Debug)]
    pub struct Ensure<X>(pub Option<X>);

    /// A `Task`: passed through.
    pub trait EnsureTask {
        /// The task's output.
        type Output;
        /// The task itself.
        fn ensure(&mut self) -> Task<Self::Output>;
    }

    impl<T> EnsureTask for Ensure<Task<T>> {
        type Output = T;

        fn ensure(&mut self) -> Task<T> {
            self.0
                .take()
                .expect("ensure_future! takes its argument once")
        }
    }

    /// A `Promise`: passed through, as asyncio's `ensure_future` returns a
    /// `Future` itself.
    pub trait EnsurePromise {
        /// The promise's value.
        type Output;
        /// The promise itself.
        fn ensure(&mut self) -> Promise<Self::Output>;
    }

    impl<T> EnsurePromise for Ensure<Promise<T>> {
        type Output = T;

        fn ensure(&mut self) -> Promise<T> {
            self.0
                .take()
                .expect("ensure_future! takes its argument once")
        }
    }

    /// Any other future: spawned.
    pub trait EnsureFuture {
        /// The future's output.
        type Output;
        /// The future, spawned.
        fn ensure(&mut self) -> Task<Self::Output>;
    }

    impl<F> EnsureFuture for &mut Ensure<F>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        type Output = F::Output;

        #[track_caller]
        fn ensure(&mut self) -> Task<F::Output> {
            weft_loop::spawn(
                self.0
                    .take()
                    .expect("ensure_future! takes its argument once"),
            )
        }
    }
}

/// Turns its argument into a [`Task`](weft_task::Task) (asyncio's
/// `ensure_future`): a `Task` passes through unchanged, any other future is
/// spawned. A [`Promise`](weft_task::Promise) (asyncio's `Future`) passes
/// through too, and stays a `Promise`: the result is that promise itself,
/// as asyncio returns the future it was given (await it, cancel it, add
/// callbacks to it). Works on the argument's concrete type, so call it where
/// that type is known (not inside a function generic over "task or
/// future"). [`gather!`] takes tasks and plain futures only: to gather a
/// promise, pass `promise.wait()`, which is spawned.
///
/// # Panics
///
/// Spawning a plain future outside a weft runtime, or on one that has shut
/// down, panics, as `weft::spawn` does.
///
/// ```
/// weft::run(async {
///     let t = weft::spawn(async { 1 });
///     let id = t.id();
///     let same = weft::ensure_future!(t);
///     assert_eq!(same.id(), id);
///     let spawned = weft::ensure_future!(async { 2 });
///     assert_eq!(same.await.unwrap() + spawned.await.unwrap(), 3);
///
///     let promise = weft::Promise::new();
///     let itself: weft::Promise<u8> = weft::ensure_future!(promise.clone());
///     promise.set_result(4).unwrap();
///     assert_eq!(itself.await.unwrap(), 4);
/// });
/// ```
#[macro_export]
macro_rules! ensure_future {
    ($x:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::{EnsureFuture as _, EnsurePromise as _, EnsureTask as _};
        (&mut $crate::__private::Ensure(::core::option::Option::Some($x))).ensure()
    }};
}

/// [`gather`](fn@gather) for a fixed list of children of different types, tasks and
/// plain futures mixed (futures are spawned, as [`ensure_future!`] does):
/// resolves to `Ok((a, b, ..))` in argument order, or the first error. Up to
/// 12 children, whose outputs must be `Send`. Same cancellation rule as
/// [`gather`](fn@gather).
///
/// ```
/// use std::time::Duration;
///
/// weft::run(async {
///     let name = weft::spawn(async { "phase1 result" });
///     let (a, b) = weft::gather!(name, weft::sleep_with(Duration::from_millis(1), 2u8))
///         .await
///         .unwrap();
///     assert_eq!((a, b), ("phase1 result", 2));
/// });
/// ```
#[macro_export]
macro_rules! gather {
    ($($child:expr),+ $(,)?) => {
        $crate::__private::gather_tuple(($($crate::ensure_future!($child),)+))
    };
}

/// [`gather_settled`](fn@gather_settled) for a fixed list of children of different types:
/// resolves to `(Result<A, TaskError>, Result<B, TaskError>, ..)`.
///
/// ```
/// weft::run(async {
///     let (a, b) = weft::gather_settled!(async { 1 }, async { panic!("no") }).await;
///     assert_eq!(a.unwrap(), 1);
///     assert!(b.unwrap_err().is_panic());
/// });
/// ```
#[macro_export]
macro_rules! gather_settled {
    ($($child:expr),+ $(,)?) => {
        $crate::__private::gather_tuple_settled(($($crate::ensure_future!($child),)+))
    };
}
