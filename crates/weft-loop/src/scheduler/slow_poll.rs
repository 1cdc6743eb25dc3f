//! Slow-poll warnings (`Builder::slow_poll_threshold`, asyncio's debug-mode
//! `slow_callback_duration`): every place a loop runs a task step, a
//! callback or `block_on`'s own future goes through [`run_task`],
//! [`run_callback`] or [`run_main`], which time it only when the option is
//! set. A step that took at least the threshold is logged through `tracing`
//! at `WARN`, target `weft::slow_poll`, in asyncio's words:
//!
//! ```text
//! Executing <Task pending name='Task-7' coro=<handler() running at src/main.rs:40>> took 0.123 seconds
//! Executing <callback> took 0.051 seconds
//! Executing <block_on future> took 0.200 seconds
//! ```
//!
//! The task's part is its repr (weft-task's `repr.rs`, after the step: a task
//! that ended in it shows `finished`); the event's fields repeat it as data:
//! `task.id`, `task.name`, `task.location` (the spawn site) and `elapsed`.
//!
//! Off (the default, or a zero threshold), each step costs one test of the
//! runtime's configuration, and no clock is read.

use crate::state::Shared;
use std::time::{Duration, Instant};
use weft_task::{Runnable, TaskRef};

/// Runs one step of `task` (a poll, or the drop that delivers its
/// cancellation), timing it if `shared`'s runtime asks for slow-poll
/// warnings.
#[inline]
pub(crate) fn run_task(shared: &Shared, task: Runnable) {
    match shared.config.slow_poll {
        None => task.run(),
        Some(threshold) => run_task_timed(task, threshold),
    }
}

/// Runs a loop callback (`call_soon`, `call_later`, a done callback), as
/// [`run_task`] runs a task step.
#[inline]
pub(crate) fn run_callback(shared: &Shared, f: impl FnOnce()) {
    match shared.config.slow_poll {
        None => f(),
        Some(threshold) => {
            if let Some(took) = timed(threshold, f) {
                warn_other("<callback>", took);
            }
        }
    }
}

/// Runs one turn of `block_on`'s own future, as [`run_task`] runs a task step.
#[inline]
pub(crate) fn run_main<R>(shared: &Shared, poll: impl FnOnce() -> R) -> R {
    match shared.config.slow_poll {
        None => poll(),
        Some(threshold) => {
            let start = Instant::now();
            let out = poll();
            let took = start.elapsed();
            if took >= threshold {
                warn_other("<block_on future>", took);
            }
            out
        }
    }
}

#[inline(never)]
fn run_task_timed(task: Runnable, threshold: Duration) {
    // A handle of our own: the step may end the task and free it.
    let task_ref = task.task_ref();
    if let Some(took) = timed(threshold, || task.run()) {
        warn_task(&task_ref, took);
    }
}

/// Runs `f`; how long it took if that was at least `threshold`.
fn timed(threshold: Duration, f: impl FnOnce()) -> Option<Duration> {
    let start = Instant::now();
    f();
    let took = start.elapsed();
    (took >= threshold).then_some(took)
}

#[cold]
#[inline(never)]
fn warn_task(task: &TaskRef, took: Duration) {
    let (id, name, location) = (task.id().as_u64(), task.name(), task.location());
    tracing::warn!(
        target: "weft::slow_poll",
        elapsed = ?took,
        task.id = id,
        task.name = %name,
        task.location = %location,
        "Executing {} took {:.3} seconds",
        task,
        took.as_secs_f64(),
    );
}

#[cold]
#[inline(never)]
fn warn_other(what: &str, took: Duration) {
    tracing::warn!(
        target: "weft::slow_poll",
        elapsed = ?took,
        "Executing {} took {:.3} seconds",
        what,
        took.as_secs_f64(),
    );
}
