//! Unit tests of the primitives' use of the wait list, polled by hand so the
//! interleavings are exact (CPython's test_locks.py cases are ported as
//! integration tests in `tests/tests/sync_*.rs`).

use std::sync::Arc;
use std::task::Poll;

use crate::test_util::{flag, poll, woken};
use crate::{Barrier, BoundedSemaphore, BrokenBarrierError, Condition, Event, Mutex, Semaphore};

#[test]
fn condition_notified_waiter_dropped_in_the_queue_passes_the_notification_on() {
    let cond = Condition::new(());
    let (_fa, wa) = flag();
    let (fb, wb) = flag();
    let mut a = cond.wait(cond.mutex().try_lock().unwrap());
    assert!(poll(&mut a, &wa).is_pending());
    assert!(!cond.locked(), "wait releases the lock");
    let mut b = cond.wait(cond.mutex().try_lock().unwrap());
    assert!(poll(&mut b, &wb).is_pending());

    let g = cond.mutex().try_lock().unwrap();
    assert_eq!(cond.notify(1), Ok(1)); // to A
    drop(a); // A cancelled after its wake-up
    assert_eq!(woken(&fb), 1, "B got A's notification");
    drop(g);
    let Poll::Ready(Ok(g)) = poll(&mut b, &wb) else {
        panic!("B not notified");
    };
    assert!(cond.locked());
    drop(g);
    assert!(!cond.has_waiters());
}

#[test]
fn condition_waiter_cancelled_while_relocking_passes_the_notification_on() {
    let cond = Condition::new(0);
    let (_fa, wa) = flag();
    let (fb, wb) = flag();
    let mut a = cond.wait(cond.mutex().try_lock().unwrap());
    assert!(poll(&mut a, &wa).is_pending());
    let mut b = cond.wait(cond.mutex().try_lock().unwrap());
    assert!(poll(&mut b, &wb).is_pending());

    let g = cond.mutex().try_lock().unwrap();
    cond.notify(1).unwrap();
    // A saw the notification and now waits for the lock we hold.
    assert!(poll(&mut a, &wa).is_pending());
    drop(a);
    assert_eq!(woken(&fb), 1);
    drop(g);
    assert!(matches!(poll(&mut b, &wb), Poll::Ready(Ok(_))));
}

#[test]
fn condition_rejects_a_foreign_guard_and_notify_without_the_lock() {
    let cond = Condition::new(1);
    let other = Mutex::new(2);
    let (_f, w) = flag();
    let mut fut = cond.wait(other.try_lock().unwrap());
    let Poll::Ready(Err(e)) = poll(&mut fut, &w) else {
        panic!("a foreign guard was accepted");
    };
    assert_eq!(*e.into_guard(), 2);
    assert!(!other.locked());
    assert!(cond.notify(1).is_err());
    assert!(cond.notify_all().is_err());
    // Still usable.
    let _g = cond.mutex().try_lock().unwrap();
    assert_eq!(cond.notify_all(), Ok(0));
}

#[test]
fn event_waiter_woken_by_set_returns_although_cleared() {
    let ev = Event::new();
    let (f, w) = flag();
    let mut a = ev.wait();
    assert!(poll(&mut a, &w).is_pending());
    ev.set();
    ev.clear();
    assert_eq!(woken(&f), 1);
    assert!(poll(&mut a, &w).is_ready());
    let mut b = ev.wait();
    assert!(poll(&mut b, &w).is_pending(), "cleared: a new wait waits");
}

#[test]
fn barrier_cancelled_waiter_leaves_the_round_and_abort_reset_break_waiters() {
    let b = Barrier::new(3).unwrap();
    let (_f, w) = flag();
    let mut x = b.wait();
    let mut y = b.wait();
    assert!(poll(&mut x, &w).is_pending());
    assert!(poll(&mut y, &w).is_pending());
    assert_eq!(b.n_waiting(), 2);
    drop(y);
    assert_eq!(b.n_waiting(), 1);

    b.reset();
    assert_eq!(poll(&mut x, &w), Poll::Ready(Err(BrokenBarrierError)));
    assert!(!b.broken());

    let mut x = b.wait();
    assert!(poll(&mut x, &w).is_pending());
    b.abort();
    assert_eq!(poll(&mut x, &w), Poll::Ready(Err(BrokenBarrierError)));
    assert!(b.broken());
    assert_eq!(
        poll(&mut b.wait(), &w),
        Poll::Ready(Err(BrokenBarrierError))
    );
    b.reset();

    let (mut p, mut q, mut r) = (b.wait(), b.wait(), b.wait());
    assert!(poll(&mut p, &w).is_pending());
    assert!(poll(&mut q, &w).is_pending());
    assert_eq!(poll(&mut r, &w), Poll::Ready(Ok(2)));
    assert_eq!(poll(&mut p, &w), Poll::Ready(Ok(0)));
    assert_eq!(poll(&mut q, &w), Poll::Ready(Ok(1)));
    assert_eq!(b.n_waiting(), 0);
}

