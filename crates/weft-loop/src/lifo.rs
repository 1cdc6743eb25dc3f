//! The LIFO slot: the one task a worker runs next, which other workers may still
//! steal.
//!
//! When a task wakes another (a message hand-off), the woken one usually wants to
//! run right away on the same worker, while its data is in cache; tokio and Go
//! keep it in a "next task" slot ahead of the FIFO queue. tokio's slot cannot be
//! stolen, so a task parked there waits behind a worker stuck in a long poll
//! (tokio issue #4941). weft's slot is an `AtomicPtr` that the owner fills and
//! empties with `swap`, and that a searching worker may empty with `swap` too —
//! but only on its second pass over the victims, so the owner normally wins and
//! hand-offs stay on one core.
//!
//! A lone worker has nobody to hand off to and keeps asyncio's FIFO order: it
//! fills its slot only when nothing else is queued on it, and always runs the
//! slot first, so there the slot is the front of its FIFO (`scheduler/mod.rs`).
//!
//! Ownership: whoever swaps a non-null pointer out owns that `Runnable`.

use crate::loom::sync::{AtomicPtr, Ordering};
use std::fmt;
use std::ptr;
use weft_task::Runnable;

pub(crate) struct LifoSlot {
    task: AtomicPtr<()>,
}

impl LifoSlot {
    pub(crate) fn new() -> LifoSlot {
        LifoSlot {
            task: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Puts `task` in the slot; returns the task it displaced.
    pub(crate) fn push(&self, task: Runnable) -> Option<Runnable> {
        let new = task.into_raw_ptr().as_ptr();
        // AcqRel: the release half publishes the task to a stealer's `take`
        // (whose Acquire pairs with it); the acquire half takes ownership of the
        // displaced one, published by the `push` that stored it.
        let old = self.task.swap(new, Ordering::AcqRel);
        Self::own(old)
    }

    /// Empties the slot.
    pub(crate) fn take(&self) -> Option<Runnable> {
        if self.task.load(Ordering::Relaxed).is_null() {
            return None;
        }
        // Acquire: pairs with the AcqRel swap in `push` that stored it.
        let old = self.task.swap(ptr::null_mut(), Ordering::Acquire);
        Self::own(old)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.task.load(Ordering::Relaxed).is_null()
    }

    fn own(ptr: *mut ()) -> Option<Runnable> {
        // SAFETY: every non-null pointer in the slot came from `into_raw_ptr` in
        // `push`, and the swap that removed it gives it to exactly one caller.
        ptr::NonNull::new(ptr).map(|p| unsafe { Runnable::from_raw_ptr(p) })
    }
}

impl Drop for LifoSlot {
    fn drop(&mut self) {
        drop(self.take());
    }
}

impl fmt::Debug for LifoSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LifoSlot")
            .field("empty", &self.is_empty())
            .finish()
    }
}
