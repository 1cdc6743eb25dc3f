//! Cancellation down the await chain, and back up: what a task awaits is
//! cancelled with it, and the task ends only after that has ended.
//!
//! asyncio passes `task.cancel()` to the future the task is blocked on
//! (`_fut_waiter.cancel()`), and the `CancelledError` comes back up through
//! the task's coroutine only once that future has ended. weft delivers a
//! cancellation by dropping the task's future (or a
//! [`catch_cancel`](crate::catch_cancel) wrapper's inner future), so the same
//! two halves happen here in the drop:
//!
//! 0. **At once.** `cancel()` of a task suspended on a leaf passes the
//!    request to that leaf's target before it returns, as asyncio's
//!    `_fut_waiter.cancel()` does (the await record, `awaiting.rs`). The
//!    delivery below then tells that leaf the target had it already, so the
//!    target sees the one request.
//! 1. **Down.** While the future is dropped, this thread holds the
//!    cancellation and the stamp of the task poll it is delivered at
//!    (`EnterDelivery`). A leaf future (a `Task` handle, a promise waiter, a
//!    `ConcurrentFuture`) remembers in an [`AwaitMark`] the poll it last
//!    returned `Pending` in; if that is the stamp being delivered, the task
//!    was awaiting it right now, and its destructor passes the cancellation
//!    on ([`AwaitMark::delivering`]).
//! 2. **Back up.** A leaf whose target does not end synchronously (a task
//!    has to run its own cleanup; a promise is settled on the spot and needs
//!    nothing) hands the delivery something to wait for
//!    ([`wait_for_end`]: an [`Awaited`]). When the drop is over, the
//!    deliverer takes that list (`EnterDelivery::finish`) and, if it is not
//!    empty, ends only after each entry has ended: the runner keeps the task
//!    in its *draining* stage (future gone, not complete; `raw.rs`), a
//!    `catch_cancel` wrapper returns `Err(Cancelled)` only then (`cancel.rs`).
//!
//! # Draining
//!
//! | stage of the canceller | who polls `Drains`          | a further `cancel()` |
//! |------------------------|-------------------------------|----------------------|
//! | task, future dropped   | the runner, under `RUNNING`   | consumed, passed on to every entry |
//! | `catch_cancel` wrapper | the wrapper, in its task poll | consumed by the wrapper (it counts as intercepting), passed on |
//!
//! # Cycles
//!
//! Tasks can await each other in a cycle (A awaits B's handle, B awaits
//! A's). Cancelled, each would drain until the next one ended, for ever:
//! the wait closes on a task that is itself waiting. So every wait of a
//! cancelled task (or `catch_cancel` wrapper) for a task's end is an edge
//! of one process-wide graph (`WAITS`), added when the delivery takes the
//! wait and removed when the wait is over. A wait whose target already
//! waits, through such edges, for the waiter would close a cycle: it is not
//! taken, as if that target had ended, so the cycle is cut where it closes
//! and every task of it ends cancelled, in the order a chain cut there ends
//! in. (asyncio offers nothing to follow: its `cancel()` recurses around
//! such a cycle until `RecursionError`.) The look and the insertion happen
//! under the graph's one lock, so of two waits closing a cycle at the same
//! time the later sees the earlier. Every edge is a wait that lasts until
//! its target ends, so a path found is a real one: nothing is cut that
//! would have ended.
//!
//! No wake-up is lost: each [`Awaited`] registers the canceller's waker and
//! checks for the end in the same step, under the target's own protocol (a
//! task's join waker, `state.rs`; a result cell's waiter list under its
//! lock), exactly as awaiting it does; the canceller is not complete, so the
//! wake-up finds it and schedules it. Everything else here is thread-local
//! or touched only by the thread holding the canceller's `RUNNING`, bar the
//! graph of waits behind its one lock (above), so this adds no cross-thread
//! protocol of its own.

use crate::context::{self, PollStamp};
use crate::error::Cancelled;
use crate::id::TaskId;
use crate::loom::sync::Mutex;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::task::{Context, Poll};

thread_local! {
    static DELIVERING: RefCell<Option<Delivery>> = const { RefCell::new(None) };
}

