//! The errors of this crate: each a small type with a short lower-case
//! message.

use std::error::Error;
use std::fmt;

/// A `try_acquire` found no permits (or someone queued ahead).
///
/// ```
/// let sem = weft::sync::Semaphore::new(0);
/// let err = sem.try_acquire().unwrap_err();
/// assert_eq!(err.to_string(), "no permits available");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TryAcquireError;

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no permits available")
    }
}

impl Error for TryAcquireError {}

/// A [`BoundedSemaphore`](crate::BoundedSemaphore) was released more times
/// than it was acquired (asyncio's `ValueError`). The release did nothing;
/// the semaphore stays usable.
///
/// ```
/// let sem = weft::sync::BoundedSemaphore::new(1);
/// let err = sem.release().unwrap_err();
/// assert_eq!(err.to_string(), "semaphore released too many times");
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ReleaseError;

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore released too many times")
    }
}

impl Error for ReleaseError {}

/// A blocking wait with a timeout ran out of time; nothing was acquired.
///
/// ```
/// use std::time::Duration;
/// let sem = weft::sync::Semaphore::new(0);
/// let err = sem.acquire_timeout_blocking(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err.to_string(), "timed out");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TimedOut;

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out")
    }
}

impl Error for TimedOut {}

/// A `try_lock` (or `try_read`/`try_write`) found the lock held, or someone
/// queued for it.
///
/// ```
/// let m = weft::sync::Mutex::new(0);
/// let _g = m.try_lock().unwrap();
/// assert_eq!(m.try_lock().unwrap_err().to_string(), "lock is held");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TryLockError;

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("lock is held")
    }
}

impl Error for TryLockError {}
