//! The runtime (ASYNCIO.md, "Loop": run_until_complete / block_on, the closed
//! runtime, run): Builder, worker threads and hooks, Handle from plain threads,
//! nested block_on, spawning on a closed runtime, `weft::run`, `spawn_local`,
//! `yield_now`, and cooperative budgeting against starvation.

mod common;

use common::{
    block_on, panic_message, spin_until, wait_done, wait_until, watchdog, watchdog_for,
    DropCounter, Flag, Log, TraceLog,
};
use std::future::{pending, Future};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::ThreadId;
use std::time::{Duration, Instant};
use weft::{catch_cancel, Builder, Promise, Task, TaskRef};

const NESTED: &str = "cannot block on a future inside a running weft loop";

// ----- Builder -----

#[test]
fn builder_rejects_zero_workers() {
    watchdog(|| {
        let err = Builder::new().workers(0).build().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        let rt = Builder::new().workers(1).build().unwrap();
        assert_eq!(rt.handle().metrics().workers, 1);
        let rt = Builder::new().build().unwrap();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(rt.handle().metrics().workers, cores);
    });
}

#[test]
fn worker_threads_are_named_and_hooks_run_once_per_worker() {
    watchdog(|| {
        let starts = Log::<String>::new();
        let stops = Log::<String>::new();
        let (s1, s2) = (starts.clone(), stops.clone());
        let name = || {
            std::thread::current()
                .name()
                .unwrap_or("<unnamed>")
                .to_owned()
        };
        let rt = Builder::new()
            .workers(3)
            .thread_name("hooked")
            .on_thread_start(move || s1.push(name()))
            .on_thread_stop(move || s2.push(name()))
            .build()
            .unwrap();
        spin_until("three start hooks", || starts.len() == 3);
        let mut started = starts.snapshot();
        started.sort();
        // Each hook ran on its worker, named `{prefix}-{index}`.
        assert_eq!(started, ["hooked-0", "hooked-1", "hooked-2"]);
        let task_thread = rt.block_on(rt.spawn(async move { name() })).unwrap();
        assert!(task_thread.starts_with("hooked-"), "{task_thread}");
        assert!(
            stops.snapshot().is_empty(),
            "a stop hook ran while the runtime runs"
        );
        assert!(rt.shutdown_timeout(Duration::from_secs(5)));
        let mut stopped = stops.snapshot();
        stopped.sort();
        assert_eq!(stopped, started, "each worker's stop hook must run once");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(starts.len(), 3);
        assert_eq!(stops.len(), 3);

        // The default prefix.
        let rt = Builder::new().workers(1).build().unwrap();
        let n = rt.block_on(rt.spawn(async { std::thread::current().name().map(str::to_owned) }));
        assert_eq!(n.unwrap().as_deref(), Some("weft-worker-0"));
        // Dropping the runtime also runs the stop hooks.
        let stops = Log::<()>::new();
        let s = stops.clone();
        let rt = Builder::new()
            .workers(2)
            .on_thread_stop(move || s.push(()))
            .build()
            .unwrap();
        drop(rt);
        assert_eq!(stops.len(), 2);
    });
}

// ----- Handle and block_on from plain threads -----

#[test]
fn spawn_from_a_plain_thread_through_a_handle() {
    watchdog(|| {
        let rt = common::runtime(2);
        let handle = rt.handle().clone();
        let ran = Flag::new();
        let r = ran.clone();
        let out = std::thread::spawn(move || {
            assert!(weft::Handle::try_current().is_none());
            let t = handle.spawn(async { 6 * 7 });
            handle.spawn(async move { r.set() }).detach();
            let t2 = handle.try_spawn(async { 1 }).unwrap();
            (handle.block_on(t).unwrap(), handle.block_on(t2).unwrap())
        })
        .join()
        .unwrap();
        assert_eq!(out, (42, 1));
        spin_until("the detached task", || ran.get());

        // weft::spawn needs a runtime on this thread, and says so.
        let payload = catch_unwind(|| weft::spawn(async {})).unwrap_err();
        let msg = panic_message(&*payload);
        assert!(msg.contains("weft runtime"), "unclear panic message: {msg}");
        let payload = catch_unwind(|| weft::spawn_local(async {})).unwrap_err();
        let msg = panic_message(&*payload);
        assert!(
            msg.contains("outside a weft loop"),
            "unclear panic message: {msg}"
        );
    });
}

