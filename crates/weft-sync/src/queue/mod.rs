//! asyncio's queues — [`Queue`], [`LifoQueue`], [`PriorityQueue`] — for tasks
//! on any worker and for plain threads, as `weft::queue`.
//!
//! One implementation, [`GenericQueue`], serves all three; a [`Storage`]
//! decides which item a get returns (first in, last in, or smallest).
//!
//! # Design
//!
//! A queue is three `WaitList`s (the crate's one waiter-list mechanism, see
//! `waitlist.rs`), one counter and, for a FIFO queue, a lock-free ring, in a
//! shared `Arc`:
//!
//! A FIFO queue's ring is the truth for "is there an item": its `items` list
//! counts nothing and only puts getters to sleep and wakes them (the wait
//! list's step 9, "watch": a get tries the ring; on failure it queues,
//! fences, and looks again; a put's push wakes the head getter only if the
//! list's word says someone waits, a fence and a load otherwise). So a put
//! and a get that find what they need share no `items` word; the places
//! stay counted, by `places` (making the ring the truth for places too,
//! with putters only woken, was measured: callgrind's instructions per
//! item of `queue_backpressure`, four putters mostly waiting, went from
//! 1,688 to 2,045, and its wall clock from about 3.6 ms to 4.7 ms per
//! iteration; docs/benchmarks.md). `places` counts on two cache lines, one
//! the putters write (places taken) and one the getters write (places
//! given back), so that a put and a get running at once on two workers do
//! not write one word each per item (the wait list's step 11: a putter
//! reads the getters' count only when its copy of it says the queue is
//! full). The steps below describe the counting lists, which the LIFO and
//! priority queues keep; where the FIFO queue differs, it says so.
//!
//! | part | units mean | its waiters | lock holds |
//! |------|------------|-------------|------------|
//! | `places` (bounded queues only; `Places`) | free places, `maxsize` at first: counted outside the list (`taken`, `freed`), the list's own units only ones a leaving putter handed back | blocked putters | — |
//! | `items` | items a getter may take; none for a FIFO queue | blocked getters | the `shut_down` flag, and the store of a LIFO or priority queue |
//! | `ring` (FIFO queues only, `queue/ring.rs`) | — (holds the items) | — | none: lock-free, with an atomic close |
//! | `joiners` | none (notify-style) | `join` callers | — |
//! | `unfinished` (atomic) | items put and not yet `task_done` | — | — |
//!
//! This is the shape of tokio's bounded channel (a semaphore of slots in front
//! of the buffer). Where the items live is the one thing that differs by
//! [`Storage`]: a [`FIFO`](Storage::FIFO) store (the [`Queue`]'s) has them in
//! the `ring`, outside every lock, so a put and a get running at once on two
//! workers touch no common lock; any other order (LIFO, priority) needs the
//! whole store to pick the next item, so its store is kept under the `items`
//! list's own lock, and inserting an item and handing its unit to the first
//! getter is one critical section. Every step below says what each kind does.
//!
//! ## Protocol
//!
//! 1. **put**: take one place (waiting FIFO if there is none; an
//!    unbounded queue has no `places` and never waits): the list's own
//!    units first, else a CAS on `taken` while `taken - freed` (by the
//!    putters' copy of `freed`, reloaded when it says full) is below
//!    `maxsize`; refused while putters are queued. Then, in one step that
//!    cannot be interrupted (no await): add one to `unfinished`, and
//!    * ring: push the item (refused if the ring is closed), then wake the
//!      first waiting getter, if any (`wake_one`);
//!    * locked store: lock `items`, and if `shut_down` is clear push the item
//!      and release one `items` unit under the lock.
//!
//!    If the push was refused (`shut_down` set), undo: `unfinished` minus
//!    one, the place given back, the item given back as [`QueueShutDown`].
//! 2. **get**: take one `items` unit (waiting FIFO), then in one step pop
//!    under the `items` lock from the store and give one place back. A
//!    FIFO queue's get pops the ring (waiting on `items`, step 9, while it is
//!    empty), then gives one place back. Giving a place back adds one to
//!    `freed`, then, only if putters are queued (a fence and a load of the
//!    list's word otherwise), takes places for the head putters in turn
//!    under the list's lock and hands each its own (the wait list's step
//!    11).
//! 3. **task_done**: subtract one from `unfinished` (never below zero:
//!    [`TaskDoneError`]); whoever takes it to zero locks `joiners` and wakes
//!    every joiner queued there.
//! 4. **join**: lock `joiners`; if `unfinished` is zero, return; else queue
//!    and wait to be woken.
//! 5. **shutdown(immediate)**: close the ring (later pushes fail) and, if
//!    `immediate`, pop every item from it; lock `items`, set `shut_down`, pop
//!    every item of a locked store if `immediate`, close the list (every
//!    waiting getter wakes with "closed"), unlock; close the `places` list
//!    (every waiting putter wakes and gets its item back); if `immediate`, subtract
//!    the popped items from `unfinished` as in 3 (waking joiners at zero).
//!    Later gets still pop what is left (a closed `items` list no longer
//!    counts, so a get after the shutdown skips the unit and pops directly)
//!    and fail once the queue is empty.
//!
//! ## Why no item and no wake-up is lost
//!
//! * A put inserts only after its place is its own, and the insert happens in
//!   the same poll as the `Ready` that ends the wait: a put future dropped
//!   while waiting (cancelled, timed out) never inserted. The item lives in the
//!   future until then and is dropped with it.
//! * A get pops only after its `items` unit is its own, in the same poll that
//!   returns the item: a get dropped while waiting removed nothing.
//! * Locked store: before the shutdown, every `items` unit stands for an item
//!   in the store (the unit is released after the push, and taken before the
//!   pop, both under the lock), so a get holding a unit always finds an item.
//!   Only a shutdown pops without a unit (an `immediate` one, and the gets
//!   that drain a closed list), so only after it has begun can a pop find the
//!   queue empty, and then the get reports [`QueueShutDown`].
//! * Ring: a get takes from the ring only what is there (the ring's own
//!   atomics publish the item); one that finds nothing waits as the wait
//!   list's step 9 says, which loses no wake-up. A put pushes only while it
//!   holds a place, so the ring (of `maxsize` places) is never full then: a
//!   place counted free happens-after the pop that emptied it (`freed` is
//!   raised with Release after the pop, and read with Acquire, directly or
//!   through the putters' copy, before the place is taken). A putter that
//!   queues for a place and a get that gives one back at once lose no
//!   wake-up: the wait list's step 11. The loom models of a put
//!   racing a get (bounded and unbounded, task and thread waiters) and of a
//!   fresh get racing a woken getter check this on the shipped code.
//! * A waiter dropped after it was handed a unit but before it looked (woken
//!   then cancelled: asyncio's "cancelled after it was woken") leaves its
//!   list and releases that unit, which goes to the next waiter in line; the
//!   wait list's own header proves that this loses nothing.
//! * Locked store: `shut_down` is set under the `items` lock, so a put either
//!   pushed before (its item is there for the gets that drain) or sees the
//!   flag and gives its item back; the closes wake every waiter.
//! * Ring: the ring's close and every push meet on the ring's one tail word,
//!   so a put either pushed before the close or is refused and gives its item
//!   back. The close comes before the `items` list is closed, so a getter
//!   woken by that close pops after it and finds every item pushed before it
//!   (a pop waits out a push that claimed its place but has not written it
//!   yet); a getter that queues after the list closed finds the ring closed
//!   on its look after queueing (the `items` lock orders it after the close),
//!   so it never sleeps in a closed list. A put that pushed before the close
//!   may wake after the list closed: nobody is queued there then.
//! * `unfinished` is raised before the item becomes visible, so a `task_done`
//!   for that item never sees it at zero. A joiner reads it and queues in one
//!   critical section under the `joiners` lock; the task_done that reaches
//!   zero takes the same lock after its decrement to wake, so the joiner
//!   either sees zero or is queued before the wake.
//!
//! Units (or, for the ring, wake-ups) go to waiters in arrival order and a
//! newcomer does not look past a queued or woken waiter (the wait list's FIFO
//! rule; step 9's `must_queue` and `owed`), so getters and putters are served FIFO, and
//! an item (or place) handed to a waiter is reserved for it: a `get_nowait`
//! (`put_nowait`) that comes between cannot take it, although `qsize`
//! (`full`) still counts it until the waiter runs. On the ring this holds up
//! to a race: a newcomer's first look that read the list's word just before
//! a waiter queued may take the item that waiter is then woken for; the
//! woken waiter then queues again at the head (nothing is lost).
//!
//! The loom models in `queue/loom_tests.rs` check the woken-then-cancelled
//! getter and putter, a shutdown racing a put, a put racing a get on the ring
//! (bounded and unbounded; tasks, and plain threads' blocking put and get),
//! a fresh get racing a woken getter, and a `task_done` racing a `join`, on this code
//! (under `--cfg loom` the ring is built on loom's atomics too).
//!
//! ```
//! use weft::queue::Queue;
//!
//! weft::run(async {
//!     let q = Queue::new(2);
//!     let consumer = {
//!         let q = q.clone();
//!         weft::spawn(async move {
//!             let mut total = 0;
//!             while let Ok(n) = q.get().await {
//!                 total += n;
//!                 q.task_done().unwrap();
//!             }
//!             total
//!         })
//!     };
//!     for n in 1..=10 {
//!         q.put(n).await.unwrap(); // waits while two items are queued
//!     }
//!     q.join().await; // every item got and done
//!     q.shutdown(false); // the consumer's next get fails
//!     assert_eq!(consumer.await.unwrap(), 55);
//! });
//! ```

