//! What a task is suspended on: its *await record*, asyncio's
//! `task._fut_waiter`, which `task.cancel()` cancels at once.
//!
//! A leaf future that returns `Pending` inside a task (a [`Task`](crate::Task)
//! handle, a promise's waiter, weft-loop's `ConcurrentFuture`) records its
//! target in the task's header ([`suspend`]); once it is ready, or dropped
//! inside the task, it forgets it ([`resume`], [`forget`]). The record keeps a counted
//! reference to the target and the number of the poll that wrote it: only a
//! record of the task's latest poll says what the task awaits now. Where one
//! poll leaves several leaves pending (`join!` of two handles) the record is
//! the last of them; the drop that delivers the cancellation still reaches
//! every one (`chain.rs`). Combinators watch their children without
//! recording them (`Task::poll_done`), as asyncio's gather is the awaited
//! future rather than its children.
//!
//! # Who touches the record
//!
//! | who                       | when                                   | holding |
//! |---------------------------|----------------------------------------|---------|
//! | a leaf: `record`, `forget`| inside a poll of the task              | the runner's `RUNNING` |
//! | the runner                | delivering a cancellation; completing  | `RUNNING` |
//! | `cancel()`                | the task idle: not running, not queued | `RUNNING` borrowed (`BORROWED`) |
//!
//! Every access is made holding `RUNNING`, so the record needs no lock of
//! its own and a leaf's record costs two thread-local reads and a compare
//! (plus a reference count for a new target). The record is boxed at the
//! task's first recorded suspension and kept until its future goes
//! (`clear`): one word in every task's header instead of three, one small
//! allocation in a task that awaits a task, a promise or a combinator.
//!
//! # `cancel()` of an idle task
//!
//! The one read-modify-write that records the request also borrows an idle
//! task: it sets `RUNNING | BORROWED | NOTIFIED` and counts a reference for
//! a `Runnable` (`State::to_cancel_requested`). Holding `RUNNING`, the
//! canceller reads the record; if it is of the latest poll, it marks it
//! passed and cancels the target with the request's message, then lets go
//! (`State::release_borrow`) and submits the `Runnable`, which delivers the
//! request as before. A task running or queued is not borrowed: its record
//! is the runner's, and the delivery passes the request down as it did.
//!
//! No wake-up is lost: while borrowed the task reads as running and
//! notified, so a wake-up (the target's end, say) changes nothing and
//! submits nothing, and the `Runnable` the canceller submits runs the task.
//! The canceller never touches the future, so a task pinned to its loop may
//! be borrowed from any thread. Shutdown finding a task borrowed yields until
//! the borrow ends (`RawTask::shutdown`): a borrow lasts one target's cancel.
//!
//! The delivery that follows learns from the record which target had the
//! request already (`passed_for_delivery`); that leaf only waits for its
//! target to end, so the target sees one request, as in asyncio.

use crate::chain::{AwaitDescription, AwaitMark, AwaitTarget};
use crate::context;
use crate::error::Cancelled;
use crate::header::{AwaitRecord, Awaiting, Header, RawTask, TaskRef};
use std::ptr::NonNull;
use std::sync::Arc;

/// A leaf future returns `Pending`: inside a task's poll, stamps `mark` with
/// this poll and records `target` as what the task awaits now (its latest
/// record); outside a task, clears `mark` and records nothing.
///
/// ```
/// use std::sync::Arc;
/// use weft_task::awaiting;
/// use weft_task::chain::{AwaitMark, AwaitTarget};
/// use weft_task::Cancelled;
///
/// struct Gate;
/// impl AwaitTarget for Gate {
///     fn cancel_awaited(self: Arc<Self>, _: &Cancelled) {}
/// }
/// let (gate, mut mark) = (Arc::new(Gate), AwaitMark::new());
/// awaiting::suspend(&mut mark, &gate); // outside a task: records nothing
/// assert!(!mark.is_set());
/// awaiting::resume(&mut mark, Arc::as_ptr(&gate) as *const ());
/// ```
#[inline]
pub fn suspend<T: AwaitTarget + 'static>(mark: &mut AwaitMark, target: &Arc<T>) {
    let addr = Arc::as_ptr(target) as *const () as usize;
    suspend_with(mark, addr, || Awaiting::Other(target.clone()));
}

/// [`suspend`] for a task handle: the task is the target.
#[inline]
pub(crate) fn suspend_on_task(mark: &mut AwaitMark, raw: RawTask) {
    suspend_with(mark, addr_of(raw), || {
        Awaiting::Task(TaskRef::from_raw_inc(raw))
    });
}

