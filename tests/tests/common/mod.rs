//! Helpers shared by the integration tests: a watchdog so no test can hang, drop
//! counters (the `finally` of a Rust future), runtime builders, bounded waits, and a
//! tracing subscriber that records what weft reports.
//!
//! Each test file pulls this in with `mod common;` and uses only part of it.
#![allow(dead_code)]

use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use weft::{Promise, Runtime, Task, TaskError, TaskRef};

/// How long any one test may run before it is declared hung.
pub const WATCHDOG: Duration = Duration::from_secs(30);

/// Ordering margin: long enough for the other side to get going.
pub const TICK: Duration = Duration::from_millis(10);

/// "Forever": far beyond any test, for sleeps a test must never wait out.
pub const FOREVER: Duration = Duration::from_secs(60);

/// `n` milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs `body` on a fresh thread and returns its result, failing the test if it
/// has not finished within `limit` (the thread is then abandoned: a hung test
/// fails instead of hanging the suite). A panic in `body` is re-raised here.
pub fn watchdog_for<R, F>(limit: Duration, body: F) -> R
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("test-body".into())
        .spawn(move || {
            let _ = tx.send(catch_unwind(AssertUnwindSafe(body)));
        })
        .expect("spawn the test body thread");
    match rx.recv_timeout(limit) {
        Ok(Ok(value)) => value,
        Ok(Err(payload)) => resume_unwind(payload),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("test did not finish within {limit:?}: hang or deadlock")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("test body thread vanished"),
    }
}

/// [`watchdog_for`] with the default limit ([`WATCHDOG`]).
pub fn watchdog<R, F>(body: F) -> R
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    watchdog_for(WATCHDOG, body)
}

/// A runtime with `workers` worker threads.
pub fn runtime(workers: usize) -> Runtime {
    weft::Builder::new()
        .workers(workers)
        .build()
        .expect("build a weft runtime")
}

/// Under the watchdog: builds a runtime with `workers` workers, drives the future
/// made by `make` to completion with `block_on`, drops the runtime, and returns
/// the future's output. `make` runs on the watchdog's thread, so the future itself
/// need not be `Send`.
pub fn block_on<F, M>(workers: usize, make: M) -> F::Output
where
    M: FnOnce(&weft::Handle) -> F + Send + 'static,
    F: Future,
    F::Output: Send + 'static,
{
    watchdog(move || {
        let rt = runtime(workers);
        let fut = make(rt.handle());
        rt.block_on(fut)
    })
}

/// Counts drops: clone a [`DropGuard`] into a future's captured state and read
/// the count to learn whether (and how often) its destructors ran.
#[derive(Clone, Default)]
pub struct DropCounter(Arc<AtomicUsize>);

impl DropCounter {
    pub fn new() -> DropCounter {
        DropCounter::default()
    }

    /// A guard that adds one to this counter when dropped.
    pub fn guard(&self) -> DropGuard {
        DropGuard(self.0.clone())
    }

    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl fmt::Debug for DropCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DropCounter({})", self.get())
    }
}

/// See [`DropCounter::guard`].
pub struct DropGuard(Arc<AtomicUsize>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A shared boolean, for "did this code run?" questions.
#[derive(Clone, Default, Debug)]
pub struct Flag(Arc<AtomicBool>);

impl Flag {
    pub fn new() -> Flag {
        Flag::default()
    }

    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A shared, ordered log of events (callback order, interleavings).
#[derive(Clone, Default, Debug)]
pub struct Log<T>(Arc<Mutex<Vec<T>>>);

impl<T: Clone> Log<T> {
    pub fn new() -> Log<T> {
        Log(Arc::new(Mutex::new(Vec::new())))
    }

    pub fn push(&self, item: T) {
        self.0.lock().push(item);
    }

    pub fn snapshot(&self) -> Vec<T> {
        self.0.lock().clone()
    }

    pub fn len(&self) -> usize {
        self.0.lock().len()
    }
}

/// The bound of the wait-until helpers below: panics with what it waited
/// for once 20 s have passed since `start`.
fn give_up_after_20s(start: Instant, what: &str) {
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "timed out waiting for {what}"
    );
}

/// Yields to the loop until `cond` holds. Bounded by the test's watchdog; also
/// gives up (panicking with `what`) after 20 s so the failure says what it waited
/// for.
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        give_up_after_20s(start, what);
        weft::yield_now().await;
    }
}

