//! The one result cell: an outcome set once, then taken once or read
//! (cloned) many times, with the wakers of everyone waiting for it and the
//! done callbacks to fire when it is set.
//!
//! # Who uses it
//!
//! - [`Promise`](crate::Promise) keeps a [`ResultCell`] under its mutex; its
//!   waiters read the outcome ([`ResultCell::peek`]).
//! - The sync bridge's `ConcurrentFuture` (weft-loop) keeps one under its
//!   mutex and adds a condvar for blocked threads around it; `result()` and
//!   awaiting [`take`](ResultCell::take) the value.
//! - A [`Task`](crate::Task) cannot pay for a lock and an allocation per task,
//!   so it does not embed the whole cell: its output stays in the task's one
//!   allocation (`raw.rs`, the stage) and is taken by the same rule (moved
//!   out once, then `ResultTaken`; the kept error is in the task's cold
//!   data, so the stage stays a plain `Result`, as small as the output), its
//!   one waiter is the join waker (protocol in `state.rs`),
//!   and its done callbacks are the same [`DoneCallbacks`] list, kept in the
//!   task's cold data.
//!
//! # The rules, one place
//!
//! - **Set once.** A second set is refused (the caller reports
//!   [`InvalidStateError::AlreadyDone`]) and gets its outcome back.
//! - **Take once.** [`Outcome::take`] moves the value or error out; the cell
//!   then remembers only the error (for `exception()` and `cancelled()`); a
//!   second take is [`InvalidStateError::ResultTaken`], the one way every
//!   handle reports a value already gone.
//! - **Wake each waiter once, each through the panic runner**: a waker that
//!   panics is reported through `tracing` and the others are still woken,
//!   the callbacks still fired.

use crate::callback::{DoneCallback, DoneCallbacks};
use crate::error::{InvalidStateError, TaskError};
use crate::panic::wake_all;
use std::fmt;
use std::task::Waker;

/// Where an outcome stands: not set, set, or moved out.
pub(crate) enum Outcome<T> {
    Pending,
    Ready(Result<T, TaskError>),
    /// Moved out by a take; the error, if it was one, is kept.
    Taken(Option<TaskError>),
}

impl<T> Outcome<T> {
    pub(crate) fn is_done(&self) -> bool {
        !matches!(self, Outcome::Pending)
    }

    /// Moves the outcome out (see the module header).
    #[inline]
    pub(crate) fn take(&mut self) -> Result<Result<T, TaskError>, InvalidStateError> {
        match self {
            Outcome::Pending => Err(InvalidStateError::Pending),
            Outcome::Taken(_) => Err(InvalidStateError::ResultTaken),
            Outcome::Ready(out) => {
                // The error stays for `exception()`: one clone, none for a value.
                let kept = out.as_ref().err().cloned();
                match std::mem::replace(self, Outcome::Taken(kept)) {
                    Outcome::Ready(out) => Ok(out),
                    _ => unreachable!("matched Ready above"),
                }
            }
        }
    }

    /// The outcome in place, for readers that clone it.
    pub(crate) fn peek(&self) -> Result<&Result<T, TaskError>, InvalidStateError> {
        match self {
            Outcome::Pending => Err(InvalidStateError::Pending),
            Outcome::Taken(_) => Err(InvalidStateError::ResultTaken),
            Outcome::Ready(out) => Ok(out),
        }
    }

    /// The error it ended with (`Ok(None)` for a value, taken or not).
    pub(crate) fn exception(&self) -> Result<Option<TaskError>, InvalidStateError> {
        match self {
            Outcome::Pending => Err(InvalidStateError::Pending),
            Outcome::Ready(Ok(_)) => Ok(None),
            Outcome::Ready(Err(e)) => Ok(Some(e.clone())),
            Outcome::Taken(e) => Ok(e.clone()),
        }
    }

    /// The error it ended with, by reference.
    fn error(&self) -> Option<&TaskError> {
        match self {
            Outcome::Ready(Err(e)) | Outcome::Taken(Some(e)) => Some(e),
            _ => None,
        }
    }
}

