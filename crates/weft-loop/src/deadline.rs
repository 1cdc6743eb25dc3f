//! Deadline arithmetic. Every duration the API takes (`sleep`, `call_later`,
//! `shutdown_timeout`, `blocking_keep_alive`, ...) becomes a deadline here, and
//! saturates: a duration too large to add to an `Instant` (`Duration::MAX`)
//! means "as good as never", never a panic.

use std::time::{Duration, Instant};

/// 30 years: what a deadline that overflows becomes, counted from its start.
const NEVER: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `at + d`, or 30 years after `at` (as good as never) if that overflows.
pub(crate) fn saturating_add(at: Instant, d: Duration) -> Instant {
    at.checked_add(d).unwrap_or_else(|| at + NEVER)
}

/// `now + d`, saturating.
pub(crate) fn after(d: Duration) -> Instant {
    saturating_add(Instant::now(), d)
}
