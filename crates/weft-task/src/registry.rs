//! The registry of a runtime's live tasks: what `all_tasks()` lists and what
//! shutdown cancels.
//!
//! # Design
//!
//! Shards of slabs: each shard is a slab (`Vec<slot>` with a free list) under
//! its own lock, and a task remembers its shard and slot in its header, so
//! removal touches only its own slot (a linked list would also touch two
//! neighbours, usually cold in cache). A thread spawns into its own shard (its
//! *home*, assigned round-robin on first use), so spawning threads rarely meet
//! on a lock. A registered task holds one reference for its entry. Once
//! closed, the registry refuses new tasks, which is how a shut-down runtime
//! refuses work.
//!
//! **Removals from away.** A task spawned on one worker is often completed on
//! another (it was stolen). That thread does not lock the task's shard, which
//! its spawner is locking for every spawn (on two workers that lock was the
//! largest cost of a burst of spawns: 40% of `spawn_loop 100000 gather 2`'s
//! wall time, docs/benchmarks.md). It appends the slot's index to the shard's
//! `away` list, under that list's own lock, and releases the entry's
//! reference at once. The slab's entry is then *stale*: it still points at
//! the task, which may be freed, until the index is *reclaimed* (cleared and
//! put on the free list) by a holder of the slab lock.
//!
//! | entry | slab slot | in `away` | task alive |
//! |-------|-----------|-----------|------------|
//! | live | the task | no | yes (the entry's reference) |
//! | stale | the task | yes | not necessarily |
//! | free | `None` | no | — |
//!
//! Who reclaims, and why nobody follows a stale pointer:
//!
//! * Everything that reads entries (`len`, `live_tasks`, `count_where`,
//!   `shutdown_tasks`, dumps) locks the slab, then `away`, reclaims every
//!   index there, and keeps `away` locked while it reads. A remover appends
//!   before it releases the reference, under `away`'s lock: so while a reader
//!   holds that lock, every entry not yet appended still holds its reference,
//!   and every entry appended before was just reclaimed. A reader sees exactly
//!   the tasks not yet removed, as when removal locked the slab: a task leaves
//!   before its completion is published (`raw.rs`), so whoever saw it complete
//!   and then reads the registry does not count it.
//! * A spawn that finds the free list empty reclaims too, if `pending` says
//!   that at least [`AWAY_BATCH`] indices wait: so the slab grows past its
//!   peak of live entries by fewer than `AWAY_BATCH` stale ones (plus what
//!   lands while the Relaxed hint is on its way), and the spawner
//!   takes `away`'s lock once per batch, not once per removal. `pending` is
//!   a hint (Relaxed both ways): set by the append that fills a batch, cleared
//!   by a reclaim, both under `away`'s lock; a reader reclaims whatever it says.
//! * Locks are taken slab first, then `away`; a remover takes only `away`.
//!   No reference is released, and so no task freed, under either lock.
//! * Which path a removal takes is only a matter of speed: a thread with no
//!   home yet (one that never spawned), or whose home is another shard,
//!   appends; a thread completing a task of its own home shard locks the slab.
//!   Threads share a home when there are more of them than shards.
//!
//! An index is on the free list only after its reclaim, so it is never
//! reused while stale, and a task's removal appends it once.

use crate::header::{Header, RawTask, Slot, TaskRef};
use crate::loom::sync::{AtomicBool, Ordering};
use crate::loom::sync::{Mutex, MutexGuard};
use crossbeam_utils::CachePadded;
use std::cell::Cell;
use std::fmt;
use std::ptr::NonNull;

/// Removals from away that make a spawn reclaim them (see the header); one
/// under loom, so a model's spawn reclaims.
const AWAY_BATCH: usize = if cfg!(loom) { 1 } else { 32 };

/// One shard's slab, under [`Shard::slab`]'s lock.
struct Slab {
    slots: Vec<Option<NonNull<Header>>>,
    free: Vec<u32>,
    /// Live and stale entries: a reader reclaims before it reads this.
    len: usize,
    /// Tasks ever inserted here (a statistic, kept under the lock already held).
    inserted: usize,
    closed: bool,
    /// An empty vector swapped with `away`'s when a spawn reclaims, so the
    /// remover's lock is held for a swap, and neither list is reallocated.
    spare: Vec<u32>,
}

