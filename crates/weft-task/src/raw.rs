//! The raw task: one heap allocation holding the header (`header.rs`), the
//! scheduler, and the future or its output; and the harness that allocates,
//! polls, cancels and completes it.
//!
//! # Layout
//!
//! ```text
//! Cell<F, S> (repr(C), one Box)
//! +---------------------------------------------------------------+
//! | Header (104 bytes): state word, vtable, id, spawn location,    |
//! |         registry slot, cancelling count, poll count, join     |
//! |         waker, await record (boxed on first use), context     |
//! |         variables, cold (name, message, done callbacks,       |
//! |         error: boxed on first use) behind a one-byte lock     |
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
//! Type-erased pointers (`NonNull<Header>`) travel in [`Runnable`](crate::Runnable)s, wakers,
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
//! | `intercept_depth` | the thread that set `RUNNING`                             |
//! | `polls`          | written by the thread that set `RUNNING`; read by anyone (a dump) |
//! | `last_worker`    | written by a worker about to run a `Runnable` (`set_worker`); read by anyone |
//! | `awaiting`       | the thread holding `RUNNING`: its leaf futures while polled, the runner, a borrowing `cancel()` (`awaiting.rs`) |
//! | `cold.draining`  | the thread that set `RUNNING` (under the cold lock, taken out while polled) |
//! | `vars`           | written at spawn, then by the thread that set `RUNNING` under the `cold` lock; read by it freely, by others (`TaskRef::context`) under the lock; dropped at free |
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
//! it intercepts". A request made during a poll that ends `Pending` with
//! nothing intercepting is delivered at the end of that poll, in the same
//! read that would release `RUNNING` (`State::to_idle`).
//!
//! The drop delivers the cancellation down the await chain (`chain.rs`): the
//! tasks the future was awaiting are cancelled, and handed back as what the
//! task must wait for. If there are any, the task does not complete yet but
//! enters the **draining** stage:
//!
//! | stage    | `stage`    | state bits        | `cold.draining`        | a run of the task        |
//! |----------|------------|-------------------|------------------------|--------------------------|
//! | running  | `Running`  | —                 | `None`                 | polls (or delivers)      |
//! | draining | `Consumed` | `DRAINING`        | the ending and targets | passes a new request on, polls the targets; completes once all ended |
//! | complete | `Finished` / `Consumed` | `COMPLETE` | `None`             | nothing (`ToRunning::Complete`) |
//!
//! `to_running` reports `DRAINING` as it reports a request (`cancel`), and a
//! draining task's `intercept_depth` is 0, so the poll path tests nothing
//! more than it did before draining existed.
//!
//! A draining task is idle between runs like any pending task, woken by its
//! targets' ends (each registered with the task's waker and re-checked in the
//! same step, the target's own join or waiter protocol: no wake-up is lost),
//! and by `cancel()`. Shutdown ends it at once, and a cancellation delivered
//! by shutdown waits for nothing.
//!
//! # Safety
//!
//! Every `unsafe fn` here takes a pointer to a live task whose vtable matches
//! `F` and `S`; the reference count (see `state.rs`) keeps it live, and the state
//! bits above grant the exclusive access each function documents.

