//! The errors of the task model: [`TaskError`] (how a task or promise failed),
//! [`Cancelled`], [`PanicError`], [`InvalidStateError`] and [`TimeoutError`].

use std::any::Any;
use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// How a task or promise ended without a value: asyncio's `CancelledError`, an
/// exception, a `TimeoutError`, or (Rust only) a panic.
///
/// Cheap to clone, so [`TaskRef::exception`](crate::TaskRef::exception) and many
/// awaiters of one [`Promise`](crate::Promise) can each have it.
///
/// ```
/// use weft_task::{Cancelled, TaskError, TimeoutError};
///
/// let err = TaskError::Cancelled(Cancelled::with_message("shutting down"));
/// assert!(err.is_cancelled());
/// assert_eq!(err.to_string(), "task cancelled: shutting down");
///
/// let err = TaskError::from(TimeoutError::new());
/// assert!(err.is_timeout() && !err.is_failed());
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum TaskError {
    /// The task was cancelled (`asyncio.CancelledError`), with the message given
    /// to `cancel_with`, if any.
    Cancelled(Cancelled),
    /// The task's future panicked; the payload is kept
    /// ([`into_panic`](TaskError::into_panic)).
    Panicked(PanicError),
    /// The work failed with an error (`Promise::set_exception`).
    Failed(Arc<dyn Error + Send + Sync + 'static>),
    /// A deadline passed first (what `wait_for` and `as_completed` report).
    TimedOut(TimeoutError),
}

impl TaskError {
    /// Whether this is a cancellation.
    ///
    /// ```
    /// let e = weft::TaskError::Cancelled(weft::Cancelled::new());
    /// assert!(e.is_cancelled() && !e.is_failed());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, TaskError::Cancelled(_))
    }

    /// Whether the task panicked.
    ///
    /// ```
    /// weft::run(async {
    ///     let e = weft::spawn(async { panic!("oops") }).await.unwrap_err();
    ///     assert!(e.is_panic());
    /// });
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }

    /// Whether the work failed with an error (not cancelled, not panicked, not
    /// timed out).
    ///
    /// ```
    /// let e = weft::TaskError::failed(std::fmt::Error);
    /// assert!(e.is_failed() && !e.is_panic());
    /// ```
    pub fn is_failed(&self) -> bool {
        matches!(self, TaskError::Failed(_))
    }

    /// Whether a deadline passed: [`TaskError::TimedOut`] (what `wait_for`
    /// and `as_completed` report).
    ///
    /// ```
    /// let e = weft::TaskError::TimedOut(weft::TimeoutError::new());
    /// assert!(e.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, TaskError::TimedOut(_))
    }

    /// The cancellation, if this is one.
    ///
    /// ```
    /// let e = weft::TaskError::Cancelled(weft::Cancelled::with_message("stop"));
    /// assert_eq!(e.as_cancelled().unwrap().message(), Some("stop"));
    /// assert!(weft::TaskError::failed(std::fmt::Error).as_cancelled().is_none());
    /// ```
    pub fn as_cancelled(&self) -> Option<&Cancelled> {
        match self {
            TaskError::Cancelled(c) => Some(c),
            _ => None,
        }
    }

    /// Wraps an error as [`TaskError::Failed`].
    ///
    /// ```
    /// weft::run(async {
    ///     let t = weft::spawn(async {
    ///         Err::<(), _>(weft::TaskError::failed(std::io::Error::other("disk full")))
    ///     });
    ///     let e = t.await.unwrap().unwrap_err();
    ///     assert!(e.is_failed());
    ///     assert!(e.to_string().contains("disk full"));
    /// });
    /// ```
    pub fn failed<E: Error + Send + Sync + 'static>(error: E) -> TaskError {
        TaskError::Failed(Arc::new(error))
    }

    /// The panic's payload, to re-raise it with `std::panic::resume_unwind`
    /// (tokio's `JoinError::into_panic`).
    ///
    /// # Panics
    ///
    /// If this is not [`TaskError::Panicked`]; see
    /// [`try_into_panic`](Self::try_into_panic).
    ///
    /// ```
    /// weft::run(async {
    ///     let err = weft::spawn(async { std::panic::panic_any(7u32) }).await.unwrap_err();
    ///     assert_eq!(*err.into_panic().downcast::<u32>().unwrap(), 7);
    /// });
    /// ```
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        match self.try_into_panic() {
            Ok(payload) => payload,
            Err(e) => panic!("`TaskError::into_panic` on an error that is not a panic: {e}"),
        }
    }

    /// The panic's payload if this is [`TaskError::Panicked`], else the error
    /// back. See [`PanicError::into_panic`] for which clone gets the payload.
    ///
    /// ```
    /// use weft_task::{Cancelled, TaskError};
    ///
    /// let err = TaskError::from(Cancelled::new());
    /// assert!(err.try_into_panic().unwrap_err().is_cancelled());
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, TaskError> {
        match self {
            TaskError::Panicked(p) => Ok(p.into_panic()),
            other => Err(other),
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Cancelled(c) => c.fmt(f),
            TaskError::Panicked(p) => p.fmt(f),
            TaskError::Failed(e) => write!(f, "task failed: {e}"),
            TaskError::TimedOut(t) => t.fmt(f),
        }
    }
}

