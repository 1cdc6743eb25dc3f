//! Stress tests of issue 14's rules for `weft::sync` on several workers:
//! cancel-after-wake for Mutex, Semaphore and Condition (10^4 attempts each,
//! cancelled at random points, every permit accounted for at the end), FIFO
//! order of waiters, and Barrier abort/reset.
//!
//! No sleep is used to synchronise: the cancellations land wherever the
//! workers happen to be, and each test checks its invariants (mutual
//! exclusion, permits back to their start, nobody left waiting) at the end.
//! A lost wake-up shows as a hang, which the watchdog turns into a failure.

mod common;

use common::{block_on, spawn_started, wait_done, yield_times, Rng};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use weft::sync::{Barrier, Condition, Mutex, RwLock, Semaphore};

/// Attempts per test.
const ATTEMPTS: usize = 10_000;

/// Tasks making attempts at the same time.
const CONTENDERS: usize = 8;

/// Workers of the runtimes below (several, so wake-ups, cancellations and
/// releases race for real).
const WORKERS: usize = 4;

/// Makes [`ATTEMPTS`] attempts from [`CONTENDERS`] tasks at once: each attempt
/// is a task running `attempt()`; its contender lets it run for a random
/// number of yields (0 to 3) and then cancels it, or (one time in four) lets
/// it finish. So cancellations land before the attempt queues, while it
/// waits, just after a release handed it the resource (cancel-after-wake),
/// and while it holds it. Returns how many attempts completed.
async fn hammer<F, Fut>(attempt: F) -> usize
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let completed = Arc::new(AtomicUsize::new(0));
    let contenders = (0..CONTENDERS).map(|c| {
        let (attempt, completed) = (attempt.clone(), completed.clone());
        weft::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (c as u64 + 1).wrapping_mul(0x2545_F491));
            for _ in 0..ATTEMPTS / CONTENDERS {
                let task = weft::spawn(attempt());
                let cancel_after = rng.below(5);
                if cancel_after < 4 {
                    yield_times(cancel_after as usize).await;
                    task.cancel();
                }
                match task.await {
                    Ok(()) => {
                        completed.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => assert!(e.is_cancelled(), "an attempt failed: {e}"),
                }
            }
        })
    });
    weft::gather(contenders).await.expect("a contender failed");
    completed.load(Ordering::Relaxed)
}

/// Holders of a resource at one time; panics if it ever exceeds `limit`.
#[derive(Clone, Default)]
struct Occupancy(Arc<AtomicUsize>);

impl Occupancy {
    /// Counts one holder in until the returned guard drops.
    fn enter(&self, limit: usize) -> impl Drop + Send {
        let now = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        assert!(now <= limit, "{now} holders of a resource of {limit}");
        OccupancyGuard(self.0.clone())
    }
}

struct OccupancyGuard(Arc<AtomicUsize>);

impl Drop for OccupancyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn mutex_cancel_after_wake_loses_no_lock() {
    let (lock, completed) = block_on(WORKERS, |_| async {
        let lock = Arc::new(Mutex::new(0usize));
        let inside = Occupancy::default();
        let l = lock.clone();
        let completed = hammer(move || {
            let (lock, inside) = (l.clone(), inside.clone());
            async move {
                let mut guard = lock.lock().await;
                let _in = inside.enter(1);
                *guard += 1;
                weft::yield_now().await; // hold it across an await
            }
        })
        .await;
        (lock, completed)
    });
    // Every attempt that got the lock counted itself (a cancelled holder may
    // have counted too); none left it locked; nobody is still queued.
    let count = *lock.try_lock().expect("the lock was left locked");
    assert!(count >= completed, "{count} < {completed}");
    assert!(!lock.locked());
}

#[test]
fn semaphore_cancel_after_wake_loses_no_permit() {
    const PERMITS: usize = 3;
    let (sem, completed) = block_on(WORKERS, |_| async {
        let sem = Arc::new(Semaphore::new(PERMITS));
        let inside = Occupancy::default();
        let s = sem.clone();
        let completed = hammer(move || {
            let (sem, inside) = (s.clone(), inside.clone());
            async move {
                let _permit = sem.acquire().await;
                let _in = inside.enter(PERMITS);
                weft::yield_now().await;
            }
        })
        .await;
        (sem, completed)
    });
    assert!(completed > 0);
    assert_eq!(sem.available_permits(), PERMITS, "a permit was lost");
    // Nobody is queued: all of them can be taken at once.
    let all: Vec<_> = (0..PERMITS).map(|_| sem.try_acquire().unwrap()).collect();
    assert!(sem.locked());
    drop(all);
    assert_eq!(sem.available_permits(), PERMITS);
}

