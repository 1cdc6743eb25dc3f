//! Timing the loops' steps, for slow-poll warnings (`Builder::slow_poll_threshold`,
//! asyncio's debug-mode `slow_callback_duration`) and for the poll-time
//! histogram (`Builder::enable_poll_time_histogram`, `metrics.rs`): every
//! place a loop runs a task step, a callback or `block_on`'s own future goes
//! through [`run_counted`] (a worker's task step, also counted in its
//! metrics), [`run_task`], [`run_callback`] or [`start`] and [`finish`],
//! which read the clock only when one of the options is set; one reading
//! serves both. A step that took at least the threshold is logged through `tracing`
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
//! Off (the default, or a zero threshold), no clock is read: a worker's step
//! pays no test at all (the worker chose its plain loop at start,
//! `run_counted::<false>`), a step from a ready
//! queue (callbacks, pinned tasks) and a `block_on` turn one test of the
//! runtime's configuration. The histogram counts a worker's task steps only
//! (its buckets are per worker). What is run must inline as it would without
//! the timing: a second call site of `block_on`'s poll, or one more closure
//! around it, kept the future's code (and the spawns in it) from being
//! inlined, which cost 1.5 to 2.7% on the spawn bench (`docs/benchmarks.md`).

use crate::metrics::{StepTiming, WorkerStats};
use crate::state::Shared;
use std::time::{Duration, Instant};
use weft_task::{Runnable, TaskRef};

/// Worker number `worker` runs one step of `task`: marked as the worker
/// that last ran it (for dumps), counted in its `stats`, and, if `TIMED`
/// (which must be `timing.is_on()`), timed as `timing` asks (a slow step
/// warned about, its time put in the histogram). A worker's loop passes
/// `TIMED` as a constant (`worker.rs`), so a plain step tests nothing.
#[inline]
pub(crate) fn run_counted<const TIMED: bool>(
    worker: u32,
    stats: &WorkerStats,
    timing: &StepTiming,
    task: Runnable,
) {
    task.set_worker(worker);
    stats.count_step();
    if TIMED {
        run_counted_timed(stats, timing, task);
    } else {
        task.run();
    }
}

/// [`run_counted`] with timing on: out of line, so the plain path stays as
/// small as it was.
#[inline(never)]
fn run_counted_timed(stats: &WorkerStats, timing: &StepTiming, task: Runnable) {
    let took = run_task_timed(task, timing.slow_poll);
    if timing.histogram {
        stats.record_poll_time(took);
    }
}

/// Runs one step of `task` (a poll, or the drop that delivers its
/// cancellation), timing it if `shared`'s runtime asks for slow-poll
/// warnings.
#[inline]
pub(crate) fn run_task(shared: &Shared, task: Runnable) {
    match shared.config.slow_poll {
        None => task.run(),
        Some(threshold) => {
            run_task_timed(task, Some(threshold));
        }
    }
}

/// Runs a loop callback (`call_soon`, `call_later`, a done callback), as
/// [`run_task`] runs a task step.
#[inline]
pub(crate) fn run_callback(shared: &Shared, f: impl FnOnce()) {
    let started = start(shared);
    f();
    finish(started, "<callback>");
}

/// A timed step under way: its threshold and when it started.
pub(crate) struct Started {
    threshold: Duration,
    at: Instant,
}

/// Starts timing a step if `shared`'s runtime asks for slow-poll warnings
/// (only then is the clock read); [`finish`] ends it. For `block_on`'s turns,
/// which time the future's poll around it rather than through a closure: a
/// poll wrapped in one more closure was no longer inlined into `block_on`,
/// nor what it calls (the spawn bench's spawns: +1.5%).
#[inline]
pub(crate) fn start(shared: &Shared) -> Option<Started> {
    shared.config.slow_poll.map(|threshold| Started {
        threshold,
        at: Instant::now(),
    })
}

/// Ends a step [`start`] timed: warns if it (`what`) took the threshold or
/// longer.
#[inline]
pub(crate) fn finish(started: Option<Started>, what: &str) {
    if let Some(started) = started {
        started.check(what);
    }
}

impl Started {
    #[inline(never)]
    fn check(self, what: &str) {
        let took = self.at.elapsed();
        if took >= self.threshold {
            warn_other(what, took);
        }
    }
}

/// Runs `task`'s step, timed: warns if it took `threshold` or longer (when
/// there is one); returns how long it took.
#[inline(never)]
pub(crate) fn run_task_timed(task: Runnable, threshold: Option<Duration>) -> Duration {
    // A handle of our own: the step may end the task and free it.
    let task_ref = task.task_ref();
    let at = Instant::now();
    task.run();
    let took = at.elapsed();
    // The total a task dump shows (`TaskInfo::poll_time`).
    task_ref.add_poll_time(took);
    if threshold.is_some_and(|threshold| took >= threshold) {
        warn_task(&task_ref, took);
    }
    took
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