use crate::awaiting;
use crate::chain::{self, Drains};
use crate::context;
use crate::error::{Cancelled, InvalidStateError, TaskError};
use crate::header::{Draining, Header, RawTask, TaskRef, Vtable};
use crate::id::TaskId;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::{AtomicU32, Mutex, Ordering};
use crate::panic::{catch_panic, discard, run_reporting};
use crate::schedule::Schedule;
use crate::state::{Outcome, State, ToIdle, ToNotified, ToRunning};
use crate::trace;
use crate::varmap::{self, Snapshot};
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
/// and drop the task only on the thread that spawned it (its
/// `Schedule::local_owner` != 0 tells the registry to leave its shutdown to
/// that thread).
pub(crate) unsafe fn allocate<F, S>(
    future: F,
    scheduler: S,
    location: &'static Location<'static>,
) -> (RawTask, Built)
where
    F: Future + 'static,
    S: Schedule,
{
    // Written into its allocation in place rather than built on the stack
    // and moved into a `Box`: a cell past the size the compiler copies with
    // a few moves would cost a `memcpy` per spawn. Allocated as `Box` would
    // (the global allocator, the cell's layout), so `dealloc` frees it as a
    // `Box`. (`Box::new_uninit` is newer than the workspace's MSRV.)
    let layout = std::alloc::Layout::new::<Cell<F, S>>();
    // SAFETY: the layout is not zero-sized: a cell starts with its header.
    let at = unsafe { std::alloc::alloc(layout) }.cast::<Cell<F, S>>();
    if at.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    let header = Header {
        state: State::new(),
        vtable: &Vtables::<F, S>::PLAIN,
        id: TaskId::next(),
        location,
        slot: UnsafeCell::new(None),
        cancelling: AtomicU32::new(0),
        intercept_depth: UnsafeCell::new(0),
        polls: AtomicU32::new(0),
        last_worker: AtomicU32::new(crate::header::NO_WORKER),
        // The thread's cached reading on a worker (`clock.rs`).
        spawned_ms: crate::clock::spawn_ms(),
        join_waker: UnsafeCell::new(None),
        awaiting: UnsafeCell::new(ManuallyDrop::new(None)),
        // A copy of the spawner's context: one `Arc` clone, none if empty.
        vars: UnsafeCell::new(ManuallyDrop::new(varmap::snapshot())),
        cold_lock: Mutex::new(()),
        cold: UnsafeCell::new(None),
    };
    // SAFETY: `at` is a fresh allocation for a `Cell<F, S>`, not shared; each
    // field is written once, all of them before it is used as a cell.
    unsafe {
        std::ptr::addr_of_mut!((*at).header).write(header);
        std::ptr::addr_of_mut!((*at).scheduler).write(scheduler);
        std::ptr::addr_of_mut!((*at).stage).write(UnsafeCell::new(Stage::Running(future)));
    }
    // Whether the task gets a span is decided once, here: one inlined level
    // test, and the rest out of line. A task without one keeps the plain
    // vtable and pays nothing per poll (`trace.rs`).
    if trace::may_want_spans() {
        // SAFETY: the cell was just written and is not shared yet.
        unsafe { give_span::<F, S>(at) };
    }
    // SAFETY: checked non-null above.
    let ptr = unsafe { NonNull::new_unchecked(at) }.cast::<Header>();
    let raw = RawTask::from_header(ptr);
    // SAFETY: `ptr` is the cell just written, whose first field (repr(C))
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

/// The two vtables of a task type: `PLAIN`, and `TRACED` for a task with a
/// `tracing` span, whose `run` and `shutdown` enter the span around the
/// plain ones (`trace.rs`).
struct Vtables<F, S>(std::marker::PhantomData<(F, S)>);

impl<F: Future + 'static, S: Schedule> Vtables<F, S> {
    const PLAIN: Vtable = Vtable {
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
        local_owner: local_owner::<F, S>,
    };

    const TRACED: Vtable = Vtable {
        run: run_traced::<F, S>,
        shutdown: shutdown_traced::<F, S>,
        ..Self::PLAIN
    };
}

/// Gives the task being allocated at `at` its span and the traced vtable,
/// if the subscriber current on this thread wants a span for it.
///
/// # Safety
///
/// `at` is a fully written cell that nothing else can reach yet.
#[cold]
#[inline(never)]
unsafe fn give_span<F: Future + 'static, S: Schedule>(at: *mut Cell<F, S>) {
    // SAFETY: the caller's promise: written, and ours alone.
    let header = unsafe { &mut (*at).header };
    if let Some(cold) = trace::cold_with_span(header.id, header.location) {
        header.vtable = &Vtables::<F, S>::TRACED;
        *header.lock_cold() = Some(cold);
    }
}

