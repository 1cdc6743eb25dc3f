//! The raw task: one heap allocation holding the header, the scheduler, and the
//! future or its output; and the harness that polls, cancels and completes it.
//!
//! # Layout
//!
//! ```text
//! Cell<F, S> (repr(C), one Box)
//! +---------------------------------------------------------------+
//! | Header: state word, vtable, id, spawn location, registry slot, |
//! |         cancelling count, join waker, cold (name, message,     |
//! |         done callbacks, error) behind a lazily boxed Mutex      |
//! | scheduler: S                                                  |
//! | stage: Running(F) | Finished(Outcome<F::Output>) | Consumed      |
//! +---------------------------------------------------------------+
//! ```
//!
//! The output is the result cell's [`Outcome`] (`result_cell.rs`), taken by
//! the same rule as a promise's or a `ConcurrentFuture`'s; the done callbacks
//! are the same [`DoneCallbacks`] list, in `cold`; the join waker is the one
//! waiter, woken (like every waiter) through the panic runner.
//!
//! Type-erased pointers (`NonNull<Header>`) travel in [`Runnable`]s, wakers,
//! [`TaskRef`]s and `Task<T>`; the vtable recovers `F` and `S`.
//!
//! # Who touches what
//!
//! | field            | who, when                                                  |
//! |------------------|------------------------------------------------------------|
//! | `stage` (future) | the thread that set `RUNNING` (runner, or shutdown)        |
//! | `stage` (output) | written by the runner before `COMPLETE`; afterwards owned by the `Task<T>` handle if `JOIN_INTEREST` was set at completion, else dropped by the runner |
//! | `join_waker`     | see `state.rs`: handle while `JOIN_WAKER` is clear, runner after `COMPLETE` while it is set |
//! | `slot`           | the registry: written at insert, cleared at removal        |
//! | `intercept_depth`, `polls` | the thread that set `RUNNING`                    |
//! | `cold`           | anyone, under its mutex                                    |
//!
//! # Cancellation delivery
//!
//! `cancel()` sets `CANCEL_REQ` and schedules the task. When the runner claims
//! it: if no [`catch_cancel`](crate::catch_cancel) wrapper was on the await path
//! when the task last returned `Pending` (`intercept_depth == 0`), the future is
//! dropped where it stands (its destructors are the `finally` blocks) and the task
//! ends `Cancelled`. Otherwise the future is polled and the innermost wrapper
//! consumes the request. A task cancelled before its first poll has depth 0, so
//! it is never polled. A request still pending when the future returns a value
//! turns that value into a cancellation (asyncio's "cancelled right before the
//! coroutine stopped"), so `cancel() == true` always means "ends cancelled unless
//! it intercepts".
//!
//! # Safety
//!
//! Every `unsafe fn` here takes a pointer to a live task whose vtable matches
//! `F` and `S`; the reference count (see `state.rs`) keeps it live, and the state
//! bits above grant the exclusive access each function documents.

use crate::callback::DoneCallbacks;
use crate::context;
use crate::error::{Cancelled, InvalidStateError, TaskError};
use crate::id::TaskId;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::{AtomicU32, Mutex, Ordering};
use crate::panic::{catch_panic, discard, run_reporting};
use crate::registry::Slot;
use crate::result_cell::Outcome as Output;
use crate::schedule::Schedule;
use crate::state::{Outcome, State, ToIdle, ToNotified, ToRunning};
use crate::task::TaskRef;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// The type-independent part of every task.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    pub(crate) vtable: &'static Vtable,
    pub(crate) id: TaskId,
    pub(crate) location: &'static Location<'static>,
    /// Non-zero for tasks pinned to one loop (`spawn_local`): the loop's key.
    pub(crate) local_owner: usize,
    pub(crate) slot: UnsafeCell<Option<Slot>>,
    /// asyncio's `cancelling()`: requests made minus `uncancel()` calls.
    pub(crate) cancelling: AtomicU32,
    /// `catch_cancel` wrappers on the await path at the last `Pending`.
    pub(crate) intercept_depth: UnsafeCell<u32>,
    /// Polls so far (wrapping); stamps what the task is awaiting. RUNNING only.
    pub(crate) polls: UnsafeCell<u32>,
    pub(crate) join_waker: UnsafeCell<Option<Waker>>,
    pub(crate) cold: Mutex<Option<Box<Cold>>>,
}

