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

/// [`Condition::wait`](crate::Condition::wait) was given a guard of another
/// mutex than the condition's. Nothing was waited for; the guard is given back
/// ([`into_guard`](Self::into_guard)), still locked.
///
/// ```
/// weft::run(async {
///     let cond = weft::sync::Condition::new(0);
///     let other = weft::sync::Mutex::new(0);
///     let err = cond.wait(other.lock().await).await.unwrap_err();
///     assert_eq!(err.to_string(), "guard is of another mutex");
///     let _guard = err.into_guard();
/// });
/// ```
pub struct WrongMutexError<G> {
    guard: G,
}

impl<G> WrongMutexError<G> {
    pub(crate) fn new(guard: G) -> Self {
        WrongMutexError { guard }
    }

    /// The guard that was passed in.
    ///
    /// ```
    /// weft::run(async {
    ///     let cond = weft::sync::Condition::new(0);
    ///     let other = weft::sync::Mutex::new(7);
    ///     let err = cond.wait(other.lock().await).await.unwrap_err();
    ///     assert_eq!(*err.into_guard(), 7);
    /// });
    /// ```
    pub fn into_guard(self) -> G {
        self.guard
    }
}

impl<G> fmt::Debug for WrongMutexError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WrongMutexError")
    }
}

impl<G> fmt::Display for WrongMutexError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("guard is of another mutex")
    }
}

impl<G> Error for WrongMutexError<G> {}

/// [`Condition::notify`](crate::Condition::notify) or
/// [`notify_all`](crate::Condition::notify_all) was called while the
/// condition's mutex was not locked (asyncio's `RuntimeError`). Nobody was
/// notified.
///
/// ```
/// let cond = weft::sync::Condition::new(());
/// assert_eq!(cond.notify(1).unwrap_err().to_string(), "lock is not held");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct NotLockedError;

impl fmt::Display for NotLockedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("lock is not held")
    }
}

impl Error for NotLockedError {}

/// A waiter of a [`Barrier`](crate::Barrier) that was aborted or reset
/// (asyncio's `BrokenBarrierError`), or a `wait` on a broken barrier.
///
/// ```
/// weft::run(async {
///     let b = weft::sync::Barrier::new(2).unwrap();
///     b.abort();
///     let err = b.wait().await.unwrap_err();
///     assert_eq!(err.to_string(), "barrier is broken");
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BrokenBarrierError;

impl fmt::Display for BrokenBarrierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("barrier is broken")
    }
}

impl Error for BrokenBarrierError {}

/// [`Barrier::new`](crate::Barrier::new) was asked for zero parties
/// (asyncio's `ValueError`).
///
/// ```
/// let err = weft::sync::Barrier::new(0).unwrap_err();
/// assert_eq!(err.to_string(), "barrier needs at least one party");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ZeroPartiesError;

impl fmt::Display for ZeroPartiesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("barrier needs at least one party")
    }
}

impl Error for ZeroPartiesError {}