impl Error for TaskError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            TaskError::Cancelled(c) => Some(c),
            TaskError::Panicked(p) => Some(p),
            TaskError::Failed(e) => Some(&**e),
            TaskError::TimedOut(t) => Some(t),
        }
    }
}

impl From<TimeoutError> for TaskError {
    /// A timeout as [`TaskError::TimedOut`].
    fn from(e: TimeoutError) -> TaskError {
        TaskError::TimedOut(e)
    }
}

impl From<Cancelled> for TaskError {
    fn from(c: Cancelled) -> TaskError {
        TaskError::Cancelled(c)
    }
}

/// asyncio's `CancelledError`: a cancellation, with its optional message.
///
/// [`catch_cancel`](crate::catch_cancel) hands one to code that intercepts a
/// cancellation; [`Cancelled::raise`] re-raises it.
///
/// ```
/// use weft_task::Cancelled;
///
/// assert_eq!(Cancelled::new().message(), None);
/// assert_eq!(Cancelled::with_message("bye").message(), Some("bye"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cancelled {
    message: Option<Arc<str>>,
}

impl Cancelled {
    /// A cancellation without a message.
    ///
    /// ```
    /// assert_eq!(weft::Cancelled::new().message(), None);
    /// ```
    pub fn new() -> Cancelled {
        Cancelled { message: None }
    }

    /// A cancellation carrying `message` (asyncio's `cancel(msg)`).
    ///
    /// ```
    /// assert_eq!(weft::Cancelled::with_message("bye").message(), Some("bye"));
    /// ```
    pub fn with_message(message: impl Into<Arc<str>>) -> Cancelled {
        Cancelled {
            message: Some(message.into()),
        }
    }

    pub(crate) fn from_message(message: Option<Arc<str>>) -> Cancelled {
        Cancelled { message }
    }

    /// The message given to `cancel_with`, if any.
    ///
    /// ```
    /// weft::run(async {
    ///     let t = weft::spawn(std::future::pending::<()>());
    ///     t.cancel_with("timeout");
    ///     let e = t.await.unwrap_err();
    ///     assert_eq!(e.as_cancelled().unwrap().message(), Some("timeout"));
    /// });
    /// ```
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    pub(crate) fn message_arc(&self) -> Option<Arc<str>> {
        self.message.clone()
    }
}

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => write!(f, "task cancelled: {m}"),
            None => f.write_str("task cancelled"),
        }
    }
}

impl Error for Cancelled {}