/// `run` inside the task's span.
///
/// # Safety
///
/// As `run`.
unsafe fn run_traced<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the caller's promise is `run`'s, passed on.
    unsafe { trace::run_in_span(ptr, run::<F, S>) }
}

/// `shutdown` inside the task's span.
///
/// # Safety
///
/// As `shutdown`.
unsafe fn shutdown_traced<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the caller's promise is `shutdown`'s, passed on.
    unsafe { trace::shutdown_in_span(ptr, shutdown::<F, S>) }
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
    /// Deliver the pending cancellation (or, draining, take the next step).
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
    // `cancel` includes draining (a draining task's depth is 0).
    let polled = if cancel && depth == 0 {
        Polled::Cancel
    } else {
        // SAFETY: RUNNING is ours.
        unsafe { poll_future(cell, ptr) }
    };
    match polled {
        Polled::Pending => {
            // SAFETY: RUNNING is ours.
            let depth = header.intercept_depth.with(|d| unsafe { *d });
            // A request that arrived (or was re-raised) during the poll with
            // no wrapper to catch it is delivered now rather than a poll
            // later: `to_idle` looks for it in the same read.
            // SAFETY: RUNNING is ours.
            unsafe { to_idle(cell, ptr, depth == 0) }
        }
        // SAFETY: RUNNING is ours.
        Polled::Ready(output) => unsafe { complete(cell, ptr, output) },
        // SAFETY: RUNNING is ours.
        Polled::Cancel => unsafe { deliver_cancel(cell, ptr) },
    }
}

/// The task stays pending: release `RUNNING` (re-submitting the task if it
/// was woken meanwhile), unless `deliverable` and a cancellation is
/// requested, which is delivered now (`deliver_cancel`).
///
/// # Safety
///
/// The caller holds `RUNNING` and the runner's reference.
#[inline]
unsafe fn to_idle<F: Future + 'static, S: Schedule>(
    cell: &Cell<F, S>,
    ptr: NonNull<Header>,
    deliverable: bool,
) {
    match cell.header.state.to_idle(deliverable) {
        ToIdle::Idle => {}
        ToIdle::Notified => cell.scheduler.yield_now(crate::Runnable::from_raw(ptr)),
        // SAFETY: the runner's reference was the last.
        ToIdle::Dealloc => unsafe { dealloc::<F, S>(ptr) },
        // SAFETY: RUNNING is still ours (`to_idle` changed nothing).
        ToIdle::Cancel => unsafe { deliver_cancel(cell, ptr) },
    }
}

/// The runner's slow path: delivers the pending cancellation, or takes the
/// next step of a draining task; then completes the task or leaves it idle.
/// Out of line, so the poll path stays as small as it was.
///
/// # Safety
///
/// The caller holds `RUNNING` and the runner's reference.
#[inline(never)]
unsafe fn deliver_cancel<F: Future + 'static, S: Schedule>(
    cell: &Cell<F, S>,
    ptr: NonNull<Header>,
) {
    let polled = if cell.header.state.load().is_draining() {
        // SAFETY: RUNNING is ours; the task is draining.
        unsafe { drain(cell, ptr) }
    } else {
        // SAFETY: RUNNING is ours.
        unsafe { cancel_future(cell, ptr, true) }
    };
    match polled {
        // SAFETY: RUNNING is ours. `false`: a request made during this
        // delivery waits for the next run (a `cancel()` set `NOTIFIED`, so
        // `to_idle` re-submits the task); `true` would deliver again here.
        Polled::Pending => unsafe { to_idle(cell, ptr, false) },
        // SAFETY: RUNNING is ours.
        Polled::Ready(output) => unsafe { complete(cell, ptr, output) },
        Polled::Cancel => unreachable!("a delivered cancellation ends or drains"),
    }
}

