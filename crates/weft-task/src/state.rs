//! The task state word: lifecycle bits and a reference count in one `AtomicUsize`.
//!
//! # Bits
//!
//! | bit              | set by                        | cleared by                 | may not coexist with |
//! |------------------|-------------------------------|----------------------------|----------------------|
//! | `RUNNING`        | the runner (`to_running`)     | the runner (idle/complete) | `COMPLETE`           |
//! | `COMPLETE`       | the runner (`to_complete`)    | never (terminal)           | `RUNNING`            |
//! | `NOTIFIED`       | wakers, `cancel`              | the runner (`to_running`)  |                      |
//! | `CANCEL_REQ`     | `cancel` / `Cancelled::raise` | runner, `catch_cancel`, `uncancel` |              |
//! | `JOIN_INTEREST`  | spawn (the `Task<T>` handle)  | dropping the handle        |                      |
//! | `JOIN_WAKER`     | the handle, after storing its waker | the handle           |                      |
//! | `ENDED_CANCELLED`| `to_complete`                 | never                      | requires `COMPLETE`  |
//! | `HAS_CALLBACKS`  | `add_done_callback` (under the cold lock) | never          |                      |
//! | `DRAINING`       | the runner (`set_draining`), future dropped | `to_complete` | `COMPLETE`        |
//! | `BORROWED`       | `to_borrowed` (a dump) or `cancel` of an idle task, with `RUNNING` | `release_borrow` | `COMPLETE` |
//!
//! The remaining high bits count references. Holders: the `Task<T>` handle, the
//! registry entry (until the task completes), each [`Runnable`](crate::Runnable),
//! each `Waker` and each [`TaskRef`](crate::TaskRef).
//!
//! # Invariants
//!
//! * `NOTIFIED && !RUNNING && !COMPLETE`: exactly one `Runnable` exists (queued
//!   somewhere) and it owns one reference.
//! * `NOTIFIED && RUNNING`: the task was woken while being polled; no `Runnable`
//!   exists and the runner re-submits the one it holds when the poll returns.
//!   The one exception: shutdown claims `RUNNING` on a task whose `Runnable` is
//!   still queued; whoever runs that `Runnable` then gets `ToRunning::Busy` and
//!   only releases its reference.
//! * `RUNNING && BORROWED`: a borrower found the task idle (not running,
//!   not queued, not complete) and holds `RUNNING` itself for a moment, to
//!   read (a dump, `to_borrowed`) or pass a request on to (`cancel()`,
//!   `to_cancel_requested`) what the task awaits (`awaiting.rs`); it never
//!   touches the future. No `Runnable` exists while borrowed: a wake-up
//!   meanwhile finds the task running and only sets `NOTIFIED` (`cancel()`
//!   sets it with the claim). The borrower's `release_borrow` turns that
//!   `NOTIFIED` into a `Runnable` (counting its reference) and submits it,
//!   so no wake-up is lost and none is doubled.
//! * Only the thread that set `RUNNING` touches the future; the output slot is
//!   written once, before `COMPLETE` is published with `AcqRel`.
//! * The join-waker slot is written by the handle only while `JOIN_WAKER` is
//!   clear and the task is not complete; it is read by the runner only while
//!   `JOIN_WAKER` is set and after the runner set `COMPLETE` (tokio's protocol,
//!   `src/runtime/task/state.rs`, which this follows in spirit).
//!
//! Every read-modify-write here is `AcqRel` (each transition both publishes what
//! its thread wrote and observes what the previous transition published) unless a
//! comment says otherwise; the reference count decrement follows `Arc`: `AcqRel`
//! so the thread that frees sees every other holder's writes.

use crate::loom::sync::{AtomicUsize, Ordering};
use std::fmt;

