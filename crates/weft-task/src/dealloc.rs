//! Freeing tasks without a deep stack: a free reached from inside another
//! free on the same thread is queued, and the outermost one runs it after
//! its own. A task's output dropped with its handle goes through the same
//! queue.
//!
//! # Why
//!
//! Freeing a task drops what its cell still holds: its join waker (a
//! reference to the task that awaited it), its output (which may hold
//! another task's handle), its context and done callbacks. Any of those may
//! be the last reference to another task, whose free then runs inside this
//! one, and so on. A chain of 100 000 tasks, each awaiting the next, ends
//! that way: each finished task is kept alive only by the join waker of the
//! one it awaited, as long as something else holds the innermost (the
//! runner still finishing it on another worker, a `TaskRef`), and its free
//! reaches the next one... one set of frames per link, far past a 2 MiB
//! stack (`tests/tests/task_deep_chain.rs`). Dropping a finished task's
//! handle drops its output at once (`raw.rs`'s `drop_output`), so a chain of
//! outputs each holding the next task's handle recurses the same way.
//!
//! # How
//!
//! One thread-local word, `FREEING`:
//!
//! | value            | meaning                                              |
//! |------------------|------------------------------------------------------|
//! | null             | no free is running on this thread                    |
//! | [`BUSY`]         | a free is running; nothing queued                    |
//! | a node's address | a free is running; the queue's top (a LIFO list of boxed [`Deferred`] nodes; the last one's `next` is `BUSY`) |
//!
//! [`enter`] with the word null sets it to `BUSY` and returns the
//! [`Outermost`] guard; the caller frees its task (or drops its output),
//! and the guard's drop then runs every step queued meanwhile (each of
//! which may queue more) until the word is `BUSY` again, and sets it back
//! to null. With the word not null, `enter` returns `None` and the caller
//! queues its step ([`defer`]): a free as it is, an output moved out of its
//! task into a box first. The stack then holds at most two steps (the
//! outermost and the one it runs from the queue), whatever the length of
//! the chain. The common free (nothing reached from it) costs a
//! thread-local load, two stores and two compares; a handle dropped after
//! its output was taken (an awaited task) does not enter at all; a node is
//! allocated only for a step reached from inside another.
//!
//! # Why it is sound
//!
//! A task queued here had its last reference released: nothing else can
//! reach it, so freeing it later is as good as now, and its memory is still
//! allocated (only the free releases it). A queued output was moved out of
//! its task into a box that only the queue holds. It is freed on the thread that
//! released that reference (the queue is per thread), as without the queue:
//! a task pinned to its thread (`spawn_local`) is never freed elsewhere.
//! The only difference anyone can see: code running inside a free (the
//! `Drop` of a task's output, say) that releases the last reference to
//! another task (or its last handle) sees that task freed (its output
//! dropped) once the outermost step returns rather than before its own drop
//! returns; code outside any free sees every step done when the call that
//! released the reference returns, as before.
//!
//! # Why nothing leaks
//!
//! The queue is drained by the outermost step before it returns, so it is
//! empty whenever no free runs on the thread. A step does not unwind (its
//! drops run under `run_reporting`); if one did (a reporter that panics),
//! [`Outermost`]'s drop still drains the queue and clears the word, so the
//! thread does not stay "busy" with tasks queued for ever.
//!
//! # Thread exit
//!
//! The word is a `Cell` of a raw pointer, const-initialised, with no
//! destructor: the thread-local is usable at any point of a thread's life,
//! its exit included (another thread-local's destructor dropping the last
//! handle of a task frees it here as anywhere), and there is nothing to
//! tear down, since the queue is empty outside a free.
//!
//! Under loom the word is loom's thread-local (one per model thread), so a
//! model thread preempted inside a free does not queue another's tasks.

use std::cell::Cell;
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

/// A task whose free was reached from inside another free on this thread.
struct Deferred {
    task: NonNull<()>,
    free: unsafe fn(NonNull<()>),
    /// The node below (or [`BUSY`] at the bottom).
    next: *mut Deferred,
}

/// "A free is running, nothing queued": an address no node can have.
const BUSY: *mut Deferred = NonNull::<Deferred>::dangling().as_ptr();

#[cfg(not(loom))]
std::thread_local! {
    /// This thread's free: null, [`BUSY`], or the queue's top (module header).
    static FREEING: Cell<*mut Deferred> = const { Cell::new(ptr::null_mut()) };
}

