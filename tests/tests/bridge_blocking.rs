//! The blocking pool: `spawn_blocking` / `to_thread` / `Handle::spawn_blocking`
//! return the closure's value (or its panic as the error), from tasks and from
//! plain threads; the pool grows on demand, is capped by
//! `Builder::max_blocking_threads`, keeps idle threads for
//! `Builder::blocking_keep_alive` and then lets them exit
//! (`RuntimeMetrics::blocking_threads`); `cancel()` skips a queued job but not
//! a running one; shutdown cancels queued jobs and hangs on nothing; and
//! `spawn_blocking` outside a runtime panics.

mod common;

use common::{
    cancel_message, ms, panic_message, panic_text, spin_until, watchdog, DropCounter, Flag,
};
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};
use weft::{FutureError, Runtime};

/// How long a thread waits for an outcome that should come at once; far
/// beyond any real latency, well inside the watchdog.
const PATIENCE: Duration = Duration::from_secs(5);

fn thread_name() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// A runtime with `workers` workers named `{name}-N` (so blocking threads are
/// `{name}-blocking`), at most `max` blocking threads kept `keep_alive`.
fn pool_runtime(workers: usize, name: &str, max: usize, keep_alive: Duration) -> Runtime {
    weft::Builder::new()
        .workers(workers)
        .thread_name(name)
        .max_blocking_threads(max)
        .blocking_keep_alive(keep_alive)
        .build()
        .expect("build a weft runtime")
}

fn blocking_threads(rt: &Runtime) -> usize {
    rt.handle().metrics().blocking_threads
}

/// A bounded rendezvous for `n` jobs: each call counts itself in, then waits
/// (sleeping 1 ms at a time) until all `n` have arrived or 5 s have passed;
/// returns whether all arrived. Unlike `std::sync::Barrier` a pool that runs
/// the jobs one at a time fails the test instead of hanging it.
#[derive(Clone)]
struct Rendezvous {
    arrived: Arc<AtomicUsize>,
    n: usize,
}

impl Rendezvous {
    fn new(n: usize) -> Rendezvous {
        Rendezvous {
            arrived: Arc::new(AtomicUsize::new(0)),
            n,
        }
    }

    fn meet(&self) -> bool {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        let start = Instant::now();
        while self.arrived.load(Ordering::SeqCst) < self.n {
            if start.elapsed() > PATIENCE {
                return false;
            }
            thread::sleep(ms(1));
        }
        true
    }
}

/// A job that tells `started` it runs, then blocks until `release` gets a
/// message (at most 5 s), and returns `value`.
fn held_job<T: Send + 'static>(
    started: mpsc::Sender<()>,
    release: mpsc::Receiver<()>,
    value: T,
) -> impl FnOnce() -> T + Send + 'static {
    move || {
        started.send(()).unwrap();
        release
            .recv_timeout(PATIENCE)
            .expect("the test released the job");
        value
    }
}

// ----- values and errors -----

#[test]
fn spawn_blocking_and_to_thread_return_the_closures_value_awaited_in_a_task() {
    watchdog(|| {
        let rt = pool_runtime(1, "bv", 4, Duration::from_secs(10));
        let (worker, out) = rt
            .block_on(rt.spawn(async {
                let worker = thread_name();
                let a = weft::spawn_blocking(|| (6 * 7, thread_name()))
                    .await
                    .unwrap();
                let b = weft::to_thread(|| (String::from("to_thread"), thread_name()))
                    .await
                    .unwrap();
                (worker, (a, b))
            }))
            .unwrap();
        let ((a, a_thread), (b, b_thread)) = out;
        assert_eq!(a, 42);
        assert_eq!(b, "to_thread");
        assert_eq!(worker, "bv-0");
        assert_eq!(
            a_thread, "bv-blocking",
            "spawn_blocking ran on {a_thread:?}"
        );
        assert_eq!(b_thread, "bv-blocking", "to_thread ran on {b_thread:?}");

        // In block_on too.
        let v = rt.block_on(async { weft::spawn_blocking(|| vec![1, 2, 3]).await });
        assert_eq!(v.unwrap(), [1, 2, 3]);
    });
}

