//! The runtime events (issue 17 section 3) a test subscriber captures:
//! worker park and unpark, steal, task spawn and task end with its outcome,
//! all at trace level under target `weft::runtime`.

mod common;

use common::{spin_until, steal_from_a_held_worker, watchdog, TraceLog};
use std::time::Duration;
use tracing::Level;
use weft::Builder;

/// A runtime whose workers (and this thread) record into `log`.
fn traced_runtime(log: &TraceLog, workers: usize) -> weft::Runtime {
    let l = log.clone();
    Builder::new()
        .workers(workers)
        .thread_name("ev")
        .on_thread_start(move || l.install_for_thread())
        .build()
        .unwrap()
}

#[test]
fn spawn_and_each_kind_of_end_are_reported_with_the_task_id() {
    watchdog(|| {
        let log = TraceLog::new();
        let _guard = log.install();
        let rt = traced_runtime(&log, 1);
        let ok = rt.spawn(async { 1 });
        let ok_id = ok.id().as_u64();
        assert_eq!(rt.block_on(ok).unwrap(), 1);
        let failed = rt.spawn(async { panic!("boom") });
        let failed_id = failed.id().as_u64();
        assert!(rt.block_on(failed).unwrap_err().is_panic());
        let cancelled = rt.spawn(weft::sleep(Duration::from_secs(60)));
        let cancelled_id = cancelled.id().as_u64();
        cancelled.cancel();
        assert!(rt.block_on(cancelled).unwrap_err().is_cancelled());

        for id in [ok_id, failed_id, cancelled_id] {
            log.assert_has(Level::TRACE, &["task spawned", &format!("task.id={id} ")]);
        }
        // The end is reported on the worker, before the joiner is woken.
        log.assert_has(
            Level::TRACE,
            &[
                "task ended",
                &format!("task.id={ok_id} "),
                "outcome=\"value\"",
            ],
        );
        log.assert_has(
            Level::TRACE,
            &[
                "task ended",
                &format!("task.id={failed_id} "),
                "outcome=\"failed\"",
                "boom",
            ],
        );
        log.assert_has(
            Level::TRACE,
            &[
                "task ended",
                &format!("task.id={cancelled_id} "),
                "outcome=\"cancelled\"",
            ],
        );
        let spawns = log
            .events()
            .iter()
            .filter(|e| e.text.contains("task spawned"))
            .count();
        assert_eq!(spawns, 3, "{:?}", log.events());
    });
}

#[test]
fn an_idle_worker_reports_its_park_and_its_wake_up() {
    watchdog(|| {
        let log = TraceLog::new();
        let _guard = log.install();
        let rt = traced_runtime(&log, 1);
        let h = rt.handle().clone();
        spin_until("the worker to park", || {
            h.metrics().per_worker[0].park_count >= 1
        });
        rt.block_on(rt.spawn(async {})).unwrap();
        spin_until("the worker to wake", || {
            h.metrics().per_worker[0].unpark_count >= 1
        });
        log.assert_has(Level::TRACE, &["worker parked", "worker=0 "]);
        log.assert_has(Level::TRACE, &["worker unparked", "worker=0 "]);
    });
}

#[test]
fn a_steal_is_reported_with_thief_victim_and_count() {
    watchdog(|| {
        const CHILDREN: usize = 8;
        let log = TraceLog::new();
        let _guard = log.install();
        let rt = traced_runtime(&log, 2);
        let victim = steal_from_a_held_worker(&rt, "ev", CHILDREN);
        let thief = 1 - victim;
        log.assert_has(
            Level::TRACE,
            &[
                "worker stole tasks",
                &format!("worker={thief} "),
                &format!("victim={victim} "),
                "tasks=",
            ],
        );
    });
}
