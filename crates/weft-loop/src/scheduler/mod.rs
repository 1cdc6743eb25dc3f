//! The scheduler: where a task goes when it is spawned or woken, and where a
//! callback goes when it is queued. Every such decision is made in this file;
//! what a loop then runs next is its driver's (`worker.rs` for a worker's
//! tick, `block_on.rs` for `block_on`), and the ready queue and inbox are
//! `local.rs`'s.
//!
//! # Where work goes
//!
//! "Its runtime's loop" below means this thread's current loop
//! (`context.rs`) belongs to the task's runtime.
//!
//! | what                              | pushed or woken on                         | goes to |
//! |-----------------------------------|--------------------------------------------|---------|
//! | stealable task (spawn or wake)    | a worker of its runtime with siblings, its deque empty | the worker's LIFO slot; a task it displaces goes to the back of the deque |
//! | stealable task (spawn or wake)    | a lone worker, nothing queued on it (slot, deque and ready queue empty) | the worker's slot, the front of its FIFO |
//! | stealable task (spawn or wake)    | a worker of its runtime, something queued on it | the back of the worker's deque (a woken joiner runs after the batch) |
//! | stealable task, waking itself     | a worker of its runtime (`yield_now`)      | the back of the worker's deque |
//! | stealable task                    | anywhere else (`block_on`, another runtime, a plain thread) | the injector |
//! | eager spawn (`spawn_eager`, `Builder::eager_tasks`) | a loop of its runtime (worker or `block_on`) | nowhere: its first step runs inside the spawn call (`schedule_spawned`, `start_eager`); if it suspends, its wake-ups follow the rows above |
//! | eager spawn                       | anywhere else                              | as a plain spawn |
//! | pinned task (`spawn_local`)       | its loop's thread                          | that loop's ready queue |
//! | pinned task                       | any other thread                           | its loop's inbox, then that loop's parker is unparked |
//! | `call_soon` callback              | a loop of its runtime                      | that loop's ready queue |
//! | `call_soon` callback              | any other thread                           | a worker's inbox, round-robin |
//! | a promise's done callback         | the loop the promise was made on           | that loop's ready queue (its inbox from elsewhere); if that loop has ended, a worker's; after shutdown, from another thread, dropped |
//!
//! A loop runs its ready queue and its deque as one FIFO, in the order the
//! work was pushed (`local.rs`), as asyncio's loop runs its one queue of
//! callbacks and task steps. Two things reorder it, both only with sibling
//! workers: the LIFO slot (a task woken while the worker's deque is empty
//! runs next, ahead of the callbacks and pinned steps queued on that worker
//! and of a task woken before it in the same step), and
//! stealing (a sibling runs tasks from the front of the deque, in parallel).
//! A lone worker fills its slot only when nothing else is queued on it and
//! always runs the slot first, so there the slot is the front of the FIFO
//! (the cheapest place for a chain of hand-offs, one runnable task at a
//! time): `Builder::workers(1)` and `block_on` run exactly FIFO.
//!
//! Stealable work pushed to a worker's own queues wakes a sibling to steal
//! (`notify_one`, skipped when the runtime has one worker: that worker is
//! this one, awake); work pushed to the injector always does. `park.rs`
//! explains why that loses no wake-up. Work injected after shutdown is
//! cancelled at once (`Shared::inject`).

mod block_on;
mod local;
mod step_timing;
mod worker;

pub(crate) use block_on::{block_on, BlockOn};
pub(crate) use local::{spawn_pinned, PinTo};
pub(crate) use worker::run_worker;

use crate::context::{with_current, Loop};
use crate::state::{Callback, LoopRemote, Msg, Shared};
use std::sync::Arc;
use weft_task::context::CallSoon;
use weft_task::{CallExceptionHandler, ExceptionContext, Runnable, Schedule, TaskRegistry};

impl Loop {
    /// A stealable task woken on this thread (rows 1 and 2). A `block_on`
    /// loop cannot run stealable tasks, so it gives the task back.
    pub(crate) fn push_woken(&self, task: Runnable) -> Option<Runnable> {
        let Some(w) = self.worker() else {
            return Some(task);
        };
        if !w.queue.is_empty() {
            return self.push_yielded(task);
        }
        let slot = &self.shared.remotes[w.index].lifo;
        if !w.lifo {
            // A lone worker: the slot is the front of its FIFO, so a task
            // goes there only if nothing at all is queued.
            if !slot.is_empty() || !self.local.borrow().ready.is_empty() {
                return self.push_yielded(task);
            }
            let displaced = slot.push(task);
            debug_assert!(displaced.is_none(), "only this worker fills its slot");
            return None;
        }
        if let Some(displaced) = slot.push(task) {
            w.push(displaced);
        }
        // Even for an empty slot: if this step blocks its thread, the sibling
        // woken here steals the slot on its second pass, where tokio's slot
        // waits behind the blocked step (tokio#4941, `tests/loop_stranding.rs`;
        // skipping it is in docs/benchmarks.md's "Tried and dropped").
        self.notify_siblings();
        None
    }

