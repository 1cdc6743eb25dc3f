//! asyncio's `loop.run_forever()` / `loop.stop()` and `asyncio.Runner`
//! (Python 3.11): `Runtime::run_forever` / `stop` and `weft::Runner`, with
//! the cases of CPython's test_runners.py and test_base_events.py that pin
//! them. Cases about signals (SIGINT), debug mode, `loop_factory` returning
//! a foreign loop, `set_event_loop` and async generators have no weft
//! counterpart; the "with" block cases (`test_double_close`,
//! `test_second_with_block_raises`) are ruled out by `close(self)`.

// Several runs hand a task spawned in one run out to await it in the next.
#![allow(clippy::async_yields_async)]

mod common;

use common::{watchdog, DropCounter, Flag, Log, TraceLog};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::{catch_cancel, Builder, DoneCallback, Promise, Runner, Runtime};

// ----- run_forever / stop -----

/// Runs `rt` forever, stopped from another thread after 30 ms, and checks
/// that the run waited for that stop.
fn run_waits_for_its_own_stop(rt: &Runtime) {
    let handle = rt.handle().clone();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        handle.stop();
    });
    let start = Instant::now();
    rt.run_forever();
    assert!(start.elapsed() >= Duration::from_millis(30));
    stopper.join().unwrap();
}

// CPython: test_base_events.py BaseEventLoopTests.test_default_exc_handler_callback's
// idiom, `fut.add_done_callback(lambda fut: loop.stop()); loop.run_forever()`
// (the "Future with run_forever" seed program)
#[test]
fn test_run_forever_stopped_by_a_done_callback() {
    watchdog(|| {
        let rt = Runtime::new().unwrap();
        let handle = rt.handle().clone();
        let future = Promise::new();
        let setter = future.clone();
        rt.spawn(async move {
            weft::sleep(Duration::from_millis(10)).await;
            setter.set_result("Future is done!").unwrap();
        })
        .detach();
        let seen = Arc::new(AtomicUsize::new(0));
        let s = seen.clone();
        future.add_done_callback(DoneCallback::new(move |f: &Promise<&str>| {
            assert_eq!(f.result().unwrap().unwrap(), "Future is done!");
            s.fetch_add(1, Ordering::SeqCst);
            handle.stop();
        }));
        rt.run_forever();
        assert_eq!(seen.load(Ordering::SeqCst), 1);
    });
}

// CPython: test_base_events.py BaseEventLoopTests.test_run_forever_pre_stopped
#[test]
fn test_run_forever_pre_stopped() {
    watchdog(|| {
        let rt = Runtime::new().unwrap();
        rt.stop();
        let start = Instant::now();
        rt.run_forever();
        assert!(start.elapsed() < Duration::from_secs(2));
        // The stop was consumed: the next run waits for a stop of its own.
        run_waits_for_its_own_stop(&rt);
    });
}

// asyncio's `stop()` sets a flag, so several stops before a run are one:
// the run that consumes them returns after one iteration, and the next run
// waits for a stop of its own. (Stops from other threads during a run may
// land just after it ended, and then count for the next run: a race
// asyncio's single thread does not have, so not tested here.)
#[test]
fn stops_before_a_run_count_once() {
    watchdog(|| {
        let rt = Runtime::new().unwrap();
        rt.stop();
        rt.stop();
        rt.run_forever();
        run_waits_for_its_own_stop(&rt);
    });
}

// CPython: base_events.py BaseEventLoop._check_running ("This event loop is
// already running"), as test_events.py EventLoopTestsMixin pins it
#[test]
fn test_run_forever_already_running() {
    watchdog(|| {
        let rt = Runtime::new().unwrap();
        // Two threads race to run forever: whichever comes second is
        // refused, and stops the one that runs.
        let attempt = |handle: weft::Handle| match handle.try_run_forever() {
            Ok(()) => None,
            Err(e) => {
                handle.stop();
                Some(e)
            }
        };
        let (h1, h2) = (rt.handle().clone(), rt.handle().clone());
        let a = std::thread::spawn(move || attempt(h1));
        let b = std::thread::spawn(move || attempt(h2));
        let outcomes = [a.join().unwrap(), b.join().unwrap()];
        let refused: Vec<_> = outcomes.iter().flatten().collect();
        assert_eq!(refused.len(), 1, "{outcomes:?}");
        assert!(refused[0].is_running());
        assert_eq!(
            refused[0].to_string(),
            "the runtime is already running forever"
        );
    });
}

// CPython: test_runners.py RunTests.test_asyncio_run_from_running_loop (the
// same rule for run_forever: not inside a running loop)
#[test]
fn test_run_forever_from_running_loop() {
    watchdog(|| {
        let rt = Runtime::new().unwrap();
        let handle = rt.handle().clone();
        let err = rt.block_on(async move { handle.try_run_forever().unwrap_err() });
        assert!(err.is_nested());
        let handle = rt.handle().clone();
        drop(rt);
        assert!(handle.try_run_forever().unwrap_err().is_closed());
    });
}