/// The leaf future stamped `mark` returns `Ready`: if it was pending, it is
/// awaited no more ([`forget`] of its `target`, the address it recorded).
#[inline]
pub fn resume(mark: &mut AwaitMark, target: *const ()) {
    if mark.is_set() {
        mark.ready();
        forget(target);
    }
}

/// A task's address, as its record names it.
#[inline]
pub(crate) fn addr_of(raw: RawTask) -> usize {
    raw.header_ptr().as_ptr() as usize
}

#[inline]
fn suspend_with(mark: &mut AwaitMark, addr: usize, make: impl FnOnce() -> Awaiting) {
    let Some((task, poll)) = context::current_poll() else {
        mark.set(None);
        return;
    };
    mark.set(Some((task.as_ptr() as usize, poll)));
    let header = header_of(task);
    if must_replace(header, addr, poll, false) {
        replace(header, poll, make());
    }
}

/// Re-stamps a record of `addr` with this poll; true if the record must be
/// replaced by the new target instead (with `yield_to_leaf`: not when
/// another target was recorded in this same poll).
#[inline(always)]
fn must_replace(header: &Header, addr: usize, poll: u32, yield_to_leaf: bool) -> bool {
    header.awaiting.with_mut(|record| {
        // SAFETY: the caller is polling the task: it holds RUNNING.
        let Some(r) = unsafe { &mut **record }.as_deref_mut() else {
            return true;
        };
        match &r.target {
            Some(t) if t.addr() == addr => {
                r.poll = poll;
                r.passed = false;
                false
            }
            // A leaf's record of this poll.
            Some(_) if yield_to_leaf && r.poll == poll => false,
            _ => true,
        }
    })
}

/// [`suspend`] for a target that is only described ([`Described`]: a
/// combinator, a lock), with no mark (nothing to deliver a cancellation
/// to): recorded unless a leaf future recorded another target in this same
/// poll already (the innermost thing awaited wins, and a leaf's record is
/// what `cancel()` reaches at once). Outside a task, nothing.
///
/// ```
/// use weft_task::awaiting::{self, Described};
///
/// let gate = Described::new(weft::AwaitDescription::new("gate"));
/// awaiting::record_described(&gate); // outside a task: records nothing
/// awaiting::forget(std::sync::Arc::as_ptr(&gate) as *const ());
/// ```
#[inline]
pub fn record_described(target: &Arc<Described>) {
    if let Some(current) = context::current_poll() {
        record_described_in(current, target);
    }
}

/// [`record_described`] in the poll `(task, poll)` that the caller has read
/// from the context.
#[inline]
fn record_described_in(current: (NonNull<()>, u32), target: &Arc<Described>) {
    record_described_at(current, target.addr(), || Awaiting::Other(target.clone()));
}

/// Records the described target at `addr` (made by `make` if the record
/// must change) in the poll `(task, poll)`, unless a leaf recorded another
/// target in this poll.
#[inline]
fn record_described_at(
    (task, poll): (NonNull<()>, u32),
    addr: usize,
    make: impl FnOnce() -> Awaiting,
) {
    let header = header_of(task);
    if must_replace(header, addr, poll, true) {
        replace(header, poll, make());
    }
}

/// A new target: the record is replaced (the old one released).
#[inline(never)]
fn replace(header: &Header, poll: u32, target: Awaiting) {
    let replaced = header.awaiting.with_mut(|record| {
        // SAFETY: this thread is polling the task: it holds RUNNING.
        let record = unsafe { &mut **record };
        match record {
            Some(r) => {
                r.poll = poll;
                r.passed = false;
                r.target.replace(target)
            }
            None => {
                *record = Some(Box::new(AwaitRecord {
                    poll,
                    passed: false,
                    target: Some(target),
                }));
                None
            }
        }
    });
    // Outside the cell: the last reference to a task frees it.
    drop(replaced);
}

/// The leaf future that awaited `target` (the address it recorded) is
/// ready, or dropped inside the task: if it is the record, the task awaits
/// it no more. Outside a task, nothing.
///
/// ```
/// weft_task::awaiting::forget(std::ptr::null()); // outside a task: nothing
/// ```
#[inline(never)]
pub fn forget(target: *const ()) {
    let Some((task, _)) = context::current_poll() else {
        return;
    };
    let header = header_of(task);
    let forgotten = header.awaiting.with_mut(|record| {
        // SAFETY: this thread is polling (or dropping the future of) the
        // task: it holds RUNNING.
        let record = unsafe { &mut **record }.as_deref_mut()?;
        if record
            .target
            .as_ref()
            .is_some_and(|t| t.addr() == target as usize)
        {
            record.target.take()
        } else {
            None
        }
    });
    drop(forgotten);
}