mod error;
#[cfg(all(test, loom))]
mod loom_tests;
mod ring;
mod storage;

pub use error::{
    BlockingGetError, BlockingPutError, QueueEmpty, QueueFull, QueueShutDown, TaskDoneError,
    TryGetError, TryPutError,
};
pub use storage::{Fifo, Lifo, Priority, Storage};

use crossbeam_utils::CachePadded;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use weft_task::coop::poll_proceed;

use crate::loom::sync::{AtomicUsize, Ordering};
use crate::waitlist::{Acquiring, Fail, WaitList, Waiter};
use ring::Ring;
use weft_task::awaiting::Described;

/// What a task dump shows a task waiting for room to put.
static PUT_WAIT: Described = Described::of_kind("queue put");
/// What a task dump shows a task waiting for an item.
static GET_WAIT: Described = Described::of_kind("queue get");

/// A first-in, first-out queue (asyncio's `Queue`).
///
/// ```
/// weft::run(async {
///     let q = weft::queue::Queue::new(0); // unbounded
///     q.put("a").await.unwrap();
///     q.put("b").await.unwrap();
///     assert_eq!(q.get().await, Ok("a"));
/// });
/// ```
pub type Queue<T> = GenericQueue<Fifo<T>>;

/// A last-in, first-out queue (asyncio's `LifoQueue`).
///
/// ```
/// weft::run(async {
///     let q = weft::queue::LifoQueue::new(0);
///     q.put("a").await.unwrap();
///     q.put("b").await.unwrap();
///     assert_eq!(q.get().await, Ok("b"));
/// });
/// ```
pub type LifoQueue<T> = GenericQueue<Lifo<T>>;

