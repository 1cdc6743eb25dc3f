//! Timers: sharded hierarchical wheels ([`wheel`]) and the futures built on
//! them ([`Sleep`], [`Interval`]).
//!
//! Each loop registers its timers in one shard (its key modulo the shard
//! count), so workers rarely contend on a shard's lock; any thread may remove
//! or re-arm an entry (a task's timer moves with it when it is stolen). The
//! driver (`driver.rs`) fires due entries from every shard and blocks no later
//! than the earliest one.
//!
//! Time is counted in ticks of 250 µs from the runtime's start. A deadline
//! becomes the tick *at or after* it, and a timer's owner re-checks the real
//! clock when woken, so nothing fires early; on an idle machine one fires
//! within a tick of its deadline plus the OS's wake-up latency (the poller
//! waits on a timerfd, so that is tens of microseconds on Linux).

mod sleep;
pub(crate) mod wheel;

pub use sleep::{
    interval, interval_at, sleep, sleep_until, sleep_with, Interval, Sleep, SleepWith,
};

use crate::loom::sync::Mutex;
use crossbeam_utils::CachePadded;
use std::task::Waker;
use std::time::{Duration, Instant};
use wheel::{Fired, TimerKey, Wheel};

/// Where one timer is registered.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimerSlot {
    shard: u32,
    key: TimerKey,
}

/// One tick of the wheels.
const TICK_NANOS: u128 = 250_000;

pub(crate) struct Timers {
    base: Instant,
    shards: Box<[CachePadded<Mutex<Wheel>>]>,
}

impl Timers {
    pub(crate) fn new(shards: usize) -> Timers {
        Timers {
            base: Instant::now(),
            shards: (0..shards.max(1))
                .map(|_| CachePadded::new(Mutex::new(Wheel::new())))
                .collect(),
        }
    }

    /// The tick `at` falls in (rounded down: the ticks that have passed).
    pub(crate) fn tick_passed(&self, at: Instant) -> u64 {
        let ticks = at.saturating_duration_since(self.base).as_nanos() / TICK_NANOS;
        u64::try_from(ticks).unwrap_or(u64::MAX)
    }

    /// The first tick at or after `deadline` (rounded up: never early).
    fn tick_for(&self, deadline: Instant) -> u64 {
        let ticks = deadline
            .saturating_duration_since(self.base)
            .as_nanos()
            .div_ceil(TICK_NANOS);
        u64::try_from(ticks).unwrap_or(u64::MAX)
    }

    /// `now + duration`, or a deadline far enough away to mean "never" if
    /// that overflows (`sleep(Duration::MAX)`).
    pub(crate) fn deadline_after(duration: Duration) -> Instant {
        let now = Instant::now();
        now.checked_add(duration)
            .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
    }

    /// The instant tick `tick` begins.
    pub(crate) fn instant_of(&self, tick: u64) -> Instant {
        self.base
            .checked_add(Duration::from_nanos(tick.saturating_mul(TICK_NANOS as u64)))
            .unwrap_or_else(|| self.base + Duration::from_secs(86_400 * 365 * 100))
    }

    /// Registers `waker` for `deadline` in the shard of loop `loop_key`.
    /// Returns the tick it will fire at and where it went. A deadline whose
    /// tick has been reached fires at the next tick.
    pub(crate) fn insert(
        &self,
        loop_key: usize,
        deadline: Instant,
        waker: Waker,
    ) -> (u64, TimerSlot) {
        let shard = loop_key % self.shards.len();
        let tick = self.tick_for(deadline);
        let exact = u64::try_from(deadline.saturating_duration_since(self.base).as_nanos())
            .unwrap_or(u64::MAX);
        let mut wheel = self.shards[shard].lock();
        let key = wheel.insert(tick, exact, waker);
        let tick = tick.max(wheel.elapsed() + 1);
        drop(wheel);
        (
            tick,
            TimerSlot {
                shard: shard as u32,
                key,
            },
        )
    }

    /// Re-arms a registered timer with `waker`; false if it already fired.
    pub(crate) fn set_waker(&self, slot: TimerSlot, waker: &Waker) -> bool {
        self.shards[slot.shard as usize]
            .lock()
            .set_waker(slot.key, waker)
    }

    /// Cancels a registered timer (a no-op if it already fired). The waker is
    /// dropped after the shard's lock is released.
    pub(crate) fn remove(&self, slot: TimerSlot) {
        let waker = self.shards[slot.shard as usize].lock().remove(slot.key);
        drop(waker);
    }

    /// Fires what is due at `now` in every shard: appends the wakers to
    /// `fired` (each shard's in due order) for the caller to wake outside the
    /// locks. `try_only` skips shards whose lock is taken.
    pub(crate) fn fire_due(&self, now: Instant, fired: &mut Vec<Fired>, try_only: bool) {
        let now = self.tick_passed(now);
        for shard in self.shards.iter() {
            let wheel = if try_only {
                match shard.try_lock() {
                    Some(w) => w,
                    None => continue,
                }
            } else {
                shard.lock()
            };
            let mut wheel = wheel;
            if wheel.next_tick().is_some_and(|t| t <= now) {
                wheel.advance(now, fired);
            }
        }
    }

    /// The earliest tick at which some shard has work, if any.
    pub(crate) fn next_tick(&self) -> Option<u64> {
        self.shards
            .iter()
            .filter_map(|s| s.lock().next_tick())
            .min()
    }

    /// Pending timers in all shards.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

impl std::fmt::Debug for Timers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timers")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}
