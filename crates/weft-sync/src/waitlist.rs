//! The one waiter list under every primitive of this crate (as tokio's batch
//! semaphore is under its `Mutex`, `RwLock` and `Semaphore`).
//!
//! A [`WaitList`] is a count of free *units* plus a FIFO queue of waiters, each
//! asking for some number of units. What a unit means is the primitive's
//! business: a semaphore permit, the one unit of a mutex, one of `MAX_READS`
//! units of an rwlock (a writer takes them all), or one notification of an
//! event, condition or barrier (those never leave free units: they *notify*).
//!
//! # The state word and the queue
//!
//! `word` (an `AtomicUsize`) is `units << SHIFT | RESERVED | WAITERS | CLOSED`:
//!
//! | bit / field | meaning | may not coexist with |
//! |-------------|---------|----------------------|
//! | `units`     | free units anyone may take | `WAITERS` (units are 0 while it is set) |
//! | `WAITERS`   | the queue is non-empty; set and cleared only under the lock | `units > 0` |
//! | `CLOSED`    | [`Locked::close`] ran: waiters and new acquires fail | — |
//! | `RESERVED`  | a slot handed a wake-up by [`Locked::hand_over`] is not freed yet (step 9); set and cleared only under the lock | `units > 0` (step 9's lists carry no units) |
//!
//! The queue lives in `inner` (a `Mutex`): a slab of [`Slot`]s linked into a
//! FIFO list by index. A waiter's slot is in one of these states:
//!
//! | slot state | meaning | who moves it on |
//! |------------|---------|-----------------|
//! | `Free`     | on the free list | an enqueue (→ `Queued`) |
//! | `Queued`   | in the FIFO; `assigned` units of its `wanted` already handed to it | a release/notify (→ `Assigned`), a close (→ `Closed`), its owner leaving (→ `Free`) |
//! | `Assigned` | unlinked; all its units are its own; its owner has not looked yet | its owner, under the lock (→ `Free`); or, if peekable, its owner retires it without the lock and a later enqueue reclaims it (→ `Free`) |
//! | `Closed`   | unlinked by a close; owns nothing | as `Assigned` |
//!
//! A *peekable* slot (a task's units acquire, [`WaitList::poll_acquire`]:
//! step 10) also has a *mailbox*, an `AtomicUsize` of its own (in an `Arc`
//! the slot keeps for its life, so the slab may grow under it; the owner
//! holds a clone while it holds the slot):
//!
//! | mailbox | meaning | written by |
//! |---------|---------|------------|
//! | `WAITING`     | queued (or freed, or not peekable) | an enqueue, under the lock (Relaxed) |
//! | `ASSIGNED`    | the slot is `Assigned` | the assigner, under the lock (Release) |
//! | `CLOSED_SLOT` | the slot is `Closed` | the closer, under the lock (Release) |
//! | `RETIRED`     | the owner read `ASSIGNED`/`CLOSED_SLOT` without the lock and is gone | the owner, without the lock (Release) |
//!
//! An `Assigned` or `Closed` peekable slot sits on the *published* list (by
//! `prev`/`next`, which the FIFO no longer uses) until it is freed. Only
//! the owner ends its hold on a slot (freeing it under the lock, or writing
//! `RETIRED`), and only a `RETIRED` slot is freed by someone else, so a slot
//! index is never reused under a waiter that still holds it.
//!
//! # Protocol
//!
//! 1. **Acquire, fast path** (no lock, no allocation): one CAS taking `n`
//!    units from `word`, allowed only while `WAITERS` and `CLOSED` are clear.
//!    Requiring `WAITERS` clear is the FIFO rule: nobody overtakes a queued
//!    waiter.
//! 2. **Acquire, slow path** (under the lock): re-read `word`. If units suffice
//!    and no one is queued, take them. Otherwise take whatever units are free
//!    (a partial assignment), set `WAITERS` in the same CAS, and link a slot at
//!    the tail. The waker (or a "thread" marker) is stored in the slot.
//! 3. **Release, fast path**: one CAS adding units, allowed only while
//!    `WAITERS` is clear. A CAS that sees `WAITERS` goes to the slow path.
//! 4. **Release, slow path** (under the lock): hand the units to the head
//!    waiter until it has all it wanted, unlink it (`Assigned`), wake it, and
//!    go on with the next; what is left when the queue is empty goes back to
//!    `word` and `WAITERS` is cleared.
//! 5. **Notify** (events, conditions, barriers): assign the head waiters their
//!    units out of nothing, without ever adding free units; `notify_all` wakes
//!    the waiters queued when it started (by ticket), not later arrivals.
//! 6. **Leave** (a waiter future dropped, a blocked thread timing out): under
//!    the lock, a `Queued` slot is unlinked and the units already assigned to it
//!    are returned to the primitive, which releases them (step 4, so they reach
//!    the next waiter); an `Assigned` slot (woken but dropped before it looked)
//!    gives back everything it was given: a semaphore releases it, a condition
//!    notifies the next waiter. Nothing is ever lost.
//! 7. **Close**: set `CLOSED`, mark every queued slot `Closed` (returning its
//!    partial units to `word`), wake them all; later acquires fail.
//! 8. **Tags**: a primitive may number its queued waiters, head first
//!    ([`Locked::tag_queued`]); a slot keeps its tag until its owner frees it
//!    and reads it ([`Locked::tag`]). A barrier's arrival indices are these.
//! 9. **Watch** (the FIFO queue: its lock-free ring is the truth for "is
//!    there an item / a place", and the list carries no units, only
//!    wake-ups; async-channel and event-listener's shape, kept FIFO).
//!    A waiter ([`Acquiring::poll_watch`], [`WaitList::wait_watch`]) looks
//!    at the ring first unless [`WaitList::must_queue`] (`WAITERS` or
//!    `RESERVED` set: someone is ahead of it); else, or if it found
//!    nothing, it queues under the lock, issues a SeqCst fence and looks
//!    once more, leaving `owed` (the slots handed a wake-up and not freed)
//!    items or places to those woken ones. The maker (a push, a pop)
//!    changes the ring, then [`WaitList::wake_one`]: a SeqCst fence and a
//!    load of `word`, and only if `WAITERS` is set, the lock and
//!    [`Locked::hand_over`]: the head is unlinked, marked `Assigned` and
//!    reserved, and woken. A woken waiter looks (without leaving anything
//!    owed: it is the one owed); if a racing newcomer took the item first,
//!    it queues again at the head and looks once more. A waiter that leaves
//!    with a wake-up it did not use passes it to the next
//!    ([`Locked::leave_passing_on`]). The two fences make the race of a
//!    waiter queueing and a maker's `wake_one` a store-buffering pair:
//!    either the waiter's last look sees the maker's change, or the maker's
//!    load sees `WAITERS` and wakes the head. No unit moves: the ring's
//!    own atomics publish the items.
//! 10. **Look without the lock** (tokio's batch semaphore lets its woken
//!     waiter read its permits from its own node the same way): a task's
//!     units waiter, polled again, first loads its slot's mailbox
//!     ([`Waiter::peek`]); `ASSIGNED` (or `CLOSED_SLOT`) means its slot was
//!     assigned (closed) under the lock: it stores `RETIRED`, drops its
//!     clone and returns `Ready`, without taking the lock. The slot stays on
//!     the published list until an enqueue that finds no free slot takes it
//!     back ([`Locked::take_free_slot`]: the oldest `RECLAIM_LOOKS`
//!     published slots, one load each). `WAITING`: it takes the lock and
//!     looks at the slot as before. Thread waiters, notify-style waiters and
//!     step 9's watchers never peek: their slots have no published state (a
//!     reserved slot must clear `RESERVED` under the lock when its owner
//!     looks).
//! 11. **Units counted outside** (a bounded queue's places: the putters and
//!     the getters each write their own count, so that neither writes the
//!     other's cache line on every item; `queue/mod.rs`'s `Places`). The
//!     list's `units` then hold only units a leaving waiter handed back
//!     with nobody queued; the rest live in a count outside, which the
//!     caller's `outside` closure takes from.
//!     [`WaitList::try_acquire_outside`] takes the list's units or an
//!     outside one, refusing while `WAITERS` or `CLOSED` is set. A waiter
//!     that found none queues as in step 2, issues a SeqCst fence and, if
//!     it is the head, tries the outside count once more (leaving the
//!     queue if that succeeds). A freer gives its unit back to the outside
//!     count, then [`WaitList::released_outside`]: a SeqCst fence and a
//!     load of `word`, and only if `WAITERS` is set, the lock, under which
//!     it takes outside units for the head waiters in turn and hands each
//!     its unit as a release does (step 4), so a waiter handed one reads
//!     it from its mailbox (step 10). A freer that sees `WAITERS` before it
//!     gives its unit back hands that unit straight to the head instead
//!     ([`WaitList::release_to_head`]: the count outside is not touched),
//!     and gives it back only if the queue emptied meanwhile. A freed unit
//!     a newcomer took first, between the freer's give-back and its
//!     hand-over, went to one whose try read `WAITERS` clear before the
//!     head queued: it came first.
//!
//! Wakers are collected while the lock is held and woken after it is dropped
//! (32 at a time; a longer release drops and retakes the lock in between), and
//! a waker replaced or taken out of a freed slot is dropped after the unlock
//! too, so a waker that drops the last reference to a task, whose future then
//! leaves this list, cannot deadlock on the lock. Blocked threads wait on one condvar
//! per list, notified (after the unlock) whenever a thread waiter was assigned
//! or closed. A queue's blocking put or get (`acquire_blocking_spinning`,
//! `wait_watch`) first repeats its lock-free try for up to 10 µs
//! (`look_then_spin`); the try refuses while anyone is queued (or owed), so
//! the spin overtakes no waiter, but the thread takes its place in line only
//! when the spin ends. The locks' and semaphores' blocking acquires do not
//! spin: a writer of an rwlock must hold back the readers that come after it
//! from the moment it asks.
//!
//! # Why no wake-up or unit is lost
//!
//! * `WAITERS` is set exactly while the queue is non-empty, and both change
//!   only under the lock. A fast release CASes on a word with `WAITERS` clear,
//!   so it succeeds only if no waiter is queued at that instant; a waiter that
//!   queues later first takes (under the lock, in the CAS that sets `WAITERS`)
//!   every unit the fast release added. So a unit is either in `word`, or
//!   assigned to a slot, or held by a caller; never nowhere.
//! * A waiter checks its slot and stores its waker under the lock, and the
//!   release that assigns it takes the waker under the same lock: either the
//!   release sees the new waker, or the waiter sees `Assigned` and returns.
//! * A thread waiter checks its slot under the lock and sleeps on the condvar
//!   that atomically releases it; the assigner changes the slot under the lock
//!   and notifies after releasing it, so the notify finds the thread asleep or
//!   the thread finds the slot changed.
//! * A waiter that goes away after it was assigned (asyncio's "cancelled after
//!   it was woken") returns its units in `leave`, under the lock, and the
//!   primitive hands them on (step 6). The loom models in `loom_tests` check
//!   exactly this on this code.
//! * Step 9: every item (place) in the ring beyond the `owed` ones is either
//!   seen by a queued waiter's last look, or was made after that waiter's
//!   `WAITERS` was visible, and then its maker woke the head; a woken waiter
//!   is owed one, takes it, or (a newcomer's fast look raced it) queues
//!   again and looks again; one dropped passes its wake-up on. The queue's
//!   loom models (`queue/loom_tests.rs`) check these races on this code.
//! * Step 11: the head waiter's fence and look after queueing, and the
//!   freer's fence and load of `word` after giving its unit back, are a
//!   store-buffering pair (`WAITERS` set / outside count read against
//!   outside count written / `WAITERS` read): either the waiter takes the
//!   freed unit itself, or the freer sees `WAITERS` and hands it (or
//!   another free one) to the head under the lock. A waiter behind the
//!   head is served after it, by that freer's loop or the next freer's.
//!   Units a leaving waiter hands back go to the next waiter (step 6) or,
//!   with nobody queued, to `word`, where the next try takes them first.
//!   The queue's loom models of a put racing a get on one- and two-place
//!   rings, of a blocking put racing a get and of a woken putter dropped
//!   run this code (a model without the freer's fence deadlocks).
//! * Step 10: the mailbox is written under the lock, in the same critical
//!   section that changes the slot's state and takes its waker; a waiter
//!   that reads `WAITING` takes the lock and looks at the slot as before, so
//!   the look without the lock only adds a way to see an outcome, never
//!   hides one. A peekable slot's owner that retires it has returned
//!   `Ready` with the units (or the close); one that goes away first frees
//!   it under the lock (`leave`), handing on its units as before. A slot is
//!   reclaimed only once `RETIRED`, so no later waiter's `WAITING` can be
//!   read by the old owner. The loom models check a release, a close and a
//!   newcomer reusing the slot, racing the look without the lock.
//!
//! # FIFO and fairness
//!
//! Units go to the head of the queue first, and a fast acquire is refused while
//! anyone is queued, so waiters are served in arrival order and a task that
//! releases and at once re-acquires queues behind the waiter it just handed
//! its unit to (hand-off, no barging). A head waiter that wants many units (a
//! writer of an `RwLock`) collects them as they are released, and the readers
//! behind it wait: that is what makes the `RwLock` write-preferring.
//!
//! # Why a slab and not an intrusive list
//!
//! An intrusive list (tokio's) needs no allocation at all, but needs pinned
//! waiter nodes, raw pointers from the list into futures, and an `unsafe`
//! protocol on every poll and drop. The slab is a `Vec` of slots reused
//! through a free list: a contended wait allocates only when the number of
//! simultaneous waiters reaches a new high (amortized to nothing), every
//! access is by index under the lock, and the queue needs no `unsafe` (the
//! only `unsafe` here is the wake batch's uninitialized storage). The cost
//! is that the slab keeps its high-water capacity until the list is dropped.
//! The uncontended paths touch only `word`.

