//! The driver: the reactor and the timers, turned by whichever worker holds
//! the `turn` lock.
//!
//! # Who turns it
//!
//! * A worker about to park tries the lock. If it gets it, it parks *in* the
//!   driver: it fires due timers and, if none were due, blocks in the
//!   selector's `wait` until the earliest timer (see `park.rs` for how it
//!   is woken). Otherwise someone else holds it, and the worker parks on its
//!   condvar. So at most one thread blocks in the selector, and while any
//!   worker is parked one of them normally does.
//! * A busy worker, every 61 ticks, tries the lock and turns the driver
//!   without blocking (`maintain`), so I/O and timers are not starved while
//!   every worker is running tasks.
//!
//! Not handed over: a worker that found the turn taken sleeps on its condvar
//! until it is unparked for work, even if the turn is freed meanwhile. So
//! when the driver's worker leaves it to run tasks, timers and I/O wait for
//! that worker's next park or maintenance tick (61 ticks); a poll that runs
//! for a long time without yielding, while the other workers sleep, delays
//! them by as much (as in tokio: do not block in a task; use
//! `spawn_blocking`). Handing the turn to a sleeper on every release would
//! cost a thread wake-up per driver return.
//!
//! At shutdown (`close`) the driver is marked closed and everything waiting
//! on it is woken: sleeps end, socket calls fail with an error, pending
//! timers (a `call_later` callback) are dropped.
//!
//! The wakers a turn fires run on the turning worker, whose loop is current:
//! the tasks they wake go to its own queues, and it runs them next.
//!
//! # New timers while the driver sleeps
//!
//! `next_wake` says until when the parked driver will sleep: `NOT_PARKED`,
//! `COMPUTING` (it is reading the wheels), or a tick (`NO_TIMER`: no timers,
//! only I/O or an unpark wakes it). The driver reads each shard's cached next
//! tick (`Shard::next` in `timer/mod.rs`) rather than locking it. Whoever
//! inserts a timer lowers that cached tick if it is the new earliest
//! (`SeqCst` store), then reads `next_wake` and interrupts the driver
//! (through the selector's `notify`, which is sticky) if it is `COMPUTING`
//! or later than the new tick.
//!
//! Why no timer is missed: the driver stores `COMPUTING`, fences (`SeqCst`),
//! then loads the cached ticks; the inserter stores the cached tick, fences,
//! then loads `next_wake`. By the two fences one load sees the other side's
//! store: either the driver sees the new tick, or the
//! inserter sees `COMPUTING`, the published tick (and interrupts if it is
//! later), or `NOT_PARKED`, stored after the wait: the driver's worker is then
//! awake and reads the ticks again before it next parks, and at its next
//! maintenance tick. (An inserter that does not store because the cached tick
//! is already earlier needs nothing: the driver wakes by then anyway.)
//!
//! Both sides are shipped as `NextWake::add_timer` (the inserter) and
//! `NextWake::block` (the driver, with the selector's wait passed in), so
//! `loom_driver_new_timer_interrupts_sleep` model-checks this very code on
//! a real `Timers` (it deadlocks if `must_interrupt` ignores `COMPUTING` or
//! loses its fence).

use crate::loom::sync::{fence, AtomicBool, AtomicU64, Mutex, MutexGuard, Ordering};
use crate::park::Unpark;
use crate::reactor::{sys, wake_all, Reactor, Source};
use crate::timer::wheel::Fired;
use crate::timer::{TimerSlot, Timers};
use std::io;
use std::sync::Arc;
use std::task::Waker;
use std::time::Instant;

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
        self.0.store(COMPUTING, Ordering::SeqCst);
        // SeqCst fence: pairs with the fence in `must_interrupt` (store,
        // fence, load on each side; see the header).
        fence(Ordering::SeqCst);
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

    /// An inserter that lowered a shard's cached tick to `tick`: whether the
    /// timer must interrupt the driver.
    pub(crate) fn must_interrupt(&self, tick: u64) -> bool {
        // SeqCst fence: pairs with the fence in `computing`.
        fence(Ordering::SeqCst);
        let wake = self.0.load(Ordering::SeqCst);
        wake != NOT_PARKED && (wake == COMPUTING || tick < wake)
    }

    /// The inserter's side of the header's protocol: registers `waker` for
    /// `deadline` in `timers` (shard of loop `loop_key`) and says whether the
    /// parked driver must be interrupted (it would sleep past the new timer).
    /// A timer that did not become its shard's earliest is no earlier than
    /// one whose inserter already checked.
    pub(crate) fn add_timer(
        &self,
        timers: &Timers,
        loop_key: usize,
        deadline: Instant,
        waker: Waker,
    ) -> (TimerSlot, bool) {
        let (tick, lowered, slot) = timers.insert(loop_key, deadline, waker);
        (slot, lowered && self.must_interrupt(tick))
    }

    /// The driver's side: reads the earliest timer of `timers` and, unless
    /// one is due already (then false, without blocking), blocks in `wait`
    /// until that timer's instant (`None`: no timer) or an interruption.
    pub(crate) fn block(&self, timers: &Timers, wait: impl FnOnce(Option<Instant>)) -> bool {
        self.computing();
        let next = timers.next_tick();
        if next.is_some_and(|t| t <= timers.tick_passed(Instant::now())) {
            self.awake();
            return false;
        }
        self.sleeping_until(next);
        wait(next.map(|t| timers.instant_of(t)));
        self.awake();
        true
    }
}

