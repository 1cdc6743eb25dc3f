//! The one panic-catching runner: every place in weft that runs code it does
//! not own (a task's poll or drop, a done callback, a waker, a `call_soon`
//! callback, a blocking job) goes through [`catch_panic`] or
//! [`run_reporting`], so a panic there becomes a [`PanicError`] (the task's
//! error) or a report to the loop's exception handler (`exception.rs`),
//! never an unwind through runtime code.

use crate::error::PanicError;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::Waker;

/// Runs `f`, turning a panic into a [`PanicError`] that keeps the payload.
///
/// `f` is treated as unwind-safe: a caller whose state `f` could leave torn
/// by a panic must not use that state afterwards (weft drops a panicked task's
/// future and never polls it again).
///
/// ```
/// let err = weft_task::catch_panic(|| panic!("boom")).unwrap_err();
/// assert_eq!(err.message(), "boom");
/// assert_eq!(weft_task::catch_panic(|| 5).unwrap(), 5);
/// ```
#[inline]
pub fn catch_panic<R>(f: impl FnOnce() -> R) -> Result<R, PanicError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(PanicError::from_payload)
}

/// Runs `f`; a panic is reported to the exception handler of the loop
/// running on this thread (by default: logged through `tracing` at error
/// level), with the message "{what} panicked", and swallowed, so the caller
/// goes on.
///
/// ```
/// weft_task::run_reporting("an example callback", || panic!("ignored"));
/// ```
#[inline]
pub fn run_reporting(what: &'static str, f: impl FnOnce()) {
    if let Err(err) = catch_panic(f) {
        report(what, err);
    }
}

/// Wakes every waker of `wakers`; one that panics is reported through
/// `tracing` (as [`run_reporting`] does, `what` naming it) and the rest are
/// still woken. One unwind guard covers the whole batch, re-entered after a
/// panic for what is left, so a batch costs one guard, not one per waker.
///
/// ```
/// use std::sync::Arc;
/// use std::task::{Wake, Waker};
///
/// struct Nothing;
/// impl Wake for Nothing {
///     fn wake(self: Arc<Self>) {}
/// }
/// let wakers = vec![Waker::from(Arc::new(Nothing)), Waker::from(Arc::new(Nothing))];
/// weft_task::wake_all("an example waker", wakers);
/// ```
#[inline]
pub fn wake_all(what: &'static str, wakers: impl IntoIterator<Item = Waker>) {
    let mut rest = wakers.into_iter();
    while let Err(err) = catch_panic(|| rest.by_ref().for_each(Waker::wake)) {
        report(what, err);
    }
}

/// Reports a caught panic (`what` names what panicked) to the exception
/// handler (through the reporter `exception.rs` installs), which drops it. Out of line and cold, so the runners above stay small enough to inline into the
/// hot paths that call them (a task's free, its join waker's wake): the
/// happy path is then the bare call, as without the guard.
#[cold]
#[inline(never)]
fn report(what: &'static str, err: PanicError) {
    match REPORTER.get() {
        Some(reporter) => reporter(what, err),
        None => {
            tracing::error!(error = %err, "{what} panicked");
            discard(err);
        }
    }
}

/// Where [`report`] sends a caught panic: set by `exception.rs` when a loop
/// installs its exception hook (this layer cannot name the handler's types);
/// until then, a panic is logged here. A std `OnceLock`: set once per
/// process, it orders nothing else.
static REPORTER: std::sync::OnceLock<fn(&'static str, PanicError)> = std::sync::OnceLock::new();

/// Sends the panics caught from now on to `reporter` (once per process).
pub(crate) fn set_reporter(reporter: fn(&'static str, PanicError)) {
    let _ = REPORTER.set(reporter);
}

/// Drops a panic nobody will read, guarding against a payload whose own
/// destructor panics.
pub(crate) fn discard(err: PanicError) {
    let _ = catch_unwind(AssertUnwindSafe(move || drop(err)));
}