// CPython: test_base_events.py BaseEventLoopTests.test_run_forever_keyboard_interrupt
// (minus the signal: tasks run during the run, and the runtime outlives it)
#[test]
fn tasks_keep_running_across_runs_forever() {
    watchdog(|| {
        let rt = Runtime::new().unwrap();
        let ticks = Arc::new(AtomicUsize::new(0));
        let t = ticks.clone();
        let handle = rt.handle().clone();
        rt.spawn(async move {
            for _ in 0..3 {
                weft::sleep(Duration::from_millis(2)).await;
                t.fetch_add(1, Ordering::SeqCst);
            }
            handle.stop();
        })
        .detach();
        rt.run_forever();
        assert_eq!(ticks.load(Ordering::SeqCst), 3);
        assert!(!rt.handle().is_closed());
        let t = rt.spawn(async { 5 });
        assert_eq!(rt.block_on(t).unwrap(), 5);
    });
}

// ----- Runner -----

// CPython: test_runners.py RunnerTests.test_run
#[test]
fn test_run() {
    watchdog(|| {
        let runner = Runner::new().unwrap();
        assert_eq!(runner.run(async { 42 }), 42);
        let spawned = runner.run(async { weft::spawn(async { 7 }) });
        assert_eq!(runner.run(spawned).unwrap(), 7);
        assert!(runner.close());
    });
}

// CPython: test_runners.py RunnerTests.test_run_future (asyncio refuses a
// bare future, "a coroutine was expected"; weft's run takes any future, so
// this pins the weft side: a promise made in one run, awaited in another)
#[test]
fn test_run_future() {
    watchdog(|| {
        let runner = Runner::new().unwrap();
        let p = runner.run(async { Promise::<u8>::new() });
        let setter = p.clone();
        runner
            .handle()
            .spawn(async move { setter.set_result(3).unwrap() })
            .detach();
        assert_eq!(runner.run(p.wait()).unwrap(), 3);
    });
}

// CPython: test_runners.py RunnerTests.test_custom_factory (the runtime comes
// from a Builder the caller configured)
#[test]
fn test_custom_factory() {
    watchdog(|| {
        let runner = Runner::with_builder(Builder::new().workers(1).thread_name("custom")).unwrap();
        assert_eq!(runner.handle().metrics().workers, 1);
        let name = runner
            .run(async { weft::spawn(async { std::thread::current().name().map(str::to_owned) }) });
        let name = runner.run(name).unwrap().unwrap();
        assert!(name.starts_with("custom-"), "{name}");
    });
}

// CPython: test_runners.py RunnerTests.test_explicit_close
#[test]
fn test_explicit_close() {
    watchdog(|| {
        let runner = Runner::new().unwrap();
        let handle = runner.handle().clone();
        runner.run(async {});
        assert!(runner.close());
        assert!(handle.is_closed());
        assert!(handle.try_spawn(async {}).unwrap_err().is_shutdown());
    });
}

// CPython: test_runners.py RunnerTests.test_recursive_run
#[test]
fn test_recursive_run() {
    watchdog(|| {
        let runner = Runner::new().unwrap();
        let err = runner.run(async { runner.try_run(async { 1 }).unwrap_err() });
        assert!(err.is_nested());
        // The runner is still usable.
        assert_eq!(runner.run(async { 2 }), 2);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runner.run(async { runner.run(async {}) })
        }));
        assert!(caught.is_err());
    });
}

// CPython: test_runners.py RunnerTests.test_run_keeps_context: every run
// runs in the runner's one context, so what a run sets the next one sees.
#[test]
fn test_run_keeps_context() {
    static CVAR: weft::ContextVar<i32> = weft::ContextVar::with_default("cvar", -1);
    watchdog(|| {
        async fn f(val: i32) -> i32 {
            let old = CVAR.get().unwrap();
            weft::yield_now().await;
            CVAR.set(val);
            old
        }
        let runner = Runner::new().unwrap();
        assert_eq!(runner.run(f(1)), -1);
        assert_eq!(runner.run(f(2)), 1);
        let ctx = runner.run(async { weft::copy_context() });
        assert_eq!(ctx.get(&CVAR), Some(2));
        // The caller's own context is not the runner's.
        assert_eq!(CVAR.get(), Some(-1));
    });
}

// asyncio's `runner.run(coro, context=ctx)` (no CPython case of its own):
// the future runs in (a copy of) `ctx`,
// not the runner's context; weft's contexts are values, so `ctx` itself and
// the runner's context keep what they had.
#[test]
fn run_with_context_runs_in_a_copy_of_that_context() {
    static CVAR: weft::ContextVar<i32> = weft::ContextVar::with_default("cvar", -1);
    watchdog(|| {
        let runner = Runner::new().unwrap();
        runner.run(async { CVAR.set(1) });
        let mut ctx = weft::contextvars::Context::new();
        ctx.run(|| CVAR.set(7));
        let seen = runner.run_with_context(&ctx, async {
            let seen = CVAR.get();
            CVAR.set(8);
            seen
        });
        assert_eq!(seen, Some(7));
        assert_eq!(ctx.get(&CVAR), Some(7));
        assert_eq!(runner.run(async { CVAR.get() }), Some(1));
    });
}

