//! The timer wheels: sharded hierarchical wheels ([`wheel`]) that the driver
//! fires. The futures and callbacks built on them are `time/`'s.
//!
//! Each loop registers its timers in one shard (its key modulo the shard
//! count), so workers rarely contend on a shard's lock; any thread may remove
//! or re-arm an entry (a task's timer moves with it when it is stolen). The
//! driver (`driver.rs`) fires due entries from every shard and blocks no later
//! than the earliest one.
//!
//! Time is counted in ticks of 250 µs from the runtime's start. A deadline
//! becomes the tick *at or after* it, and a wheel fires an entry only once
//! its tick has passed, so nothing fires early (a fired timer's owner needs
//! no clock read: `Timers::has_fired`); on an idle machine one fires
//! within a tick of its deadline plus the OS's wake-up latency (the selector
//! waits on a timerfd, so that is tens of microseconds on Linux).

pub(crate) mod wheel;

use crate::loom::sync::{AtomicU64, Mutex, Ordering};
use crossbeam_utils::CachePadded;
use std::task::Waker;
use std::time::{Duration, Instant};
use wheel::{Fired, TimerKey, Wheel};

/// Where one timer is registered, and the tick it fires at.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimerSlot {
    shard: u32,
    key: TimerKey,
    tick: u64,
}

/// One tick of the wheels.
const TICK_NANOS: u128 = 250_000;

/// One wheel and, readable without its lock, a tick no later than its next
/// work (`u64::MAX`: none). Inserts lower it; advancing the wheel sets it
/// exactly; a removal leaves it (early is harmless: the driver wakes, finds
/// nothing due, and reads it again). And `elapsed`, the wheel's own
/// `elapsed` as of its last advance: a timer due at or before it has fired
/// (`Timers::has_fired`), so its owner neither reads the clock nor takes the
/// lock to learn it.
struct Shard {
    wheel: Mutex<Wheel>,
    next: AtomicU64,
    elapsed: AtomicU64,
}

pub(crate) struct Timers {
    base: Instant,
    shards: Box<[CachePadded<Shard>]>,
}

