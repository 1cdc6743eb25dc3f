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
//! Off (the default, or a zero threshold), no clock is read. A worker
//! chooses its timed or plain loop once, at start (`worker.rs`), so its task
//! steps pay nothing for the option; a step from a ready queue (callbacks,
//! pinned tasks) and a `block_on` turn pay one test of the runtime's
//! configuration. Each runner has one call site of what it runs, so what is
//! run inlines as it would without the timing (a second call site of
//! `block_on`'s poll once kept the future's code from being inlined, which
//! cost 2.7% on the spawn bench: `docs/benchmarks.md`).

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
    let started = start(shared);
    f();
    if let Some(started) = started {
        started.check("<callback>");
    }
}

/// Runs one turn of `block_on`'s own future, as [`run_task`] runs a task
/// step. `poll` has one call site here (whatever the option), so the
/// future's poll inlines into `block_on` as it would without the timing.
#[inline]
pub(crate) fn run_main<R>(shared: &Shared, poll: impl FnOnce() -> R) -> R {
    let started = start(shared);
    let out = poll();
    if let Some(started) = started {
        started.check("<block_on future>");
    }
    out
}

/// A timed step under way: its threshold and when it started.
struct Started {
    threshold: Duration,
    at: Instant,
}

/// Reads the clock if `shared`'s runtime asks for slow-poll warnings.
#[inline]
fn start(shared: &Shared) -> Option<Started> {
    shared.config.slow_poll.map(|threshold| Started {
        threshold,
        at: Instant::now(),
    })
}

impl Started {
    /// Warns if the step, `what`, took the threshold or longer.
    #[inline(never)]
    fn check(self, what: &str) {
        let took = self.at.elapsed();
        if took >= self.threshold {
            warn_other(what, took);
        }
    }
}

/// [`run_task`] with the option set (a worker decides once, and calls this
/// directly).
#[inline(never)]
pub(crate) fn run_task_timed(task: Runnable, threshold: Duration) {
    // A handle of our own: the step may end the task and free it.
    let task_ref = task.task_ref();
    let at = Instant::now();
    task.run();
    let took = at.elapsed();
    // The total a task dump shows (`TaskInfo::poll_time`).
    task_ref.add_poll_time(took);
    if took >= threshold {
        warn_task(&task_ref, took);
    }
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
