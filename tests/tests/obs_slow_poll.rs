//! Slow-poll warnings (`Builder::slow_poll_threshold`, asyncio's debug-mode
//! `slow_callback_duration`): a task step, a callback or a `block_on` turn
//! that takes the threshold or longer is logged at WARN, in asyncio's words;
//! a quick one is not; nothing is logged with the option off or zero.

mod common;

use common::{ms, spin_until, watchdog, TraceLog};
use std::time::Duration;
use tracing::Level;
use weft::{Promise, Runtime};

/// A runtime of `workers` workers reporting steps of `threshold` or longer
/// (none if `None`), its workers' events recorded in `log`.
fn runtime_logged(workers: usize, threshold: Option<Duration>, log: &TraceLog) -> Runtime {
    let l = log.clone();
    let mut builder = weft::Builder::new()
        .workers(workers)
        .on_thread_start(move || l.install_for_thread());
    if let Some(threshold) = threshold {
        builder = builder.slow_poll_threshold(threshold);
    }
    builder.build().expect("build a weft runtime")
}

/// The WARN events that say a step was slow.
fn slow_warnings(log: &TraceLog) -> Vec<String> {
    log.events()
        .into_iter()
        .filter(|e| e.level == Level::WARN && e.text.contains("Executing "))
        .map(|e| e.text)
        .collect()
}

/// Spawns a task named `name` that blocks its worker for `block` in one
/// step (after a gate, so the name is set before that step runs), and
/// waits for it.
async fn blocking_task(name: &str, block: Duration) -> weft::TaskRef {
    let gate = Promise::new();
    let g = gate.clone();
    let t = weft::spawn(async move {
        g.await.unwrap();
        std::thread::sleep(block);
    });
    t.set_name(name);
    gate.set_result(()).unwrap();
    let task = t.task_ref();
    t.await.unwrap();
    task
}

#[test]
fn a_slow_task_step_is_warned_with_its_name_site_and_duration() {
    watchdog(|| {
        let log = TraceLog::new();
        let rt = runtime_logged(1, Some(ms(10)), &log);
        let task = rt.block_on(blocking_task("sleepy", ms(50)));
        // The warning follows the step, which woke this thread: wait for it.
        spin_until("the slow-poll warning", || {
            slow_warnings(&log).iter().any(|w| w.contains("sleepy"))
        });
        let warning = slow_warnings(&log)
            .into_iter()
            .find(|w| w.contains("sleepy"))
            .unwrap();
        // asyncio's shape: "Executing <Task ...> took 0.050 seconds".
        assert!(
            warning.contains("message=Executing <Task finished name='sleepy' coro=<"),
            "{warning}"
        );
        assert!(warning.contains(" took 0.0"), "{warning}");
        assert!(warning.contains(" seconds"), "{warning}");
        // The fields: id, name, spawn site, duration.
        assert!(
            warning.contains(&format!("task.id={} ", task.id())),
            "{warning}"
        );
        assert!(warning.contains("task.name=sleepy "), "{warning}");
        let site = format!("task.location={}", task.location());
        assert!(warning.contains(&site), "{warning} lacks {site}");
        assert!(task.location().file().ends_with("obs_slow_poll.rs"));
        assert!(warning.contains("elapsed="), "{warning}");
        // Exactly one step of the task was slow.
        let n = slow_warnings(&log)
            .iter()
            .filter(|w| w.contains("sleepy"))
            .count();
        assert_eq!(n, 1, "{:?}", slow_warnings(&log));
    });
}

