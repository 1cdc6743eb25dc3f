//! Timers (ASYNCIO.md, "sleep"): `sleep` / `sleep_until` / `sleep_with` never
//! return early, `sleep(0)` yields exactly once, timers fire in deadline order
//! under load, cancelled (dropped) timers leave the wheels at once, `Sleep::reset`,
//! `interval`, and the driver's `next_wake` protocol (a timer registered while
//! the reactor-owning worker sleeps towards a later deadline still fires on time).
//!
//! Timing assertions are only "never early" or generous upper bounds (the suite
//! runs on small, noisy VMs).

mod common;

use common::{
    block_on, poll_once, runtime, spin_until, wait_until, watchdog, watchdog_for, Log, Rng,
};
use futures_util::task::noop_waker_ref;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::ThreadId;
use std::time::{Duration, Instant};
use weft::{LoopHandle, Sleep};

/// "Fires on time" in these tests: far above any honest lateness, far below
/// the later deadline a broken wake-up would wait for.
const ON_TIME: Duration = Duration::from_secs(1);

/// A waker counting its wakes.
#[derive(Default)]
struct CountWaker(AtomicUsize);

impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<CountWaker>, Waker) {
    let count = Arc::new(CountWaker::default());
    (count.clone(), Waker::from(count))
}

fn pending_timers() -> usize {
    weft::Handle::current().metrics().pending_timers
}

/// Durations around the wheel's 250 µs tick and its multiples.
fn probe_durations() -> Vec<Duration> {
    let micros = [
        1, 100, 249, 250, 251, 499, 500, 501, 999, 1_000, 1_300, 2_000, 3_333, 5_000, 7_250,
        10_000, 16_001, 25_000, 40_000, 50_000,
    ];
    micros.iter().map(|&u| Duration::from_micros(u)).collect()
}

// ----- sleep, sleep_until, sleep_with -----

