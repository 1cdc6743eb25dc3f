//! Parking idle workers without losing a wake-up.
//!
//! # Pieces
//!
//! * [`Parker`]: one per loop thread. A parked thread sleeps either on a
//!   condvar or, if it is the one worker that owns the reactor, inside the
//!   selector's `wait` (see `driver.rs`); `unpark` wakes it by whichever it
//!   is blocked in. An `unpark` with nobody parked leaves a token that the next
//!   `park` consumes, so it is never lost.
//! * [`Idle`]: the runtime-wide count of *searching* workers (out of work,
//!   stealing) and *idle* workers (parked or about to park), packed into one
//!   word so producers read both at once, plus the list of sleepers.
//!
//! # The parker's states
//!
//! | state            | meaning                                   | `unpark` does                        |
//! |------------------|-------------------------------------------|--------------------------------------|
//! | `EMPTY`          | running, no token                         | leaves `NOTIFIED`                    |
//! | `NOTIFIED`       | a token waits for the next `park`         | nothing                              |
//! | `PARKED_CONDVAR` | asleep on the condvar (set under its lock)| takes the lock, notifies             |
//! | `PARKED_DRIVER`  | blocked in the driver (selector `wait`)   | `Unpark::unpark` (selector `notify`) |
//!
//! `unpark` swaps in `NOTIFIED` and acts on what it replaced. The condvar case
//! takes the lock before notifying, and the parker moved to `PARKED_CONDVAR`
//! under that lock and only releases it inside `wait`, so the notification
//! cannot fall between its check and its wait. The driver's notification is
//! sticky (an eventfd write on Linux): if it lands before the wait starts,
//! the wait returns at once. Either way the thread wakes, and on the way out of
//! `park` it swaps `EMPTY` back, consuming the token. The driver may also
//! return on its own (I/O, a timer): a spurious wake-up, which the worker loop
//! tolerates (it re-checks everything).
//!
//! # Protocol
//!
//! Producer (anyone who queues a stealable task):
//!
//! 1. push the task (injector or a local queue);
//! 2. `fence(SeqCst)`, then read the counts;
//! 3. if nobody is searching and someone is idle, pop a sleeper under the lock,
//!    count it as searching, and unpark it.
//!
//! Worker running out of work:
//!
//! 1. optionally become a searcher (at most half the workers search, as in Go
//!    and tokio), steal, and stop searching; a searcher that finds work and was
//!    the last one notifies another worker (step 3 above) so that pending work
//!    always has someone looking for it;
//! 2. register as a sleeper: under the lock, push itself and add one to *idle*
//!    (and drop *searching* if it was searching) with a `SeqCst` RMW;
//! 3. `fence(SeqCst)`, then check every queue once more; if work appeared, take
//!    itself off the sleeper list and go back to work;
//! 4. otherwise `park()`.
//!
//! Steps 2-4 are [`Idle::park_worker`]; the loop supplies the re-check and
//! the way it sleeps.
//!
//! # Why no wake-up is lost
//!
//! Producer step 2 and worker step 3 are a store-fence-load pair on each side
//! (push / fence / read counts against count update / fence / read queues). By
//! the `SeqCst` fences one of the two loads sees the other side's store: either
//! the producer sees the worker idle and wakes a sleeper (possibly this very
//! worker, whose token then makes `park` return), or the worker sees the task
//! in step 3. A producer that sees a searcher relies on it; the searcher that
//! stops last passes through step 3 too, so it cannot miss the task either.
//! A targeted wake-up (a pinned task or callback sent to one loop's inbox) goes
//! straight to that loop's `Parker` after the send; the token makes it stick.
//!
//! `loom_park` in this file models producer against parking worker.

use crate::loom::sync::{fence, Arc, AtomicUsize, Condvar, Mutex, Ordering};
use std::cell::Cell;
use std::fmt;

