//! A worker's loop, run on its own thread: what it runs next, how it
//! searches and steals when it has nothing, and how it parks. (Where woken
//! tasks go is `mod.rs`'s table; the ready queue and inbox are `local.rs`'s.)
//!
//! # A worker's tick
//!
//! 1. Every 61st tick the injector and inbox come first (fairness for work
//!    from outside): a task stolen from the injector runs now.
//! 2. Take one step: the LIFO slot (with siblings only; at most 3 times in a
//!    row, then its task goes to the back of the deque), then the ready queue
//!    (pinned task steps, callbacks) and the deque as one FIFO (`local.rs`),
//!    the inbox (on odd ticks, or when both are empty), the injector.
//! 3. None: search (steal half a victim's deque, random victim first; on the
//!    second pass also victims' LIFO slots). At most half the workers search.
//! 4. Still none: park (protocol in `park.rs`), inside the driver if no other
//!    worker holds it (`driver.rs`), so timers fire and I/O is noticed.
//!
//! Every 61st tick a busy worker also turns the driver without blocking.
//!
//! Metrics and events (`metrics.rs`): every task step the worker runs goes
//! through `Worker::run` (`step_timing::run_counted`: marked with the
//! worker's index for dumps, counted, and timed only with slow-poll
//! warnings or the poll-time histogram on); busy time is added up on the
//! way into a park and at the 61st tick; a park, its wake-up and a
//! successful steal are counted and reported to `tracing` (target
//! `weft::runtime`, trace).
//!
//! Whether steps are timed is fixed when the runtime is built, so the
//! worker picks its timed or plain loop once, at start (`main::<TIMED>`):
//! a plain step pays no test for it. The worker keeps a cached clock
//! reading for the spawn times of the tasks it spawns (weft-task's
//! `SpawnClock`), refreshed where it reads the clock anyway: when it wakes
//! from a park and at the 61st tick.
//!
//! A worker that finds work while searching stops searching, and if it was the
//! last searcher wakes another worker, so queued work always has a searcher or
//! a busy owner. Shutdown: `Shared::close` unparks everyone; each worker leaves
//! its loop at the next tick and shuts down its pinned tasks on its own thread.

use super::step_timing;
use crate::context::{Kind, Loop, WorkerQueue};
use crate::loom::sync::{Arc, Ordering};
use crate::metrics::StepTiming;
use crate::state::{LoopRemote, Msg, Remote, Shared};
use crossbeam_deque::{Steal, Worker as Deque};
use std::cell::Cell;
use std::time::Instant;
use weft_task::Runnable;

/// Every this many ticks a worker looks at the injector and its inbox first.
const GLOBAL_QUEUE_INTERVAL: u32 = 61;
/// Consecutive polls from the LIFO slot before it yields to the deque.
const MAX_LIFO_STREAK: u8 = 3;
/// Passes over the victims before a searcher gives up.
const SEARCH_ROUNDS: usize = 3;

/// What a worker's tick found to run.
enum Next {
    /// A task from the slot, the deque or the injector.
    Task(Runnable),
    /// The front of the ready queue, which is due (`Loop::ready_due`).
    Ready,
}

/// A worker: its loop's record (current on its thread), its own deque in
/// that record, and the state only its own driving code reads.
struct Worker<'a> {
    lp: &'a Loop,
    own: &'a WorkerQueue,
    /// This worker's entry in `Shared::remotes` (its LIFO slot and counters),
    /// looked up once: the tick reads the slot every time.
    mine: &'a Remote,
    /// `own.index`, as each step marks the task it runs with it (held here,
    /// a load away, rather than behind `own`).
    index: u32,
    tick: Cell<u32>,
    searching: Cell<bool>,
    lifo_streak: Cell<u8>,
    rng: Cell<u64>,
    /// Whether and why task steps are timed (`step_timing.rs`).
    timing: StepTiming,
    /// The cached clock reading its spawns take (module header).
    spawn_clock: weft_task::SpawnClock,
    /// When the busy stretch being measured began: the last wake-up from a
    /// park, or the last time busy time was added up (`metrics.rs`).
    busy_since: Cell<Instant>,
}