// SAFETY: the pointers are only followed under the slab's lock and `away`'s
// (see the module header), and each live task they point to is kept alive by
// the reference its entry holds.
unsafe impl Send for Slab {}

impl Slab {
    /// Puts every stale index of `away` back on the free list.
    fn reclaim(&mut self, away: &mut Vec<u32>) {
        self.len -= away.len();
        for i in away.drain(..) {
            debug_assert!(self.slots[i as usize].is_some(), "a free slot reclaimed");
            self.slots[i as usize] = None;
            self.free.push(i);
        }
    }
}

/// A shard: the slab its home threads spawn into, and the removals other
/// threads leave for it.
struct Shard {
    slab: CachePadded<SlabLock>,
    away: CachePadded<Mutex<Vec<u32>>>,
}

/// The slab's lock and the hint beside it (one cache-padded block, apart from
/// `away`'s, which removers write: the spawner reads the hint with the lock
/// it holds).
struct SlabLock {
    lock: Mutex<Slab>,
    /// `away` holds at least [`AWAY_BATCH`] indices (a hint, see the header).
    pending: AtomicBool,
}

impl Shard {
    /// Locks the slab with every stale entry reclaimed, and `away` kept
    /// locked, so that every entry in the slab is live while both are held.
    fn lock_for_reading(&self) -> (MutexGuard<'_, Slab>, MutexGuard<'_, Vec<u32>>) {
        let mut slab = self.slab.lock.lock();
        let mut away = self.away.lock();
        // Relaxed: a hint; `away`'s lock orders the list itself.
        self.slab.pending.store(false, Ordering::Relaxed);
        slab.reclaim(&mut away);
        (slab, away)
    }

    /// A spawn's reclaim (module header), under the slab lock: `away`'s lock
    /// is held only to swap its list with the slab's empty spare.
    fn reclaim_for_spawn(&self, slab: &mut Slab) {
        let mut batch = std::mem::take(&mut slab.spare);
        {
            let mut away = self.away.lock();
            std::mem::swap(&mut batch, &mut *away);
            // Relaxed: a hint; `away`'s lock orders the list itself.
            self.slab.pending.store(false, Ordering::Relaxed);
        }
        slab.reclaim(&mut batch);
        slab.spare = batch;
    }
}

