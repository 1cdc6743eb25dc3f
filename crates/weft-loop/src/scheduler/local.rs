//! A loop's own queues: its pinned tasks (`spawn_local`), its ready
//! callbacks (`call_soon`), and its inbox, where other threads send both.
//! Only the loop's thread touches the queues; the inbox is a channel.
//!
//! [`spawn_pinned`] is the one way a task is pinned to a loop, from its own
//! thread (`spawn_local`) or from another (`run_coroutine_threadsafe` on a
//! `LoopHandle`).

use super::{on_own_thread, LocalScheduler};
use crate::context::Loop;
use crate::loom::sync::Arc;
use crate::state::{LoopRemote, Msg, Shared};
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use weft_task::{Runnable, Spawned, Task};

impl Loop {
    pub(crate) fn push_pinned(&self, task: Runnable) {
        self.local.borrow_mut().pinned.push_back(task);
    }

    /// Queues a ready callback on this loop; one queued from this thread
    /// (`call_soon`) need not be `Send`.
    pub(crate) fn push_callback(&self, f: Box<dyn FnOnce()>) {
        self.local.borrow_mut().callbacks.push_back(f);
    }

    /// Runs the callbacks queued before this call, each once; those they queue
    /// wait for the next call. Returns whether any ran.
    /// The check is inlined into every tick; running them is out of line,
    /// since most ticks have none.
    #[inline]
    pub(crate) fn run_callbacks(&self) -> bool {
        let ready = self.local.borrow().callbacks.len();
        if ready == 0 {
            return false;
        }
        self.run_ready_callbacks(ready);
        true
    }

    /// Runs (at most) the first `ready` callbacks.
    #[inline(never)]
    fn run_ready_callbacks(&self, ready: usize) {
        for _ in 0..ready {
            let Some(f) = self.local.borrow_mut().callbacks.pop_front() else {
                break;
            };
            weft_task::run_reporting("a call_soon callback", f);
        }
    }

    /// Moves what other threads sent into the local queues.
    pub(crate) fn drain_inbox(&self) {
        while let Ok(msg) = self.inbox.try_recv() {
            let mut local = self.local.borrow_mut();
            match msg {
                Msg::Task(t) => local.pinned.push_back(t),
                Msg::Call(f) => local.callbacks.push_back(f),
            }
        }
    }

    pub(crate) fn pop_pinned(&self) -> Option<Runnable> {
        if let Some(t) = self.local.borrow_mut().pinned.pop_front() {
            return Some(t);
        }
        if self.inbox.is_empty() {
            return None;
        }
        self.drain_inbox();
        self.local.borrow_mut().pinned.pop_front()
    }

    pub(crate) fn has_local_work(&self) -> bool {
        let local = self.local.borrow();
        !local.pinned.is_empty() || !local.callbacks.is_empty() || !self.inbox.is_empty()
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
/// pinned queue on its own thread (or runs at once there, on a runtime built
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
    // thread (same-thread wakes go to its pinned queue, others through its
    // inbox), the loop shuts its pinned tasks down on that thread at its end,
    // and the key is that loop's; `PinTo` proves the thread: `Here` is this
    // thread's own loop, `There` requires `F` and its output to be `Send`.
    // SAFETY: that is spawn_unchecked's contract when `F` is not `Send`.
    let spawned = unsafe { weft_task::spawn_unchecked(future, scheduler, location, remote.key) };
    let (task, runnable) = match spawned {
        Spawned::Ready(task, runnable) => (task, runnable),
        Spawned::Refused(task) => return Err(task),
    };
    if let Target::Here(lp) = to.target {
        if lp.shared().config.eager_tasks {
            // Eager (`Builder::eager_tasks`): the first step runs now, on the
            // task's own thread; if it suspends, its wake-ups come back here.
            runnable.run();
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
