//! The errors of the task model: [`TaskError`] (how a task or promise failed),
//! [`Cancelled`], [`PanicError`], [`InvalidStateError`] and [`TimeoutError`].

use std::any::Any;
use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// How a task or promise ended without a value: asyncio's `CancelledError`, an
/// exception, or (Rust only) a panic.
///
/// Cheap to clone, so [`Task::exception`](crate::Task::exception) and many
/// awaiters of one [`Promise`](crate::Promise) can each have it.
///
/// ```
/// use weft_task::{Cancelled, TaskError};
///
/// let err = TaskError::Cancelled(Cancelled::with_message("shutting down"));
/// assert!(err.is_cancelled());
/// assert_eq!(err.to_string(), "task cancelled: shutting down");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum TaskError {
    /// The task was cancelled (`asyncio.CancelledError`), with the message given
    /// to `cancel_with`, if any.
    Cancelled(Cancelled),
    /// The task's future panicked; the payload's message is kept.
    Panicked(PanicError),
    /// The work failed with an error (`Promise::set_exception`).
    Failed(Arc<dyn Error + Send + Sync + 'static>),
}

impl TaskError {
    /// Whether this is a cancellation.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, TaskError::Cancelled(_))
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }

    /// Whether the work failed with an error (neither cancelled nor panicked).
    pub fn is_failed(&self) -> bool {
        matches!(self, TaskError::Failed(_))
    }

    /// Whether this is a [`TimeoutError`]: a deadline passed (what `wait_for`
    /// and `as_completed` report).
    pub fn is_timeout(&self) -> bool {
        matches!(self, TaskError::Failed(e) if e.is::<TimeoutError>())
    }

    /// The cancellation, if this is one.
    pub fn as_cancelled(&self) -> Option<&Cancelled> {
        match self {
            TaskError::Cancelled(c) => Some(c),
            _ => None,
        }
    }

    /// Wraps an error as [`TaskError::Failed`].
    pub fn failed<E: Error + Send + Sync + 'static>(error: E) -> TaskError {
        TaskError::Failed(Arc::new(error))
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Cancelled(c) => c.fmt(f),
            TaskError::Panicked(p) => p.fmt(f),
            TaskError::Failed(e) => write!(f, "task failed: {e}"),
        }
    }
}

impl Error for TaskError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            TaskError::Cancelled(c) => Some(c),
            TaskError::Panicked(p) => Some(p),
            TaskError::Failed(e) => Some(&**e),
        }
    }
}

impl From<TimeoutError> for TaskError {
    /// A timeout as a [`TaskError::Failed`], so `is_timeout()` finds it.
    fn from(e: TimeoutError) -> TaskError {
        TaskError::failed(e)
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
    pub fn new() -> Cancelled {
        Cancelled { message: None }
    }

    /// A cancellation carrying `message` (asyncio's `cancel(msg)`).
    pub fn with_message(message: impl Into<Arc<str>>) -> Cancelled {
        Cancelled {
            message: Some(message.into()),
        }
    }

    pub(crate) fn from_message(message: Option<Arc<str>>) -> Cancelled {
        Cancelled { message }
    }

    /// The message given to `cancel_with`, if any.
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

/// A task's future panicked. Holds the panic message (the payload when it was a
/// `&str` or `String`).
///
/// ```
/// use weft_task::PanicError;
///
/// let p = PanicError::from_payload(Box::new("boom"));
/// assert_eq!(p.message(), "boom");
/// assert_eq!(p.to_string(), "task panicked: boom");
/// ```
#[derive(Clone, Debug)]
pub struct PanicError {
    message: Arc<str>,
}

impl PanicError {
    /// Builds the error from a `catch_unwind` payload.
    pub fn from_payload(payload: Box<dyn Any + Send>) -> PanicError {
        let message: Arc<str> = if let Some(s) = payload.downcast_ref::<&'static str>() {
            Arc::from(*s)
        } else if let Some(s) = payload.downcast_ref::<String>() {
            Arc::from(s.as_str())
        } else {
            Arc::from("non-string panic payload")
        };
        // The payload itself is dropped here; a panicking payload drop would
        // unwind through runtime code, so guard it.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload)));
        PanicError { message }
    }

    /// The panic message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PanicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task panicked: {}", self.message)
    }
}

impl Error for PanicError {}

/// asyncio's `InvalidStateError`: the operation does not fit the object's state
/// (a result asked of a pending task, a promise settled twice).
///
/// ```
/// use weft_task::Promise;
///
/// let p = Promise::<u8>::new();
/// let err = p.exception().unwrap_err();
/// assert_eq!(err.to_string(), "invalid state: result is not ready");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidStateError {
    reason: &'static str,
}

impl InvalidStateError {
    pub(crate) const PENDING: InvalidStateError = InvalidStateError {
        reason: "result is not ready",
    };
    pub(crate) const ALREADY_DONE: InvalidStateError = InvalidStateError {
        reason: "already done",
    };
    pub(crate) const TAKEN: InvalidStateError = InvalidStateError {
        reason: "result already taken",
    };

    /// An error with `reason` (a few lower-case words), for other crates'
    /// state machines (a timeout scope rescheduled after it expired).
    ///
    /// ```
    /// let e = weft_task::InvalidStateError::new("timeout not entered");
    /// assert_eq!(e.to_string(), "invalid state: timeout not entered");
    /// ```
    pub const fn new(reason: &'static str) -> InvalidStateError {
        InvalidStateError { reason }
    }

    /// Why the state was invalid, in a few words.
    pub fn reason(&self) -> &str {
        self.reason
    }

    /// Whether the object was still pending.
    pub fn is_pending(&self) -> bool {
        self.reason == Self::PENDING.reason
    }
}

impl fmt::Display for InvalidStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid state: {}", self.reason)
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
    pub fn new() -> TimeoutError {
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
