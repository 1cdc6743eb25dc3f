//! The one short, timed spin a plain thread does before it sleeps on a
//! condvar: [`spin_until`]. weft-loop's bridge (`ConcurrentFuture::result`)
//! and weft-sync's queues (`put_blocking`, `get_blocking`) use it, so a thread
//! that waits for a worker about to answer does not pay a futex sleep and
//! wake-up, nor make the worker pay a futex wake, for a wait of a few hundred
//! nanoseconds.
//!
//! Why these numbers (docs/benchmarks.md, "Sync bridge" and "Session 10"):
//! the spin is timed, not counted, since one `spin_loop` costs from a few to
//! tens of ns across CPUs; it has no `yield_now` phase, since a yielding
//! waiter let the worker it woke share its core (a `sched_yield` keeps it
//! runnable there) while the other core idled; and 10 µs outlasts a hot round
//! trip to a worker (1.5-2 µs) without holding a core long when the answer is
//! slow.

use std::time::{Duration, Instant};

/// How long [`spin_until`] spins at most.
const SPIN_FOR: Duration = Duration::from_micros(10);

/// Calls `ready` until it returns `true` (then returns `true`), or until
/// 10 µs or `deadline`, whichever comes first, has passed (then `false`),
/// with a `spin_loop` hint between calls. A `deadline` already passed makes
/// no call. The caller sleeps after a `false`, and must look once more under
/// whatever lock its sleep pairs with: the spin only saves the sleep, it is
/// never what makes a wake-up reach the sleeper.
///
/// Under `--cfg loom` it returns `false` at once without calling `ready`: a
/// timed spin means nothing in a model, and the caller's own look and sleep
/// are what a model must explore.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::time::Instant;
///
/// let flag = AtomicBool::new(true);
/// assert!(weft_task::spin::spin_until(None, || flag.load(Ordering::Relaxed)));
/// flag.store(false, Ordering::Relaxed);
/// assert!(!weft_task::spin::spin_until(None, || flag.load(Ordering::Relaxed)));
/// // A deadline already passed: no look at all.
/// assert!(!weft_task::spin::spin_until(Some(Instant::now()), || true));
/// ```
#[inline]
pub fn spin_until(deadline: Option<Instant>, mut ready: impl FnMut() -> bool) -> bool {
    if cfg!(loom) {
        return false;
    }
    let mut now = Instant::now();
    let end = match deadline {
        Some(d) if d < now + SPIN_FOR => d,
        _ => now + SPIN_FOR,
    };
    // Read the clock once every 32 looks: `Instant::now` costs about as much
    // as the look and the hint together.
    while now < end {
        for _ in 0..32 {
            if ready() {
                return true;
            }
            std::hint::spin_loop();
        }
        now = Instant::now();
    }
    false
}
