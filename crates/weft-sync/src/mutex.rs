//! `Mutex<T>` (asyncio's `Lock`, holding the data it guards), on the wait
//! list with one unit: the guard owns the unit, dropping it releases it (to
//! the first waiter: hand-off).

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::error::{TimedOut, TryLockError};
use crate::loom::const_fn_unless_loom;
use crate::waitlist::{Acquiring, WaitList};
use weft_task::awaiting::Described;

/// What a task dump shows a task queued for the lock.
static LOCK_WAIT: Described = Described::of_kind("lock");

/// An async mutex: asyncio's `Lock`, holding the data it guards.
///
/// [`lock`](Self::lock) waits (FIFO) and returns a [`MutexGuard`] giving
/// access to the data; dropping the guard unlocks, handing the lock straight
/// to the first waiter, so a task that unlocks and re-locks at once queues
/// behind it. A `lock` future dropped while waiting (cancelled), even after
/// the lock was handed to it, passes the lock on: it is never lost.
///
/// Thread-safe: tasks on any worker and plain threads
/// ([`lock_blocking`](Self::lock_blocking)) share it.
///
/// ```
/// use std::sync::Arc;
/// use weft::sync::Mutex;
///
/// weft::run(async {
///     let cache = Arc::new(Mutex::new(Vec::new()));
///     let mut tasks = Vec::new();
///     for i in 0..4 {
///         let cache = cache.clone();
///         tasks.push(weft::spawn(async move { cache.lock().await.push(i) }));
///     }
///     for t in tasks {
///         t.await.unwrap();
///     }
///     assert_eq!(cache.lock().await.len(), 4);
/// });
/// ```
pub struct Mutex<T: ?Sized> {
    list: WaitList,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands out access to `T` only through a guard, one at a
// time (the wait list's single unit), so sharing the mutex between threads
// shares `T` only by moving exclusive access: `T: Send` suffices, as for
// `std::sync::Mutex`.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => d.field("data", &&*guard),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T> Mutex<T> {
    const_fn_unless_loom! {
        /// An unlocked mutex holding `value`. A `const fn`, so a mutex can be
        /// a `static`.
        ///
        /// ```
        /// use weft::sync::Mutex;
        /// static COUNTER: Mutex<u64> = Mutex::new(0);
        /// let m = Mutex::new(5);
        /// assert!(!m.locked());
        /// assert_eq!(*COUNTER.try_lock().unwrap(), 0);
        /// ```
        pub fn new(value: T) -> Self {
            Mutex {
                list: WaitList::new(1, ()),
                data: UnsafeCell::new(value),
            }
        }
    }

