//! `Promise<T>`, asyncio's Future (ASYNCIO.md, "Promise"): result() /
//! exception() in every state, settling twice, cancel(), done callbacks
//! (scheduled, ordered, once each, removable, panics reported), and many
//! awaiters.

mod common;

use common::{block_on, wait_until, watchdog, DropCounter, DropGuard, Flag, Log, TraceLog};
use std::sync::Arc;
use std::time::Duration;
use weft::{Cancelled, DoneCallback, Promise, TaskError};

#[derive(Debug)]
struct AppError(&'static str);

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "app error: {}", self.0)
    }
}

impl std::error::Error for AppError {}

// ----- result() / exception() -----

#[test]
fn result_and_exception_of_a_pending_promise_are_invalid_state() {
    watchdog(|| {
        let p = Promise::<u32>::new();
        let e = p.result().unwrap_err();
        assert!(e.is_pending());
        assert_eq!(e.to_string(), "invalid state: result is not ready");
        assert!(p.exception().unwrap_err().is_pending());
        assert!(!p.done() && !p.cancelled());
        assert_eq!(format!("{p:?}"), "Promise { state: pending }");
    });
}

#[test]
fn result_of_a_finished_promise_is_its_value_every_time() {
    watchdog(|| {
        let p = Promise::new();
        p.set_result(String::from("v")).unwrap();
        assert!(p.done() && !p.cancelled());
        // Unlike Task::result, a promise keeps its value: every call sees it.
        assert_eq!(p.result().unwrap().unwrap(), "v");
        assert_eq!(p.clone().result().unwrap().unwrap(), "v");
        assert!(p.exception().unwrap().is_none());
        assert_eq!(format!("{p:?}"), "Promise { state: finished }");
    });
}

#[test]
fn result_and_exception_of_a_cancelled_promise_are_cancelled_with_the_message() {
    watchdog(|| {
        let p = Promise::<u32>::new();
        assert!(p.cancel_with("no longer needed"));
        let e = p.result().unwrap().unwrap_err();
        assert_eq!(
            e.as_cancelled().unwrap().message(),
            Some("no longer needed")
        );
        let e = p
            .exception()
            .unwrap()
            .expect("a cancelled promise has an exception");
        assert_eq!(
            e.as_cancelled(),
            Some(&Cancelled::with_message("no longer needed"))
        );
        assert_eq!(format!("{p:?}"), "Promise { state: cancelled }");

        let p = Promise::<u32>::new();
        assert!(p.cancel());
        let e = p.result().unwrap().unwrap_err();
        assert_eq!(e.as_cancelled(), Some(&Cancelled::new()));
        assert!(p.exception().unwrap().unwrap().is_cancelled());
    });
}

#[test]
fn result_and_exception_of_a_failed_promise_are_that_error() {
    watchdog(|| {
        let p = Promise::<u32>::new();
        let error: Arc<dyn std::error::Error + Send + Sync> = Arc::new(AppError("disk full"));
        p.set_exception(TaskError::Failed(error.clone())).unwrap();
        assert!(p.done() && !p.cancelled());
        assert_eq!(format!("{p:?}"), "Promise { state: failed }");
        for e in [
            p.result().unwrap().unwrap_err(),
            p.exception().unwrap().unwrap(),
        ] {
            match e {
                TaskError::Failed(inner) => {
                    assert!(Arc::ptr_eq(&inner, &error), "not the same error");
                    assert_eq!(inner.downcast_ref::<AppError>().unwrap().0, "disk full");
                }
                other => panic!("expected Failed, got {other:?}"),
            }
        }
        // TaskError::failed wraps any error the same way.
        let p = Promise::<u32>::new();
        p.set_exception(TaskError::failed(AppError("x"))).unwrap();
        let e = p.exception().unwrap().unwrap();
        assert!(e.is_failed());
        assert_eq!(e.to_string(), "task failed: app error: x");
    });
}

