//! `as_completed`: the children's results, as a stream, in the order they finish.

use crate::child::{describe, outcome, watch_all, Done, Pending};
use futures_util::stream::{Stream, StreamExt};
use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use weft_loop::Sleep;
use weft_task::awaiting::DescribedWait;
use weft_task::{Task, TaskError, TimeoutError};

/// A stream of the tasks' results in the order they finish (asyncio's
/// `as_completed`): one item per task, `Ok(value)` or the task's error.
///
/// With [`AsCompleted::timeout`], once the deadline passes every task not yet
/// yielded comes out as a [`TimeoutError`] (`TaskError::is_timeout`), and the
/// stream ends; **those tasks are not cancelled** and run on, detached. Use
/// [`AsCompleted::tasks`] to get the handles themselves instead, including
/// those of the tasks still running at the deadline.
///
/// Dropping the stream, or cancelling the task polling it, cancels nothing:
/// the tasks not yet yielded run on, detached.
///
/// ```
/// use futures_util::StreamExt;
/// use std::time::Duration;
///
/// weft::run(async {
///     let tasks: Vec<_> = [60u64, 20, 40]
///         .into_iter()
///         .map(|ms| weft::spawn(weft::sleep_with(Duration::from_millis(ms), ms)))
///         .collect();
///     let order: Vec<u64> = weft::as_completed(tasks).map(|r| r.unwrap()).collect().await;
///     assert_eq!(order, [20, 40, 60]);
/// });
/// ```
pub fn as_completed<T, I>(tasks: I) -> AsCompleted<T>
where
    I: IntoIterator<Item = Task<T>>,
{
    let mut queued = VecDeque::new();
    let pending = watch_all(tasks, |_, task| queued.push_back(task));
    AsCompleted {
        tasks: AsCompletedTasks {
            pending,
            deadline: None,
            queued,
            described: DescribedWait::new(),
        },
    }
}

/// The stream returned by [`as_completed`].
///
/// ```
/// weft::run(async {
///     let gate = weft::Promise::<&str>::new();
///     let open = gate.clone();
///     let slow = weft::spawn(async move { open.wait().await.unwrap() });
///     let fast = weft::spawn(async { "fast" });
///     let mut done: weft::AsCompleted<&str> = weft::as_completed([slow, fast]);
///     assert_eq!(done.next().await.unwrap().unwrap(), "fast");
///     gate.set_result("slow").unwrap(); // only now can the other end
///     assert_eq!(done.next().await.unwrap().unwrap(), "slow");
///     assert!(done.next().await.is_none());
/// });
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct AsCompleted<T> {
    tasks: AsCompletedTasks<T>,
}

impl<T> AsCompleted<T> {
    /// Stops waiting `timeout` from now: what has not finished by then comes
    /// out as a timeout, and keeps running.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// weft::run(async {
    ///     let stuck = weft::spawn(std::future::pending::<()>());
    ///     let mut done = weft::as_completed([stuck]).timeout(Duration::from_millis(5));
    ///     assert!(done.next().await.unwrap().unwrap_err().is_timeout());
    ///     assert!(done.next().await.is_none());
    /// });
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> AsCompleted<T> {
        self.tasks.deadline = Some(weft_loop::sleep(timeout));
        self
    }

    /// The same stream, yielding the finished handles themselves (asyncio
    /// 3.13's `async for task in as_completed(...)`).
    ///
    /// ```
    /// weft::run(async {
    ///     let t = weft::spawn(async { 4 });
    ///     let id = t.id();
    ///     let mut done = weft::as_completed([t]).tasks();
    ///     let first = done.next().await.unwrap().unwrap();
    ///     assert_eq!(first.id(), id);
    ///     assert_eq!(first.await.unwrap(), 4);
    /// });
    /// ```
    pub fn tasks(self) -> AsCompletedTasks<T> {
        self.tasks
    }

