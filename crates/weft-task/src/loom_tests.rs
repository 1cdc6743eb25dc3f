//! Loom models of the task state machine, driving the real harness (`raw.rs`)
//! through a mock [`Schedule`] whose queue is a loom mutex.
//!
//! Run with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom \
//!     cargo test --release -p weft-task --lib loom_ -- --test-threads=2
//! ```
//!
//! # What the models can see
//!
//! * The task cell owns the mock scheduler, which holds a loom `Arc`: a task
//!   that is never freed makes loom report "Arc leaked"; `Inner::freed` counts
//!   scheduler drops (one per freed cell), so a double free shows as 2.
//! * The futures and outputs count how many were made and dropped (plain `std`
//!   atomics: loom runs every model thread on one OS thread, and the counts are
//!   only read after the joins).
//! * The harness polls futures and drops them and their outputs under
//!   `catch_unwind`, which would swallow a failed assertion (or a loom race
//!   report) raised there. A panic hook counts every panic on the test's thread,
//!   and each model asserts the count is still zero at its end.
//! * The handle's waker (`Flag`) writes a loom `UnsafeCell` on every clone,
//!   wake and drop, so a join waker used by two threads without a
//!   happens-before edge between them (a missing acquire in the join-waker
//!   protocol or in the last `ref_dec`) is reported as a race.
//! * The state word's `debug_assert!`s are compiled out (CI runs the models in
//!   release), so the models check outcomes, not transitions.
//! * Loom bounds preemptions (CI: 3 for these models) and prunes with DPOR; together they can
//!   skip an interleaving that needs a switch where the running thread only
//!   loads. Where a model depends on such a point, its future calls
//!   `loom::thread::yield_now()` there (see `YieldOnce`). A few orderings are
//!   only caught at a bound of 3, e.g. the acquire half of the last `ref_dec`,
//!   which is why CI runs these models at 3 (about 10 s).
//! * `context.rs` uses `std` thread-locals, which all loom threads of a
//!   model share (they are coroutines on one OS thread); the registry's home
//!   shard is a `loom::thread_local!`, so a task completed on another model
//!   thread than its spawner's leaves through `away`. The models keep each
//!   use of the task context on one loom thread at a time:
//!   the handle is only polled or dropped-while-awaited when the task's own
//!   poll cannot be preempted (its future does no loom operation) and no
//!   cancellation is being delivered.

use crate::header::RawTask;
use crate::{catch_cancel, DoneCallback, Runnable, Schedule, Spawned, Task, TaskError};
use crate::{TaskRef, TaskRegistry};
use loom::sync::{Arc, Mutex};
use loom::thread;
use std::cell::Cell;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

type StdArc<T> = std::sync::Arc<T>;

// ----- panics swallowed by the harness -----

thread_local! {
    static PANICS: Cell<usize> = const { Cell::new(0) };
}

fn install_panic_counter() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.with(|p| p.set(p.get() + 1));
            prev(info);
        }));
    });
}

/// `loom::model`, resetting the panic count before each execution and checking
/// it after, so that a panic caught inside the harness still fails the model.
fn model(f: impl Fn() + Sync + Send + 'static) {
    install_panic_counter();
    loom::model(move || {
        PANICS.with(|p| p.set(0));
        f();
        assert_eq!(
            PANICS.with(Cell::get),
            0,
            "a panic was caught inside the harness"
        );
    });
}

// ----- the mock scheduler -----

struct Inner {
    queue: Mutex<VecDeque<Runnable>>,
    registry: TaskRegistry,
    /// Task cells freed (each owns one `Sched`).
    freed: AtomicUsize,
}

/// The scheduler a task owns; dropped exactly when its cell is freed.
struct Sched(Arc<Inner>);

impl Drop for Sched {
    fn drop(&mut self) {
        self.0.freed.fetch_add(1, SeqCst);
    }
}

// SAFETY: `registry` always returns the registry this scheduler owns.
unsafe impl Schedule for Sched {
    fn schedule(&self, task: Runnable) {
        self.0.queue.lock().unwrap().push_back(task);
    }

    fn registry(&self) -> &TaskRegistry {
        &self.0.registry
    }
}

impl crate::context::CallSoon for Sched {
    fn call_soon(&self, f: Box<dyn FnOnce() + Send>) {
        f();
    }
}

// The default handler (it logs); the models check no report.
impl crate::CallExceptionHandler for Sched {}

/// What a model's futures and outputs did.
#[derive(Debug, Default)]
struct Counters {
    futures_made: AtomicUsize,
    future_drops: AtomicUsize,
    outputs_made: AtomicUsize,
    output_drops: AtomicUsize,
    polls: AtomicUsize,
    in_poll: AtomicBool,
    /// A `YieldOnce` returned its value while a cancel request was pending.
    saw_cancel_at_end: AtomicBool,
}