// ----- settling a done promise -----

#[test]
fn set_result_and_set_exception_on_a_done_promise_are_invalid_state() {
    watchdog(|| {
        let settle_twice = |p: &Promise<DropGuard>, drops: &DropCounter| {
            let before = drops.get();
            let e = p.set_result(drops.guard()).unwrap_err();
            assert!(!e.is_pending());
            assert_eq!(e.to_string(), "invalid state: already done");
            // The refused value was dropped.
            assert_eq!(drops.get(), before + 1);
            let e = p
                .set_exception(TaskError::failed(AppError("late")))
                .unwrap_err();
            assert_eq!(e.reason(), "already done");
        };
        let drops = DropCounter::new();

        let finished = Promise::new();
        finished.set_result(drops.guard()).unwrap();
        settle_twice(&finished, &drops);
        assert!(
            finished.exception().unwrap().is_none(),
            "the first outcome must stay"
        );

        let failed = Promise::new();
        failed
            .set_exception(TaskError::failed(AppError("first")))
            .unwrap();
        settle_twice(&failed, &drops);
        let e = failed.exception().unwrap().unwrap();
        assert_eq!(e.to_string(), "task failed: app error: first");

        let cancelled = Promise::new();
        assert!(cancelled.cancel_with("c"));
        settle_twice(&cancelled, &drops);
        assert!(cancelled.cancelled());
        let e = cancelled.exception().unwrap().unwrap();
        assert_eq!(e.as_cancelled().unwrap().message(), Some("c"));
    });
}

// ----- cancel() -----

#[test]
fn cancel_on_a_done_promise_returns_false() {
    watchdog(|| {
        let p = Promise::new();
        p.set_result(1).unwrap();
        assert!(!p.cancel());
        assert!(!p.cancel_with("m"));
        assert!(!p.cancelled());
        assert_eq!(p.result().unwrap().unwrap(), 1);

        let p = Promise::<u8>::new();
        p.set_exception(TaskError::failed(AppError("e"))).unwrap();
        assert!(!p.cancel());
        assert!(!p.cancelled());
        assert!(p.exception().unwrap().unwrap().is_failed());

        let p = Promise::<u8>::new();
        assert!(p.cancel_with("first"));
        assert!(!p.cancel_with("second"));
        let e = p.exception().unwrap().unwrap();
        assert_eq!(e.as_cancelled().unwrap().message(), Some("first"));
    });
}

#[test]
fn cancel_on_a_pending_promise_returns_true_then_it_is_cancelled_and_done() {
    watchdog(|| {
        let p = Promise::<u8>::new();
        assert!(p.cancel());
        assert!(p.cancelled());
        assert!(p.done());
    });
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn awaiting_a_cancelled_or_failed_promise_gives_its_error() {
    let p = Promise::<u8>::new();
    p.cancel_with("gone");
    let e = p.clone().await.unwrap_err();
    assert_eq!(e.as_cancelled().unwrap().message(), Some("gone"));
    let p2 = p.clone();
    let e = weft::spawn(async move { p2.await })
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.as_cancelled().unwrap().message(), Some("gone"));

    let p = Promise::<u8>::new();
    p.set_exception(TaskError::failed(AppError("bad"))).unwrap();
    assert!(p.wait().await.unwrap_err().is_failed());
    // Settled promises can be awaited again and again.
    let p = Promise::new();
    p.set_result(3u8).unwrap();
    assert_eq!(p.wait().await.unwrap(), 3);
    assert_eq!(p.clone().await.unwrap(), 3);
}

// ----- done callbacks -----

fn logging_callback(log: &Log<&'static str>, name: &'static str) -> DoneCallback<Promise<u32>> {
    let log = log.clone();
    DoneCallback::new(move |p: &Promise<u32>| {
        assert!(p.done(), "a done callback ran before the promise was done");
        log.push(name);
    })
}