    /// The data, consuming the mutex.
    ///
    /// ```
    /// let m = weft::sync::Mutex::new(String::from("x"));
    /// assert_eq!(m.into_inner(), "x");
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// asyncio's `locked()`: whether the lock is held (or someone waits).
    ///
    /// ```
    /// let m = weft::sync::Mutex::new(());
    /// let g = m.try_lock().unwrap();
    /// assert!(m.locked());
    /// drop(g);
    /// assert!(!m.locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.list.available() == 0
    }

    /// Waits (FIFO) for the lock. Dropping the future cancels the wait
    /// without losing the lock.
    ///
    /// ```
    /// weft::run(async {
    ///     let m = weft::sync::Mutex::new(1);
    ///     *m.lock().await += 1;
    ///     assert_eq!(*m.lock().await, 2);
    /// });
    /// ```
    pub fn lock(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            state: Acquiring::new(1, &LOCK_WAIT),
        }
    }

    /// Takes the lock if it is free and nobody waits.
    ///
    /// ```
    /// let m = weft::sync::Mutex::new(0);
    /// let g = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_err());
    /// drop(g);
    /// assert!(m.try_lock().is_ok());
    /// ```
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        match self.list.try_acquire(1) {
            Ok(()) => Ok(MutexGuard::new(self)),
            Err(_) => Err(TryLockError),
        }
    }

    /// [`lock`](Self::lock) for a guard that owns a handle on the mutex, so
    /// it can move into a spawned task.
    ///
    /// ```
    /// use std::sync::Arc;
    /// weft::run(async {
    ///     let m = Arc::new(weft::sync::Mutex::new(0));
    ///     let mut guard = m.clone().lock_owned().await;
    ///     weft::spawn(async move { *guard += 1 }).await.unwrap();
    ///     assert_eq!(*m.lock().await, 1);
    /// });
    /// ```
    pub fn lock_owned(self: Arc<Self>) -> LockOwned<T> {
        LockOwned {
            mutex: self,
            state: Acquiring::new(1, &LOCK_WAIT),
        }
    }

    /// [`try_lock`](Self::try_lock) for an owned guard.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(weft::sync::Mutex::new(0));
    /// let g = m.clone().try_lock_owned().unwrap();
    /// assert!(m.clone().try_lock_owned().is_err());
    /// drop(g);
    /// ```
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        match self.list.try_acquire(1) {
            Ok(()) => Ok(OwnedMutexGuard::new(self)),
            Err(_) => Err(TryLockError),
        }
    }

    /// Blocks the calling thread (not a task: it would block its worker)
    /// until it holds the lock, FIFO with the async waiters.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(weft::sync::Mutex::new(0));
    /// let handles: Vec<_> = (0..4)
    ///     .map(|_| {
    ///         let m = m.clone();
    ///         std::thread::spawn(move || *m.lock_blocking() += 1)
    ///     })
    ///     .collect();
    /// for h in handles {
    ///     h.join().unwrap();
    /// }
    /// assert_eq!(*m.lock_blocking(), 4);
    /// ```
    pub fn lock_blocking(&self) -> MutexGuard<'_, T> {
        // Without a deadline and never closed, the wait only ends with the unit.
        let _ = self.list.acquire_blocking(1, None);
        MutexGuard::new(self)
    }

    /// [`lock_blocking`](Self::lock_blocking) giving up after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = weft::sync::Mutex::new(0);
    /// let g = m.lock_timeout_blocking(Duration::from_secs(1)).unwrap();
    /// assert!(m.lock_timeout_blocking(Duration::from_millis(5)).is_err());
    /// drop(g);
    /// ```
    pub fn lock_timeout_blocking(&self, timeout: Duration) -> Result<MutexGuard<'_, T>, TimedOut> {
        let deadline = Instant::now().checked_add(timeout);
        match self.list.acquire_blocking(1, deadline) {
            Ok(()) => Ok(MutexGuard::new(self)),
            Err(_) => Err(TimedOut),
        }
    }

    /// The data, through `&mut self` (no locking needed: nobody else can
    /// hold the lock).
    ///
    /// ```
    /// let mut m = weft::sync::Mutex::new(1);
    /// *m.get_mut() = 2;
    /// assert_eq!(m.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

/// The future of [`Mutex::lock`]. Dropping it cancels the wait; a lock
/// already handed to it goes to the next waiter.
///
/// ```
/// weft::run(async {
///     let m = weft::sync::Mutex::new(());
///     let fut: weft::sync::Lock<'_, ()> = m.lock();
///     let _g = fut.await;
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Lock<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    state: Acquiring,
}

impl<T: ?Sized> fmt::Debug for Lock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("queued", &self.state.is_queued())
            .finish()
    }
}

impl<'a, T: ?Sized> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        let this = self.get_mut();
        // A mutex's list is never closed: `Err` cannot happen.
        match this.state.poll(&this.mutex.list, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => Poll::Ready(MutexGuard::new(this.mutex)),
        }
    }
}

impl<T: ?Sized> Drop for Lock<'_, T> {
    fn drop(&mut self) {
        self.state.cancel(&self.mutex.list);
    }
}

/// The future of [`Mutex::lock_owned`].
///
/// ```
/// use std::sync::Arc;
/// weft::run(async {
///     let m = Arc::new(weft::sync::Mutex::new(()));
///     let fut: weft::sync::LockOwned<()> = m.lock_owned();
///     let _g = fut.await;
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct LockOwned<T: ?Sized> {
    mutex: Arc<Mutex<T>>,
    state: Acquiring,
}