/// A result set once and awaited by many: the outcome, the waiters' wakers
/// and the done callbacks (which receive an `A`). Not synchronised itself:
/// its owner keeps it under a lock and calls [`Wakeups::wake`] after
/// releasing the lock.
///
/// ```
/// use std::sync::Arc;
/// use std::task::{Wake, Waker};
/// use weft_task::{InvalidStateError, ResultCell};
///
/// struct Nothing;
/// impl Wake for Nothing {
///     fn wake(self: Arc<Self>) {}
/// }
///
/// let mut cell = ResultCell::<u8, ()>::new();
/// let mut slot = None;
/// cell.register(&mut slot, &Waker::from(Arc::new(Nothing)));
/// let wakeups = cell.try_set(Ok(7)).unwrap();
/// wakeups.wake().fire(&());
/// assert!(cell.try_set(Ok(8)).is_err());
/// assert_eq!(cell.take().unwrap().unwrap(), 7);
/// assert_eq!(cell.take().unwrap_err(), InvalidStateError::ResultTaken);
/// ```
pub struct ResultCell<T, A: ?Sized> {
    outcome: Outcome<T>,
    /// Someone read the outcome ([`mark_retrieved`](ResultCell::mark_retrieved)):
    /// an error it holds was retrieved (asyncio's `__log_traceback`, negated).
    retrieved: bool,
    /// Waiters' wakers, indexed by the slot each waiter holds.
    waiters: Vec<Option<Waker>>,
    /// No slot below this one is vacant: a new waiter's search for a vacant
    /// slot starts here, so n waiters register in O(n), not O(n²).
    vacant_from: usize,
    callbacks: DoneCallbacks<A>,
}

/// What setting a [`ResultCell`] released: the waiters to wake and the
/// callbacks to fire, outside the owner's lock.
///
/// ```
/// use weft_task::{DoneCallback, ResultCell};
///
/// let mut cell = ResultCell::<(), str>::new();
/// cell.add_done_callback(DoneCallback::new(|who: &str| assert_eq!(who, "owner")))
///     .unwrap();
/// let wakeups = cell.try_set(Ok(())).unwrap(); // under the owner's lock
/// wakeups.wake().fire("owner"); // after releasing it
/// ```
#[must_use = "the waiters are woken only by calling wake"]
pub struct Wakeups<A: ?Sized> {
    waiters: Vec<Option<Waker>>,
    callbacks: DoneCallbacks<A>,
}

impl<A: ?Sized> Wakeups<A> {
    /// Wakes every waiter, each through the panic runner (a panicking waker
    /// is reported and the others still woken), and returns the callbacks
    /// for the owner to fire where it documents.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use std::task::{Wake, Waker};
    /// use weft_task::{DoneCallback, ResultCell};
    ///
    /// struct Count(AtomicUsize);
    /// impl Wake for Count {
    ///     fn wake(self: Arc<Self>) {
    ///         self.0.fetch_add(1, Ordering::SeqCst);
    ///     }
    /// }
    /// let woken = Arc::new(Count(AtomicUsize::new(0)));
    /// let fired = Arc::new(AtomicUsize::new(0));
    /// let f = fired.clone();
    /// let mut cell = ResultCell::<u8, ()>::new();
    /// cell.register(&mut None, &Waker::from(woken.clone()));
    /// cell.add_done_callback(DoneCallback::new(move |_: &()| {
    ///     f.fetch_add(1, Ordering::SeqCst);
    /// }))
    /// .unwrap();
    /// let callbacks = cell.try_set(Ok(1)).unwrap().wake();
    /// assert_eq!(woken.0.load(Ordering::SeqCst), 1, "the waiter is woken");
    /// assert_eq!(fired.load(Ordering::SeqCst), 0, "the callbacks wait for fire");
    /// callbacks.fire(&());
    /// assert_eq!(fired.load(Ordering::SeqCst), 1);
    /// ```
    pub fn wake(self) -> DoneCallbacks<A> {
        // Most completions have no async waiter (a bridge round trip's
        // waiter blocks on a condvar; a promise's is often awaited already
        // done): then no unwind guard and no iterator to build and drop.
        if !self.waiters.is_empty() {
            wake_all(
                "a waker woken on completion",
                self.waiters.into_iter().flatten(),
            );
        }
        self.callbacks
    }
}

impl<A: ?Sized> fmt::Debug for Wakeups<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wakeups")
            .field("waiters", &self.waiters.iter().flatten().count())
            .field("callbacks", &self.callbacks)
            .finish()
    }
}

impl<T, A: ?Sized> ResultCell<T, A> {
    /// An empty cell (no allocation).
    ///
    /// ```
    /// let cell = weft_task::ResultCell::<u8, ()>::new();
    /// assert!(!cell.is_done());
    /// assert!(cell.peek().unwrap_err().is_pending());
    /// ```
    pub const fn new() -> ResultCell<T, A> {
        ResultCell {
            outcome: Outcome::Pending,
            retrieved: false,
            waiters: Vec::new(),
            vacant_from: 0,
            callbacks: DoneCallbacks::new(),
        }
    }