/// Sleeps on the loop, 1 ms at a time, until `cond` holds, or panics after
/// 20 s (for conditions another thread or a timer makes true, where yielding
/// would spin).
pub async fn sleep_until_true(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        give_up_after_20s(start, what);
        weft::sleep(ms(1)).await;
    }
}

/// Waits (yielding) until `task` is done.
pub async fn wait_done(task: &TaskRef) {
    wait_until(&format!("{task:?} to finish"), || task.done()).await;
}

/// Yields to the loop `n` times (lets pending wake-ups land, lets another task
/// get from a flag to its next await point).
pub async fn yield_times(n: usize) {
    for _ in 0..n {
        weft::yield_now().await;
    }
}

/// `spawn_started!(what, { body })`: spawns a task running `body` and waits
/// (with [`wait_until`], `what` naming the wait, e.g. "the waiter to start")
/// until the body has reached its first await and is parked there (see
/// [`flag_when_pending`]); evaluates to the task's handle. Use it in async
/// code. Waiting for the first `Pending`, not merely for the body to start,
/// matters: a cancellation that lands while the body is still on its way to
/// `catch_cancel(weft::gather(..))` is taken by that `catch_cancel` before the
/// gather is ever polled (combinators_gather's
/// `a_cancelled_gather_waits_for_its_childrens_cleanup_before_raising` failed
/// that way when the task's future was bigger or wrapped, which slowed the
/// first poll).
#[allow(unused_macros)]
macro_rules! spawn_started {
    ($what:expr, $body:block $(,)?) => {{
        let started = crate::common::Flag::new();
        let s = started.clone();
        let task = weft::spawn(crate::common::flag_when_pending(s, async move { $body }));
        crate::common::wait_until($what, || started.get()).await;
        task
    }};
}

/// Runs `future`, setting `flag` once it has returned `Pending`: it has
/// reached its first await and is parked there, so a cancellation sent after
/// the flag is seen arrives at that await (not before it, where an outer
/// `catch_cancel` would take it before the inner combinator is polled).
pub fn flag_when_pending<F>(flag: Flag, future: F) -> impl Future<Output = F::Output> + Send
where
    F: Future + Send + 'static,
{
    let mut future = Box::pin(future);
    std::future::poll_fn(move |cx| {
        let polled = future.as_mut().poll(cx);
        if polled.is_pending() {
            flag.set();
        }
        polled
    })
}
#[allow(unused_imports)]
pub(crate) use spawn_started;

/// Sockets registered with the current runtime's reactor (each holds one
/// file descriptor): a count back at its baseline proves no socket leaked.
pub fn io_sources() -> usize {
    weft::Handle::current().metrics().io_sources
}

/// Blocks this (plain) thread until `cond` holds, or panics after 20 s.
pub fn spin_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        give_up_after_20s(start, what);
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The message of a `catch_unwind` payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

// ----- counts and data for the network tests -----

/// Tasks of the current runtime that have not finished.
pub fn live_tasks() -> usize {
    weft::Handle::current().metrics().live_tasks
}