use std::fmt;
use std::mem::MaybeUninit;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use crate::loom::const_fn_unless_loom;
use crate::loom::sync::{fence, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering};
use weft_task::awaiting::{Described, DescribedWait};
use weft_task::spin;
// Not the shim's: this `Arc` only keeps a slot's mailbox (a shim atomic,
// which the models do explore) allocated while its owner holds a clone; its
// count orders nothing the protocol relies on. loom's would report the
// queue models' deliberately leaked queues as leaked `Arc`s.
use std::sync::Arc;

/// The list has been closed ([`Locked::close`]).
const CLOSED: usize = 0b01;
/// The queue is non-empty (so `units` is 0). Only changed under the lock.
const WAITERS: usize = 0b10;
/// A waiter was handed a wake-up by [`Locked::hand_over`] and has not looked
/// yet (protocol step 9). Only changed under the lock.
const RESERVED: usize = 0b100;
/// Where the unit count starts in the word.
const SHIFT: u32 = 3;

/// The most free units a list holds; releases past it saturate.
pub(crate) const MAX_UNITS: usize = usize::MAX >> (SHIFT + 1);

/// "No slot" in links and in [`Waiter::slot`].
const NONE: usize = usize::MAX;

/// Wakers woken per unlock.
const WAKE_BATCH: usize = 32;

/// A slot's mailbox (protocol step 10): its waiter is queued, or its result
/// is not published (the owner looks under the lock).
const WAITING: usize = 0;
/// A slot's mailbox: all its units were handed to it.
const ASSIGNED: usize = 1;
/// A slot's mailbox: the list was closed under it.
const CLOSED_SLOT: usize = 2;
/// A slot's mailbox: its owner read the result without the lock and is gone;
/// the slot may be reclaimed.
const RETIRED: usize = 3;

/// Published slots [`Locked::take_free_slot`] looks at, oldest first, before
/// it grows the slab.
const RECLAIM_LOOKS: usize = 4;

/// Why an acquire did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fail {
    /// The list is closed.
    Closed,
    /// (Fast path and timed waits only) no units now / before the deadline.
    NoUnits,
}

/// How a slot's owner is woken.
#[derive(Debug)]
enum Wake {
    /// Nothing registered yet.
    Idle,
    /// An async waiter.
    Task(Waker),
    /// A thread blocked on the list's condvar.
    Thread,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    Free,
    Queued,
    Assigned,
    Closed,
}

#[derive(Debug)]
struct Slot {
    state: SlotState,
    /// Units this waiter asked for.
    wanted: usize,
    /// Units handed to it so far (`wanted` once `Assigned`).
    assigned: usize,
    /// Enqueue order, so `notify_all` spares later arrivals.
    ticket: u64,
    /// The primitive's number for this waiter ([`Locked::tag_queued`]), or
    /// `NONE`.
    tag: usize,
    /// Handed a wake-up by [`Locked::hand_over`], counted in
    /// [`Inner::reserved`] until freed.
    reserved: bool,
    /// Its owner may read its result from `mailbox` without the lock (a
    /// units waiter polled by [`WaitList::poll_acquire`]); set when linked.
    peekable: bool,
    /// The previous queued slot, or (while published) the previous
    /// published one.
    prev: usize,
    /// The next queued slot, (while `Free`) the next free slot, or (while
    /// published) the next published one.
    next: usize,
    wake: Wake,
    /// Protocol step 10: `WAITING`, `ASSIGNED`, `CLOSED_SLOT` or `RETIRED`.
    /// Kept for the slot's life (never reallocated with the slab); a
    /// peekable waiter holds a clone while it holds the slot.
    mailbox: Arc<AtomicUsize>,
}

impl Slot {
    /// On the published list: assigned or closed, and its owner may see
    /// that without the lock.
    fn is_published(&self) -> bool {
        self.peekable && matches!(self.state, SlotState::Assigned | SlotState::Closed)
    }
}

/// What is behind the lock: the queue, and the primitive's own state `S`
/// (an event's flag, a barrier's count), so a primitive can decide and
/// enqueue in one critical section.
#[derive(Debug)]
pub(crate) struct Inner<S> {
    slots: Vec<Slot>,
    free: usize,
    head: usize,
    tail: usize,
    next_ticket: u64,
    /// Slots handed a wake-up by [`Locked::hand_over`] and not freed yet;
    /// `RESERVED` is set in the word while it is not zero.
    reserved: usize,
    /// The published slots (step 10), oldest first, linked by `prev`/`next`.
    published_head: usize,
    published_tail: usize,
    pub(crate) user: S,
}

/// A FIFO wait list with a free-unit count. See the module header.
#[derive(Debug)]
pub(crate) struct WaitList<S = ()> {
    word: AtomicUsize,
    inner: Mutex<Inner<S>>,
    threads: Condvar,
}

/// A waiter's claim on the list: its slot, once queued.
///
/// Its owner must call [`Locked::leave`] (through the primitive's `Drop`) if
/// it goes away while `is_queued()`.
#[derive(Debug)]
pub(crate) struct Waiter {
    slot: usize,
    units: usize,
    /// Its slot's mailbox, while it holds a peekable slot (step 10).
    mailbox: Option<Arc<AtomicUsize>>,
}

