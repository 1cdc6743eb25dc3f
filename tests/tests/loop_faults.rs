//! Regression tests for runtime faults found by misuse: a panicking
//! `on_thread_start` or `on_thread_stop` hook, a timer waker that panics,
//! durations too large to add to an `Instant`, a `sleep` after shutdown, and
//! `spawn` outside a runtime or after shutdown.

mod common;

use common::{ms, poll_with, watchdog, watchdog_for, PanickingWaker, TraceLog};
use std::panic::catch_unwind;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::task::Waker;
use std::time::{Duration, Instant};
use weft::Builder;

/// Regression: a panicking `on_thread_start` hook killed every worker while
/// `build()` returned `Ok`, so spawned work hung. Now `build()` fails with an
/// error naming the panic, and the workers it started are stopped.
#[test]
fn on_thread_start_panic_fails_build() {
    watchdog(|| {
        let err = Builder::new()
            .workers(2)
            .on_thread_start(|| panic!("hook exploded"))
            .build()
            .expect_err("build must report the panicking hook");
        assert_eq!(err.kind(), std::io::ErrorKind::Other);
        assert!(err.to_string().contains("hook exploded"), "{err}");
        // A hook that does not panic still builds a working runtime.
        let rt = Builder::new()
            .workers(2)
            .on_thread_start(|| {})
            .build()
            .unwrap();
        assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
    });
}

/// Regression: `shutdown_timeout(Duration::MAX)` panicked (overflow adding
/// the grace to an `Instant`). It now saturates, like every other duration.
#[test]
fn shutdown_timeout_with_duration_max_does_not_panic() {
    watchdog(|| {
        let rt = Builder::new().workers(1).build().unwrap();
        let t = rt.spawn(async {
            weft::sleep(ms(1)).await;
        });
        assert!(rt.shutdown_timeout(Duration::MAX));
        assert!(t.task_ref().done());
    });
}

/// Regression: with `blocking_keep_alive(Duration::MAX)` a pool thread
/// panicked (overflow) when it went idle, after which blocking jobs never ran.
#[test]
fn blocking_keep_alive_duration_max_keeps_the_pool_working() {
    watchdog(|| {
        let rt = Builder::new()
            .workers(1)
            .blocking_keep_alive(Duration::MAX)
            .build()
            .unwrap();
        let h = rt.handle();
        assert_eq!(h.spawn_blocking(|| 1).result(Some(ms(10_000))).unwrap(), 1);
        // Let the pool thread go idle (where the overflow was).
        std::thread::sleep(ms(50));
        assert_eq!(h.spawn_blocking(|| 2).result(Some(ms(10_000))).unwrap(), 2);
    });
}

/// Says `ready`, then sleeps until `handle`'s runtime has shut down.
async fn until_shut_down(handle: weft::Handle, ready: mpsc::Sender<()>) {
    ready.send(()).unwrap();
    while !handle.is_closed() {
        weft::sleep(ms(5)).await;
    }
}

/// Regression: after the runtime was dropped, `sleep` returned at once, so a
/// periodic loop in a `block_on` still running spun at 100% CPU. Now a sleep
/// waiting at shutdown ends (the loop can notice the runtime is gone), and a
/// sleep first polled after it waits out its duration.
#[test]
fn a_periodic_loop_in_block_on_keeps_its_period_after_shutdown() {
    watchdog(|| {
        let rt = Builder::new().workers(1).build().unwrap();
        let handle = rt.handle().clone();
        let (ready_tx, ready_rx) = mpsc::channel();
        let looper = std::thread::spawn(move || {
            let h = handle.clone();
            handle.block_on(async move {
                // Until the runtime is gone, then for 200 ms more.
                until_shut_down(h, ready_tx).await;
                let start = Instant::now();
                let mut ticks = 0u32;
                while start.elapsed() < ms(200) {
                    let before = Instant::now();
                    weft::sleep(ms(10)).await;
                    assert!(before.elapsed() >= ms(10), "a sleep ended early");
                    ticks += 1;
                }
                ticks
            })
        });
        ready_rx.recv().unwrap();
        std::thread::sleep(ms(20));
        drop(rt);
        let ticks = looper.join().unwrap();
        assert!(
            (1..=20).contains(&ticks),
            "{ticks} ticks of 10 ms in 200 ms"
        );
    });
}

