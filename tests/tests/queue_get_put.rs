//! `weft::queue` gets and puts, ported from CPython's
//! Lib/test/test_asyncio/test_queues.py: `QueueGetTests` and `QueuePutTests`, one
//! Rust test per CPython case (its `Class.method` in the comment above it).
//!
//! Skipped: `QueuePutTests.test_float_maxsize` (a `maxsize` of 1.3 means "full
//! at 2" in Python; weft's `maxsize` is a `usize`, so there is no fractional
//! size to round). Cases that reach into `_getters` / `_putters` count the
//! waiters through the queue's `Debug` form instead.
//!
//! These tests run on a runtime with ONE worker, the body in a task: as on
//! asyncio's single loop, a task that was woken does not run until the body
//! yields, so "put two items, then cancel the woken reader" happens before the
//! reader runs, as the CPython cases intend. `spawn_started!` / `wait_until`
//! stand for `await asyncio.sleep(0)`.

mod common;

use common::{block_on, ms, spawn_started, wait_done, wait_until, Log};
use std::future::Future;
use weft::queue::{Queue, TryGetError, TryPutError};
use weft::TaskError;

/// Runs `body` in a spawned task on a fresh 1-worker runtime, under the watchdog.
fn run<F>(body: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    block_on(1, |_| async move {
        weft::spawn(body).await.expect("the test's task failed")
    });
}

fn assert_cancelled<T: std::fmt::Debug>(outcome: Result<T, TaskError>) {
    match outcome {
        Err(TaskError::Cancelled(_)) => {}
        other => panic!("expected a cancellation, got {other:?}"),
    }
}

// QueueGetTests.test_blocking_get
#[test]
fn test_blocking_get() {
    run(async {
        let q = Queue::new(0);
        q.put_nowait(1).unwrap();
        assert_eq!(q.get().await, Ok(1));
    });
}

// QueueGetTests.test_get_with_putters
#[test]
fn test_get_with_putters() {
    run(async {
        let q = Queue::new(1);
        q.put(1).await.unwrap();

        // CPython appends a bare future to `_putters`; here a real putter waits.
        let q2 = q.clone();
        let waiter = spawn_started!("the putter to wait", { q2.put(2).await });

        assert_eq!(q.get().await, Ok(1));
        assert_eq!(waiter.await.unwrap(), Ok(()));
        assert_eq!(q.get_nowait(), Ok(2));
    });
}

// QueueGetTests.test_blocking_get_wait
#[test]
fn test_blocking_get_wait() {
    run(async {
        let q = Queue::new(0);
        let finished = common::Flag::new();

        let (q2, f2) = (q.clone(), finished.clone());
        let queue_get_task = spawn_started!("the getter to wait", {
            let res = q2.get().await;
            f2.set();
            res
        });
        assert!(!finished.get());
        let q3 = q.clone();
        weft::call_later(ms(10), move || q3.put_nowait(1).unwrap());
        let res = queue_get_task.await.unwrap();
        assert!(finished.get());
        assert_eq!(res, Ok(1));
    });
}

// QueueGetTests.test_nonblocking_get
#[test]
fn test_nonblocking_get() {
    let q = Queue::new(0);
    q.put_nowait(1).unwrap();
    assert_eq!(q.get_nowait(), Ok(1));
}

// QueueGetTests.test_nonblocking_get_exception
#[test]
fn test_nonblocking_get_exception() {
    let q = Queue::<i32>::new(0);
    let err = q.get_nowait().unwrap_err();
    assert!(matches!(err, TryGetError::Empty(_)), "{err:?}");
    assert_eq!(err.to_string(), "queue empty");
}

// QueueGetTests.test_get_cancelled_race
#[test]
fn test_get_cancelled_race() {
    run(async {
        let q = Queue::new(0);
        let q1 = q.clone();
        let t1 = spawn_started!("the first getter to wait", { q1.get().await });
        let q2 = q.clone();
        let t2 = spawn_started!("the second getter to wait", { q2.get().await });

        t1.cancel();
        wait_done(&t1.task_ref()).await;
        q.put("a").await.unwrap();
        assert_eq!(t2.await.unwrap(), Ok("a"));
        assert_cancelled(t1.await);
    });
}