    /// A task that woke itself (row 3): the back of the deque. A `block_on`
    /// loop gives it back, as in `push_woken`.
    pub(crate) fn push_yielded(&self, task: Runnable) -> Option<Runnable> {
        let Some(w) = self.worker() else {
            return Some(task);
        };
        w.push(task);
        self.notify_siblings();
        None
    }

    /// After a push to this worker's own queues: wakes a sibling to steal. A
    /// runtime with one worker has no sibling, and its only worker is this one,
    /// awake, so it skips the fence `notify_one` costs.
    fn notify_siblings(&self) {
        if self.shared.remotes.len() > 1 {
            self.shared.notify_one();
        }
    }
}

/// On a loop of `shared`'s runtime, offers `item` to `local` there (which may
/// give it back: a `block_on` loop cannot run stealable tasks); elsewhere, or
/// if refused, gives it back for the cross-thread path.
fn on_own_loop<T>(
    shared: &Shared,
    item: T,
    local: impl FnOnce(&Loop, T) -> Option<T>,
) -> Option<T> {
    with_current(|lp| match lp {
        Some(lp) if lp.shared().same(shared) => local(lp, item),
        _ => Some(item),
    })
}

/// On `remote`'s own thread, hands `item` to `local` there; elsewhere gives
/// it back for the cross-thread path.
pub(crate) fn on_own_thread<T>(
    remote: &LoopRemote,
    item: T,
    local: impl FnOnce(&Loop, T),
) -> Option<T> {
    with_current(|lp| match lp {
        Some(lp) if lp.key() == remote.key => {
            local(lp, item);
            None
        }
        _ => Some(item),
    })
}

/// A stealable task of `shared`'s runtime, just spawned: started eagerly
/// (`start_eager`) if `eager` (`spawn_eager`) or the runtime says so
/// (`Builder::eager_tasks`), else queued as a wake-up would be. Inlined into
/// the generic spawn path, it adds one load and branch there; `schedule` and
/// `start_eager` stay out of line (callgrind, `spawn_loop`: +0.4% instructions
/// for `join`, `chain` and `detach` against the tree without eager tasks).
#[inline]
pub(crate) fn schedule_spawned(shared: &Shared, task: Runnable, eager: bool) {
    if eager || shared.config.eager_tasks {
        start_eager(shared, task);
    } else {
        schedule(shared, task);
    }
}

/// Queues a stealable task of `shared`'s runtime (a spawn or a wake-up).
pub(crate) fn schedule(shared: &Shared, task: Runnable) {
    if let Some(task) = on_own_loop(shared, task, Loop::push_woken) {
        shared.inject(task);
    }
}

/// Starts a new stealable task of `shared`'s runtime eagerly (`spawn_eager`,
/// `Builder::eager_tasks`): on a loop of its runtime (a worker, or the thread
/// inside `block_on`) its first step runs here, now, inside the spawn call,
/// with the task as the current task; if it suspends, its wake-ups route as
/// any task's do. Anywhere else (a plain thread, another runtime's loop) there
/// is no running loop of the runtime to run it on, so it is scheduled as usual.
///
/// On a `block_on` loop this is the one place a stealable task is polled. A
/// shutdown from another thread may then scan the registry while the step
/// runs, see the task running, and leave it (`to_running_for_shutdown`
/// refuses a running task): so if the step suspends and the registry is
/// closed by now, the task is cancelled here, and, the runtime being closed,
/// that cancels it at once (`Shared::inject`). The check needs no new
/// ordering: `TaskRegistry::close` takes every shard's lock, shard 0's
/// included, before the scan, and `is_closed` takes shard 0's after the step.
/// If the check's lock comes first, the step's end happens before the close
/// and so before the scan, which finds the task idle and shuts it down
/// itself; if it comes second, the check sees the registry closed.
fn start_eager(shared: &Shared, task: Runnable) {
    let here = with_current(|lp| match lp {
        Some(lp) if lp.shared().same(shared) => Some(lp.worker().map(|w| w.index)),
        _ => None,
    });
    match here {
        None => schedule(shared, task),
        // A worker's step: counted in its metrics as the steps its loop runs.
        Some(Some(index)) => {
            let stats = &shared.remotes[index].stats;
            let timing = shared.config.step_timing();
            if timing.is_on() {
                step_timing::run_counted::<true>(index as u32, stats, &timing, task);
            } else {
                step_timing::run_counted::<false>(index as u32, stats, &timing, task);
            }
        }
        Some(None) => {
            let task_ref = task.task_ref();
            step_timing::run_task(shared, task);
            if !task_ref.done() && shared.registry.is_closed() {
                task_ref.cancel_with("runtime is shut down");
            }
        }
    }
}