/// How a poll (or the drop of the future) was put in the task's context
/// variables; [`leave_task_context`] undoes it.
///
/// The common case costs two thread-local reads: a task whose context is
/// empty, polled where no context is entered (`varmap::is_clear`), runs
/// in the thread's clear context as it is (a `set` there names the running
/// task as the owner), and only if the poll left something there is it moved
/// into the task. Otherwise the task's context is entered around the poll,
/// and written back only if the poll changed it. Two plain calls around the
/// poll (in `poll_future` and `drop_future`) rather than a closure, so the
/// poll stays inlined in `run`.
enum TaskContext {
    Clear,
    Entered(varmap::Entered),
}

/// # Safety
///
/// The caller holds `RUNNING`.
#[inline(always)]
unsafe fn enter_task_context(header: &Header) -> TaskContext {
    // SAFETY: RUNNING is ours, so no other thread writes `vars`.
    let empty = header.vars.with(|v| unsafe { (*v).is_none() });
    if empty && varmap::is_clear() {
        return TaskContext::Clear;
    }
    // SAFETY: RUNNING is ours (the caller's promise).
    TaskContext::Entered(unsafe { enter_slow(header) })
}

/// # Safety
///
/// The caller holds `RUNNING`.
#[cold]
#[inline(never)]
unsafe fn enter_slow(header: &Header) -> varmap::Entered {
    // SAFETY: RUNNING is ours, so no other thread writes `vars`.
    let vars = header.vars.with(|v| unsafe { Snapshot::clone(&*v) });
    varmap::enter(vars, varmap::TASK_OWNER | header.id.as_u64())
}

/// # Safety
///
/// The caller holds `RUNNING`; `scope` came from [`enter_task_context`] on
/// this thread, for this task, with nothing entered or left since.
#[inline(always)]
unsafe fn leave_task_context(header: &Header, scope: TaskContext) {
    match scope {
        TaskContext::Clear if varmap::is_clear() => {}
        // SAFETY: RUNNING is ours (the caller's promise).
        TaskContext::Clear => unsafe { leave_slow(header, varmap::take_current()) },
        // SAFETY: as above.
        TaskContext::Entered(entered) => unsafe { leave_slow(header, entered.leave().vars) },
    }
}

/// Keeps what the poll left as the task's context, if it changed.
///
/// # Safety
///
/// The caller holds `RUNNING`.
#[cold]
#[inline(never)]
unsafe fn leave_slow(header: &Header, left: Snapshot) {
    // SAFETY: RUNNING is ours, so no other thread writes `vars`.
    let changed = header.vars.with(|v| !varmap::same(unsafe { &*v }, &left));
    if changed {
        // SAFETY: RUNNING is ours.
        unsafe { store_vars(header, left) };
    }
}

/// Makes `vars` the task's context (see `Header::vars` for the rule).
///
/// # Safety
///
/// The caller holds `RUNNING`.
unsafe fn store_vars(header: &Header, vars: Snapshot) {
    let old = {
        let _readers = header.lock_cold();
        header.vars.with_mut(|v| {
            // SAFETY: RUNNING is ours and the cold lock keeps the other
            // readers (`TaskRef::context`) out while it is written.
            unsafe { std::mem::replace(&mut **v, vars) }
        })
    };
    // Outside the lock: the last reference to a value runs its `Drop`.
    drop(old);
}