#[test]
fn sleep_never_returns_early() {
    let durations = probe_durations();
    block_on(2, move |_| async move {
        // Concurrently on the workers: every duration 20 times, as `sleep` and
        // as `sleep_until`.
        let mut tasks = Vec::new();
        for rep in 0..20 {
            for &d in &durations {
                tasks.push(weft::spawn(async move {
                    if rep % 2 == 0 {
                        let start = Instant::now();
                        weft::sleep(d).await;
                        (d, start.elapsed(), Duration::ZERO)
                    } else {
                        let start = Instant::now();
                        let deadline = start + d;
                        weft::sleep_until(deadline).await;
                        let now = Instant::now();
                        (d, now - start, deadline.saturating_duration_since(now))
                    }
                }));
            }
        }
        // One after another on the block_on loop.
        for &d in &durations {
            let start = Instant::now();
            weft::sleep(d).await;
            let took = start.elapsed();
            assert!(
                took >= d,
                "sleep({d:?}) on block_on returned after {took:?}"
            );
            assert!(took < d + ON_TIME, "sleep({d:?}) took {took:?}");
        }
        for t in tasks {
            let (d, took, short) = t.await.unwrap();
            assert!(took >= d, "sleep({d:?}) returned after {took:?}: early");
            assert_eq!(
                short,
                Duration::ZERO,
                "sleep_until returned before its deadline"
            );
            assert!(
                took < d + Duration::from_secs(3),
                "sleep({d:?}) took {took:?}"
            );
        }
    });
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn sleep_with_returns_its_value_after_the_delay() {
    let start = Instant::now();
    let v = weft::sleep_with(Duration::from_millis(15), String::from("payload")).await;
    assert_eq!(v, "payload");
    assert!(start.elapsed() >= Duration::from_millis(15));

    // Zero: yields once, then returns the value.
    let mut s = weft::sleep_with(Duration::ZERO, vec![1, 2, 3]);
    assert!(poll_once(&mut s).is_pending(), "sleep_with(0) yields once");
    assert_eq!(poll_once(&mut s), Poll::Ready(vec![1, 2, 3]));

    // On a worker, with a non-Clone value.
    struct Token(u32);
    let t = weft::spawn(async {
        let start = Instant::now();
        let tok = weft::sleep_with(Duration::from_millis(5), Token(7)).await;
        (tok.0, start.elapsed())
    });
    let (v, took) = t.await.unwrap();
    assert_eq!(v, 7);
    assert!(took >= Duration::from_millis(5));
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn sleep_until_a_past_instant_is_ready_without_suspending() {
    let h = weft::Handle::current();
    let check = || {
        let past = Instant::now();
        let mut s = weft::sleep_until(past);
        assert_eq!(s.deadline(), past);
        assert!(s.is_elapsed());
        let (count, waker) = counting_waker();
        let polled = Pin::new(&mut s).poll(&mut Context::from_waker(&waker));
        assert_eq!(polled, Poll::Ready(()), "a past deadline is ready at once");
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            0,
            "and does not wake itself"
        );
        assert_eq!(pending_timers(), 0, "nor registers a timer");
    };
    // On the block_on loop, and inside a task on a worker.
    check();
    weft::spawn(async move { check() }).await.unwrap();

    // By ordering: a task awaiting a past deadline runs straight through,
    // before a sibling queued behind it gets a turn.
    let log = Log::new();
    let (a, b) = (log.clone(), log.clone());
    let first = weft::spawn_local(async move {
        a.push("a: before");
        weft::sleep_until(Instant::now()).await;
        a.push("a: after");
    });
    let second = weft::spawn_local(async move { b.push("b") });
    first.await.unwrap();
    second.await.unwrap();
    assert_eq!(log.snapshot(), ["a: before", "a: after", "b"]);
    assert_eq!(h.metrics().pending_timers, 0);
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_deadline_beyond_the_wheels_span_is_held_and_removable() {
    let h = weft::Handle::current();
    // The wheels span about 200 days; a century is parked and held.
    let century = Duration::from_secs(86_400 * 365 * 100);
    let mut far = weft::sleep_until(Instant::now() + century);
    assert!(poll_once(&mut far).is_pending());
    let mut also_far = weft::sleep(Duration::from_secs(86_400 * 365));
    assert!(poll_once(&mut also_far).is_pending());
    assert_eq!(h.metrics().pending_timers, 2);
    // Nearer timers still fire meanwhile.
    let start = Instant::now();
    weft::sleep(Duration::from_millis(10)).await;
    assert!(start.elapsed() >= Duration::from_millis(10));
    assert!(poll_once(&mut far).is_pending(), "a far deadline fired");
    assert!(
        poll_once(&mut also_far).is_pending(),
        "a far deadline fired"
    );
    drop(far);
    drop(also_far);
    assert_eq!(h.metrics().pending_timers, 0);
}

/// Regression: `sleep(d)` and `call_later(d, f)` computed `Instant::now() + d`,
/// which panicked ("overflow when adding duration to instant") for a huge `d`
/// such as `Duration::MAX`. They now saturate to a far deadline, as asyncio's
/// and tokio's sleeps accept any delay.
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn sleep_and_call_later_accept_any_duration() {
    let h = weft::Handle::current();
    let mut s = catch_unwind(|| weft::sleep(Duration::MAX))
        .map_err(|e| common::panic_message(&*e))
        .expect("sleep(Duration::MAX) panicked");
    assert!(poll_once(&mut s).is_pending());
    drop(s);
    let cb = catch_unwind(|| weft::call_later(Duration::MAX, || ()))
        .map_err(|e| common::panic_message(&*e))
        .expect("call_later(Duration::MAX) panicked");
    cb.cancel();
    assert_eq!(h.metrics().pending_timers, 0);
}

// ----- sleep(0) -----

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn sleep_zero_is_pending_once_then_ready() {
    let mut s = weft::sleep(Duration::ZERO);
    let (count, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut s).poll(&mut cx).is_pending(), "first poll");
    assert_eq!(count.0.load(Ordering::SeqCst), 1, "it wakes itself once");
    assert_eq!(pending_timers(), 0, "a yield, not a timer");
    assert!(Pin::new(&mut s).poll(&mut cx).is_ready(), "second poll");
    assert_eq!(count.0.load(Ordering::SeqCst), 1);

    // The same inside a task on a worker.
    weft::spawn(async {
        let mut s = weft::sleep(Duration::ZERO);
        let (count, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut s).poll(&mut cx).is_ready());
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    })
    .await
    .unwrap();
}

#[derive(Clone, Copy, Debug)]
enum Step {
    SleepZero,
    Yield,
}

async fn step(kind: Step) {
    match kind {
        Step::SleepZero => weft::sleep(Duration::ZERO).await,
        Step::Yield => weft::yield_now().await,
    }
}

