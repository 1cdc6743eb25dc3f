//! The raw task: one heap allocation holding the header (`header.rs`), the
//! scheduler, and the future or its output; and the harness that allocates,
//! polls, cancels and completes it.
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
//! | stage: Running(F) | Finished(Result<F::Output, TaskError>) | Consumed |
//! +---------------------------------------------------------------+
//! ```
//!
//! The output is taken by the result cell's rule (`result_cell.rs`), as a
//! promise's or a `ConcurrentFuture`'s is: moved out once, then
//! `ResultTaken`; the error it ended with stays in `cold` for `exception()`
//! (the `Stage` doc says why the stage is not an `Outcome`); the done callbacks
//! are the same `DoneCallbacks` list, in `cold`; the join waker is the one
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

use crate::context;
use crate::error::{Cancelled, InvalidStateError, TaskError};
use crate::header::{Header, RawTask, TaskRef, Vtable};
use crate::id::TaskId;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::{AtomicU32, Mutex};
use crate::panic::{catch_panic, discard, run_reporting};
use crate::schedule::Schedule;
use crate::state::{Outcome, State, ToIdle, ToNotified, ToRunning};
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

#[repr(C)]
struct Cell<F: Future, S> {
    header: Header,
    scheduler: S,
    stage: UnsafeCell<Stage<F>>,
}

/// The task's side of the result cell's rule (`result_cell.rs`): `Finished`
/// is a set outcome, `Consumed` one taken (or dropped unread). The kept error
/// a taken `Outcome` remembers lives in the header's cold data here, so the
/// stage stays as small as the output itself (a plain `Result` uses
/// `TaskError`'s niche; a third variant would not, and would push the task's
/// allocation past the size the compiler copies without `memcpy`).
enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, TaskError>),
    Consumed,
}

/// What to do with a task just built.
pub(crate) enum Built {
    /// Registered: the first `Runnable` should be scheduled.
    Ready,
    /// The registry is closed: the task is already complete (cancelled).
    Refused,
}

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
    let raw = RawTask::from_header(ptr);
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
        unsafe { *stage = Stage::Finished(out) }
    });
    cell.header.with_cold(|c| {
        c.cancel_message = cancelled.message_arc();
        c.error = Some(TaskError::Cancelled(cancelled));
    });
    cell.header.state.set_refused();
    (raw, Built::Refused)
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
        future_type_name: std::any::type_name::<F>,
        with_output: with_output::<F, S>,
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
    let polls = cell.header.polls.with_mut(|p| {
        // SAFETY: RUNNING is ours.
        unsafe {
            *p = (*p).wrapping_add(1);
            *p
        }
    });
    let _enter = context::enter_task(ptr.cast(), polls);
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
    // What the task awaited at its last poll is what this delivery cancels.
    // SAFETY: RUNNING is ours.
    let polls = cell.header.polls.with(|p| unsafe { *p });
    let _enter = context::enter_task(ptr.cast(), polls);
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
    // The error, kept for a report if nobody will read it (below).
    let mut failed = None;
    let outcome = match &output {
        Ok(_) => Outcome::Value,
        Err(TaskError::Cancelled(_)) => Outcome::Cancelled,
        Err(error) => {
            let error = error.clone();
            failed = Some(error.clone());
            header.with_cold(|c| c.error = Some(error));
            Outcome::Error
        }
    };
    // Leave the registry first, so that whoever sees the task complete (the
    // joiner, woken below) no longer counts it as live.
    let released = cell.scheduler.registry().remove(RawTask::from_header(ptr));
    // SAFETY: RUNNING is ours; the output is written before COMPLETE is published.
    cell.stage
        .with_mut(|stage| unsafe { *stage = Stage::Finished(output) });
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
    // An error with the handle gone: no handle will retrieve it, but a
    // done callback still may (asyncio reports when the last reference
    // goes, after the callbacks ran): reported after them, if still unread.
    let mut unretrieved = failed.filter(|_| !snapshot.is_join_interested());
    if snapshot.has_callbacks() {
        unretrieved = fire_done_callbacks(RawTask::from_header(ptr), unretrieved);
    }
    if let Some(error) = unretrieved {
        report_unretrieved(cell, ptr, error);
    }
    if header.state.ref_dec(1 + usize::from(released)) {
        // SAFETY: those were the last references.
        unsafe { dealloc::<F, S>(ptr) }
    }
}

