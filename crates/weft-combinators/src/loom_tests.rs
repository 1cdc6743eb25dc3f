//! Loom models of the wake set (`wake_set.rs`), on the shipped code through
//! the `loom` shim: a slot woken from another thread while the owner takes,
//! pops and polls (no lost wake-up, and the owner sees what the waker did before
//! waking), a second wake absorbed while the slot is taken and not yet
//! cleared, and the set dropped while a clone of a slot's waker is woken.
//!
//! Run with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom \
//!     cargo test --release -p weft-combinators --lib loom_
//! ```
//!
//! A lost wake-up leaves the owner's `block_on` parked forever, which loom
//! reports as a deadlock.

use std::future::poll_fn;
use std::task::Poll;

use loom::sync::atomic::{AtomicU32, Ordering};
use loom::sync::Arc;
use loom::thread;

use crate::wake_set::WakeSet;

/// The owner's side: takes woken slots, clears and "polls" slot 0 (reads
/// `value`) until it has seen `want`. Pending otherwise, so a wake that
/// never reaches the owner parks it for good.
fn own_until(set: &mut WakeSet, value: &AtomicU32, want: u32) {
    loom::future::block_on(poll_fn(|cx| {
        set.take_woken(cx.waker());
        while let Some(slot) = set.pop_woken() {
            assert_eq!(slot, 0, "only slot 0 is ever woken");
            // Relaxed: the ordering under test is the set's own.
            if value.load(Ordering::Relaxed) == want {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    }));
}

/// One wake from another thread, published with a Relaxed store before it:
/// the owner takes the slot and, after `clear`, sees the store.
#[test]
fn loom_a_wake_from_another_thread_reaches_the_owner() {
    loom::model(|| {
        let mut set = WakeSet::new(2);
        let value = Arc::new(AtomicU32::new(0));
        let waker = set.waker(0).clone();
        let v = value.clone();
        let child = thread::spawn(move || {
            v.store(1, Ordering::Relaxed);
            waker.wake();
        });
        own_until(&mut set, &value, 1);
        child.join().unwrap();
    });
}

/// Two wakes of one slot, the second possibly absorbed (the slot still
/// marked while the owner holds it): whichever interleaving, the owner ends
/// up seeing the second store, by a later take or by the read after `clear`.
#[test]
fn loom_a_wake_absorbed_while_taken_is_not_lost() {
    loom::model(|| {
        let mut set = WakeSet::new(1);
        let value = Arc::new(AtomicU32::new(0));
        let waker = set.waker(0).clone();
        let v = value.clone();
        let child = thread::spawn(move || {
            v.store(1, Ordering::Relaxed);
            waker.wake_by_ref();
            v.store(2, Ordering::Relaxed);
            waker.wake();
        });
        own_until(&mut set, &value, 2);
        child.join().unwrap();
    });
}

/// The set dropped while another thread wakes and drops a clone of a slot's
/// waker: the owner's waker is let go by the set (the drop takes it under
/// the lock the wake reads it under), and the last of the two frees the
/// shared part.
#[test]
fn loom_the_set_dropped_while_a_waker_wakes() {
    loom::model(|| {
        let mut set = WakeSet::new(1);
        let waker = set.waker(0).clone();
        let child = thread::spawn(move || waker.wake());
        let owner = loom::future::block_on(poll_fn(|cx| Poll::Ready(cx.waker().clone())));
        set.take_woken(&owner);
        drop(set);
        child.join().unwrap();
    });
}