/// `weft::spawn` outside a runtime and on a shut-down runtime are the same
/// misuse and get the same answer: a panic from `spawn` / `spawn_local`, a
/// `SpawnError` from `try_spawn` / `try_spawn_local` saying which.
#[test]
fn spawn_outside_a_runtime_and_after_shutdown_answer_alike() {
    watchdog(|| {
        assert!(weft::try_spawn(async {}).unwrap_err().is_outside_runtime());
        assert!(weft::try_spawn_local(async {})
            .unwrap_err()
            .is_outside_runtime());
        assert!(catch_unwind(|| weft::spawn(async {})).is_err());
        assert!(catch_unwind(|| weft::spawn_local(async {})).is_err());

        let rt = Builder::new().workers(1).build().unwrap();
        let handle = rt.handle().clone();
        let closed = Arc::new(AtomicBool::new(false));
        let c = closed.clone();
        let inside = std::thread::spawn(move || {
            handle.block_on(async move {
                while !c.load(Ordering::SeqCst) {
                    weft::yield_now().await;
                }
                let spawn = weft::try_spawn(async {}).unwrap_err();
                let local = weft::try_spawn_local(async {}).unwrap_err();
                assert!(spawn.is_shutdown() && local.is_shutdown());
                assert_eq!(spawn.to_string(), "runtime is shut down");
                let panics = (
                    catch_unwind(|| weft::spawn(async {})).is_err(),
                    catch_unwind(|| weft::spawn_local(async {})).is_err(),
                );
                assert_eq!(panics, (true, true));
            })
        });
        std::thread::sleep(ms(20));
        drop(rt);
        closed.store(true, Ordering::SeqCst);
        inside.join().unwrap();
    });
}

/// After shutdown each `block_on` still running turns the timers when no
/// other thread does; when the one turning them returns, it hands them over,
/// so another one's sleeps still end on time.
#[test]
fn sleeps_after_shutdown_in_two_block_ons_both_end() {
    watchdog(|| {
        let rt = Builder::new().workers(1).build().unwrap();
        let (ready_tx, ready_rx) = mpsc::channel();
        let sleeper = |stop_after: u32| {
            let handle = rt.handle().clone();
            let ready = ready_tx.clone();
            std::thread::spawn(move || {
                let h = handle.clone();
                handle.block_on(async move {
                    until_shut_down(h, ready).await;
                    let start = Instant::now();
                    for _ in 0..stop_after {
                        weft::sleep(ms(10)).await;
                    }
                    start.elapsed()
                })
            })
        };
        let short = sleeper(2);
        let long = sleeper(10);
        ready_rx.recv().unwrap();
        ready_rx.recv().unwrap();
        drop(rt);
        assert!(short.join().unwrap() >= ms(20));
        let long = long.join().unwrap();
        assert!(long >= ms(100) && long < ms(5_000), "{long:?}");
    });
}

/// Regression: a panicking `on_thread_stop` hook unwound out of the worker
/// before it counted itself out of the live workers, so when the runtime was
/// dropped on one of its own workers (nobody joins them; the last one out
/// shuts down what is left) nobody did: a pending task's future was never
/// dropped. The hook now runs through the panic runner, like
/// `on_thread_start`, and the worker goes on with its exit.
#[test]
fn a_panicking_on_thread_stop_does_not_skip_the_last_workers_cleanup() {
    watchdog(|| {
        let rt = Builder::new()
            .workers(2)
            .on_thread_stop(|| panic!("stop hook exploded"))
            .build()
            .unwrap();
        let dropped = common::DropCounter::new();
        let guard = dropped.guard();
        rt.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        })
        .detach();
        // Dropped inside a task, on one of its own workers.
        let rt = Arc::new(parking_lot::Mutex::new(Some(rt)));
        let handle = rt.lock().as_ref().unwrap().handle().clone();
        let holder = rt.clone();
        handle
            .spawn(async move { drop(holder.lock().take()) })
            .detach();
        let deadline = Instant::now() + ms(5_000);
        while dropped.get() == 0 && Instant::now() < deadline {
            std::thread::sleep(ms(5));
        }
        assert_eq!(
            dropped.get(),
            1,
            "the pending task's future was never dropped"
        );
    });
}

/// Regression: a `Waker` that panics when its timer fires unwound out of the
/// driver's dispatch, killing the worker that turned the driver (with one
/// worker the runtime stopped serving) and dropping the other timers fired
/// with it unwoken. Like every completion waker, it now goes through the
/// panic runner: reported through `tracing`, and the rest are still woken.
#[test]
fn regression_a_timer_waker_that_panics_does_not_kill_the_driver_thread() {
    watchdog_for(Duration::from_secs(10), || {
        let log = TraceLog::new();
        let on_worker = log.clone();
        let rt = Builder::new()
            .workers(1)
            .on_thread_start(move || on_worker.install_for_thread())
            .build()
            .unwrap();
        let t = rt.spawn(async {
            let panicking = Waker::from(Arc::new(PanickingWaker));
            let mut due_first = weft::sleep(ms(5));
            assert!(poll_with(&mut due_first, &panicking).is_pending());
            // Fired with (or after) the one above, by the same driver turn.
            weft::sleep(ms(20)).await;
            drop(due_first);
            3
        });
        assert_eq!(rt.block_on(t).unwrap(), 3);
        // The worker still serves.
        assert_eq!(rt.block_on(rt.spawn(async { 4 })).unwrap(), 4);
        log.assert_has(tracing::Level::ERROR, &["panicked"]);
    });
}
