//! Loom models of the wait list (`waitlist.rs`), on the shipped code through
//! the `loom` shim: wake-then-cancel, and release racing a waiter's drop.
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
use std::task::{Context, Poll, Wake, Waker};

use loom::thread;

use crate::loom::sync::{AtomicUsize, Ordering};
use crate::waitlist::{Left, WaitList, Waiter};

/// A waker counting its wakes in a loom atomic.
struct Flag(AtomicUsize);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Release: pairs with the Acquire load in `woken`.
        self.0.fetch_add(1, Ordering::Release);
    }
}

fn flag() -> (Arc<Flag>, Waker) {
    let f = Arc::new(Flag(AtomicUsize::new(0)));
    (f.clone(), Waker::from(f))
}

fn woken(f: &Flag) -> usize {
    // Acquire: pairs with the Release in `wake_by_ref`.
    f.0.load(Ordering::Acquire)
}

fn poll(list: &WaitList, w: &mut Waiter, waker: &Waker) -> Poll<()> {
    list.poll_acquire(w, &mut Context::from_waker(waker))
        .map(|r| assert!(r.is_ok()))
}

/// What a semaphore's `Drop` of a waiting future does.
fn cancel(list: &WaitList, w: &mut Waiter) {
    let mut l = list.lock();
    if let Left::Queued(a) | Left::Assigned(a) = l.leave(w) {
        l.release(a);
    }
}

/// A release assigns the unit to waiter A, whose future is dropped at the
/// same time: whichever order, the unit reaches waiter B, and B's waker
/// fires if B was assigned.
#[test]
fn loom_wake_then_cancel_passes_the_unit_on() {
    loom::model(|| {
        let list = Arc::new(WaitList::new(0, ()));
        let (_fa, wa) = flag();
        let (fb, wb) = flag();
        let mut a = Waiter::new(1);
        let mut b = Waiter::new(1);
        assert!(poll(&list, &mut a, &wa).is_pending());
        assert!(poll(&list, &mut b, &wb).is_pending());

        let l1 = list.clone();
        let releaser = thread::spawn(move || l1.release(1));
        let l2 = list.clone();
        let canceller = thread::spawn(move || {
            cancel(&l2, &mut a);
        });
        releaser.join().unwrap();
        canceller.join().unwrap();

        assert_eq!(woken(&fb), 1, "B was assigned the unit but never woken");
        assert!(poll(&list, &mut b, &wb).is_ready());
        assert_eq!(list.available(), 0);
        assert!(!list.has_waiters());
    });
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

/// Two waiters, two concurrent releases of one unit each, and the head
/// waiter dropped concurrently: every unit ends with B or free.
#[test]
fn loom_two_releases_and_a_cancel_lose_nothing() {
    loom::model(|| {
        let list = Arc::new(WaitList::new(0, ()));
        let (_fa, wa) = flag();
        let (fb, wb) = flag();
        let mut a = Waiter::new(1);
        let mut b = Waiter::new(1);
        assert!(poll(&list, &mut a, &wa).is_pending());
        assert!(poll(&list, &mut b, &wb).is_pending());

        let l1 = list.clone();
        let r1 = thread::spawn(move || l1.release(1));
        let l2 = list.clone();
        let c = thread::spawn(move || cancel(&l2, &mut a));
        list.release(1);
        r1.join().unwrap();
        c.join().unwrap();

        assert_eq!(woken(&fb), 1);
        assert!(poll(&list, &mut b, &wb).is_ready());
        assert_eq!(list.available(), 1);
    });
}