impl Counters {
    /// Marks the start of a poll; fails if another poll of the task is running.
    fn enter_poll(&self) {
        assert!(
            !self.in_poll.swap(true, SeqCst),
            "the task was polled concurrently"
        );
        self.polls.fetch_add(1, SeqCst);
    }

    fn exit_poll(&self) {
        self.in_poll.store(false, SeqCst);
    }
}

/// One model's world: the scheduler's shared part and the counters.
struct Env {
    inner: Arc<Inner>,
    c: StdArc<Counters>,
}

impl Env {
    fn new() -> Env {
        Env {
            inner: Arc::new(Inner {
                queue: Mutex::new(VecDeque::new()),
                registry: TaskRegistry::new(1),
                freed: AtomicUsize::new(0),
            }),
            c: StdArc::new(Counters::default()),
        }
    }

    #[track_caller]
    fn spawn<F>(&self, future: F) -> (Task<F::Output>, Runnable)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match crate::spawn(future, Sched(self.inner.clone()), Location::caller()) {
            Spawned::Ready(task, runnable) => (task, runnable),
            Spawned::Refused(_) => panic!("the registry is open"),
        }
    }

    fn polls(&self) -> usize {
        self.c.polls.load(SeqCst)
    }

    fn futures_made(&self) -> usize {
        self.c.futures_made.load(SeqCst)
    }

    fn outputs_made(&self) -> usize {
        self.c.outputs_made.load(SeqCst)
    }

    /// Checks that everything was released: call once every handle, waker and
    /// model thread is gone. Each counted future and output must have been
    /// dropped exactly once, and the task freed exactly once.
    fn finish(self) {
        self.finish_tasks(1);
    }

    /// [`finish`](Self::finish) for a model that spawned `tasks` tasks.
    fn finish_tasks(self, tasks: usize) {
        let queued = self.inner.queue.lock().unwrap().len();
        assert_eq!(queued, 0, "a Runnable was left queued");
        assert_eq!(self.inner.registry.len(), 0, "the task is still registered");
        assert_eq!(
            self.inner.freed.load(SeqCst),
            tasks,
            "a task was not freed exactly once"
        );
        let c = &self.c;
        assert_eq!(
            c.future_drops.load(SeqCst),
            c.futures_made.load(SeqCst),
            "future drops"
        );
        assert_eq!(
            c.output_drops.load(SeqCst),
            c.outputs_made.load(SeqCst),
            "output drops"
        );
    }
}

fn pop(inner: &Inner) -> Option<Runnable> {
    inner.queue.lock().unwrap().pop_front()
}

/// Runs whatever is queued, until the queue is empty.
fn drain(inner: &Inner) {
    while let Some(r) = pop(inner) {
        r.run();
    }
}

// ----- outputs and futures -----

const VALUE: u32 = 7;
const CAUGHT: u32 = 99;

/// The output: counts its making and its drop.
#[derive(Debug)]
struct Out {
    value: u32,
    c: StdArc<Counters>,
}

impl Out {
    fn new(value: u32, c: &StdArc<Counters>) -> Out {
        c.outputs_made.fetch_add(1, SeqCst);
        Out {
            value,
            c: c.clone(),
        }
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        self.c.output_drops.fetch_add(1, SeqCst);
    }
}

/// Counts a future's making and drop.
struct Counted(StdArc<Counters>);

impl Counted {
    fn new(c: &StdArc<Counters>) -> Counted {
        c.futures_made.fetch_add(1, SeqCst);
        Counted(c.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.future_drops.fetch_add(1, SeqCst);
    }
}

/// A one-shot event with a waker slot, opened from another thread.
struct Gate {
    /// (open, the waker of the task waiting for it)
    state: Mutex<(bool, Option<Waker>)>,
}

impl Gate {
    fn new() -> Arc<Gate> {
        Arc::new(Gate {
            state: Mutex::new((false, None)),
        })
    }