// QueueGetTests.test_get_with_waiting_putters
#[test]
fn test_get_with_waiting_putters() {
    run(async {
        let q = Queue::new(1);
        let qa = q.clone();
        let put_a = weft::spawn(async move { qa.put("a").await });
        wait_until("'a' to be put", || q.full()).await;
        let qb = q.clone();
        let put_b = spawn_started!("the putter of 'b' to wait", { qb.put("b").await });
        assert_eq!(q.get().await, Ok("a"));
        assert_eq!(q.get().await, Ok("b"));
        assert_eq!(put_a.await.unwrap(), Ok(()));
        assert_eq!(put_b.await.unwrap(), Ok(()));
    });
}

// QueueGetTests.test_why_are_getters_waiting
#[test]
fn test_why_are_getters_waiting() {
    run(async {
        let q = Queue::new(1);
        let n = 5;
        let qc = q.clone();
        let consumer = weft::spawn(async move {
            for _ in 0..n {
                qc.get().await.unwrap();
            }
        });
        let qp = q.clone();
        let producer = weft::spawn(async move {
            for i in 0..n {
                qp.put(i).await.unwrap();
            }
        });
        producer.await.unwrap();
        consumer.await.unwrap();
    });
}

// QueueGetTests.test_cancelled_getters_not_being_held_in_self_getters
#[test]
fn test_cancelled_getters_not_being_held_in_self_getters() {
    run(async {
        let q = Queue::<i32>::new(5);
        let timed_out = weft::timeout(ms(100)).run(q.get()).await;
        assert!(timed_out.is_err(), "{timed_out:?}");
        let repr = format!("{q:?}");
        assert!(repr.contains("getters: 0"), "{repr}");
        // And no ghost getter takes the next item.
        q.put_nowait(7).unwrap();
        assert_eq!(q.qsize(), 1);
        assert_eq!(q.get_nowait(), Ok(7));
    });
}

// QueuePutTests.test_blocking_put
#[test]
fn test_blocking_put() {
    run(async {
        let q = Queue::new(0);
        // No maxsize, won't block.
        q.put(1).await.unwrap();
        assert_eq!(q.get().await, Ok(1));
    });
}

// QueuePutTests.test_blocking_put_wait
#[test]
fn test_blocking_put_wait() {
    run(async {
        let q = Queue::new(1);
        let finished = common::Flag::new();

        let q3 = q.clone();
        weft::call_later(ms(10), move || {
            q3.get_nowait().unwrap();
        });
        let (q2, f2) = (q.clone(), finished.clone());
        let queue_put_task = spawn_started!("the putter to wait", {
            q2.put(1).await.unwrap();
            q2.put(2).await.unwrap();
            f2.set();
        });
        assert!(!finished.get());
        queue_put_task.await.unwrap();
        assert!(finished.get());
    });
}

// QueuePutTests.test_nonblocking_put
#[test]
fn test_nonblocking_put() {
    let q = Queue::new(0);
    q.put_nowait(1).unwrap();
    assert_eq!(q.get_nowait(), Ok(1));
}

// QueuePutTests.test_get_cancel_drop_one_pending_reader
#[test]
fn test_get_cancel_drop_one_pending_reader() {
    run(async {
        let q = Queue::new(0);
        let q1 = q.clone();
        let reader = spawn_started!("the reader to wait", { q1.get().await });

        q.put_nowait(1).unwrap();
        q.put_nowait(2).unwrap();
        reader.cancel();

        let result = match reader.await {
            Ok(got) => got,
            Err(TaskError::Cancelled(_)) => {
                // Try again.
                let q2 = q.clone();
                weft::spawn(async move { q2.get().await }).await.unwrap()
            }
            Err(e) => panic!("the reader failed: {e}"),
        };
        // If we get 2, 1 was dropped.
        assert_eq!(result, Ok(1));
    });
}

// QueuePutTests.test_get_cancel_drop_many_pending_readers
#[test]
fn test_get_cancel_drop_many_pending_readers() {
    run(async {
        let q = Queue::new(0);
        let q1 = q.clone();
        let reader1 = spawn_started!("reader 1 to wait", { q1.get().await });
        let q2 = q.clone();
        let reader2 = spawn_started!("reader 2 to wait", { q2.get().await });
        let q3 = q.clone();
        let reader3 = spawn_started!("reader 3 to wait", { q3.get().await });

        q.put_nowait(1).unwrap();
        q.put_nowait(2).unwrap();
        reader1.cancel();

        assert_cancelled(reader1.await);
        let r3 = reader3.await.unwrap().unwrap();
        let r2 = reader2.await.unwrap().unwrap();

        // It is undefined in which order concurrent readers receive results.
        let mut got = [r2, r3];
        got.sort();
        assert_eq!(got, [1, 2]);
    });
}