/// The turning thread's scratch space.
struct Turn {
    events: sys::Events,
    fired: Vec<Fired>,
    sources: Vec<(Arc<Source>, usize)>,
}

pub(crate) struct Driver {
    pub(crate) reactor: Reactor,
    pub(crate) timers: Timers,
    turn: Mutex<Turn>,
    next_wake: NextWake,
    closed: AtomicBool,
    /// Readiness events handed to sockets (`RuntimeMetrics`). Written only
    /// under `turn` (one writer at a time, ordered by the lock), read by anyone.
    io_ready_count: AtomicU64,
    /// Timers fired; written and read as `io_ready_count`.
    timer_fire_count: AtomicU64,
}

impl Driver {
    pub(crate) fn new(timer_shards: usize) -> io::Result<Driver> {
        Ok(Driver {
            reactor: Reactor::new()?,
            timers: Timers::new(timer_shards),
            turn: Mutex::new(Turn {
                events: sys::Events::new(),
                fired: Vec::new(),
                sources: Vec::new(),
            }),
            next_wake: NextWake::new(),
            closed: AtomicBool::new(false),
            io_ready_count: AtomicU64::new(0),
            timer_fire_count: AtomicU64::new(0),
        })
    }

    /// At runtime shutdown: from now on nothing turns the driver, so sleeps
    /// end and socket calls fail rather than wait; wakes everything waiting
    /// on it so it sees that. Drops every timer (a `call_later` callback is
    /// dropped unrun), which also breaks the reference cycle driver -> timer
    /// waker -> loop -> parker -> driver.
    pub(crate) fn close(&self) {
        // Release: pairs with the Acquire in `is_closed`.
        self.closed.store(true, Ordering::Release);
        let mut wakers = Vec::new();
        self.timers.drain(&mut wakers);
        wake_all(wakers);
        self.reactor.wake_all();
    }

    /// Whether the runtime has shut down (see `close`).
    pub(crate) fn is_closed(&self) -> bool {
        // Acquire: pairs with the Release in `close`.
        self.closed.load(Ordering::Acquire)
    }

    /// Registers `waker` for `deadline` in the timer shard of loop
    /// `loop_key`, and interrupts the parked driver if it would sleep past
    /// the new timer (header; [`NextWake::add_timer`]).
    pub(crate) fn add_timer(&self, loop_key: usize, deadline: Instant, waker: Waker) -> TimerSlot {
        let (slot, interrupt) = self
            .next_wake
            .add_timer(&self.timers, loop_key, deadline, waker);
        if interrupt {
            self.unpark();
        }
        slot
    }

    /// The turn, if nobody else holds it. A worker about to park that gets
    /// it parks in [`Turning::block`], then (awake and off the sleeper list)
    /// wakes what it found with [`Turning::dispatch`].
    pub(crate) fn try_turn(&self) -> Option<Turning<'_>> {
        self.turn
            .try_lock()
            .map(|turn| Turning { driver: self, turn })
    }

    /// Readiness events handed to sockets since the start.
    pub(crate) fn io_ready_count(&self) -> u64 {
        self.io_ready_count.load(Ordering::Relaxed)
    }

    /// Timers fired since the start.
    pub(crate) fn timer_fire_count(&self) -> u64 {
        self.timer_fire_count.load(Ordering::Relaxed)
    }

    /// A busy worker's non-blocking turn, if nobody else is turning.
    pub(crate) fn maintain(&self) {
        let Some(mut turning) = self.try_turn() else {
            return;
        };
        if self.reactor.has_sources() {
            turning.poll_io();
        }
        turning.dispatch();
    }
}