    /// Opens the gate; returns the waker to wake, if a poll stored one.
    fn open(&self) -> Option<Waker> {
        let mut state = self.state.lock().unwrap();
        state.0 = true;
        state.1.take()
    }
}

/// `Pending` (storing its waker in the gate) until the gate is open.
struct WaitGate {
    gate: Arc<Gate>,
    c: Counted,
}

impl WaitGate {
    fn new(gate: &Arc<Gate>, c: &StdArc<Counters>) -> WaitGate {
        WaitGate {
            gate: gate.clone(),
            c: Counted::new(c),
        }
    }
}

impl Future for WaitGate {
    type Output = Out;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Out> {
        let c = &self.c.0;
        c.enter_poll();
        let mut state = self.gate.state.lock().unwrap();
        let ret = if state.0 {
            Poll::Ready(Out::new(VALUE, c))
        } else {
            state.1 = Some(cx.waker().clone());
            Poll::Pending
        };
        drop(state);
        c.exit_poll();
        ret
    }
}

/// `Pending` until both gates are open, storing its waker in each closed one.
struct WaitTwoGates {
    gates: [Arc<Gate>; 2],
    c: Counted,
}

impl Future for WaitTwoGates {
    type Output = Out;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Out> {
        let c = &self.c.0;
        c.enter_poll();
        let mut open = 0;
        for gate in &self.gates {
            let mut state = gate.state.lock().unwrap();
            if state.0 {
                open += 1;
            } else {
                state.1 = Some(cx.waker().clone());
            }
        }
        c.exit_poll();
        if open == 2 {
            Poll::Ready(Out::new(VALUE, c))
        } else {
            Poll::Pending
        }
    }
}

/// Wakes itself and returns `Pending` on the first poll, `Ready` on the second
/// (asyncio's `await sleep(0)` then `return`).
struct YieldOnce {
    yielded: bool,
    c: Counted,
}

impl YieldOnce {
    fn new(c: &StdArc<Counters>) -> YieldOnce {
        YieldOnce {
            yielded: false,
            c: Counted::new(c),
        }
    }
}

impl Future for YieldOnce {
    type Output = Out;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Out> {
        self.c.0.enter_poll();
        let ret = if self.yielded {
            // The poll computing the value takes a while: let the other threads
            // run, so a cancel can land here. Without this, loom at a bound of
            // 2 never puts the cancel between `to_running` and the check below
            // (checked: dropping the cancel-at-end rule then went unnoticed).
            thread::yield_now();
            // Whether a request is pending as the value is returned: the
            // cancel-at-end rule must then turn the value into `Cancelled`.
            let task = RawTask::current().expect("polled by the harness");
            if task.header().state.load().is_cancel_requested() {
                self.c.0.saw_cancel_at_end.store(true, SeqCst);
            }
            Poll::Ready(Out::new(VALUE, &self.c.0))
        } else {
            self.yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        };
        self.c.0.exit_poll();
        ret
    }
}

/// Ready at once. Its poll and drop do no loom operation, so no other loom
/// thread runs while the task context (a shared thread-local here) is entered.
struct ReadyNow {
    c: Counted,
}

impl ReadyNow {
    fn new(c: &StdArc<Counters>) -> ReadyNow {
        ReadyNow { c: Counted::new(c) }
    }
}

impl Future for ReadyNow {
    type Output = Out;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Out> {
        self.c.0.enter_poll();
        let out = Out::new(VALUE, &self.c.0);
        self.c.0.exit_poll();
        Poll::Ready(out)
    }
}

/// The handle's waker: records being woken, and makes every use of it (clone,
/// wake, drop) a write to a loom `UnsafeCell`, so loom checks that all uses
/// are ordered by happens-before. The join-waker protocol promises that (the
/// slot is the handle's, then the runner's after `COMPLETE`, then whoever frees
/// the task), so a missing acquire on the way, e.g. in the last `ref_dec`
/// before the task (and the waker in its slot) is freed, shows up as a race.
/// `StdArc::strong_count` tells whether a clone is still held.
struct Flag {
    woken: AtomicBool,
    uses: loom::cell::UnsafeCell<usize>,
}

impl Flag {
    fn touch(&self) {
        // SAFETY: loom checks that no two uses of this waker are concurrent.
        self.uses.with_mut(|n| unsafe { *n += 1 });
    }
}

static FLAG_VTABLE: RawWakerVTable =
    RawWakerVTable::new(flag_clone, flag_wake, flag_wake_by_ref, flag_drop);

unsafe fn flag_clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a live `StdArc<Flag>` owned by the waker being cloned.
    unsafe {
        (*(data as *const Flag)).touch();
        StdArc::increment_strong_count(data as *const Flag);
    }
    RawWaker::new(data, &FLAG_VTABLE)
}

unsafe fn flag_wake(data: *const ()) {
    // SAFETY: as flag_clone; consumes the waker.
    unsafe {
        flag_wake_by_ref(data);
        flag_drop(data);
    }
}

unsafe fn flag_wake_by_ref(data: *const ()) {
    // SAFETY: as flag_clone.
    let flag = unsafe { &*(data as *const Flag) };
    flag.touch();
    flag.woken.store(true, SeqCst);
}

unsafe fn flag_drop(data: *const ()) {
    // SAFETY: as flag_clone; releases the waker's count.
    unsafe {
        (*(data as *const Flag)).touch();
        StdArc::decrement_strong_count(data as *const Flag);
    }
}

