//! `Barrier` (asyncio's), on the wait list in notify style: the arrival
//! count lives behind the list's lock, the last arrival notifies everyone
//! queued, and a broken barrier is a closed list.
//!
//! Arrival indices are given when the round completes, not on arrival: the
//! last arrival numbers the waiters still queued (the list's tags, head
//! first, so in arrival order) and takes `parties - 1` itself. A waiter that
//! left before that never got a number, so the next arrival takes its place
//! and every round hands out `0..parties` once each. A tagged waiter has
//! passed, even if the list is closed before it looks, or it is dropped
//! before it is woken (the round is not counted twice).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::{BrokenBarrierError, ZeroPartiesError};
use crate::waitlist::{Left, Locked, WaitList, Waiter};
use weft_task::awaiting::{Described, DescribedWait};

/// What a task dump shows a task waiting at the barrier.
static BARRIER_WAIT: Described = Described::of_kind("barrier");

/// What the list's lock guards besides the queue.
#[derive(Debug)]
struct Arrivals {
    parties: usize,
    /// Waiting in the current round.
    count: usize,
}

/// asyncio's `Barrier`: [`wait`](Self::wait) blocks until `parties` tasks
/// (or threads) have called it, then all return, each with its arrival
/// index (0 for the first, `parties - 1` for the one that completed the
/// round), and the barrier is ready for the next round. Indices are given
/// when the round completes, to the parties in it in arrival order, so a
/// waiter that left the round gives its index up to the next arrival.
///
/// [`abort`](Self::abort) breaks it (current and later waiters fail with
/// [`BrokenBarrierError`] until [`reset`](Self::reset)); `reset` fails the
/// current waiters and makes it usable again. A waiter cancelled before the
/// round completes leaves it (the count goes down, as in asyncio).
///
/// ```
/// use std::sync::Arc;
/// use weft::sync::Barrier;
///
/// weft::run(async {
///     let barrier = Arc::new(Barrier::new(3).unwrap());
///     let mut tasks = Vec::new();
///     for _ in 0..3 {
///         let b = barrier.clone();
///         tasks.push(weft::spawn(async move { b.wait().await.unwrap() }));
///     }
///     let mut indices = Vec::new();
///     for t in tasks {
///         indices.push(t.await.unwrap());
///     }
///     indices.sort();
///     assert_eq!(indices, [0, 1, 2]);
/// });
/// ```
pub struct Barrier {
    list: WaitList<Arrivals>,
    parties: usize,
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("n_waiting", &self.n_waiting())
            .field("broken", &self.broken())
            .finish()
    }
}

impl Barrier {
    /// A barrier for `parties` parties; zero is an error (asyncio's
    /// `ValueError`).
    ///
    /// ```
    /// use weft::sync::Barrier;
    /// assert_eq!(Barrier::new(2).unwrap().parties(), 2);
    /// assert!(Barrier::new(0).is_err());
    /// ```
    pub fn new(parties: usize) -> Result<Self, ZeroPartiesError> {
        if parties == 0 {
            return Err(ZeroPartiesError);
        }
        Ok(Barrier {
            list: WaitList::new(0, Arrivals { parties, count: 0 }),
            parties,
        })
    }

    /// The number of parties a round needs.
    ///
    /// ```
    /// assert_eq!(weft::sync::Barrier::new(4).unwrap().parties(), 4);
    /// ```
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// How many wait in the current round.
    ///
    /// ```
    /// let b = weft::sync::Barrier::new(2).unwrap();
    /// assert_eq!(b.n_waiting(), 0);
    /// ```
    pub fn n_waiting(&self) -> usize {
        self.list.lock().user().count
    }

    /// Whether the barrier is broken ([`abort`](Self::abort) ran and no
    /// [`reset`](Self::reset) since).
    ///
    /// ```
    /// let b = weft::sync::Barrier::new(2).unwrap();
    /// b.abort();
    /// assert!(b.broken());
    /// b.reset();
    /// assert!(!b.broken());
    /// ```
    pub fn broken(&self) -> bool {
        self.list.is_closed()
    }