#[test]
fn block_on_from_several_plain_threads_at_once() {
    watchdog(|| {
        let rt = common::runtime(2);
        let threads: Vec<_> = (0..6u64)
            .map(|i| {
                let handle = rt.handle().clone();
                std::thread::spawn(move || {
                    handle.block_on(async move {
                        assert!(weft::Handle::try_current().is_some());
                        let tasks: Vec<Task<u64>> = (0..50)
                            .map(|j| weft::spawn(async move { i * 1000 + j }))
                            .collect();
                        let mut sum = 0;
                        for t in tasks {
                            sum += t.await.unwrap();
                        }
                        let local = weft::spawn_local(async move { Rc::new(i) });
                        sum + *local.await.unwrap()
                    })
                })
            })
            .collect();
        for (i, t) in threads.into_iter().enumerate() {
            let i = i as u64;
            assert_eq!(t.join().unwrap(), i * 50_000 + 1225 + i);
        }
    });
}

// ----- nested block_on -----

/// Checks that blocking here is refused: `try_block_on` errs without polling or
/// keeping the future, `block_on` and `weft::run` panic with a clear message.
fn assert_nested_block_on_refused(handle: &weft::Handle) {
    let polled = Flag::new();
    let drops = DropCounter::new();
    let (p, g) = (polled.clone(), drops.guard());
    let err = handle
        .try_block_on(async move {
            let _g = g;
            p.set();
        })
        .unwrap_err();
    assert_eq!(err.to_string(), NESTED);
    assert!(!polled.get(), "the refused future was polled");
    assert_eq!(drops.get(), 1, "the refused future was not dropped");

    let payload = catch_unwind(AssertUnwindSafe(|| handle.block_on(async { 1 }))).unwrap_err();
    let msg = panic_message(&*payload);
    assert!(msg.contains(NESTED), "unclear panic message: {msg}");

    let payload = catch_unwind(|| weft::run(async { 1 })).unwrap_err();
    let msg = panic_message(&*payload);
    assert!(msg.contains(NESTED), "unclear panic message: {msg}");
}

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn block_on_inside_a_task_is_refused_not_a_deadlock() {
    let h = weft::Handle::current();
    let other = common::runtime(1);
    let other_handle = other.handle().clone();
    weft::spawn(async move {
        assert_nested_block_on_refused(&h);
        // Any runtime: a worker thread must not block.
        assert_nested_block_on_refused(&other_handle);
        drop(other);
    })
    .await
    .unwrap();
    // The worker survived the panics.
    assert_eq!(weft::spawn(async { 2 }).await.unwrap(), 2);
}

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn block_on_inside_block_on_is_refused_not_a_deadlock() {
    let h = weft::Handle::current();
    assert_nested_block_on_refused(&h);
    let other = common::runtime(1);
    assert_nested_block_on_refused(other.handle());
    // Also from a local task running on this block_on loop.
    let h2 = h.clone();
    weft::spawn_local(async move { assert_nested_block_on_refused(&h2) })
        .await
        .unwrap();
    // Still usable afterwards.
    assert_eq!(weft::spawn(async { 3 }).await.unwrap(), 3);
}

// ----- a closed runtime -----

#[test]
fn a_closed_runtime_refuses_new_tasks_and_drops_them_unpolled() {
    watchdog(|| {
        for graceful in [false, true] {
            let rt = common::runtime(2);
            let handle = rt.handle().clone();
            if graceful {
                assert!(rt.shutdown_timeout(Duration::from_secs(1)));
            } else {
                drop(rt);
            }
            assert!(handle.is_closed());

            let (polled, drops) = (Flag::new(), DropCounter::new());
            let (p, g) = (polled.clone(), drops.guard());
            let err = handle
                .try_spawn(async move {
                    let _g = g;
                    p.set();
                })
                .unwrap_err();
            assert_eq!(err.to_string(), "runtime is shut down");
            assert_eq!(drops.get(), 1, "the refused future was not dropped at once");
            assert!(!polled.get());

            let (p, g) = (polled.clone(), drops.guard());
            let mut t = handle.spawn(async move {
                let _g = g;
                p.set();
                5
            });
            assert_eq!(drops.get(), 2, "the refused future was not dropped at once");
            assert!(t.done() && t.cancelled());
            assert!(t.exception().unwrap().unwrap().is_cancelled());
            let e = t.result().unwrap().unwrap_err();
            let shut_down = Some("runtime is shut down");
            assert_eq!(e.as_cancelled().unwrap().message(), shut_down);
            // Awaiting such a handle (here from another runtime) gives Cancelled.
            let t = handle.spawn(async { 6 });
            let live = common::runtime(1);
            let e = live.block_on(t).unwrap_err();
            assert_eq!(e.as_cancelled().unwrap().message(), shut_down);
            assert!(!polled.get());
            assert!(handle.all_tasks().is_empty());
        }
    });
}

