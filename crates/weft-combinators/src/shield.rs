//! `shield`: await a task without passing a cancellation of the caller on to it.

use crate::child::{outcome, retrieve_later};
use std::future::{poll_fn, Future};
use weft_task::{Task, TaskError};

/// Awaits `task` while ignoring cancellation of the caller (asyncio's
/// `shield`): if the caller is cancelled, or drops this future, `task` keeps
/// running and its later result is dropped. If `task` itself is cancelled,
/// this resolves to that cancellation. A task already done returns at once.
///
/// ```
/// use std::time::Duration;
///
/// weft::run(async {
///     let inner = weft::spawn(weft::sleep_with(Duration::from_millis(20), 5));
///     let watcher = inner.task_ref();
///     let outer = weft::spawn(weft::shield(inner));
///     weft::sleep(Duration::from_millis(1)).await;
///     outer.cancel();
///     assert!(outer.await.unwrap_err().is_cancelled());
///     assert!(!watcher.cancelled());
/// });
/// ```
pub fn shield<T>(task: Task<T>) -> impl Future<Output = Result<T, TaskError>> {
    // Made before the first poll: a caller cancelled before it ever polls
    // this future drops the guard too.
    let mut shielded = Shielded(Some(task));
    async move {
        poll_fn(|cx| shielded.task().poll_done(cx)).await;
        let mut task = shielded.0.take().expect("taken once, here");
        outcome(&mut task)
    }
}

/// The shielded task while `shield` waits. Dropped before it is done (the
/// caller was cancelled), the task runs on, and its error will count as
/// retrieved, as asyncio's shield marks the inner task's ("Mark inner's
/// result as retrieved") so it is not reported as never retrieved.
struct Shielded<T>(Option<Task<T>>);

impl<T> Shielded<T> {
    fn task(&mut self) -> &mut Task<T> {
        self.0.as_mut().expect("present until shield returns")
    }
}

impl<T> Drop for Shielded<T> {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            retrieve_later(std::iter::once(task));
        }
    }
}