impl Waiter {
    /// A waiter for `units` units, not queued yet.
    pub(crate) const fn new(units: usize) -> Self {
        Waiter {
            slot: NONE,
            units,
            mailbox: None,
        }
    }

    /// Whether it holds a slot (queued, or assigned/closed and not yet seen).
    pub(crate) fn is_queued(&self) -> bool {
        self.slot != NONE
    }

    /// Protocol step 10: the result published in its slot's mailbox, read
    /// without the lock; the slot is then retired (left to the list to
    /// reclaim) and no longer held. `None` if nothing is published yet (or
    /// the slot is not peekable): look under the lock.
    fn peek(&mut self) -> Option<Result<(), Fail>> {
        let mailbox = self.mailbox.as_ref()?;
        // Acquire: pairs with the Release store in `Locked::publish`, so
        // what the releaser did (and what happened before its release: the
        // last holder's use of the units) happens-before our use of them.
        let r = match mailbox.load(Ordering::Acquire) {
            ASSIGNED => Ok(()),
            CLOSED_SLOT => Err(Fail::Closed),
            _ => return None,
        };
        // Release: pairs with the Acquire load in `Locked::take_free_slot`,
        // so our load above happens-before the slot's reuse.
        mailbox.store(RETIRED, Ordering::Release);
        self.mailbox = None;
        self.slot = NONE;
        Some(r)
    }
}

/// What [`WaitList::add_free_within`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Added {
    /// The units were added.
    Done,
    /// Someone is queued: nothing added (the units go through the lock).
    Waiters,
    /// The free units would exceed the bound: nothing added.
    OverBound,
}

/// What [`Locked::leave`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Left {
    /// The waiter held no slot.
    NotQueued,
    /// It was still queued, with this many units already assigned to it.
    Queued(usize),
    /// It had been assigned all its units (woken) and had not looked yet.
    Assigned(usize),
    /// Its slot had been closed.
    Closed,
}

impl<S> WaitList<S> {
    const_fn_unless_loom! {
        /// A list with `units` free units (saturated at [`MAX_UNITS`]) and the
        /// primitive's state `user`.
        pub(crate) fn new(units: usize, user: S) -> Self {
            let units = if units > MAX_UNITS { MAX_UNITS } else { units };
            WaitList {
                word: AtomicUsize::new(units << SHIFT),
                inner: Mutex::new(Inner {
                    slots: Vec::new(),
                    free: NONE,
                    head: NONE,
                    tail: NONE,
                    next_ticket: 0,
                    reserved: 0,
                    published_head: NONE,
                    published_tail: NONE,
                    user,
                }),
                threads: Condvar::new(),
            }
        }
    }

    /// The free units now.
    pub(crate) fn available(&self) -> usize {
        self.word.load(Ordering::Relaxed) >> SHIFT
    }

    /// Whether anyone is queued now.
    pub(crate) fn has_waiters(&self) -> bool {
        self.word.load(Ordering::Relaxed) & WAITERS != 0
    }

