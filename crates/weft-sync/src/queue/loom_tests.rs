//! Loom models of the queue (`queue/mod.rs`) on the shipped code: a getter or
//! putter woken then cancelled, a shutdown (plain or immediate) racing a put
//! (also with the woken getter on its own thread),
//! a put racing a get on the lock-free ring (one place, two places,
//! unbounded), and a `task_done` racing a `join`. The woken-then-cancelled
//! getter and the shutdown racing a put with the getter on its own thread are
//! also run on a `LifoQueue`, whose store is kept under the `items` lock. Under `--cfg loom` the ring
//! (concurrent-queue) is built on loom's atomics, so its pushes, pops and
//! close are explored too.
//!
//! Run with the wait list's models:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom \
//!     cargo test --release -p weft-sync --lib loom_
//! ```
//!
//! The first polls, which only queue a waiter, use `test_util`'s counting
//! waker; each model finishes its surviving futures with loom's `block_on`,
//! which parks the loom thread until the future's waker fires: a lost
//! wake-up is a deadlock loom reports. The queues are leaked so that futures
//! borrowing them can move into loom threads.

use loom::future::block_on;
use loom::thread;

use super::{Fifo, GenericQueue, Lifo, Queue, QueueShutDown, Storage};
use crate::test_util::{flag, poll};

fn leak<T>(value: T) -> &'static T {
    Box::leak(Box::new(value))
}

/// Getters A and B wait on an empty queue; a put hands the item to A while A
/// is dropped: whichever runs first, B gets the item.
#[test]
fn loom_getter_woken_then_cancelled_passes_the_item_on() {
    getter_woken_then_cancelled::<Fifo<u32>>();
}

/// The same on a store kept under the `items` lock (a `LifoQueue`).
#[test]
fn loom_getter_woken_then_cancelled_on_a_locked_store_passes_the_item_on() {
    getter_woken_then_cancelled::<Lifo<u32>>();
}

fn getter_woken_then_cancelled<S: Storage<Item = u32> + Send + 'static>() {
    loom::model(|| {
        let q: &'static GenericQueue<S> = leak(GenericQueue::new(0));
        let mut a = q.get();
        let mut b = q.get();
        let (_f, waker) = flag();
        assert!(poll(&mut a, &waker).is_pending());
        assert!(poll(&mut b, &waker).is_pending());

        let putter = thread::spawn(move || q.put_nowait(7).unwrap());
        let canceller = thread::spawn(move || drop(a));
        putter.join().unwrap();
        canceller.join().unwrap();

        assert_eq!(block_on(b), Ok(7));
        assert!(q.empty());
    });
}

/// Putters A and B wait on a full queue; a get frees a place for A while A is
/// dropped: B's item goes in, A's never does.
#[test]
fn loom_putter_woken_then_cancelled_passes_the_place_on() {
    loom::model(|| {
        let q: &'static Queue<u32> = leak(Queue::new(1));
        q.put_nowait(1).unwrap();
        let mut a = q.put(2);
        let mut b = q.put(3);
        let (_f, waker) = flag();
        assert!(poll(&mut a, &waker).is_pending());
        assert!(poll(&mut b, &waker).is_pending());

        let getter = thread::spawn(move || q.get_nowait().unwrap());
        let canceller = thread::spawn(move || drop(a));
        assert_eq!(getter.join().unwrap(), 1);
        canceller.join().unwrap();

        assert_eq!(block_on(b), Ok(()));
        assert_eq!(q.get_nowait(), Ok(3));
        assert!(q.empty());
    });
}

/// The race of the shutdown models: a getter is queued on an empty queue,
/// a thread puts 5 while this one shuts the queue down (`immediate` or not),
/// and the getter finishes on a thread of its own during the race if
/// `getter_thread`, else here once the put is over. Returns whether the put
/// succeeded, what the getter got, and the queue.
fn shutdown_racing_a_put<S: Storage<Item = u32> + Send + 'static>(
    immediate: bool,
    getter_thread: bool,
) -> (bool, Result<u32, QueueShutDown>, &'static GenericQueue<S>) {
    let q: &'static GenericQueue<S> = leak(GenericQueue::new(0));
    let mut g = q.get();
    let (_f, waker) = flag();
    assert!(poll(&mut g, &waker).is_pending());

    let mut g = Some(g);
    let getter = if getter_thread {
        g.take().map(|g| thread::spawn(move || block_on(g)))
    } else {
        None
    };
    let putter = thread::spawn(move || q.put_nowait(5).is_ok());
    q.shutdown(immediate);
    let put = putter.join().unwrap();
    let got = match (getter, g) {
        (Some(getter), _) => getter.join().unwrap(),
        (None, Some(g)) => block_on(g),
        (None, None) => unreachable!("the getter is here or on its thread"),
    };
    (put, got, q)
}

/// A shutdown races a put while a getter waits: the put succeeds exactly
/// when the getter gets its item, and the getter is woken either way.
#[test]
fn loom_shutdown_racing_a_put_loses_no_item_and_no_getter() {
    put_succeeds_iff_the_getter_gets_it::<Fifo<u32>>(false);
}

/// As the model above, but the getter runs on its own thread while the put
/// and the shutdown race, so a getter woken by the shutdown's close pops
/// while the put may still be pushing: the put succeeds exactly when the
/// getter gets its item.
#[test]
fn loom_shutdown_racing_a_put_and_the_woken_getter_loses_no_item() {
    put_succeeds_iff_the_getter_gets_it::<Fifo<u32>>(true);
}

