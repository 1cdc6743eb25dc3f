//! A loop's own ready queue and its inbox. The ready queue holds the steps
//! only this loop may run: its pinned tasks (`spawn_local`), its callbacks
//! (`call_soon`) and, in `block_on`, the main future's turn; other threads
//! send the first two through the inbox, a channel. Only the loop's thread
//! touches the ready queue.
//!
//! # One order for a loop's ready work
//!
//! asyncio's loop has one FIFO of ready callbacks and task steps. A worker
//! has two queues (its stealable deque and this ready queue), so each entry
//! here carries a mark, the count of tasks pushed into the deque when it was
//! queued (`WorkerQueue::pushed`). The deque is FIFO and loses tasks only
//! from its front (popped or stolen), so an entry has no deque task queued
//! before it left exactly when the deque holds no more tasks than were
//! pushed after the entry: `len <= pushed - mark`. [`Loop::pop_ready`]
//! gives the front entry only then; otherwise the worker pops its deque.
//! The two queues are thus one FIFO. Tasks moved into the deque in a batch
//! (stolen from the injector or a sibling) count as pushed when they arrive.
//! In `block_on` there is no deque: every mark is 0 and the ready queue is
//! the loop's one FIFO.
//!
//! [`spawn_pinned`] is the one way a task is pinned to a loop, from its own
//! thread (`spawn_local`) or from another (`run_coroutine_threadsafe` on a
//! `LoopHandle`).

use super::{on_own_thread, step_timing, LocalScheduler};
use crate::context::{Loop, Queued, Ready};
use crate::loom::sync::Arc;
use crate::state::{LoopRemote, Msg, Shared};
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use weft_task::{Runnable, Spawned, Task};

impl Ready {
    /// Runs a task step or a callback of `shared`'s runtime (a panicking
    /// callback is reported through `tracing`, and the loop goes on), timed
    /// if the runtime asks for slow-poll warnings (`step_timing.rs`). Gives
    /// back `false` for the main future's turn, which only `block_on` can
    /// take.
    pub(crate) fn run(self, shared: &Shared) -> bool {
        match self {
            Ready::Task(task) => step_timing::run_task(shared, task),
            Ready::Call(f) => step_timing::run_callback(shared, || {
                weft_task::run_reporting("a call_soon callback", f)
            }),
            Ready::Main => return false,
        }
        true
    }
}

impl Loop {
    /// Queues `step` behind everything this loop has queued so far.
    pub(crate) fn push_ready(&self, step: Ready) {
        let mark = self.worker().map_or(0, |w| w.pushed.get());
        self.local
            .borrow_mut()
            .ready
            .push_back(Queued { mark, step });
    }

    pub(crate) fn push_pinned(&self, task: Runnable) {
        self.push_ready(Ready::Task(task));
    }

    /// Queues a ready callback on this loop; one queued from this thread
    /// (`call_soon`) need not be `Send`.
    pub(crate) fn push_callback(&self, f: Box<dyn FnOnce()>) {
        self.push_ready(Ready::Call(f));
    }

    /// Whether the front of the ready queue is due: no task queued before
    /// it waits in this worker's deque (module header); in `block_on`,
    /// whether there is a front.
    #[inline]
    pub(crate) fn ready_due(&self) -> bool {
        let local = self.local.borrow();
        let Some(front) = local.ready.front() else {
            return false;
        };
        match self.worker() {
            Some(w) => w.queue.len() as u64 <= w.pushed.get().wrapping_sub(front.mark),
            None => true,
        }
    }

    /// The front of the ready queue, if it is due (`ready_due`).
    pub(crate) fn pop_ready(&self) -> Option<Ready> {
        if !self.ready_due() {
            return None;
        }
        self.local.borrow_mut().ready.pop_front().map(|q| q.step)
    }

    /// Runs the front of the ready queue (a worker's tick found it due): a
    /// task step through `run_task` (which counts it in the worker's
    /// metrics), a callback itself. Out of line: most ticks run a task from
    /// the deque instead.
    #[inline(never)]
    pub(crate) fn run_ready(&self, run_task: impl FnOnce(Runnable)) {
        let front = self.local.borrow_mut().ready.pop_front();
        match front.map(|q| q.step) {
            Some(Ready::Task(task)) => run_task(task),
            Some(step) => {
                step.run(&self.shared);
            }
            None => {}
        }
    }

    /// Steps in the ready queue now.
    pub(crate) fn ready_len(&self) -> usize {
        self.local.borrow().ready.len()
    }

    /// Moves what other threads sent into the ready queue, in arrival order.
    pub(crate) fn drain_inbox(&self) {
        while let Ok(msg) = self.inbox.try_recv() {
            match msg {
                Msg::Task(t) => self.push_pinned(t),
                Msg::Call(f) => self.push_callback(f),
            }
        }
    }