// QueuePutTests.test_put_cancel_drop
#[test]
fn test_put_cancel_drop() {
    run(async {
        let q = Queue::new(1);
        q.put_nowait(1).unwrap();

        // Putting a second item has to block (qsize = 1).
        let q1 = q.clone();
        let writer = spawn_started!("the writer to wait", { q1.put(2).await });

        assert_eq!(q.get_nowait(), Ok(1));

        writer.cancel();
        match writer.await {
            Ok(put) => put.unwrap(),
            Err(TaskError::Cancelled(_)) => {
                // Try again.
                let q2 = q.clone();
                weft::spawn(async move { q2.put(2).await })
                    .await
                    .unwrap()
                    .unwrap();
            }
            Err(e) => panic!("the writer failed: {e}"),
        }

        assert_eq!(q.get_nowait(), Ok(2));
        assert_eq!(q.qsize(), 0);
    });
}

// QueuePutTests.test_nonblocking_put_exception
#[test]
fn test_nonblocking_put_exception() {
    let q = Queue::new(1);
    q.put_nowait(1).unwrap();
    let err = q.put_nowait(2).unwrap_err();
    assert!(matches!(err, TryPutError::Full(_)), "{err:?}");
    assert_eq!(err.to_string(), "queue full");
    // The refused item comes back.
    assert_eq!(err.into_inner(), 2);
}

// QueuePutTests.test_put_cancelled
#[test]
fn test_put_cancelled() {
    run(async {
        let q = Queue::new(0);
        let q1 = q.clone();
        let t = weft::spawn(async move {
            q1.put(1).await.unwrap();
            true
        });
        assert_eq!(q.get().await, Ok(1));
        wait_done(&t.task_ref()).await;
        assert!(t.await.unwrap());
    });
}

// QueuePutTests.test_put_cancelled_race
#[test]
fn test_put_cancelled_race() {
    run(async {
        let q = Queue::new(1);
        let qa = q.clone();
        let put_a = weft::spawn(async move { qa.put("a").await });
        wait_done(&put_a.task_ref()).await;
        let qb = q.clone();
        let put_b = spawn_started!("the putter of 'b' to wait", { qb.put("b").await });
        let qc = q.clone();
        let put_c = spawn_started!("the putter of 'X' to wait", { qc.put("X").await });

        assert!(put_a.done());
        assert!(!put_b.done());

        put_c.cancel();
        wait_done(&put_c.task_ref()).await;
        assert_eq!(q.get_nowait(), Ok("a"));
        wait_done(&put_b.task_ref()).await;
        assert_eq!(q.get_nowait(), Ok("b"));

        assert_eq!(put_b.await.unwrap(), Ok(()));
        assert_cancelled(put_c.await);
        assert!(q.empty());
    });
}

// QueuePutTests.test_put_with_waiting_getters
#[test]
fn test_put_with_waiting_getters() {
    run(async {
        let q = Queue::new(0);
        let q1 = q.clone();
        let t = spawn_started!("the getter to wait", { q1.get().await });
        q.put("a").await.unwrap();
        assert_eq!(t.await.unwrap(), Ok("a"));
    });
}

// QueuePutTests.test_why_are_putters_waiting
#[test]
fn test_why_are_putters_waiting() {
    run(async {
        let q = Queue::new(2);
        let qg = q.clone();
        let getter = weft::spawn(async move {
            wait_until("the queue to fill", || qg.full()).await;
            let num = qg.qsize();
            for _ in 0..num {
                qg.get_nowait().unwrap();
            }
        });
        let mut putters = Vec::new();
        for i in 0..4 {
            let qp = q.clone();
            putters.push(weft::spawn(async move { qp.put(i).await }));
        }
        getter.await.unwrap();
        for p in putters {
            assert_eq!(p.await.unwrap(), Ok(()));
        }
        assert_eq!(q.qsize(), 2);
    });
}

// QueuePutTests.test_cancelled_puts_not_being_held_in_self_putters
#[test]
fn test_cancelled_puts_not_being_held_in_self_putters() {
    run(async {
        // Full queue.
        let q = Queue::new(1);
        q.put_nowait(1).unwrap();

        // Task waiting for space to put an item in the queue.
        let q1 = q.clone();
        let put_task = spawn_started!("the putter to wait", { q1.put(1).await });

        let repr = format!("{q:?}");
        assert!(repr.contains("putters: 1"), "{repr}");
        put_task.cancel();
        assert_cancelled(put_task.await);
        let repr = format!("{q:?}");
        assert!(repr.contains("putters: 0"), "{repr}");
    });
}

