//! `run_coroutine_threadsafe` and `ConcurrentFuture` (ASYNCIO.md,
//! "run_coroutine_threadsafe"): `result(timeout)` gives the value or the
//! work's error, a timeout leaves the task running, cancelled tasks and
//! `cancel()`; where the future runs (a `LoopHandle`'s own thread, a `Handle`'s
//! workers); use from inside tasks (no deadlock, `WouldBlock` instead of
//! blocking a loop) and from another runtime; done callbacks; the state
//! queries; submissions at and after shutdown; and two stress runs (many
//! threads submitting, `cancel` racing completion).

mod common;

use common::{
    cancel_message, ms, panic_text, poll_once, runtime, sleep_until_true, spin_until, wait_until,
    watchdog, watchdog_for, DropCounter, Flag, Log, TraceLog,
};
use std::future::pending;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};
use weft::{
    run_coroutine_threadsafe, ConcurrentFuture, FutureError, Handle, InvalidStateError, LoopHandle,
};

/// How long a plain thread waits for an outcome that should come at once; far
/// beyond any real latency, well inside the watchdog.
const PATIENCE: Duration = Duration::from_secs(5);

/// Waits (on the loop, sleeping 1 ms at a time) until `flag` is set.
async fn until_set(flag: Flag) {
    while !flag.get() {
        weft::sleep(ms(1)).await;
    }
}

/// A runtime whose worker threads are named `{prefix}-N`.
fn named_runtime(workers: usize, prefix: &str) -> weft::Runtime {
    weft::Builder::new()
        .workers(workers)
        .thread_name(prefix)
        .build()
        .expect("build a weft runtime")
}

