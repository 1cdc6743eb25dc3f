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
/// direction), so a short list searched by the kind's address (the same
/// literal at two addresses only makes two targets of one description).
type Targets = Vec<(&'static str, Arc<Described>)>;

thread_local! {
    static TARGETS: RefCell<Targets> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's target of `kind` (made the first time).
fn with_target<R>(kind: &'static str, f: impl FnOnce(&Arc<Described>) -> R) -> R {
    TARGETS.with(|targets| {
        {
            // A shared borrow while `f` runs: what `f` may drop (a replaced
            // record) never makes a target.
            let targets = targets.borrow();
            if let Some((_, target)) = targets.iter().find(|(k, _)| std::ptr::eq(*k, kind)) {
                return f(target);
            }
        }
        let target = Described::new(AwaitDescription::new(kind));
        targets.borrow_mut().push((kind, target.clone()));
        f(&target)
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
    use weft_task::chain::AwaitTarget;

    /// One `&'static str` (one address), as a primitive's kind is.
    static LOCK: &str = "lock";
    static PUT: &str = "queue put";

    #[test]
    fn one_target_per_kind_and_thread() {
        let addr = |kind| with_target(kind, |t| Arc::as_ptr(t) as usize);
        let a = addr(LOCK);
        assert_eq!(addr(LOCK), a);
        assert_ne!(addr(PUT), a);
        with_target(PUT, |t| assert_eq!(t.describe().kind, "queue put"));
        // Alive while the other thread's is: the addresses cannot coincide.
        let mine = with_target(LOCK, Arc::clone);
        let other = std::thread::spawn(move || addr(LOCK)).join().unwrap();
        assert_ne!(other, Arc::as_ptr(&mine) as usize);
        // Outside a task nothing is recorded; the wait remembers the target
        // only to forget it.
        let mut w = KindWait::new();
        w.pending(LOCK);
        assert_eq!(w.recorded, a);
        w.ready();
        assert_eq!(w.recorded, 0);
    }
}
