//! What the combinators hold for each child, and the plumbing they share.
//!
//! A child is a [`Task`]. Combinators watch it with [`Task::poll_done`], never
//! by awaiting the handle, so a cancellation of the caller is not passed down
//! to the children by the task core's await-chain rule: each combinator decides
//! what cancelling it does to its children (gather cancels them, wait and
//! shield leave them running) and says so in its documentation.
//!
//! Waiting on many children goes through a [`Pending`] set: each child gets
//! its own waker (a slot of a [`WakeSet`]), so a wake-up costs one poll of
//! that child, not a pass over all of them (gather of 10^5 tasks stays
//! linear).

use crate::wake_set::WakeSet;
use std::convert::Infallible;
use std::future::poll_fn;
use std::future::Future;
use std::ops::ControlFlow;
use std::task::{Context, Poll, Waker};
use weft_task::awaiting::DescribedWait;
use weft_task::{catch_cancel, Cancelled, DoneCallback, Task, TaskError, TaskRef};
use weft_task::{AwaitDescription, TaskId};

/// A task a combinator watches: polled for completion, its value left in place.
#[doc(hidden)]
pub trait Child {
    /// Ready once the task is done; registers the waker otherwise.
    fn poll_done(&mut self, cx: &mut Context<'_>) -> Poll<()>;
    /// The task, for `cancel`, `done` and `exception`.
    fn task_ref(&self) -> &TaskRef;
}

impl<T> Child for Task<T> {
    fn poll_done(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        Task::poll_done(self, cx)
    }

    fn task_ref(&self) -> &TaskRef {
        self
    }
}

impl<C: Child + ?Sized> Child for &mut C {
    fn poll_done(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        (**self).poll_done(cx)
    }

    fn task_ref(&self) -> &TaskRef {
        (**self).task_ref()
    }
}

/// A child and its position among the combinator's arguments.
#[derive(Debug)]
pub(crate) struct Done<C> {
    index: usize,
    child: Option<C>,
}

impl<C> Done<C> {
    pub(crate) fn new(index: usize, child: C) -> Done<C> {
        Done {
            index,
            child: Some(child),
        }
    }

    /// The child, unless it was handed out already.
    pub(crate) fn child(&self) -> Option<&C> {
        self.child.as_ref()
    }

    /// Gives the child back, with its position, whether or not it is done.
    pub(crate) fn into_parts(self) -> Option<(usize, C)> {
        let index = self.index;
        self.child.map(|c| (index, c))
    }
}

/// The children still running, each watched through its own slot of a
/// [`WakeSet`]: [`poll_next`](Pending::poll_next) polls a child the first
/// time in argument order, and after that only when its slot was woken.
/// Dropping the set leaves the children running.
pub(crate) struct Pending<C> {
    /// By slot; a child handed out leaves `None` behind.
    children: Vec<Done<C>>,
    wakes: WakeSet,
    /// Children not handed out yet.
    live: usize,
    /// Slots `..polled` have been polled once (and registered their waker).
    polled: usize,
}

impl<C> Default for Pending<C> {
    fn default() -> Self {
        Pending::new(Vec::new())
    }
}

impl<C> Pending<C> {
    /// A set watching `children`.
    pub(crate) fn new(children: Vec<Done<C>>) -> Pending<C> {
        Pending {
            wakes: WakeSet::new(children.len()),
            live: children.len(),
            children,
            polled: 0,
        }
    }

    /// How many children are still in the set.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Every slot, in argument order; [`Done::child`] is `None` for the
    /// children handed out already.
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, Done<C>> {
        self.children.iter()
    }