/// `len` bytes that differ from connection to connection (an xorshift stream
/// seeded by `seed`), so an echo that mixed two connections up would show.
pub fn pattern(seed: usize, len: usize) -> Vec<u8> {
    let mut x = (seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

// ----- capturing tracing output -----

/// One event weft reported through `tracing`.
#[derive(Clone, Debug)]
pub struct Captured {
    pub level: tracing::Level,
    /// The message and every field, as `name=value` pairs.
    pub text: String,
}

struct Capture(Arc<Mutex<Vec<Captured>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        use fmt::Write;
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0.lock().push(Captured {
            level: *event.metadata().level(),
            text: fields.0,
        });
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// A record of the `tracing` events weft emitted on the threads it is installed
/// on (a scoped default subscriber per thread, so concurrent tests do not mix).
#[derive(Clone, Default, Debug)]
pub struct TraceLog(Arc<Mutex<Vec<Captured>>>);

impl TraceLog {
    pub fn new() -> TraceLog {
        TraceLog::default()
    }

    /// Records this thread's events until the guard drops.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        // tracing caches a callsite's interest when it is first hit; while
        // exactly one dispatcher is alive it asks the hitting thread's
        // default, so a callsite first hit on a thread without a
        // subscriber, while one test's TraceLog is the only one alive, is
        // off for everyone (tracing-core's `has_just_one`). A second
        // dispatcher kept alive for the whole run makes it ask every
        // registered one instead; events still go to each thread's default.
        static SECOND: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
        SECOND.get_or_init(|| tracing::Dispatch::new(Capture(Default::default())));
        tracing::subscriber::set_default(Capture(self.0.clone()))
    }

    /// Records this thread's events for the rest of its life (for
    /// `Builder::on_thread_start`).
    pub fn install_for_thread(&self) {
        std::mem::forget(self.install());
    }

    pub fn events(&self) -> Vec<Captured> {
        self.0.lock().clone()
    }

    /// Whether an event at `level` mentions every one of `needles`.
    pub fn has(&self, level: tracing::Level, needles: &[&str]) -> bool {
        self.events()
            .iter()
            .any(|e| e.level == level && needles.iter().all(|n| e.text.contains(n)))
    }

    /// Asserts [`has`](Self::has), listing every captured event if not.
    #[track_caller]
    pub fn assert_has(&self, level: tracing::Level, needles: &[&str]) {
        assert!(
            self.has(level, needles),
            "no {level} event mentioning {needles:?} in {:?}",
            self.events()
        );
    }
}

/// Polls `fut` once with a waker that does nothing (no runtime needed).
pub fn poll_once<F: std::future::Future + Unpin>(fut: &mut F) -> std::task::Poll<F::Output> {
    std::pin::Pin::new(fut).poll(&mut std::task::Context::from_waker(
        futures_util::task::noop_waker_ref(),
    ))
}

// ----- tasks for the combinator tests -----

/// A task that returns `value` once its gate (the returned promise) is set.
///
/// Never share one gate between tasks that may be cancelled: cancelling a task
/// that awaits a promise cancels the promise.
pub fn gated<T: Send + 'static>(value: T) -> (Promise<()>, Task<T>) {
    let gate = Promise::new();
    let g = gate.clone();
    let task = weft::spawn(async move {
        g.await.expect("the gate was cancelled");
        value
    });
    (gate, task)
}

/// A task that panics with `message` once its gate (the returned promise) is
/// set; `T` is the output type it would have had.
pub fn gated_panic<T: Send + 'static>(message: &'static str) -> (Promise<()>, Task<T>) {
    let gate = Promise::new();
    let g = gate.clone();
    let task = weft::spawn(async move {
        g.await.expect("the gate was cancelled");
        panic!("{message}")
    });
    (gate, task)
}

/// A task that pushes to `reached` when it parks, then waits forever; holds a
/// guard from `drops` (dropped when the task ends, however it ends). `T` is
/// the output type it would have had.
pub fn parked<T: Send + 'static>(reached: &Log<()>, drops: &DropCounter) -> Task<T> {
    let (r, g) = (reached.clone(), drops.guard());
    weft::spawn(async move {
        let _finally = g;
        r.push(());
        std::future::pending::<T>().await
    })
}

/// The message of a cancellation error; panics if `err` is not one.
pub fn cancel_message(err: &TaskError) -> Option<String> {
    match err {
        TaskError::Cancelled(c) => c.message().map(str::to_owned),
        other => panic!("expected a cancellation, got {other:?}"),
    }
}

/// The panic message of a panic error; panics if `err` is not one.
pub fn panic_text(err: &TaskError) -> String {
    match err {
        TaskError::Panicked(p) => p.message().to_owned(),
        other => panic!("expected a panic, got {other:?}"),
    }
}

/// Asserts `task` is still running and was never asked to stop (`by` names
/// the combinator that must not have cancelled it, for the failure message).
pub fn assert_running_uncancelled(task: &TaskRef, by: &str) {
    assert!(!task.done(), "{task:?} should still be running");
    assert_eq!(task.cancelling(), 0, "{task:?} was cancelled by {by}");
}