const EMPTY: usize = 0;
const NOTIFIED: usize = 1;
const PARKED_CONDVAR: usize = 2;
const PARKED_DRIVER: usize = 3;

/// Interrupts a thread blocked in the driver.
pub(crate) trait Unpark: Send + Sync {
    /// Makes the driver's current (or next) blocking wait return.
    fn unpark(&self);
}

/// Wakes and puts to sleep one loop thread.
pub(crate) struct Parker {
    state: AtomicUsize,
    lock: Mutex<()>,
    condvar: Condvar,
    driver: Arc<dyn Unpark>,
}

impl Parker {
    /// A parker whose thread may block in the driver that `driver` interrupts.
    pub(crate) fn new(driver: Arc<dyn Unpark>) -> Arc<Parker> {
        Arc::new(Parker {
            state: AtomicUsize::new(EMPTY),
            lock: Mutex::new(()),
            condvar: Condvar::new(),
            driver,
        })
    }

    /// Consumes a waiting token, if there is one.
    fn take_token(&self) -> bool {
        // Acquire: pairs with the Release swap in `unpark`, so what the
        // unparking thread did before (queueing work) is visible.
        self.state
            .compare_exchange(NOTIFIED, EMPTY, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Enters parked state `parked`; false if a token was waiting (consumed).
    fn enter(&self, parked: usize) -> bool {
        match self
            .state
            .compare_exchange(EMPTY, parked, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => true,
            Err(actual) => {
                debug_assert_eq!(actual, NOTIFIED, "a parker parks from one thread");
                // Acquire: as in `take_token`.
                self.state.swap(EMPTY, Ordering::Acquire);
                false
            }
        }
    }

    /// Sleeps on the condvar until unparked (returns at once if a token is
    /// waiting).
    pub(crate) fn park(&self) {
        if self.take_token() {
            return;
        }
        let mut guard = self.lock.lock();
        if !self.enter(PARKED_CONDVAR) {
            return;
        }
        loop {
            self.condvar.wait(&mut guard);
            if self.take_token() {
                return;
            }
        }
    }

    /// Parks inside `drive`, which blocks in the driver until it is
    /// interrupted through `Unpark` or has work (I/O, a timer) of its own.
    /// Returns at once if a token is waiting.
    pub(crate) fn park_driving(&self, drive: impl FnOnce()) {
        if self.take_token() || !self.enter(PARKED_DRIVER) {
            return;
        }
        drive();
        // Acquire: as in `take_token` (the state is NOTIFIED or still
        // PARKED_DRIVER after a wake-up of the driver's own).
        self.state.swap(EMPTY, Ordering::Acquire);
    }

    /// Wakes the thread, now or at its next `park`.
    pub(crate) fn unpark(&self) {
        // Release: pairs with the Acquire in `take_token` / `enter` / the swap
        // at the end of `park_driving`.
        match self.state.swap(NOTIFIED, Ordering::Release) {
            EMPTY | NOTIFIED => {}
            PARKED_CONDVAR => {
                // The parker holds the lock from entering PARKED_CONDVAR until
                // it is inside `wait`: taking it here means it is waiting.
                drop(self.lock.lock());
                self.condvar.notify_one();
            }
            PARKED_DRIVER => self.driver.unpark(),
            _ => unreachable!("invalid parker state"),
        }
    }
}

impl fmt::Debug for Parker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parker").finish_non_exhaustive()
    }
}

const SEARCH_SHIFT: u32 = usize::BITS / 2;
const IDLE_MASK: usize = (1 << SEARCH_SHIFT) - 1;
const SEARCH_ONE: usize = 1 << SEARCH_SHIFT;

/// Searching and idle workers, and who sleeps.
pub(crate) struct Idle {
    /// `searching << SEARCH_SHIFT | idle`.
    counts: AtomicUsize,
    sleepers: Mutex<Vec<usize>>,
    workers: usize,
}

