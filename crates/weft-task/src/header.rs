//! The type-erased side of a task: the [`Header`] every task starts with, the
//! vtable that reaches its typed rest, and the pointer-sized handles built on
//! them ([`RawTask`], and the [`TaskRef`] type). The layer under `raw.rs`
//! (which allocates and runs typed tasks), `registry.rs`, `schedule.rs` and
//! `task.rs`: it names none of them, so the task core has no import cycle.
//!
//! The field access rules, the layout and the Safety argument are in `raw.rs`'s
//! module header; the state bits in `state.rs`.

use crate::callback::DoneCallbacks;
use crate::chain::{AwaitTarget, Drains};
use crate::error::{Cancelled, InvalidStateError, TaskError};
use crate::id::TaskId;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::{AtomicU32, Mutex, MutexGuard, Ordering};
use crate::state::{State, ToNotified, ToShutdown};
use crate::varmap::Snapshot;
use std::collections::HashSet;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Poll, Waker};

/// The type-independent part of every task.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    pub(crate) vtable: &'static Vtable,
    pub(crate) id: TaskId,
    pub(crate) location: &'static Location<'static>,
    pub(crate) slot: UnsafeCell<Option<Slot>>,
    /// asyncio's `cancelling()`: requests made minus `uncancel()` calls.
    pub(crate) cancelling: AtomicU32,
    /// `catch_cancel` wrappers on the await path at the last `Pending`.
    pub(crate) intercept_depth: UnsafeCell<u32>,
    /// Polls so far (wrapping); stamps what the task is awaiting. Written
    /// (Relaxed load and store, no RMW) only by the thread holding RUNNING;
    /// read by anyone (a dump).
    pub(crate) polls: AtomicU32,
    /// The index of the worker that last ran the task ([`NO_WORKER`]: none
    /// yet). Relaxed: a statistic (`Runnable::set_worker`).
    pub(crate) last_worker: AtomicU32,
    /// When it was spawned, in `clock::coarse_ms` (wrapping): on a thread
    /// keeping a `SpawnClock` (a worker), its last reading (`clock.rs`).
    pub(crate) spawned_ms: u32,
    /// Guards `cold` (one byte here, beside the other small fields, where a
    /// `Mutex<Option<Box<Cold>>>` would take two words): `lock_cold`.
    pub(crate) cold_lock: Mutex<()>,
    pub(crate) join_waker: UnsafeCell<Option<Waker>>,
    /// What the task awaits, as its leaf futures recorded it (`awaiting.rs`).
    /// Touched only by the thread holding `RUNNING` (a runner or a borrower).
    /// Cleared when the future goes (`raw.rs`), so it needs no drop glue.
    /// Boxed at the task's first recorded suspension and kept until then,
    /// so a task that never awaits one costs the header one word.
    pub(crate) awaiting: UnsafeCell<ManuallyDrop<Option<Box<AwaitRecord>>>>,
    /// The task's context variables (`None`: empty). Written at spawn, then
    /// only by the RUNNING thread under the `cold` lock; read freely by it,
    /// by others under the `cold` lock. Dropped by `raw.rs`'s `dealloc`.
    pub(crate) vars: UnsafeCell<ManuallyDrop<Snapshot>>,
    /// Rarely used data, made on first use; reached only through
    /// [`Header::lock_cold`].
    pub(crate) cold: UnsafeCell<Option<Box<Cold>>>,
}

/// `Header::last_worker` of a task no worker has run yet.
pub(crate) const NO_WORKER: u32 = u32::MAX;

/// Rarely used per-task data.
#[derive(Default)]
pub(crate) struct Cold {
    pub(crate) name: Option<Arc<str>>,
    pub(crate) cancel_message: Option<Arc<str>>,
    pub(crate) callbacks: DoneCallbacks<TaskRef>,
    /// The error the task ended with, for `exception()` on any handle.
    pub(crate) error: Option<TaskError>,
    /// `exception()` returned that error: it was retrieved, so dropping
    /// the handle with the output unread does not report it.
    pub(crate) error_retrieved: bool,
    /// While draining (see `raw.rs`): the error it will end with and what it
    /// waits for first. Touched only by the thread holding `RUNNING`.
    pub(crate) draining: Option<Box<Draining>>,
    /// The task's `tracing` span (`trace.rs`): set at spawn when a
    /// subscriber wants one, taken out when the task completes.
    pub(crate) span: Option<tracing::Span>,
    /// Total time of the task's timed steps, when the runtime times them
    /// (slow-poll warnings on: `TaskRef::add_poll_time`); read by dumps.
    pub(crate) poll_time: Option<std::time::Duration>,
}