/// A task's future (or a callback) panicked. Keeps the panic payload, for
/// [`into_panic`](PanicError::into_panic), and its message (when the payload
/// was a `&str` or `String`) for `Display`.
///
/// Clones share the one payload: the first clone to call `into_panic` gets
/// it; later calls get the message as a `String` payload.
///
/// ```
/// use weft_task::PanicError;
///
/// let p = PanicError::from_payload(Box::new("boom"));
/// assert_eq!(p.message(), "boom");
/// assert_eq!(p.to_string(), "task panicked: boom");
/// let copy = p.clone();
/// assert_eq!(*p.into_panic().downcast::<&str>().unwrap(), "boom");
/// assert_eq!(*copy.into_panic().downcast::<String>().unwrap(), "boom");
/// ```
#[derive(Clone)]
pub struct PanicError {
    /// One pointer, so a `TaskError` (and a task's output slot) stays as small
    /// as it was before the payload was kept.
    inner: Arc<PanicInner>,
}

struct PanicInner {
    message: Box<str>,
    /// The payload until a clone takes it. A plain `std` mutex: taken at most
    /// once per panic, never contended on a hot path, and loom has nothing to
    /// model here.
    payload: std::sync::Mutex<Option<Box<dyn Any + Send>>>,
}

impl PanicError {
    /// Builds the error from a `catch_unwind` payload, keeping it.
    ///
    /// ```
    /// let payload = std::panic::catch_unwind(|| panic!("bad input")).unwrap_err();
    /// let e = weft::PanicError::from_payload(payload);
    /// assert_eq!(e.message(), "bad input");
    /// ```
    pub fn from_payload(payload: Box<dyn Any + Send>) -> PanicError {
        let message: Box<str> = if let Some(s) = payload.downcast_ref::<&'static str>() {
            Box::from(*s)
        } else if let Some(s) = payload.downcast_ref::<String>() {
            Box::from(s.as_str())
        } else {
            Box::from("non-string panic payload")
        };
        PanicError {
            inner: Arc::new(PanicInner {
                message,
                payload: std::sync::Mutex::new(Some(payload)),
            }),
        }
    }

    /// The panic message.
    ///
    /// ```
    /// weft::run(async {
    ///     let e = weft::spawn(async { panic!("at the disco") }).await.unwrap_err();
    ///     let weft::TaskError::Panicked(p) = e else { unreachable!() };
    ///     assert_eq!(p.message(), "at the disco");
    /// });
    /// ```
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The panic payload, to re-raise with `std::panic::resume_unwind`. The
    /// first clone to ask gets the original payload; the others get the
    /// message as a `String`.
    ///
    /// ```
    /// let payload = std::panic::catch_unwind(|| panic!("again")).unwrap_err();
    /// let e = weft::PanicError::from_payload(payload);
    /// let again = std::panic::catch_unwind(move || std::panic::resume_unwind(e.into_panic()));
    /// assert_eq!(*again.unwrap_err().downcast::<&str>().unwrap(), "again");
    /// ```
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        let taken = match self.inner.payload.lock() {
            Ok(mut payload) => payload.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        taken.unwrap_or_else(|| Box::new(self.message().to_owned()))
    }
}

impl fmt::Debug for PanicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PanicError")
            .field("message", &self.message())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for PanicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task panicked: {}", self.message())
    }
}

impl Error for PanicError {}

/// asyncio's `InvalidStateError`: the operation does not fit the object's state
/// (a result asked of a pending task, a promise settled twice, a value taken
/// twice).
///
/// ```
/// use weft_task::{InvalidStateError, Promise};
///
/// let p = Promise::<u8>::new();
/// let err = p.exception().unwrap_err();
/// assert!(err.is_pending());
/// assert_eq!(err, InvalidStateError::Pending);
/// assert_eq!(err.to_string(), "invalid state: result is not ready");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidStateError {
    /// The result was asked for before it was set.
    Pending,
    /// It was set (or cancelled, or finished) already.
    AlreadyDone,
    /// The value was moved out already (by an await or a `result()` call):
    /// the one way every handle reports it.
    ResultTaken,
    /// The object was used before it was started (a timeout scope
    /// rescheduled outside its block).
    NotStarted,
}