/// The waits of cancelled tasks for tasks' ends (see "Cycles"), by
/// address. Touched only on the cancellation path, by tasks awaiting tasks.
#[derive(Default)]
struct Waits {
    /// Each waiter, and the tasks it waits for, one entry per wait.
    out: BTreeMap<usize, Vec<usize>>,
    /// Each task waited for, and its waiters, one entry per wait.
    into: BTreeMap<usize, Vec<usize>>,
}

#[cfg(not(loom))]
static WAITS: Mutex<Waits> = Mutex::new(Waits {
    out: BTreeMap::new(),
    into: BTreeMap::new(),
});
#[cfg(loom)]
loom::lazy_static! {
    static ref WAITS: Mutex<Waits> = Mutex::new(Waits::default());
}

/// Adds the wait of `waiter` for `target`, unless `target` already waits,
/// through the graph, for `waiter`: then that wait would close a cycle and
/// is not added (false).
fn add_wait(waiter: usize, target: usize) -> bool {
    let mut waits = WAITS.lock();
    if waits.closes_cycle(waiter, target) {
        return false;
    }
    waits.out.entry(waiter).or_default().push(target);
    waits.into.entry(target).or_default().push(waiter);
    true
}

/// Removes one wait of `waiter` for `target` (it is over).
fn remove_wait(waiter: usize, target: usize) {
    let mut waits = WAITS.lock();
    remove_one(&mut waits.out, waiter, target);
    remove_one(&mut waits.into, target, waiter);
}

/// Removes one `value` from `key`'s list, and the key with its last value.
fn remove_one(map: &mut BTreeMap<usize, Vec<usize>>, key: usize, value: usize) {
    let Some(values) = map.get_mut(&key) else {
        return;
    };
    if let Some(i) = values.iter().position(|&v| v == value) {
        values.swap_remove(i);
    }
    if values.is_empty() {
        map.remove(&key);
    }
}

impl Waits {
    /// Whether a wait of `waiter` for `target` would close a cycle: whether
    /// `target` waits, through the graph, for `waiter`.
    ///
    /// Searched from both ends in turn, a task at a time: down from `target`
    /// along the waits, and up from `waiter` along the waits for it; the
    /// first search to end decides. That costs at most about twice the
    /// smaller side, so links joining a long chain (a chain cancelled at
    /// once, its links delivered in any order) cost `O(n log n)` in all,
    /// where a search down alone was quadratic.
    fn closes_cycle(&self, waiter: usize, target: usize) -> bool {
        if waiter == target {
            return true;
        }
        // The usual case: nobody waits for the waiter, or the target waits
        // for nothing.
        if !self.into.contains_key(&waiter) || !self.out.contains_key(&target) {
            return false;
        }
        let mut down = Search::from(target);
        let mut up = Search::from(waiter);
        loop {
            if let Some(found) = down.step(&self.out, waiter) {
                return found;
            }
            if let Some(found) = up.step(&self.into, target) {
                return found;
            }
        }
    }
}

/// One direction of [`Waits::closes_cycle`]'s search.
struct Search {
    seen: BTreeSet<usize>,
    next: Vec<usize>,
}

impl Search {
    fn from(start: usize) -> Search {
        Search {
            seen: BTreeSet::from([start]),
            next: vec![start],
        }
    }

    /// Looks at the next task's edges: `Some(true)` if one leads to `goal`,
    /// `Some(false)` if nothing is left to look at, `None` to go on.
    fn step(&mut self, edges: &BTreeMap<usize, Vec<usize>>, goal: usize) -> Option<bool> {
        let Some(task) = self.next.pop() else {
            return Some(false);
        };
        for &next in edges.get(&task).into_iter().flatten() {
            if next == goal {
                return Some(true);
            }
            if self.seen.insert(next) {
                self.next.push(next);
            }
        }
        None
    }
}

/// A cancellation being delivered on this thread: the error, the poll it is
/// delivered at, and what the deliverer must wait for before it ends.
struct Delivery {
    cancelled: Cancelled,
    at: PollStamp,
    /// The target (its address) a `cancel()` passed this request to already.
    passed: Option<usize>,
    ends: Vec<End>,
}