#[test]
fn a_refused_tasks_exception_says_the_runtime_is_shut_down() {
    watchdog(|| {
        let rt = common::runtime(1);
        let handle = rt.handle().clone();
        drop(rt);
        let mut t = handle.spawn(async { 5 });
        let from_exception = t.exception().unwrap().unwrap();
        let from_result = t.result().unwrap().unwrap_err();
        // exception() and result() describe the same cancellation.
        assert_eq!(
            from_result.as_cancelled().unwrap().message(),
            Some("runtime is shut down")
        );
        assert_eq!(
            from_exception.as_cancelled().unwrap().message(),
            Some("runtime is shut down")
        );
    });
}

#[test]
fn block_on_on_a_closed_runtime_is_refused() {
    watchdog(|| {
        let rt = common::runtime(1);
        let handle = rt.handle().clone();
        drop(rt);
        let polled = Flag::new();
        let p = polled.clone();
        // asyncio: run_until_complete on a closed loop raises; the future is not run.
        let refused = handle.try_block_on(async move { p.set() }).is_err();
        assert!(
            !polled.get(),
            "a closed runtime ran a future through block_on"
        );
        assert!(refused, "try_block_on on a closed runtime must be an error");
    });
}

// ----- weft::run -----

#[test]
fn run_returns_mains_value_or_error() {
    watchdog(|| {
        assert_eq!(
            weft::run(async { weft::spawn(async { 40 + 2 }).await.unwrap() }),
            42
        );
        let err: Result<u8, String> = weft::run(async { Err("main failed".to_owned()) });
        assert_eq!(err.unwrap_err(), "main failed");
        // main runs on the calling thread.
        let here = std::thread::current().id();
        assert_eq!(weft::run(async { std::thread::current().id() }), here);
    });
}

#[test]
fn run_cancels_leftover_tasks_and_lets_them_clean_up() {
    let (refs, cleaned, drops, elapsed) = watchdog(|| {
        let cleaned = Flag::new();
        let drops = DropCounter::new();
        let started = Instant::now();
        let (c, d) = (cleaned.clone(), drops.clone());
        let refs: Vec<TaskRef> = weft::run(async move {
            let (ready1, ready2) = (Flag::new(), Flag::new());
            let (r1, r2) = (ready1.clone(), ready2.clone());
            // Cleans up with awaits, then re-raises.
            let polite = weft::spawn(async move {
                r1.set();
                if let Err(cancelled) = catch_cancel(pending::<()>()).await {
                    weft::yield_now().await;
                    weft::spawn(async {})
                        .await
                        .expect("cleanup child cancelled");
                    c.set();
                    cancelled.raise::<()>().await;
                }
            });
            // Cleans up with a destructor.
            let g = d.guard();
            let plain = weft::spawn(async move {
                let _g = g;
                r2.set();
                pending::<()>().await
            });
            wait_until("leftovers to start", || ready1.get() && ready2.get()).await;
            // A local task of main's loop is a leftover too.
            let g = d.guard();
            let local = weft::spawn_local(async move {
                let _g = g;
                pending::<()>().await
            });
            weft::yield_now().await;
            vec![polite.task_ref(), plain.task_ref(), local.task_ref()]
        });
        (refs, cleaned, drops, started.elapsed())
    });
    assert!(
        cleaned.get(),
        "the leftover's cleanup did not run to its end"
    );
    assert_eq!(drops.get(), 2, "leftover futures were not dropped");
    for t in &refs {
        assert!(t.done() && t.cancelled(), "{t:?} was not cancelled");
    }
    assert!(
        elapsed < weft::DEFAULT_SHUTDOWN_GRACE,
        "run waited the whole grace: {elapsed:?}"
    );
}

