//! `shield`: await a task without passing a cancellation of the caller on to it.

use crate::child::outcome;
use std::future::poll_fn;
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
pub async fn shield<T>(mut task: Task<T>) -> Result<T, TaskError> {
    poll_fn(|cx| task.poll_done(cx)).await;
    outcome(&mut task)
}