/// A queue that returns its smallest item first (asyncio's `PriorityQueue`,
/// Python's `heapq` order). Put `(priority, data)` tuples to order by
/// priority.
///
/// ```
/// weft::run(async {
///     let q = weft::queue::PriorityQueue::new(0);
///     q.put((3, "low")).await.unwrap();
///     q.put((1, "high")).await.unwrap();
///     assert_eq!(q.get().await, Ok((1, "high")));
/// });
/// ```
pub type PriorityQueue<T> = GenericQueue<Priority<T>>;

/// A queue of `S::Item`s in the order its [`Storage`] keeps; use it through
/// [`Queue`], [`LifoQueue`] or [`PriorityQueue`].
///
/// A handle: clones share one queue, and are `Send + Sync` when the items are
/// `Send`, so producers and consumers may be tasks on any worker or plain
/// threads (through [`put_blocking`](Self::put_blocking) /
/// [`get_blocking`](Self::get_blocking)). The queue lives as long as any
/// handle; dropping the last one drops the items still in it. Dropping a
/// handle does not shut the queue down.
///
/// With `maxsize` 0 the queue is unbounded; otherwise a put waits while
/// `maxsize` items are queued (back-pressure). Waiting getters and putters are
/// served in arrival order. Every `.await` is a cancellation point: a put
/// dropped while waiting inserts nothing, a get dropped while waiting removes
/// nothing, and a waiter dropped after it was woken passes its turn on.
///
/// ```
/// use weft::queue::Queue;
///
/// weft::run(async {
///     let q = Queue::new(1);
///     let q2 = q.clone();
///     let producer = weft::spawn(async move {
///         for i in 0..3 {
///             q2.put(i).await.unwrap();
///         }
///     });
///     for i in 0..3 {
///         assert_eq!(q.get().await, Ok(i));
///     }
///     producer.await.unwrap();
/// });
/// ```
///
/// Items that cannot cross threads make a queue that cannot either:
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// assert_send(weft::queue::Queue::<std::rc::Rc<u8>>::new(0));
/// ```
pub struct GenericQueue<S: Storage> {
    shared: Arc<Shared<S>>,
}

/// What the handles share. See the module header.
/// A bounded queue's free places (the module header's `places`): a count
/// the putters write and one the getters write, each on its own cache line,
/// and the wait list where putters queue (protocol step 11 of
/// `waitlist.rs`: the list's own units are only places a leaving waiter
/// handed back with nobody queued).
///
/// Places in use (items in the queue, puts under way, places handed to woken
/// putters) are `taken - freed`, at most `maxsize`. A putter takes a place
/// by a CAS on `taken` while its copy of `freed` says one is free, and reads
/// `freed` itself (the getters' line) only when that copy says the queue is
/// full; a get gives its place back by adding to `freed`, or, while putters
/// wait, hands it to the head putter under the list's lock without touching
/// either count. Neither side writes the other's line while the queue is
/// neither full nor empty.
struct Places {
    putters: CachePadded<PutterCounts>,
    /// Places given back (gets, refused pushes), ever.
    freed: CachePadded<AtomicUsize>,
    /// Putters waiting for a place; its units: see the type's doc.
    list: CachePadded<WaitList>,
    maxsize: usize,
}

/// The putters' line of [`Places`].
struct PutterCounts {
    /// Places taken (by puts, and by gets for the putters they hand one to),
    /// ever.
    taken: AtomicUsize,
    /// A value `freed` had, at most its current one: the putters' copy.
    freed_seen: AtomicUsize,
}

impl Places {
    fn new(maxsize: usize) -> Self {
        Places {
            putters: CachePadded::new(PutterCounts {
                taken: AtomicUsize::new(0),
                freed_seen: AtomicUsize::new(0),
            }),
            freed: CachePadded::new(AtomicUsize::new(0)),
            list: CachePadded::new(WaitList::new(0, ())),
            maxsize,
        }
    }

