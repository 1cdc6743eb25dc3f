//! `weft::queue` basics, ported from CPython's Lib/test/test_asyncio/test_queues.py:
//! `QueueBasicTests`, `LifoQueueTests` and `PriorityQueueTests`, one Rust test per
//! CPython case (its `Class.method` in the comment above it).
//!
//! Skipped cases, and why:
//! - `QueueBasicTests.test_str`: Rust has one debugging form (`Debug`), which
//!   `test_repr` covers; a queue has no `Display`.
//! - `QueueBasicTests.test_generic_alias`: `Queue[int]` is Python typing; in Rust
//!   `Queue<i32>` is checked by the compiler.
//!
//! "`await asyncio.sleep(0)` lets the other task reach its await" becomes
//! `spawn_started!` (wait until the task is parked at its first await) or
//! `wait_until`, because weft's tasks run on several workers at once.

mod common;

use common::{block_on, spawn_started, wait_until, Log};
use std::future::Future;
use weft::queue::{GenericQueue, LifoQueue, PriorityQueue, Queue, Storage};

/// Runs `body` in a spawned task on a fresh 2-worker runtime, under the watchdog.
fn run<F>(body: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    block_on(2, |_| async move {
        weft::spawn(body).await.expect("the test's task failed")
    });
}

/// Puts 1, 3, 2 and gets three items (the body of CPython's `test_order`s).
async fn put_1_3_2_and_get_3<S: Storage<Item = i32>>(q: GenericQueue<S>) -> Vec<i32> {
    for i in [1, 3, 2] {
        q.put(i).await.unwrap();
    }
    let mut items = Vec::new();
    for _ in 0..3 {
        items.push(q.get().await.unwrap());
    }
    items
}

// QueueBasicTests.test_repr (and _test_repr_or_str)
#[test]
fn test_repr() {
    run(async {
        let q = Queue::<i32>::new(0);
        let repr = format!("{q:?}");
        assert!(repr.starts_with("Queue"), "{repr}");
        assert!(repr.contains("maxsize: 0"), "{repr}");

        // A waiting getter shows.
        let q = Queue::<i32>::new(0);
        let q2 = q.clone();
        let getter = spawn_started!("the getter to wait", { q2.get().await });
        let repr = format!("{q:?}");
        assert!(repr.contains("getters: 1"), "{repr}");
        q.put_nowait(0).unwrap();
        assert_eq!(getter.await.unwrap(), Ok(0));

        // A waiting putter shows.
        let q = Queue::<i32>::new(1);
        q.put_nowait(1).unwrap();
        let q2 = q.clone();
        let putter = spawn_started!("the putter to wait", { q2.put(2).await });
        let repr = format!("{q:?}");
        assert!(repr.contains("putters: 1"), "{repr}");
        assert_eq!(q.get_nowait(), Ok(1));
        assert_eq!(putter.await.unwrap(), Ok(()));

        // The items show.
        let q = Queue::<i32>::new(0);
        q.put_nowait(1).unwrap();
        let repr = format!("{q:?}");
        assert!(repr.contains("qsize: 1"), "{repr}");
    });
}

// QueueBasicTests.test_empty
#[test]
fn test_empty() {
    run(async {
        let q = Queue::new(0);
        assert!(q.empty());
        q.put(1).await.unwrap();
        assert!(!q.empty());
        assert_eq!(q.get().await, Ok(1));
        assert!(q.empty());
    });
}

// QueueBasicTests.test_full
#[test]
fn test_full() {
    run(async {
        let q = Queue::<i32>::new(0);
        assert!(!q.full());

        let q = Queue::new(1);
        q.put(1).await.unwrap();
        assert!(q.full());
    });
}

// QueueBasicTests.test_order
#[test]
fn test_order() {
    run(async { assert_eq!(put_1_3_2_and_get_3(Queue::new(0)).await, [1, 3, 2]) });
}

// QueueBasicTests.test_maxsize
#[test]
fn test_maxsize() {
    run(async {
        let q = Queue::new(2);
        assert_eq!(q.maxsize(), 2);
        let have_been_put = Log::new();

        let (q2, put_log) = (q.clone(), have_been_put.clone());
        let t = weft::spawn(async move {
            for i in 0..3 {
                q2.put(i).await.unwrap();
                put_log.push(i);
            }
            true
        });
        wait_until("two items to be put", || have_been_put.len() == 2).await;

        // The putter is blocked after putting two items.
        weft::sleep(common::TICK).await;
        assert_eq!(have_been_put.snapshot(), [0, 1]);
        assert_eq!(q.get().await, Ok(0));

        // Let the putter resume and put the last item.
        wait_until("the third item to be put", || have_been_put.len() == 3).await;
        assert_eq!(have_been_put.snapshot(), [0, 1, 2]);
        assert_eq!(q.get().await, Ok(1));
        assert_eq!(q.get().await, Ok(2));

        assert!(t.await.unwrap());
    });
}

// LifoQueueTests.test_order
#[test]
fn lifo_test_order() {
    run(async { assert_eq!(put_1_3_2_and_get_3(LifoQueue::new(0)).await, [2, 3, 1]) });
}

// PriorityQueueTests.test_order
#[test]
fn priority_test_order() {
    run(async { assert_eq!(put_1_3_2_and_get_3(PriorityQueue::new(0)).await, [1, 2, 3]) });
}

/// Not in CPython: the handles are `Clone + Send + Sync` and work across
/// workers, and the queue kinds print their own names.
#[test]
fn handles_are_send_sync_clone_and_name_their_kind() {
    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}
    assert_send_sync_clone::<Queue<String>>();
    assert_send_sync_clone::<LifoQueue<String>>();
    assert_send_sync_clone::<PriorityQueue<String>>();
    assert!(format!("{:?}", LifoQueue::<i32>::new(0)).starts_with("LifoQueue"));
    assert!(format!("{:?}", PriorityQueue::<i32>::new(3)).starts_with("PriorityQueue"));
}
