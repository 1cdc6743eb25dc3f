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
    next_wake: AtomicU64,
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
            next_wake: AtomicU64::new(NOT_PARKED),
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
        // SeqCst: ordered after the shard lock's release by the argument in
        // the header (the lock, not this ordering, carries it); SeqCst keeps
        // the reasoning simple and costs nothing extra for a load on x86.
        let wake = self.next_wake.load(Ordering::SeqCst);
        if wake != NOT_PARKED && (wake == COMPUTING || tick < wake) {
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
        // SeqCst: see the header (stored before the shards are read).
        self.next_wake.store(COMPUTING, Ordering::SeqCst);
        let next = self.timers.next_tick();
        self.next_wake
            .store(next.unwrap_or(NO_TIMER), Ordering::SeqCst);
        let deadline = next.map(|t| self.timers.instant_of(t));
        self.wait_io(turn, deadline);
        self.next_wake.store(NOT_PARKED, Ordering::SeqCst);
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
