//! The FIFO `Queue`'s lock-free ring (weft-sync `queue/ring.rs`): a put and a
//! get running at once on two threads, a queue bounded above the ring's own
//! size, and an immediate shutdown racing puts, with every item's drop
//! counted.

mod common;

use common::{watchdog, DropCounter, DropGuard};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use weft::queue::Queue;

/// An item that counts its drop and carries a number.
struct Item(u64, #[allow(dead_code)] DropGuard);

/// A producer thread and a consumer thread move `n` counted items through a
/// queue of `maxsize` at once: they come out in order, and each is dropped
/// exactly once.
fn two_threads_through(maxsize: usize, n: u64) {
    watchdog(move || {
        let drops = DropCounter::new();
        let q = Queue::new(maxsize);
        let producer = {
            let q = q.clone();
            let drops = drops.clone();
            std::thread::spawn(move || {
                for i in 0..n {
                    assert!(q.put_blocking(Item(i, drops.guard()), None).is_ok());
                }
            })
        };
        for i in 0..n {
            let item = q.get_blocking(Some(Duration::from_secs(30))).ok().unwrap();
            assert_eq!(item.0, i);
        }
        producer.join().unwrap();
        assert!(q.empty());
        assert_eq!(drops.get() as u64, n);
    });
}

#[test]
fn a_put_and_a_get_on_two_threads_keep_order_in_a_small_ring() {
    two_threads_through(4, 20_000);
}

#[test]
fn a_put_and_a_get_on_two_threads_keep_order_in_a_one_place_ring() {
    two_threads_through(1, 5_000);
}

#[test]
fn a_put_and_a_get_on_two_threads_keep_order_unbounded() {
    two_threads_through(0, 20_000);
}

#[test]
fn a_put_and_a_get_on_two_threads_keep_order_above_the_ring_size() {
    two_threads_through(10_000, 20_000);
}

/// A `maxsize` larger than the ring's own size (4 096) takes the unbounded
/// kind, but the queue still holds exactly `maxsize`.
#[test]
fn a_queue_bounded_above_the_ring_size_still_holds_exactly_maxsize() {
    let q = Queue::new(5_000);
    for i in 0..5_000 {
        q.put_nowait(i).unwrap();
    }
    assert!(q.full());
    assert_eq!(q.put_nowait(5_000).unwrap_err().into_inner(), 5_000);
    for i in 0..5_000 {
        assert_eq!(q.get_nowait(), Ok(i));
    }
    assert!(q.empty());
}

/// Threads put counted items until the queue is shut down with `immediate`
/// while they run: every accepted item is dropped by the shutdown (and
/// counted done, so `join` is not left waiting), every refused one is given
/// back, and no item is dropped twice or kept.
#[test]
fn an_immediate_shutdown_racing_puts_drops_each_item_once() {
    watchdog(|| {
        for maxsize in [0, 64] {
            let drops = DropCounter::new();
            let made = Arc::new(AtomicUsize::new(0));
            let q = Queue::new(maxsize);
            let putters: Vec<_> = (0..3)
                .map(|_| {
                    let (q, drops, made) = (q.clone(), drops.clone(), made.clone());
                    std::thread::spawn(move || {
                        let mut accepted = 0usize;
                        for i in 0..100_000u64 {
                            made.fetch_add(1, Ordering::SeqCst);
                            match q.put_nowait(Item(i, drops.guard())) {
                                Ok(()) => accepted += 1,
                                Err(e) if e.is_full() => {}
                                Err(_) => return accepted,
                            }
                        }
                        accepted
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(5));
            q.shutdown(true);
            let accepted: usize = putters.into_iter().map(|t| t.join().unwrap()).sum();
            assert!(q.empty());
            assert!(q.put_nowait(Item(0, drops.guard())).is_err());
            made.fetch_add(1, Ordering::SeqCst);
            // Every accepted item was dropped by the shutdown and counted
            // done: nothing is pending.
            assert!(q.task_done().is_err(), "accepted {accepted}");
            drop(q);
            assert_eq!(drops.get(), made.load(Ordering::SeqCst));
        }
    });
}