/// Rarely used per-task data.
#[derive(Default)]
pub(crate) struct Cold {
    pub(crate) name: Option<Arc<str>>,
    pub(crate) cancel_message: Option<Arc<str>>,
    pub(crate) callbacks: DoneCallbacks<TaskRef>,
    /// The error the task ended with, for `exception()` on any handle.
    pub(crate) error: Option<TaskError>,
}

impl Header {
    /// Runs `f` on the cold data, creating it if needed.
    pub(crate) fn with_cold<R>(&self, f: impl FnOnce(&mut Cold) -> R) -> R {
        let mut guard = self.cold.lock();
        f(guard.get_or_insert_with(Default::default))
    }

    /// Reads the cold data if it exists.
    pub(crate) fn peek_cold<R>(&self, f: impl FnOnce(Option<&Cold>) -> R) -> R {
        let guard = self.cold.lock();
        f(guard.as_deref())
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
    /// `Poll<Result<Result<T, TaskError>, InvalidStateError>>`), else registers
    /// the waker.
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
}

#[repr(C)]
struct Cell<F: Future, S> {
    header: Header,
    scheduler: S,
    stage: UnsafeCell<Stage<F>>,
}

enum Stage<F: Future> {
    Running(F),
    Finished(Output<F::Output>),
    Consumed,
}

/// What to do with a task just built.
pub(crate) enum Built {
    /// Registered: the first `Runnable` should be scheduled.
    Ready,
    /// The registry is closed: the task is already complete (cancelled).
    Refused,
}

/// A counted pointer-sized handle to a task of unknown type.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawTask {
    ptr: NonNull<Header>,
}

// SAFETY: the header is only reached through atomics, locks and the access rules
// in the module header; the future (which may be !Send) is only touched by the
// thread the scheduler guarantees (see `spawn_unchecked`).
unsafe impl Send for RawTask {}
// SAFETY: as above.
unsafe impl Sync for RawTask {}

impl RawTask {
    /// Allocates a task and registers it with the scheduler's registry.
    ///
    /// # Safety
    ///
    /// If `F` (or `F::Output`) is not `Send`, the scheduler must run, shut down
    /// and drop the task only on the thread that spawned it (`local_owner` != 0
    /// tells the registry to leave its shutdown to that thread).
    pub(crate) unsafe fn allocate<F, S>(
        future: F,
        scheduler: S,
        location: &'static Location<'static>,
        local_owner: usize,
    ) -> (RawTask, Built)
    where
        F: Future + 'static,
        S: Schedule,
    {
        let cell = Box::new(Cell {
            header: Header {
                state: State::new(),
                vtable: vtable::<F, S>(),
                id: TaskId::next(),
                location,
                local_owner,
                slot: UnsafeCell::new(None),
                cancelling: AtomicU32::new(0),
                intercept_depth: UnsafeCell::new(0),
                polls: UnsafeCell::new(0),
                join_waker: UnsafeCell::new(None),
                cold: Mutex::new(None),
            },
            scheduler,
            stage: UnsafeCell::new(Stage::Running(future)),
        });
        let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
        let raw = RawTask { ptr };
        // SAFETY: `ptr` came from the Box just leaked, whose first field (repr(C))
        // is the header.
        let cell = unsafe { ptr.cast::<Cell<F, S>>().as_ref() };
        if cell.scheduler.registry().insert(raw) {
            return (raw, Built::Ready);
        }
        // Refused: nobody else has the pointer. Drop the future unpolled and
        // finish as cancelled, holding only the handle's reference.
        let dropped = cell.stage.with_mut(|stage| {
            // SAFETY: exclusive: the pointer has not been shared.
            catch_panic(|| unsafe { *stage = Stage::Consumed })
        });
        if let Err(panicked) = dropped {
            discard(panicked);
        }
        let cancelled = Cancelled::with_message("runtime is shut down");
        cell.stage.with_mut(|stage| {
            // SAFETY: exclusive, as above.
            let out = Err(TaskError::Cancelled(cancelled.clone()));
            // SAFETY: exclusive, as above.
            unsafe { *stage = Stage::Finished(Output::Ready(out)) }
        });
        cell.header.with_cold(|c| {
            c.cancel_message = cancelled.message_arc();
            c.error = Some(TaskError::Cancelled(cancelled));
        });
        cell.header.state.set_refused();
        (raw, Built::Refused)
    }