// The `StdArc<Flag>` is shared across loom threads on purpose (a `Waker` is
// `Send + Sync`; `Waker::from_raw` below takes that on): loom's `UnsafeCell` is
// `!Sync` because loom itself checks every access to it, which is the point.
#[allow(clippy::arc_with_non_send_sync)]
fn flag_waker() -> (StdArc<Flag>, Waker) {
    let flag = StdArc::new(Flag {
        woken: AtomicBool::new(false),
        uses: loom::cell::UnsafeCell::new(0),
    });
    let data = StdArc::into_raw(flag.clone()) as *const ();
    // SAFETY: the vtable's functions follow the RawWaker contract over a
    // counted `StdArc<Flag>`.
    (flag, unsafe {
        Waker::from_raw(RawWaker::new(data, &FLAG_VTABLE))
    })
}

fn poll_handle<T>(task: &mut Task<T>, waker: &Waker) -> Poll<Result<T, TaskError>> {
    Pin::new(task).poll(&mut Context::from_waker(waker))
}

#[track_caller]
fn expect_value(result: Result<Out, TaskError>) -> Out {
    match result {
        Ok(out) => {
            assert_eq!(out.value, VALUE);
            out
        }
        Err(e) => panic!("expected the value, got {e:?}"),
    }
}

// ----- wake racing the poll that returns Pending -----

/// The task parks on a gate (its poll stores its waker and returns `Pending`)
/// while another thread opens the gate and wakes it; then both threads run
/// whatever is queued. Wherever the wake falls (before the poll, during it,
/// between its `Pending` and `to_idle`, after), the task must be polled again
/// and complete: no lost wake-up, never two polls at once, no `Runnable` left.
fn wake_races_pending_poll(by_val: bool) {
    model(move || {
        let env = Env::new();
        let gate = Gate::new();
        let (mut task, runnable) = env.spawn(WaitGate::new(&gate, &env.c));

        let waker_thread = {
            let (gate, inner) = (gate.clone(), env.inner.clone());
            thread::spawn(move || {
                if let Some(w) = gate.open() {
                    if by_val {
                        w.wake();
                    } else {
                        w.wake_by_ref();
                        drop(w);
                    }
                }
                drain(&inner);
            })
        };

        runnable.run();
        drain(&env.inner);
        waker_thread.join().unwrap();
        drain(&env.inner);

        assert!(
            task.done(),
            "lost wake-up: the gate is open but the task is not done"
        );
        assert!(!task.cancelled());
        drop(expect_value(task.result().unwrap()));
        drop(task);
        drop(gate);
        assert!((1..=2).contains(&env.polls()), "{} polls", env.polls());
        assert_eq!((env.futures_made(), env.outputs_made()), (1, 1));
        env.finish();
    });
}

#[test]
fn loom_wake_by_ref_races_pending_poll() {
    wake_races_pending_poll(false);
}

#[test]
fn loom_wake_by_val_races_pending_poll() {
    wake_races_pending_poll(true);
}

/// Two wakers, one by reference and one by value, each opening its own gate on
/// its own thread, race each other and the runs (all three threads run what is
/// queued): `NOTIFIED` coalesces them into at most one `Runnable` at a time, and
/// the task is polled until it sees both gates open.
#[test]
fn loom_two_wakers_race_runs() {
    model(|| {
        let env = Env::new();
        let gates = [Gate::new(), Gate::new()];
        let future = WaitTwoGates {
            gates: gates.clone(),
            c: Counted::new(&env.c),
        };
        let (mut task, runnable) = env.spawn(future);

        let wakers: Vec<_> = gates
            .iter()
            .enumerate()
            .map(|(i, gate)| {
                let (gate, inner) = (gate.clone(), env.inner.clone());
                thread::spawn(move || {
                    if let Some(w) = gate.open() {
                        if i == 0 {
                            w.wake_by_ref();
                        } else {
                            w.wake();
                        }
                    }
                    drain(&inner);
                })
            })
            .collect();

        runnable.run();
        drain(&env.inner);
        for w in wakers {
            w.join().unwrap();
        }
        drain(&env.inner);

        assert!(
            task.done(),
            "lost wake-up: both gates are open but the task is not done"
        );
        drop(expect_value(task.result().unwrap()));
        drop(task);
        drop(gates);
        assert!((1..=3).contains(&env.polls()), "{} polls", env.polls());
        env.finish();
    });
}

// ----- cancel racing the run -----

