//! The exception handler's side in the task core: [`ExceptionContext`] (what
//! asyncio passes its handler as a dict), [`default_exception_handler`], and
//! `report`, the one function every error nobody else will see goes through.
//!
//! # What is reported, from where
//!
//! | what (asyncio's message)                        | reported by                                  | to the handler of |
//! |-------------------------------------------------|----------------------------------------------|-------------------|
//! | a callback, done callback or waker that panicked | `panic.rs`'s runners (`run_reporting`, `wake_all`) | the loop running on this thread |
//! | "Task exception was never retrieved"           | `raw.rs`: the task completes with its handle gone, or the handle is dropped with the error unread | the task's own scheduler (its runtime) |
//! | "Future exception was never retrieved"         | `promise.rs`: the last handle of a failed promise nobody read is dropped | the loop the promise was made on |
//!
//! The loop implementation decides what "the handler" is through
//! [`CallSoon::call_exception_handler`] (weft-loop: the runtime's
//! `Builder::exception_handler`, else the default); with no loop at all, the
//! default handler logs. An error that was a cancellation is never
//! reported (asyncio's neither).

use crate::context::{self, CallSoon};
use crate::error::TaskError;
use crate::header::TaskRef;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What an exception handler receives (asyncio's `context` dict): a message,
/// and what is known of where the error came from.
///
/// ```
/// use weft::{ExceptionContext, TaskError};
///
/// let ctx = ExceptionContext::new("something broke").with_error(TaskError::failed(
///     std::io::Error::other("disk full"),
/// ));
/// assert_eq!(ctx.message, "something broke");
/// assert_eq!(
///     ctx.to_string(),
///     "something broke\nerror: task failed: disk full"
/// );
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ExceptionContext {
    /// What happened (asyncio's `message`), e.g. "Task exception was never
    /// retrieved".
    pub message: String,
    /// The error (asyncio's `exception`): a panic's payload is kept in
    /// [`TaskError::Panicked`].
    pub error: Option<TaskError>,
    /// The task concerned (asyncio's `task`).
    pub task: Option<TaskRef>,
    /// The promise concerned, by type (asyncio's `future`, which names the
    /// object; a promise's handles are typed, so this names its type).
    pub future: Option<&'static str>,
}

impl ExceptionContext {
    /// A context with only a message.
    pub fn new(message: impl Into<String>) -> ExceptionContext {
        ExceptionContext {
            message: message.into(),
            ..ExceptionContext::default()
        }
    }

    /// With the error set.
    pub fn with_error(mut self, error: TaskError) -> ExceptionContext {
        self.error = Some(error);
        self
    }

    /// With the task set.
    ///
    /// ```
    /// weft::run(async {
    ///     let t = weft::spawn(async {});
    ///     let ctx = weft::ExceptionContext::new("look").with_task(t.task_ref());
    ///     assert_eq!(ctx.task.as_ref().unwrap().id(), t.id());
    /// });
    /// ```
    pub fn with_task(mut self, task: TaskRef) -> ExceptionContext {
        self.task = Some(task);
        self
    }

    /// With the promise's type set.
    pub fn with_future(mut self, future: &'static str) -> ExceptionContext {
        self.future = Some(future);
        self
    }
}

impl fmt::Display for ExceptionContext {
    /// The message, then one `key: value` line per field set (the lines
    /// asyncio's default handler logs).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(e) = &self.error {
            write!(f, "\nerror: {e}")?;
        }
        if let Some(t) = &self.task {
            write!(f, "\ntask: {t:?} (spawned at {})", t.location())?;
        }
        if let Some(p) = &self.future {
            write!(f, "\nfuture: {p}")?;
        }
        Ok(())
    }
}

/// asyncio's `default_exception_handler`: logs the context through
/// `tracing`, at error level, the message as the event's message and the
/// other fields as its fields. What runs when no handler was set, and what
/// a handler may call to fall back on it.
///
/// ```
/// weft::default_exception_handler(&weft::ExceptionContext::new("logged, not raised"));
/// ```
pub fn default_exception_handler(context: &ExceptionContext) {
    tracing::error!(
        error = context.error.as_ref().map(tracing::field::display),
        task = context.task.as_ref().map(tracing::field::debug),
        location = context
            .task
            .as_ref()
            .map(|t| tracing::field::display(t.location())),
        future = context.future,
        "{}",
        context.message
    );
}

/// Hands `context` to the handler of `lp` if given, else of the loop
/// running on this thread, else to the default handler; the loop's own
/// handler catches a panic of the user's. Dropping the context afterwards
/// is guarded too (a panic payload whose destructor panics).
pub(crate) fn report(lp: Option<&dyn CallSoon>, context: ExceptionContext) {
    match lp {
        Some(lp) => lp.call_exception_handler(context),
        None => match context::current_loop() {
            Some(lp) => lp.call_exception_handler(context),
            None => {
                default_exception_handler(&context);
                discard_context(context);
            }
        },
    }
}

/// Drops a reported context, guarding against a panic payload whose own
/// destructor panics (for loop implementations, after their handler ran).
///
/// ```
/// weft_task::discard_context(weft::ExceptionContext::new("done with"));
/// ```
pub fn discard_context(context: ExceptionContext) {
    let _ = catch_unwind(AssertUnwindSafe(move || drop(context)));
}
