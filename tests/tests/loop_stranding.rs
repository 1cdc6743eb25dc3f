//! Regression tests for tokio issue #4941: a task placed in a worker's "next
//! task" (LIFO) slot must not wait for that worker when it blocks; another
//! worker steals it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Blocks the current thread (not yielding to the loop) until `flag` is set or
/// `limit` passes; returns whether the flag was set.
fn block_thread_until(flag: &AtomicBool, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while !flag.load(Ordering::SeqCst) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

#[test]
fn lifo_task_of_a_blocked_worker_is_stolen_after_wake() {
    let rt = weft::Builder::new().workers(2).build().unwrap();
    for _ in 0..20 {
        let ran = Arc::new(AtomicBool::new(false));
        let ran2 = ran.clone();
        let outcome = rt.block_on(rt.spawn(async move {
            // B waits on a promise; A wakes it, which puts B in A's LIFO slot
            // (A's deque is empty), then A blocks its worker thread.
            let p = weft::Promise::new();
            let waiter = p.clone();
            let flag = ran2.clone();
            let b = weft::spawn(async move {
                waiter.await.unwrap();
                flag.store(true, Ordering::SeqCst);
            });
            // Let B reach its await point first.
            for _ in 0..4 {
                weft::yield_now().await;
            }
            p.set_result(()).unwrap();
            let stolen = block_thread_until(&ran2, Duration::from_secs(10));
            b.await.unwrap();
            stolen
        }));
        assert!(
            outcome.unwrap(),
            "the woken task waited behind its blocked worker"
        );
        assert!(ran.load(Ordering::SeqCst));
    }
}

#[test]
fn freshly_spawned_task_of_a_blocked_worker_is_stolen() {
    let rt = weft::Builder::new().workers(2).build().unwrap();
    for _ in 0..20 {
        let outcome = rt.block_on(rt.spawn(async {
            let ran = Arc::new(AtomicBool::new(false));
            let flag = ran.clone();
            let b = weft::spawn(async move { flag.store(true, Ordering::SeqCst) });
            let stolen = block_thread_until(&ran, Duration::from_secs(10));
            b.await.unwrap();
            stolen
        }));
        assert!(
            outcome.unwrap(),
            "the spawned task waited behind its blocked worker"
        );
    }
}
