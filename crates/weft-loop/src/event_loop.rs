//! One loop per thread: a worker's loop (stealable deque, LIFO slot, searching
//! and parking) or a `block_on` loop (the caller's thread, driving one future).
//! Both run pinned tasks and `call_soon` callbacks and have an inbox.
//!
//! # A worker's tick
//!
//! 1. Run the callbacks that were ready when the tick began (asyncio's rule:
//!    callbacks queued meanwhile wait for the next tick).
//! 2. Take a task: every 61st tick the injector and inbox come first (fairness
//!    for work from outside); otherwise the LIFO slot (at most 3 times in a row,
//!    then its task goes to the back of the deque), the deque and pinned tasks
//!    (each first on alternate ticks), the inbox, the injector.
//! 3. None: search (steal half a victim's deque, random victim first; on the
//!    second pass also victims' LIFO slots). At most half the workers search.
//! 4. Still none: park (protocol in `park.rs`), inside the driver if no other
//!    worker holds it (`driver.rs`), so timers fire and I/O is noticed.
//!
//! Every 61st tick a busy worker also turns the driver without blocking.
//!
//! A worker that finds work while searching stops searching, and if it was the
//! last searcher wakes another worker, so queued work always has a searcher or
//! a busy owner. Shutdown: `Shared::close` unparks everyone; each worker leaves
//! its loop at the next tick and shuts down its pinned tasks on its own thread.

use crate::driver::Driver;
use crate::loom::sync::{Arc, AtomicBool, Ordering};
use crate::park::Parker;
use crate::shared::{LoopCallSoon, LoopRemote, Msg, Shared};
use crossbeam_deque::{Steal, Worker};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::ptr;
use std::task::{Context, Poll, Wake, Waker};
use weft_task::context::enter_loop;
use weft_task::Runnable;

/// Every this many ticks a worker looks at the injector and its inbox first.
const GLOBAL_QUEUE_INTERVAL: u32 = 61;
/// Consecutive polls from the LIFO slot before it yields to the deque.
const MAX_LIFO_STREAK: u8 = 3;
/// Passes over the victims before a searcher gives up.
const SEARCH_ROUNDS: usize = 3;
/// Most pinned tasks a `block_on` loop runs between polls of its future.
const BLOCK_ON_BATCH: usize = 128;

thread_local! {
    static CURRENT: Cell<*const Loop> = const { Cell::new(ptr::null()) };
}

/// The worker-only half of a loop.
struct WorkerCore {
    index: usize,
    queue: Worker<Runnable>,
    tick: Cell<u32>,
    searching: Cell<bool>,
    lifo_streak: Cell<u8>,
    rng: Cell<u64>,
}

/// Work only this thread may touch.
#[derive(Default)]
struct LocalQueues {
    pinned: VecDeque<Runnable>,
    /// Ready callbacks; those from this thread need not be `Send`.
    callbacks: VecDeque<Box<dyn FnOnce()>>,
}

pub(crate) struct Loop {
    shared: Arc<Shared>,
    remote: Arc<LoopRemote>,
    inbox: crossbeam_channel::Receiver<Msg>,
    worker: Option<WorkerCore>,
    local: RefCell<LocalQueues>,
}

/// Loop keys, unique in the process. A std static (loom atomics cannot be
/// statics); only uniqueness matters, so it synchronises nothing.
static NEXT_KEY: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

/// A fresh inbox and remote side for a loop.
pub(crate) fn new_remote(
    driver: &Arc<Driver>,
) -> (Arc<LoopRemote>, crossbeam_channel::Receiver<Msg>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    // Relaxed: only uniqueness matters.
    let key = NEXT_KEY.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (
        Arc::new(LoopRemote {
            inbox: tx,
            parker: Parker::new(driver.clone()),
            key,
        }),
        rx,
    )
}