    pub(crate) fn from_header(ptr: NonNull<Header>) -> RawTask {
        RawTask { ptr }
    }

    pub(crate) fn header_ptr(self) -> NonNull<Header> {
        self.ptr
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: a RawTask is only made from a live task whose reference the
        // holder owns (see the module's Safety section).
        unsafe { self.ptr.as_ref() }
    }

    /// Runs the task; consumes one `Runnable` reference.
    pub(crate) fn run(self) {
        // SAFETY: the caller (Runnable::run) owns a reference and NOTIFIED.
        unsafe { (self.header().vtable.run)(self.ptr) }
    }

    pub(crate) fn ref_inc(self) {
        self.header().state.ref_inc();
    }

    /// Releases one reference, freeing the task if it was the last.
    pub(crate) fn ref_dec(self) {
        if self.header().state.ref_dec(1) {
            // SAFETY: that was the last reference.
            unsafe { (self.header().vtable.dealloc)(self.ptr) }
        }
    }

    /// Hands a `Runnable` (reference already counted) to the scheduler.
    pub(crate) fn schedule(self) {
        // SAFETY: the caller transferred a counted reference with NOTIFIED set.
        unsafe { (self.header().vtable.schedule)(self.ptr) }
    }

    pub(crate) fn wake_by_ref(self) {
        if let ToNotified::Submit = self.header().state.to_notified_by_ref() {
            self.schedule();
        }
    }

    /// Records a cancellation request; false if the task is done.
    pub(crate) fn request_cancel(self, message: Option<Arc<str>>) -> bool {
        use crate::state::ToCancelRequested::*;
        let header = self.header();
        // The message and count are written before the request is published (the
        // AcqRel in `to_cancel_requested` pairs with the runner's Acquire), and
        // rolled back if the task turns out to be done, all under the cold lock
        // so no reader of the message sees the transient one.
        let submit = {
            let mut cold = header.cold.lock();
            let cold = cold.get_or_insert_with(Default::default);
            let previous = std::mem::replace(&mut cold.cancel_message, message);
            header.cancelling.fetch_add(1, Ordering::Relaxed);
            match header.state.to_cancel_requested() {
                AlreadyComplete => {
                    header.cancelling.fetch_sub(1, Ordering::Relaxed);
                    cold.cancel_message = previous;
                    return false;
                }
                Recorded => false,
                Submit => true,
            }
        };
        if submit {
            self.schedule();
        }
        true
    }

