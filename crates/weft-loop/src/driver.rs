//! The driver: the reactor and the timers, turned by whichever worker holds
//! the `turn` lock.
//!
//! # Who turns it
//!
//! * A worker about to park tries the lock. If it gets it, it parks *in* the
//!   driver: it fires due timers and, if none were due, blocks in
//!   `Poller::wait` until the earliest timer (see `park.rs` for how it is
//!   woken). Otherwise someone else holds it, and the worker parks on its
//!   condvar. So at most one thread blocks in the poller, and while any
//!   worker is parked one of them normally does.
//! * A busy worker, every 61 ticks, tries the lock and turns the driver
//!   without blocking (`maintain`), so I/O and timers are not starved while
//!   every worker is running tasks.
//!
//! The wakers a turn fires run on the turning worker, whose loop is current:
//! the tasks they wake go to its own queues, and it runs them next.
//!
//! # New timers while the driver sleeps
//!
//! `next_wake` says until when the parked driver will sleep: `NOT_PARKED`,
//! `COMPUTING` (it is reading the wheels), or a tick (`NO_TIMER`: no timers,
//! only I/O or an unpark wakes it). Whoever inserts a timer, after releasing
//! the shard's lock, reads `next_wake` and interrupts the driver (through
//! `Poller::notify`, which is sticky) if it is `COMPUTING` or later than the
//! new tick.
//!
//! Why no timer is missed: the driver stores `COMPUTING` before it reads the
//! shards. If an insert took a shard's lock before the driver read that
//! shard, the driver sees the timer. If after, the lock orders the driver's
//! `COMPUTING` store before the inserter's read, which therefore sees
//! `COMPUTING`, the published tick (and interrupts the wait if it is later),
//! or `NOT_PARKED`, stored after the wait: the driver's worker is then awake
//! and reads the wheels again before it next parks or at its next
//! maintenance tick.
//!
//! `loom_driver_new_timer_interrupts_sleep` model-checks this (it deadlocks
//! if `must_interrupt` ignores `COMPUTING`).

use crate::loom::sync::{AtomicU64, Mutex, Ordering};
use crate::park::Unpark;
use crate::reactor::{Reactor, Source};
use crate::timer::wheel::Fired;
use crate::timer::Timers;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

const NOT_PARKED: u64 = u64::MAX;
const COMPUTING: u64 = 0;
const NO_TIMER: u64 = u64::MAX - 1;

/// Until when the parked driver sleeps (the header's protocol).
pub(crate) struct NextWake(AtomicU64);

impl NextWake {
    pub(crate) fn new() -> NextWake {
        NextWake(AtomicU64::new(NOT_PARKED))
    }

    /// The driver, before it reads the wheels.
    pub(crate) fn computing(&self) {
        // SeqCst: see the header (stored before the shards are read; the
        // shard locks order it before a later inserter's read).
        self.0.store(COMPUTING, Ordering::SeqCst);
    }

    /// The driver, before it blocks: it sleeps until `tick` (None: no timer).
    pub(crate) fn sleeping_until(&self, tick: Option<u64>) {
        // SeqCst: as in `computing`.
        self.0.store(tick.unwrap_or(NO_TIMER), Ordering::SeqCst);
    }

    /// The driver, after it wakes.
    pub(crate) fn awake(&self) {
        self.0.store(NOT_PARKED, Ordering::SeqCst);
    }

    /// An inserter, after releasing the shard lock: whether a timer for
    /// `tick` must interrupt the driver.
    pub(crate) fn must_interrupt(&self, tick: u64) -> bool {
        // SeqCst: pairs with the stores above (the shard lock carries the
        // ordering the header's argument needs).
        let wake = self.0.load(Ordering::SeqCst);
        wake != NOT_PARKED && (wake == COMPUTING || tick < wake)
    }
}

/// The turning thread's scratch space.
struct Turn {
    events: polling::Events,
    fired: Vec<Fired>,
    sources: Vec<(Arc<Source>, usize)>,
}

pub(crate) struct Driver {
    pub(crate) reactor: Reactor,
    pub(crate) timers: Timers,
    turn: Mutex<Turn>,
    next_wake: NextWake,
}

impl Driver {
    pub(crate) fn new(timer_shards: usize) -> io::Result<Driver> {
        Ok(Driver {
            reactor: Reactor::new()?,
            timers: Timers::new(timer_shards),
            turn: Mutex::new(Turn {
                events: polling::Events::new(),
                fired: Vec::new(),
                sources: Vec::new(),
            }),
            next_wake: NextWake::new(),
        })
    }

    /// The driver of the runtime whose loop runs on this thread.
    pub(crate) fn current() -> io::Result<Arc<Driver>> {
        crate::event_loop::Loop::with_current(|lp| match lp {
            Some(lp) => Ok(lp.shared().driver.clone()),
            None => Err(io::Error::other("not inside a weft runtime")),
        })
    }