/// A cancelled task whose future is dropped, waiting for the tasks it awaited
/// to end before it completes (`chain.rs`).
pub(crate) struct Draining {
    /// The outcome it completes with: the cancellation, or a panic raised
    /// while its future was dropped.
    pub(crate) ending: TaskError,
    pub(crate) drains: Drains,
}

/// What a task awaits: the target the last leaf future to return `Pending`
/// in poll number `poll` recorded (asyncio's `task._fut_waiter`).
pub(crate) struct AwaitRecord {
    pub(crate) poll: u32,
    /// A `cancel()` passed its request to the target already (`awaiting.rs`):
    /// the delivery that follows only waits for it.
    pub(crate) passed: bool,
    /// `None`: the last target was forgotten (the box is kept for the next).
    pub(crate) target: Option<Awaiting>,
}

/// A reference to what a task awaits: counted, or to a `static` target.
#[derive(Clone)]
pub(crate) enum Awaiting {
    Task(TaskRef),
    Other(Arc<dyn AwaitTarget>),
    /// A `static` target shared by every wait of one kind, only described:
    /// nothing to count, nothing to cancel (`DescribedWait::pending_static`).
    Static(&'static dyn AwaitTarget),
}

impl Awaiting {
    /// The target's address: its identity in the record.
    pub(crate) fn addr(&self) -> usize {
        match self {
            Awaiting::Task(t) => t.raw.header_ptr().as_ptr() as usize,
            Awaiting::Other(a) => Arc::as_ptr(a) as *const () as usize,
            Awaiting::Static(d) => *d as *const dyn AwaitTarget as *const () as usize,
        }
    }

    /// Cancels the target with `cancelled` (asyncio's `_fut_waiter.cancel(msg)`).
    pub(crate) fn cancel(self, cancelled: &Cancelled) {
        match self {
            Awaiting::Task(t) => {
                t.raw.request_cancel(cancelled.message_arc());
            }
            Awaiting::Other(a) => a.cancel_awaited(cancelled),
            // Only described: the wait is left when its future drops.
            Awaiting::Static(_) => {}
        }
    }
}

/// The `cold` lock held: the task's rarely used data, `None` until made.
pub(crate) struct ColdGuard<'a> {
    _lock: MutexGuard<'a, ()>,
    cold: &'a mut Option<Box<Cold>>,
}

impl std::ops::Deref for ColdGuard<'_> {
    type Target = Option<Box<Cold>>;

    fn deref(&self) -> &Self::Target {
        self.cold
    }
}

impl std::ops::DerefMut for ColdGuard<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.cold
    }
}

impl Header {
    /// Locks the cold data.
    pub(crate) fn lock_cold(&self) -> ColdGuard<'_> {
        let lock = self.cold_lock.lock();
        // SAFETY: `cold` is reached only here, under `cold_lock`, which the
        // guard holds for as long as the reference lives.
        let cold = self.cold.with_mut(|c| unsafe { &mut *c });
        ColdGuard { _lock: lock, cold }
    }

    /// Runs `f` on the cold data, creating it if needed.
    pub(crate) fn with_cold<R>(&self, f: impl FnOnce(&mut Cold) -> R) -> R {
        let mut guard = self.lock_cold();
        f(guard.get_or_insert_with(Default::default))
    }

    /// Reads the cold data if it exists.
    pub(crate) fn peek_cold<R>(&self, f: impl FnOnce(Option<&Cold>) -> R) -> R {
        let guard = self.lock_cold();
        f(guard.as_deref())
    }

    /// Runs `f` on the await record's `passed` flag and target if the
    /// task's latest poll wrote it (`awaiting.rs`); `None` otherwise.
    ///
    /// # Safety
    ///
    /// The caller holds the task's `RUNNING` (its own, or borrowed).
    pub(crate) unsafe fn with_latest_record<R>(
        &self,
        f: impl FnOnce(&mut bool, &Awaiting) -> Option<R>,
    ) -> Option<R> {
        let latest = self.polls.load(Ordering::Relaxed);
        self.awaiting.with_mut(|record| {
            // SAFETY: RUNNING is the caller's: nobody else touches the record.
            let record = unsafe { &mut **record }.as_deref_mut()?;
            let target = record.target.as_ref()?;
            if record.poll != latest {
                return None;
            }
            f(&mut record.passed, target)
        })
    }

    pub(crate) fn cancelled_error(&self) -> Cancelled {
        Cancelled::from_message(self.peek_cold(|c| c.and_then(|c| c.cancel_message.clone())))
    }
}