/// For a delivery at poll `poll` of the task: the target a `cancel()`
/// passed the request to already (its address), if it is that poll's record.
///
/// # Safety
///
/// The caller holds the task's `RUNNING`.
pub(crate) unsafe fn passed_for_delivery(header: &Header, poll: u32) -> Option<usize> {
    header.awaiting.with(|record| {
        // SAFETY: RUNNING is the caller's.
        let record = unsafe { &**record }.as_deref()?;
        let target = record.target.as_ref()?;
        (record.passed && record.poll == poll).then(|| target.addr())
    })
}

/// The future is gone (delivered, completed): it awaits nothing any more.
/// The record has no drop glue (`Header::awaiting`): this is its drop.
///
/// # Safety
///
/// The caller holds the task's `RUNNING`.
#[inline]
pub(crate) unsafe fn clear(header: &Header) {
    let cleared = header.awaiting.with_mut(|record| {
        // SAFETY: RUNNING is the caller's.
        unsafe { (**record).take() }
    });
    if cleared.is_some() {
        drop(cleared);
    }
}

fn header_of<'a>(task: NonNull<()>) -> &'a Header {
    // SAFETY: the context names the task being polled on this thread, which
    // the runner keeps alive while it polls it.
    unsafe { task.cast::<Header>().as_ref() }
}

/// An await target that is only described, for task dumps: a combinator
/// (gather, wait, a timeout scope, a task group) or a lock or queue a task
/// is suspended in. Its `cancel_awaited` does nothing: cancelling the task
/// reaches the combinator's children, or leaves the lock's wait, when the
/// task's future is dropped, by the rules each of them documents, as
/// before the target was recorded.
///
/// ```
/// use weft_task::awaiting::Described;
/// use weft_task::chain::AwaitTarget;
///
/// let d = Described::new(weft::AwaitDescription::new("lock"));
/// assert_eq!(d.describe().kind, "lock");
/// ```
#[derive(Debug)]
pub struct Described(AwaitDescription);

impl Described {
    /// A target described by its kind alone, made at compile time: for a
    /// `static` that every wait of that kind records
    /// ([`DescribedWait::pending_static`]).
    ///
    /// ```
    /// use weft_task::awaiting::Described;
    /// use weft_task::chain::AwaitTarget;
    ///
    /// static PUT: Described = Described::of_kind("queue put");
    /// assert_eq!(PUT.describe().kind, "queue put");
    /// ```
    pub const fn of_kind(kind: &'static str) -> Described {
        Described(AwaitDescription {
            kind,
            detail: None,
            tasks: Vec::new(),
        })
    }

    /// A target described as `description`.
    ///
    /// ```
    /// let d = weft_task::awaiting::Described::new(weft::AwaitDescription::new("queue"));
    /// # drop(d);
    /// ```
    pub fn new(description: AwaitDescription) -> Arc<Described> {
        Arc::new(Described(description))
    }

    /// Its address: its identity in an await record, whether it is shared
    /// (`Arc`) or `static`.
    fn addr(&self) -> usize {
        self as *const Described as usize
    }
}

impl AwaitTarget for Described {
    fn cancel_awaited(self: Arc<Self>, _: &Cancelled) {}

    fn describe(&self) -> AwaitDescription {
        self.0.clone()
    }
}