    /// Shuts the task down if nobody runs it: drops the future and completes it
    /// as cancelled. The caller guarantees no worker is running tasks of this
    /// runtime, and for local tasks that this is the owner thread.
    pub(crate) fn shutdown(self) {
        if self.header().state.to_running_for_shutdown() {
            // SAFETY: RUNNING was just claimed by this thread.
            unsafe { (self.header().vtable.shutdown)(self.ptr) }
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
    pub(crate) unsafe fn try_read_output<T>(
        self,
        waker: &Waker,
    ) -> Poll<Result<Result<T, TaskError>, InvalidStateError>> {
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

fn vtable<F: Future + 'static, S: Schedule>() -> &'static Vtable {
    &Vtable {
        run: run::<F, S>,
        schedule: schedule::<F, S>,
        dealloc: dealloc::<F, S>,
        try_read_output: try_read_output::<F, S>,
        take_output: take_output::<F, S>,
        drop_output: drop_output::<F, S>,
        shutdown: shutdown::<F, S>,
        call_soon: call_soon::<F, S>,
    }
}

/// # Safety
///
/// `ptr` is a live `Cell<F, S>`.
unsafe fn cell<'a, F: Future, S>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: caller guarantees; the header is the first field of a repr(C) cell.
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}

enum Polled<T> {
    Pending,
    Ready(Result<T, TaskError>),
    Cancel,
}

/// # Safety
///
/// The caller owns a `Runnable` reference (with `NOTIFIED` set).
unsafe fn run<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: caller guarantees the cell is live.
    let cell = unsafe { cell::<F, S>(ptr) };
    let header = &cell.header;
    let cancel = match header.state.to_running() {
        ToRunning::Run { cancel } => cancel,
        ToRunning::Complete | ToRunning::Busy => {
            RawTask::from_header(ptr).ref_dec();
            return;
        }
    };
    // SAFETY: RUNNING is ours.
    let depth = header.intercept_depth.with(|d| unsafe { *d });
    let polled = if cancel && depth == 0 {
        Polled::Cancel
    } else {
        // SAFETY: RUNNING is ours.
        match unsafe { poll_future(cell, ptr) } {
            Polled::Pending => {
                // SAFETY: RUNNING is ours.
                let depth = header.intercept_depth.with(|d| unsafe { *d });
                // A request that arrived (or was re-raised) during the poll with
                // no wrapper to catch it is delivered now rather than a poll later.
                if depth == 0 && header.state.load().is_cancel_requested() {
                    Polled::Cancel
                } else {
                    Polled::Pending
                }
            }
            other => other,
        }
    };
    match polled {
        Polled::Pending => match header.state.to_idle() {
            ToIdle::Idle => {}
            ToIdle::Notified => cell.scheduler.yield_now(crate::Runnable::from_raw(ptr)),
            // SAFETY: the runner's reference was the last.
            ToIdle::Dealloc => unsafe { dealloc::<F, S>(ptr) },
        },
        // SAFETY: RUNNING is ours.
        Polled::Ready(output) => unsafe { complete(cell, ptr, output) },
        // SAFETY: RUNNING is ours.
        Polled::Cancel => unsafe { cancel_future(cell, ptr) },
    }
}

/// # Safety
///
/// The caller holds `RUNNING`.
unsafe fn poll_future<F: Future, S>(cell: &Cell<F, S>, ptr: NonNull<Header>) -> Polled<F::Output> {
    // SAFETY: a waker borrowed from the runner's reference; ManuallyDrop keeps it
    // from releasing a reference it never took.
    let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw_waker(ptr)) });
    let mut cx = Context::from_waker(&waker);
    // SAFETY: RUNNING is ours.
    cell.header
        .polls
        .with_mut(|p| unsafe { *p = (*p).wrapping_add(1) });
    let _enter = context::enter_task(ptr);
    let result = catch_panic(|| {
        cell.stage.with_mut(|stage| {
            // SAFETY: RUNNING gives exclusive access to the stage.
            match unsafe { &mut *stage } {
                // SAFETY: the future lives in the heap cell and is never moved
                // until it is dropped in place, so it is pinned.
                Stage::Running(future) => unsafe { Pin::new_unchecked(future) }.poll(&mut cx),
                _ => unreachable!("a task was polled after it completed"),
            }
        })
    });
    let intercepting = context::take_intercept_count();
    // SAFETY: RUNNING is ours.
    cell.header
        .intercept_depth
        .with_mut(|d| unsafe { *d = intercepting });
    let output = match result {
        Ok(Poll::Pending) => return Polled::Pending,
        Ok(Poll::Ready(value)) => Ok(value),
        Err(panicked) => Err(TaskError::Panicked(panicked)),
    };
    // Finished (or panicked): drop the future now, still inside the task's
    // context. A panicking destructor becomes the task's error.
    let dropped = catch_panic(|| {
        // SAFETY: RUNNING gives exclusive access to the stage.
        cell.stage
            .with_mut(|stage| unsafe { *stage = Stage::Consumed })
    });
    match dropped {
        Ok(()) => Polled::Ready(output),
        Err(panicked) => {
            drop(output);
            Polled::Ready(Err(TaskError::Panicked(panicked)))
        }
    }
}