/// One thing a delivery (then a [`Drains`]) waits for.
struct End {
    awaited: Box<dyn Awaited>,
    /// For the end of a task ([`wait_for_task_end`]): the waiter's address
    /// and the task's, an edge of [`WAITS`] while this lives.
    edge: Option<(usize, usize)>,
}

impl End {
    /// Out of the graph: the wait is over, or handed on.
    fn leave_graph(&mut self) -> Option<usize> {
        let (waiter, target) = self.edge.take()?;
        remove_wait(waiter, target);
        Some(target)
    }
}

impl Drop for End {
    fn drop(&mut self) {
        // Before `awaited` goes (and with it, the reference on the task).
        self.leave_graph();
    }
}

/// What a task can await and `cancel()` can reach at once: a promise, the
/// work behind a `ConcurrentFuture`. A leaf future returning `Pending` in a
/// task records its target ([`awaiting::suspend`](crate::awaiting::suspend));
/// cancelling the task then cancels the target before `cancel()` returns.
///
/// For leaf futures of weft's own crates.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use weft_task::chain::AwaitTarget;
/// use weft_task::Cancelled;
///
/// /// Remembers the message it was cancelled with.
/// struct Gate(Mutex<Option<Cancelled>>);
/// impl AwaitTarget for Gate {
///     fn cancel_awaited(self: Arc<Self>, cancelled: &Cancelled) {
///         *self.0.lock().unwrap() = Some(cancelled.clone());
///     }
/// }
/// let gate = Arc::new(Gate(Mutex::new(None)));
/// gate.clone().cancel_awaited(&Cancelled::with_message("stop"));
/// assert_eq!(gate.0.lock().unwrap().as_ref().unwrap().message(), Some("stop"));
/// ```
pub trait AwaitTarget: Send + Sync {
    /// The task awaiting this is cancelled: cancel this with the same
    /// message (asyncio's `_fut_waiter.cancel(msg)`).
    fn cancel_awaited(self: std::sync::Arc<Self>, cancelled: &Cancelled);

    /// What this is, for a task dump (`TaskRef::awaiting`): `"future"`
    /// unless overridden. Called from any thread, outside any task.
    fn describe(&self) -> AwaitDescription {
        AwaitDescription::new("future")
    }
}

/// What a non-task await target says it is, for a dump: what
/// [`AwaitTarget::describe`] returns.
///
/// ```
/// let d = weft::AwaitDescription::new("gather").with_detail("2 of 3 left");
/// assert_eq!(d.to_string(), "gather (2 of 3 left)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AwaitDescription {
    /// What it is: `"promise"`, `"gather"`, `"lock"`...
    pub kind: &'static str,
    /// More about it, if anything.
    pub detail: Option<String>,
    /// The tasks it watches for the awaiting task (a gather's children).
    pub tasks: Vec<TaskId>,
}

impl AwaitDescription {
    /// A target of kind `kind`, with no detail and no tasks.
    ///
    /// ```
    /// assert_eq!(weft::AwaitDescription::new("promise").kind, "promise");
    /// ```
    pub fn new(kind: &'static str) -> AwaitDescription {
        AwaitDescription {
            kind,
            detail: None,
            tasks: Vec::new(),
        }
    }

    /// With a detail (shown in parentheses).
    ///
    /// ```
    /// let d = weft::AwaitDescription::new("queue").with_detail("full");
    /// assert_eq!(d.detail.as_deref(), Some("full"));
    /// ```
    pub fn with_detail(mut self, detail: impl Into<String>) -> AwaitDescription {
        self.detail = Some(detail.into());
        self
    }

    /// With the tasks it watches.
    ///
    /// ```
    /// weft::run(async {
    ///     let t = weft::spawn(async {});
    ///     let d = weft::AwaitDescription::new("gather").with_tasks([t.id()]);
    ///     assert_eq!(d.tasks, [t.id()]);
    /// });
    /// ```
    pub fn with_tasks(mut self, tasks: impl IntoIterator<Item = TaskId>) -> AwaitDescription {
        self.tasks = tasks.into_iter().collect();
        self
    }
}

impl fmt::Display for AwaitDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind)?;
        if let Some(detail) = &self.detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}