    /// Takes a place from the counts if one is free (the wait list's
    /// `outside`).
    fn take(&self) -> bool {
        let PutterCounts { taken, freed_seen } = &*self.putters;
        loop {
            // `freed_seen` first: `freed` never passes `taken` (a place is
            // given back only after it was taken), so neither does a copy
            // read before it, and the difference cannot wrap (`wrapping_sub`
            // all the same: a wrap would read as full, never as room).
            // Acquire: pairs with the Release store below, which carries the
            // Acquire load of `freed`: a place counted free happens-after
            // the get that emptied it, so the ring has room for our push.
            let seen = freed_seen.load(Ordering::Acquire);
            let t = taken.load(Ordering::Relaxed);
            if t.wrapping_sub(seen) < self.maxsize {
                // Relaxed: what makes the place usable is ordered by the
                // `freed_seen`/`freed` Acquire loads that said it was free.
                if taken
                    .compare_exchange_weak(t, t + 1, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
                {
                    return true;
                }
                continue;
            }
            // Acquire: pairs with the Release `fetch_add` in `free`.
            let freed = self.freed.load(Ordering::Acquire);
            if freed == seen {
                return false;
            }
            // Release: pairs with the Acquire load above (other putters').
            freed_seen.store(freed, Ordering::Release);
        }
    }

    /// Gives a place back (a get, or a put refused by the shutdown), then
    /// hands free places to the putters queued, if any.
    fn free(&self) {
        // Putters waiting (a hint): the place goes to the head as it is, the
        // counts unchanged (it stays in use). Nobody queued after all under
        // the lock: give it back as below, where a putter that queues
        // meanwhile is caught by step 11's fence pair.
        if self.list.has_waiters() && self.list.release_to_head() {
            return;
        }
        // Release: publishes the get's pop to the putter that takes this
        // place (its Acquire load of `freed`); the fence in
        // `released_outside` orders this before the look at the waiters.
        self.freed.fetch_add(1, Ordering::Release);
        self.list.released_outside(&|| self.take());
    }
}

struct Shared<S: Storage> {
    maxsize: usize,
    /// Free places; `None` for an unbounded queue.
    places: Option<Places>,
    /// Items a getter may take; its lock guards the store.
    items: CachePadded<WaitList<Store<S>>>,
    /// The items themselves when `S` is [`FIFO`](Storage::FIFO) (the store
    /// under `items` then stays empty); `None` otherwise.
    ring: Option<Ring<S::Item>>,
    /// Woken when `unfinished` reaches zero.
    joiners: WaitList,
    /// Items put and not yet marked done.
    unfinished: CachePadded<AtomicUsize>,
}

/// What the `items` lock guards.
struct Store<S> {
    items: S,
    shut_down: bool,
}

/// The deadline `timeout` from now; `None` (no deadline) if it is `None` or too
/// far to represent.
fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|d| Instant::now().checked_add(d))
}

impl<S: Storage> Shared<S> {
    /// Protocol step 1 after the slot is ours: insert, or give the item back
    /// (and the slot) if the queue has been shut down.
    fn insert(&self, item: S::Item) -> Result<(), QueueShutDown<S::Item>> {
        // Relaxed: a counter; the item is published by the push and the unit's
        // release below, and raising it first means a task_done for this item
        // never sees 0.
        self.unfinished.fetch_add(1, Ordering::Relaxed);
        let refused = match &self.ring {
            // The ring's close refuses the push if the shutdown came first.
            // After the push: a getter woken here (or looking after its
            // queueing) finds the item (the ring's own Release publishes it).
            Some(ring) => match ring.push(item) {
                Ok(()) => {
                    self.items.wake_one();
                    return Ok(());
                }
                Err(item) => item,
            },
            None => {
                let mut locked = self.items.lock();
                let store = locked.user();
                if !store.shut_down {
                    store.items.push(item);
                    locked.release(1);
                    return Ok(());
                }
                item
            }
        };
        // Shut down first: undo, outside the lock.
        self.finish(1);
        self.release_slot();
        Err(QueueShutDown(refused))
    }

    /// After a ring pop (`Some` item) or the shutdown's end (`None`): gives
    /// the place back.
    fn popped(&self, item: Option<S::Item>) -> Result<S::Item, QueueShutDown> {
        if item.is_some() {
            self.release_slot();
        }
        item.ok_or(QueueShutDown(()))
    }

    /// Protocol step 2 on a locked store, after the unit is ours (or the list
    /// is closed): pop. `None` only once the queue has been shut down.
    fn take(&self) -> Option<S::Item> {
        let item = self.items.lock().user().items.pop();
        if item.is_some() {
            self.release_slot();
        }
        item
    }

    /// The items in the queue now.
    fn len(&self) -> usize {
        match &self.ring {
            Some(ring) => ring.len(),
            None => self.items.lock().user().items.len(),
        }
    }

    fn release_slot(&self) {
        if let Some(places) = &self.places {
            places.free();
        }
    }