/// What a combinator or lock embeds to be recorded while it leaves its task
/// pending: a [`Described`] target, recorded at each `Pending` and forgotten
/// when the wait is ready or dropped. The target is either
///
/// - the wait's own ([`pending`](Self::pending)), made at its first
///   `Pending` (one `Arc` per combinator call, none per poll) and kept for
///   the next (a stream's next item), described as it was made; or
/// - a `static` shared by every wait of one kind
///   ([`pending_static`](Self::pending_static), [`Described::of_kind`]), for
///   waits described by their kind alone (`"lock"`, `"queue put"`...): no
///   allocation and no reference count per wait, since the target lives for
///   ever. (An `Arc` per wait was about 7% of `semaphore_contended`'s
///   instructions, in `malloc`/`free` alone; a target per thread and kind,
///   counted, still cost two reference-count read-modify-writes a wait.)
///
/// A wait records in one of the two ways, always the same (switching
/// replaces what it holds: a new own target is made).
///
/// The one difference of a shared target: [`forget`] compares addresses, so
/// where one task has two waits of the same kind pending at once (a `join!`
/// of two `acquire()`s) and one of them completes, the task's record is
/// cleared although the other still waits, until that one is polled again
/// and records itself. A dump taken in between shows the task awaiting
/// nothing; cancellation is unaffected (a described target's
/// `cancel_awaited` does nothing: the wait is left when its future drops).
/// A shared target is forgotten once, at [`ready`](Self::ready): the drop of
/// a wait that was ready does not clear a later wait's record of the same
/// kind.
///
/// ```
/// use weft_task::awaiting::DescribedWait;
///
/// let mut wait = DescribedWait::new();
/// wait.pending(|| weft::AwaitDescription::new("gate")); // outside a task: records nothing
/// wait.ready();
/// static LOCK: weft_task::awaiting::Described = weft_task::awaiting::Described::of_kind("lock");
/// let mut lock_wait = DescribedWait::new();
/// lock_wait.pending_static(&LOCK); // likewise
/// lock_wait.ready();
/// ```
#[derive(Default)]
pub struct DescribedWait {
    target: WaitTarget,
}

/// What a [`DescribedWait`] recorded.
#[derive(Default)]
enum WaitTarget {
    /// Nothing yet (or a shared target since forgotten).
    #[default]
    None,
    /// The wait's own target, kept once made.
    Own(Arc<Described>),
    /// The shared `static` target that the last `Pending` recorded, until
    /// `ready`.
    Static(&'static Described),
}

impl DescribedWait {
    /// Nothing recorded yet.
    pub const fn new() -> DescribedWait {
        DescribedWait {
            target: WaitTarget::None,
        }
    }

    /// The combinator returns `Pending` in a task's poll: records its own
    /// target, making it with `describe` the first time.
    #[inline]
    pub fn pending(&mut self, describe: impl FnOnce() -> AwaitDescription) {
        let Some(current) = context::current_poll() else {
            return;
        };
        if !matches!(self.target, WaitTarget::Own(_)) {
            self.target = WaitTarget::Own(Described::new(describe()));
        }
        if let WaitTarget::Own(target) = &self.target {
            record_described_in(current, target);
        }
    }

    /// The wait returns `Pending` in a task's poll: records `target`, a
    /// `static` shared by the waits of its kind (see the type's doc).
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::task::Poll;
    /// use weft_task::awaiting::{Described, DescribedWait};
    ///
    /// static LOCK: Described = Described::of_kind("lock");
    /// weft::run(async {
    ///     let mut wait = DescribedWait::new();
    ///     let mut polls = 0;
    ///     // A wait that pends once, shown in a dump as `lock` meanwhile.
    ///     poll_fn(|cx| {
    ///         polls += 1;
    ///         if polls == 1 {
    ///             wait.pending_static(&LOCK);
    ///             cx.waker().wake_by_ref();
    ///             return Poll::Pending;
    ///         }
    ///         wait.ready();
    ///         Poll::Ready(())
    ///     })
    ///     .await;
    /// });
    /// ```
    #[inline]
    pub fn pending_static(&mut self, target: &'static Described) {
        let Some(current) = context::current_poll() else {
            return;
        };
        record_described_at(current, target.addr(), || Awaiting::Static(target));
        self.target = WaitTarget::Static(target);
    }

    /// The wait is ready (or dropped): the task awaits it no more. An own
    /// target is kept for the next `Pending`; a static one is let go.
    #[inline]
    pub fn ready(&mut self) {
        let addr = match self.target {
            WaitTarget::None => return,
            WaitTarget::Own(ref target) => target.addr(),
            WaitTarget::Static(target) => {
                self.target = WaitTarget::None;
                target.addr()
            }
        };
        forget(addr as *const ());
    }
}

impl Drop for DescribedWait {
    #[inline]
    fn drop(&mut self) {
        self.ready();
    }
}

impl std::fmt::Debug for DescribedWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DescribedWait")
            .field("recorded", &!matches!(self.target, WaitTarget::None))
            .finish()
    }
}

#[cfg(test)]
#[cfg(not(loom))]
mod tests {
    use super::*;

    static LOCK: Described = Described::of_kind("lock");

    #[test]
    fn a_static_wait_outside_a_task_records_and_remembers_nothing() {
        let mut w = DescribedWait::new();
        w.pending_static(&LOCK);
        assert!(matches!(w.target, WaitTarget::None));
        w.ready();
        assert!(matches!(w.target, WaitTarget::None));
        assert_eq!(LOCK.describe().kind, "lock");
    }
}