/// # Safety
///
/// The caller holds `RUNNING`.
unsafe fn poll_future<F: Future, S>(cell: &Cell<F, S>, ptr: NonNull<Header>) -> Polled<F::Output> {
    // SAFETY: a waker borrowed from the runner's reference; ManuallyDrop keeps it
    // from releasing a reference it never took.
    let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw_waker(ptr)) });
    let mut cx = Context::from_waker(&waker);
    // Load and store, not an RMW: only this thread writes it (RUNNING);
    // others (a dump) read it.
    let polls = cell.header.polls.load(Ordering::Relaxed).wrapping_add(1);
    cell.header.polls.store(polls, Ordering::Relaxed);
    let _enter = context::enter_task(ptr.cast(), polls);
    // SAFETY: RUNNING is ours (for this and the two leaves below).
    let scope = unsafe { enter_task_context(&cell.header) };
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
    cell.header.intercept_depth.with_mut(|d| {
        // SAFETY: RUNNING is ours.
        unsafe { *d = intercepting }
    });
    let output = match result {
        Ok(Poll::Pending) => {
            // SAFETY: RUNNING is ours.
            unsafe { leave_task_context(&cell.header, scope) };
            return Polled::Pending;
        }
        Ok(Poll::Ready(value)) => Ok(value),
        Err(panicked) => Err(TaskError::Panicked(panicked)),
    };
    // Finished (or panicked): drop the future now, still inside the task's
    // context. A panicking destructor becomes the task's error.
    let dropped = catch_panic(|| {
        cell.stage.with_mut(|stage| {
            // SAFETY: RUNNING gives exclusive access to the stage.
            unsafe { *stage = Stage::Consumed }
        })
    });
    // SAFETY: RUNNING is ours.
    unsafe { leave_task_context(&cell.header, scope) };
    match dropped {
        Ok(()) => Polled::Ready(output),
        Err(panicked) => {
            drop(output);
            Polled::Ready(Err(TaskError::Panicked(panicked)))
        }
    }
}

/// Drops the future in place (with the task context entered so destructors see
/// it), delivering `delivering` to what it awaited. A panic while dropping
/// becomes the task's error. Returns what the task must wait for before it
/// ends (tasks it was awaiting, cancelled now; `chain.rs`).
///
/// # Safety
///
/// The caller holds `RUNNING`.
unsafe fn drop_future<F: Future, S>(
    cell: &Cell<F, S>,
    ptr: NonNull<Header>,
    delivering: &Cancelled,
) -> (Result<(), TaskError>, Drains) {
    // What the task awaited at its last poll is what this delivery cancels.
    let polls = cell.header.polls.load(Ordering::Relaxed);
    // SAFETY: RUNNING is ours (for this and the clear below).
    let passed = unsafe { awaiting::passed_for_delivery(&cell.header, polls) };
    // SAFETY: as above. The future goes: it awaits nothing any more.
    unsafe { awaiting::clear(&cell.header) };
    let _enter = context::enter_task(ptr.cast(), polls);
    let delivery = chain::enter_cancel_delivery(delivering, (ptr.as_ptr() as usize, polls), passed);
    // SAFETY: RUNNING is ours (for this and the leave below).
    let scope = unsafe { enter_task_context(&cell.header) };
    let result = catch_panic(|| {
        cell.stage.with_mut(|stage| {
            // SAFETY: RUNNING gives exclusive access to the stage.
            unsafe { *stage = Stage::Consumed }
        })
    });
    let drains = delivery.finish();
    // SAFETY: RUNNING is ours.
    unsafe { leave_task_context(&cell.header, scope) };
    context::take_intercept_count();
    (result.map_err(TaskError::Panicked), drains)
}