/// A cancellation a dropped leaf future is part of ([`AwaitMark::delivering`]).
#[derive(Debug)]
pub struct Delivering {
    cancelled: Cancelled,
    passed: bool,
}

impl Delivering {
    /// The cancellation being delivered.
    pub fn cancelled(&self) -> &Cancelled {
        &self.cancelled
    }

    /// Whether the leaf still has to cancel its target: false when the
    /// `cancel()` that made this request passed it to the target already.
    pub fn must_cancel(&self) -> bool {
        !self.passed
    }
}

/// Something a cancelled task (or `catch_cancel` wrapper) waits for before it
/// ends: a task it was awaiting, or the work behind a `ConcurrentFuture`.
///
/// For leaf futures of weft's own crates (weft-loop's `ConcurrentFuture`).
/// `Sync` so that a [`catch_cancel`](crate::catch_cancel) wrapper holding
/// some stays as `Sync` as its inner future.
///
/// ```
/// use std::task::{Context, Poll};
/// use weft_task::chain::Awaited;
/// use weft_task::Cancelled;
///
/// /// Already over: nothing to wait for.
/// struct Ended;
/// impl Awaited for Ended {
///     fn cancel(&mut self, _: &Cancelled) {}
///     fn poll_ended(&mut self, _: &mut Context<'_>) -> Poll<()> {
///         Poll::Ready(())
///     }
/// }
/// let mut cx = Context::from_waker(std::task::Waker::noop());
/// assert!(Ended.poll_ended(&mut cx).is_ready());
/// ```
pub trait Awaited: Send + Sync {
    /// Passes on a further cancellation of the waiting task (asyncio passes
    /// every `cancel()` to the future the task is blocked on).
    fn cancel(&mut self, cancelled: &Cancelled);

    /// Ready once the target has ended; otherwise registers `cx`'s waker to
    /// be woken when it does.
    fn poll_ended(&mut self, cx: &mut Context<'_>) -> Poll<()>;
}

/// Which task poll a leaf future last returned `Pending` in: while that is
/// the task's latest poll, the task is awaiting this leaf, and a cancellation
/// delivered by dropping it passes through ([`delivering`](Self::delivering)).
///
/// ```
/// use weft_task::chain::AwaitMark;
///
/// let mut mark = AwaitMark::new();
/// mark.pending(); // outside a task: records nothing
/// assert!(mark.delivering(std::ptr::null()).is_none());
/// ```
#[derive(Clone, Copy, Default)]
pub struct AwaitMark {
    at: Option<PollStamp>,
}

impl AwaitMark {
    /// A leaf not awaited yet.
    pub const fn new() -> AwaitMark {
        AwaitMark { at: None }
    }

    /// The leaf returns `Pending` now: remember this task poll.
    #[inline]
    pub fn pending(&mut self) {
        self.at = context::poll_stamp();
    }

    /// Sets the stamp directly (`awaiting.rs`, which has read the context).
    #[inline]
    pub(crate) fn set(&mut self, at: Option<PollStamp>) {
        self.at = at;
    }

    /// The leaf returned `Ready`: it is awaited no more.
    #[inline]
    pub fn ready(&mut self) {
        self.at = None;
    }

    /// Whether the leaf was ever left pending (and not finished since).
    pub fn is_set(&self) -> bool {
        self.at.is_some()
    }

    /// In the leaf's destructor: the cancellation being delivered to it, if
    /// the task awaiting it (at its latest poll) is being cancelled by this
    /// drop. The leaf then cancels its target with it (unless
    /// [`Delivering::must_cancel`] says that was done), and hands
    /// [`wait_for_end`] the target if that does not end at once. `target` is
    /// the address the leaf records its target under (`awaiting.rs`).
    pub fn delivering(&self, target: *const ()) -> Option<Delivering> {
        let at = self.at?;
        DELIVERING.with_borrow(|d| match d {
            Some(d) if d.at == at => Some(Delivering {
                cancelled: d.cancelled.clone(),
                passed: d.passed == Some(target as usize),
            }),
            _ => None,
        })
    }
}

impl fmt::Debug for AwaitMark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwaitMark")
            .field("set", &self.is_set())
            .finish()
    }
}