    /// Whether the outcome was set (taken or not).
    ///
    /// ```
    /// let mut cell = weft_task::ResultCell::<u8, ()>::new();
    /// assert!(!cell.is_done());
    /// cell.try_set(Ok(1)).unwrap().wake().fire(&());
    /// assert!(cell.is_done());
    /// cell.take().unwrap().unwrap();
    /// assert!(cell.is_done(), "still done once taken");
    /// ```
    pub fn is_done(&self) -> bool {
        self.outcome.is_done()
    }

    /// Sets the outcome and hands back who to tell; if it was set already,
    /// the outcome is refused and given back.
    ///
    /// ```
    /// let mut cell = weft_task::ResultCell::<u8, ()>::new();
    /// let wakeups = cell.try_set(Ok(1)).unwrap(); // under the owner's lock
    /// wakeups.wake().fire(&()); // after releasing it
    /// let refused = cell.try_set(Ok(2)).unwrap_err();
    /// assert_eq!(refused.unwrap(), 2, "a second set gets its outcome back");
    /// assert_eq!(*cell.peek().unwrap().as_ref().unwrap(), 1);
    /// ```
    pub fn try_set(
        &mut self,
        outcome: Result<T, TaskError>,
    ) -> Result<Wakeups<A>, Result<T, TaskError>> {
        if self.outcome.is_done() {
            return Err(outcome);
        }
        self.outcome = Outcome::Ready(outcome);
        self.vacant_from = 0;
        Ok(Wakeups {
            waiters: std::mem::take(&mut self.waiters),
            callbacks: self.callbacks.take(),
        })
    }

    /// Moves the outcome out: [`InvalidStateError::Pending`] before it is
    /// set, [`InvalidStateError::ResultTaken`] after a take. The error of an
    /// outcome taken stays readable through [`exception`](Self::exception).
    ///
    /// ```
    /// use weft_task::{InvalidStateError, ResultCell, TaskError};
    ///
    /// let mut cell = ResultCell::<u8, ()>::new();
    /// assert_eq!(cell.take().unwrap_err(), InvalidStateError::Pending);
    /// cell.try_set(Err(TaskError::failed(std::fmt::Error))).unwrap().wake().fire(&());
    /// assert!(cell.take().unwrap().unwrap_err().is_failed(), "moved out once");
    /// assert_eq!(cell.take().unwrap_err(), InvalidStateError::ResultTaken);
    /// assert!(cell.exception().unwrap().is_some(), "the error is kept");
    /// ```
    pub fn take(&mut self) -> Result<Result<T, TaskError>, InvalidStateError> {
        self.outcome.take()
    }

    /// The outcome in place, to clone (errors as [`take`](Self::take)).
    ///
    /// ```
    /// let mut cell = weft_task::ResultCell::<String, ()>::new();
    /// cell.try_set(Ok("hi".into())).unwrap().wake().fire(&());
    /// // Every reader clones it; it stays in the cell.
    /// assert_eq!(cell.peek().unwrap().as_ref().unwrap(), "hi");
    /// assert_eq!(cell.peek().unwrap().as_ref().unwrap(), "hi");
    /// assert_eq!(cell.take().unwrap().unwrap(), "hi");
    /// assert!(cell.peek().unwrap_err().is_result_taken());
    /// ```
    pub fn peek(&self) -> Result<&Result<T, TaskError>, InvalidStateError> {
        self.outcome.peek()
    }

    /// The error it ended with: `Ok(None)` for a value (taken or not),
    /// `Err(InvalidStateError::Pending)` before it is set.
    ///
    /// ```
    /// use weft_task::{ResultCell, TaskError};
    ///
    /// let mut ok = ResultCell::<u8, ()>::new();
    /// assert!(ok.exception().unwrap_err().is_pending());
    /// ok.try_set(Ok(1)).unwrap().wake().fire(&());
    /// assert!(ok.exception().unwrap().is_none());
    ///
    /// let mut failed = ResultCell::<u8, ()>::new();
    /// failed.try_set(Err(TaskError::failed(std::fmt::Error))).unwrap().wake().fire(&());
    /// let _ = failed.take(); // the error stays readable after a take
    /// assert!(failed.exception().unwrap().unwrap().is_failed());
    /// ```
    pub fn exception(&self) -> Result<Option<TaskError>, InvalidStateError> {
        self.outcome.exception()
    }