/// Drops the future in place (with the task context entered so destructors see
/// it). A panic while dropping becomes the task's error.
///
/// # Safety
///
/// The caller holds `RUNNING`.
unsafe fn drop_future<F: Future, S>(
    cell: &Cell<F, S>,
    ptr: NonNull<Header>,
    delivering: &Cancelled,
) -> Result<(), TaskError> {
    let _enter = context::enter_task(ptr);
    // What the task awaited at its last poll is what this delivery cancels.
    // SAFETY: RUNNING is ours.
    let polls = cell.header.polls.with(|p| unsafe { *p });
    let _delivering = context::enter_cancel_delivery(delivering, (ptr.as_ptr() as usize, polls));
    let result = catch_panic(|| {
        // SAFETY: RUNNING gives exclusive access to the stage.
        cell.stage
            .with_mut(|stage| unsafe { *stage = Stage::Consumed })
    });
    context::take_intercept_count();
    result.map_err(TaskError::Panicked)
}

/// # Safety
///
/// The caller holds `RUNNING`.
unsafe fn cancel_future<F: Future + 'static, S: Schedule>(cell: &Cell<F, S>, ptr: NonNull<Header>) {
    let cancelled = cell.header.cancelled_error();
    // SAFETY: RUNNING is ours.
    let output = match unsafe { drop_future(cell, ptr, &cancelled) } {
        Ok(()) => Err(TaskError::Cancelled(cancelled)),
        // An error raised during cleanup wins over the cancellation.
        Err(panicked) => Err(panicked),
    };
    // SAFETY: RUNNING is ours.
    unsafe { complete(cell, ptr, output) }
}

/// Stores the output, publishes `COMPLETE`, wakes the joiner, schedules the done
/// callbacks and leaves the registry.
///
/// # Safety
///
/// The caller holds `RUNNING` and one reference, which this releases.
unsafe fn complete<F: Future + 'static, S: Schedule>(
    cell: &Cell<F, S>,
    ptr: NonNull<Header>,
    output: Result<F::Output, TaskError>,
) {
    let header = &cell.header;
    // The future is gone by now (dropped by `poll_future` or `cancel_future`).
    let outcome = match &output {
        Ok(_) => Outcome::Value,
        Err(TaskError::Cancelled(_)) => Outcome::Cancelled,
        Err(error) => {
            let error = error.clone();
            header.with_cold(|c| c.error = Some(error));
            Outcome::Error
        }
    };
    // Leave the registry first, so that whoever sees the task complete (the
    // joiner, woken below) no longer counts it as live.
    let released = cell.scheduler.registry().remove(RawTask::from_header(ptr));
    // SAFETY: RUNNING is ours; the output is written before COMPLETE is published.
    cell.stage
        .with_mut(|stage| unsafe { *stage = Stage::Finished(Output::Ready(output)) });
    let snapshot = header.state.to_complete(outcome);
    if !snapshot.is_join_interested() {
        // Nobody will read it: drop it here, guarding against a panicking drop.
        run_reporting("a task's output, dropped unread,", || {
            // SAFETY: COMPLETE without JOIN_INTEREST: the runner owns the output.
            cell.stage
                .with_mut(|stage| unsafe { *stage = Stage::Consumed })
        });
    } else if snapshot.is_join_waker_set() {
        header.join_waker.with(|w| {
            // SAFETY: JOIN_WAKER set and COMPLETE published by us: the handle
            // no longer writes the slot.
            if let Some(w) = unsafe { &*w } {
                // Through the panic runner: a panicking waker must not skip the
                // callbacks and the reference release below (nor kill the worker).
                run_reporting("a join waker", || w.wake_by_ref());
            }
        });
    }
    if snapshot.has_callbacks() {
        fire_done_callbacks(RawTask::from_header(ptr));
    }
    if header.state.ref_dec(1 + usize::from(released)) {
        // SAFETY: those were the last references.
        unsafe { dealloc::<F, S>(ptr) }
    }
}

