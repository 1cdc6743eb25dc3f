//! The one thread-local of weft-loop: the loop running on this thread, if
//! any, and through it the runtime it belongs to and its kind (a worker, or
//! the thread inside `block_on`). Everything that asks "where am I" asks
//! here: spawning, waking, timers, sockets, `Handle::current`, and weft-task's
//! promises (through the loop hook installed by [`Loop::enter`], so the
//! workspace has one current-loop thread-local, this one).
//!
//! [`Loop`] is the record a loop keeps while it runs: its runtime, its remote
//! side, its inbox, its local queues and, on a worker, its stealable deque.
//! What the loop *does* with them is `scheduler/`'s: routing in
//! `scheduler/mod.rs`, the local queues in `scheduler/local.rs`, the two
//! drivers in `scheduler/worker.rs` and `scheduler/block_on.rs`. The task
//! being polled (and its budget) is weft-task's per-poll context, kept there.

use crate::driver::{outside_runtime, Driver};
use crate::loom::sync::Arc;
use crate::state::{LoopRemote, Msg, RuntimeExceptions, Shared};
use crossbeam_deque::Worker;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::marker::PhantomData;
use std::ptr;
use weft_task::context::CallSoon;
use weft_task::{CallExceptionHandler, Runnable};

thread_local! {
    static CURRENT: Cell<*const Loop> = const { Cell::new(ptr::null()) };
}

/// Which kind of loop runs on a thread.
pub(crate) enum Kind {
    /// A worker: it also runs stealable tasks, from this deque first.
    Worker(WorkerQueue),
    /// The thread inside `block_on`: pinned tasks and callbacks only.
    BlockOn,
}

/// A worker's own stealable queue (other workers hold its stealer), and the
/// count of tasks ever pushed into it, which orders the loop's ready queue
/// against it (`scheduler/local.rs`).
pub(crate) struct WorkerQueue {
    /// The worker's index in `Shared::remotes`.
    pub(crate) index: usize,
    pub(crate) queue: Worker<Runnable>,
    /// Tasks pushed into `queue` so far (by this worker: only the owner
    /// pushes).
    pub(crate) pushed: Cell<u64>,
    /// Whether the slot is a LIFO slot, where a woken task displaces the one
    /// there (with sibling workers), or, on a lone worker, the front of its
    /// FIFO, filled only when nothing else is queued (`scheduler/mod.rs`).
    pub(crate) lifo: bool,
}

/// One step of a loop's ready queue.
pub(crate) enum Ready {
    /// A step of a task pinned to this loop.
    Task(Runnable),
    /// A `call_soon` callback (one queued from this thread need not be `Send`).
    Call(Box<dyn FnOnce()>),
    /// The turn of `block_on`'s own future (only a `block_on` loop queues it).
    Main,
}

/// A step in the ready queue, with the place it was queued at in the
/// worker's deque: `WorkerQueue::pushed` then (0 in `block_on`).
pub(crate) struct Queued {
    pub(crate) mark: u64,
    pub(crate) step: Ready,
}

/// Work only the loop's own thread may touch.
#[derive(Default)]
pub(crate) struct LocalQueues {
    /// Pinned task steps, callbacks and (in `block_on`) the main future's
    /// turn, in the order they were scheduled.
    pub(crate) ready: VecDeque<Queued>,
}

/// A running loop's record (see the module header).
pub(crate) struct Loop {
    pub(crate) shared: Arc<Shared>,
    pub(crate) remote: Arc<LoopRemote>,
    pub(crate) inbox: crossbeam_channel::Receiver<Msg>,
    pub(crate) kind: Kind,
    pub(crate) local: RefCell<LocalQueues>,
    /// Where a promise made on this loop runs its done callbacks.
    call_soon: std::sync::Arc<dyn CallSoon>,
}

impl Loop {
    pub(crate) fn new(
        shared: Arc<Shared>,
        remote: Arc<LoopRemote>,
        inbox: crossbeam_channel::Receiver<Msg>,
        kind: Kind,
        call_soon: std::sync::Arc<dyn CallSoon>,
    ) -> Loop {
        Loop {
            shared,
            remote,
            inbox,
            kind,
            local: RefCell::new(LocalQueues::default()),
            call_soon,
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn remote(&self) -> &Arc<LoopRemote> {
        &self.remote
    }

    /// Unique in the process; the local-owner key of its pinned tasks.
    pub(crate) fn key(&self) -> usize {
        self.remote.key
    }

    /// This worker's deque, or `None` in `block_on`.
    pub(crate) fn worker(&self) -> Option<&WorkerQueue> {
        match &self.kind {
            Kind::Worker(w) => Some(w),
            Kind::BlockOn => None,
        }
    }

    pub(crate) fn is_worker(&self) -> bool {
        matches!(self.kind, Kind::Worker(_))
    }

    /// Makes this the thread's current loop until the guard drops.
    pub(crate) fn enter(&self) -> Entered<'_> {
        install_loop_hook();
        Entered {
            prev: CURRENT.replace(self),
            _loop: PhantomData,
        }
    }
}

/// Restores the previous current loop when dropped.
pub(crate) struct Entered<'a> {
    prev: *const Loop,
    _loop: PhantomData<&'a Loop>,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        CURRENT.set(self.prev);
    }
}

/// Runs `f` with this thread's loop, if it has one.
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Loop>) -> R) -> R {
    let ptr = CURRENT.get();
    // SAFETY: CURRENT is set by `Loop::enter` to a loop that the returned
    // guard borrows, so it outlives the guard, which restores the previous
    // value on drop; it is touched on this thread only.
    f(unsafe { ptr.as_ref() })
}

/// Whether this thread is running any weft loop.
pub(crate) fn is_entered() -> bool {
    !CURRENT.get().is_null()
}

/// The driver of the runtime whose loop runs on this thread.
pub(crate) fn current_driver() -> io::Result<std::sync::Arc<Driver>> {
    with_current(|lp| match lp {
        Some(lp) => Ok(lp.shared.driver.clone()),
        None => Err(outside_runtime()),
    })
}

/// weft-task's loop hook: the current loop's `CallSoon`, if any.
fn current_call_soon() -> Option<std::sync::Arc<dyn CallSoon>> {
    with_current(|lp| lp.map(|lp| lp.call_soon.clone()))
}

/// weft-task's exception hook: the exception handler of the current loop's
/// runtime, if any (a report is rare: one allocation each is fine).
fn current_exception_handler() -> Option<std::sync::Arc<dyn CallExceptionHandler>> {
    with_current(|lp| {
        lp.map(|lp| {
            std::sync::Arc::new(RuntimeExceptions(lp.shared.clone()))
                as std::sync::Arc<dyn CallExceptionHandler>
        })
    })
}

/// Installs [`current_call_soon`] as weft-task's loop hook, and
/// [`current_exception_handler`] as its exception hook, once per process
/// (a std `Once`: loom types cannot be statics, and this is no algorithm).
fn install_loop_hook() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        weft_task::context::set_loop_hook(current_call_soon);
        weft_task::set_exception_hook(current_exception_handler);
    });
}