// QueuePutTests.test_cancelled_put_silence_value_error_exception
#[test]
fn test_cancelled_put_silence_value_error_exception() {
    run(async {
        // Full queue.
        let q = Queue::new(1);
        q.put_nowait(1).unwrap();

        // Task waiting for space to put an item in the queue.
        let q1 = q.clone();
        let put_task = spawn_started!("the putter to wait", { q1.put(1).await });

        // get_nowait() hands the free slot to the waiting putter...
        q.get_nowait().unwrap();
        // ...which is cancelled before it runs: it ends cancelled, inserts
        // nothing, and the slot is free again.
        put_task.cancel();
        assert_cancelled(put_task.await);
        assert_eq!(q.qsize(), 0);
        q.put_nowait(3).unwrap();
        assert_eq!(q.get_nowait(), Ok(3));
    });
}

/// Not in CPython: FIFO service of getters and putters.
#[test]
fn waiters_are_served_in_fifo_order() {
    run(async {
        let q = Queue::new(1);
        let order = Log::new();
        let mut getters = Vec::new();
        for i in 0..4 {
            let (qi, oi) = (q.clone(), order.clone());
            getters.push(spawn_started!("a getter to wait", {
                let got = qi.get().await.unwrap();
                oi.push((i, got));
            }));
        }
        for item in 10..14 {
            q.put(item).await.unwrap();
        }
        for g in getters {
            g.await.unwrap();
        }
        assert_eq!(order.snapshot(), [(0, 10), (1, 11), (2, 12), (3, 13)]);

        q.put_nowait(0).unwrap();
        let mut putters = Vec::new();
        for i in 1..5 {
            let qi = q.clone();
            putters.push(spawn_started!("a putter to wait", { qi.put(i).await }));
        }
        let mut got = Vec::new();
        for _ in 0..5 {
            got.push(q.get().await.unwrap());
        }
        assert_eq!(got, [0, 1, 2, 3, 4]);
        for p in putters {
            assert_eq!(p.await.unwrap(), Ok(()));
        }
    });
}

/// Not in CPython as such (its putter twin of
/// `test_get_cancel_drop_many_pending_readers`): a putter handed a free place
/// and cancelled before it ran passes the place to the next putter, and its
/// item is never inserted.
#[test]
fn a_woken_then_cancelled_putter_passes_its_place_on() {
    run(async {
        let q = Queue::new(1);
        q.put_nowait("first").unwrap();
        let q1 = q.clone();
        let writer1 = spawn_started!("writer 1 to wait", { q1.put("cancelled").await });
        let q2 = q.clone();
        let writer2 = spawn_started!("writer 2 to wait", { q2.put("second").await });

        assert_eq!(q.get_nowait(), Ok("first")); // the place goes to writer 1...
        writer1.cancel(); // ...which is cancelled before it runs

        assert_cancelled(writer1.await);
        assert_eq!(writer2.await.unwrap(), Ok(()));
        assert_eq!(q.get_nowait(), Ok("second"));
        assert!(q.empty());
    });
}

/// Not in CPython (where `get_nowait` may take an item a woken getter was
/// woken for; docs/asyncio.md, "Deviations in the queues"): an item handed to
/// a waiting getter is reserved for it, and a place handed to a waiting putter
/// likewise.
#[test]
fn nowait_calls_do_not_overtake_waiters() {
    run(async {
        let q = Queue::new(1);
        let q1 = q.clone();
        let getter = spawn_started!("the getter to wait", { q1.get().await });
        q.put_nowait(1).unwrap();
        assert_eq!(q.qsize(), 1);
        assert!(q.get_nowait().unwrap_err().is_empty());
        assert_eq!(getter.await.unwrap(), Ok(1));

        q.put_nowait(2).unwrap();
        let q2 = q.clone();
        let putter = spawn_started!("the putter to wait", { q2.put(3).await });
        assert_eq!(q.get_nowait(), Ok(2));
        assert!(!q.full());
        assert!(q.put_nowait(4).unwrap_err().is_full());
        assert_eq!(putter.await.unwrap(), Ok(()));
        assert_eq!(q.get_nowait(), Ok(3));
    });
}