impl Idle {
    pub(crate) fn new(workers: usize) -> Idle {
        Idle {
            counts: AtomicUsize::new(0),
            sleepers: Mutex::new(Vec::new()),
            workers,
        }
    }

    /// Producer steps 2-3: returns the sleeper to unpark, if one should be.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        // SeqCst: pairs with the fence in `transition_to_parked` (see header).
        fence(Ordering::SeqCst);
        let counts = self.counts.load(Ordering::SeqCst);
        if counts >> SEARCH_SHIFT != 0 || counts & IDLE_MASK == 0 {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        // Re-check under the lock: another producer may have woken the last one.
        let counts = self.counts.load(Ordering::SeqCst);
        if counts >> SEARCH_SHIFT != 0 {
            return None;
        }
        let worker = sleepers.pop()?;
        // The woken worker starts out searching, so further producers leave it
        // be: one RMW moves it from idle to searching (idle >= 1, so no borrow).
        self.counts.fetch_add(SEARCH_ONE - 1, Ordering::SeqCst);
        Some(worker)
    }

    /// Worker step 1: become a searcher if fewer than half the workers search.
    pub(crate) fn try_start_searching(&self) -> bool {
        let counts = self.counts.load(Ordering::SeqCst);
        let searching = counts >> SEARCH_SHIFT;
        if 2 * searching >= self.workers {
            return false;
        }
        self.counts.fetch_add(SEARCH_ONE, Ordering::SeqCst);
        true
    }

    /// A searcher found work. True if it was the last searcher: the caller then
    /// notifies another worker in case more work is pending.
    pub(crate) fn stop_searching(&self) -> bool {
        // SeqCst: part of the total order the protocol argues over.
        let prev = self.counts.fetch_sub(SEARCH_ONE, Ordering::SeqCst);
        prev >> SEARCH_SHIFT == 1
    }

    /// Worker steps 2-3 up to the re-check: registers `worker` as a sleeper.
    pub(crate) fn transition_to_parked(&self, worker: usize, searching: bool) {
        let mut sleepers = self.sleepers.lock();
        sleepers.push(worker);
        // SeqCst RMW then fence: pairs with the producer's fence in
        // `worker_to_notify`. One RMW: idle + 1, and searching - 1 if searching.
        if searching {
            self.counts.fetch_sub(SEARCH_ONE - 1, Ordering::SeqCst);
        } else {
            self.counts.fetch_add(1, Ordering::SeqCst);
        }
        drop(sleepers);
        fence(Ordering::SeqCst);
    }

    /// Worker steps 2-4: registers `worker` as a sleeper (leaving the
    /// searchers if `searching` is set), re-checks every queue with
    /// `has_work`, and if that finds nothing sleeps in `sleep` (the parker's
    /// `park` or `park_driving`). Returns with the worker off the sleeper
    /// list; if a producer took it off first, it was counted as searching and
    /// `searching` is set again.
    pub(crate) fn park_worker(
        &self,
        worker: usize,
        searching: &Cell<bool>,
        has_work: impl FnOnce() -> bool,
        sleep: impl FnOnce(),
    ) {
        self.transition_to_parked(worker, searching.replace(false));
        if !has_work() {
            sleep();
        }
        if !self.unregister(worker) {
            // A producer already picked this worker and counted it as
            // searching.
            searching.set(true);
        }
    }

    /// Takes `worker` off the sleeper list if it is still there (it found work in
    /// its re-check, or was woken directly through its inbox). Returns true if it
    /// was there; if not, a producer popped it and counted it as searching.
    pub(crate) fn unregister(&self, worker: usize) -> bool {
        let mut sleepers = self.sleepers.lock();
        if let Some(i) = sleepers.iter().position(|&w| w == worker) {
            sleepers.swap_remove(i);
            self.counts.fetch_sub(1, Ordering::SeqCst);
            true
        } else {
            false
        }
    }
}

