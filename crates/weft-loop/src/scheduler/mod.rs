//! The scheduler: where a task goes when it is spawned or woken, and where a
//! callback goes when it is queued. Every such decision is made in this file;
//! what a loop then runs next is its driver's (`worker.rs` for a worker's
//! tick, `block_on.rs` for `block_on`), and the pinned queue and inbox are
//! `local.rs`'s.
//!
//! # Where work goes
//!
//! "Its runtime's loop" below means this thread's current loop
//! (`context.rs`) belongs to the task's runtime.
//!
//! | what                              | pushed or woken on                         | goes to |
//! |-----------------------------------|--------------------------------------------|---------|
//! | stealable task (spawn or wake)    | a worker of its runtime, deque empty       | the worker's LIFO slot; a task it displaces goes to the back of the deque |
//! | stealable task (spawn or wake)    | a worker of its runtime, deque not empty   | the back of the worker's deque (a woken joiner runs after the batch) |
//! | stealable task, waking itself     | a worker of its runtime (`yield_now`)      | the back of the worker's deque |
//! | stealable task                    | anywhere else (`block_on`, another runtime, a plain thread) | the injector |
//! | pinned task (`spawn_local`)       | its loop's thread                          | that loop's pinned queue |
//! | pinned task                       | any other thread                           | its loop's inbox, then that loop's parker is unparked |
//! | `call_soon` callback              | a loop of its runtime                      | that loop's callback queue |
//! | `call_soon` callback              | any other thread                           | a worker's inbox, round-robin |
//! | a promise's done callback         | the loop the promise was made on           | that loop's callback queue (its inbox from elsewhere); if that loop has ended, a worker's; after shutdown, from another thread, dropped |
//!
//! Stealable work pushed to a worker's own queues wakes a sibling to steal
//! (`notify_one`, skipped when the runtime has one worker: that worker is
//! this one, awake); work pushed to the injector always does. `park.rs`
//! explains why that loses no wake-up. Work injected after shutdown is
//! cancelled at once (`Shared::inject`).

mod block_on;
mod local;
mod worker;

pub(crate) use block_on::{block_on, block_on_loop, run_on};
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
        if let Some(displaced) = self.shared.remotes[w.index].lifo.push(task) {
            w.queue.push(displaced);
        }
        self.notify_siblings();
        None
    }

    /// A task that woke itself (row 3): the back of the deque. A `block_on`
    /// loop gives it back, as in `push_woken`.
    pub(crate) fn push_yielded(&self, task: Runnable) -> Option<Runnable> {
        let Some(w) = self.worker() else {
            return Some(task);
        };
        w.queue.push(task);
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

/// Queues a stealable task of `shared`'s runtime (a spawn or a wake-up).
pub(crate) fn schedule(shared: &Shared, task: Runnable) {
    if let Some(task) = on_own_loop(shared, task, Loop::push_woken) {
        shared.inject(task);
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