    /// Waits for the round to fill; returns this caller's arrival index
    /// (`0..parties`), or [`BrokenBarrierError`] if the barrier is broken,
    /// or is aborted or reset while waiting. Dropping the future leaves the
    /// round.
    ///
    /// ```
    /// weft::run(async {
    ///     let b = weft::sync::Barrier::new(1).unwrap();
    ///     assert_eq!(b.wait().await, Ok(0)); // one party: passes at once
    /// });
    /// ```
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait {
            barrier: self,
            waiter: Waiter::new(1),
            done: false,
            described: DescribedWait::new(),
        }
    }

    /// [`wait`](Self::wait) for a plain thread (not a task).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let b = Arc::new(weft::sync::Barrier::new(2).unwrap());
    /// let b2 = b.clone();
    /// let t = std::thread::spawn(move || b2.wait_blocking().unwrap());
    /// let mine = b.wait_blocking().unwrap();
    /// let theirs = t.join().unwrap();
    /// assert_eq!(mine + theirs, 1); // indices 0 and 1
    /// ```
    pub fn wait_blocking(&self) -> Result<usize, BrokenBarrierError> {
        let mut w = Waiter::new(1);
        let mut locked = self.list.lock();
        if let Some(r) = Self::arrive(&mut locked, &mut w, None) {
            return r;
        }
        let (_, index) = locked.wait_thread_tagged(&mut w, None);
        index.ok_or(BrokenBarrierError)
    }

    /// Breaks the barrier: every current waiter and every later `wait` fails
    /// with [`BrokenBarrierError`] until [`reset`](Self::reset).
    ///
    /// ```
    /// weft::run(async {
    ///     let b = weft::sync::Barrier::new(2).unwrap();
    ///     b.abort();
    ///     assert!(b.wait().await.is_err());
    /// });
    /// ```
    pub fn abort(&self) {
        let mut locked = self.list.lock();
        locked.close();
        locked.user().count = 0;
    }

    /// Returns the barrier to its empty state: current waiters fail with
    /// [`BrokenBarrierError`], a broken barrier becomes usable again.
    ///
    /// ```
    /// weft::run(async {
    ///     let b = weft::sync::Barrier::new(1).unwrap();
    ///     b.abort();
    ///     b.reset();
    ///     assert_eq!(b.wait().await, Ok(0));
    /// });
    /// ```
    pub fn reset(&self) {
        let mut locked = self.list.lock();
        locked.close();
        locked.reopen();
        locked.user().count = 0;
    }

    /// Under the lock: fails if broken, else counts the arrival and either
    /// completes the round (numbering the queued waiters, notifying them and
    /// returning the last index) or queues `w` (`None`).
    fn arrive(
        locked: &mut Locked<'_, Arrivals>,
        w: &mut Waiter,
        cx: Option<&Context<'_>>,
    ) -> Option<Result<usize, BrokenBarrierError>> {
        if locked.list().is_closed() {
            return Some(Err(BrokenBarrierError));
        }
        let arrivals = locked.user();
        arrivals.count += 1;
        if arrivals.count < arrivals.parties {
            locked.enqueue(w, cx.map(|cx| cx.waker()));
            return None;
        }
        let last = arrivals.parties - 1;
        arrivals.count = 0;
        // The untagged waiters are this round's `parties - 1` (any tagged
        // ones passed in an earlier round whose notify has not reached them).
        let numbered = locked.tag_queued(0);
        debug_assert_eq!(numbered, last);
        locked.notify_all();
        Some(Ok(last))
    }
}

/// The future of [`Barrier::wait`]. Dropping it before the round completes
/// leaves the round.
///
/// ```
/// weft::run(async {
///     let b = weft::sync::Barrier::new(2).unwrap();
///     let fut: weft::sync::BarrierWait<'_> = b.wait();
///     drop(fut);
///     assert_eq!(b.n_waiting(), 0);
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct BarrierWait<'a> {
    barrier: &'a Barrier,
    waiter: Waiter,
    done: bool,
    /// What a task dump shows the task awaiting while it is queued.
    described: DescribedWait,
}

impl fmt::Debug for BarrierWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWait")
            .field("queued", &self.waiter.is_queued())
            .finish()
    }
}

impl Future for BarrierWait<'_> {
    type Output = Result<usize, BrokenBarrierError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let r = this.poll_wait(cx);
        if r.is_ready() {
            this.described.ready();
        } else if this.waiter.is_queued() {
            this.described.pending_static(&BARRIER_WAIT);
        }
        r
    }
}

impl BarrierWait<'_> {
    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<<Self as Future>::Output> {
        let this = self;
        if this.done {
            return Poll::Pending;
        }
        let mut locked = this.barrier.list.lock();
        let r = if this.waiter.is_queued() {
            // Read before `poll_slot` frees the slot. A tag means the round
            // completed (even if a close reached the slot first); none, once
            // the slot is done, means it was closed: broken or reset.
            let index = locked.tag(&this.waiter);
            match locked.poll_slot(&mut this.waiter, cx.waker()) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(_) => index.ok_or(BrokenBarrierError),
            }
        } else {
            match Barrier::arrive(&mut locked, &mut this.waiter, Some(cx)) {
                Some(r) => r,
                None => return Poll::Pending,
            }
        };
        this.done = true;
        Poll::Ready(r)
    }
}

impl Drop for BarrierWait<'_> {
    fn drop(&mut self) {
        if !self.waiter.is_queued() {
            return;
        }
        let mut locked = self.barrier.list.lock();
        // Tagged: its round completed (it was counted out then), though the
        // notify had not reached it yet.
        let passed = locked.tag(&self.waiter).is_some();
        if let Left::Queued(_) = locked.leave(&mut self.waiter) {
            if !passed {
                // Left before the round filled: one fewer waiting, and its
                // index goes to the next arrival.
                let arrivals = locked.user();
                arrivals.count = arrivals.count.saturating_sub(1);
            }
        }
    }
}