/// Condition, as a pipeline: a producer adds [`ATTEMPTS`] units one at a time,
/// each with `notify(1)`, while attempts wait (`wait_for`) for a unit and take
/// one, most of them cancelled at random. At the end every unit was taken
/// once or is still there, and nobody is left queued.
#[test]
fn condition_consumers_cancelled_at_random_take_every_unit_once() {
    let (cond, taken) = block_on(WORKERS, |_| async {
        let cond = Arc::new(Condition::new(0usize));
        let taken = Arc::new(AtomicUsize::new(0));
        let c = cond.clone();
        let producer = weft::spawn(async move {
            for i in 0..ATTEMPTS {
                let mut units = c.lock().await;
                *units += 1;
                c.notify(1).unwrap();
                drop(units);
                if i % 8 == 0 {
                    weft::yield_now().await;
                }
            }
        });
        let (c, t) = (cond.clone(), taken.clone());
        hammer(move || {
            let (cond, taken) = (c.clone(), t.clone());
            async move {
                let units = cond.lock().await;
                let mut units = cond.wait_for(units, |n| *n > 0).await.unwrap();
                *units -= 1;
                // Counted here, under the lock: a cancellation that arrives
                // while this last poll runs still ends the task cancelled.
                taken.fetch_add(1, Ordering::Relaxed);
            }
        })
        .await;
        producer.await.unwrap();
        (cond, taken.load(Ordering::Relaxed))
    });
    assert!(taken > 0);
    let left = *cond.mutex().try_lock().expect("the lock was left locked");
    assert_eq!(left + taken, ATTEMPTS, "a unit was lost or taken twice");
    assert!(!cond.has_waiters(), "a waiter was left queued");
}

/// Condition cancel-after-notify: [`ATTEMPTS`] rounds, each producing one
/// unit with `notify(1)` to consumers that all wait, and (every other round)
/// cancelling a random consumer a random number of yields later, often the
/// one just notified. The round ends when a consumer took the unit; only
/// then is the cancelled consumer replaced, so a notification lost with a
/// cancelled waiter leaves the others asleep and the round never ends.
#[test]
fn condition_cancel_after_notify_loses_no_notification() {
    const CONSUMERS: usize = 4;
    block_on(WORKERS, |_| async {
        let cond = Arc::new(Condition::new(0usize));
        let taken = Arc::new(Semaphore::new(0));
        let consumer = || {
            let (cond, taken) = (cond.clone(), taken.clone());
            weft::spawn(async move {
                let mut units = cond.lock().await;
                loop {
                    units = cond.wait_for(units, |n| *n > 0).await.unwrap();
                    *units -= 1;
                    taken.add_permits(1);
                }
            })
        };
        let mut consumers: Vec<_> = (0..CONSUMERS).map(|_| consumer()).collect();
        let mut rng = Rng(0xD1B5_4A32_D192_ED03);
        for _ in 0..ATTEMPTS {
            let mut units = cond.lock().await;
            *units += 1;
            cond.notify(1).unwrap();
            drop(units);
            let victim = if rng.below(2) == 0 {
                let i = rng.below(CONSUMERS as u64) as usize;
                yield_times(rng.below(3) as usize).await;
                consumers[i].cancel();
                Some(i)
            } else {
                None
            };
            weft::timeout(std::time::Duration::from_secs(5))
                .run(taken.acquire())
                .await
                .expect("the unit was never taken: a notification was lost")
                .forget();
            if let Some(i) = victim {
                let cancelled = std::mem::replace(&mut consumers[i], consumer());
                assert!(cancelled.await.unwrap_err().is_cancelled());
            }
        }
        assert_eq!(*cond.lock().await, 0);
        for c in &consumers {
            c.cancel();
        }
        for c in consumers {
            assert!(c.await.unwrap_err().is_cancelled());
        }
        assert!(!cond.has_waiters(), "a waiter was left queued");
    });
}

/// A semaphore asked for several permits at once (`acquire_many`): the
/// partial assignments of a cancelled waiter go back too.
#[test]
fn semaphore_acquire_many_cancelled_mid_assignment_loses_no_permit() {
    const PERMITS: usize = 5;
    let sem = block_on(WORKERS, |_| async {
        let sem = Arc::new(Semaphore::new(PERMITS));
        let s = sem.clone();
        let n = Arc::new(AtomicUsize::new(0));
        hammer(move || {
            let sem = s.clone();
            let want = n.fetch_add(1, Ordering::Relaxed) % PERMITS + 1;
            async move {
                let _permits = sem.acquire_many(want).await;
                weft::yield_now().await;
            }
        })
        .await;
        sem
    });
    assert_eq!(sem.available_permits(), PERMITS, "a permit was lost");
}

/// RwLock: readers and writers (one attempt in four a writer, which waits
/// for every reader unit and so is often partly assigned when it is
/// cancelled) cancelled at random; writers exclude everyone, and at the end
/// the lock is free for a writer at once.
#[test]
fn rwlock_cancel_after_wake_loses_no_reader_unit() {
    let lock = block_on(WORKERS, |_| async {
        let lock = Arc::new(RwLock::new(()));
        let (readers, writers) = (Occupancy::default(), Occupancy::default());
        let (l, n) = (lock.clone(), Arc::new(AtomicUsize::new(0)));
        hammer(move || {
            let (lock, readers, writers) = (l.clone(), readers.clone(), writers.clone());
            let write = n.fetch_add(1, Ordering::Relaxed) % 4 == 0;
            async move {
                if write {
                    let _guard = lock.write().await;
                    let _in = writers.enter(1);
                    assert_eq!(
                        readers.0.load(Ordering::SeqCst),
                        0,
                        "a writer beside readers"
                    );
                    weft::yield_now().await;
                } else {
                    let _guard = lock.read().await;
                    let _in = readers.enter(usize::MAX);
                    assert_eq!(
                        writers.0.load(Ordering::SeqCst),
                        0,
                        "a reader beside a writer"
                    );
                    weft::yield_now().await;
                }
            }
        })
        .await;
        lock
    });
    assert!(lock.try_write().is_ok(), "a reader unit was lost");
}

