//! Loom models of the wait list (`waitlist.rs`), on the shipped code through
//! the `loom` shim: wake-then-cancel, release racing a waiter's drop, and a
//! woken waiter's look without the lock (step 10) racing a release, a close,
//! and a newcomer that reuses its slot, on the list itself and through `Mutex`'s owned lock future and guard;
//! `Event::set` (and `clear`) racing a `wait`, and `Condition::notify`
//! racing a `wait` that queues and unlocks (no lost wake-up); a
//! `BoundedSemaphore::release` racing a permit's drop (the bound check and
//! the release are one step).
//!
//! Run with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom \
//!     cargo test --release -p weft-sync --lib loom_
//! ```
//!
//! Every model ends by counting units: what is free plus what the surviving
//! waiters got must equal what was released. A lost unit or a lost wake-up
//! (a queued waiter whose waker never fires although it was assigned) fails
//! an assertion.

use std::sync::Arc;
use std::task::{Poll, Waker};

use loom::thread;

use crate::test_util::{
    cancel, flag, one_waiter, poll as poll_fut, poll_units, two_waiters, woken, TwoWaiters,
};
use crate::waitlist::{WaitList, Waiter};

fn poll(list: &WaitList, w: &mut Waiter, waker: &Waker) -> Poll<()> {
    poll_units(list, w, waker).map(|r| assert!(r.is_ok()))
}

/// Waiters A then B are queued; one thread releases a unit while another
/// drops A's future (and, with `extra`, this thread releases one more).
/// Whichever order, B gets a unit and is woken for it, A is woken at most
/// once, and every other unit ends free.
fn release_races_cancel(extra: bool) {
    let TwoWaiters {
        list,
        mut a,
        mut b,
        fa,
        fb,
        wb,
        ..
    } = two_waiters();

    let l1 = list.clone();
    let releaser = thread::spawn(move || l1.release(1));
    let l2 = list.clone();
    let canceller = thread::spawn(move || cancel(&l2, &mut a));
    if extra {
        list.release(1);
    }
    releaser.join().unwrap();
    canceller.join().unwrap();

    assert!(woken(&fa) <= 1);
    assert_eq!(woken(&fb), 1, "B was assigned a unit but never woken");
    assert!(poll(&list, &mut b, &wb).is_ready());
    assert_eq!(list.available(), usize::from(extra));
    assert_eq!(list.lock().waiter_count(), 0);
    assert!(!list.has_waiters());
}

/// A release assigns the unit to waiter A, whose future is dropped at the
/// same time: the unit reaches waiter B.
#[test]
fn loom_wake_then_cancel_passes_the_unit_on() {
    loom::model(|| release_races_cancel(false));
}

/// A fresh waiter queues (or takes the unit on its fast path) while a release
/// runs, then is dropped if it had to wait: the unit ends free, never lost
/// in a slot nobody owns.
#[test]
fn loom_release_races_enqueue_and_drop() {
    loom::model(|| {
        let list = Arc::new(WaitList::new(0, ()));
        let l1 = list.clone();
        let releaser = thread::spawn(move || l1.release(1));

        let (f, waker) = flag();
        let mut w = Waiter::new(1);
        let got = match poll(&list, &mut w, &waker) {
            Poll::Ready(()) => 1,
            Poll::Pending => {
                releaser.join().unwrap();
                // The release ran: we were either assigned (and woken) or it
                // went free before we queued (impossible: we would have
                // taken it under the lock).
                assert_eq!(woken(&f), 1, "assigned waiter never woken");
                assert!(poll(&list, &mut w, &waker).is_ready());
                list.release(1);
                cancel(&list, &mut w);
                return assert_eq!(list.available(), 1);
            }
        };
        releaser.join().unwrap();
        assert_eq!(got + list.available(), 1);
    });
}

/// Two concurrent releases of one unit each, and the head waiter dropped
/// concurrently: one unit ends with B, the other free.
#[test]
fn loom_two_releases_and_a_cancel_lose_nothing() {
    loom::model(|| release_races_cancel(true));
}