/// The functions that need the concrete `F` and `S`.
pub(crate) struct Vtable {
    /// Runs the task (consumes a `Runnable`'s reference).
    pub(crate) run: unsafe fn(NonNull<Header>),
    /// Hands a `Runnable` (whose reference is already counted) to the scheduler.
    pub(crate) schedule: unsafe fn(NonNull<Header>),
    /// Frees the allocation.
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
    /// Join: if complete, moves the output to `*dst` (a
    /// `Poll<Result<T, TaskError>>`), else registers the waker; panics if the
    /// output was taken already.
    pub(crate) try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    /// Moves the output to `*dst` (a `Result<Result<T, TaskError>,
    /// InvalidStateError>`, `Pending` until then) if complete.
    pub(crate) take_output: unsafe fn(NonNull<Header>, *mut ()),
    /// The handle is gone and the task complete: drop the output.
    pub(crate) drop_output: unsafe fn(NonNull<Header>),
    /// Drops the future and completes the task as cancelled. The caller set `RUNNING`.
    pub(crate) shutdown: unsafe fn(NonNull<Header>),
    /// Runs `f` soon on the task's loop.
    pub(crate) call_soon: unsafe fn(NonNull<Header>, Box<dyn FnOnce() + Send>),
    /// `std::any::type_name` of the future, for the task's repr (`repr.rs`).
    pub(crate) future_type_name: fn() -> &'static str,
    /// Calls `f` with a pointer to the stored value (`*const F::Output`) if the
    /// task returned one that is still stored, else with null. The caller is
    /// the handle and has seen `COMPLETE`.
    pub(crate) with_output: unsafe fn(NonNull<Header>, &mut dyn FnMut(*const ())),
    /// Non-zero for tasks pinned to one loop (`spawn_local`): the loop's key
    /// (`Schedule::local_owner`).
    pub(crate) local_owner: unsafe fn(NonNull<Header>) -> usize,
}

/// Where a task sits in the registry: written at insert under its shard's
/// lock, taken at removal by the one completion (`registry.rs`).
/// The shard is stored plus one, so `Option<Slot>` needs no tag (8 bytes, not 12).
#[derive(Clone, Copy)]
pub(crate) struct Slot {
    shard_plus_one: std::num::NonZeroU32,
    index: u32,
}

impl Slot {
    pub(crate) fn new(shard: u32, index: u32) -> Slot {
        Slot {
            shard_plus_one: std::num::NonZeroU32::MIN.saturating_add(shard),
            index,
        }
    }

    pub(crate) fn shard(self) -> u32 {
        self.shard_plus_one.get() - 1
    }

    pub(crate) fn index(self) -> u32 {
        self.index
    }
}

/// A counted pointer-sized handle to a task of unknown type.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawTask {
    ptr: NonNull<Header>,
}

// SAFETY: the header is only reached through atomics, locks and the access rules
// in raw.rs's module header; the future (which may be !Send) is only touched by the
// thread the scheduler guarantees (see `spawn_unchecked`).
unsafe impl Send for RawTask {}
// SAFETY: as above.
unsafe impl Sync for RawTask {}

impl RawTask {
    #[inline]
    pub(crate) fn from_header(ptr: NonNull<Header>) -> RawTask {
        RawTask { ptr }
    }

    /// The task being polled on this thread, uncounted (the context stores
    /// the header's address opaquely; this layer knows what it points to).
    #[inline]
    pub(crate) fn current() -> Option<RawTask> {
        crate::context::current().map(|ptr| RawTask { ptr: ptr.cast() })
    }

    #[inline]
    pub(crate) fn header_ptr(self) -> NonNull<Header> {
        self.ptr
    }