/// Hands the registered done callbacks to the loop, in registration order,
/// then `unretrieved` to the exception handler if they left it unread. Only
/// called when completion saw `HAS_CALLBACKS` (see `State::set_has_callbacks`).
/// With no callback left to run, gives `unretrieved` back to report now.
fn fire_done_callbacks(raw: RawTask, unretrieved: Option<TaskError>) -> Option<TaskError> {
    let callbacks = raw.header().with_cold(|c| c.callbacks.take());
    if callbacks.is_empty() {
        return unretrieved;
    }
    match unretrieved {
        None => crate::header::schedule_callbacks(raw, callbacks),
        Some(error) => {
            let task = TaskRef::from_raw_inc(raw);
            raw.call_soon(Box::new(move || {
                callbacks.fire(&task);
                if !crate::header::error_retrieved(task.raw()) {
                    crate::exception::report(None, unretrieved_context(task, error));
                }
            }));
        }
    }
    None
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
/// `dst` points to a `Poll<Result<F::Output, TaskError>>`; the caller is the
/// handle, which panics (as a finished future may) if polled after its result
/// was taken.
unsafe fn try_read_output<F: Future, S>(ptr: NonNull<Header>, dst: *mut (), waker: &Waker) {
    let raw = RawTask::from_header(ptr);
    if raw.set_join_waker(waker) {
        // SAFETY: complete, JOIN_INTEREST held by the caller: the output is ours.
        let Some(out) = (unsafe { take::<F, S>(ptr) }) else {
            panic!(
                "a weft Task polled after completion: {}",
                InvalidStateError::ResultTaken
            );
        };
        // SAFETY: caller guarantees dst's type.
        unsafe { *(dst as *mut Poll<Result<F::Output, TaskError>>) = Poll::Ready(out) };
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
                take::<F, S>(ptr).ok_or(InvalidStateError::ResultTaken)
        };
    }
}

/// # Safety
///
/// Complete, and the caller is the handle (owner of the output).
#[inline]
unsafe fn take<F: Future, S>(ptr: NonNull<Header>) -> Option<Result<F::Output, TaskError>> {
    // SAFETY: live cell.
    let cell = unsafe { cell::<F, S>(ptr) };
    let out = cell.stage.with_mut(|stage| {
        // SAFETY: the output is the handle's alone once COMPLETE is observed.
        // The result cell's take rule: the first take moves the outcome out;
        // after it (or after the output was dropped unread) there is none.
        match std::mem::replace(unsafe { &mut *stage }, Stage::Consumed) {
            Stage::Finished(out) => Some(out),
            _ => None,
        }
    })?;
    // A value stored while a cancellation was pending: the task ended
    // cancelled (see `State::to_complete`); the value is dropped.
    if out.is_ok() && cell.header.state.load().is_ended_cancelled() {
        drop(out);
        return Some(Err(TaskError::Cancelled(cell.header.cancelled_error())));
    }
    Some(out)
}

/// # Safety
///
/// Complete, and the caller is the handle (the output is its alone, and it
/// only reads it here).
unsafe fn with_output<F: Future, S>(ptr: NonNull<Header>, f: &mut dyn FnMut(*const ())) {
    // SAFETY: live cell.
    let cell = unsafe { cell::<F, S>(ptr) };
    cell.stage.with(|stage| {
        // SAFETY: the output is the handle's once COMPLETE is observed, and the
        // handle does not take it while it reads it.
        match unsafe { &*stage } {
            Stage::Finished(Ok(value)) => f(value as *const F::Output as *const ()),
            _ => f(std::ptr::null()),
        }
    });
}

/// # Safety
///
/// Complete, and the caller is the handle.
unsafe fn drop_output<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: live cell.
    let cell = unsafe { cell::<F, S>(ptr) };
    // An error still in the stage was never taken; unless `exception()`
    // read it, it was never retrieved. (Checked on the stage first, so a
    // handle dropped after its value was taken costs no lock.)
    // SAFETY: the output is the handle's once COMPLETE is observed.
    let unread = cell.stage.with(|stage| match unsafe { &*stage } {
        Stage::Finished(Err(e)) if !e.is_cancelled() => Some(e.clone()),
        _ => None,
    });
    run_reporting("a task's output, dropped with its handle,", || {
        // SAFETY: as above.
        cell.stage
            .with_mut(|stage| unsafe { *stage = Stage::Consumed })
    });
    if let Some(error) = unread {
        let retrieved = cell
            .header
            .peek_cold(|c| c.is_some_and(|c| c.error_retrieved));
        if !retrieved {
            report_unretrieved(cell, ptr, error);
        }
    }
}

/// asyncio's "Task exception was never retrieved": hands the error to the
/// task's runtime's exception handler, on this thread. The caller holds a
/// reference (the runner's, or the handle's).
#[cold]
#[inline(never)]
fn report_unretrieved<F: Future + 'static, S: Schedule>(
    cell: &Cell<F, S>,
    ptr: NonNull<Header>,
    error: TaskError,
) {
    let task = TaskRef::from_raw_inc(RawTask::from_header(ptr));
    crate::exception::report(Some(&cell.scheduler), unretrieved_context(task, error));
}

/// The context of asyncio's "Task exception was never retrieved".
fn unretrieved_context(task: TaskRef, error: TaskError) -> crate::ExceptionContext {
    crate::ExceptionContext::new("Task exception was never retrieved")
        .with_error(error)
        .with_task(task)
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
