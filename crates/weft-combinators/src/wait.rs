//! `wait`: block until some or all children are done; hand back the handles.

use crate::child::{describe, error_of, watch_all, Done, Pending};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use weft_loop::Sleep;
use weft_task::awaiting::DescribedWait;
use weft_task::{Task, TaskError};

/// When [`wait`] returns (asyncio's `return_when`).
///
/// ```
/// use std::time::Duration;
/// use weft::ReturnWhen;
///
/// weft::run(async {
///     let slow = weft::spawn(weft::sleep_with(Duration::from_secs(60), 1));
///     let fast = weft::spawn(async { 2 });
///     let (done, pending) = weft::wait([slow, fast])
///         .return_when(ReturnWhen::FirstCompleted)
///         .await
///         .unwrap();
///     assert_eq!((done.len(), pending.len()), (1, 1));
///     assert_eq!(ReturnWhen::default(), ReturnWhen::AllCompleted);
///     pending[0].cancel();
/// });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReturnWhen {
    /// As soon as any task is done; every task done by then is in `done`.
    FirstCompleted,
    /// As soon as a task fails (a panic or an error; a cancellation does not
    /// count), or when all are done.
    FirstException,
    /// When every task is done.
    #[default]
    AllCompleted,
}

/// [`wait`] was given no tasks (asyncio raises `ValueError`).
///
/// ```
/// weft::run(async {
///     let none: Vec<weft::Task<()>> = Vec::new();
///     let err = weft::wait(none).await.unwrap_err();
///     assert_eq!(err.to_string(), "nothing to wait for");
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmptyError(());

impl fmt::Display for EmptyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nothing to wait for")
    }
}

impl std::error::Error for EmptyError {}

impl From<EmptyError> for TaskError {
    /// As a [`TaskError::Failed`], so `?` works on `wait` inside a task body.
    fn from(e: EmptyError) -> TaskError {
        TaskError::failed(e)
    }
}

/// What [`wait`] resolves to: the `(done, pending)` handles, each list in
/// argument order, or [`EmptyError`].
pub type WaitResult<T> = Result<(Vec<Task<T>>, Vec<Task<T>>), EmptyError>;

/// Waits until the tasks are done, or some of them (see [`ReturnWhen`]), or
/// the timeout passes, and returns the handles split into `(done, pending)`
/// (asyncio's `wait`). The values stay in the handles: read them with
/// [`Task::result`] or by awaiting.
///
/// Builder methods set asyncio's keyword arguments: [`Wait::return_when`]
/// (default [`ReturnWhen::AllCompleted`]) and [`Wait::timeout`] (default
/// none). Empty input is an [`EmptyError`]. A failed task is simply done.
/// asyncio counts a task passed twice once; a `Task` cannot be passed twice.
///
/// **Nothing is cancelled**: not when the timeout passes (the unfinished
/// tasks come back in `pending`, still running), not when the caller is
/// cancelled or drops this future (the handles are dropped, the tasks run on).
///
/// ```
/// use std::time::Duration;
/// use weft::ReturnWhen;
///
/// weft::run(async {
///     let fast = weft::spawn(async { 1 });
///     let slow = weft::spawn(weft::sleep_with(Duration::from_secs(60), 2));
///     let (done, pending) = weft::wait([fast, slow])
///         .return_when(ReturnWhen::FirstCompleted)
///         .await
///         .unwrap();
///     assert_eq!((done.len(), pending.len()), (1, 1));
///     pending[0].cancel();
/// });
/// ```
pub fn wait<T, I>(tasks: I) -> Wait<T>
where
    I: IntoIterator<Item = Task<T>>,
{
    Wait {
        tasks: tasks.into_iter().collect(),
        pending: Pending::default(),
        done: Vec::new(),
        failed: false,
        return_when: ReturnWhen::AllCompleted,
        timeout: None,
        deadline: None,
        started: false,
        described: DescribedWait::new(),
    }
}

/// The future returned by [`wait`]; also its builder.
///
/// ```
/// weft::run(async {
///     let tasks = vec![weft::spawn(async { 1 }), weft::spawn(async { 2 })];
///     let waiting: weft::Wait<i32> = weft::wait(tasks);
///     let (done, pending) = waiting.await.unwrap();
///     assert_eq!(done.len(), 2);
///     assert!(pending.is_empty());
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Wait<T> {
    /// The input, until the first poll.
    tasks: Vec<Task<T>>,
    pending: Pending<Task<T>>,
    done: Vec<(usize, Task<T>)>,
    /// Some task in `done` failed (a cancellation is not a failure).
    failed: bool,
    return_when: ReturnWhen,
    timeout: Option<Duration>,
    deadline: Option<Sleep>,
    started: bool,
    /// What a task dump shows the caller awaiting.
    described: DescribedWait,
}

