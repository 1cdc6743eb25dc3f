//! Timers as the API sees them: [`Sleep`], [`SleepWith`] and [`Interval`]
//! (`sleep.rs`), the timer of a delayed callback (`call_later` / `call_at`,
//! in `loop_handle.rs`) and, through `Sleep`, every timeout in
//! weft-combinators. All of them hold one [`TimerEntry`]: a timer registered
//! with the driver, removed when the entry drops.
//!
//! The wheels that keep the timers are `timer/` (below the driver); this
//! module sits above the driver and the loop context.

mod sleep;

pub use sleep::{
    interval, interval_at, sleep, sleep_until, sleep_with, Interval, Sleep, SleepWith,
};

use crate::driver::Driver;
use crate::timer::TimerSlot;
use std::sync::Arc;
use std::task::Waker;
use std::time::Instant;

/// One registered timer; dropping it removes the timer (a no-op if it has
/// fired: the wheel ignores a stale slot).
pub(crate) struct TimerEntry {
    driver: Arc<Driver>,
    slot: TimerSlot,
    /// Registered while the runtime still ran.
    before_shutdown: bool,
}

impl TimerEntry {
    /// Registers `waker` to be woken at `deadline`, in the timer shard of
    /// loop `loop_key` (`Driver::add_timer`).
    pub(crate) fn register(
        driver: Arc<Driver>,
        loop_key: usize,
        deadline: Instant,
        waker: Waker,
    ) -> TimerEntry {
        let before_shutdown = !driver.is_closed();
        let slot = driver.add_timer(loop_key, deadline, waker);
        TimerEntry {
            driver,
            slot,
            before_shutdown,
        }
    }

    /// Whether the timer was registered while the runtime ran and the
    /// runtime has shut down since (which drained it).
    pub(crate) fn outlived_runtime(&self) -> bool {
        self.before_shutdown && self.driver.is_closed()
    }

    /// Whether the timer has fired, which means its deadline has passed
    /// (`Timers::has_fired`: no clock read, no lock).
    pub(crate) fn has_fired(&self) -> bool {
        self.driver.timers.has_fired(self.slot)
    }

    /// Re-arms the timer with `waker`; false if it already fired.
    pub(crate) fn set_waker(&self, waker: &Waker) -> bool {
        self.driver.timers.set_waker(self.slot, waker)
    }
}

impl Drop for TimerEntry {
    fn drop(&mut self) {
        self.driver.timers.remove(self.slot);
    }
}

impl std::fmt::Debug for TimerEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerEntry")
            .field("slot", &self.slot)
            .finish()
    }
}