/// `cancel()` on another thread while the task runs (it yields once, then
/// returns the value). Exactly one outcome; a `Cancelled` outcome needs a
/// `cancel()` that returned true, a `false` one means the task was done (value);
/// the task always finishes, the value computed by a cancelled-at-the-end task
/// is dropped, and everything is freed. A request pending when the future
/// returned its value (the future checks) turns the value into `Cancelled`.
/// And the documented rule (raw.rs, "Cancellation delivery"): `cancel() ==
/// true` means the task ends `Cancelled` unless it intercepts, even when the
/// cancel lands between the future's return and `to_complete`.
#[test]
fn loom_cancel_races_run() {
    model(|| {
        let env = Env::new();
        let (mut task, runnable) = env.spawn(YieldOnce::new(&env.c));
        let handle = task.task_ref();
        let canceller = thread::spawn(move || handle.cancel());

        runnable.run();
        drain(&env.inner);
        let accepted = canceller.join().unwrap();
        drain(&env.inner);

        assert!(task.done(), "the task did not finish");
        assert_eq!(task.cancelling(), u32::from(accepted));
        let result = task.result().unwrap();
        assert_eq!(task.cancelled(), result.is_err());
        match result {
            Ok(out) => {
                assert_eq!(out.value, VALUE);
                let saw = env.c.saw_cancel_at_end.load(SeqCst);
                assert!(!saw, "the value was returned under a pending request");
                assert!(
                    !accepted,
                    "cancel() returned true but the task ended with its value"
                );
            }
            Err(e) => {
                assert!(e.is_cancelled(), "{e:?}");
                assert!(accepted, "cancelled although cancel() returned false");
                assert!(task.exception().unwrap().is_some_and(|e| e.is_cancelled()));
            }
        }
        // Done: a later cancel() is refused and counts nothing.
        assert!(!task.cancel());
        assert_eq!(task.cancelling(), u32::from(accepted));
        drop(task);
        // Cancelled before the first poll: never polled. The value exists only
        // if the second poll ran.
        let polls = env.polls();
        assert!(polls <= 2, "{polls} polls");
        assert_eq!(env.outputs_made(), usize::from(polls == 2));
        assert_eq!(env.futures_made(), 1);
        env.finish();
    });
}

/// As `cancel_races_run`, with the task's await point inside `catch_cancel`: a
/// cancel that returned false leaves the value; an intercepted one turns into
/// `CAUGHT` (the inner future is dropped, polled or not); `Cancelled` needs an
/// accepted cancel (before the first poll, when the wrapper is not yet on the
/// await path, or at the very end); the value needs a refused one.
#[test]
fn loom_cancel_races_intercepting_run() {
    model(|| {
        let env = Env::new();
        let c = env.c.clone();
        let (mut task, runnable) = env.spawn(async move {
            match catch_cancel(YieldOnce::new(&c)).await {
                Ok(out) => out,
                Err(_) => Out::new(CAUGHT, &c),
            }
        });
        let handle = task.task_ref();
        let canceller = thread::spawn(move || handle.cancel());

        runnable.run();
        drain(&env.inner);
        let accepted = canceller.join().unwrap();
        drain(&env.inner);

        assert!(task.done(), "the task did not finish");
        let result = task.result().unwrap();
        assert_eq!(task.cancelled(), result.is_err());
        match &result {
            Ok(out) if out.value == VALUE => {
                assert_eq!(env.polls(), 2);
                let saw = env.c.saw_cancel_at_end.load(SeqCst);
                assert!(!saw, "the value was returned under a pending request");
                assert!(
                    !accepted,
                    "cancel() returned true but the task ended with its value"
                );
            }
            Ok(out) => {
                assert_eq!(out.value, CAUGHT);
                assert!(accepted, "intercepted a cancellation nobody requested");
            }
            Err(e) => {
                assert!(e.is_cancelled(), "{e:?}");
                assert!(accepted, "cancelled although cancel() returned false");
            }
        }
        assert!(!task.cancel());
        drop(result);
        drop(task);
        assert!(env.polls() <= 2);
        assert!(env.futures_made() <= 1);
        env.finish();
    });
}

/// `cancel()` races the runs of a task that would wait forever (its poll
/// stores nothing and returns `Pending`): the cancel is the only thing that
/// can finish it, wherever it lands (queued, mid-poll, between the poll's
/// `Pending` and `to_idle`, idle). It must return true and the task must end
/// `Cancelled`, polled at most once.
#[test]
fn loom_cancel_races_pending_forever() {
    model(|| {
        let env = Env::new();
        let c = Counted::new(&env.c);
        let (mut task, runnable) = env.spawn(std::future::poll_fn(move |_cx| {
            c.0.enter_poll();
            c.0.exit_poll();
            Poll::<Out>::Pending
        }));
        let handle = task.task_ref();
        let canceller = thread::spawn(move || handle.cancel());

        runnable.run();
        drain(&env.inner);
        let accepted = canceller.join().unwrap();
        drain(&env.inner);

        assert!(accepted, "cancel() refused for a task that cannot finish");
        assert!(task.done(), "lost cancellation: the task did not finish");
        assert!(task.cancelled());
        let e = task.result().unwrap().unwrap_err();
        assert!(e.is_cancelled(), "{e:?}");
        drop(task);
        assert!(env.polls() <= 1);
        env.finish();
    });
}

// ----- cancellation down the await chain (chain.rs) -----