    /// The next child to finish, with its position; `None` once every child
    /// was handed out. Registers `cx`'s waker otherwise.
    ///
    /// One call takes the woken slots once, and returns `Pending` (waking
    /// `cx`) as soon as the task is out of cooperative budget: a child that is
    /// done then refuses and wakes its slot again, and is polled on a later
    /// call, not in a loop within this one.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<(usize, C)>>
    where
        C: Child,
    {
        let mut took = false;
        loop {
            let slot = if self.polled < self.children.len() {
                self.polled += 1;
                self.polled - 1
            } else if let Some(slot) = self.wakes.pop_woken() {
                slot
            } else if self.live == 0 {
                return Poll::Ready(None);
            } else if took {
                return Poll::Pending;
            } else {
                took = true;
                self.wakes.take_woken(cx.waker());
                continue;
            };
            let done = &mut self.children[slot];
            // `None`: handed out already; a late wake of its slot.
            let Some(child) = done.child.as_mut() else {
                continue;
            };
            let waker = self.wakes.waker(slot);
            if child.poll_done(&mut Context::from_waker(&waker)).is_ready() {
                self.live -= 1;
                let child = done.child.take().expect("checked above");
                return Poll::Ready(Some((done.index, child)));
            }
            if !weft_task::coop::has_budget_remaining() {
                // Done but out of budget: the child woke its slot (polled
                // again on the next call). Yield rather than poll the rest of
                // the woken slots just to see each one refuse the same way.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }

    /// [`poll_next`](Pending::poll_next) as a future.
    pub(crate) fn next(&mut self) -> impl Future<Output = Option<(usize, C)>> + '_
    where
        C: Child,
    {
        poll_fn(move |cx| self.poll_next(cx))
    }
}

impl<C> IntoIterator for Pending<C> {
    type Item = Done<C>;
    type IntoIter = std::vec::IntoIter<Done<C>>;

    /// Every slot, in argument order (see [`Pending::iter`]).
    fn into_iter(self) -> Self::IntoIter {
        self.children.into_iter()
    }
}

/// The opening step every combinator over many children takes: numbers the
/// children in argument order, hands each one already done to `on_done` at
/// once, in argument order (no waker is registered for it), and puts the
/// rest in a [`Pending`] set to wait on. Stops at the first `Break` of
/// `on_done`, returning it; the children not yet looked at are dropped,
/// which leaves them running, as dropping any handle does, their errors
/// retrieved ([`retrieve_later`]).
///
/// Nothing here checks or touches the caller's task: what a cancellation of
/// the caller does is each combinator's rule, applied while it waits
/// ([`supervise`] for gather, nothing for wait and as_completed).
pub(crate) fn watch<C, B>(
    children: impl IntoIterator<Item = C>,
    mut on_done: impl FnMut(usize, C) -> ControlFlow<B>,
) -> Result<Pending<C>, B>
where
    C: Child,
{
    let mut pending = Vec::new();
    let mut children = children.into_iter().enumerate();
    for (index, child) in children.by_ref() {
        if !child.task_ref().done() {
            pending.push(Done::new(index, child));
        } else if let ControlFlow::Break(b) = on_done(index, child) {
            retrieve_later(pending.iter().filter_map(Done::child));
            retrieve_later(children.map(|(_, c)| c).collect::<Vec<_>>().iter());
            return Err(b);
        }
    }
    Ok(Pending::new(pending))
}

/// The children a combinator gives up on (gather after its first error):
/// each one's error, whenever it ends, counts as retrieved, as asyncio's
/// gather marks its children's (`fut.exception()` in its done callback), so
/// none is reported to the exception handler as never retrieved.
pub(crate) fn retrieve_later<'a, C: Child + 'a>(children: impl Iterator<Item = &'a C>) {
    for child in children {
        let task = child.task_ref();
        task.add_done_callback(DoneCallback::new(|task: &TaskRef| {
            let _ = task.exception();
        }));
        // Done already: the callback is only queued, and the handle may be
        // dropped (reporting an error still unread) before it runs.
        if task.done() {
            let _ = task.exception();
        }
    }
}

/// [`watch`] for the combinators that never stop at a done child (wait,
/// as_completed): every child already done goes to `on_done`.
pub(crate) fn watch_all<C: Child>(
    children: impl IntoIterator<Item = C>,
    mut on_done: impl FnMut(usize, C),
) -> Pending<C> {
    let watched = watch(children, |index, child| {
        on_done(index, child);
        ControlFlow::<Infallible>::Continue(())
    });
    match watched {
        Ok(pending) => pending,
        Err(never) => match never {},
    }
}

/// The outcome of a done task, taking its value. A value already taken by the
/// caller (through [`Task::result`]) comes back as that `InvalidStateError`,
/// failed, rather than a panic.
/// A combinator's await target for task dumps: `kind`, watching the
/// children in `pending` (`weft_task::awaiting::Described`).
pub(crate) fn describe<C: Child>(kind: &'static str, pending: &Pending<C>) -> AwaitDescription {
    let mut children: Vec<(usize, TaskId)> = pending
        .iter()
        .filter_map(|d| Some((d.index, d.child()?.task_ref().id())))
        .collect();
    // In argument order (the set's own order is its internal one).
    children.sort_unstable_by_key(|&(index, _)| index);
    AwaitDescription::new(kind).with_tasks(children.into_iter().map(|(_, id)| id))
}

#[inline]
pub(crate) fn outcome<T>(task: &mut Task<T>) -> Result<T, TaskError> {
    task.result().unwrap_or_else(|e| Err(TaskError::failed(e)))
}

/// Stores `waker` in `slot` for a later wake-up, unless the one there
/// already wakes the same task (then no clone: polls are frequent).
pub(crate) fn set_waker(slot: &mut Option<Waker>, waker: &Waker) {
    if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
        *slot = Some(waker.clone());
    }
}

/// The error a done task ended with, if any (a cancellation included).
pub(crate) fn error_of(task: &TaskRef) -> Option<TaskError> {
    task.exception().ok().flatten()
}

/// Cancels `task` with the message of `cancelled` (asyncio passes a gather's
/// cancel message on to its children).
pub(crate) fn cancel_as(task: &TaskRef, cancelled: &Cancelled) -> bool {
    match cancelled.message() {
        Some(m) => task.cancel_with(m),
        None => task.cancel(),
    }
}

/// Runs `pending` until every child is done or `on_done` breaks, handling a
/// cancellation of the caller as asyncio's `gather` does: every child still
/// running is cancelled (with the same message), all of them are waited for,
/// cleanup included, and then the cancellation is re-raised in the caller
/// (see [`cancel_and_drain`]).
///
/// Outside a task (in `block_on`) nothing can cancel the caller and this is a
/// plain loop.
pub(crate) async fn supervise<C, B>(
    pending: &mut Pending<C>,
    mut on_done: impl FnMut(usize, C) -> ControlFlow<B>,
) -> Option<B>
where
    C: Child,
{
    // A task dump shows the caller awaiting the gather and, under it, the
    // children still running when it first waited.
    let mut described = DescribedWait::new();
    let run = poll_fn(|cx| loop {
        match pending.poll_next(cx) {
            Poll::Ready(Some((index, child))) => {
                if let ControlFlow::Break(b) = on_done(index, child) {
                    retrieve_later(pending.iter().filter_map(Done::child));
                    described.ready();
                    return Poll::Ready(Some(b));
                }
            }
            Poll::Ready(None) => {
                described.ready();
                return Poll::Ready(None);
            }
            Poll::Pending => {
                described.pending(|| describe("gather", pending));
                return Poll::Pending;
            }
        }
    });
    let caught = catch_cancel(run).await;
    match caught {
        Ok(broke) => broke,
        Err(cancelled) => cancel_and_drain(pending, cancelled).await,
    }
}

/// Cancels every child in `pending` with the message of `cancelled`, waits
/// until all are done (cleanup included; a further cancellation meanwhile is
/// passed on to them too, as asyncio's gathering future does), then re-raises
/// `cancelled` in the caller.
pub(crate) async fn cancel_and_drain<C, T>(pending: &mut Pending<C>, cancelled: Cancelled) -> T
where
    C: Child,
{
    let mut again = Some(cancelled.clone());
    while let Some(c) = again.take() {
        for done in pending.iter() {
            if let Some(child) = done.child() {
                cancel_as(child.task_ref(), &c);
            }
        }
        let drained = catch_cancel(async { while pending.next().await.is_some() {} }).await;
        again = drained.err();
    }
    cancelled.raise().await
}