/// Delivers the pending cancellation: drops the future and ends the task
/// `Cancelled` — at once, or (`may_drain`, and it was awaiting tasks that
/// are still running) after those have ended, as a draining task. A task
/// draining already (only shutdown calls this then) ends at once.
///
/// # Safety
///
/// The caller holds `RUNNING`.
unsafe fn cancel_future<F: Future + 'static, S: Schedule>(
    cell: &Cell<F, S>,
    ptr: NonNull<Header>,
    may_drain: bool,
) -> Polled<F::Output> {
    let header = &cell.header;
    if header.state.load().is_draining() {
        // Shutdown of a draining task: nobody will wake it any more.
        let draining = header.with_cold(|c| c.draining.take());
        return Polled::Ready(Err(draining
            .expect("a draining task has its drains")
            .ending));
    }
    // Delivered from here on: a request made while the future is dropped is
    // a new one, to pass on once draining (it also re-notifies the task).
    // Cleared before the drop, not after, or such a request would be lost.
    header.state.clear_cancel_request();
    let cancelled = header.cancelled_error();
    // SAFETY: RUNNING is ours.
    let (dropped, drains) = unsafe { drop_future(cell, ptr, &cancelled) };
    let ending = match dropped {
        Ok(()) => TaskError::Cancelled(cancelled),
        // An error raised during cleanup wins over the cancellation.
        Err(panicked) => panicked,
    };
    if !may_drain || drains.is_empty() {
        return Polled::Ready(Err(ending));
    }
    header.with_cold(|c| c.draining = Some(Box::new(Draining { ending, drains })));
    header.state.set_draining();
    // SAFETY: RUNNING is ours.
    unsafe { drain(cell, ptr) }
}