#[test]
fn a_blocking_future_can_be_waited_with_result_from_a_plain_thread() {
    watchdog(|| {
        let rt = pool_runtime(1, "bp", 4, Duration::from_secs(10));
        // Made inside a task, waited on by a plain thread.
        let (fut, made_on) = rt
            .block_on(rt.spawn(async {
                let fut = weft::spawn_blocking(|| {
                    thread::sleep(ms(5));
                    String::from("from the pool")
                });
                (fut, thread_name())
            }))
            .unwrap();
        assert_eq!(made_on, "bp-0");
        let got = thread::spawn(move || fut.result(Some(PATIENCE)))
            .join()
            .unwrap();
        assert_eq!(got.unwrap(), "from the pool");

        // Made on a plain thread through a Handle.
        let handle = rt.handle().clone();
        let (v, name) = thread::spawn(move || {
            handle
                .spawn_blocking(|| (99u64, thread_name()))
                .result(Some(PATIENCE))
                .unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(v, 99);
        assert_eq!(name, "bp-blocking");
    });
}

#[test]
fn a_panic_in_the_closure_is_the_futures_error_and_the_pool_thread_survives() {
    watchdog(|| {
        let rt = pool_runtime(1, "bpanic", 1, Duration::from_secs(10));
        let where_it_ran = Arc::new(Mutex::new(None::<ThreadId>));
        let w = where_it_ran.clone();
        let fut = rt.handle().spawn_blocking(move || {
            *w.lock().unwrap() = Some(thread::current().id());
            if true {
                panic!("blocking boom");
            }
            0u8
        });
        let err = match fut.result(Some(PATIENCE)) {
            Err(FutureError::Task(e)) => e,
            other => panic!("expected the job's panic, got {other:?}"),
        };
        assert!(err.is_panic(), "{err:?}");
        assert!(panic_text(&err).contains("blocking boom"));
        assert!(fut.done() && !fut.cancelled() && !fut.running());
        assert!(fut.exception(None).unwrap().unwrap().is_panic());

        // Awaited in a task: the same.
        let awaited = rt.block_on(
            rt.spawn(async { weft::to_thread(|| -> u8 { panic!("to_thread boom") }).await }),
        );
        let err = awaited.unwrap().unwrap_err();
        assert!(err.task_error().unwrap().is_panic());
        assert!(panic_text(err.task_error().unwrap()).contains("to_thread boom"));

        // The single pool thread caught the panics and runs the next job.
        let next = rt.handle().spawn_blocking(|| thread::current().id());
        let next_thread = next.result(Some(PATIENCE)).unwrap();
        assert_eq!(Some(next_thread), *where_it_ran.lock().unwrap());
        assert_eq!(blocking_threads(&rt), 1);
    });
}

// ----- growth, cap, keep-alive -----

#[test]
fn the_pool_grows_so_eight_jobs_meeting_at_a_rendezvous_run_concurrently() {
    const N: usize = 8;
    watchdog(|| {
        let rt = pool_runtime(1, "bgrow", 512, Duration::from_secs(10));
        assert_eq!(blocking_threads(&rt), 0, "threads start on demand");
        let meet = Rendezvous::new(N);
        let futs: Vec<_> = (0..N)
            .map(|i| {
                let meet = meet.clone();
                rt.handle()
                    .spawn_blocking(move || (i, meet.meet(), thread::current().id()))
            })
            .collect();
        let mut threads = HashSet::new();
        for (i, f) in futs.into_iter().enumerate() {
            let (n, all_met, id) = f.result(Some(PATIENCE * 2)).unwrap();
            assert_eq!(n, i);
            assert!(all_met, "job {i} never saw all {N} jobs running at once");
            threads.insert(id);
        }
        assert_eq!(threads.len(), N, "{N} jobs at once need {N} threads");
        assert_eq!(blocking_threads(&rt), N);
    });
}

#[test]
fn jobs_submitted_together_to_a_pool_with_one_idle_thread_still_run_concurrently() {
    // One idle thread, then four jobs back to back: the idle thread takes
    // one, and the others must start threads rather than queue up for the
    // thread already woken (a woken thread is no longer free).
    const N: usize = 4;
    watchdog(|| {
        for round in 0..10 {
            let rt = pool_runtime(1, "bidle", 512, Duration::from_secs(10));
            rt.handle()
                .spawn_blocking(|| ())
                .result(Some(PATIENCE))
                .unwrap();
            assert_eq!(blocking_threads(&rt), 1);
            // Let it finish going idle (if it has not, the pool just starts
            // one more thread and the round proves less, but still holds).
            thread::sleep(ms(5));
            let meet = Rendezvous::new(N);
            let futs: Vec<_> = (0..N)
                .map(|_| {
                    let meet = meet.clone();
                    rt.handle().spawn_blocking(move || meet.meet())
                })
                .collect();
            for (i, f) in futs.into_iter().enumerate() {
                let met = f.result(Some(PATIENCE * 2)).unwrap();
                assert!(
                    met,
                    "round {round}, job {i}: {N} jobs given to a pool with one idle thread never ran at once"
                );
            }
            assert!(blocking_threads(&rt) >= N);
        }
    });
}

#[test]
fn max_blocking_threads_caps_how_many_jobs_run_at_once() {
    watchdog(|| {
        let rt = pool_runtime(1, "bcap", 2, Duration::from_secs(10));
        let active = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let futs: Vec<_> = (0..4)
            .map(|i| {
                let (active, most) = (active.clone(), most.clone());
                rt.handle().spawn_blocking(move || {
                    let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    // Wait (bounded) for a partner, so two run at once for
                    // sure, then linger so a third would overlap if allowed.
                    let start = Instant::now();
                    while active.load(Ordering::SeqCst) < 2 && start.elapsed() < ms(2000) {
                        thread::sleep(ms(1));
                    }
                    thread::sleep(ms(20));
                    active.fetch_sub(1, Ordering::SeqCst);
                    (i, thread::current().id())
                })
            })
            .collect();
        // While they run, the pool never exceeds the cap.
        let mut threads = HashSet::new();
        let mut samples = 0;
        for (i, f) in futs.iter().enumerate() {
            while !f.done() {
                assert!(blocking_threads(&rt) <= 2);
                samples += 1;
                thread::sleep(ms(1));
            }
            let (n, id) = f.result(None).unwrap();
            assert_eq!(n, i);
            threads.insert(id);
        }
        assert!(samples > 0);
        assert_eq!(
            most.load(Ordering::SeqCst),
            2,
            "max observed concurrency with max_blocking_threads(2)"
        );
        assert_eq!(threads.len(), 2, "the four jobs shared the two threads");
        assert_eq!(blocking_threads(&rt), 2);
    });
}

#[test]
fn idle_pool_threads_are_kept_and_reused_within_the_keep_alive() {
    watchdog(|| {
        let rt = pool_runtime(1, "bkeep", 16, Duration::from_secs(10));
        let meet = Rendezvous::new(3);
        let futs: Vec<_> = (0..3)
            .map(|_| {
                let meet = meet.clone();
                rt.handle()
                    .spawn_blocking(move || (meet.meet(), thread::current().id()))
            })
            .collect();
        let first: HashSet<ThreadId> = futs
            .into_iter()
            .map(|f| {
                let (met, id) = f.result(Some(PATIENCE * 2)).unwrap();
                assert!(met);
                id
            })
            .collect();
        assert_eq!(first.len(), 3);
        assert_eq!(blocking_threads(&rt), 3);
        thread::sleep(ms(100));
        assert_eq!(
            blocking_threads(&rt),
            3,
            "idle threads left before the keep-alive"
        );
        // A new job goes to an idle thread; no new thread starts.
        for _ in 0..5 {
            let id = rt
                .handle()
                .spawn_blocking(|| thread::current().id())
                .result(Some(PATIENCE))
                .unwrap();
            assert!(
                first.contains(&id),
                "a job started a new thread although 3 were idle"
            );
        }
        assert_eq!(blocking_threads(&rt), 3);
    });
}

#[test]
fn idle_pool_threads_exit_after_the_keep_alive() {
    watchdog(|| {
        let rt = pool_runtime(1, "bexit", 16, ms(50));
        let meet = Rendezvous::new(3);
        let futs: Vec<_> = (0..3)
            .map(|_| {
                let meet = meet.clone();
                rt.handle().spawn_blocking(move || meet.meet())
            })
            .collect();
        for f in futs {
            assert!(f.result(Some(PATIENCE * 2)).unwrap());
        }
        let start = Instant::now();
        spin_until("the idle blocking threads to exit", || {
            blocking_threads(&rt) == 0
        });
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "idle threads took {:?} to exit with a 50 ms keep-alive",
            start.elapsed()
        );
        // The pool starts threads again on demand.
        let v = rt.handle().spawn_blocking(|| 5).result(Some(PATIENCE));
        assert_eq!(v.unwrap(), 5);
        spin_until("the new thread to exit", || blocking_threads(&rt) == 0);
    });
}

// ----- cancel -----

#[test]
fn cancel_skips_a_queued_job_but_cannot_stop_a_running_one() {
    watchdog(|| {
        let rt = pool_runtime(1, "bcancel", 1, Duration::from_secs(10));
        let (started_tx, started) = mpsc::channel();
        let (release, release_rx) = mpsc::channel();
        let running = rt
            .handle()
            .spawn_blocking(held_job(started_tx, release_rx, "first"));
        started
            .recv_timeout(PATIENCE)
            .expect("the first job started");

        let (ran, drops) = (Flag::new(), DropCounter::new());
        let (r, guard) = (ran.clone(), drops.guard());
        let queued = rt.handle().spawn_blocking(move || {
            let _guard = guard;
            r.set();
            "second"
        });
        let third = rt.handle().spawn_blocking(|| "third");
        assert!(running.running() && !running.done());
        assert!(!queued.running() && !queued.done(), "the cap is one thread");

        // Running: cancel cannot stop it.
        assert!(!running.cancel(), "cancel() of a running job");
        assert!(running.running() && !running.cancelled());

        // Queued: skipped, resolved at once.
        assert!(queued.cancel(), "cancel() of a queued job");
        assert!(queued.done() && queued.cancelled() && !queued.running());
        assert!(queued
            .result(Some(Duration::ZERO))
            .unwrap_err()
            .is_cancelled());
        assert!(!queued.cancel(), "cancel() again, once done");

        release.send(()).unwrap();
        assert_eq!(running.result(Some(PATIENCE)).unwrap(), "first");
        assert!(!running.cancelled());
        // FIFO with one thread: the skipped job's turn came before the third.
        assert_eq!(third.result(Some(PATIENCE)).unwrap(), "third");
        assert!(!ran.get(), "the cancelled job ran");
        assert_eq!(drops.get(), 1, "the skipped closure was not dropped");
        assert!(queued.result(None).unwrap_err().is_cancelled());
    });
}

// ----- shutdown -----

#[test]
fn shutdown_cancels_queued_jobs_lets_the_running_one_finish_and_hangs_on_nothing() {
    watchdog(|| {
        let rt = pool_runtime(1, "bshut", 1, Duration::from_secs(10));
        let handle = rt.handle().clone();
        let (started_tx, started) = mpsc::channel();
        let (release, release_rx) = mpsc::channel();
        let running = handle.spawn_blocking(held_job(started_tx, release_rx, 1u32));
        started
            .recv_timeout(PATIENCE)
            .expect("the first job started");

        let (ran, drops) = (Flag::new(), DropCounter::new());
        let queued: Vec<_> = (0..4u32)
            .map(|i| {
                let (r, guard) = (ran.clone(), drops.guard());
                handle.spawn_blocking(move || {
                    let _guard = guard;
                    r.set();
                    i
                })
            })
            .collect();
        assert!(queued.iter().all(|f| !f.done()));

        // Dropping the runtime does not wait for the blocked job.
        let start = Instant::now();
        drop(rt);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "dropping the runtime waited {:?} for a blocking job",
            start.elapsed()
        );
        for (i, f) in queued.iter().enumerate() {
            let err = f.result(Some(PATIENCE)).unwrap_err();
            assert!(err.is_cancelled(), "queued job {i}: {err:?}");
            assert_eq!(
                cancel_message(err.task_error().unwrap()).as_deref(),
                Some("runtime is shut down")
            );
            assert!(f.cancelled());
        }
        assert_eq!(drops.get(), 4, "the queued closures were not dropped");
        assert!(!ran.get(), "a queued job ran after shutdown");

        // The running job runs to its end on its own thread.
        assert!(running.running() && !running.done());
        release.send(()).unwrap();
        assert_eq!(running.result(Some(PATIENCE)).unwrap(), 1);

        // After shutdown: refused at once, the closure dropped unrun.
        let (late_ran, late_drops) = (Flag::new(), DropCounter::new());
        let (r, guard) = (late_ran.clone(), late_drops.guard());
        let late = handle.spawn_blocking(move || {
            let _guard = guard;
            r.set();
        });
        assert!(late.done(), "a job after shutdown did not resolve at once");
        assert!(late.result(None).unwrap_err().is_cancelled());
        assert!(!late_ran.get());
        assert_eq!(late_drops.get(), 1);

        // The last pool thread exits once its job is done.
        spin_until("the pool thread to exit", || {
            handle.metrics().blocking_threads == 0
        });
    });
}