impl fmt::Debug for Idle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts = self.counts.load(Ordering::Relaxed);
        f.debug_struct("Idle")
            .field("searching", &(counts >> SEARCH_SHIFT))
            .field("idle", &(counts & IDLE_MASK))
            .finish()
    }
}

#[cfg(all(test, loom))]
pub(crate) mod loom_park {
    use super::*;
    use loom::sync::atomic::AtomicBool;

    /// A stand-in for the reactor: blocking in it is a wait on a sticky flag,
    /// as the selector's wait is on its eventfd. The driver's model uses it
    /// too.
    pub(crate) struct MockDriver {
        notified: Mutex<bool>,
        condvar: Condvar,
    }

    impl MockDriver {
        pub(crate) fn new() -> Arc<MockDriver> {
            Arc::new(MockDriver {
                notified: Mutex::new(false),
                condvar: Condvar::new(),
            })
        }

        pub(crate) fn wait(&self) {
            let mut notified = self.notified.lock();
            while !*notified {
                self.condvar.wait(&mut notified);
            }
            *notified = false;
        }
    }

    impl Unpark for MockDriver {
        fn unpark(&self) {
            *self.notified.lock() = true;
            self.condvar.notify_one();
        }
    }

    fn parker() -> Arc<Parker> {
        Parker::new(MockDriver::new())
    }

    /// One producer publishes work while worker 0, having found none, goes to
    /// sleep (as a searcher or not): the worker must end up with the work,
    /// seen in its re-check or woken for it.
    fn producer_races_parking_worker(workers: usize, searching: bool) {
        loom::model(move || {
            let idle = Arc::new(Idle::new(workers));
            let parker = parker();
            let work = Arc::new(AtomicBool::new(false));
            if searching {
                assert!(idle.try_start_searching());
            }

            let producer = {
                let (idle, parker, work) = (idle.clone(), parker.clone(), work.clone());
                loom::thread::spawn(move || {
                    work.store(true, Ordering::SeqCst);
                    if let Some(w) = idle.worker_to_notify() {
                        assert_eq!(w, 0);
                        parker.unpark();
                    }
                })
            };

            // The worker: found nothing, registers, re-checks, parks.
            if !work.load(Ordering::SeqCst) {
                idle.park_worker(
                    0,
                    &Cell::new(searching),
                    || work.load(Ordering::SeqCst),
                    || parker.park(),
                );
            }
            assert!(work.load(Ordering::SeqCst));
            producer.join().unwrap();
        });
    }

    /// The only worker goes to sleep while a producer publishes work.
    #[test]
    fn loom_park_no_lost_wakeup() {
        producer_races_parking_worker(1, false);
    }

    /// A searcher that gives up races a producer that saw it searching.
    #[test]
    fn loom_park_last_searcher_rechecks() {
        producer_races_parking_worker(2, true);
    }

