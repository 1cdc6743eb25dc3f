//! Regression test: a `Waker` that panics when woken, awaiting a
//! `ConcurrentFuture`, must not kill the thread that completes the work nor
//! skip the other waiters and the done callbacks.

mod common;

use common::{poll_with, spin_until, watchdog_for, CountingWaker, PanickingWaker};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Poll, Waker};
use std::time::Duration;

/// Before the fix `Slot::complete_locked` unwound out of the first waiter's
/// wake-up on the blocking-pool thread: that thread died, the second waiter
/// and the done callback were skipped, and with one pool thread no later
/// blocking job ran.
#[test]
fn regression_a_concurrent_future_waker_that_panics_does_not_kill_the_completing_thread() {
    watchdog_for(Duration::from_secs(10), || {
        let rt = weft::Builder::new()
            .workers(1)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let (go, wait) = mpsc::channel::<()>();
        let fut = rt.handle().spawn_blocking(move || {
            wait.recv().unwrap();
            3
        });
        let callbacks = Arc::new(AtomicUsize::new(0));
        let counter = callbacks.clone();
        fut.add_done_callback(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let panicking = Waker::from(Arc::new(PanickingWaker));
        let counting = Arc::new(CountingWaker::default());
        let counting_waker = Waker::from(counting.clone());
        let mut first = fut.clone();
        let mut second = fut.clone();
        assert!(poll_with(&mut first, &panicking).is_pending());
        assert!(poll_with(&mut second, &counting_waker).is_pending());

        go.send(()).unwrap();
        spin_until("the second waiter to be woken", || counting.wakes() == 1);
        spin_until("the done callback to run", || {
            callbacks.load(Ordering::SeqCst) == 1
        });
        assert!(matches!(
            poll_with(&mut second, &counting_waker),
            Poll::Ready(Ok(3))
        ));
        // The pool thread survived: another job runs.
        let next = rt.handle().spawn_blocking(|| 4);
        assert_eq!(next.result(Some(Duration::from_secs(5))).unwrap(), 4);
    });
}