/// Protocol step 10: waiter A is queued; a release assigns it its unit on
/// one thread while A's own task polls on another (its look at the slot's
/// mailbox, without the lock, and its retiring of the slot), and a newcomer
/// B queues on this one (its slot may be A's, reclaimed). A is served once
/// (at its racing poll or the next), B gets the unit A gives back, and it
/// ends free.
#[test]
fn loom_woken_waiter_looks_without_the_lock_while_its_slot_is_reused() {
    loom::model(|| {
        let (list, mut a, fa, wa) = one_waiter();
        let l1 = list.clone();
        let releaser = thread::spawn(move || l1.release(1));
        let l2 = list.clone();
        let owner = thread::spawn(move || {
            if poll(&l2, &mut a, &wa).is_ready() {
                // Served: use the unit and give it back.
                l2.release(1);
                None
            } else {
                Some((a, wa))
            }
        });
        let (fb, wb) = flag();
        let mut b = Waiter::new(1);
        let b_at_once = poll(&list, &mut b, &wb).is_ready();
        releaser.join().unwrap();
        if let Some((mut a, wa)) = owner.join().unwrap() {
            assert_eq!(woken(&fa), 1, "A was assigned its unit but never woken");
            assert!(poll(&list, &mut a, &wa).is_ready());
            list.release(1);
        }
        assert!(woken(&fa) <= 1);
        if !b_at_once {
            assert_eq!(woken(&fb), 1, "B was handed A's unit but never woken");
            assert!(poll(&list, &mut b, &wb).is_ready());
        }
        assert!(!b.is_queued());
        list.release(1);
        assert_eq!(list.available(), 1);
        assert!(!list.has_waiters());
        assert_eq!(list.lock().waiter_count(), 0);
    });
}

/// Protocol step 10 with a close: waiter A is queued; the list is closed on
/// one thread while A's task polls on another. A's look without the lock
/// sees the close published in its mailbox, or its poll (under the lock,
/// or the next one) does: it fails once, and a later acquire fails too.
#[test]
fn loom_close_races_a_waiter_looking_without_the_lock() {
    loom::model(|| {
        let (list, mut a, fa, wa) = one_waiter();
        let l1 = list.clone();
        let closer = thread::spawn(move || l1.lock().close());
        let first = poll_units(&list, &mut a, &wa);
        closer.join().unwrap();
        assert_eq!(woken(&fa), 1, "the close never woke A");
        let r = match first {
            Poll::Ready(r) => r,
            Poll::Pending => match poll_units(&list, &mut a, &wa) {
                Poll::Ready(r) => r,
                Poll::Pending => panic!("A still queued after the close"),
            },
        };
        assert_eq!(r, Err(crate::waitlist::Fail::Closed));
        assert!(!a.is_queued());
        assert_eq!(list.try_acquire(1), Err(crate::waitlist::Fail::Closed));
        assert_eq!(list.available(), 0);
    });
}

/// The same race through the public types: A holds a `Mutex`, B and C wait
/// in `lock_owned()` futures; A's guard is dropped on one thread while B's
/// future is dropped on another. C must get the lock, and be woken for it.
#[test]
fn loom_mutex_unlock_races_a_cancelled_lock_future() {
    loom::model(|| {
        let m = Arc::new(crate::Mutex::new(0usize));
        let (_fb, wb) = flag();
        let (fc, wc) = flag();
        let a = m.clone().try_lock_owned().unwrap();
        let mut b = Box::pin(m.clone().lock_owned());
        let mut c = Box::pin(m.clone().lock_owned());
        assert!(poll_fut(&mut b, &wb).is_pending());
        assert!(poll_fut(&mut c, &wc).is_pending());

        let unlocker = thread::spawn(move || drop(a));
        let canceller = thread::spawn(move || drop(b));
        unlocker.join().unwrap();
        canceller.join().unwrap();

        assert_eq!(woken(&fc), 1, "C was handed the lock but never woken");
        let Poll::Ready(mut g) = poll_fut(&mut c, &wc) else {
            panic!("C not served");
        };
        *g += 1;
        drop(g);
        assert!(!m.locked());
    });
}