    /// Two loops, each running `scheduler/worker.rs`'s worker loop in small: take a
    /// task, else become a searcher (at most one of the two) and look again,
    /// else park through the shipped [`Idle::park_worker`] (register,
    /// re-check, park, unregister); a woken worker starts out searching, and
    /// the last searcher to find work notifies another. Two
    /// producers queue one task each. Both tasks must run: a lost wake-up
    /// leaves a task queued with every worker parked, and loom reports the
    /// deadlock. The queue counter stands for crossbeam's injector, whose push
    /// and emptiness check are `SeqCst` too.
    #[test]
    fn loom_park_two_producers_two_workers() {
        struct World {
            idle: Idle,
            parkers: [Arc<Parker>; 2],
            queued: AtomicUsize,
            ran: AtomicUsize,
            closed: AtomicBool,
        }

        impl World {
            fn push(&self) {
                self.queued.fetch_add(1, Ordering::SeqCst);
                self.notify_one();
            }

            fn take(&self) -> bool {
                self.queued
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
            }

            fn notify_one(&self) {
                if let Some(i) = self.idle.worker_to_notify() {
                    self.parkers[i].unpark();
                }
            }

            /// `run_task`; the worker that runs the last task shuts down
            /// (`Shared::close`: set the flag, unpark everyone).
            fn run(&self, searching: &Cell<bool>) {
                if searching.replace(false) && self.idle.stop_searching() {
                    self.notify_one();
                }
                if self.ran.fetch_add(1, Ordering::SeqCst) + 1 == 2 {
                    self.closed.store(true, Ordering::SeqCst);
                    self.parkers.iter().for_each(|p| p.unpark());
                }
            }

            fn worker(&self, me: usize) {
                let searching = Cell::new(false);
                while !self.closed.load(Ordering::SeqCst) {
                    if self.take() {
                        self.run(&searching);
                        continue;
                    }
                    if !searching.get() && self.idle.try_start_searching() {
                        searching.set(true);
                    }
                    if searching.get() && self.take() {
                        self.run(&searching);
                        continue;
                    }
                    // `Loop::park`, with the shipped steps 2-4.
                    self.idle.park_worker(
                        me,
                        &searching,
                        || {
                            self.queued.load(Ordering::SeqCst) > 0
                                || self.closed.load(Ordering::SeqCst)
                        },
                        || self.parkers[me].park(),
                    );
                }
            }
        }

        loom::model(|| {
            let world = Arc::new(World {
                idle: Idle::new(2),
                parkers: [parker(), parker()],
                queued: AtomicUsize::new(0),
                ran: AtomicUsize::new(0),
                closed: AtomicBool::new(false),
            });
            let threads: Vec<_> = [0, 1]
                .into_iter()
                .map(|me| {
                    let world = world.clone();
                    loom::thread::spawn(move || world.worker(me))
                })
                .collect();
            let producer = {
                let world = world.clone();
                loom::thread::spawn(move || world.push())
            };
            world.push();
            producer.join().unwrap();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(world.ran.load(Ordering::SeqCst), 2);
            assert_eq!(world.queued.load(Ordering::SeqCst), 0);
        });
    }

    /// Targeted wake-ups (`LoopRemote::send`: push to the loop's inbox, then
    /// unpark it) from two threads race the loop draining its inbox and
    /// parking. The token is a level: an unpark before the park is kept, two
    /// unparks leave one token, and the loop never sleeps on a message.
    #[test]
    fn loom_park_targeted_unpark_races_park() {
        loom::model(|| {
            let parker = parker();
            let inbox = Arc::new(Mutex::new(Vec::new()));
            let senders: Vec<_> = [1, 2]
                .into_iter()
                .map(|msg| {
                    let (parker, inbox) = (parker.clone(), inbox.clone());
                    loom::thread::spawn(move || {
                        inbox.lock().push(msg);
                        parker.unpark();
                    })
                })
                .collect();
            let mut got = Vec::new();
            loop {
                got.append(&mut inbox.lock());
                if got.len() == 2 {
                    break;
                }
                parker.park();
            }
            got.sort_unstable();
            assert_eq!(got, [1, 2]);
            for s in senders {
                s.join().unwrap();
            }
        });
    }

    /// A producer unparks a worker that blocks in the driver rather than on
    /// the condvar: the worker must wake (through `Unpark`), whether the
    /// unpark lands before it enters the driver, while it is inside, or as
    /// the driver returns on its own.
    #[test]
    fn loom_park_driver_unpark() {
        loom::model(|| {
            let driver = MockDriver::new();
            let parker = Parker::new(driver.clone());
            let work = Arc::new(AtomicBool::new(false));
            let producer = {
                let (parker, work) = (parker.clone(), work.clone());
                loom::thread::spawn(move || {
                    work.store(true, Ordering::SeqCst);
                    parker.unpark();
                })
            };
            while !work.load(Ordering::SeqCst) {
                parker.park_driving(|| driver.wait());
            }
            producer.join().unwrap();
        });
    }
}