#[cfg(loom)]
loom::thread_local! {
    static FREEING: Cell<*mut Deferred> = Cell::new(ptr::null_mut());
}

/// Marks this thread as freeing, if it is not already: `Some` for the
/// outermost free (which drains the queue when dropped), `None` if a free is
/// running (whatever the caller was about to drop must then be queued with
/// [`defer`]). Also for a task's output dropped with its handle
/// (`raw.rs`), which may hold the last handle of another task.
#[inline]
pub(crate) fn enter() -> Option<Outermost> {
    FREEING.with(|word| {
        if word.get().is_null() {
            word.set(BUSY);
            Some(Outermost {
                _one_thread: PhantomData,
            })
        } else {
            None
        }
    })
}

/// Queues `free(task)` for the outermost free running on this thread.
///
/// # Safety
///
/// [`enter`] returned `None` on this thread (a free is running: it will
/// drain the queue), and `free(task)` may be called once, on this thread.
#[cold]
#[inline(never)]
pub(crate) unsafe fn defer(task: NonNull<()>, free: unsafe fn(NonNull<()>)) {
    FREEING.with(|word| {
        debug_assert!(!word.get().is_null(), "queued with no free to run it");
        let node = Box::new(Deferred {
            task,
            free,
            next: word.get(),
        });
        word.set(Box::into_raw(node));
    });
}

/// The outermost free of this thread ([`enter`]): dropped once its own task
/// is freed, it frees what was queued meanwhile (on unwinding too), then
/// marks the thread idle. Not `Send`: it is this thread's.
pub(crate) struct Outermost {
    _one_thread: PhantomData<*const ()>,
}

impl Drop for Outermost {
    #[inline]
    fn drop(&mut self) {
        FREEING.with(|word| {
            if word.get() != BUSY {
                drain(word);
            }
            word.set(ptr::null_mut());
        });
    }
}

impl std::fmt::Debug for Outermost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Outermost")
    }
}

/// Frees the queued tasks, newest first, until none is left (each free may
/// queue more).
#[cold]
#[inline(never)]
fn drain(word: &Cell<*mut Deferred>) {
    loop {
        let top = word.get();
        if top == BUSY {
            return;
        }
        // SAFETY: a non-`BUSY`, non-null word is a node `defer` leaked
        // with `Box::into_raw`, taken back once: it leaves the list here.
        let node = unsafe { Box::from_raw(top) };
        word.set(node.next);
        // SAFETY: `defer`'s caller promised the free may run once, on this
        // thread; the node is gone from the list, so it runs only here.
        unsafe { (node.free)(node.task) };
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    thread_local! {
        static DEPTH: Cell<usize> = const { Cell::new(0) };
        static DEEPEST: Cell<usize> = const { Cell::new(0) };
        static FREED: Cell<usize> = const { Cell::new(0) };
    }

    /// What `raw.rs`'s `dealloc` does, for a fake task.
    unsafe fn free_or_defer(task: NonNull<()>, free: unsafe fn(NonNull<()>)) {
        match enter() {
            Some(outermost) => {
                // SAFETY: the caller's promise.
                unsafe { free(task) };
                drop(outermost);
            }
            // SAFETY: as above; `enter` said a free runs.
            None => unsafe { defer(task, free) },
        }
    }

    /// A fake free of "task" `n` (its address): frees `n - 1` from inside
    /// itself, as a task holding the last reference to the next would.
    unsafe fn free_chain(task: NonNull<()>) {
        let n = task.as_ptr() as usize;
        DEPTH.set(DEPTH.get() + 1);
        DEEPEST.set(DEEPEST.get().max(DEPTH.get()));
        FREED.set(FREED.get() + 1);
        if n > 1 {
            let next = NonNull::new((n - 1) as *mut ()).unwrap();
            // SAFETY: a fake task: `free_chain` only counts.
            unsafe { free_or_defer(next, free_chain) };
        }
        DEPTH.set(DEPTH.get() - 1);
    }

    #[test]
    fn a_free_reached_from_a_free_runs_after_it_not_inside_it() {
        let n = 100_000;
        // SAFETY: a fake task, as above.
        unsafe { free_or_defer(NonNull::new(n as *mut ()).unwrap(), free_chain) };
        assert_eq!(FREED.get(), n, "every free ran");
        assert_eq!(DEEPEST.get(), 1, "no free ran inside another");
        assert!(FREEING.get().is_null(), "the thread is idle again");
    }
}