    /// Whether the list is closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.word.load(Ordering::Relaxed) & CLOSED != 0
    }

    /// Whether a newcomer must queue instead of looking at what the list
    /// guards (protocol step 9): someone is queued, or was handed a wake-up
    /// and has not looked yet. One load; never takes the lock.
    pub(crate) fn must_queue(&self) -> bool {
        self.word.load(Ordering::Relaxed) & (WAITERS | RESERVED) != 0
    }

    /// Protocol step 9, the maker's side: call after making what the waiters
    /// wait for available (an item pushed, a place freed). Wakes the head
    /// waiter if anyone is queued; costs a fence and a load when no one is.
    // Inlined: a fence and a load; the lock is out of line (`hand_over_head`).
    #[inline]
    pub(crate) fn wake_one(&self) {
        // SeqCst: pairs with the fence in `Acquiring::poll_watch_queued` (and
        // `WaitList::wait_watch`) between queueing (`WAITERS` set) and the
        // waiter's last look: either that look sees what the caller made
        // available, or this load sees `WAITERS`.
        fence(Ordering::SeqCst);
        if self.word.load(Ordering::Relaxed) & WAITERS != 0 {
            self.hand_over_head();
        }
    }

    /// [`wake_one`](Self::wake_one) with someone queued.
    #[inline(never)]
    fn hand_over_head(&self) {
        self.lock().hand_over();
    }

    /// Protocol step 9 for a plain thread: returns `attempt`'s first
    /// `Some`, blocking between tries until a [`wake_one`](Self::wake_one)
    /// (or a close) wakes it, for at most until `deadline` (`None` then).
    /// `attempt(owed)` runs under the list's lock: it must not take it; see
    /// [`Acquiring::poll_watch`] for `owed`.
    pub(crate) fn wait_watch<T>(
        &self,
        deadline: Option<Instant>,
        mut attempt: impl FnMut(usize) -> Option<T>,
    ) -> Option<T> {
        let mut found = None;
        // Looks only while nobody is queued ahead (the FIFO rule).
        look_then_spin(deadline, || {
            found = if self.must_queue() { None } else { attempt(0) };
            found.is_some()
        });
        if found.is_some() {
            return found;
        }
        let mut w = Waiter::new(1);
        let mut front = false;
        let mut locked = self.lock();
        loop {
            locked.enqueue_at(&mut w, None, front);
            // SeqCst: pairs with the fence in `wake_one` (see there).
            fence(Ordering::SeqCst);
            let owed = locked.inner().reserved;
            if let Some(t) = attempt(owed) {
                locked.leave_passing_on(&mut w);
                return Some(t);
            }
            match locked.wait_thread(&mut w, deadline) {
                // Woken (or closed): look again, keeping the turn if it fails.
                Ok(()) | Err(Fail::Closed) => {
                    if let Some(t) = attempt(0) {
                        return Some(t);
                    }
                    front = true;
                }
                Err(Fail::NoUnits) => {
                    // Timed out, still queued.
                    locked.leave_passing_on(&mut w);
                    return None;
                }
            }
        }
    }

    /// Protocol step 11: takes one unit without waiting, from the list's
    /// own free units or, failing those, from the count kept outside it
    /// (`outside` takes one there, or says there is none). Refused while
    /// anyone is queued (the FIFO rule) or the list is closed. Never takes
    /// the lock.
    pub(crate) fn try_acquire_outside(&self, outside: &impl Fn() -> bool) -> Result<(), Fail> {
        let cur = self.word.load(Ordering::Relaxed);
        if cur & CLOSED != 0 {
            return Err(Fail::Closed);
        }
        if cur & WAITERS != 0 {
            return Err(Fail::NoUnits);
        }
        if cur >> SHIFT > 0 && self.try_acquire(1).is_ok() {
            return Ok(());
        }
        if outside() {
            Ok(())
        } else {
            Err(Fail::NoUnits)
        }
    }

    /// Protocol step 11, a waiter's side past its try: queues `w` for one
    /// unit (or takes the list's own, if some came meanwhile), then, if it is
    /// the head, looks at the outside count once more. `None`: queued.
    fn enqueue_or_take_outside(
        &self,
        w: &mut Waiter,
        waker: Option<&Waker>,
        outside: &impl Fn() -> bool,
    ) -> Option<Result<(), Fail>> {
        let mut locked = self.lock();
        if let Some(r) = locked.take_or_enqueue(w, waker) {
            return Some(r);
        }
        // SeqCst: pairs with the fence in `released_outside`, between a
        // unit freed outside and its freer's look at `WAITERS`: either this
        // look sees the freed unit, or that look sees `WAITERS` (set by
        // `take_or_enqueue` above) and hands the unit to the head.
        fence(Ordering::SeqCst);
        // Only the head looks: a unit taken by one behind it would overtake
        // the head (whom the freer serves first).
        if locked.inner().head == w.slot && outside() {
            locked.cancel(w);
            return Some(Ok(()));
        }
        None
    }

    /// Protocol step 11, the freer's side: call after a unit was given back
    /// to the outside count. If anyone is queued, takes units from that
    /// count through `outside` for the head waiters, in order, and hands
    /// them over. A fence and a load when nobody is queued.
    #[inline]
    pub(crate) fn released_outside(&self, outside: &impl Fn() -> bool) {
        // SeqCst: pairs with the fence in `enqueue_or_take_outside`.
        fence(Ordering::SeqCst);
        if self.word.load(Ordering::Relaxed) & WAITERS != 0 {
            self.hand_outside_units(outside);
        }
    }

    /// Gives one unit to the head waiter, if anyone is queued (step 4 for
    /// one unit); false, changing nothing, if nobody is. Step 11's freer
    /// calls it first when `WAITERS` is set, so that a place it frees while
    /// putters wait passes straight to the head without touching the
    /// outside count.
    #[inline(never)]
    pub(crate) fn release_to_head(&self) -> bool {
        let mut locked = self.lock();
        if locked.inner().head == NONE {
            return false;
        }
        locked.release(1);
        true
    }

    /// [`released_outside`](Self::released_outside) with someone queued.
    #[inline(never)]
    fn hand_outside_units(&self, outside: &impl Fn() -> bool) {
        let mut locked = self.lock();
        while locked.inner().head != NONE && outside() {
            locked.release(1);
        }
    }

    /// Protocol step 11 for a plain thread: one unit, blocking until a freer
    /// hands it over (or the list closes, or `deadline` passes:
    /// `Err(NoUnits)`, nothing taken). Repeats its try for a few µs first
    /// ([`look_then_spin`]), as the queue's other blocking waits do.
    pub(crate) fn acquire_blocking_outside(
        &self,
        deadline: Option<Instant>,
        outside: &impl Fn() -> bool,
    ) -> Result<(), Fail> {
        let mut r = Err(Fail::NoUnits);
        look_then_spin(deadline, || {
            r = self.try_acquire_outside(outside);
            !matches!(r, Err(Fail::NoUnits))
        });
        if !matches!(r, Err(Fail::NoUnits)) {
            return r;
        }
        let mut w = Waiter::new(1);
        if let Some(r) = self.enqueue_or_take_outside(&mut w, None, outside) {
            return r;
        }
        self.lock().wait_thread_in_line(&mut w, deadline)
    }

    /// Takes `n` units without waiting (protocol step 1). Never takes the lock.
    pub(crate) fn try_acquire(&self, n: usize) -> Result<(), Fail> {
        let mut cur = self.word.load(Ordering::Relaxed);
        loop {
            if cur & CLOSED != 0 {
                return Err(Fail::Closed);
            }
            if n == 0 {
                // Nothing to take, so nobody to overtake.
                return Ok(());
            }
            if cur & WAITERS != 0 || cur >> SHIFT < n {
                return Err(Fail::NoUnits);
            }
            // Acquire: pairs with the Release of the CAS/store that put these
            // units in the word (`add_free`), so what the releaser did while
            // holding them happens-before what we do now.
            match self.word.compare_exchange_weak(
                cur,
                cur - (n << SHIFT),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Adds `n` free units if no one is queued (protocol step 3); false if
    /// `WAITERS` is set. Under the lock with an empty queue it always succeeds.
    fn add_free(&self, n: usize) -> bool {
        // No bound: the check below folds away.
        matches!(self.add_free_within(n, usize::MAX), Added::Done)
    }

    /// [`add_free`](Self::add_free), refused (nothing changed) if the free
    /// units would exceed `bound`; checked in the CAS that adds them.
    #[inline]
    fn add_free_within(&self, n: usize, bound: usize) -> Added {
        let mut cur = self.word.load(Ordering::Relaxed);
        loop {
            if cur & WAITERS != 0 {
                return Added::Waiters;
            }
            let units = (cur >> SHIFT).saturating_add(n);
            if units > bound {
                return Added::OverBound;
            }
            let new = (units.min(MAX_UNITS) << SHIFT) | (cur & (CLOSED | RESERVED));
            // Release: pairs with the Acquire in `try_acquire` and in
            // `Locked::take_or_enqueue` of whoever takes these units next.
            match self
                .word
                .compare_exchange_weak(cur, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return Added::Done,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Gives one unit back unless the free units plus those already handed
    /// to the head waiter (the only partial holder) would then exceed
    /// `bound`; false, changing nothing, if so (a bounded semaphore's
    /// `release`). The check and the release are one step: the CAS that adds
    /// the unit while no one is queued, or, while anyone is, the lock, which
    /// every release then takes (`add_free` refuses while `WAITERS` is set).
    pub(crate) fn release_within(&self, bound: usize) -> bool {
        match self.add_free_within(1, bound) {
            Added::Done => return true,
            Added::OverBound => return false,
            Added::Waiters => {}
        }
        let mut locked = self.lock();
        // The queue may have emptied before we got the lock.
        match self.add_free_within(1, bound) {
            Added::Done => true,
            Added::OverBound => false,
            // Still queued, so no units are free, and `WAITERS` stays set
            // while we hold the lock: the head's partial units are the count.
            Added::Waiters => {
                if locked.head_assigned() >= bound {
                    return false;
                }
                locked.release(1);
                true
            }
        }
    }

    /// Gives `n` units back: to the queue's head waiters first, the rest free
    /// (protocol steps 3 and 4).
    // Inlined: the fast path is one CAS; the lock, with its wake batch on the
    // stack, is out of line (`release_queued`).
    #[inline]
    pub(crate) fn release(&self, n: usize) {
        if n == 0 || self.add_free(n) {
            return;
        }
        self.release_queued(n);
    }

    /// [`release`](Self::release)'s slow path: waiters are queued.
    #[inline(never)]
    fn release_queued(&self, n: usize) {
        self.lock().release(n);
    }

    /// Takes the lock: the queue and the primitive's state.
    // Inlined so the `Locked` (with its wake batch) is built where it is
    // used, not built here and copied out (callgrind: a `memcpy` per lock).
    #[inline]
    pub(crate) fn lock(&self) -> Locked<'_, S> {
        Locked {
            list: self,
            guard: Some(self.inner.lock()),
            wakes: WakeList::new(),
            notify_threads: false,
            stale: None,
        }
    }

    /// Polls an acquire of `w.units()` units: the fast path on the first poll,
    /// then the slot. The caller's `Drop` must [`leave`](Locked::leave) (and
    /// hand back what it returns) if this never returned `Ready`.
    // Inlined: the fast path is one CAS; the rest, with the lock and its wake
    // batch on the stack, is out of line (`poll_acquire_slow`).
    #[inline]
    pub(crate) fn poll_acquire(
        &self,
        w: &mut Waiter,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Fail>> {
        if !w.is_queued() {
            match self.try_acquire(w.units) {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(Fail::Closed) => return Poll::Ready(Err(Fail::Closed)),
                Err(Fail::NoUnits) => {}
            }
        }
        self.poll_acquire_slow(w, cx)
    }

    /// [`poll_acquire`](Self::poll_acquire) past the fast path: queues `w`,
    /// or looks at its slot.
    #[inline(never)]
    fn poll_acquire_slow(&self, w: &mut Waiter, cx: &mut Context<'_>) -> Poll<Result<(), Fail>> {
        if !w.is_queued() {
            let mut locked = self.lock();
            return match locked.take_or_enqueue(w, Some(cx.waker())) {
                Some(r) => Poll::Ready(r),
                None => Poll::Pending,
            };
        }
        self.poll_queued(w, cx)
    }

    /// A queued units waiter polled again: its mailbox first (step 10),
    /// then its slot under the lock.
    fn poll_queued(&self, w: &mut Waiter, cx: &mut Context<'_>) -> Poll<Result<(), Fail>> {
        if let Some(r) = w.peek() {
            return Poll::Ready(r);
        }
        self.lock().poll_slot(w, cx.waker())
    }

    /// Protocol step 11 for a task: [`poll_acquire`](Self::poll_acquire)
    /// for one unit of a list whose units are counted mostly outside it
    /// (`outside` as in [`try_acquire_outside`](Self::try_acquire_outside)).
    fn poll_acquire_outside(
        &self,
        w: &mut Waiter,
        cx: &mut Context<'_>,
        outside: &impl Fn() -> bool,
    ) -> Poll<Result<(), Fail>> {
        if w.is_queued() {
            return self.poll_queued(w, cx);
        }
        match self.try_acquire_outside(outside) {
            Err(Fail::NoUnits) => {
                match self.enqueue_or_take_outside(w, Some(cx.waker()), outside) {
                    Some(r) => Poll::Ready(r),
                    None => Poll::Pending,
                }
            }
            r => Poll::Ready(r),
        }
    }

    /// [`acquire_blocking`](Self::acquire_blocking), first repeating its
    /// lock-free try for a few µs ([`look_then_spin`]): for a queue's
    /// blocking put and get, whose place or item a task on a worker usually
    /// makes within that. The thread is not in line while it spins.
    pub(crate) fn acquire_blocking_spinning(
        &self,
        n: usize,
        deadline: Option<Instant>,
    ) -> Result<(), Fail> {
        let mut r = Err(Fail::NoUnits);
        look_then_spin(deadline, || {
            r = self.try_acquire(n);
            !matches!(r, Err(Fail::NoUnits))
        });
        match r {
            Err(Fail::NoUnits) => self.acquire_in_line(n, deadline),
            r => r,
        }
    }

    /// Blocks the calling thread for `n` units, until `deadline` if given.
    /// `Err(NoUnits)` on timeout (nothing taken), `Err(Closed)` if closed.
    pub(crate) fn acquire_blocking(&self, n: usize, deadline: Option<Instant>) -> Result<(), Fail> {
        match self.try_acquire(n) {
            Err(Fail::NoUnits) => self.acquire_in_line(n, deadline),
            r => r,
        }
    }

    /// The blocking acquires past their lock-free try: queues a thread
    /// waiter for `n` units (or takes them, if they came meanwhile) and
    /// blocks until it is assigned, the list is closed, or `deadline` passes
    /// (then it leaves the queue: `Err(NoUnits)`).
    fn acquire_in_line(&self, n: usize, deadline: Option<Instant>) -> Result<(), Fail> {
        let mut w = Waiter::new(n);
        let mut locked = self.lock();
        if let Some(r) = locked.take_or_enqueue(&mut w, None) {
            return r;
        }
        locked.wait_thread_in_line(&mut w, deadline)
    }
}

/// A queue's blocking wait's tries before it queues: one look with `ready`,
/// then [`spin::spin_until`] it (up to 10 µs, never past `deadline`: a zero
/// timeout is one look). A thread blocked on a queue's place or item is often
/// short of it for only a few hundred ns while a task on a worker makes it;
/// the spin spares both sides a futex call (the sleep, and the wake-up).
/// Returns whether `ready` said yes.
fn look_then_spin(deadline: Option<Instant>, mut ready: impl FnMut() -> bool) -> bool {
    ready() || spin::spin_until(deadline, ready)
}

/// The state of one units-acquiring future (a semaphore's `acquire`, a
/// mutex's `lock`, an rwlock's `read`/`write`): its waiter and whether it has
/// completed. The future's `Drop` calls [`cancel`](Self::cancel).
#[derive(Debug)]
pub(crate) struct Acquiring {
    waiter: Waiter,
    done: bool,
    /// What a task dump shows the task awaiting while it is queued.
    kind: &'static Described,
    described: DescribedWait,
}

impl Acquiring {
    /// Not started, for `units` units of a primitive whose waits a dump
    /// shows as `kind` (`Described::of_kind("lock")`...).
    pub(crate) const fn new(units: usize, kind: &'static Described) -> Self {
        Acquiring {
            waiter: Waiter::new(units),
            done: false,
            kind,
            described: DescribedWait::new(),
        }
    }

    /// The units it asks for.
    pub(crate) fn units(&self) -> usize {
        self.waiter.units
    }

    /// Whether it is queued.
    pub(crate) fn is_queued(&self) -> bool {
        self.waiter.is_queued()
    }

    /// Polls for the units (spending one unit of the task's cooperative
    /// budget on the first poll). `Pending` forever once it returned `Ready`.
    #[inline]
    pub(crate) fn poll<S>(
        &mut self,
        list: &WaitList<S>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Fail>> {
        self.poll_with(cx, |w, cx| list.poll_acquire(w, cx))
    }

    /// Protocol step 11: polls for one unit of a list whose free units are
    /// counted mostly outside it (`outside` takes one from that count, as in
    /// [`WaitList::try_acquire_outside`]), spending one unit of the task's
    /// cooperative budget on the first poll. Once queued it is served as
    /// [`poll`](Self::poll) is (a freer hands it a unit; it looks at its
    /// mailbox first), and its future's `Drop` calls
    /// [`cancel`](Self::cancel).
    pub(crate) fn poll_outside<S>(
        &mut self,
        list: &WaitList<S>,
        cx: &mut Context<'_>,
        outside: impl Fn() -> bool,
    ) -> Poll<Result<(), Fail>> {
        self.poll_with(cx, |w, cx| list.poll_acquire_outside(w, cx, &outside))
    }

    /// What [`poll`](Self::poll) and [`poll_outside`](Self::poll_outside)
    /// share around their acquire: `Pending` once done, the cooperative
    /// budget spent on the first poll, and the dump's record of the wait.
    #[inline]
    fn poll_with(
        &mut self,
        cx: &mut Context<'_>,
        acquire: impl FnOnce(&mut Waiter, &mut Context<'_>) -> Poll<Result<(), Fail>>,
    ) -> Poll<Result<(), Fail>> {
        if self.done {
            return Poll::Pending;
        }
        if !self.waiter.is_queued() && weft_task::coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        let r = acquire(&mut self.waiter, cx);
        if r.is_ready() {
            self.done = true;
            self.described.ready();
        } else {
            self.described.pending_static(self.kind);
        }
        r
    }

    /// Protocol step 9, the waiter's side: polls for what `attempt` looks
    /// for (an item in a ring, a place in it), queueing between tries; the
    /// list carries no units, only wake-ups ([`WaitList::wake_one`]). A
    /// newcomer looks first unless others wait ([`WaitList::must_queue`]);
    /// a waiter queues, then looks once more (so a `wake_one` that came
    /// before it queued is not lost); one woken that finds nothing queues
    /// again at the head. `attempt` runs under the list's lock on those
    /// second looks: it must not take it. `attempt(owed)` must leave `owed`
    /// items (places) for the waiters handed a wake-up and not yet run: a
    /// newcomer's look after queueing does not take what a woken waiter was
    /// woken for (a newcomer looking first, and a woken waiter, pass 0:
    /// nobody else is owed anything then, or it is owed itself). Spends one unit of the task's
    /// cooperative budget on the first poll. The future's `Drop` calls
    /// [`cancel_watch`](Self::cancel_watch).
    // Inlined: the first look needs no lock; the rest, with the lock and its
    // wake batch on the stack, is out of line (`poll_watch_queued`).
    #[inline]
    pub(crate) fn poll_watch<S, T>(
        &mut self,
        list: &WaitList<S>,
        cx: &mut Context<'_>,
        mut attempt: impl FnMut(usize) -> Option<T>,
    ) -> Poll<T> {
        if self.done {
            return Poll::Pending;
        }
        if !self.waiter.is_queued() {
            if weft_task::coop::poll_proceed(cx).is_pending() {
                return Poll::Pending;
            }
            if !list.must_queue() {
                if let Some(t) = attempt(0) {
                    return self.finish_watch(t);
                }
            }
        }
        self.poll_watch_queued(list, cx, attempt)
    }

    /// [`poll_watch`](Self::poll_watch) past the first look: queues, or
    /// looks at the slot of a waiter already queued.
    #[inline(never)]
    fn poll_watch_queued<S, T>(
        &mut self,
        list: &WaitList<S>,
        cx: &mut Context<'_>,
        mut attempt: impl FnMut(usize) -> Option<T>,
    ) -> Poll<T> {
        let woken = self.waiter.is_queued();
        // The `Locked` lives in this block and is dropped where it is (it
        // carries the wake batch: moving it, even into `drop`, copies it).
        let got = {
            let mut locked = list.lock();
            let mut got = None;
            if woken {
                if locked.poll_slot(&mut self.waiter, cx.waker()).is_pending() {
                    return Poll::Pending;
                }
                // Handed a wake-up, or closed: look again.
                got = attempt(0);
            }
            if got.is_none() {
                // Queue (again, at the head, if a newcomer took what this
                // waiter was woken for: it keeps its turn).
                locked.enqueue_at(&mut self.waiter, Some(cx.waker()), woken);
                // SeqCst: pairs with the fence in `WaitList::wake_one` (see
                // there).
                fence(Ordering::SeqCst);
                let owed = locked.inner().reserved;
                got = attempt(owed);
                if got.is_some() {
                    locked.leave_passing_on(&mut self.waiter);
                }
            }
            got
        };
        if let Some(t) = got {
            return self.finish_watch(t);
        }
        self.described.pending_static(self.kind);
        Poll::Pending
    }

    fn finish_watch<T>(&mut self, t: T) -> Poll<T> {
        self.done = true;
        self.described.ready();
        Poll::Ready(t)
    }

    /// The future of a [`poll_watch`](Self::poll_watch) was dropped: leaves
    /// the queue, passing on a wake-up it was handed and did not use.
    #[inline]
    pub(crate) fn cancel_watch<S>(&mut self, list: &WaitList<S>) {
        if self.waiter.is_queued() {
            self.leave_watch(list);
        }
    }

    /// [`cancel_watch`](Self::cancel_watch) of a queued waiter, out of line.
    #[inline(never)]
    fn leave_watch<S>(&mut self, list: &WaitList<S>) {
        list.lock().leave_passing_on(&mut self.waiter);
    }

    /// The future was dropped: leaves the queue and hands on whatever units
    /// were assigned to it (protocol step 6).
    #[inline]
    pub(crate) fn cancel<S>(&mut self, list: &WaitList<S>) {
        if self.waiter.is_queued() {
            self.leave(list);
        }
    }

    /// [`cancel`](Self::cancel) of a queued waiter, out of line (the lock's
    /// wake batch stays off the caller's stack).
    #[inline(never)]
    fn leave<S>(&mut self, list: &WaitList<S>) {
        list.lock().cancel(&mut self.waiter);
    }
}

/// Wakers taken under the lock, woken after it. Uninitialized storage, so
/// taking the lock does not write `WAKE_BATCH` empty slots first.
struct WakeList {
    /// `wakers[..len]` are initialized; the rest are not.
    wakers: [MaybeUninit<Waker>; WAKE_BATCH],
    len: usize,
}

impl fmt::Debug for WakeList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WakeList").field("len", &self.len).finish()
    }
}

impl WakeList {
    fn new() -> Self {
        WakeList {
            wakers: [const { MaybeUninit::uninit() }; WAKE_BATCH],
            len: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.len == WAKE_BATCH
    }

    /// The caller checked `!is_full()` (`Locked::wake_slot` flushes first).
    fn push(&mut self, w: Waker) {
        self.wakers[self.len].write(w);
        self.len += 1;
    }

    fn wake_all(&mut self) {
        // `len` is reset first: if a waker panics, the ones after it leak
        // (never dropped twice).
        let n = std::mem::take(&mut self.len);
        for slot in &mut self.wakers[..n] {
            // SAFETY: slots below the old `len` were written by `push`, and
            // each is read out once: `len` is already 0.
            let w = unsafe { slot.assume_init_read() };
            w.wake();
        }
    }
}

impl Drop for WakeList {
    fn drop(&mut self) {
        let n = std::mem::take(&mut self.len);
        for slot in &mut self.wakers[..n] {
            // SAFETY: as in `wake_all`: initialized, read out once.
            drop(unsafe { slot.assume_init_read() });
        }
    }
}

/// The lock on a [`WaitList`], with the wakers to wake once it is dropped.
#[derive(Debug)]
pub(crate) struct Locked<'a, S> {
    list: &'a WaitList<S>,
    /// `Some` except for the instant `flush` drops and retakes it.
    guard: Option<MutexGuard<'a, Inner<S>>>,
    wakes: WakeList,
    notify_threads: bool,
    /// A waker taken out of a slot that is freed or re-registered, dropped
    /// after the unlock (with the `Locked`): dropping a waker may drop the
    /// last reference to a task, and so a future that locks this list.
    stale: Option<Waker>,
}

impl<S> Drop for Locked<'_, S> {
    fn drop(&mut self) {
        drop(self.guard.take());
        self.wake_now();
        drop(self.stale.take());
    }
}

impl<'a, S> Locked<'a, S> {
    fn inner(&mut self) -> &mut Inner<S> {
        match &mut self.guard {
            Some(g) => g,
            // `guard` is `None` only inside `flush`, which never calls this.
            None => unreachable!("wait list used while unlocked"),
        }
    }

    /// The primitive's state.
    pub(crate) fn user(&mut self) -> &mut S {
        &mut self.inner().user
    }

    /// The list this lock is on.
    pub(crate) fn list(&self) -> &'a WaitList<S> {
        self.list
    }

    fn wake_now(&mut self) {
        self.wakes.wake_all();
        if std::mem::take(&mut self.notify_threads) {
            self.list.threads.notify_all();
        }
    }

    /// Drops the lock, wakes what was collected, retakes it.
    fn flush(&mut self) {
        drop(self.guard.take());
        self.wake_now();
        self.guard = Some(self.list.inner.lock());
    }

    fn wake_slot(&mut self, idx: usize) {
        let wake = std::mem::replace(&mut self.inner().slots[idx].wake, Wake::Idle);
        match wake {
            Wake::Idle => {}
            Wake::Task(w) => {
                if self.wakes.is_full() {
                    self.flush();
                }
                self.wakes.push(w);
            }
            Wake::Thread => self.notify_threads = true,
        }
    }

    /// Takes a free slot and links it at the tail (at the head if `front`);
    /// returns it and, if `peekable`, a clone of its mailbox for the owner.
    fn alloc_slot(
        &mut self,
        units: usize,
        assigned: usize,
        wake: Wake,
        front: bool,
        peekable: bool,
    ) -> (usize, Option<Arc<AtomicUsize>>) {
        let reused = self.take_free_slot();
        let inner = self.inner();
        let ticket = inner.next_ticket;
        inner.next_ticket += 1;
        let prev = if front { NONE } else { inner.tail };
        let next = if front { inner.head } else { NONE };
        let idx = match reused {
            Some(idx) => {
                let slot = &mut inner.slots[idx];
                slot.state = SlotState::Queued;
                slot.wanted = units;
                slot.assigned = assigned;
                slot.ticket = ticket;
                slot.tag = NONE;
                slot.reserved = false;
                slot.peekable = peekable;
                slot.prev = prev;
                slot.next = next;
                slot.wake = wake;
                // Relaxed: the slot's last owner is gone (it retired the
                // slot, seen by `take_free_slot`'s Acquire, or freed it
                // under this lock); the new owner gets its clone under this
                // lock.
                slot.mailbox.store(WAITING, Ordering::Relaxed);
                idx
            }
            None => {
                inner.slots.push(Slot {
                    state: SlotState::Queued,
                    wanted: units,
                    assigned,
                    ticket,
                    tag: NONE,
                    reserved: false,
                    peekable,
                    prev,
                    next,
                    wake,
                    mailbox: Arc::new(AtomicUsize::new(WAITING)),
                });
                inner.slots.len() - 1
            }
        };
        let mailbox = peekable.then(|| inner.slots[idx].mailbox.clone());
        if front {
            match inner.head {
                NONE => inner.tail = idx,
                head => inner.slots[head].prev = idx,
            }
            inner.head = idx;
        } else {
            match inner.tail {
                NONE => inner.head = idx,
                tail => inner.slots[tail].next = idx,
            }
            inner.tail = idx;
        }
        (idx, mailbox)
    }

    /// A slot off the free list, else a published slot whose owner retired
    /// it (step 10; the oldest `RECLAIM_LOOKS` are looked at, those still
    /// held move to the back), else `None` (the slab grows).
    fn take_free_slot(&mut self) -> Option<usize> {
        for _ in 0..RECLAIM_LOOKS {
            let inner = self.inner();
            if inner.free != NONE {
                break;
            }
            let idx = inner.published_head;
            if idx == NONE {
                return None;
            }
            // Acquire: pairs with the Release store of `RETIRED` in
            // `Waiter::peek`: the owner's last look at the mailbox
            // happens-before the slot's reuse.
            if inner.slots[idx].mailbox.load(Ordering::Acquire) == RETIRED {
                self.free_slot(idx);
                break;
            }
            self.unlink_published(idx);
            self.push_published(idx);
        }
        let inner = self.inner();
        let idx = inner.free;
        if idx == NONE {
            return None;
        }
        inner.free = inner.slots[idx].next;
        Some(idx)
    }

    /// Appends the just assigned or closed peekable slot `idx` to the
    /// published list and publishes `result` in its mailbox (step 10).
    fn publish(&mut self, idx: usize, result: usize) {
        // Release: pairs with the Acquire load in `Waiter::peek`.
        self.inner().slots[idx]
            .mailbox
            .store(result, Ordering::Release);
        self.push_published(idx);
    }

    fn push_published(&mut self, idx: usize) {
        let inner = self.inner();
        let tail = inner.published_tail;
        inner.slots[idx].prev = tail;
        inner.slots[idx].next = NONE;
        match tail {
            NONE => inner.published_head = idx,
            tail => inner.slots[tail].next = idx,
        }
        inner.published_tail = idx;
    }

    fn unlink_published(&mut self, idx: usize) {
        let inner = self.inner();
        let (prev, next) = (inner.slots[idx].prev, inner.slots[idx].next);
        match prev {
            NONE => inner.published_head = next,
            prev => inner.slots[prev].next = next,
        }
        match next {
            NONE => inner.published_tail = prev,
            next => inner.slots[next].prev = prev,
        }
    }

    /// Frees `w`'s slot (assigned or closed, or already unlinked by
    /// `leave`): `w` holds no slot afterwards.
    fn drop_slot(&mut self, w: &mut Waiter) {
        self.free_slot(w.slot);
        w.slot = NONE;
        w.mailbox = None;
    }

    fn free_slot(&mut self, idx: usize) {
        if self.inner().slots[idx].is_published() {
            self.unlink_published(idx);
        }
        let inner = self.inner();
        let slot = &mut inner.slots[idx];
        slot.state = SlotState::Free;
        let wake = std::mem::replace(&mut slot.wake, Wake::Idle);
        let reserved = std::mem::take(&mut slot.reserved);
        slot.next = inner.free;
        inner.free = idx;
        if reserved {
            inner.reserved -= 1;
            if inner.reserved == 0 {
                // Relaxed: as `WAITERS` in `unlink`, a hint read outside the
                // lock (`WaitList::must_queue`); what it guards is published
                // by the lock and by the fences of step 9.
                self.list.word.fetch_and(!RESERVED, Ordering::Relaxed);
            }
        }
        if let Wake::Task(w) = wake {
            self.stale = Some(w);
        }
    }

    /// Unlinks a queued slot; clears `WAITERS` if the queue is now empty.
    fn unlink(&mut self, idx: usize) {
        let inner = self.inner();
        let (prev, next) = (inner.slots[idx].prev, inner.slots[idx].next);
        if prev == NONE {
            inner.head = next;
        } else {
            inner.slots[prev].next = next;
        }
        if next == NONE {
            inner.tail = prev;
        } else {
            inner.slots[next].prev = prev;
        }
        if inner.head == NONE {
            // Relaxed: `WAITERS` is only read as a hint outside the lock; the
            // units themselves are published by `add_free`'s Release.
            self.list.word.fetch_and(!WAITERS, Ordering::Relaxed);
        }
    }

    fn mark_waiters(&mut self) {
        // Relaxed: see `unlink`; ordering comes from the lock.
        self.list.word.fetch_or(WAITERS, Ordering::Relaxed);
    }

    /// Protocol step 2: takes `w.units()` units now (`Some(Ok)`), fails if
    /// closed (`Some(Err)`), or queues `w` with what units are free as a
    /// partial assignment (`None`). `waker` is `None` for a thread waiter.
    pub(crate) fn take_or_enqueue(
        &mut self,
        w: &mut Waiter,
        waker: Option<&Waker>,
    ) -> Option<Result<(), Fail>> {
        let n = w.units;
        let word = &self.list.word;
        let mut cur = word.load(Ordering::Relaxed);
        let taken = loop {
            if cur & CLOSED != 0 {
                return Some(Err(Fail::Closed));
            }
            if cur & WAITERS != 0 {
                break 0;
            }
            let free = cur >> SHIFT;
            let (new, taken) = if free >= n {
                (cur - (n << SHIFT), n)
            } else {
                (WAITERS | (cur & RESERVED), free)
            };
            // Acquire: pairs with `add_free`'s Release (the units' releaser).
            match word.compare_exchange_weak(cur, new, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) if taken == n => return Some(Ok(())),
                Ok(_) => break taken,
                Err(actual) => cur = actual,
            }
        };
        // `WAITERS` is set: the loop left either on seeing it or by the CAS
        // that set it, and only this lock's holder clears it. So no second
        // read-modify-write of the hot word (`enqueue`'s `mark_waiters`).
        // A task's slot is peekable (step 10: `poll_acquire` looks at its
        // mailbox first); a thread looks under the lock.
        self.link(w, taken, waker, false, waker.is_some());
        None
    }

    /// Queues `w` without taking units (the notify-style primitives).
    pub(crate) fn enqueue(&mut self, w: &mut Waiter, waker: Option<&Waker>) {
        self.link(w, 0, waker, false, false);
        self.mark_waiters();
    }

    /// [`enqueue`](Self::enqueue), at the tail, or at the head if `front`
    /// (a waiter handed a wake-up that found nothing: it keeps its turn).
    pub(crate) fn enqueue_at(&mut self, w: &mut Waiter, waker: Option<&Waker>, front: bool) {
        self.link(w, 0, waker, front, false);
        self.mark_waiters();
    }

    /// Links `w` at the tail (the head if `front`) with `taken` units
    /// already its own; `peekable`: its owner looks at the slot's mailbox
    /// before it takes the lock (step 10). The caller sees to `WAITERS`.
    fn link(
        &mut self,
        w: &mut Waiter,
        taken: usize,
        waker: Option<&Waker>,
        front: bool,
        peekable: bool,
    ) {
        let wake = match waker {
            Some(waker) => Wake::Task(waker.clone()),
            None => Wake::Thread,
        };
        (w.slot, w.mailbox) = self.alloc_slot(w.units, taken, wake, front, peekable);
    }

    /// Protocol step 9: wakes the head waiter, if any, marking its slot
    /// reserved (`RESERVED` set until its owner frees it); returns whether
    /// there was one.
    pub(crate) fn hand_over(&mut self) -> bool {
        let head = self.inner().head;
        if head == NONE {
            return false;
        }
        // A reserved slot's owner must look under the lock (it clears
        // `RESERVED`): step 9's watchers are never peekable (step 10).
        debug_assert!(!self.inner().slots[head].peekable);
        self.assign(head);
        let inner = self.inner();
        inner.slots[head].reserved = true;
        inner.reserved += 1;
        if inner.reserved == 1 {
            // Relaxed: see `free_slot`.
            self.list.word.fetch_or(RESERVED, Ordering::Relaxed);
        }
        true
    }

    /// Checks a queued waiter's slot: `Ready` (slot freed) once assigned or
    /// closed, else stores `waker` and stays `Pending`.
    pub(crate) fn poll_slot(&mut self, w: &mut Waiter, waker: &Waker) -> Poll<Result<(), Fail>> {
        let idx = w.slot;
        let slot = &mut self.inner().slots[idx];
        let r = match slot.state {
            SlotState::Queued => {
                match &slot.wake {
                    Wake::Task(old) if old.will_wake(waker) => {}
                    _ => {
                        let old = std::mem::replace(&mut slot.wake, Wake::Task(waker.clone()));
                        if let Wake::Task(w) = old {
                            self.stale = Some(w);
                        }
                    }
                }
                return Poll::Pending;
            }
            SlotState::Assigned => Ok(()),
            SlotState::Closed | SlotState::Free => Err(Fail::Closed),
        };
        self.drop_slot(w);
        Poll::Ready(r)
    }

    /// Blocks the thread until `w` (queued as a thread waiter) is assigned
    /// (`Ok`, slot freed), closed (`Err(Closed)`, slot freed) or `deadline`
    /// passes (`Err(NoUnits)`: still queued; the caller must `leave`).
    pub(crate) fn wait_thread(
        &mut self,
        w: &mut Waiter,
        deadline: Option<Instant>,
    ) -> Result<(), Fail> {
        self.wait_thread_tagged(w, deadline).0
    }

    /// [`wait_thread`](Self::wait_thread) for a units waiter: on timeout it
    /// leaves the queue, handing on what it was given (protocol step 6), so
    /// `Err(NoUnits)` means nothing taken.
    pub(crate) fn wait_thread_in_line(
        &mut self,
        w: &mut Waiter,
        deadline: Option<Instant>,
    ) -> Result<(), Fail> {
        let r = self.wait_thread(w, deadline);
        if r == Err(Fail::NoUnits) {
            self.cancel(w);
        }
        r
    }

    /// [`wait_thread`](Self::wait_thread), also returning the slot's
    /// [`tag`](Self::tag) as it was when the wait ended.
    pub(crate) fn wait_thread_tagged(
        &mut self,
        w: &mut Waiter,
        deadline: Option<Instant>,
    ) -> (Result<(), Fail>, Option<usize>) {
        self.wake_now();
        loop {
            let idx = w.slot;
            let r = match self.inner().slots[idx].state {
                SlotState::Queued => None,
                SlotState::Assigned => Some(Ok(())),
                SlotState::Closed | SlotState::Free => Some(Err(Fail::Closed)),
            };
            if let Some(r) = r {
                let tag = self.tag(w);
                self.drop_slot(w);
                return (r, tag);
            }
            let threads = &self.list.threads;
            let guard = match &mut self.guard {
                Some(g) => g,
                None => unreachable!("wait list used while unlocked"),
            };
            match deadline {
                None => threads.wait(guard),
                Some(d) => {
                    if Instant::now() >= d || threads.wait_until(guard, d).timed_out() {
                        // One last look: an assignment may have raced the timeout.
                        if self.inner().slots[idx].state == SlotState::Queued {
                            return (Err(Fail::NoUnits), self.tag(w));
                        }
                    }
                }
            }
        }
    }

    /// Protocol step 8: gives every queued waiter that has no tag yet the
    /// next number from `first`, head first; returns the number after the
    /// last one given.
    pub(crate) fn tag_queued(&mut self, first: usize) -> usize {
        let inner = self.inner();
        let mut next = first;
        let mut at = inner.head;
        while at != NONE {
            let slot = &mut inner.slots[at];
            if slot.tag == NONE {
                slot.tag = next;
                next += 1;
            }
            at = slot.next;
        }
        next
    }

    /// The tag of `w`'s slot, if it holds one and [`tag_queued`](Self::tag_queued)
    /// numbered it. Read it before [`poll_slot`](Self::poll_slot) or
    /// [`leave`](Self::leave) free the slot.
    pub(crate) fn tag(&mut self, w: &Waiter) -> Option<usize> {
        if w.slot == NONE {
            return None;
        }
        match self.inner().slots[w.slot].tag {
            NONE => None,
            tag => Some(tag),
        }
    }

    /// Protocol step 6 for a units waiter that goes away: leaves, handing on
    /// the units it held (a timed-out blocking acquire, a dropped future).
    pub(crate) fn cancel(&mut self, w: &mut Waiter) {
        if let Left::Queued(a) | Left::Assigned(a) = self.leave(w) {
            self.release(a);
        }
    }

    /// Protocol step 9's leave: takes `w` out of the list; a wake-up it was
    /// handed ([`hand_over`](Self::hand_over)) and did not use goes to the
    /// next waiter.
    pub(crate) fn leave_passing_on(&mut self, w: &mut Waiter) {
        if let Left::Assigned(_) = self.leave(w) {
            self.hand_over();
        }
    }

    /// Protocol step 6: takes `w` out of the list. The caller hands on what
    /// the result says it held (`Queued(a)`/`Assigned(a)` units).
    pub(crate) fn leave(&mut self, w: &mut Waiter) -> Left {
        let idx = w.slot;
        if idx == NONE {
            return Left::NotQueued;
        }
        let (state, assigned) = {
            let slot = &self.inner().slots[idx];
            (slot.state, slot.assigned)
        };
        let left = match state {
            SlotState::Queued => {
                self.unlink(idx);
                Left::Queued(assigned)
            }
            SlotState::Assigned => Left::Assigned(assigned),
            SlotState::Closed | SlotState::Free => Left::Closed,
        };
        self.drop_slot(w);
        left
    }

    /// Protocol step 4: hands `n` units to the head waiters, the rest free.
    pub(crate) fn release(&mut self, mut n: usize) {
        while n > 0 {
            let head = self.inner().head;
            if head == NONE {
                // Empty queue under the lock: `WAITERS` is clear and stays so.
                let added = self.list.add_free(n);
                debug_assert!(added);
                return;
            }
            let slot = &mut self.inner().slots[head];
            let give = n.min(slot.wanted - slot.assigned);
            slot.assigned += give;
            n -= give;
            if slot.assigned == slot.wanted {
                self.assign(head);
            }
        }
    }

    /// Unlinks the queued slot `idx`, marks it `Assigned` (publishing that
    /// if it is peekable) and wakes it.
    fn assign(&mut self, idx: usize) {
        self.unlink(idx);
        let slot = &mut self.inner().slots[idx];
        slot.assigned = slot.wanted;
        slot.state = SlotState::Assigned;
        if slot.peekable {
            self.publish(idx, ASSIGNED);
        }
        self.wake_slot(idx);
    }

    /// Protocol step 5: wakes up to `n` head waiters (assigning them their
    /// units out of nothing); returns how many.
    pub(crate) fn notify(&mut self, n: usize) -> usize {
        let mut woken = 0;
        while woken < n {
            let head = self.inner().head;
            if head == NONE {
                break;
            }
            self.assign(head);
            woken += 1;
        }
        woken
    }

    /// Wakes every waiter queued now (not those that queue while the lock is
    /// dropped to wake a batch); returns how many.
    pub(crate) fn notify_all(&mut self) -> usize {
        let end = self.inner().next_ticket;
        let mut woken = 0;
        loop {
            let inner = self.inner();
            let head = inner.head;
            if head == NONE || inner.slots[head].ticket >= end {
                return woken;
            }
            self.assign(head);
            woken += 1;
        }
    }

    /// Protocol step 7: fails every queued waiter and every later acquire.
    pub(crate) fn close(&mut self) {
        // Relaxed: readers of `CLOSED` outside the lock only fail early; the
        // slots below are published by the lock.
        self.list.word.fetch_or(CLOSED, Ordering::Relaxed);
        let mut returned = 0usize;
        loop {
            let head = self.inner().head;
            if head == NONE {
                break;
            }
            self.unlink(head);
            let slot = &mut self.inner().slots[head];
            slot.state = SlotState::Closed;
            returned = returned.saturating_add(slot.assigned);
            slot.assigned = 0;
            if slot.peekable {
                self.publish(head, CLOSED_SLOT);
            }
            self.wake_slot(head);
        }
        if returned > 0 {
            let added = self.list.add_free(returned);
            debug_assert!(added);
        }
    }

    /// Undoes [`close`](Self::close) for later acquires.
    pub(crate) fn reopen(&mut self) {
        // Relaxed: as in `close`.
        self.list.word.fetch_and(!CLOSED, Ordering::Relaxed);
    }

    /// How many are queued (walks the queue).
    pub(crate) fn waiter_count(&mut self) -> usize {
        let inner = self.inner();
        let mut n = 0;
        let mut at = inner.head;
        while at != NONE {
            n += 1;
            at = inner.slots[at].next;
        }
        n
    }

    /// Slots in the slab, free or not (its high-water mark).
    #[cfg(all(test, not(loom)))]
    fn slab_len(&mut self) -> usize {
        self.inner().slots.len()
    }

    /// Units assigned to the head waiter so far (only the head can hold a
    /// partial assignment).
    pub(crate) fn head_assigned(&mut self) -> usize {
        let inner = self.inner();
        match inner.head {
            NONE => 0,
            h => inner.slots[h].assigned,
        }
    }
}

// The models under loom are in `loom_tests.rs`.
#[cfg(not(loom))]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{
        cancel as drop_waiter, flag, one_waiter, poll_units as poll, two_waiters, woken, TwoWaiters,
    };
    use std::sync::Arc;

    #[test]
    fn uncontended_takes_and_returns_units_without_queueing() {
        let list = WaitList::new(2, ());
        let (_f, waker) = flag();
        let mut w = Waiter::new(2);
        assert_eq!(poll(&list, &mut w, &waker), Poll::Ready(Ok(())));
        assert!(!w.is_queued());
        assert_eq!(list.available(), 0);
        list.release(2);
        assert_eq!(list.available(), 2);
        assert!(!list.has_waiters());
    }

    #[test]
    fn release_hands_off_in_fifo_order_and_blocks_barging() {
        let TwoWaiters {
            list,
            mut a,
            mut b,
            fa,
            fb,
            wa,
            wb,
        } = two_waiters();
        list.release(1);
        assert_eq!(woken(&fa), 1);
        assert_eq!(woken(&fb), 0);
        // A barging fast acquire is refused while b waits.
        assert_eq!(list.try_acquire(1), Err(Fail::NoUnits));
        assert_eq!(poll(&list, &mut a, &wa), Poll::Ready(Ok(())));
        list.release(1);
        assert_eq!(woken(&fb), 1);
        assert_eq!(poll(&list, &mut b, &wb), Poll::Ready(Ok(())));
        assert!(!list.has_waiters());
        assert_eq!(list.available(), 0);
    }

    #[test]
    fn waiter_dropped_after_assignment_passes_units_on() {
        let TwoWaiters {
            list,
            mut a,
            mut b,
            fb,
            wb,
            ..
        } = two_waiters();
        list.release(1); // assigned to a
        drop_waiter(&list, &mut a); // a cancelled after its wake-up
        assert_eq!(woken(&fb), 1);
        assert_eq!(poll(&list, &mut b, &wb), Poll::Ready(Ok(())));
        assert_eq!(list.available(), 0);
    }

    #[test]
    fn partial_assignment_is_returned_when_the_waiter_leaves() {
        let list = WaitList::new(1, ());
        let (_f, waker) = flag();
        let mut big = Waiter::new(3);
        assert!(poll(&list, &mut big, &waker).is_pending());
        assert_eq!(list.available(), 0); // its 1 unit is assigned to it
        list.release(1);
        drop_waiter(&list, &mut big);
        assert_eq!(list.available(), 2);
        assert!(!list.has_waiters());
    }

    #[test]
    fn notify_all_spares_later_arrivals_and_adds_no_units() {
        let list = WaitList::new(0, ());
        let (f, waker) = flag();
        let mut ws: Vec<Waiter> = (0..40).map(|_| Waiter::new(1)).collect();
        {
            let mut l = list.lock();
            for w in &mut ws {
                l.enqueue(w, Some(&waker));
            }
            assert_eq!(l.waiter_count(), 40);
            assert_eq!(l.notify_all(), 40);
            let mut late = Waiter::new(1);
            l.enqueue(&mut late, Some(&waker));
            assert_eq!(l.notify_all(), 1);
            assert_eq!(l.notify(5), 0);
            let _ = l.poll_slot(&mut late, &waker);
        }
        assert_eq!(woken(&f), 41);
        for w in &mut ws {
            assert_eq!(poll(&list, w, &waker), Poll::Ready(Ok(())));
        }
        assert_eq!(list.available(), 0);
    }

    #[test]
    fn close_fails_waiters_and_later_acquires_and_returns_partial_units() {
        let list = WaitList::new(1, ());
        let (f, waker) = flag();
        let mut w = Waiter::new(2);
        assert!(poll(&list, &mut w, &waker).is_pending());
        list.lock().close();
        assert_eq!(woken(&f), 1);
        assert_eq!(poll(&list, &mut w, &waker), Poll::Ready(Err(Fail::Closed)));
        assert_eq!(list.available(), 1);
        assert_eq!(list.try_acquire(1), Err(Fail::Closed));
        list.lock().reopen();
        assert_eq!(list.try_acquire(1), Ok(()));
    }

    #[test]
    fn blocking_waiter_is_woken_by_release_and_times_out_cleanly() {
        let list = Arc::new(WaitList::new(0, ()));
        let l2 = list.clone();
        let t = std::thread::spawn(move || l2.acquire_blocking(1, None));
        while !list.has_waiters() {
            std::thread::yield_now();
        }
        list.release(1);
        assert_eq!(t.join().unwrap(), Ok(()));
        let deadline = Instant::now() + std::time::Duration::from_millis(10);
        assert_eq!(list.acquire_blocking(1, Some(deadline)), Err(Fail::NoUnits));
        assert!(!list.has_waiters());
        list.release(1);
        assert_eq!(list.available(), 1);
    }

    #[test]
    fn watch_hand_over_reserves_until_freed_and_passes_an_unused_wake_on() {
        let list = WaitList::new(0, ());
        let (fa, wa) = flag();
        let (fb, wb) = flag();
        let (mut a, mut b) = (Waiter::new(1), Waiter::new(1));
        assert!(!list.must_queue());
        list.wake_one(); // nobody queued: no lock, nothing reserved
        assert!(!list.must_queue());
        {
            let mut l = list.lock();
            l.enqueue_at(&mut a, Some(&wa), false);
            l.enqueue_at(&mut b, Some(&wb), false);
        }
        assert!(list.must_queue());
        list.wake_one();
        assert_eq!((woken(&fa), woken(&fb)), (1, 0));
        assert!(list.must_queue()); // b queued, a reserved
                                    // a is dropped with its unused wake-up: it goes to b.
        list.lock().leave_passing_on(&mut a);
        assert_eq!(woken(&fb), 1);
        assert!(list.must_queue()); // b reserved, not yet looked
        assert_eq!(list.lock().poll_slot(&mut b, &wb), Poll::Ready(Ok(())));
        assert!(!list.must_queue());
        assert_eq!(list.available(), 0); // no unit ever moved
    }

    #[test]
    fn watch_requeue_at_the_front_keeps_the_turn() {
        let list = WaitList::new(0, ());
        let (fa, wa) = flag();
        let (fb, wb) = flag();
        let (mut a, mut b) = (Waiter::new(1), Waiter::new(1));
        {
            let mut l = list.lock();
            l.enqueue_at(&mut b, Some(&wb), false);
            l.enqueue_at(&mut a, Some(&wa), true); // a woken one, back at the head
        }
        list.wake_one();
        assert_eq!((woken(&fa), woken(&fb)), (1, 0));
        let mut l = list.lock();
        assert_eq!(l.poll_slot(&mut a, &wa), Poll::Ready(Ok(())));
        l.leave_passing_on(&mut b); // still queued: passes nothing on
        drop(l);
        assert!(!list.must_queue());
        assert_eq!(woken(&fb), 0);
    }

    #[test]
    fn woken_task_waiter_is_served_without_the_lock_and_its_slot_reused() {
        let (list, mut a, fa, wa) = one_waiter();
        list.release(1);
        assert_eq!(woken(&fa), 1);
        // A's next poll, while another thread holds the list's lock: it
        // reads its mailbox (step 10) and does not wait for the lock.
        let held = list.lock();
        let l2 = list.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let owner = std::thread::spawn(move || {
            tx.send(poll(&l2, &mut a, &wa)).unwrap();
            a
        });
        let got = rx.recv_timeout(std::time::Duration::from_secs(10));
        drop(held);
        let a = owner.join().unwrap();
        assert_eq!(got, Ok(Poll::Ready(Ok(()))));
        assert!(!a.is_queued());
        // The retired slot is the next waiter's: the slab does not grow.
        let (fb, wb) = flag();
        let mut b = Waiter::new(1);
        assert!(poll(&list, &mut b, &wb).is_pending());
        assert_eq!(list.lock().slab_len(), 1);
        list.release(1);
        assert_eq!(woken(&fb), 1);
        assert_eq!(poll(&list, &mut b, &wb), Poll::Ready(Ok(())));
        list.release(1);
        assert_eq!(list.available(), 1);
        assert!(!list.has_waiters());
    }

    #[test]
    fn many_wakers_are_woken_in_batches() {
        let list = WaitList::new(0, ());
        let (f, waker) = flag();
        let mut ws: Vec<Waiter> = (0..100).map(|_| Waiter::new(1)).collect();
        for w in &mut ws {
            assert!(poll(&list, w, &waker).is_pending());
        }
        list.release(100);
        assert_eq!(woken(&f), 100);
        assert!(!list.has_waiters());
        for w in &mut ws {
            assert_eq!(poll(&list, w, &waker), Poll::Ready(Ok(())));
        }
    }
}