/// FIFO: waiters queued one after another are served in that order, on
/// several workers, also when some of them are cancelled while they wait.
#[test]
fn waiters_are_served_in_the_order_they_queued() {
    let order = block_on(WORKERS, |_| async {
        let lock = Arc::new(Mutex::new(Vec::new()));
        let held = lock.clone().lock_owned().await;
        let mut waiters = Vec::new();
        for i in 0..64usize {
            let l = lock.clone();
            let task = spawn_started!("the waiter to queue", {
                l.lock().await.push(i);
            });
            waiters.push(task);
        }
        // Cancel every third one while it waits.
        for (i, t) in waiters.iter().enumerate() {
            if i % 3 == 1 {
                assert!(t.cancel());
            }
        }
        for (i, t) in waiters.iter().enumerate() {
            if i % 3 == 1 {
                wait_done(t).await;
            }
        }
        drop(held);
        for t in waiters {
            let _ = t.await;
        }
        let order = lock.lock().await.clone();
        order
    });
    let expected: Vec<usize> = (0..64).filter(|i| i % 3 != 1).collect();
    assert_eq!(order, expected);
}

/// FIFO on a semaphore: a task asking for many permits at the head is not
/// overtaken by later tasks asking for fewer (no barging).
#[test]
fn a_large_request_at_the_head_is_not_overtaken() {
    let order = block_on(WORKERS, |_| async {
        let sem = Arc::new(Semaphore::new(0));
        let order = common::Log::new();
        let (s, o) = (sem.clone(), order.clone());
        let big = spawn_started!("the big waiter to queue", {
            s.acquire_many(3).await.forget();
            o.push("big");
        });
        let (s, o) = (sem.clone(), order.clone());
        let small = spawn_started!("the small waiter to queue", {
            s.acquire().await.forget();
            o.push("small");
        });
        sem.add_permits(1);
        sem.add_permits(1);
        yield_times(10).await;
        assert!(order.snapshot().is_empty(), "the small one barged");
        // The third permit completes the big request; none is left over.
        sem.add_permits(1);
        wait_done(&big).await;
        assert!(
            !small.done(),
            "the small one got a permit that was not there"
        );
        assert_eq!(sem.available_permits(), 0);
        sem.add_permits(1);
        big.await.unwrap();
        small.await.unwrap();
        order.snapshot()
    });
    assert_eq!(order, ["big", "small"]);
}

/// Barrier abort and reset racing the parties, round after round: every
/// party returns (passes or sees `BrokenBarrierError`), never hangs; after a
/// reset the parties that were failed wait again and all pass together with
/// distinct indices; after an abort a reset makes the barrier usable again.
#[test]
fn barrier_abort_and_reset_race_the_parties() {
    const PARTIES: usize = 4;
    const ROUNDS: u64 = 500;
    block_on(WORKERS, |_| async {
        let mut rng = Rng(0x1234_5678_9ABC_DEF1);
        for round in 0..ROUNDS {
            let barrier = Arc::new(Barrier::new(PARTIES).unwrap());
            let abort = round % 2 == 1;
            let parties: Vec<_> = (0..PARTIES)
                .map(|_| {
                    let b = barrier.clone();
                    weft::spawn(async move {
                        loop {
                            match b.wait().await {
                                Ok(i) => return Some(i),
                                Err(_) if b.broken() => return None,
                                Err(_) => continue, // reset: wait again
                            }
                        }
                    })
                })
                .collect();
            yield_times(rng.below(4) as usize).await;
            if abort {
                barrier.abort();
            } else {
                barrier.reset();
            }
            let outcomes = weft::gather(parties).await.unwrap();
            assert_eq!(barrier.n_waiting(), 0);
            if abort {
                assert!(barrier.broken());
                barrier.reset();
                assert!(!barrier.broken());
            } else {
                // Reset never breaks it: everyone passed, with distinct indices.
                let mut idx: Vec<usize> = outcomes.iter().map(|o| o.unwrap()).collect();
                idx.sort_unstable();
                assert_eq!(idx, (0..PARTIES).collect::<Vec<_>>());
            }
            // Usable again: a full round passes.
            let again = (0..PARTIES).map(|_| {
                let b = barrier.clone();
                weft::spawn(async move { b.wait().await.unwrap() })
            });
            let mut idx = weft::gather(again).await.unwrap();
            idx.sort_unstable();
            assert_eq!(idx, (0..PARTIES).collect::<Vec<_>>());
        }
    });
}
