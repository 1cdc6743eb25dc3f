//! [`spawn_blocking`] / [`to_thread`]: sync code run on the runtime's
//! blocking pool (`thread_pool.rs`), its outcome delivered through a
//! [`ConcurrentFuture`].

use crate::bridge::{ConcurrentFuture, Slot, Source};
use crate::thread_pool::BlockingPool;
use crate::Handle;
use std::sync::Arc;
use weft_task::{Cancelled, TaskError};

/// Completes the job's future `Cancelled` if the job is dropped unrun.
struct Unrun<T>(Arc<Slot<T>>);

impl<T> Drop for Unrun<T> {
    fn drop(&mut self) {
        self.0
            .complete(Err(TaskError::Cancelled(Cancelled::with_message(
                "runtime is shut down",
            ))));
    }
}

/// Runs `f` on `pool`, in a copy of the caller's context; its outcome (a value, or its panic as the error)
/// completes the returned future.
pub(crate) fn spawn_on<T, F>(pool: &Arc<BlockingPool>, f: F) -> ConcurrentFuture<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let slot = Slot::new(Source::Job);
    let unrun = Unrun(slot.clone());
    // The job runs in a copy of the caller's context (asyncio's `to_thread`).
    let mut context = weft_task::contextvars::copy_context();
    pool.submit(Box::new(move || {
        let slot = &unrun.0;
        if !slot.start_job() {
            return; // cancelled before it started
        }
        let outcome = weft_task::catch_panic(|| context.run(f)).map_err(TaskError::Panicked);
        slot.complete(outcome);
        drop(unrun); // a no-op now: the slot is complete
    }));
    ConcurrentFuture::from_slot(slot)
}

impl Handle {
    /// Runs the sync function `f` on this runtime's blocking pool (see
    /// [`spawn_blocking`]); callable from any thread.
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let fut = rt.handle().spawn_blocking(|| 2 + 2);
    /// assert_eq!(fut.result(None).unwrap(), 4);
    /// ```
    pub fn spawn_blocking<T, F>(&self, f: F) -> ConcurrentFuture<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        spawn_on(&self.shared.blocking, f)
    }
}

/// Runs the sync function `f` on the runtime's blocking pool, so it does not
/// stall a loop (tokio's `spawn_blocking`, asyncio's `to_thread` /
/// `run_in_executor`), and returns a [`ConcurrentFuture`] to await (or, from
/// a plain thread, to wait on). A panic in `f` is that future's error.
///
/// The pool grows up to [`Builder::max_blocking_threads`](crate::Builder::max_blocking_threads)
/// threads (512 by default), and a thread idle for
/// [`Builder::blocking_keep_alive`](crate::Builder::blocking_keep_alive) (10 s)
/// exits. `cancel()` skips a job that has not started; a running one cannot
/// be stopped. At shutdown, queued jobs end `Cancelled` and running ones run
/// to their end on their own threads.
///
/// # Panics
///
/// Outside a weft runtime (use [`Handle::spawn_blocking`]).
///
/// ```
/// weft::run(async {
///     let sum = weft::spawn_blocking(|| (1..=10).sum::<u32>()).await.unwrap();
///     assert_eq!(sum, 55);
///     let err = weft::to_thread(|| panic!("boom")).await.unwrap_err();
///     assert!(err.task_error().unwrap().is_panic());
/// });
/// ```
#[track_caller]
pub fn spawn_blocking<T, F>(f: F) -> ConcurrentFuture<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Handle::current().spawn_blocking(f)
}

/// asyncio's name for [`spawn_blocking`]: `await asyncio.to_thread(f)`.
///
/// ```
/// weft::run(async {
///     let sum = weft::to_thread(|| (1..=10).sum::<u32>()).await.unwrap();
///     assert_eq!(sum, 55);
/// });
/// ```
#[track_caller]
pub fn to_thread<T, F>(f: F) -> ConcurrentFuture<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_blocking(f)
}