/// A worker's thread: runs the start hook, the loop until the runtime
/// closes, then its share of shutdown. A panicking start hook is reported
/// on `started` (`Builder::build` then fails and closes the runtime).
pub(crate) fn run_worker(
    shared: Arc<Shared>,
    index: usize,
    queue: Deque<Runnable>,
    remote: Arc<LoopRemote>,
    inbox: crossbeam_channel::Receiver<Msg>,
    started: Option<crossbeam_channel::Sender<Result<(), String>>>,
) {
    let shared_workers = shared.remotes.len();
    let lp = super::new_loop(
        shared,
        remote,
        inbox,
        Kind::Worker(WorkerQueue {
            index,
            queue,
            pushed: Cell::new(0),
            lifo: shared_workers > 1,
        }),
    );
    let Kind::Worker(own) = &lp.kind else {
        unreachable!("the loop was made a worker just above");
    };
    let w = Worker {
        lp: &lp,
        own,
        mine: &lp.shared.remotes[index],
        index: index as u32,
        tick: Cell::new(0),
        searching: Cell::new(false),
        lifo_streak: Cell::new(0),
        rng: Cell::new(
            0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407),
        ),
        timing: lp.shared.config.step_timing(),
        spawn_clock: weft_task::SpawnClock::keep(),
        busy_since: Cell::new(Instant::now()),
    };
    let _enter = lp.enter();
    if let Some(hook) = &lp.shared.config.on_thread_start {
        // A panicking hook is reported to `build`, which then fails and
        // shuts the runtime down; this worker stays in its loop until then.
        let outcome = weft_task::catch_panic(|| hook()).map_err(|p| p.message().to_owned());
        if let Some(started) = started {
            let _ = started.send(outcome);
        }
    }
    if w.timing.is_on() {
        w.main::<true>();
    } else {
        w.main::<false>();
    }
    w.mine.stats.add_busy(w.busy_since.get());
    lp.shutdown_pinned(true);
    while let Some(t) = w.queue().pop() {
        drop(t);
    }
    drop(w.mine.lifo.take());
    if let Some(hook) = &lp.shared.config.on_thread_stop {
        // A panicking hook must not skip the count below (the last worker
        // out may be the one that shuts down what is left).
        weft_task::run_reporting("on_thread_stop", || hook());
    }
    // AcqRel: the last worker out sees every other worker's exit. The flag
    // was stored before `close` (Release there, Acquire in `is_closed`).
    if lp.shared.live_workers.fetch_sub(1, Ordering::AcqRel) == 1
        && lp.shared.last_worker_finishes.load(Ordering::Relaxed)
    {
        lp.shared.shutdown_remaining();
    }
}

impl WorkerQueue {
    /// Pushes `task` at the back of this worker's deque.
    pub(crate) fn push(&self, task: Runnable) {
        self.queue.push(task);
        self.pushed.set(self.pushed.get().wrapping_add(1));
    }

    /// Runs `steal`, which moves a batch of tasks into this deque (and pops
    /// one of them), and counts the batch as pushed now. `before` is the
    /// deque's length before (0 where the caller just found it empty: only
    /// this worker pushes, so it stays so), so a failed steal costs nothing
    /// more.
    fn steal_into(
        &self,
        before: usize,
        steal: impl FnOnce(&Deque<Runnable>) -> Steal<Runnable>,
    ) -> Steal<Runnable> {
        let stolen = steal(&self.queue);
        if let Steal::Success(_) = stolen {
            // Siblings may steal from this deque meanwhile: the count may
            // then fall short, which only makes ready steps queued before the
            // batch wait behind (part of) it.
            let added = self.queue.len().saturating_sub(before);
            self.pushed
                .set(self.pushed.get().wrapping_add(added as u64));
        }
        stolen
    }
}