    /// Subtracts up to `n` from `unfinished`; false if it was already zero.
    /// Wakes the joiners if it reaches zero (protocol step 3).
    fn finish(&self, n: usize) -> bool {
        let mut cur = self.unfinished.load(Ordering::Relaxed);
        loop {
            if cur == 0 {
                return false;
            }
            let new = cur.saturating_sub(n);
            // Release: pairs with the Acquire load in `Join::poll`, so a joiner
            // that returns sees what was done before this task_done. Acquire:
            // orders this after the `fetch_add` of the item being finished.
            match self.unfinished.compare_exchange_weak(
                cur,
                new,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        if cur <= n {
            // Reached zero: taking the lock after the decrement is what makes
            // a joiner either see zero or be woken here (module header).
            self.joiners.lock().notify_all();
        }
        true
    }
}

impl<S: Storage> GenericQueue<S> {
    /// A queue holding at most `maxsize` items; 0 means unbounded (asyncio's
    /// `Queue(maxsize=0)`).
    ///
    /// ```
    /// let q = weft::queue::Queue::<String>::new(8);
    /// assert_eq!(q.maxsize(), 8);
    /// ```
    pub fn new(maxsize: usize) -> Self {
        GenericQueue {
            shared: Arc::new(Shared {
                maxsize,
                places: (maxsize > 0).then(|| Places::new(maxsize)),
                items: CachePadded::new(WaitList::new(
                    0,
                    Store {
                        items: S::new(),
                        shut_down: false,
                    },
                )),
                ring: S::FIFO.then(|| Ring::new(maxsize)),
                joiners: WaitList::new(0, ()),
                unfinished: CachePadded::new(AtomicUsize::new(0)),
            }),
        }
    }

    /// The most items the queue holds; 0 for unbounded.
    ///
    /// ```
    /// assert_eq!(weft::queue::Queue::<u8>::new(0).maxsize(), 0);
    /// ```
    pub fn maxsize(&self) -> usize {
        self.shared.maxsize
    }

    /// How many items the queue holds now.
    ///
    /// ```
    /// let q = weft::queue::Queue::new(0);
    /// q.put_nowait(1).unwrap();
    /// assert_eq!(q.qsize(), 1);
    /// ```
    pub fn qsize(&self) -> usize {
        self.shared.len()
    }

    /// Whether the queue holds no item now.
    ///
    /// ```
    /// assert!(weft::queue::Queue::<u8>::new(0).empty());
    /// ```
    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// Whether the queue holds `maxsize` items now (never, if unbounded).
    ///
    /// ```
    /// let q = weft::queue::Queue::new(1);
    /// q.put_nowait(1).unwrap();
    /// assert!(q.full());
    /// ```
    pub fn full(&self) -> bool {
        self.shared.maxsize > 0 && self.qsize() >= self.shared.maxsize
    }

    /// Whether [`shutdown`](Self::shutdown) has been called.
    ///
    /// ```
    /// let q = weft::queue::Queue::<u8>::new(0);
    /// q.shutdown(false);
    /// assert!(q.is_shut_down());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        self.shared.items.is_closed()
    }

    /// Puts `item`, waiting while the queue is full (asyncio's `await
    /// put(item)`). Fails with [`QueueShutDown`], giving the item back, if
    /// the queue is or gets shut down before the item is in.
    ///
    /// Dropping the future cancels the put: the item was not inserted and is
    /// dropped with the future, and a free place that had just been handed to
    /// it goes to the next waiting putter.
    ///
    /// ```
    /// weft::run(async {
    ///     let q = weft::queue::Queue::new(1);
    ///     q.put(1).await.unwrap();
    ///     // Full: a put waits; a timeout cancels it, and nothing is inserted.
    ///     let late = weft::timeout(std::time::Duration::from_millis(5)).run(q.put(2)).await;
    ///     assert!(late.is_err());
    ///     assert_eq!(q.qsize(), 1);
    /// });
    /// ```
    pub fn put(&self, item: S::Item) -> Put<'_, S> {
        Put {
            shared: &self.shared,
            item: Some(item),
            state: Acquiring::new(1, &PUT_WAIT),
        }
    }