#[test]
fn quick_steps_are_not_warned() {
    watchdog(|| {
        let log = TraceLog::new();
        // A generous threshold: a quick step preempted on a busy machine
        // must not make this fail.
        let rt = runtime_logged(2, Some(ms(250)), &log);
        rt.block_on(async {
            let tasks: Vec<_> = (0..50)
                .map(|i| {
                    weft::spawn(async move {
                        for _ in 0..3 {
                            weft::yield_now().await;
                        }
                        i
                    })
                })
                .collect();
            for (i, t) in tasks.into_iter().enumerate() {
                assert_eq!(t.await.unwrap(), i);
            }
            weft::call_soon(|| {});
        });
        // One slow task, so the check below cannot pass vacuously.
        rt.block_on(blocking_task("slow-one", ms(300)));
        spin_until("the slow task's warning", || {
            !slow_warnings(&log).is_empty()
        });
        let warnings = slow_warnings(&log);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("slow-one"), "{warnings:?}");
    });
}

#[test]
fn slow_callbacks_are_warned() {
    watchdog(|| {
        let log = TraceLog::new();
        let _main = log.install();
        let rt = runtime_logged(1, Some(ms(10)), &log);
        // On the block_on loop (its events go to this thread's subscriber).
        rt.block_on(async {
            weft::call_soon(|| std::thread::sleep(ms(30)));
            weft::call_later(ms(1), || std::thread::sleep(ms(30)));
            weft::sleep(ms(60)).await;
        });
        let warnings = slow_warnings(&log);
        let callbacks = warnings
            .iter()
            .filter(|w| w.contains("message=Executing <callback> took 0.0"))
            .count();
        assert_eq!(callbacks, 2, "{warnings:?}");
        // On a worker: a done callback.
        rt.block_on(rt.spawn(async {
            let t = weft::spawn(async {});
            t.add_done_callback(weft::DoneCallback::new(|_| std::thread::sleep(ms(30))));
            t.await.unwrap();
            weft::sleep(ms(60)).await;
        }))
        .unwrap();
        let callbacks = slow_warnings(&log)
            .iter()
            .filter(|w| w.contains("message=Executing <callback>"))
            .count();
        assert_eq!(callbacks, 3, "{:?}", slow_warnings(&log));
    });
}

#[test]
fn block_on_runner_and_pinned_steps_are_timed_too() {
    watchdog(|| {
        let log = TraceLog::new();
        let _main = log.install();
        let rt = runtime_logged(1, Some(ms(10)), &log);
        // The block_on future's own turn.
        rt.block_on(async { std::thread::sleep(ms(30)) });
        assert!(
            slow_warnings(&log)
                .iter()
                .any(|w| w.contains("message=Executing <block_on future> took 0.0")),
            "{:?}",
            slow_warnings(&log)
        );
        // A task pinned to the block_on loop.
        rt.block_on(async {
            let t = weft::spawn_local(async { std::thread::sleep(ms(30)) });
            t.set_name("pinned-slow");
            t.await.unwrap();
        });
        assert!(
            slow_warnings(&log)
                .iter()
                .any(|w| w.contains("name='pinned-slow'")),
            "{:?}",
            slow_warnings(&log)
        );
        drop(rt);
        // A Runner's loop.
        let runner =
            weft::Runner::with_builder(weft::Builder::new().workers(1).slow_poll_threshold(ms(10)))
                .unwrap();
        let before = slow_warnings(&log).len();
        runner.run(async { std::thread::sleep(ms(30)) });
        assert_eq!(slow_warnings(&log).len(), before + 1);
        runner.close();
    });
}

#[test]
fn nothing_is_warned_with_the_option_off_or_zero() {
    watchdog(|| {
        for threshold in [None, Some(Duration::ZERO)] {
            let log = TraceLog::new();
            let _main = log.install();
            let rt = runtime_logged(1, threshold, &log);
            rt.block_on(async {
                blocking_task("unwatched", ms(30)).await;
                weft::call_soon(|| std::thread::sleep(ms(30)));
                std::thread::sleep(ms(30));
                weft::sleep(ms(40)).await;
            });
            drop(rt);
            assert!(
                slow_warnings(&log).is_empty(),
                "{threshold:?}: {:?}",
                slow_warnings(&log)
            );
        }
    });
}