    #[inline]
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: a RawTask is only made from a live task whose reference the
        // holder owns (see raw.rs's Safety section).
        unsafe { self.ptr.as_ref() }
    }

    /// The key of the loop the task is pinned to, or 0 (`Schedule::local_owner`).
    pub(crate) fn local_owner(self) -> usize {
        // SAFETY: the task is live (see `header`).
        unsafe { (self.header().vtable.local_owner)(self.ptr) }
    }

    /// Runs the task; consumes one `Runnable` reference.
    #[inline]
    pub(crate) fn run(self) {
        // SAFETY: the caller (Runnable::run) owns a reference and NOTIFIED.
        unsafe { (self.header().vtable.run)(self.ptr) }
    }

    #[inline]
    pub(crate) fn ref_inc(self) {
        self.header().state.ref_inc();
    }

    /// Releases one reference, freeing the task if it was the last.
    #[inline]
    pub(crate) fn ref_dec(self) {
        if self.header().state.ref_dec(1) {
            // SAFETY: that was the last reference.
            unsafe { (self.header().vtable.dealloc)(self.ptr) }
        }
    }

    /// Hands a `Runnable` (reference already counted) to the scheduler.
    #[inline]
    pub(crate) fn schedule(self) {
        // SAFETY: the caller transferred a counted reference with NOTIFIED set.
        unsafe { (self.header().vtable.schedule)(self.ptr) }
    }

    pub(crate) fn wake_by_ref(self) {
        if let ToNotified::Submit = self.header().state.to_notified_by_ref() {
            self.schedule();
        }
    }

    /// Records a cancellation request; false if the task is done. A task
    /// found idle is borrowed for a moment to pass the request on to what it
    /// awaits (`awaiting.rs`), then scheduled to deliver it.
    pub(crate) fn request_cancel(self, message: Option<Arc<str>>) -> bool {
        match self.record_cancel_request(&message) {
            None => false,
            Some(false) => true,
            Some(true) => {
                pass_cancel_down(self, message);
                true
            }
        }
    }

    /// The first half of [`request_cancel`](Self::request_cancel): records
    /// the request; `None` if the task is done, `Some(true)` if it was idle
    /// and this thread now borrows it (holds `RUNNING`).
    fn record_cancel_request(self, message: &Option<Arc<str>>) -> Option<bool> {
        use crate::state::ToCancelRequested::*;
        let header = self.header();
        // The message and count are written before the request is published (the
        // AcqRel in `to_cancel_requested` pairs with the runner's Acquire), and
        // rolled back if the task turns out to be done, all under the cold lock
        // so no reader of the message sees the transient one.
        // The lock is let go before the request is passed on: that takes the
        // target's own locks, and the target may be awaiting this task.
        let mut cold = header.lock_cold();
        // A request without a message, where no cold data exists, leaves the
        // message as it is (none): no cold data is made for it, so a plain
        // `cancel()` allocates nothing.
        let previous = if cold.is_none() && message.is_none() {
            None
        } else {
            let c = cold.get_or_insert_with(Default::default);
            Some(std::mem::replace(&mut c.cancel_message, message.clone()))
        };
        header.cancelling.fetch_add(1, Ordering::Relaxed);
        match header.state.to_cancel_requested() {
            AlreadyComplete => {
                header.cancelling.fetch_sub(1, Ordering::Relaxed);
                if let (Some(previous), Some(c)) = (previous, cold.as_deref_mut()) {
                    c.cancel_message = previous;
                }
                None
            }
            Recorded => Some(false),
            Borrowed => Some(true),
        }
    }

    /// Lets go of a borrow (`State::to_borrowed`, or `cancel()`'s), submitting
    /// the task if it was woken (or cancelled) meanwhile.
    pub(crate) fn release_borrow(self) {
        if let ToNotified::Submit = self.header().state.release_borrow() {
            self.schedule();
        }
    }

    /// What the task awaits at its latest poll, marked as passed a request,
    /// for the `cancel()` that borrowed it: only a target no request was
    /// passed to yet.
    ///
    /// # Safety
    ///
    /// The caller holds `RUNNING`.
    unsafe fn take_awaited_to_cancel(self) -> Option<Awaiting> {
        // SAFETY: the caller's promise, passed on.
        unsafe {
            self.header().with_latest_record(|passed, target| {
                (!std::mem::replace(passed, true)).then(|| target.clone())
            })
        }
    }

    /// Shuts the task down if nobody runs it: drops the future and completes it
    /// as cancelled. The caller guarantees no worker is running tasks of this
    /// runtime, and for local tasks that this is the owner thread.
    pub(crate) fn shutdown(self) {
        loop {
            match self.header().state.to_running_for_shutdown() {
                ToShutdown::Claimed => {
                    // SAFETY: RUNNING was just claimed by this thread.
                    unsafe { (self.header().vtable.shutdown)(self.ptr) };
                    return;
                }
                ToShutdown::Skip => return,
                // A `cancel()` passing its request on; it lets go within a
                // few steps and schedules the task, which is then claimed.
                ToShutdown::Borrowed => crate::loom::thread::yield_now(),
            }
        }
    }

    /// Schedules `f` on the task's loop.
    pub(crate) fn call_soon(self, f: Box<dyn FnOnce() + Send>) {
        // SAFETY: live task (caller holds a reference).
        unsafe { (self.header().vtable.call_soon)(self.ptr, f) }
    }

    /// Join: see `Vtable::try_read_output`.
    ///
    /// # Safety
    ///
    /// `T` must be the task's output type and the caller must be the handle.
    pub(crate) unsafe fn try_read_output<T>(self, waker: &Waker) -> Poll<Result<T, TaskError>> {
        let mut out = Poll::Pending;
        // SAFETY: the caller guarantees T; `out` has the matching type.
        unsafe {
            (self.header().vtable.try_read_output)(self.ptr, &mut out as *mut _ as *mut (), waker)
        };
        out
    }

    /// # Safety
    ///
    /// As `try_read_output`.
    pub(crate) unsafe fn take_output<T>(self) -> Result<Result<T, TaskError>, InvalidStateError> {
        let mut out = Err(InvalidStateError::Pending);
        // SAFETY: the caller guarantees T; `out` has the matching type.
        unsafe { (self.header().vtable.take_output)(self.ptr, &mut out as *mut _ as *mut ()) };
        out
    }

    /// The handle is dropped.
    pub(crate) fn drop_join_handle(self) {
        let header = self.header();
        match header.state.unset_join_interest() {
            Ok(prev) => {
                if prev.is_join_waker_set() {
                    // SAFETY: JOIN_WAKER was set and is now cleared by us before
                    // completion: the slot is ours (state.rs, join waker protocol).
                    header.join_waker.with_mut(|w| unsafe { *w = None });
                }
            }
            Err(_) => {
                // Complete: the output belongs to the handle.
                // SAFETY: COMPLETE observed with JOIN_INTEREST still set.
                unsafe { (header.vtable.drop_output)(self.ptr) };
            }
        }
        self.ref_dec();
    }

    /// Registers `waker` as the join waker, or reports completion (true).
    pub(crate) fn set_join_waker(self, waker: &Waker) -> bool {
        let header = self.header();
        let snapshot = header.state.load();
        if snapshot.is_complete() {
            return true;
        }
        if snapshot.is_join_waker_set() {
            let same = header.join_waker.with(|w| {
                // SAFETY: JOIN_WAKER set, task not complete: the runner does not
                // touch the slot until it completes, and only this handle writes it.
                unsafe { (*w).as_ref().is_some_and(|w| w.will_wake(waker)) }
            });
            if same {
                return false;
            }
            if header.state.unset_join_waker().is_err() {
                return true;
            }
        }
        header.join_waker.with_mut(|w| {
            // SAFETY: JOIN_WAKER clear, task not complete: the slot is the handle's.
            unsafe { *w = Some(waker.clone()) }
        });
        header.state.set_join_waker().is_err()
    }
}

