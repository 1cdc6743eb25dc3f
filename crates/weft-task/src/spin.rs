//! The one short, timed spin a plain thread does before it sleeps on a
//! condvar: [`spin_until`]. weft-loop's bridge (`ConcurrentFuture::result`)
//! and weft-sync's blocking waits (`put_blocking`, `get_blocking`, a
//! semaphore's blocking acquire) use it, so a thread that waits for a worker
//! about to answer does not pay a futex sleep and wake-up, nor make the worker
//! pay a futex wake, for a wait of a few hundred nanoseconds.
//!
//! Why these numbers (docs/benchmarks.md, "Sync bridge" and "Sync primitives
//! and queues"): the spin is timed, not counted, since one `spin_loop` costs
//! from a few to tens of ns across CPUs; it has no `yield_now` phase, since a
//! yielding waiter let the worker it woke share its core (a `sched_yield`
//! keeps it runnable there) while the other core idled; and 10 µs outlasts a
//! hot round trip to a worker (1.5-2 µs) without holding a core long when the
//! answer is slow.

use std::time::{Duration, Instant};

/// How long [`spin_until`] spins before giving up.
pub const SPIN_FOR: Duration = Duration::from_micros(10);

/// Calls `ready` until it returns `true` (then returns `true`) or
/// [`SPIN_FOR`] has passed (then `false`), with a `spin_loop` hint between
/// calls. The caller sleeps after a `false`, and must look once more under
/// whatever lock its sleep pairs with: the spin only saves the sleep, it is
/// never what makes a wake-up reach the sleeper.
///
/// Under `--cfg loom` it calls `ready` once: a timed spin means nothing in a
/// model and would only multiply its interleavings.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// let flag = AtomicBool::new(true);
/// assert!(weft_task::spin::spin_until(|| flag.load(Ordering::Acquire)));
/// flag.store(false, Ordering::Release);
/// assert!(!weft_task::spin::spin_until(|| flag.load(Ordering::Acquire)));
/// ```
#[inline]
pub fn spin_until(mut ready: impl FnMut() -> bool) -> bool {
    if cfg!(loom) {
        return ready();
    }
    let start = Instant::now();
    loop {
        // Read the clock once every 32 looks: `Instant::now` costs about as
        // much as the look and the hint together.
        for _ in 0..32 {
            if ready() {
                return true;
            }
            std::hint::spin_loop();
        }
        if start.elapsed() >= SPIN_FOR {
            return false;
        }
    }
}