/// A task that refuses to be cancelled: it intercepts and waits forever.
async fn stubborn(reached: Flag, guard: common::DropGuard) {
    let _g = guard;
    reached.set();
    let _ = catch_cancel(pending::<()>()).await;
    pending::<()>().await
}

#[test]
fn run_destroys_and_reports_tasks_that_outlive_the_grace_period() {
    let limit = weft::DEFAULT_SHUTDOWN_GRACE + Duration::from_secs(25);
    let trace = TraceLog::new();
    let tr = trace.clone();
    let (task, drops, elapsed) = watchdog_for(limit, move || {
        let _guard = tr.install();
        let drops = DropCounter::new();
        let g = drops.guard();
        let started = Instant::now();
        let task = weft::run(async move {
            let reached = Flag::new();
            let t = weft::spawn(stubborn(reached.clone(), g));
            t.set_name("stubborn-one");
            wait_until("the stubborn task to start", || reached.get()).await;
            t.task_ref()
        });
        (task, drops, started.elapsed())
    });
    assert!(
        elapsed >= weft::DEFAULT_SHUTDOWN_GRACE,
        "run did not wait the grace: {elapsed:?}"
    );
    assert_eq!(drops.get(), 1, "the stubborn future was not destroyed");
    assert!(task.done() && task.cancelled());
    trace.assert_has(
        tracing::Level::WARN,
        &["destroyed while pending", "stubborn-one"],
    );
}

#[test]
fn shutdown_timeout_reports_whether_everything_finished() {
    watchdog(|| {
        let trace = TraceLog::new();
        let _guard = trace.install();
        // Clean: a leftover that ends when cancelled.
        let rt = common::runtime(2);
        let t = rt.spawn(pending::<()>());
        let r = t.task_ref();
        drop(t);
        assert!(rt.shutdown_timeout(Duration::from_secs(5)));
        assert!(r.cancelled());
        assert!(!trace.has(tracing::Level::WARN, &["destroyed while pending"]));

        // Not clean: a stubborn leftover is destroyed after the grace, reported.
        let rt = common::runtime(2);
        let drops = DropCounter::new();
        let reached = Flag::new();
        let t = rt.spawn(stubborn(reached.clone(), drops.guard()));
        let r = t.task_ref();
        drop(t);
        spin_until("the stubborn task to start", || reached.get());
        let start = Instant::now();
        assert!(!rt.shutdown_timeout(Duration::from_millis(200)));
        assert!(start.elapsed() >= Duration::from_millis(200));
        assert_eq!(drops.get(), 1);
        assert!(r.done() && r.cancelled());
        trace.assert_has(tracing::Level::WARN, &["destroyed while pending"]);
    });
}