impl Loop {
    /// Runs `f` with this thread's loop, if it has one.
    pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Loop>) -> R) -> R {
        let ptr = CURRENT.get();
        // SAFETY: CURRENT is set by `enter` to a loop that outlives the guard
        // which clears it, on this thread only.
        f(unsafe { ptr.as_ref() })
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn remote(&self) -> &Arc<LoopRemote> {
        &self.remote
    }

    pub(crate) fn key(&self) -> usize {
        self.remote.key
    }

    pub(crate) fn is_worker(&self) -> bool {
        self.worker.is_some()
    }

    pub(crate) fn push_pinned(&self, task: Runnable) {
        self.local.borrow_mut().pinned.push_back(task);
    }

    /// Queues a ready callback on this loop; one queued from this thread
    /// (`call_soon`) need not be `Send`.
    pub(crate) fn push_callback(&self, f: Box<dyn FnOnce()>) {
        self.local.borrow_mut().callbacks.push_back(f);
    }

    /// A stealable task woken on this thread. On a worker with nothing else
    /// queued it goes to the LIFO slot (a hand-off: it runs next, on warm
    /// caches); when other work is queued it goes to the back of the deque, so
    /// a joiner woken by each finishing child does not alternate with them (it
    /// runs once, after a batch, finding many results ready). A `block_on` loop
    /// cannot run stealable tasks, so it gives the task back.
    pub(crate) fn push_woken(&self, task: Runnable) -> Option<Runnable> {
        let Some(w) = &self.worker else {
            return Some(task);
        };
        if !w.queue.is_empty() {
            return self.push_yielded(task);
        }
        if let Some(displaced) = self.shared.remotes[w.index].lifo.push(task) {
            w.queue.push(displaced);
        }
        self.notify_siblings();
        None
    }

    /// After a push to this worker's own queues: wakes a sibling to steal. A
    /// runtime with one worker has no sibling, and its only worker is this one,
    /// awake, so it skips the fence `notify_one` costs.
    fn notify_siblings(&self) {
        if self.shared.remotes.len() > 1 {
            self.shared.notify_one();
        }
    }

    /// A task that woke itself: the back of the deque. A `block_on` loop gives
    /// it back, as in `push_woken`.
    pub(crate) fn push_yielded(&self, task: Runnable) -> Option<Runnable> {
        let Some(w) = &self.worker else {
            return Some(task);
        };
        w.queue.push(task);
        self.notify_siblings();
        None
    }

    /// Makes this the thread's current loop until the guard drops.
    fn enter(&self) -> impl Drop + '_ {
        struct Exit {
            prev: *const Loop,
            _promises: weft_task::context::EnterLoop,
        }
        impl Drop for Exit {
            fn drop(&mut self) {
                CURRENT.set(self.prev);
            }
        }
        let call_soon = LoopCallSoon {
            shared: self.shared.clone(),
            owner: self.remote.clone(),
        };
        Exit {
            prev: CURRENT.replace(self),
            _promises: enter_loop(std::sync::Arc::new(call_soon)),
        }
    }

    /// Whether this thread is running any weft loop.
    pub(crate) fn is_entered() -> bool {
        !CURRENT.get().is_null()
    }

    /// Runs the callbacks queued before this call, each once; those they queue
    /// wait for the next call. Returns whether any ran.
    fn run_callbacks(&self) -> bool {
        let ready = self.local.borrow().callbacks.len();
        for _ in 0..ready {
            let Some(f) = self.local.borrow_mut().callbacks.pop_front() else {
                break;
            };
            weft_task::run_reporting("a call_soon callback", f);
        }
        ready > 0
    }

    /// Moves what other threads sent into the local queues.
    pub(crate) fn drain_inbox(&self) {
        while let Ok(msg) = self.inbox.try_recv() {
            let mut local = self.local.borrow_mut();
            match msg {
                Msg::Task(t) => local.pinned.push_back(t),
                Msg::Call(f) => local.callbacks.push_back(f),
            }
        }
    }

    fn pop_pinned(&self) -> Option<Runnable> {
        if let Some(t) = self.local.borrow_mut().pinned.pop_front() {
            return Some(t);
        }
        if self.inbox.is_empty() {
            return None;
        }
        self.drain_inbox();
        self.local.borrow_mut().pinned.pop_front()
    }

    fn has_local_work(&self) -> bool {
        let local = self.local.borrow();
        !local.pinned.is_empty() || !local.callbacks.is_empty() || !self.inbox.is_empty()
    }

    /// Shuts down this loop's pinned tasks (on their own thread) and drops what
    /// is queued here. Repeats while a pass finds tasks, since a destructor run
    /// by one pass may `spawn_local` another task (bounded, in case one always
    /// does).
    fn shutdown_pinned(&self, warn: bool) {
        let key = self.key();
        for _ in 0..64 {
            // SAFETY: these are this loop's pinned tasks and this is their
            // thread; none is being polled (we are between polls here).
            let n = unsafe {
                self.shared.registry.shutdown_tasks(
                    |owner| owner == key,
                    |task| {
                        if warn {
                            tracing::warn!(task = ?task, location = %task.location(), "task destroyed while pending");
                        }
                    },
                )
            };
            self.drain_inbox();
            let local = std::mem::take(&mut *self.local.borrow_mut());
            drop(local);
            if n == 0 {
                return;
            }
        }
        tracing::error!("pinned tasks kept spawning new ones while being shut down; leaving them");
    }
}