    /// Gets an item, waiting while the queue is empty (asyncio's `await
    /// get()`). After a [`shutdown`](Self::shutdown) gets return what is left,
    /// then fail with [`QueueShutDown`].
    ///
    /// Dropping the future cancels the get: it removed nothing, and an item
    /// that had just been handed to it goes to the next waiting getter.
    ///
    /// ```
    /// weft::run(async {
    ///     let q = weft::queue::Queue::new(0);
    ///     let q2 = q.clone();
    ///     let getter = weft::spawn(async move { q2.get().await });
    ///     q.put("hello").await.unwrap();
    ///     assert_eq!(getter.await.unwrap(), Ok("hello"));
    /// });
    /// ```
    pub fn get(&self) -> Get<'_, S> {
        Get {
            shared: &self.shared,
            state: Acquiring::new(1, &GET_WAIT),
        }
    }

    /// Puts `item` if there is room now (asyncio's `put_nowait`); otherwise
    /// gives it back in [`TryPutError::Full`], or [`TryPutError::ShutDown`]
    /// after a shutdown. Never waits; a free place goes to waiting putters
    /// first.
    ///
    /// ```
    /// let q = weft::queue::Queue::new(1);
    /// assert!(q.put_nowait(1).is_ok());
    /// assert!(q.put_nowait(2).unwrap_err().is_full());
    /// ```
    pub fn put_nowait(&self, item: S::Item) -> Result<(), TryPutError<S::Item>> {
        if let Some(places) = &self.shared.places {
            match places.list.try_acquire_outside(&|| places.take()) {
                Ok(()) => {}
                Err(Fail::Closed) => return Err(TryPutError::ShutDown(QueueShutDown(item))),
                Err(Fail::NoUnits) => return Err(TryPutError::Full(QueueFull(item))),
            }
        }
        self.shared.insert(item).map_err(TryPutError::ShutDown)
    }

    /// Gets an item if one is there now (asyncio's `get_nowait`); otherwise
    /// [`TryGetError::Empty`], or [`TryGetError::ShutDown`] once the queue
    /// is shut down and empty. Never waits; items go to waiting getters first.
    ///
    /// ```
    /// let q = weft::queue::Queue::new(0);
    /// q.put_nowait('x').unwrap();
    /// assert_eq!(q.get_nowait(), Ok('x'));
    /// assert!(q.get_nowait().unwrap_err().is_empty());
    /// ```
    pub fn get_nowait(&self) -> Result<S::Item, TryGetError> {
        if let Some(ring) = &self.shared.ring {
            // Waiting getters (or one woken, not yet run) go first, until the
            // shutdown: then anyone drains.
            if self.shared.items.must_queue() && !ring.is_closed() {
                return Err(TryGetError::Empty(QueueEmpty));
            }
            return match ring.pop_or_closed() {
                Some(item) => self.shared.popped(item).map_err(TryGetError::ShutDown),
                None => Err(TryGetError::Empty(QueueEmpty)),
            };
        }
        match self.shared.items.try_acquire(1) {
            Ok(()) | Err(Fail::Closed) => self
                .shared
                .take()
                .ok_or(TryGetError::ShutDown(QueueShutDown(()))),
            Err(Fail::NoUnits) => Err(TryGetError::Empty(QueueEmpty)),
        }
    }

    /// Puts `item` from a plain thread, blocking it while the queue is full,
    /// for at most `timeout` (`None`: no limit). Gives the item back on
    /// timeout ([`BlockingPutError::TimedOut`]) or shutdown. A zero timeout
    /// tries once, like [`put_nowait`](Self::put_nowait). On a full queue it
    /// first retries for up to 10 µs (a task getting items usually frees a
    /// place within that, and the thread then never sleeps); only then does
    /// it wait in line behind the putters already waiting.
    ///
    /// Do not call it from a task: it blocks the worker thread (await
    /// [`put`](Self::put) there).
    ///
    /// ```
    /// let q = weft::queue::Queue::new(1);
    /// let q2 = q.clone();
    /// let producer = std::thread::spawn(move || {
    ///     for i in 0..3 {
    ///         q2.put_blocking(i, None).unwrap();
    ///     }
    /// });
    /// weft::run(async move {
    ///     for i in 0..3 {
    ///         assert_eq!(q.get().await, Ok(i));
    ///     }
    /// });
    /// producer.join().unwrap();
    /// ```
    pub fn put_blocking(
        &self,
        item: S::Item,
        timeout: Option<Duration>,
    ) -> Result<(), BlockingPutError<S::Item>> {
        if let Some(places) = &self.shared.places {
            match places
                .list
                .acquire_blocking_outside(deadline(timeout), &|| places.take())
            {
                Ok(()) => {}
                Err(Fail::Closed) => return Err(BlockingPutError::ShutDown(item)),
                Err(Fail::NoUnits) => return Err(BlockingPutError::TimedOut(item)),
            }
        }
        self.shared
            .insert(item)
            .map_err(|QueueShutDown(item)| BlockingPutError::ShutDown(item))
    }

    /// Gets an item from a plain thread, blocking it while the queue is empty,
    /// for at most `timeout` (`None`: no limit). After a shutdown it returns
    /// what is left, then [`BlockingGetError::ShutDown`]. A zero timeout
    /// tries once, like [`get_nowait`](Self::get_nowait). Like
    /// [`put_blocking`](Self::put_blocking), it retries for up to 10 µs
    /// before it waits in line.
    ///
    /// Do not call it from a task: it blocks the worker thread (await
    /// [`get`](Self::get) there).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let q = weft::queue::Queue::new(0);
    /// let q2 = q.clone();
    /// let consumer = std::thread::spawn(move || q2.get_blocking(Some(Duration::from_secs(10))));
    /// weft::run(async move { q.put(7).await.unwrap() });
    /// assert_eq!(consumer.join().unwrap(), Ok(7));
    /// ```
    pub fn get_blocking(&self, timeout: Option<Duration>) -> Result<S::Item, BlockingGetError> {
        if let Some(ring) = &self.shared.ring {
            return match self
                .shared
                .items
                .wait_watch(deadline(timeout), |owed| ring.pop_beyond(owed))
            {
                Some(item) => self
                    .shared
                    .popped(item)
                    .map_err(|QueueShutDown(())| BlockingGetError::ShutDown),
                None => Err(BlockingGetError::TimedOut),
            };
        }
        match self
            .shared
            .items
            .acquire_blocking_spinning(1, deadline(timeout))
        {
            Ok(()) | Err(Fail::Closed) => self.shared.take().ok_or(BlockingGetError::ShutDown),
            Err(Fail::NoUnits) => Err(BlockingGetError::TimedOut),
        }
    }

    /// Marks one item got earlier as processed (asyncio's `task_done`); when
    /// every item put has been marked, [`join`](Self::join) returns. Called
    /// more times than items were put, it fails with [`TaskDoneError`] and
    /// changes nothing.
    ///
    /// ```
    /// let q = weft::queue::Queue::new(0);
    /// q.put_nowait(1).unwrap();
    /// q.get_nowait().unwrap();
    /// assert!(q.task_done().is_ok());
    /// assert!(q.task_done().is_err());
    /// ```
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        if self.shared.finish(1) {
            Ok(())
        } else {
            Err(TaskDoneError)
        }
    }

    /// Waits until every item put has been marked with
    /// [`task_done`](Self::task_done) (asyncio's `join`); returns at once if
    /// none is pending. Dropping the future cancels the wait.
    ///
    /// ```
    /// weft::run(async {
    ///     let q = weft::queue::Queue::new(0);
    ///     q.put(1).await.unwrap();
    ///     let q2 = q.clone();
    ///     weft::spawn(async move {
    ///         q2.get().await.unwrap();
    ///         q2.task_done().unwrap();
    ///     });
    ///     q.join().await;
    ///     assert!(q.empty());
    /// });
    /// ```
    pub fn join(&self) -> Join<'_, S> {
        Join {
            shared: &self.shared,
            waiter: Waiter::new(1),
        }
    }

    /// Shuts the queue down (Python 3.13's `shutdown`): later puts fail with
    /// [`QueueShutDown`], giving their items back; gets return the items left,
    /// then fail. With `immediate`, the items left are dropped now, counted as
    /// done for [`join`](Self::join) (which returns once no got item is
    /// pending), and gets fail at once. Blocked putters and getters (tasks and
    /// threads) are woken with the error. Calling it again is harmless (a
    /// later `immediate` call still drops what is left).
    ///
    /// ```
    /// weft::run(async {
    ///     let q = weft::queue::Queue::new(0);
    ///     q.put(1).await.unwrap();
    ///     q.shutdown(false);
    ///     assert!(q.put(2).await.is_err());
    ///     assert_eq!(q.get().await, Ok(1)); // drains
    ///     assert!(q.get().await.is_err());
    /// });
    /// ```
    pub fn shutdown(&self, immediate: bool) {
        let shared = &*self.shared;
        let mut dropped = Vec::new();
        if let Some(ring) = &shared.ring {
            // First: a put whose push lands before this is drained (or, with
            // `immediate`, dropped just below); any later push is refused.
            ring.close();
            if immediate {
                while let Some(item) = ring.pop() {
                    dropped.push(item);
                }
            }
        }
        {
            let mut locked = shared.items.lock();
            let store = locked.user();
            store.shut_down = true;
            if immediate {
                while let Some(item) = store.items.pop() {
                    dropped.push(item);
                }
            }
            locked.close();
        }
        if let Some(places) = &shared.places {
            places.list.lock().close();
        }
        if !dropped.is_empty() {
            shared.finish(dropped.len());
        }
        // The items' destructors run here, outside every lock.
        drop(dropped);
    }
}