impl InvalidStateError {
    /// Why the state was invalid, in a few lower-case words.
    ///
    /// ```
    /// assert_eq!(weft::InvalidStateError::Pending.reason(), "result is not ready");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            InvalidStateError::Pending => "result is not ready",
            InvalidStateError::AlreadyDone => "already done",
            InvalidStateError::ResultTaken => "result already taken",
            InvalidStateError::NotStarted => "not started",
        }
    }

    /// Whether the object was still pending.
    ///
    /// ```
    /// let p = weft::Promise::<u8>::new();
    /// assert!(p.result().unwrap_err().is_pending());
    /// ```
    pub fn is_pending(&self) -> bool {
        matches!(self, InvalidStateError::Pending)
    }

    /// Whether it was done already.
    ///
    /// ```
    /// let p = weft::Promise::new();
    /// p.set_result(1).unwrap();
    /// assert!(p.set_result(2).unwrap_err().is_already_done());
    /// ```
    pub fn is_already_done(&self) -> bool {
        matches!(self, InvalidStateError::AlreadyDone)
    }

    /// Whether the value was taken already.
    ///
    /// ```
    /// weft::run(async {
    ///     let mut t = weft::spawn(async { 1 });
    ///     while !t.done() {
    ///         weft::yield_now().await;
    ///     }
    ///     assert_eq!(t.result().unwrap().unwrap(), 1);
    ///     assert!(t.result().unwrap_err().is_result_taken());
    /// });
    /// ```
    pub fn is_result_taken(&self) -> bool {
        matches!(self, InvalidStateError::ResultTaken)
    }
}

impl fmt::Display for InvalidStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid state: {}", self.reason())
    }
}

impl Error for InvalidStateError {}

/// asyncio's `TimeoutError`: a deadline passed before the work finished.
///
/// ```
/// use weft_task::TimeoutError;
///
/// assert_eq!(TimeoutError::new().to_string(), "deadline elapsed");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeoutError(());

impl TimeoutError {
    /// A timeout.
    ///
    /// ```
    /// assert!(weft::TaskError::from(weft::TimeoutError::new()).is_timeout());
    /// ```
    pub const fn new() -> TimeoutError {
        TimeoutError(())
    }
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline elapsed")
    }
}

impl Error for TimeoutError {}

/// A task awaited its own handle (asyncio raises `RuntimeError` for this).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AwaitSelfError;

impl fmt::Display for AwaitSelfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a task cannot await itself")
    }
}

impl Error for AwaitSelfError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeping the panic payload must not grow a task's output slot: a
    /// `TaskError` is three words, as it was when a panic kept only its
    /// message.
    #[test]
    fn task_error_stays_three_words() {
        assert!(std::mem::size_of::<TaskError>() <= 3 * std::mem::size_of::<usize>());
    }
}

/// Why [`ContextVar::reset`](crate::contextvars::ContextVar::reset) refused a
/// token (Python raises `RuntimeError` or `ValueError`). The context is left
/// as it was.
///
/// ```
/// let v = weft::ContextVar::new("v");
/// let token = v.set(1);
/// v.reset(&token).unwrap();
/// let err = v.reset(&token).unwrap_err();
/// assert!(err.is_used());
/// assert_eq!(err.to_string(), "token has already been used");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContextError {
    /// The token was used by an earlier `reset`.
    Used,
    /// The token was made by another context variable.
    WrongVar,
    /// The token was made in another context (another task, thread or
    /// `Context`).
    WrongContext,
}

impl ContextError {
    /// Whether the token was used already.
    pub fn is_used(&self) -> bool {
        *self == ContextError::Used
    }

    /// Whether the token belongs to another variable.
    pub fn is_wrong_var(&self) -> bool {
        *self == ContextError::WrongVar
    }

    /// Whether the token was made in another context.
    pub fn is_wrong_context(&self) -> bool {
        *self == ContextError::WrongContext
    }
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContextError::Used => "token has already been used",
            ContextError::WrongVar => "token was created by a different context var",
            ContextError::WrongContext => "token was created in a different context",
        })
    }
}

impl Error for ContextError {}