impl<T: ?Sized> fmt::Debug for LockOwned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockOwned")
            .field("queued", &self.state.is_queued())
            .finish()
    }
}

impl<T: ?Sized> Future for LockOwned<T> {
    type Output = OwnedMutexGuard<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<OwnedMutexGuard<T>> {
        let this = self.get_mut();
        // A mutex's list is never closed: `Err` cannot happen.
        match this.state.poll(&this.mutex.list, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => Poll::Ready(OwnedMutexGuard::new(this.mutex.clone())),
        }
    }
}

impl<T: ?Sized> Drop for LockOwned<T> {
    fn drop(&mut self) {
        self.state.cancel(&self.mutex.list);
    }
}

/// Access to a [`Mutex`]'s data; dropping it unlocks.
///
/// ```
/// let m = weft::sync::Mutex::new(vec![1]);
/// let mut g = m.try_lock().unwrap();
/// g.push(2);
/// assert_eq!(*g, [1, 2]);
/// ```
#[must_use = "dropping a guard unlocks at once"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// `Send`/`Sync` as `&mut T`: sending the guard sends exclusive access,
    /// sharing it shares `&T`.
    _marker: PhantomData<&'a mut T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// For a caller that just took the mutex's unit.
    fn new(mutex: &'a Mutex<T>) -> Self {
        MutexGuard {
            mutex,
            _marker: PhantomData,
        }
    }

    /// The mutex this guard locks (an associated function, so it does not
    /// shadow a method of `T`).
    ///
    /// ```
    /// use weft::sync::{Mutex, MutexGuard};
    /// let m = Mutex::new(0);
    /// let g = m.try_lock().unwrap();
    /// assert!(std::ptr::eq(MutexGuard::mutex(&g), &m));
    /// ```
    pub fn mutex(this: &Self) -> &'a Mutex<T> {
        this.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the mutex's only unit, so no other guard
        // exists; `&self` lends shared access for as long as it lives.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes the access exclusive.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.list.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// Access to an `Arc<`[`Mutex`]`>`'s data that can move into a spawned task;
/// dropping it unlocks.
///
/// ```
/// use std::sync::Arc;
/// let m = Arc::new(weft::sync::Mutex::new(1));
/// let g: weft::sync::OwnedMutexGuard<i32> = m.clone().try_lock_owned().unwrap();
/// assert_eq!(*g, 1);
/// ```
#[must_use = "dropping a guard unlocks at once"]
pub struct OwnedMutexGuard<T: ?Sized> {
    mutex: Arc<Mutex<T>>,
    /// `Send`/`Sync` as `Box<T>` on top of the `Arc`'s (`T: Send`): sharing
    /// the guard shares `&T`, so `Sync` needs `T: Sync`.
    _marker: PhantomData<Box<T>>,
}

impl<T: ?Sized> OwnedMutexGuard<T> {
    /// For a caller that just took the mutex's unit.
    fn new(mutex: Arc<Mutex<T>>) -> Self {
        OwnedMutexGuard {
            mutex,
            _marker: PhantomData,
        }
    }

    /// The mutex this guard locks.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use weft::sync::{Mutex, OwnedMutexGuard};
    /// let m = Arc::new(Mutex::new(0));
    /// let g = m.clone().try_lock_owned().unwrap();
    /// assert!(Arc::ptr_eq(OwnedMutexGuard::mutex(&g), &m));
    /// ```
    pub fn mutex(this: &Self) -> &Arc<Mutex<T>> {
        &this.mutex
    }
}

impl<T: ?Sized> Deref for OwnedMutexGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the mutex's only unit (see `MutexGuard`).
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the mutex's only unit, and `&mut self`
        // makes the access exclusive.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for OwnedMutexGuard<T> {
    fn drop(&mut self) {
        self.mutex.list.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn auto_traits() {
        assert_send_sync::<Mutex<Vec<u8>>>();
        assert_send_sync::<MutexGuard<'static, Vec<u8>>>();
        assert_send_sync::<OwnedMutexGuard<Vec<u8>>>();
        assert_send_sync::<Lock<'static, Vec<u8>>>();
        assert_send_sync::<LockOwned<Vec<u8>>>();
    }
}