impl<S: Storage> Clone for GenericQueue<S> {
    fn clone(&self) -> Self {
        GenericQueue {
            shared: self.shared.clone(),
        }
    }
}

impl<S: Storage> Default for GenericQueue<S> {
    /// An unbounded queue.
    fn default() -> Self {
        Self::new(0)
    }
}

impl<S: Storage> fmt::Debug for GenericQueue<S> {
    /// Like asyncio's repr: `Queue { maxsize: 0, qsize: 1, getters: 0,
    /// putters: 0, tasks: 1, shut_down: false }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &*self.shared;
        let qsize = shared.len();
        let getters = shared.items.lock().waiter_count();
        let putters = shared
            .places
            .as_ref()
            .map_or(0, |p| p.list.lock().waiter_count());
        f.debug_struct(S::KIND)
            .field("maxsize", &shared.maxsize)
            .field("qsize", &qsize)
            .field("getters", &getters)
            .field("putters", &putters)
            .field("tasks", &shared.unfinished.load(Ordering::Relaxed))
            .field("shut_down", &self.is_shut_down())
            .finish()
    }
}

/// The future of [`GenericQueue::put`]: `Ok(())` once the item is in,
/// `Err(QueueShutDown(item))` if the queue was shut down first.
///
/// Dropping it cancels the put: nothing is inserted, and a place handed to it
/// goes to the next putter.
///
/// ```
/// weft::run(async {
///     let q = weft::queue::Queue::new(1);
///     q.put_nowait(1).unwrap();
///     let waiting = q.put(2);
///     drop(waiting); // cancelled: never inserted
///     assert_eq!(q.qsize(), 1);
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Put<'a, S: Storage> {
    shared: &'a Shared<S>,
    /// `None` once the future has completed.
    item: Option<S::Item>,
    /// Its wait for a free place (bounded queues).
    state: Acquiring,
}

