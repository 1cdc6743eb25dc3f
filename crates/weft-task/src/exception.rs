//! The exception handler's side in the task core: [`ExceptionContext`] (what
//! asyncio passes its handler as a dict), [`default_exception_handler`], the
//! [`CallExceptionHandler`] trait a loop implements, the hook that finds the
//! current loop's handler ([`set_exception_hook`]), and `report`, the one
//! function every error nobody else will see goes through.
//!
//! # What is reported, from where
//!
//! | what (asyncio's message)                        | reported by                                  | to the handler of |
//! |-------------------------------------------------|----------------------------------------------|-------------------|
//! | a callback, done callback or waker that panicked | `panic.rs`'s runners (`run_reporting`, `wake_all`), through the reporter this module installs there | the loop running on this thread |
//! | "Task exception was never retrieved"           | `raw.rs`: the task's handle is gone and its done callbacks ran, or the handle is dropped with the error unread | the task's own scheduler (its runtime) |
//! | "Future exception was never retrieved"         | `promise.rs`: the last handle of a failed promise nobody read is dropped | the loop running on the dropping thread |
//!
//! "The loop running on this thread" is what the hook installed by the loop
//! implementation returns (weft-loop: the runtime's `Builder::exception_handler`);
//! with none, [`default_exception_handler`] logs. A cancellation is never
//! reported (asyncio's neither).
//!
//! # Layers
//!
//! `panic.rs` sits below the task types this context names, so it cannot
//! call this module: [`set_exception_hook`] hands it a plain function
//! (`report_panic`) at the same time, and before any hook is set it logs
//! panics itself.

use crate::error::{PanicError, TaskError};
use crate::header::TaskRef;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

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
    ///
    /// ```
    /// let ctx = weft::ExceptionContext::new("something odd");
    /// assert_eq!(ctx.message, "something odd");
    /// assert!(ctx.error.is_none() && ctx.task.is_none());
    /// ```
    pub fn new(message: impl Into<String>) -> ExceptionContext {
        ExceptionContext {
            message: message.into(),
            ..ExceptionContext::default()
        }
    }

    /// With the error set.
    ///
    /// ```
    /// let ctx = weft::ExceptionContext::new("failed")
    ///     .with_error(weft::TaskError::failed(std::fmt::Error));
    /// assert!(ctx.error.unwrap().is_failed());
    /// ```
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
    ///
    /// ```
    /// let ctx = weft::ExceptionContext::new("Future exception was never retrieved")
    ///     .with_future("Promise<u32>");
    /// assert_eq!(ctx.future, Some("Promise<u32>"));
    /// ```
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

/// A loop's exception handler, as the task core reaches it: weft-loop
/// implements it for its schedulers (a task's errors go to its runtime's
/// handler) and returns one from the hook ([`set_exception_hook`]).
///
/// ```
/// use std::sync::Mutex;
/// use weft_task::{discard_context, CallExceptionHandler, ExceptionContext};
///
/// /// A handler that keeps the messages it is handed.
/// #[derive(Default)]
/// struct Collect(Mutex<Vec<String>>);
/// impl CallExceptionHandler for Collect {
///     fn call_exception_handler(&self, context: ExceptionContext) {
///         self.0.lock().unwrap().push(context.message.clone());
///         discard_context(context);
///     }
/// }
///
/// let handler = Collect::default();
/// handler.call_exception_handler(ExceptionContext::new("a callback panicked"));
/// assert_eq!(*handler.0.lock().unwrap(), ["a callback panicked"]);
///
/// /// Without an override, contexts go to the default handler (logged).
/// struct Logs;
/// impl CallExceptionHandler for Logs {}
/// Logs.call_exception_handler(ExceptionContext::new("logged"));
/// ```
pub trait CallExceptionHandler: Send + Sync {
    /// Hands `context` to the handler now, on this thread (asyncio's
    /// `loop.call_exception_handler`). The default is
    /// [`default_exception_handler`]. An implementation catches a panic of
    /// the user's handler, and drops the context through
    /// [`discard_context`].
    fn call_exception_handler(&self, context: ExceptionContext) {
        default_exception_handler(&context);
        discard_context(context);
    }
}

/// Asks the loop implementation for the exception handler of the loop
/// running on this thread, if any.
pub type ExceptionHook = fn() -> Option<Arc<dyn CallExceptionHandler>>;

/// The installed hook. A std `OnceLock`: set once per process, read only
/// when something is reported; it orders nothing else.
static HOOK: std::sync::OnceLock<ExceptionHook> = std::sync::OnceLock::new();

/// Installs `hook`, which finds the exception handler of the loop running
/// on this thread (for loop implementations: weft-loop installs its own the
/// first time a loop starts), and from then on sends the panics the panic
/// runners catch there too. One hook per process: a later call is ignored
/// and returns false.
///
/// ```
/// use std::sync::Arc;
/// use weft_task::CallExceptionHandler;
///
/// struct Logs;
/// impl CallExceptionHandler for Logs {}
/// fn here() -> Option<Arc<dyn CallExceptionHandler>> {
///     Some(Arc::new(Logs))
/// }
/// // weft's own loop has installed its hook already (or does now):
/// weft::run(async {});
/// assert!(!weft_task::set_exception_hook(here));
/// ```
pub fn set_exception_hook(hook: ExceptionHook) -> bool {
    let installed = HOOK.set(hook).is_ok();
    if installed {
        crate::panic::set_reporter(report_panic);
    }
    installed
}

/// Hands `context` to `handler` if given, else to the handler of the loop
/// running on this thread, else to the default handler.
pub(crate) fn report(handler: Option<&dyn CallExceptionHandler>, context: ExceptionContext) {
    if let Some(h) = handler {
        return h.call_exception_handler(context);
    }
    match HOOK.get().and_then(|hook| hook()) {
        Some(h) => h.call_exception_handler(context),
        None => {
            default_exception_handler(&context);
            discard_context(context);
        }
    }
}

/// `panic.rs`'s reporter: a caught panic as a context ("{what} panicked").
fn report_panic(what: &'static str, error: PanicError) {
    let context =
        ExceptionContext::new(format!("{what} panicked")).with_error(TaskError::Panicked(error));
    report(None, context);
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