impl Timers {
    pub(crate) fn new(shards: usize) -> Timers {
        Timers {
            base: Instant::now(),
            shards: (0..shards.max(1))
                .map(|_| {
                    CachePadded::new(Shard {
                        wheel: Mutex::new(Wheel::new()),
                        next: AtomicU64::new(u64::MAX),
                        elapsed: AtomicU64::new(0),
                    })
                })
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

    /// The instant tick `tick` begins.
    pub(crate) fn instant_of(&self, tick: u64) -> Instant {
        crate::deadline::saturating_add(
            self.base,
            Duration::from_nanos(tick.saturating_mul(TICK_NANOS as u64)),
        )
    }

    /// Registers `waker` for `deadline` in the shard of loop `loop_key`.
    /// Returns the tick it will fire at, whether it became the shard's
    /// earliest (what `Driver::add_timer` needs), and where it went. A
    /// deadline whose tick has been reached fires at the next tick.
    pub(crate) fn insert(
        &self,
        loop_key: usize,
        deadline: Instant,
        waker: Waker,
    ) -> (u64, bool, TimerSlot) {
        let shard = loop_key % self.shards.len();
        let tick = self.tick_for(deadline);
        let exact = u64::try_from(deadline.saturating_duration_since(self.base).as_nanos())
            .unwrap_or(u64::MAX);
        let shard_ref = &self.shards[shard];
        let mut wheel = shard_ref.wheel.lock();
        let (key, tick) = wheel.insert(tick, exact, waker);
        // Relaxed: the fences in `NextWake` order this store against the
        // driver's read (driver.rs header); the lock orders it among writers.
        let lowered = tick < shard_ref.next.load(Ordering::Relaxed);
        if lowered {
            shard_ref.next.store(tick, Ordering::Relaxed);
        }
        drop(wheel);
        (
            tick,
            lowered,
            TimerSlot {
                shard: shard as u32,
                key,
                tick,
            },
        )
    }

    /// Re-arms a registered timer with `waker`; false if it already fired.
    pub(crate) fn set_waker(&self, slot: TimerSlot, waker: &Waker) -> bool {
        self.shards[slot.shard as usize]
            .wheel
            .lock()
            .set_waker(slot.key, waker)
    }

    /// Whether a registered timer has fired: its shard was advanced to its
    /// tick, so its deadline has passed (the tick is rounded up from the
    /// deadline, and the wheel advances only to ticks that have passed). No
    /// lock; false may be stale (it fires a moment later), true is final.
    pub(crate) fn has_fired(&self, slot: TimerSlot) -> bool {
        // Acquire: pairs with the Release store in `fire_due`, after the
        // advance that fired this entry released it from the wheel.
        slot.tick
            <= self.shards[slot.shard as usize]
                .elapsed
                .load(Ordering::Acquire)
    }

    /// Cancels a registered timer (a no-op if it already fired, which
    /// `has_fired` tells without the lock). The waker is dropped after the
    /// shard's lock is released.
    pub(crate) fn remove(&self, slot: TimerSlot) {
        if self.has_fired(slot) {
            return;
        }
        let waker = self.shards[slot.shard as usize]
            .wheel
            .lock()
            .remove(slot.key);
        drop(waker);
    }

    /// Fires what is due at `now` in every shard: appends the wakers to
    /// `fired` (each shard's in due order) for the caller to wake outside the
    /// locks. Shards with nothing due are skipped without locking.
    /// The clock is read only if some shard has a timer at all (every park
    /// and maintenance tick comes through here).
    pub(crate) fn fire_due(&self, fired: &mut Vec<Fired>) {
        let mut now = None;
        for shard in self.shards.iter() {
            let next = shard.next.load(Ordering::Relaxed);
            if next == u64::MAX {
                continue;
            }
            let now = *now.get_or_insert_with(|| self.tick_passed(Instant::now()));
            if next > now {
                continue;
            }
            let mut wheel = shard.wheel.lock();
            wheel.advance(now, fired);
            shard
                .next
                .store(wheel.next_tick().unwrap_or(u64::MAX), Ordering::Relaxed);
            // Release: pairs with the Acquire load in `has_fired`. Under the
            // lock, so successive advances store in order (it only grows).
            shard.elapsed.store(wheel.elapsed(), Ordering::Release);
        }
    }

    /// A tick no later than the earliest work of any shard, if there is any.
    pub(crate) fn next_tick(&self) -> Option<u64> {
        self.shards
            .iter()
            // Relaxed: see `insert`.
            .map(|s| s.next.load(Ordering::Relaxed))
            .min()
            .filter(|&t| t != u64::MAX)
    }

    /// Removes every timer, appending the wakers to `out` (shutdown).
    pub(crate) fn drain(&self, out: &mut Vec<Waker>) {
        for shard in self.shards.iter() {
            shard.wheel.lock().drain(out);
            shard.next.store(u64::MAX, Ordering::Relaxed);
        }
    }

    /// Pending timers in all shards.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.wheel.lock().len()).sum()
    }
}

impl std::fmt::Debug for Timers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timers")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn waker() -> Waker {
        futures_util::task::noop_waker()
    }

    #[test]
    fn a_timer_is_known_fired_once_its_shard_has_advanced_past_it() {
        let timers = Timers::new(2);
        let (_, _, due) = timers.insert(0, Instant::now(), waker());
        let far = Instant::now() + Duration::from_secs(3600);
        let (_, _, later) = timers.insert(1, far, waker());
        assert!(!timers.has_fired(due), "not fired before the driver looks");
        std::thread::sleep(Duration::from_millis(1));
        let mut fired = Vec::new();
        timers.fire_due(&mut fired);
        assert_eq!(fired.len(), 1);
        assert!(timers.has_fired(due));
        assert!(!timers.has_fired(later), "a later timer is not");
        timers.remove(due); // no lock, no-op
        assert_eq!(timers.len(), 1);
        timers.remove(later);
        assert_eq!(timers.len(), 0);
    }
}