#[test]
fn bounded_semaphore_refuses_past_its_bound_with_a_waiter_partly_served() {
    let sem = BoundedSemaphore::new(2);
    let (_f, w) = flag();
    sem.try_acquire().unwrap().forget();
    sem.try_acquire().unwrap().forget();
    let mut big = sem.as_semaphore().acquire_many(2);
    assert!(poll(&mut big, &w).is_pending());
    assert!(sem.release().is_ok()); // 1 unit to the waiter
    assert!(sem.release().is_ok()); // the waiter is served
    let Poll::Ready(p) = poll(&mut big, &w) else {
        panic!("waiter not served");
    };
    drop(p);
    assert_eq!(sem.release(), Err(crate::ReleaseError));
    assert_eq!(sem.available_permits(), 2);
}

/// A tiny deterministic generator (xorshift), so the run is reproducible.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// 10^4 steps of random acquires (1 or 2 permits), polls, releases and
/// cancellations (some after the wake-up): at every step the permits free,
/// held and handed to waiters add up to the total, and at the end all are
/// back.
#[test]
fn semaphore_random_cancellation_loses_no_permit() {
    const TOTAL: usize = 4;
    let sem = Semaphore::new(TOTAL);
    let (_f, w) = flag();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut waiting = Vec::new();
    let mut held = Vec::new();
    for _ in 0..10_000 {
        match rng.below(5) {
            0 | 1 => waiting.push(sem.acquire_many(1 + rng.below(2) as usize)),
            2 if !waiting.is_empty() => {
                let i = rng.below(waiting.len() as u64) as usize;
                if let Poll::Ready(p) = poll(&mut waiting[i], &w) {
                    drop(waiting.swap_remove(i));
                    held.push(p);
                }
            }
            3 if !waiting.is_empty() => {
                let i = rng.below(waiting.len() as u64) as usize;
                drop(waiting.swap_remove(i)); // cancelled, maybe after its wake-up
            }
            _ if !held.is_empty() => {
                let i = rng.below(held.len() as u64) as usize;
                drop(held.swap_remove(i));
            }
            _ => {}
        }
        let in_hand: usize = held.iter().map(|p| p.num_permits()).sum();
        assert!(in_hand + sem.available_permits() <= TOTAL);
    }
    drop(waiting);
    drop(held);
    assert_eq!(sem.available_permits(), TOTAL);
    assert!(!sem.locked());
}

/// Threads and the lock: `lock_blocking` from several threads, contended,
/// with no lost unlock.
#[test]
fn mutex_blocking_threads_count_to_the_total() {
    let m = Arc::new(Mutex::new(0u32));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                for _ in 0..1_000 {
                    *m.lock_blocking() += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*m.try_lock().unwrap(), 4_000);
}

#[test]
fn acquiring_zero_permits_is_ready_even_behind_waiters() {
    let sem = Semaphore::new(0);
    let (_f, w) = flag();
    let mut waiting = sem.acquire();
    assert!(poll(&mut waiting, &w).is_pending());
    assert!(poll(&mut sem.acquire_many(0), &w).is_ready());
    assert_eq!(sem.try_acquire_many(0).unwrap().num_permits(), 0);
}

fn assert_send_sync<T: Send + Sync>(_: &T) {}

/// Every primitive, guard and future can cross threads (a task's future
/// must be `Send` for `weft::spawn`), including the `async fn` ones.
#[test]
fn primitives_guards_and_futures_are_send_and_sync() {
    let sem = Arc::new(Semaphore::new(1));
    assert_send_sync(&*sem);
    assert_send_sync(&sem.acquire());
    assert_send_sync(&sem.clone().acquire_owned());
    assert_send_sync(&sem.try_acquire().unwrap());
    assert_send_sync(&sem.clone().try_acquire_owned().unwrap());
    assert_send_sync(&BoundedSemaphore::new(1));
    let ev = Event::new();
    assert_send_sync(&ev);
    assert_send_sync(&ev.wait());
    let b = Barrier::new(2).unwrap();
    assert_send_sync(&b);
    assert_send_sync(&b.wait());
    let cond = Condition::new(vec![0u8]);
    assert_send_sync(&cond);
    assert_send_sync(&cond.wait(cond.mutex().try_lock().unwrap()));
    assert_send_sync(&cond.wait_for(cond.mutex().try_lock().unwrap(), |v| v.is_empty()));
    assert_send_sync(&cond.wait_catch_cancel(cond.mutex().try_lock().unwrap()));
}