/// Asserts `task` finished with a value (not cancelled, not failed, never
/// asked to cancel).
pub fn assert_finished_normally(task: &TaskRef) {
    assert!(task.done(), "{task:?} is not done");
    assert!(!task.cancelled(), "{task:?} ended cancelled");
    assert_eq!(task.cancelling(), 0, "{task:?} was asked to cancel");
    assert!(
        task.exception().unwrap().is_none(),
        "{task:?} failed: {:?}",
        task.exception()
    );
}

/// Sets every gate in `gates`, then waits for each of `tasks` and checks it
/// finished normally ([`assert_finished_normally`]).
pub async fn open_and_finish(gates: &[&Promise<()>], tasks: &[&TaskRef]) {
    for gate in gates {
        gate.set_result(()).unwrap();
    }
    for task in tasks {
        wait_done(task).await;
        assert_finished_normally(task);
    }
}

// ----- wakers for tests that poll by hand -----

/// A waker that panics when woken (wrap it with `Waker::from(Arc::new(..))`).
pub struct PanickingWaker;

impl std::task::Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("this waker panics when woken");
    }
}

/// A waker that counts its wake-ups.
#[derive(Default)]
pub struct CountingWaker(AtomicUsize);

impl CountingWaker {
    pub fn wakes(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl std::task::Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `fut` once with `waker`.
pub fn poll_with<F: Future + Unpin>(
    fut: &mut F,
    waker: &std::task::Waker,
) -> std::task::Poll<F::Output> {
    std::pin::Pin::new(fut).poll(&mut std::task::Context::from_waker(waker))
}

/// A small xorshift generator (seed it with a non-zero value): spreads
/// deadlines, picks random cancellation points, without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

// ----- asyncio-style scenarios (the sync_* ports of test_locks.py) -----

/// Under the watchdog, runs the future `make` returns as a task pinned to
/// one loop (`weft::spawn_local` from `block_on`) and returns its output. On
/// that loop pinned tasks run in FIFO order, spawned or woken, and interleave
/// only at their awaits, as on asyncio's loop; so a scenario that spawns its
/// tasks with `weft::spawn_local` gets asyncio's interleavings, and
/// `weft::yield_now()` plays `await asyncio.sleep(0)`: every task made ready
/// before it runs once before the body goes on. (Tasks spawned onto the
/// workers would not: a worker runs the task it woke last first, from its
/// LIFO slot.) A failure inside the body fails the test.
pub fn on_one_loop<F, M>(make: M) -> F::Output
where
    M: FnOnce() -> F + Send + 'static,
    F: Future + 'static,
    F::Output: Send + 'static,
{
    block_on(1, move |_| async move {
        match weft::spawn_local(make()).await {
            Ok(value) => value,
            Err(err) => panic!("the test task failed: {err}"),
        }
    })
}

// ----- a steal on demand -----

/// On `rt` (two workers, threads named `{prefix}-{index}`): a task spawns
/// `children` detached tasks onto its own worker, then holds that worker
/// (a plain sleep loop, bounded) until they have all run, so the sibling
/// must steal every one. Returns the index of the held worker (the victim).
pub fn steal_from_a_held_worker(rt: &Runtime, prefix: &str, children: usize) -> usize {
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    let held_on = rt
        .block_on(rt.spawn(async move {
            for _ in 0..children {
                let d = d.clone();
                weft::spawn(async move {
                    d.fetch_add(1, Ordering::SeqCst);
                })
                .detach();
            }
            let start = Instant::now();
            while d.load(Ordering::SeqCst) < children {
                give_up_after_20s(start, "the sibling to steal the children");
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::current().name().unwrap_or_default().to_owned()
        }))
        .expect("the holding task");
    assert_eq!(done.load(Ordering::SeqCst), children);
    held_on
        .strip_prefix(prefix)
        .and_then(|s| s.strip_prefix('-'))
        .and_then(|i| i.parse().ok())
        .unwrap_or_else(|| panic!("not a worker of {prefix}: {held_on:?}"))
}