// ----- workers -----

impl Loop {
    /// A worker's loop, run on its own thread until the runtime closes.
    pub(crate) fn run_worker(
        shared: Arc<Shared>,
        index: usize,
        queue: Worker<Runnable>,
        remote: Arc<LoopRemote>,
        inbox: crossbeam_channel::Receiver<Msg>,
    ) {
        let lp = Loop {
            shared,
            remote,
            inbox,
            worker: Some(WorkerCore {
                index,
                queue,
                tick: Cell::new(0),
                searching: Cell::new(false),
                lifo_streak: Cell::new(0),
                rng: Cell::new(
                    0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407),
                ),
            }),
            local: RefCell::new(LocalQueues::default()),
        };
        let _enter = lp.enter();
        if let Some(hook) = &lp.shared.config.on_thread_start {
            hook();
        }
        lp.worker_main();
        lp.shutdown_pinned(true);
        if let Some(w) = &lp.worker {
            while let Some(t) = w.queue.pop() {
                drop(t);
            }
            drop(lp.shared.remotes[w.index].lifo.take());
        }
        if let Some(hook) = &lp.shared.config.on_thread_stop {
            hook();
        }
        // AcqRel: the last worker out sees every other worker's exit. The flag
        // was stored before `close` (Release there, Acquire in `is_closed`).
        if lp.shared.live_workers.fetch_sub(1, Ordering::AcqRel) == 1
            && lp.shared.last_worker_finishes.load(Ordering::Relaxed)
        {
            lp.shared.shutdown_remaining();
        }
    }

    fn core(&self) -> &WorkerCore {
        self.worker.as_ref().expect("worker loop")
    }

    fn worker_main(&self) {
        while !self.shared.is_closed() {
            let core = self.core();
            core.tick.set(core.tick.get().wrapping_add(1));
            self.run_callbacks();
            if let Some(task) = self.next_task() {
                self.run_task(task);
                continue;
            }
            if let Some(task) = self.search() {
                self.run_task(task);
                continue;
            }
            if self.has_local_work() {
                continue;
            }
            self.park();
        }
    }

    fn run_task(&self, task: Runnable) {
        let core = self.core();
        if core.searching.replace(false) && self.shared.idle.stop_searching() {
            // The last searcher found work: there may be more, so make sure
            // somebody is looking.
            self.shared.notify_one();
        }
        task.run();
    }

    fn next_task(&self) -> Option<Runnable> {
        let core = self.core();
        if core.tick.get() % GLOBAL_QUEUE_INTERVAL == 0 {
            self.shared.driver.maintain();
            self.drain_inbox();
            if let Some(t) = self.steal_injector() {
                return Some(t);
            }
        }
        let lifo = &self.shared.remotes[core.index].lifo;
        if core.lifo_streak.get() < MAX_LIFO_STREAK {
            if let Some(t) = lifo.take() {
                core.lifo_streak.set(core.lifo_streak.get() + 1);
                return Some(t);
            }
        } else if let Some(t) = lifo.take() {
            core.queue.push(t);
        }
        core.lifo_streak.set(0);
        // Pinned tasks and the deque take turns being looked at first, so a
        // task yielding in a loop (back of the deque) cannot starve them.
        if core.tick.get() & 1 == 1 {
            if let Some(t) = self.pop_pinned() {
                return Some(t);
            }
        }
        core.queue
            .pop()
            .or_else(|| self.pop_pinned())
            .or_else(|| self.steal_injector())
    }

    fn steal_injector(&self) -> Option<Runnable> {
        let core = self.core();
        loop {
            match self.shared.injector.steal_batch_and_pop(&core.queue) {
                Steal::Success(t) => return Some(t),
                Steal::Empty => return None,
                Steal::Retry => std::hint::spin_loop(),
            }
        }
    }

    fn next_random(&self, n: usize) -> usize {
        let core = self.core();
        // xorshift64*: victims only need to be spread, not unpredictable.
        let mut x = core.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        core.rng.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize % n
    }

    fn search(&self) -> Option<Runnable> {
        let core = self.core();
        if !core.searching.get() {
            if !self.shared.idle.try_start_searching() {
                return None;
            }
            core.searching.set(true);
        }
        let n = self.shared.remotes.len();
        for round in 0..SEARCH_ROUNDS {
            let start = self.next_random(n);
            for i in 0..n {
                let victim = (start + i) % n;
                if victim == core.index {
                    continue;
                }
                let remote = &self.shared.remotes[victim];
                loop {
                    match remote.stealer.steal_batch_and_pop(&core.queue) {
                        Steal::Success(t) => {
                            let mine = &self.shared.remotes[core.index].steals;
                            mine.store(mine.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                            return Some(t);
                        }
                        Steal::Empty => break,
                        Steal::Retry => std::hint::spin_loop(),
                    }
                }
                // The owner normally takes its own LIFO task at once; take it only
                // on a later pass, when the owner looks stuck.
                if round > 0 {
                    if let Some(t) = remote.lifo.take() {
                        return Some(t);
                    }
                }
            }
            if let Some(t) = self.steal_injector() {
                return Some(t);
            }
            for _ in 0..(32 << round) {
                std::hint::spin_loop();
            }
        }
        None
    }

    fn park(&self) {
        let core = self.core();
        let idle = &self.shared.idle;
        idle.transition_to_parked(core.index, core.searching.replace(false));
        // Re-check (park.rs, worker step 3).
        if self.shared.has_stealable_work() || self.has_local_work() || self.shared.is_closed() {
            if !idle.unregister(core.index) {
                // A producer already picked us and counted us as searching.
                core.searching.set(true);
            }
            return;
        }
        let parks = &self.shared.remotes[core.index].parks;
        parks.store(parks.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        let parker = &self.remote.parker;
        let mut turning = self.shared.driver.try_turn();
        match &mut turning {
            Some(turning) => parker.park_driving(|| turning.block()),
            None => parker.park(),
        }
        if !idle.unregister(core.index) {
            core.searching.set(true);
        }
        // Awake and off the sleeper list: wake what the driver found (the
        // tasks land in this worker's queues).
        if let Some(mut turning) = turning {
            turning.dispatch();
        }
    }
}

// ----- block_on -----

/// Wakes a `block_on` loop for its main future.
struct MainWaker {
    woken: AtomicBool,
    parker: std::sync::Arc<Parker>,
}

impl Wake for MainWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        // Release: pairs with the Acquire swap in `block_on` before polling.
        if !self.woken.swap(true, Ordering::Release) {
            self.parker.unpark();
        }
    }
}

