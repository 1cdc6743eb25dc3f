//! Loom models of the wait list (`waitlist.rs`), on the shipped code through
//! the `loom` shim: wake-then-cancel, and release racing a waiter's drop,
//! on the list itself and through `Mutex`'s owned lock future and guard.
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
    cancel, flag, poll as poll_fut, poll_units, two_waiters, woken, TwoWaiters,
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