/// A parent awaiting a child's handle is cancelled while the child, cancelled
/// too, completes on another thread: the parent's delivery passes its
/// cancellation on and drains (its join waker registered on the child) or
/// finds the child complete. Either way the parent ends `Cancelled`, only
/// after the child (no lost wake-up for the draining parent), and both are
/// freed once. The child's future does no loom operation, so its run (which
/// enters the shared thread-local task context) cannot be preempted inside.
#[test]
fn loom_cancelled_parent_drains_while_its_child_completes() {
    model(|| {
        let env = Env::new();
        let c = Counted::new(&env.c);
        let (child, child_run) = env.spawn(std::future::poll_fn(move |_cx| {
            c.0.enter_poll();
            c.0.exit_poll();
            Poll::<Out>::Pending
        }));
        child_run.run();
        let child_ref = child.task_ref();
        // The parent's future is the child's handle: it awaits the child.
        let (mut parent, parent_run) = env.spawn(child);
        parent_run.run();
        assert!(!parent.done());
        let watched = child_ref.clone();
        parent.add_done_callback(DoneCallback::new(move |_: &TaskRef| {
            assert!(
                watched.done(),
                "the parent ended before the child it awaited"
            );
        }));

        assert!(child_ref.cancel());
        let child_cancelled = pop(&env.inner).expect("the cancelled child is queued");
        let runner = thread::spawn(move || child_cancelled.run());
        assert!(parent.cancel());
        drain(&env.inner);
        runner.join().unwrap();
        drain(&env.inner);

        assert!(child_ref.done() && child_ref.cancelled());
        assert!(
            parent.done(),
            "lost wake-up: the draining parent never ended"
        );
        assert!(parent.cancelled());
        let e = parent.result().unwrap().unwrap_err();
        assert!(e.is_cancelled(), "{e:?}");
        drop((parent, child_ref));
        env.finish_tasks(2);
    });
}

/// A wake and a `cancel()` race the run of a task parked on a gate: the task
/// finishes either way, `Cancelled` exactly when `cancel()` returned true, and
/// is freed once.
#[test]
fn loom_cancel_races_wake() {
    model(|| {
        let env = Env::new();
        let gate = Gate::new();
        let (mut task, runnable) = env.spawn(WaitGate::new(&gate, &env.c));
        let handle = task.task_ref();
        let canceller = thread::spawn(move || handle.cancel());
        let waker_thread = {
            let gate = gate.clone();
            thread::spawn(move || {
                if let Some(w) = gate.open() {
                    w.wake();
                }
            })
        };

        runnable.run();
        drain(&env.inner);
        let accepted = canceller.join().unwrap();
        waker_thread.join().unwrap();
        drain(&env.inner);

        assert!(task.done(), "the task did not finish");
        match task.result().unwrap() {
            Ok(out) => {
                assert_eq!(out.value, VALUE);
                assert!(
                    !accepted,
                    "cancel() returned true but the task ended with its value"
                );
            }
            Err(e) => {
                assert!(e.is_cancelled(), "{e:?}");
                assert!(accepted, "cancelled although cancel() returned false");
            }
        }
        drop(task);
        drop(gate);
        assert!(env.polls() <= 2);
        env.finish();
    });
}

/// A `cancel()` borrows a task parked on a gate (to pass the request to what
/// it awaits) while the runtime shuts down on another thread: shutdown waits
/// for the borrow to end (`ToShutdown::Borrowed`), then either claims the
/// task or finds the Runnable the canceller submitted queued and claims it
/// anyway (`ToRunning::Busy` for that Runnable). The task ends `Cancelled`,
/// once, its future dropped once, and it is freed once.
#[test]
fn loom_cancel_borrow_races_shutdown() {
    model(|| {
        let env = Env::new();
        let gate = Gate::new();
        let (mut task, runnable) = env.spawn(WaitGate::new(&gate, &env.c));
        runnable.run();
        assert!(!task.done());
        let handle = task.task_ref();
        let canceller = thread::spawn(move || handle.cancel());

        env.inner.registry.close();
        // SAFETY: the model's futures are `Send`, and no thread polls.
        unsafe { env.inner.registry.shutdown_tasks(|_| true, |_| {}) };
        let accepted = canceller.join().unwrap();
        drain(&env.inner);

        assert!(task.done(), "the task did not finish");
        let e = task.result().unwrap().unwrap_err();
        assert!(e.is_cancelled(), "{e:?}");
        assert_eq!(task.cancelling(), u32::from(accepted));
        drop(task);
        drop(gate);
        assert_eq!(env.polls(), 1, "the task was polled after its cancel");
        env.finish();
    });
}

