//! Stress: a million empty tasks across all workers, and a storm of cancels
//! racing completion from another thread.
//!
//! Sizes: the spec's counts (10^6 tasks, 10^5 cancels) in every build. They run
//! with the rest of the suite (`cargo test --workspace`, a debug build, as CI runs
//! it): measured on 2 cores, the million tasks take about 1.5 s and the storm
//! under 1 s in debug, so no debug scaling is needed. The release run:
//!
//! ```text
//! cargo test -p weft-tests --release --test loop_stress
//! ```

mod common;

use common::{watchdog_for, DropCounter};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use weft::{catch_cancel, Task, TaskRef};

/// Empty tasks in `a_million_empty_tasks_across_all_workers`.
const EMPTY_TASKS: usize = 1_000_000;
/// Tasks in the cancellation storm.
const STORM_TASKS: usize = 100_000;
/// A stress test fails rather than hang past this.
const LIMIT: Duration = Duration::from_secs(120);
/// Tasks spawned before the spawner awaits them.
const BATCH: usize = 1_000;

/// Waits (on a plain thread) until the runtime counts no live task. The count
/// may lag a task's completion by a moment (see `loop_runtime.rs`,
/// `live_tasks_counts_no_task_whose_result_was_delivered`), so this allows a
/// bounded wait; a leaked task fails it.
fn assert_no_live_tasks(handle: &weft::Handle) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while handle.metrics().live_tasks != 0 {
        assert!(
            Instant::now() < deadline,
            "tasks leaked: {:?}, e.g. {:?}",
            handle.metrics(),
            handle.all_tasks().first()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(handle.all_tasks().is_empty());
}

#[test]
fn a_million_empty_tasks_across_all_workers() {
    watchdog_for(LIMIT, || {
        let started = Instant::now();
        let rt = common::runtime(
            std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .max(2),
        );
        let handle = rt.handle().clone();
        let workers = handle.metrics().workers;
        let spawned_before = handle.metrics().spawned;
        let threads_seen = Arc::new(parking_lot::Mutex::new(HashSet::new()));

        // Half from tasks (workers' own queues), half from plain threads (the
        // shared injector).
        const INSIDE: usize = 4;
        const OUTSIDE: usize = 2;
        let per_inside = EMPTY_TASKS / 2 / INSIDE;
        let per_outside = EMPTY_TASKS / 2 / OUTSIDE;

        let note_thread = {
            let seen = threads_seen.clone();
            move |i: usize| {
                if i.is_multiple_of(997) {
                    seen.lock().insert(std::thread::current().id());
                }
                i
            }
        };

        let inside: Vec<Task<usize>> = (0..INSIDE)
            .map(|s| {
                let note = note_thread.clone();
                rt.spawn(async move {
                    let mut checked = 0;
                    let base = s * per_inside;
                    let mut next = base;
                    while next < base + per_inside {
                        let end = (next + BATCH).min(base + per_inside);
                        let batch: Vec<Task<usize>> = (next..end)
                            .map(|i| {
                                let note = note.clone();
                                weft::spawn(async move { note(i) })
                            })
                            .collect();
                        for (i, t) in (next..end).zip(batch) {
                            assert_eq!(t.await.unwrap(), i);
                            checked += 1;
                        }
                        next = end;
                    }
                    checked
                })
            })
            .collect();

        let outside: Vec<std::thread::JoinHandle<usize>> = (0..OUTSIDE)
            .map(|s| {
                let handle = handle.clone();
                let note = note_thread.clone();
                std::thread::spawn(move || {
                    let mut checked = 0;
                    let base = EMPTY_TASKS / 2 + s * per_outside;
                    let mut next = base;
                    while next < base + per_outside {
                        let end = (next + BATCH).min(base + per_outside);
                        let batch: Vec<Task<usize>> = (next..end)
                            .map(|i| {
                                let note = note.clone();
                                handle.spawn(async move { note(i) })
                            })
                            .collect();
                        checked += handle.block_on(async {
                            let mut n = 0;
                            for (i, t) in (next..end).zip(batch) {
                                assert_eq!(t.await.unwrap(), i);
                                n += 1;
                            }
                            n
                        });
                        next = end;
                    }
                    checked
                })
            })
            .collect();

        let mut checked = 0;
        for t in inside {
            checked += rt.block_on(t).unwrap();
        }
        for t in outside {
            checked += t.join().unwrap();
        }
        assert_eq!(checked, per_inside * INSIDE + per_outside * OUTSIDE);
        assert_eq!(checked, EMPTY_TASKS);
        let m = handle.metrics();
        assert_eq!(m.spawned - spawned_before, EMPTY_TASKS + INSIDE);
        assert_no_live_tasks(&handle);
        let seen = threads_seen.lock().len();
        assert!(seen == workers, "tasks ran on {seen} of {workers} workers");
        eprintln!(
            "{EMPTY_TASKS} empty tasks on {workers} workers: {:?}",
            started.elapsed()
        );
    });
}

/// How `cancel()` answered for one task.
const NOT_YET: u8 = 0;
const ACCEPTED: u8 = 1;
const REFUSED: u8 = 2;

/// Added to the value of a task that intercepted its cancellation.
const INTERCEPTED: u64 = 1 << 40;

/// Spawns `STORM_TASKS` small tasks while another thread cancels each as soon as
/// it hears of it, so cancels land before the first poll, between polls, during
/// the last poll and after completion. Checks that each task ends exactly one way,
/// consistent with what `cancel()` answered (true: cancelled, unless the task
/// intercepts; false: its value), and that nothing leaks.
#[test]
fn a_cancellation_storm_ends_each_task_one_way_and_leaks_nothing() {
    watchdog_for(LIMIT, move || {
        let started = Instant::now();
        let rt = common::runtime(2);
        let handle = rt.handle().clone();
        let drops = DropCounter::new();
        let answers: Arc<Vec<AtomicU8>> =
            Arc::new((0..STORM_TASKS).map(|_| AtomicU8::new(NOT_YET)).collect());

        let (tx, rx) = mpsc::channel::<(usize, TaskRef)>();
        let a = answers.clone();
        let canceller = std::thread::spawn(move || {
            for (i, task) in rx {
                let answer = if task.cancel() { ACCEPTED } else { REFUSED };
                a[i].store(answer, Ordering::SeqCst);
            }
        });

        let mut handles: Vec<Task<u64>> = Vec::with_capacity(STORM_TASKS);
        for i in 0..STORM_TASKS {
            let guard = drops.guard();
            let t = handle.spawn(async move {
                let _state = guard;
                let i = i as u64;
                match i % 4 {
                    0 => i,
                    1 => {
                        weft::yield_now().await;
                        i
                    }
                    2 => {
                        for _ in 0..3 {
                            weft::yield_now().await;
                        }
                        i
                    }
                    _ => match catch_cancel(weft::yield_now()).await {
                        Ok(()) => i,
                        Err(_) => i + INTERCEPTED,
                    },
                }
            });
            tx.send((i, t.task_ref())).unwrap();
            handles.push(t);
        }
        drop(tx);
        canceller.join().unwrap();

        let outcomes: Vec<(Result<u64, weft::TaskError>, TaskRef)> = rt.block_on(async move {
            let mut out = Vec::with_capacity(handles.len());
            for t in handles {
                let r = t.task_ref();
                out.push((t.await, r));
            }
            out
        });

        let (mut values, mut cancelled, mut intercepted, mut refused) = (0, 0, 0, 0);
        let mut broken = Vec::new();
        for (i, (outcome, task)) in outcomes.into_iter().enumerate() {
            let answer = answers[i].load(Ordering::SeqCst);
            let i = i as u64;
            let intercepts = i % 4 == 3;
            assert_ne!(answer, NOT_YET);
            assert!(task.done());
            // Exactly one way: a value xor a cancellation, and cancelled() agrees.
            match &outcome {
                Ok(v) => {
                    assert!(
                        *v == i || (intercepts && *v == i + INTERCEPTED),
                        "task {i}: {v}"
                    );
                    assert!(!task.cancelled(), "task {i} has a value but says cancelled");
                    assert!(task.exception().unwrap().is_none());
                    values += 1;
                    if *v != i {
                        intercepted += 1;
                    }
                }
                Err(e) => {
                    assert!(e.is_cancelled(), "task {i} failed: {e}");
                    assert!(task.cancelled(), "task {i} ended cancelled but says not");
                    cancelled += 1;
                }
            }
            match answer {
                REFUSED => {
                    // cancel() said the task was done: it must have its plain value.
                    refused += 1;
                    assert_eq!(outcome.as_ref().ok(), Some(&i), "task {i}: refused cancel");
                    assert_eq!(task.cancelling(), 0);
                }
                _ => {
                    assert_eq!(task.cancelling(), 1);
                    let ok = match &outcome {
                        Err(_) => true,
                        Ok(v) => intercepts && *v == i + INTERCEPTED,
                    };
                    if !ok {
                        broken.push((i, outcome.clone()));
                    }
                }
            }
        }
        assert!(
            broken.is_empty(),
            "{} tasks ended with a value after cancel() returned true, e.g. {:?}",
            broken.len(),
            &broken[..1]
        );
        assert_eq!(values + cancelled, STORM_TASKS);
        assert_eq!(
            drops.get(),
            STORM_TASKS,
            "some futures' state was never dropped"
        );
        assert_no_live_tasks(&handle);
        eprintln!(
            "storm of {STORM_TASKS}: {values} values ({intercepted} intercepted), {cancelled} \
             cancelled, {refused} refused, {} broke the rule, in {:?}",
            broken.len(),
            started.elapsed()
        );
    });
}
