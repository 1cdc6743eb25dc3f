//! One `tracing` span per task, entered around each of its polls (and around
//! the drop that delivers its cancellation), so the events a task's code
//! emits carry the task.
//!
//! # The span
//!
//! Target `weft::task`, level `TRACE`, name `task`, no parent (a task
//! outlives the code that spawned it; tokio's `runtime.spawn` span makes the
//! same choices), with the fields:
//!
//! | field       | value |
//! |-------------|-------|
//! | `task.id`   | [`TaskId::as_u64`] |
//! | `task.name` | empty at spawn (the default name is `Task-{id}`, already in `task.id`); recorded by [`TaskRef::set_name`](crate::TaskRef::set_name) |
//! | `loc.file`, `loc.line`, `loc.col` | the spawn site |
//!
//! A subscriber shows it once it enables `TRACE` for `weft::task` (with
//! tracing-subscriber's `EnvFilter`: `info,weft::task=trace`). The span is
//! made with the subscriber current on the spawning thread; an event inside
//! the task goes to the subscriber current on the thread polling it, so the
//! two should be the same one (a global default, or the same one installed
//! on every worker by `Builder::on_thread_start`).
//!
//! # What it costs
//!
//! Whether a task has a span is decided once, at spawn: with no subscriber,
//! or one that does not enable `TRACE` there, [`cold_for`] costs one atomic
//! load and a comparison (tracing's global level filter) and the task gets
//! none. A task with a span gets the *traced* vtable (`raw.rs`), whose `run`
//! and `shutdown` are [`run_in_span`] and [`shutdown_in_span`] around the
//! plain ones; a task without one runs the plain vtable and pays nothing per
//! poll, not even a branch. The span lives in the header's `Cold` (which a
//! traced task gets at spawn) until the task completes: then it is taken
//! out, so the subscriber sees it close when the task ends.

use crate::header::{Cold, Header, RawTask};
use crate::id::TaskId;
use std::panic::Location;
use std::ptr::NonNull;
use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};
use tracing::{Level, Span};

/// The task span's level.
const LEVEL: Level = Level::TRACE;

/// The cold data a task being spawned (`id`, at `location`) starts with:
/// `Some`, holding its span, if the subscriber current on this thread wants
/// one. Inlined into the spawn path, where the common case (no subscriber,
/// or none enabling `TRACE`) is the level test alone: one atomic load and a
/// comparison.
#[inline]
pub(crate) fn cold_for(id: TaskId, location: &'static Location<'static>) -> Option<Box<Cold>> {
    if LEVEL > STATIC_MAX_LEVEL || LEVEL > LevelFilter::current() {
        return None;
    }
    cold_with_span(id, location)
}

/// The cold data of a task being spawned (`id`, at `location`) holding its
/// span, if the subscriber current on this thread enables it (the
/// callsite's interest and the subscriber's `enabled` decide); else `None`.
/// Out of line: only reached past [`cold_for`]'s level test.
#[cold]
#[inline(never)]
fn cold_with_span(id: TaskId, location: &'static Location<'static>) -> Option<Box<Cold>> {
    let span = tracing::span!(
        target: "weft::task",
        parent: None,
        LEVEL,
        "task",
        task.id = id.as_u64(),
        task.name = tracing::field::Empty,
        loc.file = location.file(),
        loc.line = location.line(),
        loc.col = location.column(),
    );
    if span.is_disabled() {
        return None;
    }
    Some(Box::new(Cold {
        span: Some(span),
        ..Cold::default()
    }))
}

/// The task's span while it is not done, else `None`.
pub(crate) fn span_of(header: &Header) -> Option<Span> {
    header.peek_cold(|c| c.and_then(|c| c.span.clone()))
}

/// Records a new name on the task's span, if it has one.
pub(crate) fn record_name(span: Option<Span>, name: &str) {
    if let Some(span) = span {
        span.record("task.name", name);
    }
}

/// A traced task's `run`: the plain `run` (the task's own `raw::run`) inside
/// the task's span. Out of line and not generic, so the plain `run` is not
/// copied into it.
///
/// # Safety
///
/// As `run`: `ptr` is a live task of that type and the caller owns a
/// `Runnable` reference (with `NOTIFIED` set), which `run` consumes.
#[inline(never)]
pub(crate) unsafe fn run_in_span(ptr: NonNull<Header>, run: unsafe fn(NonNull<Header>)) {
    let raw = RawTask::from_header(ptr);
    let Some(span) = span_of(raw.header()) else {
        // Done already (shut down while queued): `run` only releases the
        // reference.
        // SAFETY: the caller's promise, passed on.
        return unsafe { run(ptr) };
    };
    // A reference of our own: `run` may release the last one, and the span
    // is taken out of the header afterwards.
    raw.ref_inc();
    {
        let _entered = span.enter();
        // SAFETY: the caller's promise, passed on.
        unsafe { run(ptr) };
    }
    close_if_complete(raw.header());
    raw.ref_dec();
}

/// A traced task's `shutdown`: the plain one inside the task's span.
///
/// # Safety
///
/// As `shutdown`: the caller set `RUNNING` with `to_running_for_shutdown`
/// and holds a reference (so the task outlives the call).
#[inline(never)]
pub(crate) unsafe fn shutdown_in_span(ptr: NonNull<Header>, shutdown: unsafe fn(NonNull<Header>)) {
    // SAFETY: the caller holds a reference.
    let header = unsafe { ptr.as_ref() };
    {
        let span = span_of(header);
        let _entered = span.as_ref().map(Span::enter);
        // SAFETY: the caller's promise, passed on.
        unsafe { shutdown(ptr) };
    }
    close_if_complete(header);
}

/// Takes the span out of a task that has completed (once nobody else holds
/// a clone, the subscriber sees it close).
fn close_if_complete(header: &Header) {
    if header.state.load().is_complete() {
        let span = header.with_cold(|c| c.span.take());
        // Dropped outside the cold lock: closing calls the subscriber.
        drop(span);
    }
}