    /// Drains the inbox if anything waits there (cheaper than `drain_inbox`
    /// on an empty one).
    #[inline]
    pub(crate) fn poll_inbox(&self) {
        if !self.inbox.is_empty() {
            self.drain_inbox();
        }
    }

    pub(crate) fn has_local_work(&self) -> bool {
        !self.local.borrow().ready.is_empty() || !self.inbox.is_empty()
    }

    /// Shuts down this loop's pinned tasks (on their own thread) and drops what
    /// is queued here. Repeats while a pass finds tasks, since a destructor run
    /// by one pass may `spawn_local` another task (bounded, in case one always
    /// does).
    pub(crate) fn shutdown_pinned(&self, warn: bool) {
        let key = self.key();
        for _ in 0..64 {
            // SAFETY: these are this loop's pinned tasks and this is their
            // thread; none is being polled (we are between polls here).
            let n = unsafe {
                self.shared.registry.shutdown_tasks(
                    |owner| owner == key,
                    |task| {
                        if warn {
                            tracing::warn!(task = ?task, location = %task.location(), "task destroyed while pending");
                        }
                    },
                )
            };
            self.drain_inbox();
            let local = std::mem::take(&mut *self.local.borrow_mut());
            drop(local);
            if n == 0 {
                return;
            }
        }
        tracing::error!("pinned tasks kept spawning new ones while being shut down; leaving them");
    }
}

/// The loop a task of future type `F` is pinned to, and why pinning it there
/// is sound: only the two constructors make one.
pub(crate) struct PinTo<'a, F> {
    target: Target<'a>,
    _future: PhantomData<fn(F)>,
}

enum Target<'a> {
    /// This thread's own loop: the task is polled, woken onto and shut down
    /// on this thread only, so `F` need not be `Send`.
    Here(&'a Loop),
    /// Any loop, from any thread: `F` and its output are `Send`.
    There(&'a Arc<Shared>, &'a Arc<LoopRemote>),
}

impl<'a, F: Future> PinTo<'a, F> {
    /// This thread's loop (a `&Loop` exists only on its own thread).
    pub(crate) fn here(lp: &'a Loop) -> PinTo<'a, F> {
        PinTo {
            target: Target::Here(lp),
            _future: PhantomData,
        }
    }

    /// The loop `remote` of `shared`'s runtime, from any thread.
    pub(crate) fn there(shared: &'a Arc<Shared>, remote: &'a Arc<LoopRemote>) -> PinTo<'a, F>
    where
        F: Send,
        F::Output: Send,
    {
        PinTo {
            target: Target::There(shared, remote),
            _future: PhantomData,
        }
    }
}

/// Spawns `future` pinned to a loop: its first `Runnable` goes to that loop's
/// ready queue on its own thread (or runs at once there, on a runtime built
/// with `eager_tasks`), else through its inbox. A loop that has
/// ended gets nothing: the task is shut down at once (cancelled). A shut-down
/// runtime refuses the task: `Err` with it, already cancelled.
pub(crate) fn spawn_pinned<F>(
    to: PinTo<'_, F>,
    future: F,
    location: &'static Location<'static>,
) -> Result<Task<F::Output>, Task<F::Output>>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let (shared, remote) = match to.target {
        Target::Here(lp) => (lp.shared(), lp.remote()),
        Target::There(shared, remote) => (shared, remote),
    };
    let scheduler = LocalScheduler {
        shared: shared.clone(),
        owner: remote.clone(),
    };
    // LocalScheduler runs the task's Runnables only on the owner loop's
    // thread (same-thread wakes go to its ready queue, others through its
    // inbox), the loop shuts its pinned tasks down on that thread at its end,
    // and the key is that loop's; `PinTo` proves the thread: `Here` is this
    // thread's own loop, `There` requires `F` and its output to be `Send`.
    // SAFETY: that is spawn_unchecked's contract when `F` is not `Send`.
    let spawned = unsafe { weft_task::spawn_unchecked(future, scheduler, location) };
    let (task, runnable) = match spawned {
        Spawned::Ready(task, runnable) => (task, runnable),
        Spawned::Refused(task) => return Err(task),
    };
    if let Target::Here(lp) = to.target {
        if lp.shared().config.eager_tasks {
            // Eager (`Builder::eager_tasks`): the first step runs now, on the
            // task's own thread; if it suspends, its wake-ups come back here.
            step_timing::run_task(lp.shared(), runnable);
        } else {
            lp.push_pinned(runnable);
        }
        return Ok(task);
    }
    if let Some(runnable) = on_own_thread(remote, runnable, Loop::push_pinned) {
        if let Err(Msg::Task(runnable)) = remote.try_send(Msg::Task(runnable)) {
            // The loop has ended: nobody will run it.
            // SAFETY: `F` and its output are `Send` (`There`), and this
            // first Runnable was never delivered, so nobody else runs the
            // task.
            unsafe { runnable.shutdown_pinned() };
        }
    }
    Ok(task)
}