/// `cancel()` found `first` idle and borrowed it: passes the request to
/// what it awaits, and on down the chain while each target is a task found
/// idle in turn, then lets every borrow go.
///
/// Each borrow is held until the targets below it have the request (a
/// borrowed task cannot deliver before its target is cancelled), and they
/// are let go innermost first, as one `request_cancel` calling the next
/// would. A loop rather than that recursion: a chain of 100 000 idle tasks,
/// each awaiting the next, must not take 100 000 stack frames (regression
/// test: `tests/tests/task_deep_chain.rs`). The held borrows are kept in a
/// `Vec`, allocated only for a chain two tasks deep or more. Around a cycle
/// of awaits the pass stops where it comes back to a task it borrowed, so
/// each task of the cycle counts the request once (`tests/tests/
/// task_cancel_cycle.rs`).
fn pass_cancel_down(first: RawTask, message: Option<Arc<str>>) {
    const SCAN_BELOW: usize = 16;
    let addr = |raw: RawTask| raw.header_ptr().as_ptr() as usize;
    // The tasks below `first` borrowed here, each with the counted
    // reference its await record gave (released after its borrow).
    let mut below: Vec<TaskRef> = Vec::new();
    // A target that is `first` or among `below` closes a cycle of awaits
    // (A awaits B, B awaits A): it has this request already, so it is not
    // recorded twice. Looked for in `below` while it is short, then in a
    // set of their addresses, so a long chain stays linear.
    let mut borrowed: HashSet<usize> = HashSet::new();
    let mut task = first;
    // SAFETY: `task` is borrowed by this thread: `first` by the caller,
    // each later one by `record_cancel_request` returning `Some(true)`.
    while let Some(target) = unsafe { task.take_awaited_to_cancel() } {
        match target {
            Awaiting::Task(next) => {
                let at = addr(next.raw);
                let closes_cycle = at == addr(first)
                    || if below.len() <= SCAN_BELOW {
                        below.iter().any(|t| addr(t.raw) == at)
                    } else {
                        borrowed.contains(&at)
                    };
                if closes_cycle {
                    break;
                }
                // Running, queued or done: it only records the request (a
                // runner delivers it); idle: borrowed, and passed on below.
                // A target awaiting a task above it in turn finds that one
                // running (borrowed by another thread's `cancel()`) and only
                // records its request.
                if next.raw.record_cancel_request(&message) != Some(true) {
                    break;
                }
                task = next.raw;
                below.push(next);
                if below.len() > SCAN_BELOW {
                    if borrowed.is_empty() {
                        borrowed.extend(below.iter().map(|t| addr(t.raw)));
                    } else {
                        borrowed.insert(at);
                    }
                }
            }
            other => {
                other.cancel(&Cancelled::from_message(message));
                break;
            }
        }
    }
    for next in below.into_iter().rev() {
        next.raw.release_borrow();
    }
    first.release_borrow();
}