/// During a delivery (from a destructor that [`AwaitMark::delivering`]
/// answered): the cancelled task ends only after `awaited` has ended. Outside
/// any delivery `awaited` is dropped at once.
///
/// ```
/// use std::task::{Context, Poll};
/// use weft_task::chain::{wait_for_end, Awaited};
/// use weft_task::Cancelled;
///
/// struct Ended;
/// impl Awaited for Ended {
///     fn cancel(&mut self, _: &Cancelled) {}
///     fn poll_ended(&mut self, _: &mut Context<'_>) -> Poll<()> {
///         Poll::Ready(())
///     }
/// }
/// wait_for_end(Box::new(Ended)); // no delivery here: dropped
/// ```
pub fn wait_for_end(awaited: Box<dyn Awaited>) {
    push_end(
        End {
            awaited,
            edge: None,
        },
        None,
    );
}

/// [`wait_for_end`] for the end of the task at address `task` (a `Task`
/// handle's `awaited`): not taken (dropped at once, as outside a delivery)
/// where `task` waits for the deliverer already, which would close a cycle
/// of waits (see "Cycles").
pub(crate) fn wait_for_task_end(awaited: Box<dyn Awaited>, task: usize) {
    push_end(
        End {
            awaited,
            edge: None,
        },
        Some(task),
    );
}

/// Has the delivery in progress on this thread wait for `end`; with `task`,
/// `end` is the end of the task at that address, refused where waiting for
/// it would close a cycle. Outside a delivery, or refused, `end` is dropped.
fn push_end(mut end: End, task: Option<usize>) {
    let refused = DELIVERING.with_borrow_mut(|d| {
        let Some(d) = d else {
            return Some(end);
        };
        if let Some(task) = task {
            if !add_wait(d.at.0, task) {
                return Some(end);
            }
            end.edge = Some((d.at.0, task));
        }
        d.ends.push(end);
        None
    });
    // Dropped outside the borrow: its destructor may reach this thread-local.
    drop(refused);
}

/// What a cancelled task or wrapper still waits for: the [`Awaited`]s its
/// delivery collected, each dropped once it has ended.
pub(crate) struct Drains {
    ends: Vec<End>,
}

impl Drains {
    pub(crate) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Passes a further cancellation on to every target still running.
    pub(crate) fn cancel_all(&mut self, cancelled: &Cancelled) {
        for end in &mut self.ends {
            end.awaited.cancel(cancelled);
        }
    }

    /// Ready once every target has ended; drops each as it ends.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.ends
            .retain_mut(|end| end.awaited.poll_ended(cx).is_pending());
        if self.ends.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Dropped unfinished (the wrapper holding it is dropped): a delivery in
    /// progress on this thread takes the targets over, so whoever it cancels
    /// still waits for them; otherwise they are let go.
    pub(crate) fn hand_over(self) {
        for mut end in self.ends {
            // A task's end is taken again, as the new waiter's wait.
            let task = end.leave_graph();
            push_end(end, task);
        }
    }
}

/// While alive, futures dropped on this thread are being dropped to deliver a
/// cancellation (see the module header).
pub(crate) struct EnterDelivery {
    prev: Option<Delivery>,
}

/// Starts delivering `cancelled` to what was awaited at poll `at`; `passed`
/// is the target a `cancel()` passed it to already, if any.
pub(crate) fn enter_cancel_delivery(
    cancelled: &Cancelled,
    at: PollStamp,
    passed: Option<usize>,
) -> EnterDelivery {
    let delivery = Delivery {
        cancelled: cancelled.clone(),
        at,
        passed,
        ends: Vec::new(),
    };
    EnterDelivery {
        prev: DELIVERING.replace(Some(delivery)),
    }
}

impl EnterDelivery {
    /// Ends the delivery: what the deliverer must wait for.
    pub(crate) fn finish(mut self) -> Drains {
        let ends = DELIVERING
            .replace(self.prev.take())
            .map(|d| d.ends)
            .unwrap_or_default();
        std::mem::forget(self);
        Drains { ends }
    }
}

impl Drop for EnterDelivery {
    /// Unwinding out of the drop: restore the outer delivery; what this one
    /// collected is let go.
    fn drop(&mut self) {
        let ours = DELIVERING.replace(self.prev.take());
        drop(ours);
    }
}