#[cfg(not(loom))]
std::thread_local! {
    static HOME_SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

// Under loom, per model thread (its threads are coroutines on one OS thread,
// which would give them all one home), so the models see removals from away.
#[cfg(loom)]
loom::thread_local! {
    static HOME_SHARD: Cell<usize> = Cell::new(usize::MAX);
}

/// This thread's shard number (modulo the shard count).
fn home_shard() -> usize {
    HOME_SHARD.with(|h| {
        if h.get() == usize::MAX {
            h.set(next_home());
        }
        h.get()
    })
}

/// A new thread's home: the threads of a process in turn.
#[cfg(not(loom))]
fn next_home() -> usize {
    // A plain static: it only spreads threads.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    // Relaxed: only spreads threads over shards.
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A new model thread's home: the threads of one model execution in the
/// order they first spawn, counted afresh in every execution (loom's
/// `lazy_static` is per execution).
#[cfg(loom)]
fn next_home() -> usize {
    loom::lazy_static! {
        static ref NEXT: crate::loom::sync::AtomicUsize = crate::loom::sync::AtomicUsize::new(0);
    }
    // Relaxed: only spreads threads over shards.
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The live tasks of one runtime: a loop (a [`Schedule`](crate::Schedule)
/// implementation) creates one, and [`spawn`](crate::spawn) enters each task
/// in it until the task completes.
///
/// ```
/// # use std::collections::VecDeque;
/// # use std::sync::{Arc, Mutex};
/// # use weft_task::context::CallSoon;
/// # use weft_task::{CallExceptionHandler, Runnable, Schedule, Spawned, Task, TaskRegistry};
/// # /// A loop of one queue, run by hand.
/// # #[derive(Clone)]
/// # struct Queue(Arc<(TaskRegistry, Mutex<VecDeque<Runnable>>)>);
/// # impl CallSoon for Queue {
/// #     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) { f() }
/// # }
/// # impl CallExceptionHandler for Queue {}
/// # // SAFETY: `registry` always returns the same registry.
/// # unsafe impl Schedule for Queue {
/// #     fn schedule(&self, task: Runnable) { self.0 .1.lock().unwrap().push_back(task) }
/// #     fn registry(&self) -> &TaskRegistry { &self.0 .0 }
/// # }
/// # /// Spawns `f` on `q` and runs its first step.
/// # fn start<F: std::future::Future<Output = ()> + Send + 'static>(q: &Queue, f: F) -> Task<()> {
/// #     let Spawned::Ready(task, first) = weft_task::spawn(f, q.clone(), std::panic::Location::caller())
/// #     else { panic!("the registry is closed") };
/// #     first.run();
/// #     task
/// # }
/// # let q = Queue(Arc::new((TaskRegistry::new(1), Mutex::new(VecDeque::new()))));
/// # let registry = q.registry();
/// // Scheduled by hand: a loop of one queue (hidden above), whose registry
/// // this is.
/// let done = start(&q, async {});
/// let parked = start(&q, std::future::pending());
/// assert!(done.done());
/// assert_eq!((registry.spawned(), registry.len()), (2, 1));
/// assert_eq!(registry.live_tasks(), [parked.task_ref()]);
/// # // SAFETY: nothing else runs these tasks: this thread runs the queue.
/// # unsafe { registry.shutdown_tasks(|_| true, |_| {}) }; // no cycle left to leak
/// ```
pub struct TaskRegistry {
    shards: Box<[Shard]>,
}

impl TaskRegistry {
    /// A registry sized for `workers` threads spawning concurrently.
    ///
    /// ```
    /// let registry = weft_task::TaskRegistry::new(4);
    /// assert!(registry.is_empty() && !registry.is_closed());
    /// ```
    pub fn new(workers: usize) -> TaskRegistry {
        // Two shards under loom: fewer states, same code paths.
        #[cfg(not(loom))]
        let n = (workers.max(1) * 2).next_power_of_two().min(256);
        #[cfg(loom)]
        let n = {
            let _ = workers;
            2
        };
        let shards = (0..n)
            .map(|_| Shard {
                slab: CachePadded::new(SlabLock {
                    lock: Mutex::new(Slab {
                        slots: Vec::new(),
                        free: Vec::new(),
                        len: 0,
                        inserted: 0,
                        closed: false,
                        spare: Vec::new(),
                    }),
                    pending: AtomicBool::new(false),
                }),
                away: CachePadded::new(Mutex::new(Vec::new())),
            })
            .collect();
        TaskRegistry { shards }
    }

    /// Adds a new task (whose initial state already counts the entry's
    /// reference). False if the registry is closed.
    pub(crate) fn insert(&self, task: RawTask) -> bool {
        let shard_no = home_shard() & (self.shards.len() - 1);
        let home = &self.shards[shard_no];
        let mut shard = home.slab.lock.lock();
        if shard.closed {
            return false;
        }
        // Relaxed: a hint (module header); `away`'s lock orders the list.
        if shard.free.is_empty() && home.slab.pending.load(Ordering::Relaxed) {
            home.reclaim_for_spawn(&mut shard);
        }
        let ptr = Some(task.header_ptr());
        let index = match shard.free.pop() {
            Some(i) => {
                shard.slots[i as usize] = ptr;
                i
            }
            None => {
                shard.slots.push(ptr);
                (shard.slots.len() - 1) as u32
            }
        };
        shard.len += 1;
        shard.inserted += 1;
        let slot = Slot::new(shard_no as u32, index);
        // SAFETY: written here under the slab lock, before the task can run
        // (the queue hand-off, or the slab lock `shutdown_tasks` takes,
        // orders it before the one removal).
        task.header().slot.with_mut(|s| unsafe { *s = Some(slot) });
        drop(shard);
        // Here rather than in the generic spawn path, whose inlining the
        // check would change (callgrind: +30 instructions a spawn there).
        crate::events::spawned(|| (task.header().id, task.header().location));
        true
    }

    /// Removes a completed task; true if it was registered (the caller then
    /// releases the entry's reference).
    pub(crate) fn remove(&self, task: RawTask) -> bool {
        let header = task.header();
        // The slot is written once, at insert, by the spawning thread before
        // the task could run or be shut down (the queue hand-off, or the slab
        // lock under which `shutdown_tasks` took its reference, orders it
        // before this), and taken only here, by the one completion.
        // SAFETY: see above.
        let Some(slot) = header.slot.with_mut(|s| unsafe { (*s).take() }) else {
            return false; // never inserted (refused)
        };
        let shard_no = slot.shard() as usize;
        let shard = &self.shards[shard_no];
        // The home without assigning one: a thread that only completes tasks
        // does not take a number from the spawners' round-robin.
        let home = HOME_SHARD.with(Cell::get);
        if home != usize::MAX && shard_no == home & (self.shards.len() - 1) {
            let mut slab = shard.slab.lock.lock();
            slab.slots[slot.index() as usize] = None;
            slab.free.push(slot.index());
            slab.len -= 1;
        } else {
            // From away (module header): appended before the caller releases
            // the reference, under `away`'s lock, which readers hold.
            let mut away = shard.away.lock();
            away.push(slot.index());
            // Exactly at the batch: the list grows one by one and is emptied
            // together with the hint's clearing, so one store per batch.
            if away.len() == AWAY_BATCH {
                // Relaxed: a hint, read by the spawner (module header).
                shard.slab.pending.store(true, Ordering::Relaxed);
            }
        }
        true
    }

    /// Registered tasks whose local owner key `owner` accepts (0 for tasks any
    /// thread may run).
    ///
    /// ```
    /// # use std::collections::VecDeque;
    /// # use std::sync::{Arc, Mutex};
    /// # use weft_task::context::CallSoon;
    /// # use weft_task::{CallExceptionHandler, Runnable, Schedule, Spawned, Task, TaskRegistry};
    /// # /// A loop of one queue, run by hand.
    /// # #[derive(Clone)]
    /// # struct Queue(Arc<(TaskRegistry, Mutex<VecDeque<Runnable>>)>);
    /// # impl CallSoon for Queue {
    /// #     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) { f() }
    /// # }
    /// # impl CallExceptionHandler for Queue {}
    /// # // SAFETY: `registry` always returns the same registry.
    /// # unsafe impl Schedule for Queue {
    /// #     fn schedule(&self, task: Runnable) { self.0 .1.lock().unwrap().push_back(task) }
    /// #     fn registry(&self) -> &TaskRegistry { &self.0 .0 }
    /// # }
    /// # /// Spawns `f` on `q` and runs its first step.
    /// # fn start<F: std::future::Future<Output = ()> + Send + 'static>(q: &Queue, f: F) -> Task<()> {
    /// #     let Spawned::Ready(task, first) = weft_task::spawn(f, q.clone(), std::panic::Location::caller())
    /// #     else { panic!("the registry is closed") };
    /// #     first.run();
    /// #     task
    /// # }
    /// # let q = Queue(Arc::new((TaskRegistry::new(1), Mutex::new(VecDeque::new()))));
    /// # let registry = q.registry();
    /// let _parked = start(&q, std::future::pending());
    /// assert_eq!(registry.count_where(|owner| owner == 0), 1, "not pinned");
    /// assert_eq!(registry.count_where(|owner| owner != 0), 0);
    /// # // SAFETY: nothing else runs these tasks: this thread runs the queue.
    /// # unsafe { registry.shutdown_tasks(|_| true, |_| {}) }; // no cycle left to leak
    /// ```
    pub fn count_where(&self, mut owner: impl FnMut(usize) -> bool) -> usize {
        let mut n = 0;
        self.for_each(|raw| n += usize::from(owner(raw.local_owner())));
        n
    }

    /// Tasks registered and not yet complete.
    ///
    /// ```
    /// # use std::collections::VecDeque;
    /// # use std::sync::{Arc, Mutex};
    /// # use weft_task::context::CallSoon;
    /// # use weft_task::{CallExceptionHandler, Runnable, Schedule, Spawned, Task, TaskRegistry};
    /// # /// A loop of one queue, run by hand.
    /// # #[derive(Clone)]
    /// # struct Queue(Arc<(TaskRegistry, Mutex<VecDeque<Runnable>>)>);
    /// # impl CallSoon for Queue {
    /// #     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) { f() }
    /// # }
    /// # impl CallExceptionHandler for Queue {}
    /// # // SAFETY: `registry` always returns the same registry.
    /// # unsafe impl Schedule for Queue {
    /// #     fn schedule(&self, task: Runnable) { self.0 .1.lock().unwrap().push_back(task) }
    /// #     fn registry(&self) -> &TaskRegistry { &self.0 .0 }
    /// # }
    /// # /// Spawns `f` on `q` and runs its first step.
    /// # fn start<F: std::future::Future<Output = ()> + Send + 'static>(q: &Queue, f: F) -> Task<()> {
    /// #     let Spawned::Ready(task, first) = weft_task::spawn(f, q.clone(), std::panic::Location::caller())
    /// #     else { panic!("the registry is closed") };
    /// #     first.run();
    /// #     task
    /// # }
    /// # let q = Queue(Arc::new((TaskRegistry::new(1), Mutex::new(VecDeque::new()))));
    /// # let registry = q.registry();
    /// let gate = weft::Promise::<()>::new();
    /// let wait = gate.clone();
    /// let _t = start(&q, async move { let _ = wait.await; });
    /// assert_eq!(registry.len(), 1);
    /// gate.set_result(()).unwrap(); // wakes the task: queued
    /// q.0 .1.lock().unwrap().pop_front().unwrap().run();
    /// assert_eq!(registry.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock_for_reading().0.len).sum()
    }

    /// Whether no task is registered.
    ///
    /// ```
    /// # use std::collections::VecDeque;
    /// # use std::sync::{Arc, Mutex};
    /// # use weft_task::context::CallSoon;
    /// # use weft_task::{CallExceptionHandler, Runnable, Schedule, Spawned, Task, TaskRegistry};
    /// # /// A loop of one queue, run by hand.
    /// # #[derive(Clone)]
    /// # struct Queue(Arc<(TaskRegistry, Mutex<VecDeque<Runnable>>)>);
    /// # impl CallSoon for Queue {
    /// #     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) { f() }
    /// # }
    /// # impl CallExceptionHandler for Queue {}
    /// # // SAFETY: `registry` always returns the same registry.
    /// # unsafe impl Schedule for Queue {
    /// #     fn schedule(&self, task: Runnable) { self.0 .1.lock().unwrap().push_back(task) }
    /// #     fn registry(&self) -> &TaskRegistry { &self.0 .0 }
    /// # }
    /// # /// Spawns `f` on `q` and runs its first step.
    /// # fn start<F: std::future::Future<Output = ()> + Send + 'static>(q: &Queue, f: F) -> Task<()> {
    /// #     let Spawned::Ready(task, first) = weft_task::spawn(f, q.clone(), std::panic::Location::caller())
    /// #     else { panic!("the registry is closed") };
    /// #     first.run();
    /// #     task
    /// # }
    /// # let q = Queue(Arc::new((TaskRegistry::new(1), Mutex::new(VecDeque::new()))));
    /// # let registry = q.registry();
    /// assert!(registry.is_empty());
    /// let _parked = start(&q, std::future::pending());
    /// assert!(!registry.is_empty());
    /// # // SAFETY: nothing else runs these tasks: this thread runs the queue.
    /// # unsafe { registry.shutdown_tasks(|_| true, |_| {}) }; // no cycle left to leak
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tasks spawned through this registry so far.
    ///
    /// ```
    /// # use std::collections::VecDeque;
    /// # use std::sync::{Arc, Mutex};
    /// # use weft_task::context::CallSoon;
    /// # use weft_task::{CallExceptionHandler, Runnable, Schedule, Spawned, Task, TaskRegistry};
    /// # /// A loop of one queue, run by hand.
    /// # #[derive(Clone)]
    /// # struct Queue(Arc<(TaskRegistry, Mutex<VecDeque<Runnable>>)>);
    /// # impl CallSoon for Queue {
    /// #     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) { f() }
    /// # }
    /// # impl CallExceptionHandler for Queue {}
    /// # // SAFETY: `registry` always returns the same registry.
    /// # unsafe impl Schedule for Queue {
    /// #     fn schedule(&self, task: Runnable) { self.0 .1.lock().unwrap().push_back(task) }
    /// #     fn registry(&self) -> &TaskRegistry { &self.0 .0 }
    /// # }
    /// # /// Spawns `f` on `q` and runs its first step.
    /// # fn start<F: std::future::Future<Output = ()> + Send + 'static>(q: &Queue, f: F) -> Task<()> {
    /// #     let Spawned::Ready(task, first) = weft_task::spawn(f, q.clone(), std::panic::Location::caller())
    /// #     else { panic!("the registry is closed") };
    /// #     first.run();
    /// #     task
    /// # }
    /// # let q = Queue(Arc::new((TaskRegistry::new(1), Mutex::new(VecDeque::new()))));
    /// # let registry = q.registry();
    /// for _ in 0..3 {
    ///     start(&q, async {}).detach();
    /// }
    /// assert_eq!(registry.spawned(), 3);
    /// assert_eq!(registry.len(), 0, "all three completed");
    /// ```
    pub fn spawned(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.slab.lock.lock().inserted)
            .sum()
    }

    /// Handles to every registered task that is not done (asyncio's `all_tasks`).
    ///
    /// ```
    /// # use std::collections::VecDeque;
    /// # use std::sync::{Arc, Mutex};
    /// # use weft_task::context::CallSoon;
    /// # use weft_task::{CallExceptionHandler, Runnable, Schedule, Spawned, Task, TaskRegistry};
    /// # /// A loop of one queue, run by hand.
    /// # #[derive(Clone)]
    /// # struct Queue(Arc<(TaskRegistry, Mutex<VecDeque<Runnable>>)>);
    /// # impl CallSoon for Queue {
    /// #     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) { f() }
    /// # }
    /// # impl CallExceptionHandler for Queue {}
    /// # // SAFETY: `registry` always returns the same registry.
    /// # unsafe impl Schedule for Queue {
    /// #     fn schedule(&self, task: Runnable) { self.0 .1.lock().unwrap().push_back(task) }
    /// #     fn registry(&self) -> &TaskRegistry { &self.0 .0 }
    /// # }
    /// # /// Spawns `f` on `q` and runs its first step.
    /// # fn start<F: std::future::Future<Output = ()> + Send + 'static>(q: &Queue, f: F) -> Task<()> {
    /// #     let Spawned::Ready(task, first) = weft_task::spawn(f, q.clone(), std::panic::Location::caller())
    /// #     else { panic!("the registry is closed") };
    /// #     first.run();
    /// #     task
    /// # }
    /// # let q = Queue(Arc::new((TaskRegistry::new(1), Mutex::new(VecDeque::new()))));
    /// # let registry = q.registry();
    /// let parked = start(&q, std::future::pending());
    /// start(&q, async {}).detach();
    /// assert_eq!(registry.live_tasks(), [parked.task_ref()]);
    /// # // SAFETY: nothing else runs these tasks: this thread runs the queue.
    /// # unsafe { registry.shutdown_tasks(|_| true, |_| {}) }; // no cycle left to leak
    /// ```
    pub fn live_tasks(&self) -> Vec<TaskRef> {
        let mut out = Vec::new();
        self.for_each(|raw| {
            if !raw.header().state.load().is_complete() {
                out.push(TaskRef::from_raw_inc(raw));
            }
        });
        out
    }

    fn for_each(&self, mut f: impl FnMut(RawTask)) {
        for shard in self.shards.iter() {
            // Every entry left is live (each holds a reference) while both
            // locks are held: the module header.
            let (shard, _away) = shard.lock_for_reading();
            shard
                .slots
                .iter()
                .flatten()
                .for_each(|&ptr| f(RawTask::from_header(ptr)));
        }
    }

    /// Refuses new tasks from now on.
    ///
    /// ```
    /// # use std::collections::VecDeque;
    /// # use std::sync::{Arc, Mutex};
    /// # use weft_task::context::CallSoon;
    /// # use weft_task::{CallExceptionHandler, Runnable, Schedule, Spawned, Task, TaskRegistry};
    /// # /// A loop of one queue, run by hand.
    /// # #[derive(Clone)]
    /// # struct Queue(Arc<(TaskRegistry, Mutex<VecDeque<Runnable>>)>);
    /// # impl CallSoon for Queue {
    /// #     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) { f() }
    /// # }
    /// # impl CallExceptionHandler for Queue {}
    /// # // SAFETY: `registry` always returns the same registry.
    /// # unsafe impl Schedule for Queue {
    /// #     fn schedule(&self, task: Runnable) { self.0 .1.lock().unwrap().push_back(task) }
    /// #     fn registry(&self) -> &TaskRegistry { &self.0 .0 }
    /// # }
    /// # /// Spawns `f` on `q` and runs its first step.
    /// # fn start<F: std::future::Future<Output = ()> + Send + 'static>(q: &Queue, f: F) -> Task<()> {
    /// #     let Spawned::Ready(task, first) = weft_task::spawn(f, q.clone(), std::panic::Location::caller())
    /// #     else { panic!("the registry is closed") };
    /// #     first.run();
    /// #     task
    /// # }
    /// # let q = Queue(Arc::new((TaskRegistry::new(1), Mutex::new(VecDeque::new()))));
    /// # let registry = q.registry();
    /// registry.close();
    /// let refused = weft_task::spawn(async {}, q.clone(), std::panic::Location::caller());
    /// let Spawned::Refused(task) = refused else { panic!("spawned after close") };
    /// assert!(task.cancelled());
    /// ```
    pub fn close(&self) {
        for shard in self.shards.iter() {
            shard.slab.lock.lock().closed = true;
        }
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// ```
    /// let registry = weft_task::TaskRegistry::new(1);
    /// assert!(!registry.is_closed());
    /// registry.close();
    /// assert!(registry.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shards[0].slab.lock.lock().closed
    }

    /// Cancels and drops every registered task accepted by `owned` (given each
    /// task's local owner key, 0 for tasks any thread may drop): each future is
    /// dropped without another poll and the task ends `Cancelled`. `on_destroy`
    /// sees each one first (to report it). Returns how many were shut down.
    ///
    /// # Safety
    ///
    /// No thread may be polling, or start polling, the tasks `owned` accepts
    /// while this runs, except through `Runnable`s queued before (those find
    /// the task claimed and let it be): the runtime's workers have stopped, or
    /// these are this thread's own pinned tasks. Tasks whose future is not
    /// `Send` must only be accepted on their owner thread.
    ///
    /// ```
    /// # use std::collections::VecDeque;
    /// # use std::sync::{Arc, Mutex};
    /// # use weft_task::context::CallSoon;
    /// # use weft_task::{CallExceptionHandler, Runnable, Schedule, Spawned, Task, TaskRegistry};
    /// # /// A loop of one queue, run by hand.
    /// # #[derive(Clone)]
    /// # struct Queue(Arc<(TaskRegistry, Mutex<VecDeque<Runnable>>)>);
    /// # impl CallSoon for Queue {
    /// #     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) { f() }
    /// # }
    /// # impl CallExceptionHandler for Queue {}
    /// # // SAFETY: `registry` always returns the same registry.
    /// # unsafe impl Schedule for Queue {
    /// #     fn schedule(&self, task: Runnable) { self.0 .1.lock().unwrap().push_back(task) }
    /// #     fn registry(&self) -> &TaskRegistry { &self.0 .0 }
    /// # }
    /// # /// Spawns `f` on `q` and runs its first step.
    /// # fn start<F: std::future::Future<Output = ()> + Send + 'static>(q: &Queue, f: F) -> Task<()> {
    /// #     let Spawned::Ready(task, first) = weft_task::spawn(f, q.clone(), std::panic::Location::caller())
    /// #     else { panic!("the registry is closed") };
    /// #     first.run();
    /// #     task
    /// # }
    /// # let q = Queue(Arc::new((TaskRegistry::new(1), Mutex::new(VecDeque::new()))));
    /// # let registry = q.registry();
    /// let parked = start(&q, std::future::pending());
    /// registry.close();
    /// let mut seen = Vec::new();
    /// // SAFETY: this thread is the queue's only runner, and it runs nothing now.
    /// let n = unsafe { registry.shutdown_tasks(|_| true, |t| seen.push(t.id())) };
    /// assert_eq!((n, seen), (1, vec![parked.id()]));
    /// assert!(parked.cancelled());
    /// ```
    pub unsafe fn shutdown_tasks(
        &self,
        mut owned: impl FnMut(usize) -> bool,
        mut on_destroy: impl FnMut(&TaskRef),
    ) -> usize {
        let mut victims = Vec::new();
        self.for_each(|raw| {
            if owned(raw.local_owner()) && !raw.header().state.load().is_complete() {
                victims.push(TaskRef::from_raw_inc(raw));
            }
        });
        let n = victims.len();
        for task in victims {
            on_destroy(&task);
            task.raw().shutdown();
        }
        n
    }
}

impl fmt::Debug for TaskRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskRegistry")
            .field("live", &self.len())
            .finish()
    }
}