pub(crate) const RUNNING: usize = 1 << 0;
pub(crate) const COMPLETE: usize = 1 << 1;
pub(crate) const NOTIFIED: usize = 1 << 2;
pub(crate) const CANCEL_REQ: usize = 1 << 3;
pub(crate) const JOIN_INTEREST: usize = 1 << 4;
pub(crate) const JOIN_WAKER: usize = 1 << 5;
pub(crate) const ENDED_CANCELLED: usize = 1 << 6;
pub(crate) const HAS_CALLBACKS: usize = 1 << 7;
/// Cancelled, future dropped, waiting for what it awaited to end (raw.rs,
/// "Cancellation delivery"). A bit, not a field, so that `to_running`'s one
/// test of the word tells the runner "deliver" for it as for a request.
pub(crate) const DRAINING: usize = 1 << 8;
/// `RUNNING` is held by a `cancel()` passing its request on, not by a runner.
pub(crate) const BORROWED: usize = 1 << 9;

const LIFECYCLE: usize = RUNNING | COMPLETE;
const REF_SHIFT: u32 = 10;
pub(crate) const REF_ONE: usize = 1 << REF_SHIFT;
#[cfg(all(test, not(loom)))]
const FLAGS: usize = REF_ONE - 1;

/// A new task: one reference for the handle, one for the registry, one for the
/// first `Runnable`, which is already counted as `NOTIFIED`.
const INITIAL: usize = (3 * REF_ONE) | JOIN_INTEREST | NOTIFIED;

/// An idle task's word borrowed: `RUNNING | BORROWED` set, no `Runnable`
/// (see the invariants).
fn borrowed(s: Snapshot) -> Snapshot {
    debug_assert!(s.is_idle(), "{s:?}");
    Snapshot(s.0 | RUNNING | BORROWED)
}

/// The atomic state word of one task.
pub(crate) struct State(AtomicUsize);

/// A copy of the state word at one instant.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

impl Snapshot {
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    pub(crate) fn is_cancel_requested(self) -> bool {
        self.0 & CANCEL_REQ != 0
    }
    pub(crate) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(crate) fn is_join_waker_set(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    pub(crate) fn is_ended_cancelled(self) -> bool {
        self.0 & ENDED_CANCELLED != 0
    }
    pub(crate) fn has_callbacks(self) -> bool {
        self.0 & HAS_CALLBACKS != 0
    }
    pub(crate) fn is_draining(self) -> bool {
        self.0 & DRAINING != 0
    }
    pub(crate) fn is_borrowed(self) -> bool {
        self.0 & BORROWED != 0
    }
    pub(crate) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }
    fn is_idle(self) -> bool {
        self.0 & (LIFECYCLE | NOTIFIED) == 0
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("cancel_requested", &self.is_cancel_requested())
            .field("join_interest", &self.is_join_interested())
            .field("join_waker", &self.is_join_waker_set())
            .field("draining", &self.is_draining())
            .field("borrowed", &self.is_borrowed())
            .field("refs", &self.ref_count())
            .finish()
    }
}

/// How the future ended, for `to_complete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It returned a value (which a pending request turns into a cancellation).
    Value,
    /// It was cancelled.
    Cancelled,
    /// It panicked or failed: an error wins over a pending request, as in asyncio.
    Error,
}

/// What the runner does after `to_running`.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToRunning {
    /// Poll the future. `cancel` says a cancellation request is pending, or
    /// the task is draining: either way the runner delivers instead of
    /// polling (unless a `catch_cancel` wrapper is there to take a request).
    Run { cancel: bool },
    /// The task already completed (shut down while queued): drop the `Runnable`'s
    /// reference and do nothing else.
    Complete,
    /// Shutdown claimed the task while this `Runnable` was queued and is
    /// dropping its future now: drop the `Runnable`'s reference and leave it.
    Busy,
}

/// What the runner does after a poll returned `Pending`.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToIdle {
    /// Nobody woke the task; the runner's reference was released.
    Idle,
    /// The runner's reference was the last: free the task.
    Dealloc,
    /// Woken (or cancelled while something intercepts it, or during a
    /// delivery) during the poll: re-submit the `Runnable`, which keeps its
    /// reference.
    Notified,
    /// A cancellation is requested and the caller said it can be delivered
    /// now: nothing changed, `RUNNING` is still the caller's.
    Cancel,
}