    /// The error it ended with, if set to one (taken or not).
    ///
    /// ```
    /// use weft_task::{ResultCell, TaskError};
    ///
    /// let mut cell = ResultCell::<u8, ()>::new();
    /// assert!(cell.error().is_none(), "not set");
    /// cell.try_set(Err(TaskError::failed(std::fmt::Error))).unwrap().wake().fire(&());
    /// assert!(cell.error().unwrap().is_failed());
    /// ```
    pub fn error(&self) -> Option<&TaskError> {
        self.outcome.error()
    }

    /// Records that the outcome was read (a `result()`, an `exception()`,
    /// an awaiter that got it): an error it holds is no longer reported as
    /// never retrieved. Taking the outcome needs no call.
    ///
    /// ```
    /// use weft_task::{ResultCell, TaskError};
    ///
    /// let mut cell = ResultCell::<u8, ()>::new();
    /// cell.try_set(Err(TaskError::failed(std::fmt::Error))).unwrap().wake().fire(&());
    /// let seen = cell.peek().unwrap().is_err(); // a reader saw the error...
    /// assert!(seen && cell.unretrieved_error().is_some());
    /// cell.mark_retrieved(); // ...and its owner records that it did
    /// assert!(cell.unretrieved_error().is_none());
    /// ```
    pub fn mark_retrieved(&mut self) {
        self.retrieved = true;
    }

    /// The error it was set to, if nobody read or took it: what the owner
    /// reports as never retrieved when it is dropped. Never a cancellation.
    ///
    /// ```
    /// use weft_task::{ResultCell, TaskError};
    ///
    /// let mut cell = ResultCell::<u8, ()>::new();
    /// let _ = cell.try_set(Err(TaskError::failed(std::fmt::Error))).unwrap().wake();
    /// assert!(cell.unretrieved_error().is_some());
    /// cell.mark_retrieved();
    /// assert!(cell.unretrieved_error().is_none());
    /// ```
    pub fn unretrieved_error(&self) -> Option<&TaskError> {
        match &self.outcome {
            Outcome::Ready(Err(e)) if !self.retrieved && !e.is_cancelled() => Some(e),
            _ => None,
        }
    }