    /// After a timer was inserted for `tick`: interrupts the parked driver if
    /// it would sleep past it (header).
    pub(crate) fn timer_added(&self, tick: u64) {
        if self.next_wake.must_interrupt(tick) {
            self.unpark();
        }
    }

    /// Parks in the driver if nobody else holds it: returns false (without
    /// waiting) if the lock is taken, and the caller parks on its condvar.
    /// `park` is the caller's parker's `park_driving`, given the blocking
    /// turn to run.
    pub(crate) fn try_park(&self, park: impl FnOnce(&mut dyn FnMut())) -> bool {
        let Some(mut turn) = self.turn.try_lock() else {
            return false;
        };
        park(&mut || self.park_turn(&mut turn));
        true
    }

    /// One blocking turn: fire what is due; if nothing was, wait for I/O
    /// until the earliest timer, then fire what came due.
    fn park_turn(&self, turn: &mut Turn) {
        if self.fire_timers(turn, false) > 0 {
            self.poll_io(turn, Some(Duration::ZERO));
            return;
        }
        self.next_wake.computing();
        let next = self.timers.next_tick();
        self.next_wake.sleeping_until(next);
        let deadline = next.map(|t| self.timers.instant_of(t));
        self.wait_io(turn, deadline);
        self.next_wake.awake();
        self.fire_timers(turn, false);
    }

    /// A busy worker's non-blocking turn, if nobody else is turning.
    pub(crate) fn maintain(&self) {
        let Some(mut turn) = self.turn.try_lock() else {
            return;
        };
        if self.reactor.has_sources() {
            self.poll_io(&mut turn, Some(Duration::ZERO));
        }
        self.fire_timers(&mut turn, true);
    }

    fn wait_io(&self, turn: &mut Turn, deadline: Option<Instant>) {
        turn.events.clear();
        let waited = match deadline {
            Some(d) => self.reactor.poller.wait_deadline(&mut turn.events, d),
            None => self.reactor.poller.wait(&mut turn.events, None),
        };
        self.after_wait(turn, waited);
    }

    fn poll_io(&self, turn: &mut Turn, timeout: Option<Duration>) {
        turn.events.clear();
        let waited = self.reactor.poller.wait(&mut turn.events, timeout);
        self.after_wait(turn, waited);
    }

    fn after_wait(&self, turn: &mut Turn, waited: io::Result<usize>) {
        if let Err(e) = waited {
            // Not expected from epoll short of a bug; report it and go on
            // (the worker's loop re-checks everything).
            tracing::error!(error = %e, "polling for I/O failed");
            return;
        }
        self.reactor.dispatch(&turn.events, &mut turn.sources);
    }

    /// Fires due timers; returns how many.
    fn fire_timers(&self, turn: &mut Turn, try_only: bool) -> usize {
        self.timers
            .fire_due(Instant::now(), &mut turn.fired, try_only);
        let n = turn.fired.len();
        for f in turn.fired.drain(..) {
            f.waker.wake();
        }
        n
    }
}

impl Unpark for Driver {
    fn unpark(&self) {
        if let Err(e) = self.reactor.poller.notify() {
            tracing::error!(error = %e, "cannot wake the reactor");
        }
    }
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("timers", &self.timers)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, loom))]
mod loom_driver {
    use super::*;
    use crate::loom::sync::{Arc, Condvar};

    /// A timer inserted while the driver decides how long to sleep: the
    /// driver either sees it in the wheel or is interrupted (a sticky
    /// notification, like `Poller::notify`). The wheel is a locked list of
    /// ticks; the driver, finding nothing due, sleeps with no deadline, so a
    /// missed interruption is a deadlock loom reports.
    #[test]
    fn loom_driver_new_timer_interrupts_sleep() {
        loom::model(|| {
            let wheel = Arc::new(Mutex::new(Vec::<u64>::new()));
            let next_wake = Arc::new(NextWake::new());
            let notified = Arc::new((Mutex::new(false), Condvar::new()));

            let inserter = {
                let (wheel, next_wake, notified) =
                    (wheel.clone(), next_wake.clone(), notified.clone());
                loom::thread::spawn(move || {
                    wheel.lock().push(5);
                    if next_wake.must_interrupt(5) {
                        *notified.0.lock() = true;
                        notified.1.notify_one();
                    }
                })
            };

            // The driver's turns until it has fired the timer.
            loop {
                next_wake.computing();
                let next = wheel.lock().first().copied();
                if next.is_some() {
                    break; // it fires (time is not modelled: due at once)
                }
                next_wake.sleeping_until(None);
                let mut n = notified.0.lock();
                while !*n {
                    notified.1.wait(&mut n);
                }
                *n = false;
                drop(n);
                next_wake.awake();
            }
            inserter.join().unwrap();
        });
    }
}