/// The same on a store kept under the `items` lock (a `LifoQueue`), whose
/// `shut_down` flag orders the race instead of the ring's close.
#[test]
fn loom_shutdown_racing_a_put_and_the_woken_getter_on_a_locked_store() {
    put_succeeds_iff_the_getter_gets_it::<Lifo<u32>>(true);
}

/// The plain shutdown's models: the put succeeds exactly when the getter
/// gets its item, and the getter is woken either way.
fn put_succeeds_iff_the_getter_gets_it<S: Storage<Item = u32> + Send + 'static>(
    getter_thread: bool,
) {
    loom::model(move || {
        let (put, got, q) = shutdown_racing_a_put::<S>(false, getter_thread);
        if put {
            assert_eq!(got, Ok(5));
        } else {
            assert_eq!(got, Err(QueueShutDown(())));
        }
        assert!(q.empty());
    });
}

/// `join` polled for the first time while the last `task_done` runs: it
/// returns, or is woken.
#[test]
fn loom_task_done_racing_join_wakes_the_joiner() {
    loom::model(|| {
        let q: &'static Queue<u32> = leak(Queue::new(0));
        q.put_nowait(1).unwrap();
        q.get_nowait().unwrap();

        let finisher = thread::spawn(move || q.task_done().unwrap());
        block_on(q.join());
        finisher.join().unwrap();
        assert!(q.task_done().is_err());
    });
}

/// A putter thread and a getter thread run at once on the ring of a queue
/// of `maxsize`: every `items` unit the getter takes finds its item, in
/// order, and a bounded putter waits for the place a get gives back.
fn put_racing_get(maxsize: usize) {
    loom::model(move || {
        let q: &'static Queue<u32> = leak(Queue::new(maxsize));
        let putter = thread::spawn(move || {
            block_on(q.put(1)).unwrap();
            block_on(q.put(2)).unwrap();
        });
        assert_eq!(block_on(q.get()), Ok(1));
        assert_eq!(block_on(q.get()), Ok(2));
        putter.join().unwrap();
        assert!(q.empty());
        assert!(q.get_nowait().unwrap_err().is_empty());
    });
}

#[test]
fn loom_put_racing_get_on_a_one_place_ring() {
    put_racing_get(1);
}

#[test]
fn loom_put_racing_get_on_a_two_place_ring() {
    put_racing_get(2);
}

#[test]
fn loom_put_racing_get_on_an_unbounded_ring() {
    put_racing_get(0);
}

/// An immediate shutdown races a put while a getter waits: the item is
/// either delivered to the getter or dropped by the shutdown and counted
/// done, never left behind or counted twice.
#[test]
fn loom_immediate_shutdown_racing_a_put_delivers_or_drops_the_item() {
    loom::model(|| {
        let (put, got, q) = shutdown_racing_a_put::<Fifo<u32>>(true, false);
        if let Ok(item) = got {
            assert!(put);
            assert_eq!(item, 5);
            q.task_done().unwrap();
        }
        assert!(q.empty());
        // Nothing pending: a put item was got and done, or dropped and
        // counted done; a refused one was never counted.
        assert!(q.task_done().is_err());
    });
}

/// Protocol step 9's re-queue: getter A waits on an empty queue; a thread
/// puts two items (the first hands A a wake-up) while another thread's fresh
/// get races A for them. A getter that finds nothing after its wake-up waits
/// again (A at the head) and gets the other item: each getter gets one, none
/// is lost, no wake-up is lost (a lost one is a deadlock loom reports).
#[test]
fn loom_fresh_get_racing_a_woken_getter_loses_nothing() {
    loom::model(|| {
        let q: &'static Queue<u32> = leak(Queue::new(2));
        let mut a = q.get();
        let (_f, waker) = flag();
        assert!(poll(&mut a, &waker).is_pending());

        let putter = thread::spawn(move || {
            q.put_nowait(1).unwrap();
            q.put_nowait(2).unwrap();
        });
        let fresh = thread::spawn(move || block_on(q.get()).unwrap());
        let mine = block_on(a).unwrap();
        putter.join().unwrap();
        let other = fresh.join().unwrap();
        let mut got = [mine, other];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        assert!(q.empty());
    });
}

/// A plain thread's blocking put (its own wait on the `places` list) races a
/// task's gets on a one-place ring: both items arrive, in order, and the
/// blocked putter is woken by the get that frees the place.
#[test]
fn loom_blocking_put_racing_get_on_a_one_place_ring() {
    loom::model(|| {
        let q: &'static Queue<u32> = leak(Queue::new(1));
        let putter = thread::spawn(move || {
            q.put_blocking(1, None).unwrap();
            q.put_blocking(2, None).unwrap();
        });
        assert_eq!(block_on(q.get()), Ok(1));
        assert_eq!(block_on(q.get()), Ok(2));
        putter.join().unwrap();
        assert!(q.empty());
    });
}

/// A plain thread's blocking get races a put on an unbounded ring: it gets
/// the item (woken, or finding it on its last look before sleeping).
#[test]
fn loom_blocking_get_racing_put() {
    loom::model(|| {
        let q: &'static Queue<u32> = leak(Queue::new(0));
        let getter = thread::spawn(move || q.get_blocking(None));
        q.put_nowait(4).unwrap();
        assert_eq!(getter.join().unwrap(), Ok(4));
        assert!(q.empty());
    });
}