/// Hands the registered done callbacks to the loop, in registration order. Only
/// called when completion saw `HAS_CALLBACKS` (see `State::set_has_callbacks`).
fn fire_done_callbacks(raw: RawTask) {
    let callbacks = raw.header().with_cold(|c| c.callbacks.take());
    if !callbacks.is_empty() {
        schedule_callbacks(raw, callbacks);
    }
}

/// Runs `callbacks` soon on the task's loop, each once, in order.
pub(crate) fn schedule_callbacks(raw: RawTask, callbacks: DoneCallbacks<TaskRef>) {
    let task = TaskRef::from_raw_inc(raw);
    raw.call_soon(Box::new(move || callbacks.fire(&task)));
}

/// # Safety
///
/// A counted `Runnable` reference with `NOTIFIED` set is being handed over.
unsafe fn schedule<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: live cell.
    let cell = unsafe { cell::<F, S>(ptr) };
    cell.scheduler.schedule(crate::Runnable::from_raw(ptr));
}

/// # Safety
///
/// The last reference was released.
unsafe fn dealloc<F: Future, S>(ptr: NonNull<Header>) {
    // SAFETY: the cell came from Box::leak in `allocate`; no references remain.
    let cell = unsafe { Box::from_raw(ptr.cast::<Cell<F, S>>().as_ptr()) };
    // A panicking output or scheduler drop must not unwind into runtime code.
    run_reporting(
        "a task's output or scheduler, dropped at free,",
        move || drop(cell),
    );
}

/// # Safety
///
/// `dst` points to a `Poll<Result<Result<F::Output, TaskError>,
/// InvalidStateError>>`; the caller is the handle.
unsafe fn try_read_output<F: Future, S>(ptr: NonNull<Header>, dst: *mut (), waker: &Waker) {
    let raw = RawTask::from_header(ptr);
    if raw.set_join_waker(waker) {
        // SAFETY: complete, JOIN_INTEREST held by the caller: the output is ours.
        let out = unsafe { take::<F, S>(ptr) };
        // SAFETY: caller guarantees dst's type.
        unsafe {
            *(dst as *mut Poll<Result<Result<F::Output, TaskError>, InvalidStateError>>) =
                Poll::Ready(out)
        };
    }
}

/// # Safety
///
/// `dst` points to a `Result<Result<F::Output, TaskError>, InvalidStateError>`;
/// the caller is the handle.
unsafe fn take_output<F: Future, S>(ptr: NonNull<Header>, dst: *mut ()) {
    // SAFETY: live cell.
    if unsafe { ptr.as_ref() }.state.load().is_complete() {
        // SAFETY: as in try_read_output; dst's type is guaranteed by the caller.
        unsafe {
            *(dst as *mut Result<Result<F::Output, TaskError>, InvalidStateError>) =
                take::<F, S>(ptr)
        };
    }
}