async fn stepper(name: &'static str, kind: Step, log: Log<String>) {
    for i in 0..4 {
        log.push(format!("{name}{i}"));
        step(kind).await;
    }
    log.push(format!("{name}-end"));
}

/// The interleaving of two `spawn_local` tasks on a block_on loop.
fn interleave_on_block_on(a: Step, b: Step) -> Vec<String> {
    block_on(1, move |_| async move {
        let log = Log::new();
        let ta = weft::spawn_local(stepper("A", a, log.clone()));
        let tb = weft::spawn_local(stepper("B", b, log.clone()));
        ta.await.unwrap();
        tb.await.unwrap();
        log.snapshot()
    })
}

/// The interleaving of two tasks on a one-worker runtime.
fn interleave_on_one_worker(a: Step, b: Step) -> Vec<String> {
    block_on(1, move |h| {
        let root = h.spawn(async move {
            let log = Log::new();
            let ta = weft::spawn(stepper("A", a, log.clone()));
            let tb = weft::spawn(stepper("B", b, log.clone()));
            ta.await.unwrap();
            tb.await.unwrap();
            log.snapshot()
        });
        async move { root.await.unwrap() }
    })
}

fn assert_alternates(log: &[String]) {
    for pair in log.windows(2) {
        assert_ne!(
            pair[0].as_bytes()[0],
            pair[1].as_bytes()[0],
            "one task ran two steps in a row: {log:?}"
        );
    }
}

#[test]
fn sleep_zero_yields_exactly_once_like_yield_now() {
    watchdog(|| {
        let expected = [
            "A0", "B0", "A1", "B1", "A2", "B2", "A3", "B3", "A-end", "B-end",
        ];
        // Pinned tasks on a block_on loop: each step is one turn.
        for (a, b) in [
            (Step::Yield, Step::Yield),
            (Step::SleepZero, Step::SleepZero),
            (Step::SleepZero, Step::Yield),
            (Step::Yield, Step::SleepZero),
        ] {
            assert_eq!(
                interleave_on_block_on(a, b),
                expected,
                "A: {a:?}, B: {b:?} on a block_on loop"
            );
        }
        // Stealable tasks on one worker: sleep(0) orders them exactly as
        // yield_now does, one step each in turn.
        let yields = interleave_on_one_worker(Step::Yield, Step::Yield);
        assert_alternates(&yields);
        assert_eq!(yields.len(), 10);
        for (a, b) in [
            (Step::SleepZero, Step::SleepZero),
            (Step::SleepZero, Step::Yield),
            (Step::Yield, Step::SleepZero),
        ] {
            assert_eq!(
                interleave_on_one_worker(a, b),
                yields,
                "A: {a:?}, B: {b:?} on one worker"
            );
        }
    });
}

// ----- order and volume -----

/// One timed task's record: its deadline, whether its sleep actually waited
/// (first poll pending), and when it finished.
#[derive(Clone, Copy, Debug)]
struct Fired {
    deadline: Instant,
    suspended: bool,
    at: Instant,
}

/// Spawns `n` tasks (from a task on the runtime, in shuffled order) each
/// sleeping until its own distinct deadline, spread over `spread` starting
/// `lead` after the last one was spawned; returns their records in
/// completion order.
fn timed_tasks(workers: usize, n: usize, lead: Duration, spread: Duration) -> Vec<Fired> {
    block_on(workers, move |h| {
        let h = h.clone();
        async move {
            let log = Log::<Fired>::new();
            // Set once every task is spawned, so spawning eats none of the lead.
            let base = Arc::new(OnceLock::<Instant>::new());
            let spawner = {
                let log = log.clone();
                let base = base.clone();
                weft::spawn(async move {
                    let step = spread / n as u32;
                    let mut offsets: Vec<u32> = (0..n as u32).collect();
                    Rng(0x2545_F491_4F6C_DD1D).shuffle(&mut offsets);
                    for k in offsets {
                        let (log, base) = (log.clone(), base.clone());
                        weft::spawn(async move {
                            // On one worker no task runs before the spawner
                            // returns; on several, some wait here for the base.
                            let base = loop {
                                match base.get() {
                                    Some(&b) => break b,
                                    None => weft::yield_now().await,
                                }
                            };
                            let deadline = base + step * k;
                            let mut s = weft::sleep_until(deadline);
                            let mut first = None;
                            poll_fn(|cx| {
                                let p = Pin::new(&mut s).poll(cx);
                                first.get_or_insert(p.is_pending());
                                p
                            })
                            .await;
                            let at = Instant::now();
                            log.push(Fired {
                                deadline,
                                suspended: first == Some(true),
                                at,
                            });
                        })
                        .detach();
                    }
                    base.set(Instant::now() + lead).unwrap();
                })
            };
            spawner.await.unwrap();
            while log.len() < n {
                weft::sleep(Duration::from_millis(5)).await;
            }
            // The last task may still be returning; its timer is gone already.
            assert_eq!(h.metrics().pending_timers, 0);
            log.snapshot()
        }
    })
}