/// Yields a while, so callbacks that should not run get every chance to.
async fn settle_down() {
    for _ in 0..50 {
        weft::yield_now().await;
    }
    std::thread::sleep(Duration::from_millis(5));
    for _ in 0..50 {
        weft::yield_now().await;
    }
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn done_callbacks_are_scheduled_not_run_synchronously() {
    // Completion schedules them: set_result returns before they run.
    let p = Promise::new();
    let log = Log::new();
    p.add_done_callback(logging_callback(&log, "a"));
    p.set_result(1).unwrap();
    assert!(
        log.snapshot().is_empty(),
        "done callbacks ran inside set_result"
    );
    wait_until("the callback", || log.len() == 1).await;

    // Added after completion: scheduled, not run inside add_done_callback.
    p.add_done_callback(logging_callback(&log, "b"));
    assert_eq!(
        log.snapshot(),
        ["a"],
        "a callback ran inside add_done_callback"
    );
    wait_until("the late callback", || log.len() == 2).await;

    // cancel() and set_exception schedule them too.
    let p = Promise::new();
    let log = Log::new();
    p.add_done_callback(logging_callback(&log, "c"));
    assert!(p.cancel());
    assert!(
        log.snapshot().is_empty(),
        "done callbacks ran inside cancel"
    );
    wait_until("the callback after cancel", || log.len() == 1).await;
    let p = Promise::new();
    p.add_done_callback(logging_callback(&log, "d"));
    p.set_exception(TaskError::failed(AppError("x"))).unwrap();
    assert_eq!(
        log.snapshot(),
        ["c"],
        "done callbacks ran inside set_exception"
    );
    wait_until("the callback after set_exception", || log.len() == 2).await;
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn done_callbacks_run_on_the_loop_that_created_the_promise() {
    let here = std::thread::current().id();
    let p = Promise::<u32>::new();
    let ran_on = Promise::new();
    let r = ran_on.clone();
    p.add_done_callback(DoneCallback::new(move |_: &Promise<u32>| {
        r.set_result(std::thread::current().id()).unwrap();
    }));
    // Settled from a worker.
    let setter = p.clone();
    weft::spawn(async move { setter.set_result(1).unwrap() })
        .await
        .unwrap();
    assert_eq!(ran_on.await.unwrap(), here);
}

#[test]
fn a_promise_made_outside_a_loop_settled_inside_one_schedules_its_callbacks() {
    // Created on a plain thread (no loop to remember): the loop that settles it
    // runs the callbacks, still not synchronously.
    let p = Promise::<u32>::new();
    let log = Log::new();
    p.add_done_callback(logging_callback(&log, "x"));
    block_on(1, move |_| async move {
        let l = log.clone();
        let synchronously = weft::spawn(async move {
            p.set_result(5).unwrap();
            l.len() // read before the task yields
        })
        .await
        .unwrap();
        assert_eq!(synchronously, 0, "callbacks ran inside set_result");
        wait_until("the callback", || log.len() == 1).await;
    });
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn done_callbacks_run_in_registration_order_each_once() {
    let p = Promise::new();
    let log = Log::new();
    let a = logging_callback(&log, "a");
    p.add_done_callback(a.clone());
    p.add_done_callback(logging_callback(&log, "b"));
    p.add_done_callback(logging_callback(&log, "c"));
    p.add_done_callback(a);
    let seen = Promise::<u32>::new();
    let s = seen.clone();
    p.add_done_callback(DoneCallback::new(move |p: &Promise<u32>| {
        // The callback receives the promise itself, settled.
        s.set_result(p.result().unwrap().unwrap()).unwrap();
    }));
    p.set_result(9).unwrap();
    assert_eq!(seen.await.unwrap(), 9);
    wait_until("four callbacks", || log.len() >= 4).await;
    settle_down().await;
    assert_eq!(log.snapshot(), ["a", "b", "c", "a"]);

    // Added after completion: each scheduled, in order, once.
    let late = Log::new();
    for name in ["x", "y", "z"] {
        p.add_done_callback(logging_callback(&late, name));
    }
    wait_until("three late callbacks", || late.len() >= 3).await;
    settle_down().await;
    assert_eq!(late.snapshot(), ["x", "y", "z"]);
    assert_eq!(
        log.snapshot(),
        ["a", "b", "c", "a"],
        "early callbacks ran again"
    );
    // Settling attempts after completion do not run anything again.
    assert!(p.set_result(1).is_err());
    assert!(!p.cancel());
    settle_down().await;
    assert_eq!(log.len() + late.len(), 7);
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn remove_done_callback_removes_every_registration_and_counts_them() {
    let p = Promise::new();
    let log = Log::new();
    let a = logging_callback(&log, "a");
    let b = logging_callback(&log, "b");
    p.add_done_callback(a.clone());
    p.add_done_callback(b.clone());
    p.add_done_callback(a.clone());
    assert_eq!(p.remove_done_callback(&a), 2);
    assert_eq!(p.remove_done_callback(&a), 0);
    assert_eq!(p.remove_done_callback(&logging_callback(&log, "b")), 0);
    p.set_result(0).unwrap();
    wait_until("callback b", || log.len() == 1).await;
    settle_down().await;
    assert_eq!(log.snapshot(), ["b"]);
    assert_eq!(p.remove_done_callback(&b), 0);
}

#[test]
fn a_panicking_promise_callback_is_reported_and_the_loop_keeps_running() {
    let trace = TraceLog::new();
    let t = trace.clone();
    watchdog(move || {
        let _guard = t.install();
        let rt = common::runtime(1);
        rt.block_on(async {
            let p = Promise::new();
            let log = Log::new();
            p.add_done_callback(DoneCallback::new(|_: &Promise<u32>| {
                panic!("promise cb boom")
            }));
            p.add_done_callback(logging_callback(&log, "next"));
            p.set_result(1).unwrap();
            wait_until("the callback after the panicking one", || log.len() == 1).await;
            // The loop goes on: callbacks, local tasks and worker tasks still run.
            p.add_done_callback(logging_callback(&log, "later"));
            wait_until("a later callback", || log.len() == 2).await;
            assert_eq!(weft::spawn_local(async { 1 }).await.unwrap(), 1);
            assert_eq!(weft::spawn(async { 2 }).await.unwrap(), 2);
        });
    });
    trace.assert_has(tracing::Level::ERROR, &["promise cb boom"]);
}

// ----- many awaiters -----

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_promise_is_awaitable_by_many_tasks() {
    let p = Promise::<String>::new();
    let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let waiters: Vec<_> = (0..10)
        .map(|_| {
            let (p, s) = (p.clone(), started.clone());
            weft::spawn(async move {
                s.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                p.await
            })
        })
        .collect();
    // Plus a local task and the block_on future itself.
    let pl = p.clone();
    let local = weft::spawn_local(async move { pl.wait().await });
    wait_until("every waiter to start", || {
        started.load(std::sync::atomic::Ordering::SeqCst) == 10
    })
    .await;
    let setter = p.clone();
    let plain = std::thread::spawn(move || setter.set_result("shared".to_owned()).unwrap());
    assert_eq!(p.wait().await.unwrap(), "shared");
    plain.join().unwrap();
    for w in waiters {
        assert_eq!(w.await.unwrap().unwrap(), "shared");
    }
    assert_eq!(local.await.unwrap().unwrap(), "shared");
}

/// Waiters register in O(1) each: 100 000 tasks awaiting one promise, a
/// third of them leaving before it is set (their waits dropped, their slots
/// reused by a second wave), all registered within the watchdog (a scan per
/// registration for a vacant slot took over 20 s for 45 000).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_hundred_thousand_tasks_await_one_promise() {
    use futures_util::future::{select, Either};
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    const N: usize = 100_000;
    let p = Promise::<usize>::new();
    let leave = Arc::new(weft::sync::Event::new());
    let parked = Arc::new(AtomicUsize::new(0));
    // Waiters that return 0 if `leave` is set before the promise.
    let spawn_wave = |n: usize| -> Vec<_> {
        (0..n)
            .map(|_| {
                let (p, leave, parked) = (p.clone(), leave.clone(), parked.clone());
                weft::spawn(async move {
                    parked.fetch_add(1, Relaxed);
                    let (wait, left) = (p.wait(), leave.wait());
                    futures_util::pin_mut!(wait, left);
                    match select(wait, left).await {
                        Either::Left((value, _)) => value.unwrap(),
                        Either::Right(..) => 0,
                    }
                })
            })
            .collect()
    };
    let leaving = spawn_wave(N / 3);
    wait_until("the leaving wave to await", || {
        parked.load(Relaxed) == N / 3
    })
    .await;
    leave.set();
    for t in leaving {
        assert_eq!(t.await.unwrap(), 0);
    }
    leave.clear();
    let staying = spawn_wave(N);
    wait_until("every waiter to await", || {
        parked.load(Relaxed) == N + N / 3
    })
    .await;
    p.set_result(7).unwrap();
    let mut sum = 0;
    for t in staying {
        sum += t.await.unwrap();
    }
    assert_eq!(sum, 7 * N);
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_waiter_that_gives_up_does_not_disturb_the_others() {
    let p = Promise::<u32>::new();
    let gone = Flag::new();
    let (p1, g) = (p.clone(), gone.clone());
    // A waiter polled once, then dropped outside any cancellation.
    weft::spawn(async move {
        let mut w = p1.wait();
        let _ = futures_util::future::select(&mut w, weft::yield_now()).await;
        drop(w);
        g.set();
    })
    .await
    .unwrap();
    assert!(gone.get());
    assert!(!p.done(), "dropping a waiter settled the promise");
    let p2 = p.clone();
    let other = weft::spawn(async move { p2.await });
    weft::yield_now().await;
    p.set_result(4).unwrap();
    assert_eq!(other.await.unwrap().unwrap(), 4);
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_waiter_no_longer_awaited_does_not_cancel_the_promise_when_its_task_is_cancelled() {
    let p = Promise::<u32>::new();
    let parked = Flag::new();
    let (p1, pk) = (p.clone(), parked.clone());
    let holder = weft::spawn(async move {
        let mut w = p1.wait();
        // Wait a little, give up, keep the waiter around.
        let _ = futures_util::future::select(&mut w, weft::yield_now()).await;
        // One more task poll without polling `w`: from then on the task is
        // no longer awaiting it (a leaf counts as awaited while it was
        // pending in the task's latest poll).
        weft::yield_now().await;
        pk.set();
        std::future::pending::<()>().await;
        drop(w);
    });
    wait_until("the holder to park", || parked.get()).await;
    holder.cancel();
    assert!(holder.await.unwrap_err().is_cancelled());
    // The task was not awaiting the promise when it was cancelled.
    assert!(
        !p.done(),
        "the promise was cancelled by a task that no longer awaited it"
    );
    p.set_result(1).unwrap();
}

#[test]
fn callbacks_still_run_after_the_loop_that_created_the_promise_has_ended() {
    watchdog(|| {
        let rt = common::runtime(2);
        let log = Log::new();
        let l = log.clone();
        // Created on a block_on loop, which ends when block_on returns; the
        // runtime itself lives on.
        let p: Promise<u32> = rt.block_on(async move {
            let p = Promise::new();
            p.add_done_callback(logging_callback(&l, "cb"));
            p
        });
        let p2 = p.clone();
        rt.block_on(rt.spawn(async move { p2.set_result(1).unwrap() }))
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while log.len() == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(log.snapshot(), ["cb"], "the done callback never ran");
    });
}