/// # Safety
///
/// Complete, and the caller is the handle (owner of the output).
unsafe fn take<F: Future, S>(
    ptr: NonNull<Header>,
) -> Result<Result<F::Output, TaskError>, InvalidStateError> {
    // SAFETY: live cell.
    let cell = unsafe { cell::<F, S>(ptr) };
    let out = cell.stage.with_mut(|stage| {
        // SAFETY: the output is the handle's alone once COMPLETE is observed.
        match unsafe { &mut *stage } {
            // The result cell's take rule: a second take is `ResultTaken`.
            Stage::Finished(outcome) => outcome.take(),
            // Dropped with the handle's interest gone; only the handle takes.
            _ => Err(InvalidStateError::ResultTaken),
        }
    })?;
    // A value stored while a cancellation was pending: the task ended
    // cancelled (see `State::to_complete`); the value is dropped.
    if out.is_ok() && cell.header.state.load().is_ended_cancelled() {
        drop(out);
        return Ok(Err(TaskError::Cancelled(cell.header.cancelled_error())));
    }
    Ok(out)
}

/// # Safety
///
/// Complete, and the caller is the handle.
unsafe fn drop_output<F: Future, S>(ptr: NonNull<Header>) {
    // SAFETY: live cell.
    let cell = unsafe { cell::<F, S>(ptr) };
    run_reporting("a task's output, dropped with its handle,", || {
        // SAFETY: the output is the handle's once COMPLETE is observed.
        cell.stage
            .with_mut(|stage| unsafe { *stage = Stage::Consumed })
    });
}

/// # Safety
///
/// The caller set `RUNNING` via `to_running_for_shutdown` and holds a reference.
unsafe fn shutdown<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: live cell.
    let cell = unsafe { cell::<F, S>(ptr) };
    cell.header.with_cold(|c| {
        c.cancel_message
            .get_or_insert_with(|| Arc::from("runtime is shut down"));
    });
    // `complete` releases one reference: take it for the shutdown.
    cell.header.state.ref_inc();
    // SAFETY: RUNNING is ours.
    unsafe { cancel_future(cell, ptr) }
}

/// # Safety
///
/// Live task.
unsafe fn call_soon<F: Future + 'static, S: Schedule>(
    ptr: NonNull<Header>,
    f: Box<dyn FnOnce() + Send>,
) {
    // SAFETY: live cell.
    let cell = unsafe { cell::<F, S>(ptr) };
    cell.scheduler.call_soon(f);
}

// ----- wakers -----

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

fn raw_waker(ptr: NonNull<Header>) -> RawWaker {
    RawWaker::new(ptr.as_ptr() as *const (), &WAKER_VTABLE)
}

unsafe fn waker_clone(data: *const ()) -> RawWaker {
    // SAFETY: wakers are only made from live task pointers they hold a reference to.
    let ptr = unsafe { NonNull::new_unchecked(data as *mut Header) };
    RawTask::from_header(ptr).ref_inc();
    raw_waker(ptr)
}

unsafe fn waker_wake(data: *const ()) {
    // SAFETY: as waker_clone; this consumes the waker's reference.
    let raw = RawTask::from_header(unsafe { NonNull::new_unchecked(data as *mut Header) });
    match raw.header().state.to_notified_by_val() {
        ToNotified::Submit => raw.schedule(),
        ToNotified::Nothing => {}
        // SAFETY: the waker's reference was the last.
        ToNotified::Dealloc => unsafe { (raw.header().vtable.dealloc)(raw.header_ptr()) },
    }
}

unsafe fn waker_wake_by_ref(data: *const ()) {
    // SAFETY: as waker_clone.
    RawTask::from_header(unsafe { NonNull::new_unchecked(data as *mut Header) }).wake_by_ref();
}

unsafe fn waker_drop(data: *const ()) {
    // SAFETY: as waker_clone; this releases the waker's reference.
    RawTask::from_header(unsafe { NonNull::new_unchecked(data as *mut Header) }).ref_dec();
}