fn assert_never_early(fired: &[Fired]) {
    for f in fired {
        assert!(
            f.at >= f.deadline,
            "a timer fired {:?} early",
            f.deadline - f.at
        );
        assert!(
            f.at - f.deadline < Duration::from_secs(5),
            "a timer fired {:?} late",
            f.at - f.deadline
        );
    }
}

#[test]
fn ten_thousand_timers_fire_in_deadline_order_on_one_worker() {
    const N: usize = 10_000;
    // Deadlines differing by more than this complete in deadline order. (The
    // timers due in one driver turn are woken in deadline order; the worker's
    // LIFO slot may then swap the first two of them, which are neighbours.)
    const TOLERANCE: Duration = Duration::from_millis(2);
    // Tasks whose deadline passed before their first poll (a very slow
    // machine) finish in spawn order, which is shuffled: they are left out of
    // the check, but most must have waited or it says nothing; a run where
    // they did not is repeated.
    let mut attempts = 0;
    let (fired, suspended) = loop {
        attempts += 1;
        let fired = timed_tasks(1, N, Duration::from_millis(300), Duration::from_millis(200));
        assert_eq!(fired.len(), N);
        assert_never_early(&fired);
        let suspended: Vec<Fired> = fired.iter().filter(|f| f.suspended).copied().collect();
        if suspended.len() >= N * 9 / 10 {
            break (fired, suspended);
        }
        assert!(
            attempts < 3,
            "only {} of {N} sleeps waited: the setup fell behind {attempts} times",
            suspended.len()
        );
    };
    assert_eq!(fired.len(), N);
    let mut latest = suspended[0].deadline;
    for (i, f) in suspended.iter().enumerate() {
        assert!(
            f.deadline + TOLERANCE >= latest,
            "completion #{i} had a deadline {:?} before one that completed earlier",
            latest - f.deadline
        );
        latest = latest.max(f.deadline);
    }
}

#[test]
fn ten_thousand_timers_on_four_workers_all_fire_never_early() {
    let fired = timed_tasks(
        4,
        10_000,
        Duration::from_millis(50),
        Duration::from_millis(200),
    );
    assert_eq!(fired.len(), 10_000);
    assert_never_early(&fired);
}

#[test]
fn a_hundred_thousand_pending_timers_all_cancelled() {
    const N: usize = 100_000;
    watchdog_for(Duration::from_secs(60), || {
        let rt = runtime(2);
        let handle = rt.handle().clone();
        let drops = common::DropCounter::new();
        let tasks: Vec<_> = (0..N)
            .map(|_| {
                let guard = drops.guard();
                rt.spawn(async move {
                    let _guard = guard;
                    weft::sleep(Duration::from_secs(3600)).await;
                })
            })
            .collect();
        spin_until("every task to register its timer", || {
            handle.metrics().pending_timers == N
        });
        assert_eq!(handle.metrics().live_tasks, N);
        assert_eq!(drops.get(), 0);
        for t in &tasks {
            assert!(t.cancel());
        }
        spin_until("the cancelled timers to leave the wheels", || {
            handle.metrics().pending_timers == 0
        });
        spin_until("the cancelled tasks to end", || {
            handle.metrics().live_tasks == 0
        });
        // A task leaves the registry (the live count) just before it
        // publishes its end, so the last ones may still be finishing here.
        spin_until("every task to be done", || tasks.iter().all(|t| t.done()));
        assert_eq!(drops.get(), N, "each task's future was dropped once");
        assert!(tasks.iter().all(|t| t.cancelled()));
    });
}