// The loop-keeping part of test_run_keeps_context: tasks pinned to the
// runner's loop wait between runs and go on in the next.
#[test]
fn pinned_tasks_wait_between_runs() {
    watchdog(|| {
        let runner = Runner::new().unwrap();
        let log = Log::new();
        let l = log.clone();
        let me = std::thread::current().id();
        let task = runner.run(async move {
            weft::spawn_local(async move {
                let local = Rc::new(());
                l.push(1);
                weft::yield_now().await;
                l.push(2);
                assert_eq!(std::thread::current().id(), me);
                Rc::strong_count(&local)
            })
        });
        // The task was queued, not run: the first run ended at once.
        assert!(log.snapshot().len() <= 1);
        assert_eq!(runner.run(task).unwrap(), 1);
        assert_eq!(log.snapshot(), [1, 2]);
    });
}

// CPython: test_runners.py RunnerTests.test_interrupt_call_soon (the callback
// part: a callback sent to the runner's loop runs in a run)
#[test]
fn callbacks_sent_to_the_runner_loop_run_in_the_next_run() {
    watchdog(|| {
        let runner = Runner::new().unwrap();
        let ran = Flag::new();
        let r = ran.clone();
        let me = std::thread::current().id();
        runner.loop_handle().call_soon_threadsafe(move || {
            assert_eq!(std::thread::current().id(), me);
            r.set();
        });
        assert!(!ran.get());
        // It arrives through the loop's inbox: a few iterations at most.
        let r = ran.clone();
        runner.run(async move {
            for _ in 0..10 {
                if r.get() {
                    break;
                }
                weft::yield_now().await;
            }
        });
        assert!(ran.get());
    });
}

// CPython: test_runners.py RunTests.test_asyncio_run_cancels_hanging_tasks
#[test]
fn test_asyncio_run_cancels_hanging_tasks() {
    watchdog(|| {
        let runner = Runner::new().unwrap();
        let drops = DropCounter::new();
        let (g1, g2) = (drops.guard(), drops.guard());
        let (stealable, pinned) = runner.run(async move {
            let a = weft::spawn(async move {
                let _g = g1;
                std::future::pending::<()>().await
            });
            let b = weft::spawn_local(async move {
                let _g = g2;
                std::future::pending::<()>().await
            });
            (a, b)
        });
        assert!(runner.close());
        assert_eq!(drops.get(), 2);
        assert!(stealable.cancelled());
        assert!(pinned.cancelled());
    });
}

// CPython: test_runners.py RunTests.test_asyncio_run_cancels_hanging_tasks
// (cleanup that awaits, on the runner's loop and on the workers, runs
// before close returns)
#[test]
fn close_lets_cancelled_tasks_clean_up() {
    watchdog(|| {
        let runner = Runner::new().unwrap();
        let cleaned = Log::new();
        let started = Log::new();
        let (c1, c2) = (cleaned.clone(), cleaned.clone());
        let (s1, s2) = (started.clone(), started.clone());
        runner.run(async move {
            weft::spawn(async move {
                s1.push(());
                let _ = catch_cancel(std::future::pending::<()>()).await;
                weft::sleep(Duration::from_millis(5)).await;
                c1.push("stealable");
            })
            .detach();
            weft::spawn_local(async move {
                s2.push(());
                let _ = catch_cancel(std::future::pending::<()>()).await;
                weft::sleep(Duration::from_millis(5)).await;
                c2.push("pinned");
            })
            .detach();
            common::wait_until("both started", || started.len() == 2).await;
        });
        assert!(runner.close());
        let mut got = cleaned.snapshot();
        got.sort();
        assert_eq!(got, ["pinned", "stealable"]);
    });
}

// CPython: test_runners.py RunTests.test_asyncio_run_reports_hanging_tasks_errors
// (the grace part: a task that will not end is destroyed, and reported)
#[test]
fn close_reports_tasks_it_had_to_destroy() {
    watchdog(|| {
        let trace = TraceLog::new();
        let _g = trace.install();
        let runner = Runner::new()
            .unwrap()
            .shutdown_grace(Duration::from_millis(30));
        runner.run(async {
            weft::spawn_local(async {
                loop {
                    let _ = catch_cancel(weft::sleep(Duration::from_secs(60))).await;
                }
            })
            .detach();
            weft::yield_now().await;
        });
        let start = Instant::now();
        assert!(!runner.close());
        assert!(start.elapsed() >= Duration::from_millis(30));
        trace.assert_has(tracing::Level::WARN, &["task destroyed while pending"]);
    });
}

// Dropping a Runner closes it like close() (asyncio's `with` block exit).
#[test]
fn dropping_a_runner_closes_it() {
    watchdog(|| {
        let runner = Runner::new().unwrap();
        let handle = runner.handle().clone();
        let drops = DropCounter::new();
        let g = drops.guard();
        runner.run(async move {
            weft::spawn(async move {
                let _g = g;
                std::future::pending::<()>().await
            })
            .detach();
        });
        drop(runner);
        assert!(handle.is_closed());
        assert_eq!(drops.get(), 1);
        assert_eq!(handle.metrics().live_tasks, 0);
    });
}