fn thread_name() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// Whether `name` is one of the worker threads `{prefix}-N`.
fn is_worker_of(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The `LoopHandle` (and thread id) of one of `rt`'s workers.
fn worker_loop(rt: &weft::Runtime) -> (LoopHandle, ThreadId) {
    rt.block_on(rt.spawn(async { (LoopHandle::current(), thread::current().id()) }))
        .expect("the probe task")
}

fn expect_task_error<T: std::fmt::Debug>(r: Result<T, FutureError>) -> weft::TaskError {
    match r {
        Err(FutureError::Task(e)) => e,
        other => panic!("expected the work's error, got {other:?}"),
    }
}

// ----- result(timeout) -----

#[test]
fn result_from_a_plain_thread_returns_the_value() {
    watchdog(|| {
        let rt = runtime(2);
        let handle = rt.handle().clone();
        let submitter = thread::spawn(move || {
            let fut = run_coroutine_threadsafe(
                async {
                    weft::sleep(ms(5)).await;
                    String::from("forty-two")
                },
                &handle,
            );
            fut.result(Some(PATIENCE))
        });
        assert_eq!(submitter.join().unwrap().unwrap(), "forty-two");

        // Also with no timeout at all, and for a future that never suspends.
        let fut = run_coroutine_threadsafe(async { 6 * 7 }, rt.handle());
        assert_eq!(fut.result(None).unwrap(), 42);
        assert!(fut.done() && !fut.cancelled() && !fut.running());
    });
}

#[test]
fn a_panic_in_the_future_is_a_task_panic_error_from_result() {
    watchdog(|| {
        let rt = runtime(2);
        let fut = run_coroutine_threadsafe(
            async {
                weft::yield_now().await;
                if true {
                    panic!("kaboom in the coroutine");
                }
                1u8
            },
            rt.handle(),
        );
        let err = expect_task_error(fut.result(Some(PATIENCE)));
        assert!(err.is_panic(), "{err:?}");
        assert!(panic_text(&err).contains("kaboom in the coroutine"));
        assert!(fut.done() && !fut.cancelled());
        // An error is not taken: asking again gives it again.
        assert!(expect_task_error(fut.result(None)).is_panic());
        // The runtime is unharmed.
        let again = run_coroutine_threadsafe(async { 5 }, rt.handle());
        assert_eq!(again.result(Some(PATIENCE)).unwrap(), 5);
    });
}

#[test]
fn a_result_timeout_errors_with_timeout_and_the_task_keeps_running() {
    watchdog(|| {
        let rt = runtime(2);
        let go = Flag::new();
        let g = go.clone();
        let fut = run_coroutine_threadsafe(
            async move {
                until_set(g).await;
                "finished"
            },
            rt.handle(),
        );
        let err = fut.result(Some(ms(20))).unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        assert!(!fut.done() && !fut.cancelled());
        spin_until("the task to start", || fut.running());
        // A second timeout, still nothing lost.
        assert!(fut.result(Some(ms(1))).unwrap_err().is_timeout());
        assert!(fut.exception(Some(ms(1))).unwrap_err().is_timeout());
        assert!(fut.running());

        go.set();
        assert_eq!(fut.result(None).unwrap(), "finished");
        assert!(fut.done() && !fut.running() && !fut.cancelled());
    });
}

#[test]
fn a_task_cancelled_by_someone_else_gives_cancelled_from_result() {
    watchdog(|| {
        let rt = runtime(2);
        let (tx, rx) = std::sync::mpsc::channel();
        let fut = run_coroutine_threadsafe(
            async move {
                tx.send(weft::current_task().expect("in a task")).unwrap();
                pending::<u32>().await
            },
            rt.handle(),
        );
        let task = rx.recv_timeout(PATIENCE).expect("the task started");
        thread::spawn(move || assert!(task.cancel_with("stopped from outside")))
            .join()
            .unwrap();
        let err = fut.result(Some(PATIENCE)).unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        assert_eq!(
            cancel_message(err.task_error().unwrap()).as_deref(),
            Some("stopped from outside")
        );
        assert!(fut.cancelled() && fut.done() && !fut.running());
        // The ConcurrentFuture's own cancel is now too late.
        assert!(!fut.cancel());
    });
}

// ----- cancel() -----

#[test]
fn cancel_on_the_concurrent_future_cancels_the_task_which_sees_it() {
    watchdog(|| {
        let rt = runtime(2);
        let caught = Arc::new(AtomicUsize::new(0));
        let (reached, release) = (Flag::new(), Flag::new());
        let (c, r, rel) = (caught.clone(), reached.clone(), release.clone());
        let fut = run_coroutine_threadsafe(
            async move {
                let body = common::flag_when_pending(r, pending::<u32>());
                match weft::catch_cancel(body).await {
                    Ok(v) => v,
                    Err(cancelled) => {
                        c.fetch_add(1, Ordering::SeqCst);
                        // Cleanup that awaits, held open until the test has
                        // called cancel() twice.
                        until_set(rel).await;
                        cancelled.raise().await
                    }
                }
            },
            rt.handle(),
        );
        spin_until("the task to park in catch_cancel", || reached.get());
        assert!(fut.running());
        assert!(fut.cancel(), "cancel of a running task");
        // The task cannot have ended yet (its cleanup waits for `release`):
        // a second call is still true, and is merged with the first or ends
        // the cleanup early; either way the task is cancelled once.
        assert!(fut.cancel(), "cancel is idempotent: true while not done");
        release.set();

        let err = fut.result(Some(PATIENCE)).unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        assert!(fut.cancelled() && fut.done() && !fut.running());
        assert_eq!(
            caught.load(Ordering::SeqCst),
            1,
            "the task's catch_cancel saw the cancellation exactly once"
        );
        // After done: false, and nothing changes.
        assert!(!fut.cancel());
        assert!(fut.cancelled());
        assert!(fut.result(None).unwrap_err().is_cancelled());
    });
}

#[test]
fn a_task_that_intercepts_the_cancel_and_returns_a_value_ends_with_that_value() {
    // asyncio semantics for a task: catching CancelledError and returning
    // normally ends the task normally.
    watchdog(|| {
        let rt = runtime(2);
        let reached = Flag::new();
        let r = reached.clone();
        let fut = run_coroutine_threadsafe(
            async move {
                match weft::catch_cancel(common::flag_when_pending(r, pending::<()>())).await {
                    Ok(()) => "not cancelled",
                    Err(_) => "cleaned up",
                }
            },
            rt.handle(),
        );
        spin_until("the task to park in catch_cancel", || reached.get());
        assert!(fut.cancel());
        assert_eq!(fut.result(Some(PATIENCE)).unwrap(), "cleaned up");
        assert!(!fut.cancelled() && fut.done());
        assert!(!fut.cancel(), "cancel after done");
    });
}

#[test]
fn cancel_after_done_returns_false_and_keeps_the_value() {
    watchdog(|| {
        let rt = runtime(1);
        let fut = run_coroutine_threadsafe(async { 11 }, rt.handle());
        spin_until("the future to finish", || fut.done());
        assert!(!fut.cancel());
        assert!(!fut.cancel());
        assert!(!fut.cancelled());
        assert_eq!(fut.result(None).unwrap(), 11);
    });
}

// ----- where it runs -----

#[test]
fn a_loop_handle_target_of_a_block_on_loop_runs_the_future_on_that_thread() {
    watchdog(|| {
        let rt = runtime(2);
        rt.block_on(async {
            let lp = LoopHandle::current();
            let me = thread::current().id();
            let submitter = thread::spawn(move || {
                let mut seen = Vec::new();
                for i in 0..20u32 {
                    let fut = run_coroutine_threadsafe(
                        async move {
                            let first = thread::current().id();
                            weft::yield_now().await;
                            weft::sleep(ms(1)).await;
                            (i, first, thread::current().id())
                        },
                        &lp,
                    );
                    seen.push(fut.result(Some(PATIENCE)).unwrap());
                }
                (thread::current().id(), seen)
            });
            // Keep this loop running (not blocked) while the thread submits.
            sleep_until_true("the submitter", || submitter.is_finished()).await;
            let (submitter_id, seen) = submitter.join().unwrap();
            assert_ne!(submitter_id, me);
            assert_eq!(seen.len(), 20);
            for (i, (n, first, after)) in seen.into_iter().enumerate() {
                assert_eq!(n as usize, i);
                assert_eq!(first, me, "future {i} started off the block_on thread");
                assert_eq!(after, me, "future {i} resumed off the block_on thread");
            }
        });
    });
}

#[test]
fn a_loop_handle_target_of_a_worker_runs_the_future_on_that_worker_only() {
    watchdog(|| {
        let rt = named_runtime(4, "lp-target");
        let (lp, worker) = worker_loop(&rt);
        // Keep the other workers busy-ish so stealing would have a chance.
        let noise: Vec<_> = (0..8)
            .map(|_| {
                rt.spawn(async {
                    for _ in 0..200 {
                        weft::yield_now().await;
                    }
                })
            })
            .collect();
        let threads: Vec<_> = (0..3)
            .map(|t| {
                let lp = lp.clone();
                thread::spawn(move || {
                    let futs: Vec<_> = (0..30u32)
                        .map(|i| {
                            run_coroutine_threadsafe(
                                async move {
                                    let mut ids = vec![thread::current().id()];
                                    for _ in 0..3 {
                                        weft::yield_now().await;
                                        ids.push(thread::current().id());
                                    }
                                    (t * 100 + i, ids)
                                },
                                &lp,
                            )
                        })
                        .collect();
                    futs.into_iter()
                        .enumerate()
                        .map(|(i, f)| {
                            let (v, ids) = f.result(Some(PATIENCE)).unwrap();
                            assert_eq!(v, t * 100 + i as u32);
                            ids
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for t in threads {
            for ids in t.join().unwrap() {
                assert!(
                    ids.iter().all(|&id| id == worker),
                    "a future for the worker's LoopHandle ran elsewhere: {ids:?} vs {worker:?}"
                );
            }
        }
        for n in noise {
            rt.block_on(n).unwrap();
        }
    });
}

#[test]
fn a_handle_target_runs_the_future_on_one_of_the_runtimes_workers() {
    watchdog(|| {
        let rt = named_runtime(2, "h-target");
        let handle = rt.handle().clone();
        let names = thread::spawn(move || {
            (0..50)
                .map(|_| {
                    run_coroutine_threadsafe(async { thread_name() }, &handle)
                        .result(Some(PATIENCE))
                        .unwrap()
                })
                .collect::<Vec<_>>()
        })
        .join()
        .unwrap();
        for name in names {
            assert!(is_worker_of(&name, "h-target"), "ran on {name:?}");
        }
    });
}

// ----- from inside tasks -----

#[test]
fn a_task_on_a_one_worker_runtime_can_submit_to_its_own_runtime_and_await() {
    watchdog(|| {
        let rt = runtime(1);
        let out = rt.block_on(rt.spawn(async {
            let me = thread::current().id();
            let fut = run_coroutine_threadsafe(
                async {
                    weft::yield_now().await;
                    thread::current().id()
                },
                &Handle::current(),
            );
            // The only worker is running this task, so the submitted one
            // cannot have run: result() refuses to block instead of
            // deadlocking the loop.
            assert!(matches!(fut.result(None), Err(FutureError::WouldBlock)));
            assert!(matches!(
                fut.result(Some(ms(50))),
                Err(FutureError::WouldBlock)
            ));
            assert!(matches!(fut.exception(None), Err(FutureError::WouldBlock)));
            assert_eq!(fut.clone().await.unwrap(), me);

            // To this very loop through its LoopHandle, awaited here.
            let own = run_coroutine_threadsafe(
                async {
                    weft::sleep(ms(2)).await;
                    thread::current().id()
                },
                &LoopHandle::current(),
            );
            assert_eq!(own.await.unwrap(), me);

            // Once done, result() on a loop thread just returns it.
            let ready = run_coroutine_threadsafe(async { 17 }, &Handle::current());
            wait_until("the second future", || ready.done()).await;
            assert_eq!(ready.result(None).unwrap(), 17);
            "no deadlock"
        }));
        assert_eq!(out.unwrap(), "no deadlock");
    });
}

#[test]
fn result_inside_block_on_would_block_and_awaiting_works() {
    watchdog(|| {
        let rt = runtime(1);
        rt.block_on(async {
            let fut = run_coroutine_threadsafe(weft::sleep_with(ms(20), 3), &Handle::current());
            assert!(matches!(fut.result(None), Err(FutureError::WouldBlock)));
            assert_eq!(fut.await.unwrap(), 3);

            let me = thread::current().id();
            let own =
                run_coroutine_threadsafe(async { thread::current().id() }, &LoopHandle::current());
            assert!(matches!(
                own.result(Some(ms(5))),
                Err(FutureError::WouldBlock)
            ));
            assert_eq!(own.await.unwrap(), me);
        });
    });
}

#[test]
fn a_concurrent_future_can_be_awaited_on_another_weft_runtime() {
    watchdog(|| {
        let a = named_runtime(2, "rt-a");
        let b = named_runtime(2, "rt-b");
        let a_handle = a.handle().clone();
        let (a_loop, a_worker) = worker_loop(&a);
        let on_b = b.spawn(async move {
            let futs: Vec<ConcurrentFuture<(usize, String)>> = (0..10)
                .map(|i| {
                    run_coroutine_threadsafe(
                        async move {
                            weft::sleep(ms(1 + i as u64)).await;
                            (i, thread_name())
                        },
                        &a_handle,
                    )
                })
                .collect();
            let mut out = Vec::new();
            for f in futs {
                out.push(f.await.unwrap());
            }
            let pinned = run_coroutine_threadsafe(async { thread::current().id() }, &a_loop).await;
            (thread_name(), out, pinned.unwrap())
        });
        let (b_name, out, pinned) = b.block_on(on_b).unwrap();
        assert!(is_worker_of(&b_name, "rt-b"), "{b_name}");
        for (i, (n, name)) in out.into_iter().enumerate() {
            assert_eq!(n, i);
            assert!(is_worker_of(&name, "rt-a"), "future {i} ran on {name:?}");
        }
        assert_eq!(pinned, a_worker);

        // And from B's block_on thread.
        let fut = run_coroutine_threadsafe(weft::sleep_with(ms(10), "slept on A"), a.handle());
        assert_eq!(b.block_on(fut).unwrap(), "slept on A");
    });
}

// ----- add_done_callback -----

#[test]
fn done_callbacks_run_in_order_on_the_completing_worker_and_survive_a_panic() {
    watchdog(|| {
        let trace = TraceLog::new();
        let t = trace.clone();
        let rt = weft::Builder::new()
            .workers(2)
            .thread_name("cb-w")
            .on_thread_start(move || t.install_for_thread())
            .build()
            .unwrap();
        let go = Flag::new();
        let g = go.clone();
        let fut = run_coroutine_threadsafe(
            async move {
                until_set(g).await;
                7
            },
            rt.handle(),
        );
        let log = Log::<(usize, String, bool, bool)>::new();
        for i in 0..4 {
            let log = log.clone();
            fut.add_done_callback(move |f| {
                // The outcome is in place when callbacks run.
                log.push((
                    i,
                    thread_name(),
                    f.done(),
                    matches!(f.exception(None), Ok(None)),
                ));
                if i == 1 {
                    panic!("boom in done callback");
                }
            });
        }
        assert_eq!(log.len(), 0, "a callback ran before the work finished");
        go.set();
        assert_eq!(fut.result(Some(PATIENCE)).unwrap(), 7);
        spin_until("the four callbacks", || log.len() == 4);
        let ran = log.snapshot();
        assert_eq!(ran.iter().map(|r| r.0).collect::<Vec<_>>(), [0, 1, 2, 3]);
        let completer = &ran[0].1;
        assert!(is_worker_of(completer, "cb-w"), "ran on {completer:?}");
        assert!(ran.iter().all(|r| &r.1 == completer), "{ran:?}");
        assert!(ran.iter().all(|r| r.2 && r.3), "{ran:?}");
        trace.assert_has(
            tracing::Level::ERROR,
            &["done callback panicked", "boom in done callback"],
        );

        // Already done: at once, on this thread, in order, a panic contained.
        let here = thread_name();
        let local = TraceLog::new();
        let _guard = local.install();
        let late = Log::new();
        for i in 0..3 {
            let l = late.clone();
            fut.add_done_callback(move |_| {
                l.push((i, thread_name()));
                if i == 0 {
                    panic!("boom in a late callback");
                }
            });
            assert_eq!(late.len(), i + 1, "callback {i} did not run at once");
        }
        assert_eq!(
            late.snapshot(),
            (0..3).map(|i| (i, here.clone())).collect::<Vec<_>>()
        );
        local.assert_has(tracing::Level::ERROR, &["boom in a late callback"]);
        // The runtime is unharmed by the panics.
        let again = run_coroutine_threadsafe(async { 8 }, rt.handle());
        assert_eq!(again.result(Some(PATIENCE)).unwrap(), 8);
    });
}

// ----- state queries -----

#[test]
fn running_done_exception_and_taken_follow_the_work() {
    watchdog(|| {
        let rt = runtime(1);
        // Hold the only worker so the submitted task cannot start.
        let (hold, held) = (Flag::new(), Flag::new());
        let (h, hd) = (hold.clone(), held.clone());
        let blocker = rt.spawn(async move {
            hd.set();
            // Bounded, so a failing assertion below (which drops the
            // runtime, joining this worker) reports itself instead of hanging.
            let start = Instant::now();
            while !h.get() && start.elapsed() < PATIENCE {
                thread::sleep(ms(1));
            }
        });
        spin_until("the worker to be held", || held.get());

        let go = Flag::new();
        let g = go.clone();
        let fut = run_coroutine_threadsafe(
            async move {
                until_set(g).await;
                9u64
            },
            rt.handle(),
        );
        assert!(!fut.running(), "running before it started");
        assert!(!fut.done() && !fut.cancelled());
        assert!(fut.exception(Some(ms(20))).unwrap_err().is_timeout());
        assert!(!fut.running());

        hold.set();
        spin_until("the task to start", || fut.running());
        assert!(!fut.done());

        go.set();
        assert!(matches!(fut.exception(Some(PATIENCE)), Ok(None)));
        assert!(fut.done() && !fut.running() && !fut.cancelled());
        // exception() left the value in place.
        assert_eq!(fut.result(None).unwrap(), 9);
        assert!(matches!(
            fut.result(None),
            Err(FutureError::InvalidState(InvalidStateError::ResultTaken))
        ));
        assert!(matches!(
            fut.clone().result(Some(ms(1))),
            Err(FutureError::InvalidState(InvalidStateError::ResultTaken))
        ));
        assert!(matches!(
            poll_once(&mut fut.clone()),
            Poll::Ready(Err(FutureError::InvalidState(
                InvalidStateError::ResultTaken
            )))
        ));
        assert!(matches!(fut.exception(None), Ok(None)));
        assert!(fut.done() && !fut.cancelled());
        rt.block_on(blocker).unwrap();

        // Awaiting takes it too; a later result() is Taken.
        let awaited = run_coroutine_threadsafe(async { 4 }, rt.handle());
        assert_eq!(rt.block_on(awaited.clone()).unwrap(), 4);
        assert!(matches!(
            awaited.result(None),
            Err(FutureError::InvalidState(InvalidStateError::ResultTaken))
        ));

        // An error: exception() returns it, and it stays.
        let failing = run_coroutine_threadsafe(
            async {
                weft::yield_now().await;
                if true {
                    panic!("state-query panic");
                }
            },
            rt.handle(),
        );
        let err = fut_exception(&failing);
        assert!(err.is_panic());
        assert!(panic_text(&err).contains("state-query panic"));
        assert!(fut_exception(&failing).is_panic(), "the error stays");
        assert!(expect_task_error(failing.result(None)).is_panic());
        assert!(failing.done() && !failing.running() && !failing.cancelled());
    });
}

fn fut_exception<T>(fut: &ConcurrentFuture<T>) -> weft::TaskError {
    fut.exception(Some(PATIENCE))
        .expect("no timeout")
        .expect("an error")
}

#[test]
fn result_with_a_timeout_returns_within_a_few_ms_of_it() {
    watchdog(|| {
        let rt = runtime(1);
        let timeout = ms(20);
        for round in 0..5 {
            let fut = run_coroutine_threadsafe(pending::<()>(), rt.handle());
            let start = Instant::now();
            let err = if round % 2 == 0 {
                fut.result(Some(timeout)).unwrap_err()
            } else {
                fut.exception(Some(timeout)).unwrap_err()
            };
            let elapsed = start.elapsed();
            assert!(err.is_timeout(), "{err:?}");
            assert!(
                elapsed >= timeout,
                "round {round}: returned early, {elapsed:?}"
            );
            assert!(
                elapsed < timeout + ms(100),
                "round {round}: returned {elapsed:?} after a {timeout:?} timeout"
            );
            assert!(fut.cancel());
        }
        // A zero timeout does not wait.
        let fut = run_coroutine_threadsafe(pending::<()>(), rt.handle());
        let start = Instant::now();
        assert!(fut.result(Some(Duration::ZERO)).unwrap_err().is_timeout());
        assert!(start.elapsed() < ms(100));
        fut.cancel();
    });
}

// ----- shutdown -----

#[test]
fn submitting_to_a_shut_down_runtime_resolves_cancelled_and_drops_the_future_unpolled() {
    watchdog(|| {
        let rt = runtime(2);
        let handle = rt.handle().clone();
        drop(rt);
        assert!(handle.is_closed());
        let (drops, polled) = (DropCounter::new(), Flag::new());
        let (guard, p) = (drops.guard(), polled.clone());
        let start = Instant::now();
        let fut = run_coroutine_threadsafe(
            async move {
                let _guard = guard;
                p.set();
                1
            },
            &handle,
        );
        assert!(fut.done(), "not resolved at once");
        let err = fut.result(Some(PATIENCE)).unwrap_err();
        assert!(start.elapsed() < ms(500), "took {:?}", start.elapsed());
        assert!(err.is_cancelled(), "{err:?}");
        assert_eq!(
            cancel_message(err.task_error().unwrap()).as_deref(),
            Some("runtime is shut down")
        );
        assert!(fut.cancelled());
        assert_eq!(drops.get(), 1, "the future was not dropped");
        assert!(!polled.get(), "the future was polled");
        assert!(!fut.cancel(), "already done");
    });
}

#[test]
fn a_loop_handle_whose_block_on_returned_resolves_cancelled_not_a_hang() {
    watchdog(|| {
        let rt = runtime(1);
        let lp = rt.block_on(async { LoopHandle::current() });
        let (drops, polled) = (DropCounter::new(), Flag::new());
        let (guard, p) = (drops.guard(), polled.clone());
        let fut = thread::spawn(move || {
            run_coroutine_threadsafe(
                async move {
                    let _guard = guard;
                    p.set();
                    1
                },
                &lp,
            )
        })
        .join()
        .unwrap();
        let err = fut.result(Some(PATIENCE)).unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        assert!(fut.cancelled());
        assert_eq!(drops.get(), 1);
        assert!(!polled.get(), "the future was polled");
        // The runtime itself still works.
        let ok = run_coroutine_threadsafe(async { 2 }, rt.handle());
        assert_eq!(ok.result(Some(PATIENCE)).unwrap(), 2);
    });
}

#[test]
fn a_pending_task_dropped_at_shutdown_resolves_its_concurrent_future_cancelled() {
    watchdog(|| {
        let rt = runtime(2);
        let (lp, _) = worker_loop(&rt);
        let drops = DropCounter::new();
        let via_handle = {
            let guard = drops.guard();
            run_coroutine_threadsafe(
                async move {
                    let _guard = guard;
                    pending::<u8>().await
                },
                rt.handle(),
            )
        };
        let via_loop = {
            let guard = drops.guard();
            run_coroutine_threadsafe(
                async move {
                    let _guard = guard;
                    pending::<u8>().await
                },
                &lp,
            )
        };
        spin_until("both tasks to start", || {
            via_handle.running() && via_loop.running()
        });
        assert!(via_handle.result(Some(ms(10))).unwrap_err().is_timeout());
        drop(rt);
        for (what, fut) in [("Handle", &via_handle), ("LoopHandle", &via_loop)] {
            let err = fut.result(Some(PATIENCE)).unwrap_err();
            assert!(err.is_cancelled(), "{what}: {err:?}");
            assert!(fut.cancelled() && fut.done() && !fut.running(), "{what}");
        }
        assert_eq!(drops.get(), 2);
    });
}

/// One round: four threads loop submitting (two to the `Handle`, two to a
/// worker's `LoopHandle`) and waiting with a 2 s timeout while the runtime is
/// dropped; each call must end `Ok` or `Cancelled` (a `Timeout` would be a
/// lost completion), and every call after the drop `Cancelled`. Returns the
/// (ok, cancelled) counts.
fn submit_through_a_shutdown() -> (usize, usize) {
    let rt = runtime(2);
    let handle = rt.handle().clone();
    let (lp, _) = worker_loop(&rt);
    let stop = Flag::new();
    let total = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let (handle, lp, stop, total) =
                (handle.clone(), lp.clone(), stop.clone(), total.clone());
            thread::spawn(move || {
                let (mut ok, mut cancelled, mut after_stop) = (0usize, 0usize, 0usize);
                for i in 0u64.. {
                    let stopped = stop.get();
                    let work = async move {
                        if i % 2 == 0 {
                            weft::yield_now().await;
                        }
                        t * 1_000_000 + i
                    };
                    let fut = if t % 2 == 0 {
                        run_coroutine_threadsafe(work, &handle)
                    } else {
                        run_coroutine_threadsafe(work, &lp)
                    };
                    match fut.result(Some(ms(2000))) {
                        Ok(v) => {
                            assert_eq!(v, t * 1_000_000 + i);
                            assert!(!stopped, "thread {t}: a value after the drop");
                            ok += 1;
                        }
                        Err(e) if e.is_cancelled() => cancelled += 1,
                        Err(e) => panic!("thread {t}, call {i}: {e:?} (a lost completion?)"),
                    }
                    total.fetch_add(1, Ordering::Relaxed);
                    if stopped {
                        after_stop += 1;
                        if after_stop == 20 {
                            break;
                        }
                    }
                }
                (ok, cancelled)
            })
        })
        .collect();
    spin_until("some traffic", || total.load(Ordering::Relaxed) >= 100);
    drop(rt);
    stop.set();
    let (mut ok, mut cancelled) = (0, 0);
    for t in threads {
        let (o, c) = t.join().unwrap();
        ok += o;
        cancelled += c;
    }
    assert!(ok >= 100 / 2, "ok {ok}");
    assert!(cancelled >= 4 * 20, "cancelled {cancelled}");
    (ok, cancelled)
}

#[test]
fn shutdown_while_threads_are_mid_submit_ends_every_call_ok_or_cancelled() {
    watchdog(|| {
        let (mut ok, mut cancelled) = (0, 0);
        for _ in 0..20 {
            let (o, c) = submit_through_a_shutdown();
            ok += o;
            cancelled += c;
        }
        eprintln!("through 20 shutdowns: {ok} ok, {cancelled} cancelled");
    });
}

// ----- stress -----

#[test]
fn eight_threads_each_submitting_ten_thousand_get_every_result_right() {
    // 8 x 10,000 round trips, each waited with result(Some(5 s)); about
    // 1.2 s in debug on 2 idle cores, so the full count stays.
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 10_000;
    watchdog_for(Duration::from_secs(60), || {
        let rt = runtime(2);
        let (lp, _) = worker_loop(&rt);
        let start = Instant::now();
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let (handle, lp) = (rt.handle().clone(), lp.clone());
                thread::spawn(move || {
                    for i in 0..PER_THREAD {
                        let work = async move {
                            if i % 4 == 0 {
                                weft::yield_now().await;
                            }
                            (t << 32) | i
                        };
                        // One call in eight goes to a worker's LoopHandle.
                        let fut = if i % 8 == t {
                            run_coroutine_threadsafe(work, &lp)
                        } else {
                            run_coroutine_threadsafe(work, &handle)
                        };
                        let v = fut
                            .result(Some(PATIENCE))
                            .unwrap_or_else(|e| panic!("thread {t}, call {i}: {e:?}"));
                        assert_eq!(v, (t << 32) | i, "thread {t}, call {i}");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        eprintln!(
            "{} round trips in {:?}",
            THREADS * PER_THREAD,
            start.elapsed()
        );
        assert_eq!(rt.handle().metrics().live_tasks, 0);
    });
}

/// 10^5 `cancel()`s racing completion (4 threads x 25,000; about 2.5 s in
/// debug on 2 idle cores). Each future ends exactly one way: a value and not
/// `cancelled()`, or `Cancelled` and `cancelled()`; `cancel()` false means it
/// had finished (so a value); every done callback runs exactly once.
/// `cancel()` true with a value is allowed (a request that lands during the
/// task's last poll comes too late, as for `Task::cancel`); it is counted and
/// printed, not asserted.
#[test]
fn cancel_racing_completion_ends_each_future_exactly_one_way() {
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 25_000;
    watchdog_for(Duration::from_secs(60), || {
        let rt = runtime(2);
        let callbacks = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let handle = rt.handle().clone();
                let callbacks = callbacks.clone();
                thread::spawn(move || {
                    let (mut ok, mut cancelled, mut late_true) = (0u64, 0u64, 0u64);
                    for i in 0..PER_THREAD {
                        let fut = run_coroutine_threadsafe(
                            async move {
                                if i % 3 == 0 {
                                    weft::yield_now().await;
                                }
                                i
                            },
                            &handle,
                        );
                        let c = callbacks.clone();
                        fut.add_done_callback(move |_| {
                            c.fetch_add(1, Ordering::Relaxed);
                        });
                        // Vary the head start the work gets.
                        for _ in 0..(i * 7 + t) % 200 {
                            std::hint::spin_loop();
                        }
                        let said = fut.cancel();
                        let r = fut.result(None);
                        assert!(fut.done(), "thread {t}, {i}: not done after result");
                        match r {
                            Ok(v) => {
                                assert_eq!(v, i);
                                assert!(!fut.cancelled(), "thread {t}, {i}: a value and cancelled");
                                assert!(matches!(
                                    fut.result(None),
                                    Err(FutureError::InvalidState(InvalidStateError::ResultTaken))
                                ));
                                ok += 1;
                                if said {
                                    late_true += 1;
                                }
                            }
                            Err(e) => {
                                assert!(e.is_cancelled(), "thread {t}, {i}: {e:?}");
                                assert!(
                                    fut.cancelled(),
                                    "thread {t}, {i}: Cancelled but !cancelled()"
                                );
                                assert!(
                                    said,
                                    "thread {t}, {i}: cancelled although cancel() said false"
                                );
                                assert!(fut.result(None).unwrap_err().is_cancelled());
                                cancelled += 1;
                            }
                        }
                        assert!(!fut.cancel(), "thread {t}, {i}: cancel after done");
                    }
                    (ok, cancelled, late_true)
                })
            })
            .collect();
        let (mut ok, mut cancelled, mut late_true) = (0, 0, 0);
        for t in threads {
            let (o, c, l) = t.join().unwrap();
            ok += o;
            cancelled += c;
            late_true += l;
        }
        assert_eq!(ok + cancelled, THREADS * PER_THREAD);
        eprintln!(
            "ok {ok}, cancelled {cancelled}, cancel() true but ended with a value {late_true}"
        );
        assert!(
            ok > 0 && cancelled > 0,
            "the race was not exercised: ok {ok}, cancelled {cancelled}"
        );
        let n = (THREADS * PER_THREAD) as usize;
        spin_until("every done callback", || {
            callbacks.load(Ordering::Relaxed) >= n
        });
        thread::sleep(ms(10));
        assert_eq!(
            callbacks.load(Ordering::Relaxed),
            n,
            "some future completed more than once"
        );
    });
}
