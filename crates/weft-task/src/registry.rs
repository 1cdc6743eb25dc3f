//! The registry of a runtime's live tasks: what `all_tasks()` lists and what
//! shutdown cancels.
//!
//! Shards of slabs: each shard is a `Mutex<Vec<slot>>` with a free list, and a
//! task remembers its shard and slot in its header, so removal touches only its
//! own slot (a linked list would also touch two neighbours, usually cold in
//! cache). A thread spawns into its own shard (assigned round-robin on first
//! use), so workers rarely meet on a lock, and the worker that completes a task
//! is usually the one that spawned it. A registered task holds one reference
//! for its entry; completion removes the entry and releases it. Once closed,
//! the registry refuses new tasks, which is how a shut-down runtime refuses work.

use crate::header::{Header, RawTask, Slot, TaskRef};
use crate::loom::sync::Mutex;
use crossbeam_utils::CachePadded;
use std::cell::Cell;
use std::fmt;
use std::ptr::NonNull;

struct Shard {
    slots: Vec<Option<NonNull<Header>>>,
    free: Vec<u32>,
    len: usize,
    /// Tasks ever inserted here (a statistic, kept under the lock already held).
    inserted: usize,
    closed: bool,
}

// SAFETY: the pointers are only followed under the shard's lock, and each task
// they point to is kept alive by the reference its entry holds.
unsafe impl Send for Shard {}

std::thread_local! {
    static HOME_SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's shard number (modulo the shard count).
fn home_shard() -> usize {
    // A std static (loom atomics cannot be statics): it only spreads threads.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    HOME_SHARD.with(|h| {
        if h.get() == usize::MAX {
            // Relaxed: only spreads threads over shards.
            h.set(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        }
        h.get()
    })
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
    shards: Box<[CachePadded<Mutex<Shard>>]>,
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
            .map(|_| {
                CachePadded::new(Mutex::new(Shard {
                    slots: Vec::new(),
                    free: Vec::new(),
                    len: 0,
                    inserted: 0,
                    closed: false,
                }))
            })
            .collect();
        TaskRegistry { shards }
    }

    /// Adds a new task (whose initial state already counts the entry's
    /// reference). False if the registry is closed.
    pub(crate) fn insert(&self, task: RawTask) -> bool {
        let shard_no = home_shard() & (self.shards.len() - 1);
        let mut shard = self.shards[shard_no].lock();
        if shard.closed {
            return false;
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
        // SAFETY: the slot field is only touched under this shard's lock.
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
        // Reading the slot before locking is fine: it is written once, at
        // insert, by the spawning thread before the task could run (the queue
        // hand-off orders it), and cleared only here, by the one completion.
        // SAFETY: see above.
        let Some(slot) = header.slot.with(|s| unsafe { *s }) else {
            return false; // never inserted (refused)
        };
        let mut shard = self.shards[slot.shard() as usize].lock();
        // SAFETY: under the shard lock.
        header.slot.with_mut(|s| unsafe { *s = None });
        shard.slots[slot.index() as usize] = None;
        shard.free.push(slot.index());
        shard.len -= 1;
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
        self.shards.iter().map(|s| s.lock().len).sum()
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
        self.shards.iter().map(|s| s.lock().inserted).sum()
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
            let shard = shard.lock();
            // Entries are live while registered (each holds a reference).
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
            shard.lock().closed = true;
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
        self.shards[0].lock().closed
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