// ----- spawn_local -----

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn spawn_local_runs_non_send_futures_on_the_block_on_thread() {
    let here = std::thread::current().id();
    let shared = Rc::new(std::cell::Cell::new(0));
    let s = shared.clone();
    let t = weft::spawn_local(async move {
        let mut seen = Vec::new();
        for _ in 0..10 {
            s.set(s.get() + 1);
            seen.push(std::thread::current().id());
            weft::yield_now().await;
        }
        (seen, Rc::clone(&s))
    });
    let (seen, rc) = t.await.unwrap();
    assert!(
        seen.iter().all(|id| *id == here),
        "a local task left its thread"
    );
    assert_eq!(rc.get(), 10);
    assert_eq!(shared.get(), 10);

    // Woken from another thread, it still runs here.
    let p = Promise::<u8>::new();
    let p2 = p.clone();
    let t = weft::spawn_local(async move {
        let local = Rc::new(p2.await.unwrap());
        (*local, std::thread::current().id())
    });
    let setter = std::thread::spawn(move || p.set_result(8).unwrap());
    let (v, id) = t.await.unwrap();
    setter.join().unwrap();
    assert_eq!((v, id), (8, here));
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn spawn_local_inside_a_worker_task_stays_on_that_worker() {
    let results = weft::spawn(async {
        let home = std::thread::current().id();
        let locals: Vec<Task<Vec<ThreadId>>> = (0..8)
            .map(|_| {
                weft::spawn_local(async {
                    let marker = Rc::new(());
                    let mut seen = Vec::new();
                    for _ in 0..20 {
                        seen.push(std::thread::current().id());
                        // Keep the other worker hungry, so it tries to steal.
                        weft::spawn(async {}).detach();
                        weft::yield_now().await;
                    }
                    drop(marker);
                    seen
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in locals {
            all.extend(t.await.unwrap());
        }
        (home, all)
    })
    .await
    .unwrap();
    let (home, seen) = results;
    assert_eq!(seen.len(), 160);
    assert!(
        seen.iter().all(|id| *id == home),
        "a local task was stolen by another worker"
    );
}

#[test]
fn local_tasks_still_pending_when_block_on_returns_are_cancelled() {
    let (t, drops) = watchdog(|| {
        let rt = common::runtime(1);
        let drops = DropCounter::new();
        let g = drops.guard();
        let t = rt.block_on(async move {
            let t = weft::spawn_local(async move {
                let _g = g;
                pending::<()>().await
            });
            weft::yield_now().await;
            t.task_ref()
        });
        (t, drops)
    });
    assert!(t.done() && t.cancelled());
    assert_eq!(drops.get(), 1);
}

/// Records the thread it is dropped on; the `Rc` makes its owner `!Send`.
struct DroppedOn(
    Arc<parking_lot::Mutex<Option<ThreadId>>>,
    PhantomData<Rc<()>>,
);

impl Drop for DroppedOn {
    fn drop(&mut self) {
        *self.0.lock() = Some(std::thread::current().id());
    }
}

#[test]
fn a_local_future_is_only_ever_dropped_on_its_own_thread() {
    watchdog(|| {
        let rt = common::runtime(2);

        // Cancelled from a plain thread: delivered on the owner's thread.
        let here = std::thread::current().id();
        let dropped_on = Arc::new(parking_lot::Mutex::new(None));
        let d = dropped_on.clone();
        let err = rt.block_on(async move {
            let reached = Flag::new();
            let r = reached.clone();
            let t = weft::spawn_local(async move {
                let _g = DroppedOn(d, PhantomData);
                r.set();
                pending::<()>().await
            });
            wait_until("the local task to park", || reached.get()).await;
            let tr = t.task_ref();
            std::thread::spawn(move || assert!(tr.cancel()))
                .join()
                .unwrap();
            t.await.unwrap_err()
        });
        assert!(err.is_cancelled());
        assert_eq!(*dropped_on.lock(), Some(here));

        // Left pending on a worker when the runtime is dropped: that worker
        // drops it, on its own thread.
        let dropped_on = Arc::new(parking_lot::Mutex::new(None));
        let ran_on = Arc::new(parking_lot::Mutex::new(None));
        let (d, o) = (dropped_on.clone(), ran_on.clone());
        rt.block_on(rt.spawn(async move {
            weft::spawn_local(async move {
                let _g = DroppedOn(d, PhantomData);
                *o.lock() = Some(std::thread::current().id());
                pending::<()>().await
            })
            .detach();
        }))
        .unwrap();
        spin_until("the local task to run", || ran_on.lock().is_some());
        drop(rt);
        let ran_on = *ran_on.lock();
        assert_eq!(
            *dropped_on.lock(),
            ran_on,
            "a local future was dropped on another thread"
        );
    });
}

// ----- yield_now and fairness -----

#[test]
fn yield_now_lets_other_tasks_run() {
    let log = block_on(1, |_| async {
        weft::spawn(async {
            let log = Log::new();
            let make = |name: &'static str| {
                let log = log.clone();
                weft::spawn(async move {
                    for i in 0..5 {
                        log.push((name, i));
                        weft::yield_now().await;
                    }
                })
            };
            let (a, b) = (make("a"), make("b"));
            a.await.unwrap();
            b.await.unwrap();
            log.snapshot()
        })
        .await
        .unwrap()
    });
    assert_eq!(log.len(), 10);
    // One worker: each yield hands the thread to the other task.
    for pair in log.windows(2) {
        assert_ne!(pair[0].0, pair[1].0, "no interleaving: {log:?}");
    }
    for name in ["a", "b"] {
        let steps: Vec<_> = log.iter().filter(|e| e.0 == name).map(|e| e.1).collect();
        assert_eq!(steps, [0, 1, 2, 3, 4]);
    }
}

#[test]
fn yield_now_lets_local_tasks_of_the_same_worker_run() {
    let (ran, yields) = block_on(1, |_| async {
        weft::spawn(async {
            let ran = Flag::new();
            let r = ran.clone();
            weft::spawn_local(async move { r.set() }).detach();
            // asyncio's `while not ready: await asyncio.sleep(0)`.
            let since = Instant::now();
            let mut yields = 0u64;
            while !ran.get() && since.elapsed() < Duration::from_secs(3) {
                weft::yield_now().await;
                yields += 1;
            }
            (ran.get(), yields)
        })
        .await
        .unwrap()
    });
    assert!(ran, "the local task never ran in {yields} yields");
}

type Step = Pin<Box<dyn Future<Output = ()> + Send>>;

/// On a one-worker runtime, a task looping on awaits that are always ready must
/// still let another task (spawned from outside the worker) run: the other task
/// must finish while the busy one is still looping.
fn assert_busy_task_does_not_starve_others(mut step: impl FnMut() -> Step + Send + 'static) {
    block_on(1, |_| async move {
        let stop = Arc::new(AtomicBool::new(false));
        let started = Flag::new();
        let (st, s) = (stop.clone(), started.clone());
        let busy = weft::spawn(async move {
            s.set();
            let since = Instant::now();
            let mut steps = 0u64;
            while !st.load(Ordering::SeqCst) {
                step().await;
                steps += 1;
                if since.elapsed() > Duration::from_secs(10) {
                    return Err(steps); // starved the other task: give up
                }
            }
            Ok(steps)
        });
        let busy_ref = busy.task_ref();
        wait_until("the busy task to start", || started.get()).await;
        // From block_on, so it goes through the shared queue, not the worker's.
        let other = weft::spawn(async move { busy_ref.done() });
        let busy_finished_first = other.await.unwrap();
        assert!(
            !busy_finished_first,
            "the other task only ran after the busy one gave up"
        );
        stop.store(true, Ordering::SeqCst);
        let steps = busy.await.unwrap().expect("busy task gave up");
        assert!(steps > 0);
    });
}

#[test]
fn a_task_awaiting_ready_futures_through_poll_proceed_does_not_starve_others() {
    assert_busy_task_does_not_starve_others(|| {
        Box::pin(async {
            std::future::poll_fn(weft::coop::poll_proceed).await;
            futures_util::future::ready(()).await;
        })
    });
}

#[test]
fn a_task_awaiting_a_settled_promise_in_a_loop_does_not_starve_others() {
    let settled = Promise::new();
    settled.set_result(1u8).unwrap();
    assert_busy_task_does_not_starve_others(move || {
        let p = settled.clone();
        Box::pin(async move {
            p.await.unwrap();
        })
    });
}

#[test]
fn a_task_awaiting_finished_task_handles_does_not_starve_others() {
    // Handles of tasks that are already complete (refused by a closed runtime:
    // complete from the start, each awaited once).
    let closed = common::runtime(1).handle().clone();
    assert!(closed.is_closed());
    assert_busy_task_does_not_starve_others(move || {
        let t = closed.spawn(async {});
        assert!(t.done());
        Box::pin(async move {
            let _ = t.await;
        })
    });
}

// ----- metrics -----

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn live_tasks_counts_no_task_whose_result_was_delivered() {
    let h = weft::Handle::current();
    let mut lagging = 0;
    for _ in 0..2_000 {
        weft::spawn(async { 1 }).await.unwrap();
        if h.metrics().live_tasks != 0 {
            lagging += 1;
        }
    }
    assert_eq!(
        lagging, 0,
        "live_tasks counted finished tasks {lagging} times in 2000"
    );
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn metrics_count_spawned_and_live_tasks() {
    let h = weft::Handle::current();
    let before = h.metrics();
    let gate = Promise::<()>::new();
    let tasks: Vec<Task<()>> = (0..10)
        .map(|_| {
            let g = gate.clone();
            weft::spawn(async move { g.await.unwrap() })
        })
        .collect();
    let m = h.metrics();
    assert_eq!(m.spawned, before.spawned + 10);
    assert_eq!(m.live_tasks, 10);
    gate.set_result(()).unwrap();
    let refs: Vec<TaskRef> = tasks.iter().map(|t| t.task_ref()).collect();
    for t in tasks {
        t.await.unwrap();
    }
    for r in &refs {
        wait_done(r).await;
    }
    wait_until("live_tasks to reach 0", || h.metrics().live_tasks == 0).await;
}
