//! Helpers shared by the unit tests and the loom models: a counting waker
//! (its counter comes from the `loom` shim, so the models see it) and hand
//! polling of wait-list waiters.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::loom::sync::{AtomicUsize, Ordering};
use crate::waitlist::{Fail, WaitList, Waiter};

/// A waker counting its wakes.
pub(crate) struct Flag(AtomicUsize);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Release: pairs with the Acquire load in `woken`.
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// A fresh counting waker and its counter.
pub(crate) fn flag() -> (Arc<Flag>, Waker) {
    let f = Arc::new(Flag(AtomicUsize::new(0)));
    (f.clone(), Waker::from(f))
}

/// How many times `f` was woken.
pub(crate) fn woken(f: &Flag) -> usize {
    // Acquire: pairs with the Release in `wake_by_ref`.
    f.0.load(Ordering::Acquire)
}

/// Polls an `Unpin` future once with `waker`.
pub(crate) fn poll<F: Future + Unpin>(f: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(waker))
}

/// Polls a units waiter once with `waker`.
pub(crate) fn poll_units(list: &WaitList, w: &mut Waiter, waker: &Waker) -> Poll<Result<(), Fail>> {
    list.poll_acquire(w, &mut Context::from_waker(waker))
}

/// What a units-acquiring future's `Drop` does: leave, handing on what it
/// was given.
pub(crate) fn cancel(list: &WaitList, w: &mut Waiter) {
    list.lock().cancel(w);
}

/// A list with no free unit and one waiter queued (a task's, so its slot
/// is peekable): the list, the waiter, its flag and its waker.
pub(crate) fn one_waiter() -> (Arc<WaitList>, Waiter, Arc<Flag>, Waker) {
    let list = Arc::new(WaitList::new(0, ()));
    let (f, waker) = flag();
    let mut w = Waiter::new(1);
    assert!(poll_units(&list, &mut w, &waker).is_pending());
    (list, w, f, waker)
}

/// A list with no free unit and two waiters, `a` then `b`, queued.
pub(crate) struct TwoWaiters {
    pub(crate) list: Arc<WaitList>,
    pub(crate) a: Waiter,
    pub(crate) b: Waiter,
    pub(crate) fa: Arc<Flag>,
    pub(crate) fb: Arc<Flag>,
    /// Only the unit tests poll `a` again.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) wa: Waker,
    pub(crate) wb: Waker,
}

/// See [`TwoWaiters`].
pub(crate) fn two_waiters() -> TwoWaiters {
    let list = Arc::new(WaitList::new(0, ()));
    let (fa, wa) = flag();
    let (fb, wb) = flag();
    let mut a = Waiter::new(1);
    let mut b = Waiter::new(1);
    assert!(poll_units(&list, &mut a, &wa).is_pending());
    assert!(poll_units(&list, &mut b, &wb).is_pending());
    TwoWaiters {
        list,
        a,
        b,
        fa,
        fb,
        wa,
        wb,
    }
}