/// Holding the driver's turn.
pub(crate) struct Turning<'a> {
    driver: &'a Driver,
    turn: MutexGuard<'a, Turn>,
}

impl Turning<'_> {
    /// Blocks for I/O until the earliest timer, or an `Unpark` (only polls if
    /// a timer is due already). Run inside `Parker::park_driving`.
    pub(crate) fn block(&mut self) {
        let driver = self.driver;
        let events = &mut self.turn.events;
        let blocked = driver.next_wake.block(&driver.timers, |deadline| {
            report(driver.reactor.selector.wait(events, deadline));
        });
        if !blocked {
            self.poll_io();
        }
    }

    fn poll_io(&mut self) {
        report(self.driver.reactor.selector.poll(&mut self.turn.events));
    }

    /// Wakes the sockets the last wait reported and the timers now due.
    pub(crate) fn dispatch(&mut self) {
        let turn = &mut *self.turn;
        let driver = self.driver;
        let ready = driver.reactor.dispatch(&turn.events, &mut turn.sources);
        turn.events.clear();
        driver.timers.fire_due(&mut turn.fired);
        let fired = turn.fired.len();
        // Counted under the turn lock we hold: the only writer now, so a
        // Relaxed load and store (the lock orders successive turners).
        if ready != 0 {
            let c = &driver.io_ready_count;
            c.store(c.load(Ordering::Relaxed) + ready as u64, Ordering::Relaxed);
        }
        if fired != 0 {
            let c = &driver.timer_fire_count;
            c.store(c.load(Ordering::Relaxed) + fired as u64, Ordering::Relaxed);
        }
        wake_all(turn.fired.drain(..).map(|f| f.waker));
    }
}

/// The error of an I/O call made outside a weft runtime.
pub(crate) fn outside_runtime() -> io::Error {
    io::Error::other("not inside a weft runtime")
}

fn report(waited: io::Result<()>) {
    if let Err(e) = waited {
        // Not expected from epoll short of a bug; report it and go on (the
        // worker's loop re-checks everything).
        tracing::error!(error = %e, "polling for I/O failed");
    }
}

impl Unpark for Driver {
    fn unpark(&self) {
        if let Err(e) = self.reactor.selector.notify() {
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
    use crate::loom::sync::Arc;
    use crate::park::loom_park::MockDriver;
    use std::time::Duration;

    /// A waker for a timer nobody waits on.
    fn no_waker() -> Waker {
        struct NoWake;
        impl std::task::Wake for NoWake {
            fn wake(self: Arc<Self>) {}
        }
        Waker::from(Arc::new(NoWake))
    }

    /// A timer inserted (the shipped [`NextWake::add_timer`] on real
    /// [`Timers`]) while the driver decides how long to sleep (the shipped
    /// [`NextWake::block`], as `Turning::block` runs it): the driver either
    /// sees the timer or is interrupted, through a sticky notification like
    /// the selector's `notify`. Finding no timer, the driver waits with no
    /// deadline, so a missed interruption is a deadlock loom reports; a wait
    /// with a deadline means it saw the timer (loom has no clock: the wait
    /// would time out).
    #[test]
    fn loom_driver_new_timer_interrupts_sleep() {
        loom::model(|| {
            let timers = Arc::new(Timers::new(1));
            let next_wake = Arc::new(NextWake::new());
            let selector = MockDriver::new();
            let deadline = Instant::now() + Duration::from_secs(3600);

            let inserter = {
                let (timers, next_wake, selector) =
                    (timers.clone(), next_wake.clone(), selector.clone());
                loom::thread::spawn(move || {
                    let (_slot, interrupt) = next_wake.add_timer(&timers, 0, deadline, no_waker());
                    if interrupt {
                        selector.unpark();
                    }
                })
            };

            // The driver's turns until one sleeps with the timer's deadline.
            loop {
                let mut saw_timer = false;
                let blocked = next_wake.block(&timers, |wake_at| match wake_at {
                    Some(_) => saw_timer = true,
                    None => selector.wait(),
                });
                assert!(blocked, "the timer is an hour away: nothing is due");
                if saw_timer {
                    break;
                }
            }
            inserter.join().unwrap();
        });
    }
}