/// Queues a `call_soon` callback: on this thread's loop if it belongs to the
/// runtime, else through a worker's inbox.
pub(crate) fn call_soon(shared: &Shared, f: Callback) {
    let local = |lp: &Loop, f: Callback| {
        lp.push_callback(f);
        None
    };
    if let Some(f) = on_own_loop(shared, f, local) {
        shared.call_soon_remote(f);
    }
}

/// Gives a callback to its loop: on the loop's own thread behind whatever
/// its inbox already holds (so order across threads is kept), else through
/// the inbox. A loop that has ended drops it.
pub(crate) fn hand_over(remote: &LoopRemote, f: Callback) {
    if let Some(f) = on_own_thread(remote, f, |lp, f| {
        lp.drain_inbox();
        lp.push_callback(f);
    }) {
        remote.send(Msg::Call(f));
    }
}

/// Schedules tasks that any worker may run.
pub(crate) struct Scheduler {
    pub(crate) shared: Arc<Shared>,
}

// SAFETY: `registry` always returns the one registry of `self.shared`.
unsafe impl Schedule for Scheduler {
    fn schedule(&self, task: Runnable) {
        schedule(&self.shared, task);
    }

    fn yield_now(&self, task: Runnable) {
        if let Some(task) = on_own_loop(&self.shared, task, Loop::push_yielded) {
            self.shared.inject(task);
        }
    }

    fn registry(&self) -> &TaskRegistry {
        &self.shared.registry
    }
}

impl CallExceptionHandler for Scheduler {
    fn call_exception_handler(&self, context: ExceptionContext) {
        self.shared.call_exception_handler(context);
    }
}

impl CallSoon for Scheduler {
    fn call_soon(&self, f: Callback) {
        call_soon(&self.shared, f);
    }
}

/// Schedules tasks pinned to one loop (`spawn_local`).
pub(crate) struct LocalScheduler {
    pub(crate) shared: Arc<Shared>,
    pub(crate) owner: Arc<LoopRemote>,
}

// SAFETY: `registry` always returns the one registry of `self.shared`.
unsafe impl Schedule for LocalScheduler {
    fn schedule(&self, task: Runnable) {
        if let Some(task) = on_own_thread(&self.owner, task, Loop::push_pinned) {
            self.owner.send(Msg::Task(task));
        }
    }

    fn registry(&self) -> &TaskRegistry {
        &self.shared.registry
    }

    fn local_owner(&self) -> usize {
        self.owner.key
    }
}

impl CallExceptionHandler for LocalScheduler {
    fn call_exception_handler(&self, context: ExceptionContext) {
        self.shared.call_exception_handler(context);
    }
}

impl CallSoon for LocalScheduler {
    fn call_soon(&self, f: Callback) {
        call_soon(&self.shared, f);
    }
}

/// What a [`Promise`](weft_task::Promise) made on a loop uses for its callbacks.
pub(crate) struct LoopCallSoon {
    pub(crate) shared: Arc<Shared>,
    pub(crate) owner: Arc<LoopRemote>,
}

impl CallSoon for LoopCallSoon {
    fn call_soon(&self, f: Callback) {
        let f = on_own_thread(&self.owner, f, |lp, f| lp.push_callback(f));
        if let Some(f) = f {
            if self.shared.is_closed() {
                return;
            }
            // The loop the promise was made on may have ended (a finished
            // `block_on`): then any worker runs the callbacks.
            if let Err(Msg::Call(f)) = self.owner.try_send(Msg::Call(f)) {
                self.shared.call_soon_remote(f);
            }
        }
    }
}

/// A new loop's record for `shared`'s runtime, with the remote side `remote`
/// and inbox `inbox`.
pub(crate) fn new_loop(
    shared: Arc<Shared>,
    remote: Arc<LoopRemote>,
    inbox: crossbeam_channel::Receiver<Msg>,
    kind: crate::context::Kind,
) -> Loop {
    let call_soon = Arc::new(LoopCallSoon {
        shared: shared.clone(),
        owner: remote.clone(),
    });
    Loop::new(shared, remote, inbox, kind, call_soon)
}