/// Runs `callbacks` soon on the task's loop, each once, in order.
pub(crate) fn schedule_callbacks(raw: RawTask, callbacks: DoneCallbacks<TaskRef>) {
    let task = TaskRef::from_raw_inc(raw);
    raw.call_soon(Box::new(move || callbacks.fire(&task)));
}

/// Whether `exception()` read the task's error (see `Cold::error_retrieved`).
pub(crate) fn error_retrieved(raw: RawTask) -> bool {
    raw.header()
        .peek_cold(|c| c.is_some_and(|c| c.error_retrieved))
}

/// A handle to any task, whatever its output type: what `current_task()`,
/// `all_tasks()` and done callbacks hand out. Cheap to clone.
///
/// Dropping a `TaskRef` releases only the reference; it never cancels the task.
///
/// ```
/// weft::run(async {
///     let t = weft::spawn(async {
///         let me = weft::current_task().expect("inside a task");
///         assert!(!me.done());
///         me.name()
///     });
///     assert!(t.await.unwrap().starts_with("Task-"));
/// });
/// ```
pub struct TaskRef {
    pub(crate) raw: RawTask,
}

impl TaskRef {
    /// Makes a handle, taking a new reference.
    pub(crate) fn from_raw_inc(raw: RawTask) -> TaskRef {
        raw.ref_inc();
        TaskRef { raw }
    }

    /// Makes a handle from a reference already counted for it.
    pub(crate) fn from_counted(raw: RawTask) -> TaskRef {
        TaskRef { raw }
    }

    pub(crate) fn raw(&self) -> RawTask {
        self.raw
    }
}

impl Clone for TaskRef {
    fn clone(&self) -> Self {
        TaskRef::from_raw_inc(self.raw)
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        self.raw.ref_dec();
    }
}

#[cfg(all(test, not(loom), target_pointer_width = "64"))]
mod tests {
    /// Every task carries the header: a word more moves many tasks' cells
    /// to the next allocator size class (docs/benchmarks.md, issue 16).
    #[test]
    fn header_stays_thirteen_words() {
        assert_eq!(std::mem::size_of::<super::Header>(), 104);
    }
}