/// `Event::set` on one thread while a task's `wait` polls on another: the
/// waiter either sees the flag or is queued before the set and woken by it.
#[test]
fn loom_event_set_races_wait() {
    loom::model(|| {
        let ev = Arc::new(crate::Event::new());
        let e1 = ev.clone();
        let setter = thread::spawn(move || e1.set());
        let (f, waker) = flag();
        let mut wait = Box::pin(ev.wait());
        let pending = poll_fut(&mut wait, &waker).is_pending();
        setter.join().unwrap();
        if pending {
            assert_eq!(woken(&f), 1, "queued waiter missed the set");
            assert!(poll_fut(&mut wait, &waker).is_ready());
        }
    });
}

/// A queued waiter, then `set` and at once `clear` on another thread racing
/// the waiter's next poll: woken by the set, it returns although the flag is
/// down again (asyncio's rule).
#[test]
fn loom_event_set_then_clear_still_releases_a_queued_waiter() {
    loom::model(|| {
        let ev = Arc::new(crate::Event::new());
        let (f, waker) = flag();
        let mut wait = Box::pin(ev.wait());
        assert!(poll_fut(&mut wait, &waker).is_pending());
        let e1 = ev.clone();
        let setter = thread::spawn(move || {
            e1.set();
            e1.clear();
        });
        let early = poll_fut(&mut wait, &waker).is_ready();
        setter.join().unwrap();
        assert_eq!(woken(&f), 1);
        assert!(early || poll_fut(&mut wait, &waker).is_ready());
    });
}

/// A task's `Condition::wait` (queue, then unlock) racing a thread that
/// locks and notifies: a notify that counted the waiter wakes it, and the
/// woken waiter gets the lock back; a notify before the wait finds nobody.
#[test]
fn loom_condition_notify_races_wait() {
    loom::model(|| {
        let cond = Arc::new(crate::Condition::new(0usize));
        let c1 = cond.clone();
        let notifier = thread::spawn(move || {
            let mut g = c1.mutex().lock_blocking();
            *g += 1;
            let n = c1.notify(1).unwrap();
            drop(g);
            n
        });
        let (f, waker) = flag();
        let g = cond.mutex().lock_blocking();
        let seen = *g;
        let mut wait = Box::pin(cond.wait(g));
        assert!(poll_fut(&mut wait, &waker).is_pending());
        let notified = notifier.join().unwrap();
        assert_eq!(woken(&f), notified, "a counted waiter must be woken");
        if notified == 1 {
            let Poll::Ready(Ok(g)) = poll_fut(&mut wait, &waker) else {
                panic!("notified waiter did not get the lock back");
            };
            assert_eq!(*g, seen + 1);
        } else {
            assert_eq!(seen, 1, "the notify ran before the wait");
        }
    });
}

/// `BoundedSemaphore::release` on one thread while this one drops the one
/// permit (bound 1) and then tries to take two. In either order the release
/// and the take agree: release first (accepted: the drop makes two free, the
/// take gets them) or drop first (refused: one is free already; the take
/// finds one). A release that checks the bound and adds its permit in two
/// steps can check before the drop and add after the take: accepted, and
/// yet the take found one free.
#[test]
fn loom_bounded_release_races_a_permit_drop() {
    loom::model(|| {
        let sem = Arc::new(crate::BoundedSemaphore::new(1));
        let permit = sem.clone().try_acquire_owned().unwrap();
        let s1 = sem.clone();
        let releaser = thread::spawn(move || s1.release().is_ok());
        drop(permit);
        let took_two = match sem.as_semaphore().try_acquire_many(2) {
            Ok(p) => {
                p.forget();
                true
            }
            Err(_) => false,
        };
        let released = releaser.join().unwrap();
        assert_eq!(released, took_two, "the release and the take disagree");
        assert_eq!(sem.available_permits(), usize::from(!released));
    });
}