    /// The next result, or `None` when every task has been yielded
    /// (`StreamExt::next` without importing it).
    ///
    /// ```
    /// weft::run(async {
    ///     let mut done = weft::as_completed([weft::spawn(async { 1 })]);
    ///     assert_eq!(done.next().await.unwrap().unwrap(), 1);
    ///     assert!(done.next().await.is_none());
    /// });
    /// ```
    pub async fn next(&mut self) -> Option<Result<T, TaskError>> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl<T> AsCompletedTasks<T> {
    /// The next handle, or `None` when every task has been yielded.
    ///
    /// ```
    /// weft::run(async {
    ///     let mut done = weft::as_completed([weft::spawn(async { 1 })]).tasks();
    ///     assert_eq!(done.next().await.unwrap().unwrap().await.unwrap(), 1);
    ///     assert!(done.next().await.is_none());
    /// });
    /// ```
    pub async fn next(&mut self) -> Option<Result<Task<T>, TimedOut<T>>> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl<T> Stream for AsCompleted<T> {
    type Item = Result<T, TaskError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.tasks.poll_next_unpin(cx).map(|next| {
            next.map(|item| match item {
                Ok(mut task) => outcome(&mut task),
                Err(_still_running) => Err(TimeoutError::new().into()),
            })
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.tasks.size_hint()
    }
}

/// The stream of [`AsCompleted::tasks`]: each task's handle as it finishes, or
/// a [`TimedOut`] holding the handle of a task still running at the deadline.
///
/// ```
/// use std::time::Duration;
///
/// weft::run(async {
///     let quick = weft::spawn(async { 1 });
///     let stuck = weft::spawn(async { std::future::pending::<()>().await; 2 });
///     let mut done: weft::AsCompletedTasks<i32> =
///         weft::as_completed([quick, stuck]).timeout(Duration::from_millis(10)).tasks();
///     assert_eq!(done.next().await.unwrap().unwrap().await.unwrap(), 1);
///     let late = done.next().await.unwrap().unwrap_err().into_task();
///     assert!(!late.done(), "it keeps running");
///     late.cancel();
/// });
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct AsCompletedTasks<T> {
    pending: Pending<Task<T>>,
    deadline: Option<Sleep>,
    /// Yielded before `pending` is polled: the tasks already done when the
    /// stream was made (argument order), then, once the deadline passed,
    /// every task not yet yielded (argument order).
    queued: VecDeque<Task<T>>,
    /// What a task dump shows the caller awaiting.
    described: DescribedWait,
}

impl<T> Stream for AsCompletedTasks<T> {
    type Item = Result<Task<T>, TimedOut<T>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(task) = this.queued.pop_front() {
            // Done at the start, or finished between the deadline and now: a
            // result, not a timeout.
            return Poll::Ready(Some(if task.done() {
                Ok(task)
            } else {
                Err(TimedOut { task })
            }));
        }
        match this.pending.poll_next(cx) {
            Poll::Ready(Some((_, task))) => {
                this.described.ready();
                return Poll::Ready(Some(Ok(task)));
            }
            Poll::Ready(None) => {
                this.described.ready();
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        if let Some(deadline) = this.deadline.as_mut() {
            if Pin::new(deadline).poll(cx).is_ready() {
                this.deadline = None;
                let mut left: Vec<_> = std::mem::take(&mut this.pending)
                    .into_iter()
                    .filter_map(Done::into_parts)
                    .collect();
                left.sort_unstable_by_key(|(index, _)| *index);
                this.queued = left.into_iter().map(|(_, task)| task).collect();
                this.described.ready();
                return self.poll_next(cx);
            }
        }
        let pending = &this.pending;
        this.described.pending(|| describe("as_completed", pending));
        Poll::Pending
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.pending.len() + self.queued.len();
        (n, Some(n))
    }
}

/// A task still running when [`AsCompleted::timeout`]'s deadline passed. It
/// keeps running; [`into_task`](TimedOut::into_task) gives its handle back.
///
/// ```
/// use std::time::Duration;
///
/// weft::run(async {
///     let gate = weft::Promise::new();
///     let open = gate.clone();
///     let slow = weft::spawn(async move { open.await.map(|()| "late") });
///     let mut done = weft::as_completed([slow]).timeout(Duration::from_millis(1)).tasks();
///     let timed_out: weft::TimedOut<_> = done.next().await.unwrap().unwrap_err();
///     gate.set_result(()).unwrap(); // only now can it finish
///     assert_eq!(timed_out.into_task().await.unwrap().unwrap(), "late");
/// });
/// ```
pub struct TimedOut<T> {
    task: Task<T>,
}

impl<T> TimedOut<T> {
    /// The handle of the task that did not finish in time.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// weft::run(async {
    ///     let stuck = weft::spawn(std::future::pending::<()>());
    ///     let mut done = weft::as_completed([stuck]).timeout(Duration::from_millis(1)).tasks();
    ///     let task = done.next().await.unwrap().unwrap_err().into_task();
    ///     assert!(!task.done());
    ///     task.cancel();
    /// });
    /// ```
    pub fn into_task(self) -> Task<T> {
        self.task
    }
}

impl<T> fmt::Debug for TimedOut<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimedOut")
            .field("task", &self.task)
            .finish()
    }
}

impl<T> fmt::Display for TimedOut<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        TimeoutError::new().fmt(f)
    }
}

impl<T> std::error::Error for TimedOut<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        static TIMEOUT: TimeoutError = TimeoutError::new();
        Some(&TIMEOUT)
    }
}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.tasks.fmt(f)
    }
}

impl<T> fmt::Debug for AsCompletedTasks<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("pending", &self.pending.len())
            .field("queued", &self.queued.len())
            .finish()
    }
}