    /// Whether it ended cancelled.
    ///
    /// ```
    /// use weft_task::{Cancelled, ResultCell, TaskError};
    ///
    /// let mut cell = ResultCell::<u8, ()>::new();
    /// assert!(!cell.is_cancelled());
    /// let cancelled = TaskError::from(Cancelled::with_message("stop"));
    /// cell.try_set(Err(cancelled)).unwrap().wake().fire(&());
    /// assert!(cell.is_cancelled());
    /// assert!(cell.unretrieved_error().is_none(), "never reported as unretrieved");
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.error().is_some_and(TaskError::is_cancelled)
    }

    /// Registers (or refreshes) a waiter's waker. `slot` is the waiter's own
    /// index into the list, `None` until its first registration. A slot the
    /// list no longer has (it was emptied when the outcome was set) counts as
    /// none: the waiter gets a new one.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::task::{Wake, Waker};
    /// use weft_task::ResultCell;
    ///
    /// struct Nothing;
    /// impl Wake for Nothing {
    ///     fn wake(self: Arc<Self>) {}
    /// }
    /// let waker = Waker::from(Arc::new(Nothing));
    ///
    /// let mut cell = ResultCell::<u8, ()>::new();
    /// let mut slot = None;
    /// cell.register(&mut slot, &waker);
    /// cell.try_set(Ok(1)).unwrap().wake().fire(&());
    /// // The list was emptied by the set; the stale slot is not an index into it.
    /// cell.register(&mut slot, &waker);
    /// ```
    pub fn register(&mut self, slot: &mut Option<usize>, waker: &Waker) {
        match slot.and_then(|i| self.waiters.get_mut(i)) {
            Some(Some(w)) if w.will_wake(waker) => {}
            Some(w) => *w = Some(waker.clone()),
            None => {
                let from = self.vacant_from.min(self.waiters.len());
                let vacant = self.waiters[from..].iter().position(Option::is_none);
                let i = match vacant {
                    Some(k) => {
                        self.waiters[from + k] = Some(waker.clone());
                        from + k
                    }
                    None => {
                        self.waiters.push(Some(waker.clone()));
                        self.waiters.len() - 1
                    }
                };
                self.vacant_from = i + 1;
                *slot = Some(i);
            }
        }
    }

    /// Drops a waiter's waker (the waiter went away); its slot is reused.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use std::task::{Wake, Waker};
    /// use weft_task::ResultCell;
    ///
    /// struct Count(AtomicUsize);
    /// impl Wake for Count {
    ///     fn wake(self: Arc<Self>) {
    ///         self.0.fetch_add(1, Ordering::SeqCst);
    ///     }
    /// }
    /// let (gone, stays) = (Arc::new(Count(AtomicUsize::new(0))), Arc::new(Count(AtomicUsize::new(0))));
    /// let mut cell = ResultCell::<u8, ()>::new();
    /// let (mut a, mut b) = (None, None);
    /// cell.register(&mut a, &Waker::from(gone.clone()));
    /// cell.deregister(a.take().unwrap()); // the first waiter went away
    /// cell.register(&mut b, &Waker::from(stays.clone()));
    /// assert_eq!(b, Some(0), "its slot is reused");
    /// cell.try_set(Ok(1)).unwrap().wake().fire(&());
    /// assert_eq!(gone.0.load(Ordering::SeqCst), 0);
    /// assert_eq!(stays.0.load(Ordering::SeqCst), 1);
    /// ```
    pub fn deregister(&mut self, slot: usize) {
        if let Some(w) = self.waiters.get_mut(slot) {
            *w = None;
            self.vacant_from = self.vacant_from.min(slot);
        }
    }

    /// Registers a done callback, to run in the context current now (see
    /// `contextvars`); if the outcome is set already, gives it back for the
    /// caller to fire (as it would fire the list).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use weft_task::{DoneCallback, DoneCallbacks, ResultCell};
    ///
    /// let calls = Arc::new(AtomicUsize::new(0));
    /// let c = calls.clone();
    /// let cb = DoneCallback::new(move |_: &()| {
    ///     c.fetch_add(1, Ordering::SeqCst);
    /// });
    /// let mut cell = ResultCell::<u8, ()>::new();
    /// cell.add_done_callback(cb.clone()).unwrap(); // kept until the set
    /// cell.try_set(Ok(1)).unwrap().wake().fire(&());
    /// assert_eq!(calls.load(Ordering::SeqCst), 1);
    /// // Set already: given back, and the caller fires it.
    /// let late = cell.add_done_callback(cb).unwrap_err();
    /// let mut list = DoneCallbacks::new();
    /// list.push(late);
    /// list.fire(&());
    /// assert_eq!(calls.load(Ordering::SeqCst), 2);
    /// ```
    pub fn add_done_callback(&mut self, cb: DoneCallback<A>) -> Result<(), DoneCallback<A>> {
        let cb = cb.in_current_context();
        if self.outcome.is_done() {
            return Err(cb);
        }
        self.callbacks.push(cb);
        Ok(())
    }

    /// Removes every registration of `cb`; returns how many there were.
    ///
    /// ```
    /// use weft_task::{DoneCallback, ResultCell};
    ///
    /// let cb = DoneCallback::new(|_: &()| unreachable!("removed before the set"));
    /// let mut cell = ResultCell::<u8, ()>::new();
    /// cell.add_done_callback(cb.clone()).unwrap();
    /// cell.add_done_callback(cb.clone()).unwrap();
    /// assert_eq!(cell.remove_done_callback(&cb), 2);
    /// assert_eq!(cell.remove_done_callback(&cb), 0);
    /// cell.try_set(Ok(1)).unwrap().wake().fire(&());
    /// ```
    pub fn remove_done_callback(&mut self, cb: &DoneCallback<A>) -> usize {
        self.callbacks.remove(cb)
    }
}

impl<T, A: ?Sized> Default for ResultCell<T, A> {
    fn default() -> Self {
        ResultCell::new()
    }
}

impl<T, A: ?Sized> fmt::Debug for ResultCell<T, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.outcome {
            Outcome::Pending => "pending",
            Outcome::Ready(Ok(_)) => "finished",
            Outcome::Ready(Err(TaskError::Cancelled(_)))
            | Outcome::Taken(Some(TaskError::Cancelled(_))) => "cancelled",
            Outcome::Ready(Err(_)) | Outcome::Taken(Some(_)) => "failed",
            Outcome::Taken(None) => "taken",
        };
        f.debug_struct("ResultCell")
            .field("state", &format_args!("{state}"))
            .finish_non_exhaustive()
    }
}
