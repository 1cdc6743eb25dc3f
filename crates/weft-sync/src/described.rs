//! What a task dump shows a task suspended in one of this crate's waits
//! ([`weft_task::awaiting`]'s described targets), without an allocation per
//! wait.
//!
//! `DescribedWait` makes one `Arc<Described>` per waiting future, at its
//! first `Pending`: one allocation and free for every contended lock,
//! permit or queue put (callgrind: about 7% of `semaphore_contended`'s
//! instructions, in `malloc`/`free` alone). The description of these waits is
//! only their kind (`"lock"`, `"queue put"`...), so [`KindWait`] records a
//! target shared by every wait of that kind on the thread (made once per
//! thread and kind). The record keeps its own reference, as with any target.
//!
//! The one difference from a target per future: `forget` compares
//! addresses, so where one task has two waits of the same kind pending at
//! once (a `join!` of two `acquire()`s) and one of them completes, the
//! task's record is cleared although the other still waits, until that one
//! is polled again and records itself. A dump taken in between shows the
//! task awaiting nothing; cancellation is unaffected (a described target's
//! `cancel_awaited` does nothing: the wait is left when its future drops).

use std::cell::RefCell;
use std::sync::Arc;

use weft_task::awaiting::{forget, record_described, Described};
use weft_task::AwaitDescription;

/// Kinds a thread has made targets for: a handful (one per primitive and
/// direction), so a short list searched by the kind's address.
type Targets = Vec<(&'static str, Arc<Described>)>;

thread_local! {
    static TARGETS: RefCell<Targets> = const { RefCell::new(Vec::new()) };
}

/// Where `kind` is in `targets`.
fn find(targets: &Targets, kind: &'static str) -> Option<usize> {
    targets
        .iter()
        .position(|(k, _)| std::ptr::eq(*k, kind) || *k == kind)
}

/// Runs `f` on this thread's target of `kind` (made the first time).
fn with_target<R>(kind: &'static str, f: impl FnOnce(&Arc<Described>) -> R) -> R {
    TARGETS.with(|targets| {
        let at = find(&targets.borrow(), kind);
        let at = at.unwrap_or_else(|| {
            let mut targets = targets.borrow_mut();
            targets.push((kind, Described::new(AwaitDescription::new(kind))));
            targets.len() - 1
        });
        // A shared borrow while `f` runs: what `f` may drop (a replaced
        // record) never makes a target.
        f(&targets.borrow()[at].1)
    })
}

/// A wait's record in its task's await record: `DescribedWait`'s surface,
/// with a target shared per kind (see the module header).
#[derive(Debug)]
pub(crate) struct KindWait {
    /// The address of the target last recorded, or 0.
    recorded: usize,
}

impl KindWait {
    /// Nothing recorded yet.
    pub(crate) const fn new() -> Self {
        KindWait { recorded: 0 }
    }

    /// The wait returns `Pending`: inside a task's poll, records the
    /// thread's target of `kind` as what the task awaits.
    pub(crate) fn pending(&mut self, kind: &'static str) {
        self.recorded = with_target(kind, |target| {
            record_described(target);
            Arc::as_ptr(target) as usize
        });
    }

    /// The wait is over (ready, or its future dropped): the task awaits it
    /// no more.
    pub(crate) fn ready(&mut self) {
        let recorded = std::mem::take(&mut self.recorded);
        if recorded != 0 {
            forget(recorded as *const ());
        }
    }
}

impl Drop for KindWait {
    fn drop(&mut self) {
        self.ready();
    }
}

#[cfg(test)]
#[cfg(not(loom))]
mod tests {
    use super::*;

    #[test]
    fn one_target_per_kind_and_thread() {
        let addr = |kind| with_target(kind, |t| Arc::as_ptr(t) as usize);
        let a = addr("lock");
        assert_eq!(addr("lock"), a);
        assert_ne!(addr("queue put"), a);
        // Alive while the other thread's is: the addresses cannot coincide.
        let mine = with_target("lock", Arc::clone);
        let other = std::thread::spawn(move || addr("lock")).join().unwrap();
        assert_ne!(other, Arc::as_ptr(&mine) as usize);
        // Outside a task nothing is recorded; the wait remembers the target
        // only to forget it.
        let mut w = KindWait::new();
        w.pending("lock");
        w.ready();
        assert_eq!(w.recorded, 0);
    }
}