#[test]
fn a_hundred_thousand_short_timers_all_fire() {
    const N: usize = 100_000;
    watchdog_for(Duration::from_secs(60), || {
        let rt = runtime(2);
        let handle = rt.handle().clone();
        let done = Arc::new(AtomicUsize::new(0));
        let early = Arc::new(AtomicUsize::new(0));
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..N {
            let d = Duration::from_micros(rng.below(50_000));
            let (done, early) = (done.clone(), early.clone());
            rt.spawn(async move {
                let start = Instant::now();
                weft::sleep(d).await;
                if start.elapsed() < d {
                    early.fetch_add(1, Ordering::SeqCst);
                }
                done.fetch_add(1, Ordering::SeqCst);
            })
            .detach();
        }
        spin_until("every short timer to fire", || {
            done.load(Ordering::SeqCst) == N
        });
        assert_eq!(early.load(Ordering::SeqCst), 0, "sleeps returned early");
        assert_eq!(handle.metrics().pending_timers, 0);
        spin_until("the tasks to end", || handle.metrics().live_tasks == 0);
    });
}

// ----- cancelling by drop -----

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn dropping_a_sleep_removes_its_timer() {
    let h = weft::Handle::current();
    let hour = Duration::from_secs(3600);
    let timers = || h.metrics().pending_timers;
    let mut a = weft::sleep(hour);
    assert_eq!(timers(), 0, "registered only when polled");
    assert!(poll_once(&mut a).is_pending());
    assert_eq!(timers(), 1);
    assert!(poll_once(&mut a).is_pending());
    assert_eq!(timers(), 1, "a second poll re-arms, it does not add");
    let mut b = weft::sleep_until(Instant::now() + hour);
    assert!(poll_once(&mut b).is_pending());
    assert_eq!(timers(), 2);
    drop(a);
    assert_eq!(timers(), 1, "dropping a Sleep removes its timer at once");
    drop(b);
    assert_eq!(timers(), 0);

    // A finished sleep leaves nothing behind.
    weft::sleep(Duration::from_millis(2)).await;
    assert_eq!(timers(), 0);

    // The loser of a race is dropped with its timer.
    let short = weft::sleep_with(Duration::from_millis(5), "short");
    let long = weft::sleep_with(hour, "long");
    let won = match futures_util::future::select(Box::pin(short), Box::pin(long)).await {
        futures_util::future::Either::Left((v, _)) => v,
        futures_util::future::Either::Right((v, _)) => v,
    };
    assert_eq!(won, "short");
    assert_eq!(timers(), 0);

    // A task awaiting a sleep, cancelled.
    let tasks: Vec<_> = (0..10).map(|_| weft::spawn(weft::sleep(hour))).collect();
    wait_until("ten timers", || timers() == 10).await;
    for t in &tasks[..5] {
        t.cancel();
    }
    wait_until("five timers removed", || timers() == 5).await;
    for t in &tasks[5..] {
        t.cancel();
    }
    for t in tasks {
        assert!(t.await.unwrap_err().is_cancelled());
    }
    assert_eq!(timers(), 0);

    // An interval's pending tick.
    let mut every = weft::interval(hour);
    every.tick().await;
    assert!(poll_once(&mut Box::pin(every.tick())).is_pending());
    assert_eq!(timers(), 1);
    drop(every);
    assert_eq!(timers(), 0);
}

