//! Regression tests: a `Waker` that panics when woken, registered on a task's
//! handle or on a promise, must not take down the thread that completes the
//! work, strand the other waiters, or skip the done callbacks. The panic is
//! reported through `tracing`.

mod common;

use common::{poll_with, spin_until, watchdog_for, CountingWaker, PanickingWaker, TraceLog};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;
use weft::{DoneCallback, Promise};

/// Before the fix the one worker died in `complete` (the join-waker wake
/// unwound out of it): the done callback never ran and nothing spawned later
/// ever did.
#[test]
fn regression_a_join_waker_that_panics_does_not_kill_the_worker() {
    watchdog_for(Duration::from_secs(10), || {
        let log = TraceLog::new();
        let on_worker = log.clone();
        let rt = weft::Builder::new()
            .workers(1)
            .on_thread_start(move || on_worker.install_for_thread())
            .build()
            .unwrap();
        let gate = Promise::<()>::new();
        let g = gate.clone();
        let mut task = rt.spawn(async move {
            g.await.unwrap();
            5
        });
        let callbacks = Arc::new(AtomicUsize::new(0));
        let counter = callbacks.clone();
        task.add_done_callback(DoneCallback::new(move |_: &weft::TaskRef| {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        let panicking = Waker::from(Arc::new(PanickingWaker));
        assert!(poll_with(&mut task, &panicking).is_pending());

        gate.set_result(()).unwrap();
        spin_until("the task to complete", || task.done());
        spin_until("the done callback to run", || {
            callbacks.load(Ordering::SeqCst) == 1
        });
        assert_eq!(task.result().unwrap().unwrap(), 5);
        // The worker still serves.
        assert_eq!(rt.block_on(rt.spawn(async { 7 })).unwrap(), 7);
        log.assert_has(tracing::Level::ERROR, &["join waker", "panicked"]);
    });
}

/// Before the fix `set_result` unwound out of the first waiter's wake-up: the
/// second waiter was never woken and the done callback never ran.
#[test]
fn regression_a_promise_waiter_whose_waker_panics_does_not_strand_the_others() {
    watchdog_for(Duration::from_secs(10), || {
        let log = TraceLog::new();
        let _traced = log.install();
        // Made outside any loop: its callbacks run on the settling thread.
        let promise = Promise::<u8>::new();
        let callbacks = Arc::new(AtomicUsize::new(0));
        let counter = callbacks.clone();
        promise.add_done_callback(DoneCallback::new(move |_: &Promise<u8>| {
            counter.fetch_add(1, Ordering::SeqCst);
        }));

        let panicking = Waker::from(Arc::new(PanickingWaker));
        let counting = Arc::new(CountingWaker::default());
        let counting_waker = Waker::from(counting.clone());
        let mut first = promise.wait();
        let mut second = promise.wait();
        assert!(poll_with(&mut first, &panicking).is_pending());
        assert!(poll_with(&mut second, &counting_waker).is_pending());

        let settled =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| promise.set_result(1)));
        assert!(
            matches!(settled, Ok(Ok(()))),
            "set_result unwound or failed"
        );
        assert_eq!(counting.wakes(), 1, "second waiter not woken");
        assert_eq!(callbacks.load(Ordering::SeqCst), 1, "callback skipped");
        assert!(matches!(
            poll_with(&mut second, &counting_waker),
            Poll::Ready(Ok(1))
        ));
        log.assert_has(tracing::Level::ERROR, &["waker", "panicked"]);
    });
}
