//! The runtime events of a task's life that weft reports through `tracing`:
//! a task spawned, a task ended with its outcome. Target `weft::runtime`,
//! level TRACE, as the workers' park, unpark and steal events (weft-loop's
//! `scheduler/worker.rs`), so `weft::runtime=trace` turns them all on.
//!
//! Spawn and end happen once per task, on the spawn and completion paths:
//! each is an inlined level check (`tracing::level_enabled!`: one `Relaxed`
//! load of tracing's global max level, which is `OFF` while no subscriber
//! wants TRACE), then, only if that passes, a call to the out-of-line
//! function that builds the event (and checks the callsite's interest).
//! What the event reports (the task's id, spawn site, outcome) is read only
//! once the level test passed: the callers pass closures that read it, so a
//! spawn or an end without a subscriber loads nothing for it.

use crate::error::TaskError;
use crate::id::TaskId;
use std::panic::Location;

/// A task was spawned (registered; its first step not yet run): `task`
/// gives its id and spawn site.
#[inline(always)]
pub(crate) fn spawned(task: impl FnOnce() -> (TaskId, &'static Location<'static>)) {
    if tracing::level_enabled!(tracing::Level::TRACE) {
        let (id, location) = task();
        emit_spawned(id, location);
    }
}

#[cold]
#[inline(never)]
fn emit_spawned(id: TaskId, location: &'static Location<'static>) {
    tracing::event!(
        target: "weft::runtime",
        tracing::Level::TRACE,
        task.id = id.as_u64(),
        location = %location,
        "task spawned"
    );
}

/// A task ended with `output` (a value, or the error it ended with): `id`
/// gives its id.
#[inline(always)]
pub(crate) fn ended<T>(id: impl FnOnce() -> TaskId, output: &Result<T, TaskError>) {
    if tracing::level_enabled!(tracing::Level::TRACE) {
        emit_ended(id(), output.as_ref().err());
    }
}

#[cold]
#[inline(never)]
fn emit_ended(id: TaskId, error: Option<&TaskError>) {
    let outcome = match error {
        None => "value",
        Some(TaskError::Cancelled(_)) => "cancelled",
        Some(_) => "failed",
    };
    tracing::event!(
        target: "weft::runtime",
        tracing::Level::TRACE,
        task.id = id.as_u64(),
        outcome,
        error = error.map(tracing::field::display),
        "task ended"
    );
}