// ----- reset -----

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn sleep_reset_moves_the_deadline_earlier_and_later() {
    let h = weft::Handle::current();
    let timers = || h.metrics().pending_timers;

    // Earlier: an hour's sleep, already registered, cut to 20 ms.
    let mut s = weft::sleep(Duration::from_secs(3600));
    assert!(poll_once(&mut s).is_pending());
    assert_eq!(timers(), 1);
    let start = Instant::now();
    let target = start + Duration::from_millis(20);
    s.reset(target);
    assert_eq!(s.deadline(), target);
    assert_eq!(timers(), 0, "reset drops the old timer at once");
    (&mut s).await;
    let now = Instant::now();
    assert!(now >= target, "woke {:?} early", target - now);
    assert!(
        now - start < ON_TIME,
        "the earlier deadline took {:?}",
        now - start
    );
    assert_eq!(timers(), 0);

    // Later: a 10 ms sleep, registered, pushed out to 60 ms. Its old
    // timer must not end it.
    let start = Instant::now();
    let mut s = weft::sleep(Duration::from_millis(10));
    assert!(poll_once(&mut s).is_pending());
    let target = start + Duration::from_millis(60);
    s.reset(target);
    (&mut s).await;
    assert!(
        Instant::now() >= target,
        "reset later: woke at the old deadline"
    );

    // Reset after completion waits again.
    let again = Instant::now() + Duration::from_millis(15);
    s.reset(again);
    assert!(!s.is_elapsed());
    s.await;
    assert!(Instant::now() >= again);

    // Reset of a sleep(0) to a past instant: ready at once, no yield.
    let mut z = weft::sleep(Duration::ZERO);
    z.reset(Instant::now());
    assert_eq!(poll_once(&mut z), Poll::Ready(()));

    // On a worker, reset while the timer is pending from another poll.
    let t = weft::spawn(async {
        let start = Instant::now();
        let mut s: Sleep = weft::sleep(Duration::from_secs(3600));
        assert!(poll_once(&mut s).is_pending());
        s.reset(start + Duration::from_millis(10));
        s.await;
        start.elapsed()
    });
    let took = t.await.unwrap();
    assert!(
        took >= Duration::from_millis(10) && took < ON_TIME,
        "{took:?}"
    );
}

// ----- interval -----

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn interval_ticks_on_its_grid_first_at_once_skipping_missed_ticks() {
    let p = Duration::from_millis(20);
    let created = Instant::now();
    let mut every = weft::interval(p);
    assert_eq!(every.period(), p);
    let mut cx = Context::from_waker(noop_waker_ref());
    // The first tick is immediate.
    let t0 = match every.poll_tick(&mut cx) {
        Poll::Ready(t) => t,
        Poll::Pending => panic!("the first tick must be ready at once"),
    };
    assert!(t0 >= created && t0 <= Instant::now());

    // The next ticks: on the grid, each one period after the last, never early.
    for k in 1..=3u32 {
        let t = every.tick().await;
        assert_eq!(t, t0 + p * k, "tick {k} off the grid");
        assert!(Instant::now() >= t, "tick {k} came early");
    }

    // Miss ticks: block this thread for five and a half periods.
    std::thread::sleep(p * 5 + p / 2);
    // The overdue tick (t0 + 4p) is delivered at once...
    let before = Instant::now();
    let late = match every.poll_tick(&mut cx) {
        Poll::Ready(t) => t,
        Poll::Pending => panic!("an overdue tick must be ready at once"),
    };
    let after = Instant::now();
    assert_eq!(late, t0 + p * 4);
    // ...and the schedule skips what was missed: the next tick is the first
    // grid point after the late one was taken, not a burst of old ones.
    let next = every.tick().await;
    assert!(Instant::now() >= next);
    assert!(
        next > before,
        "burst: a missed tick {:?} old",
        before - next
    );
    assert!(next <= after + p, "skipped too far: {:?}", next - after);
    let since = next - t0;
    assert_eq!(
        since.as_nanos() % p.as_nanos(),
        0,
        "the tick after a skip is off the grid"
    );
    let following = every.tick().await;
    assert_eq!(following, next + p);

    // interval_at: the first tick at its start, not before.
    let start = Instant::now() + Duration::from_millis(30);
    let mut later = weft::interval_at(start, p);
    assert!(later.poll_tick(&mut cx).is_pending());
    assert_eq!(later.tick().await, start);
    assert!(Instant::now() >= start);
    assert_eq!(later.tick().await, start + p);

    // A zero period is refused.
    let err = catch_unwind(AssertUnwindSafe(|| weft::interval(Duration::ZERO))).unwrap_err();
    assert!(common::panic_message(&*err).contains("non-zero"));
}

// ----- the driver's next_wake protocol -----

/// Both workers' loop handles and thread ids (two tasks meet at a barrier, so
/// they run on different workers at once).
fn worker_loops(rt: &weft::Runtime) -> Vec<(LoopHandle, ThreadId)> {
    let barrier = Arc::new(Barrier::new(2));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let barrier = barrier.clone();
            rt.spawn(async move {
                barrier.wait();
                (LoopHandle::current(), std::thread::current().id())
            })
        })
        .collect();
    let loops: Vec<_> = tasks.into_iter().map(|t| rt.block_on(t).unwrap()).collect();
    assert_ne!(loops[0].1, loops[1].1);
    loops
}