impl Worker<'_> {
    fn queue(&self) -> &Deque<Runnable> {
        &self.own.queue
    }

    /// The worker's loop: ticks until the runtime closes; `TIMED`: whether
    /// its steps are timed (`self.timing.is_on()`, module header).
    fn main<const TIMED: bool>(&self) {
        while !self.lp.shared.is_closed() {
            self.tick.set(self.tick.get().wrapping_add(1));
            match self.next() {
                Some(Next::Task(task)) => {
                    self.stop_searching();
                    self.run::<TIMED>(task);
                    continue;
                }
                Some(Next::Ready) => {
                    self.stop_searching();
                    self.lp.run_ready(|task| self.run::<TIMED>(task));
                    continue;
                }
                None => {}
            }
            if let Some(task) = self.search() {
                self.stop_searching();
                self.run::<TIMED>(task);
                continue;
            }
            if self.lp.has_local_work() {
                continue;
            }
            self.park();
        }
    }

    /// Runs one task step: marked as this worker's, counted in its metrics,
    /// timed if `TIMED`.
    #[inline]
    fn run<const TIMED: bool>(&self, task: Runnable) {
        step_timing::run_counted::<TIMED>(self.index, &self.mine.stats, &self.timing, task);
    }

    /// About to run what it found: a searcher stops searching.
    fn stop_searching(&self) {
        if self.searching.replace(false) && self.lp.shared.idle.stop_searching() {
            // The last searcher found work: there may be more, so make sure
            // somebody is looking.
            self.lp.shared.notify_one();
        }
    }

    /// The tick's step 2 (module header). Inlined into both of `main`'s
    /// loops (timed and plain), as it was into the one loop before there
    /// were two.
    #[inline(always)]
    fn next(&self) -> Option<Next> {
        if self.tick.get() % GLOBAL_QUEUE_INTERVAL == 0 {
            // Busy time, so a worker that never parks still shows it; and
            // the clock its spawns take.
            self.busy_since
                .set(self.mine.stats.add_busy(self.busy_since.get()));
            self.spawn_clock.refresh();
            self.lp.shared.driver.maintain();
            self.lp.drain_inbox();
            if let Some(t) = self.steal_injector(self.queue().len()) {
                return Some(Next::Task(t));
            }
        }
        let slot = &self.mine.lifo;
        if !self.own.lifo {
            // A lone worker's slot is the front of its FIFO (`mod.rs`).
            if let Some(t) = slot.take() {
                return Some(Next::Task(t));
            }
        } else if self.lifo_streak.get() < MAX_LIFO_STREAK {
            if let Some(t) = slot.take() {
                self.lifo_streak.set(self.lifo_streak.get() + 1);
                return Some(Next::Task(t));
            }
            self.lifo_streak.set(0);
        } else {
            if let Some(t) = slot.take() {
                self.own.push(t);
            }
            self.lifo_streak.set(0);
        }
        // The inbox once a tick: on odd ticks first, on even ones once the
        // deque is empty.
        let odd = self.tick.get() & 1 == 1;
        if odd {
            self.lp.poll_inbox();
        }
        // The ready queue and the deque, as one FIFO (`local.rs`).
        if self.lp.ready_due() {
            return Some(Next::Ready);
        }
        if let Some(t) = self.queue().pop() {
            return Some(Next::Task(t));
        }
        if !odd {
            self.lp.poll_inbox();
            if self.lp.ready_due() {
                return Some(Next::Ready);
            }
        }
        self.steal_injector(0).map(Next::Task)
    }

    /// A batch from the injector; `before` as in `WorkerQueue::steal_into`.
    fn steal_injector(&self, before: usize) -> Option<Runnable> {
        loop {
            match self
                .own
                .steal_into(before, |q| self.lp.shared.injector.steal_batch_and_pop(q))
            {
                Steal::Success(t) => return Some(t),
                Steal::Empty => return None,
                Steal::Retry => std::hint::spin_loop(),
            }
        }
    }

    fn next_random(&self, n: usize) -> usize {
        // xorshift64*: victims only need to be spread, not unpredictable.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize % n
    }

    fn search(&self) -> Option<Runnable> {
        if !self.searching.get() {
            if !self.lp.shared.idle.try_start_searching() {
                return None;
            }
            self.searching.set(true);
        }
        let n = self.lp.shared.remotes.len();
        for round in 0..SEARCH_ROUNDS {
            let start = self.next_random(n);
            for i in 0..n {
                let victim = (start + i) % n;
                if victim == self.own.index {
                    continue;
                }
                let remote = &self.lp.shared.remotes[victim];
                loop {
                    match self
                        .own
                        .steal_into(0, |q| remote.stealer.steal_batch_and_pop(q))
                    {
                        Steal::Success(t) => {
                            // The deque was empty: what is in it now came
                            // with `t` (less what a sibling took meanwhile).
                            self.stolen(victim, 1 + self.queue().len());
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
                        self.stolen(victim, 1);
                        return Some(t);
                    }
                }
            }
            if let Some(t) = self.steal_injector(0) {
                return Some(t);
            }
            for _ in 0..(32 << round) {
                std::hint::spin_loop();
            }
        }
        None
    }

    /// A successful steal of `tasks` tasks from worker `victim`: counted,
    /// and reported to `tracing` (target `weft::runtime`, trace level).
    fn stolen(&self, victim: usize, tasks: usize) {
        self.mine.stats.count_steal(victim, tasks as u64);
        tracing::trace!(
            target: "weft::runtime",
            worker = self.own.index,
            victim,
            tasks,
            "worker stole tasks"
        );
    }

    fn park(&self) {
        // Busy time ends here (module `metrics.rs`), and starts again below.
        self.mine.stats.add_busy(self.busy_since.get());
        let mut turning = None;
        self.lp.shared.idle.park_worker(
            self.own.index,
            &self.searching,
            // The re-check (park.rs, worker step 3).
            || {
                self.lp.shared.has_stealable_work()
                    || self.lp.has_local_work()
                    || self.lp.shared.is_closed()
            },
            || {
                let worker = self.own.index;
                self.mine.stats.count_park();
                let parker = &self.lp.remote.parker;
                turning = self.lp.shared.driver.try_turn();
                let driver = turning.is_some();
                tracing::trace!(target: "weft::runtime", worker, driver, "worker parked");
                match &mut turning {
                    Some(turning) => parker.park_driving(|| turning.block()),
                    None => parker.park(),
                }
                self.mine.stats.count_unpark();
                tracing::trace!(target: "weft::runtime", worker, "worker unparked");
            },
        );
        self.busy_since.set(Instant::now());
        self.spawn_clock.refresh();
        // Awake and off the sleeper list: wake what the driver found (the
        // tasks land in this worker's queues).
        if let Some(mut turning) = turning {
            turning.dispatch();
        }
    }
}