/// What a waker (or `cancel`) does after marking the task notified.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToNotified {
    /// Submit a new `Runnable`; a reference was taken for it.
    Submit,
    /// Running, already queued or complete: nothing to submit.
    Nothing,
    /// (wake by value only) the waker's reference was the last: free the task.
    Dealloc,
}

/// What `request_cancel` did.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToCancelRequested {
    /// The task is done; `cancel()` returns false.
    AlreadyComplete,
    /// Recorded; the task is running or queued and will see it.
    Recorded,
    /// Recorded, and the task was idle: the caller now holds `RUNNING`
    /// (with `BORROWED`) to pass the request on, then calls
    /// [`State::release_borrow`] and submits the `Runnable` it counts
    /// (`NOTIFIED` is set with the claim).
    Borrowed,
}

/// What `to_running_for_shutdown` found.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToShutdown {
    /// `RUNNING` is the caller's now: drop the future and complete the task.
    Claimed,
    /// Complete, or (defensively) running: nothing to do.
    Skip,
    /// A `cancel()` holds it for a moment: try again.
    Borrowed,
}

impl State {
    pub(crate) fn new() -> State {
        State(AtomicUsize::new(INITIAL))
    }

    /// Reads the word. `Acquire`: pairs with the `AcqRel` of whichever transition
    /// wrote it, so what that thread published (the output, the message) is seen.
    #[inline]
    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Ordering::Acquire))
    }

    #[inline]
    fn fetch_update<R>(&self, mut f: impl FnMut(Snapshot) -> (Option<Snapshot>, R)) -> R {
        let mut current = self.load();
        loop {
            let (next, ret) = f(current);
            let Some(next) = next else { return ret };
            // AcqRel: see the module header; the failure load is Acquire for the
            // same reason as `load`.
            match self.0.compare_exchange_weak(
                current.0,
                next.0,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return ret,
                Err(actual) => current = Snapshot(actual),
            }
        }
    }

    /// The runner claims the task. Requires `NOTIFIED` (the caller holds the
    /// `Runnable`); clears it and sets `RUNNING`.
    #[inline]
    pub(crate) fn to_running(&self) -> ToRunning {
        self.fetch_update(|s| {
            debug_assert!(s.is_notified() || s.is_complete(), "{s:?}");
            if s.is_complete() {
                return (None, ToRunning::Complete);
            }
            if s.is_running() {
                // Only `to_running_for_shutdown` sets RUNNING while a Runnable
                // is queued; never poll a future it is dropping.
                return (None, ToRunning::Busy);
            }
            let next = Snapshot((s.0 | RUNNING) & !NOTIFIED);
            (
                Some(next),
                ToRunning::Run {
                    cancel: s.0 & (CANCEL_REQ | DRAINING) != 0,
                },
            )
        })
    }

    /// The poll returned `Pending`. Clears `RUNNING`; if the task was notified
    /// meanwhile the caller keeps its reference for the re-submitted `Runnable`,
    /// otherwise the reference is released here. With `deliverable` (nothing
    /// in the future intercepts a cancellation), a pending cancellation
    /// request leaves the word as it is and returns `Cancel`: the runner
    /// delivers it now rather than a poll later, with no second load.
    #[inline]
    pub(crate) fn to_idle(&self, deliverable: bool) -> ToIdle {
        self.fetch_update(|s| {
            debug_assert!(s.is_running(), "{s:?}");
            if deliverable && s.is_cancel_requested() {
                (None, ToIdle::Cancel)
            } else if s.is_notified() {
                // Stay notified: the Runnable the caller holds is re-submitted.
                (Some(Snapshot(s.0 & !RUNNING)), ToIdle::Notified)
            } else {
                let next = Snapshot((s.0 & !RUNNING) - REF_ONE);
                let action = if next.ref_count() == 0 {
                    ToIdle::Dealloc
                } else {
                    ToIdle::Idle
                };
                (Some(next), action)
            }
        })
    }

    /// The runner finished the task with `outcome`. Clears `RUNNING` and
    /// `CANCEL_REQ`, sets `COMPLETE`, and sets `ENDED_CANCELLED` for a
    /// cancellation — or for a value while a request is pending: deciding that
    /// inside this one RMW is what makes `cancel() == true` mean "ends
    /// cancelled" with no window in between (readers of the stored value turn it
    /// into `Cancelled` when they see the bit). Returns the new snapshot: the
    /// caller drops the output itself when join interest is gone, and wakes the
    /// join waker when it is set.
    pub(crate) fn to_complete(&self, outcome: Outcome) -> Snapshot {
        self.fetch_update(|s| {
            debug_assert!(s.is_running() && !s.is_complete(), "{s:?}");
            let cancelled = match outcome {
                Outcome::Cancelled => true,
                Outcome::Value => s.is_cancel_requested(),
                Outcome::Error => false,
            };
            let mut next = (s.0 & !(RUNNING | CANCEL_REQ | DRAINING)) | COMPLETE;
            if cancelled {
                next |= ENDED_CANCELLED;
            }
            (Some(Snapshot(next)), Snapshot(next))
        })
    }

    /// Shutdown claims a task that is not running (the runtime's workers are
    /// stopped, or this is the task's owner thread).
    pub(crate) fn to_running_for_shutdown(&self) -> ToShutdown {
        self.fetch_update(|s| {
            if s.is_borrowed() {
                (None, ToShutdown::Borrowed)
            } else if s.is_complete() || s.is_running() {
                (None, ToShutdown::Skip)
            } else {
                (Some(Snapshot(s.0 | RUNNING)), ToShutdown::Claimed)
            }
        })
    }

    /// `wake_by_ref`: mark notified; if the task was idle take a reference for
    /// the new `Runnable`.
    #[inline]
    pub(crate) fn to_notified_by_ref(&self) -> ToNotified {
        self.fetch_update(|s| {
            if s.is_complete() || s.is_notified() {
                (None, ToNotified::Nothing)
            } else if s.is_running() {
                (Some(Snapshot(s.0 | NOTIFIED)), ToNotified::Nothing)
            } else {
                (
                    Some(Snapshot((s.0 | NOTIFIED) + REF_ONE)),
                    ToNotified::Submit,
                )
            }
        })
    }

    /// `wake` (by value): the waker's own reference becomes the `Runnable`'s when
    /// the task was idle, and is released otherwise.
    #[inline]
    pub(crate) fn to_notified_by_val(&self) -> ToNotified {
        self.fetch_update(|s| {
            if s.is_idle() {
                return (Some(Snapshot(s.0 | NOTIFIED)), ToNotified::Submit);
            }
            let mut next = s.0 - REF_ONE;
            if s.is_running() {
                next |= NOTIFIED;
            }
            let next = Snapshot(next);
            let action = if next.ref_count() == 0 {
                ToNotified::Dealloc
            } else {
                ToNotified::Nothing
            };
            (Some(next), action)
        })
    }

    /// `cancel()`: record a request. An idle task is also borrowed (see
    /// [`ToCancelRequested::Borrowed`]), so the caller can pass the request
    /// on to what it awaits before it schedules it for delivery.
    pub(crate) fn to_cancel_requested(&self) -> ToCancelRequested {
        self.fetch_update(|s| {
            if s.is_complete() {
                (None, ToCancelRequested::AlreadyComplete)
            } else if s.is_idle() {
                // The borrow of `to_borrowed`, already notified: the release
                // submits the `Runnable` that delivers the request.
                let next = Snapshot(borrowed(s).0 | CANCEL_REQ | NOTIFIED);
                (Some(next), ToCancelRequested::Borrowed)
            } else {
                // Running: also mark notified so the runner re-polls and delivers.
                (
                    Some(Snapshot(s.0 | CANCEL_REQ | NOTIFIED)),
                    ToCancelRequested::Recorded,
                )
            }
        })
    }

    /// A dump borrows an idle task (not running, not queued, not complete)
    /// to read what it awaits: sets `RUNNING | BORROWED`. False (nothing
    /// changed) for any other task: a running or queued task is not
    /// suspended, and its record is its runner's. Never waits.
    pub(crate) fn to_borrowed(&self) -> bool {
        // AcqRel (fetch_update): the acquiring half pairs with the runner's
        // `to_idle`, so the borrower reads the record the last poll wrote;
        // `release_borrow` publishes in turn to the next `to_running`.
        self.fetch_update(|s| {
            if s.is_idle() {
                (Some(borrowed(s)), true)
            } else {
                (None, false)
            }
        })
    }

    /// The borrower (`to_borrowed`, or `cancel()`'s `to_cancel_requested`)
    /// lets go: clears `RUNNING | BORROWED`. If the task was notified
    /// meanwhile (a wake-up found it running; `cancel()` notifies with the
    /// claim) it stays notified, a reference is counted for its `Runnable`,
    /// and the caller must submit it (`Submit`); else `Nothing`.
    pub(crate) fn release_borrow(&self) -> ToNotified {
        // AcqRel: as every transition here; the runner's `to_running` (AcqRel)
        // on the submitted Runnable reads what the borrower wrote (the record).
        self.fetch_update(|s| {
            debug_assert!(s.is_borrowed() && s.is_running(), "{s:?}");
            let next = s.0 & !(RUNNING | BORROWED);
            if s.is_notified() {
                (Some(Snapshot(next + REF_ONE)), ToNotified::Submit)
            } else {
                (Some(Snapshot(next)), ToNotified::Nothing)
            }
        })
    }

    /// Withdraws a pending request (delivered through `catch_cancel`, or
    /// `uncancel` reached zero). Returns whether one was pending.
    pub(crate) fn clear_cancel_request(&self) -> bool {
        // AcqRel: pairs with the AcqRel of `to_cancel_requested`.
        self.0.fetch_and(!CANCEL_REQ, Ordering::AcqRel) & CANCEL_REQ != 0
    }

    /// The runner dropped the future of a cancelled task that must wait for
    /// what it awaited: from now on every run delivers (drains).
    pub(crate) fn set_draining(&self) {
        // AcqRel: as every transition here; read back by the runner's
        // `to_running` (AcqRel) on the task's later runs.
        self.0.fetch_or(DRAINING, Ordering::AcqRel);
    }

    /// Re-arms a request from inside the running task (`Cancelled::raise`).
    pub(crate) fn set_cancel_request(&self) {
        // Release: pairs with the Acquire load in the runner's `to_running`/`to_idle`.
        self.0.fetch_or(CANCEL_REQ, Ordering::Release);
    }

    /// The handle stored its waker: publish it. Fails (returns the snapshot) if
    /// the task completed first, in which case the handle reads the output.
    pub(crate) fn set_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update(|s| {
            debug_assert!(s.is_join_interested() && !s.is_join_waker_set(), "{s:?}");
            if s.is_complete() {
                (None, Err(s))
            } else {
                let next = Snapshot(s.0 | JOIN_WAKER);
                (Some(next), Ok(next))
            }
        })
    }

    /// The handle wants to replace its waker: take back exclusive access to the
    /// slot. Fails if the task completed first.
    pub(crate) fn unset_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update(|s| {
            debug_assert!(s.is_join_interested() && s.is_join_waker_set(), "{s:?}");
            if s.is_complete() {
                (None, Err(s))
            } else {
                let next = Snapshot(s.0 & !JOIN_WAKER);
                (Some(next), Ok(next))
            }
        })
    }

    /// The handle is dropped. If the task is not complete, clears
    /// `JOIN_INTEREST | JOIN_WAKER` and returns `Ok(previous)`: the runner will
    /// drop the output, and the handle may drop its waker if `JOIN_WAKER` was set.
    /// If complete, returns `Err`: the output belongs to the handle.
    pub(crate) fn unset_join_interest(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update(|s| {
            debug_assert!(s.is_join_interested(), "{s:?}");
            if s.is_complete() {
                (None, Err(s))
            } else {
                (Some(Snapshot(s.0 & !(JOIN_INTEREST | JOIN_WAKER))), Ok(s))
            }
        })
    }

    /// `add_done_callback`, holding the cold lock: marks that callbacks exist.
    /// Returns the previous snapshot. If it shows `COMPLETE`, completion has
    /// passed its check without seeing the bit and the caller must run the
    /// callback itself; otherwise completion will see the bit and take the
    /// callbacks under the lock, after this caller releases it.
    pub(crate) fn set_has_callbacks(&self) -> Snapshot {
        // AcqRel: orders this RMW against `to_complete`'s in the word's
        // modification order, which is what the argument above relies on.
        Snapshot(self.0.fetch_or(HAS_CALLBACKS, Ordering::AcqRel))
    }

    /// A task refused at spawn: complete and cancelled, held by its handle alone.
    /// Only called before the task is shared.
    pub(crate) fn set_refused(&self) {
        // Release: pairs with the Acquire in `load` by the handle that reads the
        // output.
        self.0.store(
            REF_ONE | COMPLETE | ENDED_CANCELLED | JOIN_INTEREST,
            Ordering::Release,
        );
    }

    /// Takes one more reference.
    #[inline]
    pub(crate) fn ref_inc(&self) {
        // Relaxed: like `Arc::clone`, a new reference is made from an existing
        // one, which already keeps the task alive; nothing is published.
        let prev = self.0.fetch_add(REF_ONE, Ordering::Relaxed);
        if prev > isize::MAX as usize {
            std::process::abort();
        }
    }

    /// Releases `n` references; true if they were the last.
    #[inline]
    pub(crate) fn ref_dec(&self, n: usize) -> bool {
        // AcqRel: the releasing half publishes this holder's writes, the acquire
        // half lets the thread that frees see every other holder's (as `Arc`).
        let prev = Snapshot(self.0.fetch_sub(n * REF_ONE, Ordering::AcqRel));
        debug_assert!(prev.ref_count() >= n, "{prev:?}");
        prev.ref_count() == n
    }

    #[cfg(all(test, not(loom)))]
    pub(crate) fn flags(&self) -> usize {
        self.load().0 & FLAGS
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.load().fmt(f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_of_a_task_that_completes() {
        let s = State::new();
        assert_eq!(s.load().ref_count(), 3);
        assert_eq!(s.to_running(), ToRunning::Run { cancel: false });
        assert!(s.load().is_running() && !s.load().is_notified());
        let done = s.to_complete(Outcome::Value);
        assert!(done.is_complete() && !done.is_running() && done.is_join_interested());
        assert!(!s.ref_dec(1)); // runner
        assert!(!s.ref_dec(1)); // registry
        assert!(s.unset_join_interest().is_err());
        assert!(s.ref_dec(1)); // handle: last
    }

    #[test]
    fn wake_while_running_resubmits_after_poll() {
        let s = State::new();
        let _ = s.to_running();
        assert_eq!(s.to_notified_by_ref(), ToNotified::Nothing);
        assert_eq!(s.to_idle(false), ToIdle::Notified);
        assert_eq!(s.load().ref_count(), 3);
        assert_eq!(s.to_running(), ToRunning::Run { cancel: false });
        assert_eq!(s.to_idle(false), ToIdle::Idle);
        assert_eq!(s.load().ref_count(), 2);
        assert_eq!(s.to_notified_by_ref(), ToNotified::Submit);
        assert_eq!(s.to_notified_by_ref(), ToNotified::Nothing);
        assert_eq!(s.load().ref_count(), 3);
    }

    #[test]
    fn a_deliverable_request_keeps_the_runner_running() {
        let s = State::new();
        let _ = s.to_running();
        s.set_cancel_request();
        let before = s.load();
        assert_eq!(s.to_idle(true), ToIdle::Cancel);
        assert_eq!(s.load(), before, "nothing changed: RUNNING is still held");
        assert_ne!(s.to_idle(false), ToIdle::Cancel, "an intercepted one waits");
        assert!(!s.load().is_running());
    }

    #[test]
    fn a_deliverable_poll_with_no_request_goes_idle() {
        let s = State::new();
        let _ = s.to_running();
        assert_eq!(s.to_idle(true), ToIdle::Idle);
        assert!(!s.load().is_running());
    }

    #[test]
    fn cancel_requests() {
        let s = State::new();
        let _ = s.to_running();
        assert_eq!(s.to_idle(false), ToIdle::Idle);
        assert_eq!(s.to_cancel_requested(), ToCancelRequested::Borrowed);
        assert!(s.load().is_running() && s.load().is_borrowed());
        assert_eq!(s.to_running_for_shutdown(), ToShutdown::Borrowed);
        assert_eq!(
            s.to_notified_by_ref(),
            ToNotified::Nothing,
            "the borrower submits"
        );
        assert_eq!(s.release_borrow(), ToNotified::Submit);
        assert!(!s.load().is_running() && s.load().is_notified());
        assert_eq!(s.load().ref_count(), 3);
        assert_eq!(s.to_cancel_requested(), ToCancelRequested::Recorded);
        assert_eq!(s.to_running(), ToRunning::Run { cancel: true });
        assert!(s.clear_cancel_request());
        assert!(!s.clear_cancel_request());
        let done = s.to_complete(Outcome::Cancelled);
        assert!(done.is_ended_cancelled());
        assert_eq!(s.to_cancel_requested(), ToCancelRequested::AlreadyComplete);
        assert_eq!(s.flags() & CANCEL_REQ, 0);
    }

    #[test]
    fn a_dump_borrows_only_an_idle_task_and_its_release_submits_a_wake_up() {
        let s = State::new();
        assert!(!s.to_borrowed(), "queued: not borrowed");
        let _ = s.to_running();
        assert!(!s.to_borrowed(), "running: not borrowed");
        assert_eq!(s.to_idle(false), ToIdle::Idle);
        let refs = s.load().ref_count();
        assert!(s.to_borrowed());
        assert!(s.load().is_running() && s.load().is_borrowed());
        assert!(!s.to_borrowed(), "one borrower at a time");
        assert_eq!(s.to_running_for_shutdown(), ToShutdown::Borrowed);
        assert_eq!(s.release_borrow(), ToNotified::Nothing, "no wake-up came");
        assert_eq!((s.load().ref_count(), s.load().is_running()), (refs, false));
        assert!(s.to_borrowed());
        assert_eq!(s.to_notified_by_ref(), ToNotified::Nothing, "borrowed");
        assert_eq!(s.release_borrow(), ToNotified::Submit, "the wake-up");
        assert!(s.load().is_notified() && !s.load().is_running());
        assert_eq!(s.load().ref_count(), refs + 1, "the Runnable's");
        assert!(!s.to_borrowed(), "queued again");
    }

    #[test]
    fn a_draining_task_is_delivered_to_on_every_run_until_complete() {
        let s = State::new();
        assert_eq!(s.to_running(), ToRunning::Run { cancel: false });
        s.set_draining();
        assert_eq!(s.to_idle(false), ToIdle::Idle);
        assert_eq!(s.to_notified_by_ref(), ToNotified::Submit);
        assert_eq!(s.to_running(), ToRunning::Run { cancel: true });
        assert!(!s.clear_cancel_request(), "draining is not a request");
        let done = s.to_complete(Outcome::Cancelled);
        assert!(done.is_ended_cancelled() && !done.is_draining());
    }

    #[test]
    fn wake_by_val_releases_when_not_submitting() {
        let s = State::new();
        let _ = s.to_running();
        s.ref_inc(); // a waker
        assert_eq!(s.to_notified_by_val(), ToNotified::Nothing);
        assert_eq!(s.load().ref_count(), 3);
        assert_eq!(s.to_idle(false), ToIdle::Notified);
    }
}