// The item is never pinned: it is moved out by value, so `Put` may move
// whatever `S::Item` is.
impl<S: Storage> Unpin for Put<'_, S> {}

impl<S: Storage> Future for Put<'_, S> {
    type Output = Result<(), QueueShutDown<S::Item>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.item.is_none() {
            // Polled after completion.
            return Poll::Pending;
        }
        let closed = match &this.shared.places {
            Some(places) => match this.state.poll_outside(&places.list, cx, || places.take()) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(acquired) => acquired.is_err(),
            },
            // Unbounded: nothing to wait for, but the put still spends budget
            // (a loop of ready puts must not starve its worker).
            None => {
                if poll_proceed(cx).is_pending() {
                    return Poll::Pending;
                }
                false
            }
        };
        match this.item.take() {
            None => Poll::Pending,
            Some(item) if closed => Poll::Ready(Err(QueueShutDown(item))),
            Some(item) => Poll::Ready(this.shared.insert(item)),
        }
    }
}

impl<S: Storage> Drop for Put<'_, S> {
    fn drop(&mut self) {
        if let Some(places) = &self.shared.places {
            self.state.cancel(&places.list);
        }
    }
}

impl<S: Storage> fmt::Debug for Put<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Put")
            .field("waiting", &self.state.is_queued())
            .field("done", &self.item.is_none())
            .finish()
    }
}

/// The future of [`GenericQueue::get`]: the item, or `Err(QueueShutDown(()))`
/// once the queue is shut down and empty.
///
/// Dropping it cancels the get: nothing is removed, and an item handed to it
/// goes to the next getter.
///
/// ```
/// weft::run(async {
///     let q = weft::queue::Queue::<u8>::new(0);
///     let waiting = q.get();
///     drop(waiting); // cancelled
///     q.put_nowait(1).unwrap();
///     assert_eq!(q.qsize(), 1);
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Get<'a, S: Storage> {
    shared: &'a Shared<S>,
    /// Its wait for an item.
    state: Acquiring,
}

impl<S: Storage> Future for Get<'_, S> {
    type Output = Result<S::Item, QueueShutDown>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(ring) = &this.shared.ring {
            return match this
                .state
                .poll_watch(&this.shared.items, cx, |owed| ring.pop_beyond(owed))
            {
                Poll::Pending => Poll::Pending,
                Poll::Ready(item) => Poll::Ready(this.shared.popped(item)),
            };
        }
        match this.state.poll(&this.shared.items, cx) {
            Poll::Pending => Poll::Pending,
            // Closed: after a shutdown, drain what is left.
            Poll::Ready(Ok(()) | Err(_)) => {
                Poll::Ready(this.shared.take().ok_or(QueueShutDown(())))
            }
        }
    }
}

impl<S: Storage> Drop for Get<'_, S> {
    fn drop(&mut self) {
        if self.shared.ring.is_some() {
            self.state.cancel_watch(&self.shared.items);
        } else {
            self.state.cancel(&self.shared.items);
        }
    }
}

impl<S: Storage> fmt::Debug for Get<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Get")
            .field("waiting", &self.state.is_queued())
            .finish()
    }
}

/// The future of [`GenericQueue::join`]. Dropping it cancels the wait.
///
/// ```
/// weft::run(async {
///     let q = weft::queue::Queue::<u8>::new(0);
///     q.join().await; // nothing pending: at once
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Join<'a, S: Storage> {
    shared: &'a Shared<S>,
    waiter: Waiter,
}

impl<S: Storage> Future for Join<'_, S> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let mut locked = this.shared.joiners.lock();
        if this.waiter.is_queued() {
            return locked.poll_slot(&mut this.waiter, cx.waker()).map(|_| ());
        }
        // Acquire: pairs with the Release in `Shared::finish`.
        if this.shared.unfinished.load(Ordering::Acquire) == 0 {
            return Poll::Ready(());
        }
        locked.enqueue(&mut this.waiter, Some(cx.waker()));
        Poll::Pending
    }
}

impl<S: Storage> Drop for Join<'_, S> {
    fn drop(&mut self) {
        // A joiner woken and dropped has nothing to pass on: a wake-up wakes
        // every joiner queued at the time.
        if self.waiter.is_queued() {
            self.shared.joiners.lock().leave(&mut self.waiter);
        }
    }
}

impl<S: Storage> fmt::Debug for Join<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join")
            .field("waiting", &self.waiter.is_queued())
            .finish()
    }
}