/// One step of a draining task: passes a new cancellation request on to what
/// it waits for, then polls those; `Ready` with its ending once all have
/// ended, `Pending` (their ends registered to wake it) before.
///
/// # Safety
///
/// The caller holds `RUNNING`, and the task is draining.
unsafe fn drain<F: Future, S>(cell: &Cell<F, S>, ptr: NonNull<Header>) -> Polled<F::Output> {
    let header = &cell.header;
    // Out of the cold lock while polling: the targets' protocols take their
    // own locks and may run wakers.
    let Some(mut draining) = header.with_cold(|c| c.draining.take()) else {
        unreachable!("a draining task has its drains");
    };
    if header.state.clear_cancel_request() {
        draining.drains.cancel_all(&header.cancelled_error());
    }
    // SAFETY: a waker borrowed from the runner's reference, as in `poll_future`.
    let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw_waker(ptr)) });
    if draining
        .drains
        .poll(&mut Context::from_waker(&waker))
        .is_ready()
    {
        return Polled::Ready(Err(draining.ending));
    }
    header.with_cold(|c| c.draining = Some(draining));
    Polled::Pending
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
    // The runtime event (`events.rs`): one relaxed load without a subscriber.
    crate::events::ended(|| header.id, &output);
    // The future is gone by now (dropped by `poll_future` or `cancel_future`),
    // and with it what it awaited: the record's reference goes too, so two
    // tasks that awaited each other do not keep each other alive.
    // SAFETY: RUNNING is ours.
    unsafe { awaiting::clear(header) };
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
    cell.stage.with_mut(|stage| {
        // SAFETY: RUNNING is ours; the output is written before COMPLETE is
        // published.
        unsafe { *stage = Stage::Finished(output) }
    });
    let snapshot = header.state.to_complete(outcome);
    if !snapshot.is_join_interested() {
        // Nobody will read it: drop it here, guarding against a panicking drop.
        run_reporting("a task's output, dropped unread,", || {
            cell.stage.with_mut(|stage| {
                // SAFETY: COMPLETE without JOIN_INTEREST: the runner owns the
                // output.
                unsafe { *stage = Stage::Consumed }
            })
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

/// Frees the task, now or, if this is reached from inside another task's
/// free on this thread, once that returns (`dealloc.rs`: a long chain of
/// tasks each holding the last reference to the next is freed in a loop,
/// not a recursion).
///
/// # Safety
///
/// The last reference was released.
unsafe fn dealloc<F: Future, S>(ptr: NonNull<Header>) {
    // The free is called directly (not through `dealloc::free_or_defer`'s
    // pointer), so that it is inlined here as it was before the queue.
    match crate::dealloc::enter() {
        Some(outermost) => {
            // SAFETY: the last reference was released: the free may run,
            // once (the thread that released it calls this once).
            unsafe { free::<F, S>(ptr.cast()) };
            drop(outermost);
        }
        // SAFETY: as above; `enter` said a free runs on this thread.
        None => unsafe { crate::dealloc::defer(ptr.cast(), free::<F, S>) },
    }
}

/// Drops the cell and frees its allocation.
///
/// # Safety
///
/// `ptr` is a `Cell<F, S>` whose last reference was released; called once.
#[inline(always)]
unsafe fn free<F: Future, S>(ptr: NonNull<()>) {
    // SAFETY: the cell was allocated in `allocate` with the global allocator and
    // its own layout, as a `Box` is; no references remain.
    let cell = unsafe { Box::from_raw(ptr.cast::<Cell<F, S>>().as_ptr()) };
    // The context's one drop (`Header::vars` is `ManuallyDrop`, so the
    // header needs no drop glue of its own for it).
    let vars = cell.header.vars.with_mut(|v| {
        // SAFETY: no references remain; taken once, here.
        unsafe { ManuallyDrop::take(&mut *v) }
    });
    // A panicking output or scheduler drop must not unwind into runtime code.
    run_reporting(
        "a task's output or scheduler, dropped at free,",
        move || {
            drop(vars);
            drop(cell);
        },
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
    // handle dropped after its value was taken costs no lock, and drops
    // nothing.)
    // SAFETY: the output is the handle's once COMPLETE is observed.
    let (stored, unread) = cell.stage.with(|stage| match unsafe { &*stage } {
        Stage::Finished(Err(e)) if !e.is_cancelled() => (true, Some(e.clone())),
        Stage::Finished(_) => (true, None),
        _ => (false, None),
    });
    if !stored {
        return;
    }
    // The output may hold the last handle of another task, whose output
    // may hold the next...: dropped here by the outermost such drop (or
    // free) on this thread, and queued for it when inside one (`dealloc.rs`).
    match crate::dealloc::enter() {
        Some(outermost) => {
            run_reporting("a task's output, dropped with its handle,", || {
                cell.stage.with_mut(|stage| {
                    // SAFETY: as above.
                    unsafe { *stage = Stage::Consumed }
                })
            });
            drop(outermost);
        }
        None => {
            let taken = cell.stage.with_mut(|stage| {
                // SAFETY: as above.
                unsafe { std::mem::replace(&mut *stage, Stage::Consumed) }
            });
            if let Stage::Finished(output) = taken {
                let boxed = NonNull::from(Box::leak(Box::new(output))).cast();
                // SAFETY: `enter` said a free runs on this thread; the box
                // is dropped once, by `drop_boxed_output`, on this thread.
                unsafe { crate::dealloc::defer(boxed, drop_boxed_output::<F::Output>) };
            }
        }
    }
    if let Some(error) = unread {
        if !crate::header::error_retrieved(RawTask::from_header(ptr)) {
            report_unretrieved(cell, ptr, error);
        }
    }
}

/// Drops a task's output that `drop_output` moved out and queued.
///
/// # Safety
///
/// `boxed` is a leaked `Box<Result<T, TaskError>>`, dropped once, here.
unsafe fn drop_boxed_output<T>(boxed: NonNull<()>) {
    // SAFETY: the caller's promise.
    let output = unsafe { Box::from_raw(boxed.cast::<Result<T, TaskError>>().as_ptr()) };
    run_reporting("a task's output, dropped with its handle,", move || {
        drop(output)
    });
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
    // Nothing runs any more: what the task awaited is cancelled, not waited for.
    // SAFETY: RUNNING is ours.
    let Polled::Ready(output) = (unsafe { cancel_future(cell, ptr, false) }) else {
        unreachable!("a cancellation without draining ends the task");
    };
    // SAFETY: RUNNING is ours.
    unsafe { complete(cell, ptr, output) }
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

/// The scheduler's local owner key (`Schedule::local_owner`).
///
/// # Safety
///
/// `ptr` is a live cell of this type.
unsafe fn local_owner<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) -> usize {
    // SAFETY: live cell.
    let cell = unsafe { cell::<F, S>(ptr) };
    cell.scheduler.local_owner()
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