// ----- relation to the loops -----

#[test]
fn a_blocking_job_does_not_stall_the_only_worker() {
    watchdog(|| {
        let rt = pool_runtime(1, "bstall", 4, Duration::from_secs(10));
        let out = rt.block_on(rt.spawn(async {
            let signal = Flag::new();
            let s = signal.clone();
            let job = weft::spawn_blocking(move || {
                let start = Instant::now();
                while !s.get() {
                    if start.elapsed() > PATIENCE {
                        return false;
                    }
                    thread::sleep(ms(1));
                }
                true
            });
            // Not ready, on a loop thread: refuses to block.
            assert!(matches!(job.result(None), Err(FutureError::WouldBlock)));
            // Another task on this same worker sets the signal.
            let setter = weft::spawn(async move {
                weft::sleep(ms(5)).await;
                signal.set();
            });
            let saw = job.await.unwrap();
            setter.await.unwrap();
            saw
        }));
        assert!(
            out.unwrap(),
            "the job never saw the signal: the worker was stalled"
        );
    });
}

#[test]
fn spawn_blocking_outside_a_runtime_panics_but_handle_spawn_blocking_works() {
    watchdog(|| {
        let payload = catch_unwind(AssertUnwindSafe(|| weft::spawn_blocking(|| 1)))
            .expect_err("spawn_blocking outside a runtime");
        assert!(
            panic_message(&*payload).contains("not inside a weft runtime"),
            "{}",
            panic_message(&*payload)
        );
        let ran = Flag::new();
        let r = ran.clone();
        let payload = catch_unwind(AssertUnwindSafe(|| weft::to_thread(move || r.set())))
            .expect_err("to_thread outside a runtime");
        assert!(panic_message(&*payload).contains("not inside a weft runtime"));
        thread::sleep(ms(10));
        assert!(!ran.get());

        let rt = pool_runtime(1, "bplain", 4, Duration::from_secs(10));
        let handle = rt.handle().clone();
        let got = thread::spawn(move || {
            handle
                .spawn_blocking(thread_name)
                .result(Some(PATIENCE))
                .unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(got, "bplain-blocking");
    });
}