impl<T> Wait<T> {
    /// Sets when to return (asyncio's `return_when`).
    ///
    /// ```
    /// weft::run(async {
    ///     let fails = weft::spawn(async { panic!("boom") });
    ///     let stuck = weft::spawn(std::future::pending::<()>());
    ///     let (done, pending) = weft::wait([fails, stuck])
    ///         .return_when(weft::ReturnWhen::FirstException)
    ///         .await
    ///         .unwrap();
    ///     assert!(done[0].exception().unwrap().unwrap().is_panic());
    ///     pending[0].cancel();
    /// });
    /// ```
    pub fn return_when(mut self, when: ReturnWhen) -> Wait<T> {
        self.return_when = when;
        self
    }

    /// Returns after `timeout` at the latest, counted from the first poll
    /// (asyncio's `timeout`). The tasks are not cancelled.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// weft::run(async {
    ///     let stuck = weft::spawn(std::future::pending::<()>());
    ///     let (done, pending) = weft::wait([stuck])
    ///         .timeout(Duration::from_millis(5))
    ///         .await
    ///         .unwrap();
    ///     assert!(done.is_empty());
    ///     assert!(!pending[0].done(), "not cancelled");
    ///     pending[0].cancel();
    /// });
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Wait<T> {
        self.timeout = Some(timeout);
        self
    }

    /// Whether the tasks done so far satisfy `return_when`.
    fn satisfied(&self) -> bool {
        match self.return_when {
            _ if self.pending.is_empty() => true,
            ReturnWhen::AllCompleted => false,
            ReturnWhen::FirstCompleted => !self.done.is_empty(),
            ReturnWhen::FirstException => self.failed,
        }
    }

    fn push_done(&mut self, index: usize, task: Task<T>) {
        self.failed |= error_of(&task).is_some_and(|e| !e.is_cancelled());
        self.done.push((index, task));
    }

    /// Splits every task into `(done, pending)`, in argument order. A task
    /// that finished but whose wake-up has not arrived yet counts as done, as
    /// asyncio looks at `done()` when it returns.
    fn split(&mut self) -> (Vec<Task<T>>, Vec<Task<T>>) {
        let mut done = std::mem::take(&mut self.done);
        let mut pending = Vec::new();
        for (index, task) in std::mem::take(&mut self.pending)
            .into_iter()
            .filter_map(Done::into_parts)
        {
            if task.done() {
                done.push((index, task));
            } else {
                pending.push((index, task));
            }
        }
        done.sort_unstable_by_key(|(i, _)| *i);
        pending.sort_unstable_by_key(|(i, _)| *i);
        let strip = |v: Vec<(usize, Task<T>)>| v.into_iter().map(|(_, t)| t).collect();
        (strip(done), strip(pending))
    }
}

impl<T> Future for Wait<T> {
    type Output = WaitResult<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WaitResult<T>> {
        let this = &mut *self;
        if !this.started {
            this.started = true;
            if this.tasks.is_empty() {
                return Poll::Ready(Err(EmptyError(())));
            }
            let tasks = std::mem::take(&mut this.tasks);
            this.pending = watch_all(tasks, |index, task| this.push_done(index, task));
            this.deadline = this.timeout.map(weft_loop::sleep);
        }
        loop {
            if this.satisfied() {
                this.described.ready();
                return Poll::Ready(Ok(this.split()));
            }
            match this.pending.poll_next(cx) {
                Poll::Ready(Some((index, task))) => this.push_done(index, task),
                Poll::Ready(None) => continue,
                Poll::Pending => break,
            }
        }
        if let Some(deadline) = this.deadline.as_mut() {
            if Pin::new(deadline).poll(cx).is_ready() {
                this.described.ready();
                return Poll::Ready(Ok(this.split()));
            }
        }
        let pending = &this.pending;
        this.described.pending(|| describe("wait", pending));
        Poll::Pending
    }
}

impl<T> fmt::Debug for Wait<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("return_when", &self.return_when)
            .field("timeout", &self.timeout)
            .field("done", &self.done.len())
            .field("pending", &(self.tasks.len() + self.pending.len()))
            .finish()
    }
}
