//! The registry of a runtime's live tasks: what `all_tasks()` lists and what
//! shutdown cancels.
//!
//! Sharded intrusive doubly-linked lists (links live in each task's header),
//! one `Mutex` per shard, shard chosen by task id so spawns on different workers
//! rarely meet on a lock. A registered task holds one reference for its entry;
//! completion removes the entry and releases it. Once closed, the registry
//! refuses new tasks, which is how a shut-down runtime refuses work.

use crate::loom::sync::{AtomicUsize, Mutex, Ordering};
use crate::raw::{Header, RawTask};
use crate::task::TaskRef;
use crossbeam_utils::CachePadded;
use std::fmt;
use std::ptr::NonNull;

/// Links of the intrusive list; only touched under the shard's lock.
#[derive(Default)]
pub(crate) struct Links {
    prev: Option<NonNull<Header>>,
    next: Option<NonNull<Header>>,
}

struct Shard {
    head: Option<NonNull<Header>>,
    len: usize,
    closed: bool,
}

// SAFETY: the pointers are only followed under the shard's lock, and each task
// they point to is kept alive by the reference its entry holds.
unsafe impl Send for Shard {}

/// The live tasks of one runtime.
pub struct TaskRegistry {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    spawned: AtomicUsize,
}

impl TaskRegistry {
    /// A registry sized for `workers` threads spawning concurrently.
    pub fn new(workers: usize) -> TaskRegistry {
        let n = (workers.max(1) * 4).next_power_of_two().min(256);
        #[cfg(loom)]
        let n = 2;
        let shards = (0..n)
            .map(|_| {
                CachePadded::new(Mutex::new(Shard {
                    head: None,
                    len: 0,
                    closed: false,
                }))
            })
            .collect();
        TaskRegistry {
            shards,
            spawned: AtomicUsize::new(0),
        }
    }

    fn shard(&self, header: &Header) -> &Mutex<Shard> {
        &self.shards[(header.id.as_u64() as usize) & (self.shards.len() - 1)]
    }

    /// Adds a new task (whose initial state already counts the entry's
    /// reference). False if the registry is closed.
    pub(crate) fn insert(&self, task: RawTask) -> bool {
        let header = task.header();
        let mut shard = self.shard(header).lock();
        if shard.closed {
            return false;
        }
        let ptr = task.header_ptr();
        // SAFETY: links are only touched under this shard's lock; `ptr` and the
        // old head are live (each entry holds a reference).
        header.links.with_mut(|l| unsafe {
            *l = Links {
                prev: None,
                next: shard.head,
            }
        });
        if let Some(old) = shard.head {
            // SAFETY: as above.
            unsafe { old.as_ref() }
                .links
                .with_mut(|l| unsafe { (*l).prev = Some(ptr) });
        }
        shard.head = Some(ptr);
        shard.len += 1;
        // Relaxed: a statistic.
        self.spawned.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Removes a completed task; true if it was registered (the caller then
    /// releases the entry's reference).
    pub(crate) fn remove(&self, task: RawTask) -> bool {
        let header = task.header();
        let ptr = task.header_ptr();
        let mut shard = self.shard(header).lock();
        // SAFETY: under the shard lock.
        let links = header.links.with(|l| unsafe { ((*l).prev, (*l).next) });
        let (prev, next) = links;
        if prev.is_none() && shard.head != Some(ptr) {
            return false; // never inserted (refused), or already removed
        }
        // SAFETY: neighbours are live registered tasks; under the shard lock.
        unsafe {
            match prev {
                Some(p) => p.as_ref().links.with_mut(|l| (*l).next = next),
                None => shard.head = next,
            }
            if let Some(n) = next {
                n.as_ref().links.with_mut(|l| (*l).prev = prev);
            }
            header.links.with_mut(|l| *l = Links::default());
        }
        shard.len -= 1;
        true
    }

    /// Tasks registered and not yet complete.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len).sum()
    }

    /// Whether no task is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tasks spawned through this registry so far.
    pub fn spawned(&self) -> usize {
        self.spawned.load(Ordering::Relaxed)
    }

    /// Handles to every registered task that is not done (asyncio's `all_tasks`).
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
            let mut cur = shard.head;
            while let Some(ptr) = cur {
                f(RawTask::from_header(ptr));
                // SAFETY: under the shard lock; entries are live.
                cur = unsafe { ptr.as_ref() }.links.with(|l| unsafe { (*l).next });
            }
        }
    }

    /// Refuses new tasks from now on.
    pub fn close(&self) {
        for shard in self.shards.iter() {
            shard.lock().closed = true;
        }
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.shards[0].lock().closed
    }

    /// Cancels and drops every registered task accepted by `owned` (given each
    /// task's local owner key, 0 for tasks any thread may drop): each future is
    /// dropped without another poll and the task ends `Cancelled`. `on_destroy`
    /// sees each one first (to report it). Returns how many were shut down.
    ///
    /// The caller guarantees that no thread is polling those tasks (the
    /// runtime's workers have stopped, or these are this thread's local tasks).
    pub fn shutdown_tasks(
        &self,
        mut owned: impl FnMut(usize) -> bool,
        mut on_destroy: impl FnMut(&TaskRef),
    ) -> usize {
        let mut victims = Vec::new();
        self.for_each(|raw| {
            if owned(raw.header().local_owner) && !raw.header().state.load().is_complete() {
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