/// A dump reads a task parked on a gate (`TaskRef::awaiting` borrows it:
/// `State::to_borrowed`) while another thread opens the gate, wakes the task
/// and runs what is queued. Wherever the wake falls (before the borrow, while
/// the dump holds it, after its release) the task is polled again and
/// completes: a wake-up during the borrow is submitted by the release, no
/// poll overlaps the borrow's read of the record (loom would report the
/// cell race), and nothing is queued twice.
#[test]
fn loom_dump_borrow_races_wake_and_run() {
    model(|| {
        let env = Env::new();
        let gate = Gate::new();
        let (mut task, runnable) = env.spawn(WaitGate::new(&gate, &env.c));
        runnable.run();
        let handle = task.task_ref();
        let dumper = thread::spawn(move || handle.awaiting());
        let waker_thread = {
            let (gate, inner) = (gate.clone(), env.inner.clone());
            thread::spawn(move || {
                if let Some(w) = gate.open() {
                    w.wake();
                }
                drain(&inner);
            })
        };
        // The gate records nothing: a dump finds no edge, whenever it reads.
        assert_eq!(dumper.join().unwrap(), None);
        waker_thread.join().unwrap();
        drain(&env.inner);

        assert!(
            task.done(),
            "lost wake-up: the gate is open but the task is not done"
        );
        drop(expect_value(task.result().unwrap()));
        drop(task);
        drop(gate);
        assert_eq!(env.polls(), 2);
        env.finish();
    });
}

// ----- join -----

/// The handle is polled (twice, with two different wakers, so the second poll
/// swaps the join waker) while the task completes on another thread. After a
/// `Pending`, once the runner is done, the waker registered last must have been
/// woken, and the handle then reads the value. The join wakers are released
/// with the task.
#[test]
fn loom_join_races_complete() {
    model(|| {
        let env = Env::new();
        let (mut task, runnable) = env.spawn(ReadyNow::new(&env.c));
        let runner = thread::spawn(move || runnable.run());

        let (flag_a, waker_a) = flag_waker();
        let (flag_b, waker_b) = flag_waker();
        let mut got = match poll_handle(&mut task, &waker_a) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => match poll_handle(&mut task, &waker_b) {
                Poll::Ready(r) => Some(r),
                Poll::Pending => None,
            },
        };
        let pending = got.is_none();
        runner.join().unwrap();
        if pending {
            assert!(flag_b.woken.load(SeqCst), "lost join wake-up");
            match poll_handle(&mut task, &waker_b) {
                Poll::Ready(r) => got = Some(r),
                Poll::Pending => panic!("woken, yet the handle is pending"),
            }
        }
        drop(expect_value(got.unwrap()));
        drop(task);
        drop((waker_a, waker_b));
        assert_eq!(env.polls(), 1);
        env.finish();
        assert_eq!(StdArc::strong_count(&flag_a), 1, "waker A leaked");
        assert_eq!(StdArc::strong_count(&flag_b), 1, "waker B leaked");
    });
}

/// The awaited handle is polled again (with a new waker, swapping the join
/// waker) while the task runs on one thread and is cancelled from another. The
/// handle reads `Cancelled` exactly when `cancel()` returned true (before the
/// first poll, or between the future's return and `to_complete`: a value stored
/// under a pending request, which the handle must turn into `Cancelled`), else
/// the value; a `Pending` always ends with the last waker woken.
///
/// The future is `ReadyNow`: `Task::poll` reads the task context (await-self
/// check, poll stamp), a thread-local that every loom thread shares, so the
/// runner must not be preempted while it has the context entered.
#[test]
fn loom_join_races_cancel() {
    model(|| {
        let env = Env::new();
        let (mut task, runnable) = env.spawn(ReadyNow::new(&env.c));
        let (flag_a, waker_a) = flag_waker();
        assert!(poll_handle(&mut task, &waker_a).is_pending());
        let handle = task.task_ref();
        let canceller = thread::spawn(move || handle.cancel());
        let runner = {
            let inner = env.inner.clone();
            thread::spawn(move || {
                runnable.run();
                drain(&inner);
            })
        };

        let (flag_b, waker_b) = flag_waker();
        let mut got = match poll_handle(&mut task, &waker_b) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        };
        let accepted = canceller.join().unwrap();
        runner.join().unwrap();
        drain(&env.inner);
        if got.is_none() {
            assert!(flag_b.woken.load(SeqCst), "lost join wake-up");
            match poll_handle(&mut task, &waker_b) {
                Poll::Ready(r) => got = Some(r),
                Poll::Pending => panic!("woken and done, yet the handle is pending"),
            }
        }
        match got.unwrap() {
            Ok(out) => {
                assert_eq!(out.value, VALUE);
                assert!(
                    !accepted,
                    "cancel() returned true but the handle read the value"
                );
            }
            Err(e) => {
                assert!(e.is_cancelled(), "{e:?}");
                assert!(accepted, "cancelled although cancel() returned false");
            }
        }
        drop(task);
        drop((waker_a, waker_b));
        env.finish();
        assert_eq!(StdArc::strong_count(&flag_a), 1, "waker A leaked");
        assert_eq!(StdArc::strong_count(&flag_b), 1, "waker B leaked");
    });
}

// ----- dropping the handle -----

