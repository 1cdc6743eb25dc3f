//! `RuntimeMetrics` (issue 17 section 5): each figure moves as the runtime
//! does: polls, busy time, steals made and suffered, parks and unparks,
//! queue depths (a worker's, the injector's, the blocking pool's), I/O
//! events, timer fires, and the opt-in poll-time histogram.
//!
//! Each test builds its own runtime, so counters start at zero and no other
//! test's work is counted.

mod common;

use common::{spin_until, steal_from_a_held_worker, watchdog, Flag};
use futures_util::{AsyncReadExt, AsyncWriteExt};
use std::time::{Duration, Instant};
use weft::{Builder, Handle, RuntimeMetrics};

/// Far beyond any real latency; only bounds a failing test.
const PATIENCE: Duration = Duration::from_secs(10);

/// Blocks this thread (a worker, inside a task) until `flag` is set, or
/// PATIENCE passes; so the worker runs nothing else meanwhile.
fn hold_until(flag: &Flag) {
    let start = Instant::now();
    while !flag.get() {
        assert!(
            start.elapsed() < PATIENCE,
            "the test never released the worker"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether worker `i` is asleep now (parked one more time than it woke).
fn parked(m: &RuntimeMetrics, i: usize) -> bool {
    let w = &m.per_worker[i];
    w.park_count == w.unpark_count + 1
}

fn total_polls(h: &Handle) -> u64 {
    h.metrics().per_worker.iter().map(|w| w.poll_count).sum()
}

#[test]
fn a_task_that_yields_n_times_counts_n_plus_one_polls_on_one_worker() {
    watchdog(|| {
        const N: u64 = 100;
        let rt = Builder::new().workers(1).build().unwrap();
        let before = rt.handle().metrics().per_worker[0].poll_count;
        rt.block_on(async {
            weft::spawn(async {
                for _ in 0..N {
                    weft::yield_now().await;
                }
            })
            .await
            .unwrap();
        });
        // Counted before each step runs: the last one is in by the join.
        let after = rt.handle().metrics().per_worker[0].poll_count;
        assert_eq!(after - before, N + 1);
    });
}

#[test]
fn pinned_steps_and_eager_first_steps_count_as_polls_of_their_worker() {
    watchdog(|| {
        let rt = Builder::new().workers(1).build().unwrap();
        let h = rt.handle().clone();
        let before = total_polls(&h);
        rt.block_on(rt.spawn(async {
            // Runs on the worker: a pinned task there (2 steps) and an eager
            // task (its one step inside spawn_eager).
            weft::spawn_local(async { weft::yield_now().await })
                .await
                .unwrap();
            weft::spawn_eager(async {}).await.unwrap();
        }))
        .unwrap();
        // The outer task's steps: its first, after the pinned task ended,
        // and its last (the eager task ended inside its own step).
        let counted = total_polls(&h) - before;
        assert!(
            (2 + 1 + 2..=2 + 1 + 3).contains(&counted),
            "{counted} polls for 2 pinned steps, 1 eager step and the outer task's"
        );
    });
}

#[test]
fn a_blocked_workers_queue_is_stolen_and_both_sides_count_it() {
    watchdog(|| {
        const CHILDREN: usize = 16;
        let rt = Builder::new()
            .workers(2)
            .thread_name("steal")
            .build()
            .unwrap();
        let victim = steal_from_a_held_worker(&rt, "steal", CHILDREN);
        let thief = 1 - victim;
        let m = rt.handle().metrics();
        let (v, t) = (&m.per_worker[victim], &m.per_worker[thief]);
        assert!(t.steal_operations >= 1, "{m:?}");
        assert_eq!(t.steal_count as usize, CHILDREN, "{m:?}");
        assert_eq!(v.stolen_count as usize, CHILDREN, "{m:?}");
        assert_eq!((v.steal_count, t.stolen_count), (0, 0), "{m:?}");
        assert_eq!(m.steals as u64, t.steal_operations + v.steal_operations);
    });
}

#[test]
fn an_idle_worker_parks_and_a_spawn_unparks_it() {
    watchdog(|| {
        let rt = Builder::new().workers(1).build().unwrap();
        let h = rt.handle().clone();
        spin_until("the worker to park", || parked(&h.metrics(), 0));
        let parks = h.metrics().per_worker[0].park_count;
        assert!(parks >= 1);
        rt.block_on(rt.spawn(async {})).unwrap();
        spin_until("the worker to park again", || {
            let m = h.metrics();
            parked(&m, 0) && m.per_worker[0].park_count > parks
        });
        let m = h.metrics();
        assert!(m.per_worker[0].unpark_count >= parks, "{m:?}");
        assert_eq!(m.parks as u64, m.per_worker[0].park_count);
    });
}

#[test]
fn busy_time_covers_a_step_that_spins() {
    watchdog(|| {
        const SPIN: Duration = Duration::from_millis(30);
        let rt = Builder::new().workers(1).build().unwrap();
        let h = rt.handle().clone();
        spin_until("the worker to park", || parked(&h.metrics(), 0));
        let before = h.metrics().per_worker[0].total_busy_duration;
        rt.block_on(rt.spawn(async {
            let start = Instant::now();
            while start.elapsed() < SPIN {
                std::hint::spin_loop();
            }
        }))
        .unwrap();
        // Added up when it parks again.
        spin_until("the worker to park again", || {
            h.metrics().per_worker[0].total_busy_duration >= before + SPIN
        });
    });
}

#[test]
fn the_injector_and_a_workers_queue_show_what_waits_behind_a_blocked_worker() {
    watchdog(|| {
        const LOCAL: usize = 5;
        const INJECTED: usize = 7;
        let rt = Builder::new().workers(1).build().unwrap();
        let h = rt.handle().clone();
        let (started, release) = (Flag::new(), Flag::new());
        let (s, r) = (started.clone(), release.clone());
        let blocker = rt.spawn(async move {
            for _ in 0..LOCAL {
                weft::spawn(async {}).detach();
            }
            s.set();
            hold_until(&r);
        });
        spin_until("the blocker to run", || started.get());
        let injected: Vec<_> = (0..INJECTED).map(|_| h.spawn(async {})).collect();
        let m = h.metrics();
        assert_eq!(m.per_worker[0].local_queue_depth, LOCAL, "{m:?}");
        assert_eq!(m.injection_queue_depth, INJECTED, "{m:?}");
        release.set();
        rt.block_on(async {
            blocker.await.unwrap();
            for t in injected {
                t.await.unwrap();
            }
        });
        spin_until("the queues to empty", || {
            let m = h.metrics();
            m.per_worker[0].local_queue_depth == 0 && m.injection_queue_depth == 0
        });
    });
}

#[test]
fn jobs_waiting_for_a_blocking_thread_are_the_blocking_queue_depth() {
    watchdog(|| {
        let rt = Builder::new()
            .workers(1)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let h = rt.handle().clone();
        let (started, release) = (Flag::new(), Flag::new());
        let (s, r) = (started.clone(), release.clone());
        rt.block_on(async {
            let first = weft::spawn_blocking(move || {
                s.set();
                hold_until(&r);
            });
            spin_until("the first job to run", || started.get());
            let queued: Vec<_> = (0..3).map(|i| weft::spawn_blocking(move || i)).collect();
            assert_eq!(h.metrics().blocking_queue_depth, 3);
            release.set();
            first.await.unwrap();
            for (i, job) in queued.into_iter().enumerate() {
                assert_eq!(job.await.unwrap(), i);
            }
            assert_eq!(h.metrics().blocking_queue_depth, 0);
        });
    });
}

#[test]
fn each_sleep_that_ends_counts_one_timer_fire() {
    watchdog(|| {
        let rt = Builder::new().workers(1).build().unwrap();
        let h = rt.handle().clone();
        let before = h.metrics().timer_fire_count;
        rt.block_on(rt.spawn(async {
            for _ in 0..3 {
                weft::sleep(Duration::from_millis(20)).await;
            }
        }))
        .unwrap();
        assert_eq!(h.metrics().timer_fire_count - before, 3);
        // A sleep dropped before its time is not a fire.
        rt.block_on(rt.spawn(async {
            let sleeper = weft::spawn(weft::sleep(PATIENCE));
            let short = weft::wait_for(sleeper, Some(Duration::from_millis(5))).await;
            assert!(short.unwrap_err().is_timeout());
        }))
        .unwrap();
        assert_eq!(
            h.metrics().timer_fire_count - before,
            4,
            "the timeout's timer"
        );
    });
}

#[test]
fn a_read_on_a_loopback_socket_pair_counts_io_events() {
    watchdog(|| {
        let rt = Builder::new().workers(1).build().unwrap();
        let h = rt.handle().clone();
        let before = h.metrics().io_driver_ready_count;
        rt.block_on(rt.spawn(async {
            let (mut a, mut b) = weft::net::UnixStream::pair().unwrap();
            let reader = weft::spawn(async move {
                let mut buf = [0; 3];
                a.read_exact(&mut buf).await.unwrap();
                buf
            });
            // The reader waits for readiness before anything is written.
            weft::sleep(Duration::from_millis(10)).await;
            b.write_all(b"abc").await.unwrap();
            assert_eq!(&reader.await.unwrap(), b"abc");
        }))
        .unwrap();
        let after = h.metrics().io_driver_ready_count;
        assert!(after > before, "no readiness event counted: {after}");
    });
}

#[test]
fn the_poll_time_histogram_counts_every_poll_when_enabled() {
    watchdog(|| {
        let rt = Builder::new()
            .workers(2)
            .enable_poll_time_histogram()
            .build()
            .unwrap();
        let h = rt.handle().clone();
        rt.block_on(async {
            let tasks: Vec<_> = (0..20)
                .map(|_| {
                    weft::spawn(async {
                        for _ in 0..10 {
                            weft::yield_now().await;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        // A step's bucket is counted after it returns, so the last may lag.
        spin_until("the histogram to catch up", || {
            let m = h.metrics();
            m.poll_time_histogram.total() == total_polls(&h)
        });
        let m = h.metrics();
        assert!(m.poll_time_histogram.is_enabled());
        assert_eq!(m.poll_time_histogram.num_buckets(), 18);
        assert!(m.poll_time_histogram.total() >= 20 * 11);
        for w in &m.per_worker {
            assert_eq!(w.poll_time_histogram.total(), w.poll_count, "{w:?}");
        }
        let summed: Vec<u64> = (0..18)
            .map(|b| {
                m.per_worker
                    .iter()
                    .map(|w| w.poll_time_histogram.bucket_count(b))
                    .sum()
            })
            .collect();
        assert_eq!(m.poll_time_histogram.buckets(), &summed[..]);
    });
}

#[test]
fn the_poll_time_histogram_is_empty_when_not_enabled() {
    watchdog(|| {
        let rt = Builder::new().workers(1).build().unwrap();
        rt.block_on(rt.spawn(async { weft::yield_now().await }))
            .unwrap();
        let m = rt.handle().metrics();
        assert!(m.per_worker[0].poll_count >= 2);
        assert!(!m.poll_time_histogram.is_enabled());
        assert_eq!(m.poll_time_histogram.num_buckets(), 0);
        assert_eq!(m.poll_time_histogram.total(), 0);
        assert!(!m.per_worker[0].poll_time_histogram.is_enabled());
    });
}

#[test]
fn metrics_can_be_read_from_a_plain_thread_while_workers_are_busy() {
    watchdog(|| {
        let rt = Builder::new().workers(2).build().unwrap();
        let h = rt.handle().clone();
        let stop = Flag::new();
        let s = stop.clone();
        let reader = std::thread::spawn(move || {
            let mut reads = 0u32;
            let mut last = 0;
            // At least one read, however late this thread gets to run.
            loop {
                let polls = total_polls(&h);
                assert!(polls >= last, "the poll count went back");
                last = polls;
                reads += 1;
                if s.get() {
                    break;
                }
            }
            reads
        });
        rt.block_on(async {
            let tasks: Vec<_> = (0..200)
                .map(|_| weft::spawn(async { weft::yield_now().await }))
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        stop.set();
        assert!(reader.join().unwrap() > 0);
    });
}