/// Drives `future` on this thread, running this loop's pinned tasks and
/// callbacks meanwhile; the workers run everything else. The caller checked
/// that no loop runs on this thread.
pub(crate) fn block_on<F: Future>(shared: &Arc<Shared>, future: F) -> F::Output {
    let (remote, inbox) = new_remote(&shared.driver);
    let lp = Loop {
        shared: shared.clone(),
        remote,
        inbox,
        worker: None,
        local: RefCell::new(LocalQueues::default()),
    };
    // Shuts down pinned tasks even if the future panics.
    struct ShutdownPinned<'a>(&'a Loop);
    impl Drop for ShutdownPinned<'_> {
        fn drop(&mut self) {
            self.0.shutdown_pinned(true);
        }
    }
    let _enter = lp.enter();
    let _shutdown = ShutdownPinned(&lp);

    let main = std::sync::Arc::new(MainWaker {
        woken: AtomicBool::new(true),
        parker: lp.remote.parker.clone(),
    });
    let waker = Waker::from(main.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        // Acquire: pairs with the Release in `MainWaker::wake_by_ref`.
        if main.woken.swap(false, Ordering::Acquire) {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
        let mut ran = lp.run_callbacks();
        // Only the pinned tasks queued now: one that yields goes behind the
        // main future, which then gets its turn (asyncio's round-robin).
        lp.drain_inbox();
        let queued = lp.local.borrow().pinned.len().min(BLOCK_ON_BATCH);
        for _ in 0..queued {
            let Some(task) = lp.local.borrow_mut().pinned.pop_front() else {
                break;
            };
            task.run();
            ran = true;
        }
        if !ran && !main.woken.load(Ordering::Acquire) && !lp.has_local_work() {
            lp.remote.parker.park();
        }
    }
}
