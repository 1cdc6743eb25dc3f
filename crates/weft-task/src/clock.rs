//! A coarse monotonic clock, in wrapping milliseconds, for task ages, and
//! the per-thread cached reading of it that a busy loop thread keeps
//! ([`SpawnClock`]).
//!
//! Each task notes when it was spawned (a task dump shows its age). On
//! Linux the clock is `CLOCK_MONOTONIC_COARSE` (a vDSO read of the kernel's
//! last tick: no time-stamp counter read; its resolution is the kernel's
//! tick, 1 to 4 ms); elsewhere `Instant` since the first read. Milliseconds
//! in a `u32` wrap after about 49.7 days: ages are exact below that.
//!
//! # The cached reading
//!
//! Even a coarse read is a call and a few dozen instructions, paid on every
//! spawn. A thread that runs a loop's steps back to back (a runtime's
//! worker) reads the clock anyway where it pauses: when it wakes from a
//! park, and at its maintenance tick (every 61 steps, for its busy time).
//! It keeps a [`SpawnClock`] on its thread and refreshes it there; a spawn
//! on that thread then takes the cached reading (a thread-local load)
//! instead of reading the clock. A spawn anywhere else (a plain thread,
//! `block_on`'s thread) reads the clock.
//!
//! So a task spawned on a worker is stamped with the worker's last reading,
//! taken at most one wake-up or 61 steps before the spawn: its age in a dump
//! may exceed the truth by the time those steps took (normally less than
//! the clock's own tick; a step that blocks for long shows up in it, as it
//! does in slow-poll warnings), and is never less than the truth.

use std::cell::Cell;
use std::marker::PhantomData;

thread_local! {
    /// This thread's cached [`coarse_ms`] reading while it keeps a
    /// [`SpawnClock`]; 0 when it keeps none. (A reading that happens to be
    /// 0 is taken as none: the spawn reads the clock, nothing worse.)
    static CACHED_MS: Cell<u32> = const { Cell::new(0) };
}

/// Now, in coarse milliseconds (wrapping).
#[cfg(target_os = "linux")]
#[inline]
pub(crate) fn coarse_ms() -> u32 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a
    // constant Linux provides (since 2.6.32), so the call cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1000)
        .wrapping_add(ts.tv_nsec as u64 / 1_000_000) as u32
}

/// Now, in milliseconds since the first read (wrapping).
#[cfg(not(target_os = "linux"))]
pub(crate) fn coarse_ms() -> u32 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u32
}

/// The spawn time of a task spawned now on this thread: its cached reading
/// if it keeps a [`SpawnClock`], else a fresh one (module header).
#[inline]
pub(crate) fn spawn_ms() -> u32 {
    let cached = CACHED_MS.with(Cell::get);
    if cached != 0 {
        cached
    } else {
        read_for_spawn()
    }
}

/// [`spawn_ms`] with no cached reading: out of line, so a spawn on a worker
/// inlines only the thread-local load and the test.
#[inline(never)]
fn read_for_spawn() -> u32 {
    coarse_ms()
}

/// How long ago `then` (a [`coarse_ms`] reading) was.
pub(crate) fn since(then: u32) -> std::time::Duration {
    std::time::Duration::from_millis(u64::from(coarse_ms().wrapping_sub(then)))
}

/// A cached reading of the clock that stamps each task's spawn time, kept
/// by the thread that made it: while it lives, a task spawned on this
/// thread is stamped with the reading taken at [`keep`](Self::keep) or the
/// last [`refresh`](Self::refresh) instead of a fresh one, which saves a
/// clock read per spawn. A runtime's worker keeps one and refreshes it
/// where it reads the clock anyway (when it wakes, at its maintenance
/// tick), so a task's age in a dump ([`TaskInfo::age`](crate::TaskInfo::age))
/// counts from that reading: never less than the truth, and more by at
/// most the time since the refresh.
///
/// Dropping it goes back to what the thread did before `keep` (a fresh
/// reading per spawn, or an outer `SpawnClock`'s cached one). It is not
/// `Send`: it belongs to its thread.
///
/// ```
/// use std::time::Duration;
/// use weft_task::SpawnClock;
///
/// let rt = weft::Builder::new().workers(1).build().unwrap();
/// let clock = SpawnClock::keep();
/// let t = rt.spawn(async {}); // stamped with the kept reading
/// clock.refresh();
/// drop(clock);
/// let info = weft::TaskInfo::of(&t.task_ref());
/// assert!(info.age < Duration::from_secs(60));
/// rt.block_on(t).unwrap();
/// ```
#[derive(Debug)]
#[must_use = "the reading is kept only while the SpawnClock lives"]
pub struct SpawnClock {
    /// What the thread kept before (0: nothing).
    outer: u32,
    /// Not `Send`: it names its own thread's cache.
    _thread: PhantomData<*const ()>,
}

impl SpawnClock {
    /// Reads the clock and keeps the reading for this thread's spawns.
    ///
    /// ```
    /// let clock = weft_task::SpawnClock::keep();
    /// drop(clock); // spawns here read the clock again
    /// ```
    pub fn keep() -> SpawnClock {
        let outer = CACHED_MS.with(|c| c.replace(coarse_ms()));
        SpawnClock {
            outer,
            _thread: PhantomData,
        }
    }

    /// Reads the clock again: later spawns on this thread take the new
    /// reading.
    ///
    /// ```
    /// let clock = weft_task::SpawnClock::keep();
    /// clock.refresh();
    /// ```
    #[inline]
    pub fn refresh(&self) {
        CACHED_MS.with(|c| c.set(coarse_ms()));
    }
}

impl Drop for SpawnClock {
    fn drop(&mut self) {
        CACHED_MS.with(|c| c.set(self.outer));
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_kept_reading_stamps_spawns_until_it_is_dropped() {
        assert_eq!(CACHED_MS.with(Cell::get), 0);
        {
            let clock = SpawnClock::keep();
            // Pretend the reading is an hour old: spawns take it as it is.
            CACHED_MS.with(|c| c.set(coarse_ms().wrapping_sub(3_600_000) | 1));
            let kept = CACHED_MS.with(Cell::get);
            assert_eq!(spawn_ms(), kept);
            clock.refresh();
            assert!(coarse_ms().wrapping_sub(spawn_ms()) < 60_000);
            CACHED_MS.with(|c| c.set(kept));
            {
                let inner = SpawnClock::keep();
                assert!(coarse_ms().wrapping_sub(spawn_ms()) < 60_000);
                drop(inner);
            }
            // The inner one gave back the outer one's reading.
            assert_eq!(spawn_ms(), kept);
        }
        assert_eq!(CACHED_MS.with(Cell::get), 0);
        assert!(coarse_ms().wrapping_sub(spawn_ms()) < 60_000);
    }
}