/// The handle is dropped (optionally after registering a join waker) while the
/// task completes on another thread: the output is dropped exactly once, by
/// whichever side owns it, the join waker is released and the task freed.
fn drop_handle_races_complete(register_waker: bool) {
    model(move || {
        let env = Env::new();
        let (mut task, runnable) = env.spawn(ReadyNow::new(&env.c));
        let (flag, waker) = flag_waker();
        if register_waker {
            assert!(poll_handle(&mut task, &waker).is_pending());
        }
        let runner = thread::spawn(move || runnable.run());
        drop(task);
        runner.join().unwrap();
        drop(waker);
        assert_eq!((env.polls(), env.outputs_made()), (1, 1));
        env.finish();
        assert_eq!(StdArc::strong_count(&flag), 1, "the join waker leaked");
    });
}

#[test]
fn loom_drop_handle_races_complete() {
    drop_handle_races_complete(false);
}

#[test]
fn loom_drop_awaited_handle_races_complete() {
    drop_handle_races_complete(true);
}

// ----- done callbacks -----

/// `add_done_callback` on another thread while the task completes: the
/// callback runs exactly once (fired by completion, or by the registration if
/// it came too late for completion to see it), and its `TaskRef` is released.
#[test]
fn loom_done_callback_races_complete() {
    model(|| {
        let env = Env::new();
        let (task, runnable) = env.spawn(ReadyNow::new(&env.c));
        let calls = StdArc::new(AtomicUsize::new(0));
        let registrar = {
            let (handle, calls) = (task.task_ref(), calls.clone());
            thread::spawn(move || {
                handle.add_done_callback(DoneCallback::new(move |t: &TaskRef| {
                    assert!(t.done());
                    calls.fetch_add(1, SeqCst);
                }));
            })
        };
        runnable.run();
        registrar.join().unwrap();
        assert_eq!(
            calls.load(SeqCst),
            1,
            "the done callback ran {} times",
            calls.load(SeqCst)
        );
        drop(task);
        env.finish();
    });
}

// ----- the last reference -----

/// Four holders release their references concurrently: a waker (woken by
/// value), the queued `Runnable` (run to completion), the handle (dropped) and
/// the registry entry (released by completion). Whichever is last frees the
/// task, exactly once; the waker's `wake` may land while the task is queued,
/// running or complete (the `Dealloc` arm of `to_notified_by_val`).
#[test]
fn loom_last_reference_released_by_any_holder() {
    model(|| {
        let env = Env::new();
        let gate = Gate::new();
        let (task, runnable) = env.spawn(WaitGate::new(&gate, &env.c));
        runnable.run(); // stores its waker, Pending
        let waker = gate.open().expect("the first poll stored a waker");
        waker.wake_by_ref(); // queues the Runnable
        drop(gate);

        let waker_thread = thread::spawn(move || waker.wake());
        let runner = {
            let inner = env.inner.clone();
            thread::spawn(move || pop(&inner).expect("queued").run())
        };
        drop(task);
        waker_thread.join().unwrap();
        runner.join().unwrap();
        drain(&env.inner); // a wake of an idle task would have queued it here
        assert_eq!((env.polls(), env.outputs_made()), (2, 1));
        env.finish();
    });
}

// ----- the registry: removals from away -----

/// A task spawned on this thread (its home shard) completes on another
/// thread, which leaves the removal in the shard's `away` list, releases the
/// entry's reference and drops the handle: the task is freed there while this
/// thread reads the registry and spawns again (a spawn that reclaims the
/// stale entry, `AWAY_BATCH` being one under loom). A reader counts only the
/// task still running and never reaches the freed one; the freed task's slot
/// is reused only after its reclaim.
#[test]
fn loom_removal_from_away_races_spawn_and_read() {
    model(|| {
        let env = Env::new();
        let (task, runnable) = env.spawn(ReadyNow::new(&env.c));
        let first = task.id();
        let remover = thread::spawn(move || {
            let mut task = task;
            runnable.run(); // completes here: a removal from away
            drop(expect_value(task.result().unwrap()));
        });
        // Each reading holds the shard and `away`: the first task is either
        // still registered (not yet complete, with its reference) or gone.
        let live = env.inner.registry.live_tasks();
        assert!(
            live.iter().all(|t| t.id() == first),
            "only the first task exists"
        );
        drop(live);
        let (second, second_run) = env.spawn(ReadyNow::new(&env.c));
        let n = env.inner.registry.len();
        assert!((1..=2).contains(&n), "{n} entries for at most two tasks");
        remover.join().unwrap();
        assert_eq!(env.inner.freed.load(SeqCst), 1, "the first task is freed");
        assert_eq!(env.inner.registry.len(), 1, "only the second is registered");
        assert_eq!(env.inner.registry.live_tasks(), [second.task_ref()]);
        second_run.run();
        let mut second = second;
        drop(expect_value(second.result().unwrap()));
        drop(second);
        env.finish_tasks(2);
    });
}