/// Gives the workers time to run out of work and park (one in the driver).
fn let_workers_park() {
    std::thread::sleep(Duration::from_millis(50));
}

#[test]
fn call_later_from_a_plain_thread_interrupts_a_driver_waiting_for_a_later_timer() {
    watchdog(|| {
        let rt = runtime(2);
        let loops = worker_loops(&rt);
        // No timer at all first (the driver waits without a timeout), then
        // with a 30 s timer pending (it waits until then).
        let mut far = None;
        for round in 0..4 {
            if round == 1 {
                far = Some(rt.spawn(weft::sleep(Duration::from_secs(30))));
                spin_until("the far timer", || {
                    rt.handle().metrics().pending_timers == 1
                });
            }
            for (lp, tid) in &loops {
                let_workers_park();
                let (tx, rx) = mpsc::channel();
                let start = Instant::now();
                // Nothing but the new timer can wake the driver here.
                lp.call_later(Duration::from_millis(20), move || {
                    let _ = tx.send((Instant::now(), std::thread::current().id()));
                });
                let (at, on) = rx.recv_timeout(ON_TIME).unwrap_or_else(|_| {
                    panic!("round {round}: a 20 ms call_later did not run within {ON_TIME:?}")
                });
                assert!(at - start >= Duration::from_millis(20), "ran early");
                assert_eq!(on, *tid, "ran off its loop's thread");
            }
        }
        far.unwrap().cancel();
    });
}

#[test]
fn sleep_on_a_woken_worker_fires_while_the_driver_waits_for_a_later_timer() {
    watchdog(|| {
        let rt = runtime(2);
        let loops = worker_loops(&rt);
        let far = rt.spawn(weft::sleep(Duration::from_secs(30)));
        spin_until("the far timer", || {
            rt.handle().metrics().pending_timers == 1
        });
        // Each worker in turn is woken (through its inbox) to start a 20 ms
        // sleep while the other parks; whichever of them holds the driver, in
        // one of the two cases the sleep is registered by the worker that does
        // not, and the driver must notice the earlier deadline.
        for round in 0..3 {
            for (lp, tid) in &loops {
                let_workers_park();
                let (tx, rx) = mpsc::channel();
                let tid = *tid;
                lp.call_soon_threadsafe(move || {
                    weft::spawn_local(async move {
                        let start = Instant::now();
                        weft::sleep(Duration::from_millis(20)).await;
                        let _ = tx.send((start.elapsed(), std::thread::current().id() == tid));
                    })
                    .detach();
                });
                let (took, same_thread) = rx.recv_timeout(ON_TIME).unwrap_or_else(|_| {
                    panic!("round {round}: a 20 ms sleep did not end within {ON_TIME:?}")
                });
                assert!(took >= Duration::from_millis(20));
                assert!(same_thread, "a spawn_local task left its loop");
            }
        }
        far.cancel();
    });
}

#[test]
fn sleep_in_block_on_fires_while_every_worker_is_idle() {
    watchdog(|| {
        let rt = runtime(2);
        let sleep_on_main = |rt: &weft::Runtime| {
            let_workers_park();
            rt.block_on(async {
                let start = Instant::now();
                weft::sleep(Duration::from_millis(20)).await;
                start.elapsed()
            })
        };
        // No timer pending: the driver waits with no timeout.
        for _ in 0..3 {
            let took = sleep_on_main(&rt);
            assert!(
                took >= Duration::from_millis(20) && took < ON_TIME,
                "{took:?}"
            );
        }
        // A 30 s timer pending: the driver waits until then.
        let far = rt.spawn(weft::sleep(Duration::from_secs(30)));
        spin_until("the far timer", || {
            rt.handle().metrics().pending_timers == 1
        });
        for _ in 0..3 {
            let took = sleep_on_main(&rt);
            assert!(
                took >= Duration::from_millis(20) && took < ON_TIME,
                "{took:?}"
            );
        }
        // From a spawn_local task on the block_on loop too.
        let took = rt.block_on(async {
            weft::spawn_local(async {
                let start = Instant::now();
                weft::sleep(Duration::from_millis(20)).await;
                start.elapsed()
            })
            .await
            .unwrap()
        });
        assert!(
            took >= Duration::from_millis(20) && took < ON_TIME,
            "{took:?}"
        );
        far.cancel();
    });
}
