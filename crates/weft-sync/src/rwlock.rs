//! `RwLock<T>`, on the wait list with [`MAX_READS`] units: a reader takes
//! one, a writer takes them all. Because the list is FIFO and a head writer
//! collects units as readers release them while the readers queued behind it
//! wait, the lock is write-preferring and fair (as tokio's is).

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::error::TryLockError;
use crate::loom::const_fn_unless_loom;
use crate::waitlist::{Acquiring, WaitList};
use weft_task::awaiting::Described;

/// What a task dump shows a task queued to read.
static READ_WAIT: Described = Described::of_kind("rwlock read");
/// What a task dump shows a task queued to write.
static WRITE_WAIT: Described = Described::of_kind("rwlock write");

/// The most readers at once (a writer takes this many units).
const MAX_READS: usize = (u32::MAX >> 3) as usize;

/// An async reader-writer lock holding the data it guards: many readers or
/// one writer, served in FIFO order (write-preferring: readers that arrive
/// after a waiting writer wait behind it).
///
/// Every `read`/`write` future is cancellable: dropped while waiting, even
/// after its turn came, it passes what it was given on.
///
/// ```
/// use std::sync::Arc;
/// use weft::sync::RwLock;
///
/// weft::run(async {
///     let config = Arc::new(RwLock::new(String::from("v1")));
///     {
///         let a = config.read().await;
///         let b = config.read().await; // readers share
///         assert_eq!(*a, *b);
///     }
///     *config.write().await = String::from("v2");
///     assert_eq!(*config.read().await, "v2");
/// });
/// ```
pub struct RwLock<T: ?Sized> {
    list: WaitList,
    data: UnsafeCell<T>,
}

// SAFETY: readers on several threads share `&T` (needs `T: Sync`); a writer
// gets `&mut T` on whichever thread holds the guard (needs `T: Send`). The
// wait list's units make readers and a writer mutually exclusive.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(guard) => d.field("data", &&*guard),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T> RwLock<T> {
    const_fn_unless_loom! {
        /// An unlocked lock holding `value`. A `const fn`: usable in a `static`.
        ///
        /// ```
        /// let l = weft::sync::RwLock::new(1);
        /// assert_eq!(*l.try_read().unwrap(), 1);
        /// ```
        pub fn new(value: T) -> Self {
            RwLock {
                list: WaitList::new(MAX_READS, ()),
                data: UnsafeCell::new(value),
            }
        }
    }

    /// The data, consuming the lock.
    ///
    /// ```
    /// let l = weft::sync::RwLock::new(3);
    /// assert_eq!(l.into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Waits (FIFO) for shared access.
    ///
    /// ```
    /// weft::run(async {
    ///     let l = weft::sync::RwLock::new(5);
    ///     assert_eq!(*l.read().await, 5);
    /// });
    /// ```
    pub fn read(&self) -> Read<'_, T> {
        Read {
            lock: self,
            state: Acquiring::new(1, &READ_WAIT),
        }
    }

    /// Waits (FIFO) for exclusive access.
    ///
    /// ```
    /// weft::run(async {
    ///     let l = weft::sync::RwLock::new(5);
    ///     *l.write().await += 1;
    ///     assert_eq!(*l.read().await, 6);
    /// });
    /// ```
    pub fn write(&self) -> Write<'_, T> {
        Write {
            lock: self,
            state: Acquiring::new(MAX_READS, &WRITE_WAIT),
        }
    }

    /// Shared access now, if no writer holds or waits for the lock.
    ///
    /// ```
    /// let l = weft::sync::RwLock::new(0);
    /// let _r = l.try_read().unwrap();
    /// assert!(l.try_read().is_ok());
    /// assert!(l.try_write().is_err());
    /// ```
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        match self.list.try_acquire(1) {
            Ok(()) => Ok(RwLockReadGuard::new(self)),
            Err(_) => Err(TryLockError),
        }
    }

    /// Exclusive access now, if nobody holds or waits for the lock.
    ///
    /// ```
    /// let l = weft::sync::RwLock::new(0);
    /// let w = l.try_write().unwrap();
    /// assert!(l.try_read().is_err());
    /// drop(w);
    /// ```
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        match self.list.try_acquire(MAX_READS) {
            Ok(()) => Ok(RwLockWriteGuard::new(self)),
            Err(_) => Err(TryLockError),
        }
    }

    /// [`read`](Self::read) for a guard owning a handle on the lock.
    ///
    /// ```
    /// use std::sync::Arc;
    /// weft::run(async {
    ///     let l = Arc::new(weft::sync::RwLock::new(1));
    ///     let r = l.clone().read_owned().await;
    ///     assert_eq!(weft::spawn(async move { *r }).await.unwrap(), 1);
    /// });
    /// ```
    pub fn read_owned(self: Arc<Self>) -> ReadOwned<T> {
        ReadOwned {
            lock: self,
            state: Acquiring::new(1, &READ_WAIT),
        }
    }

    /// [`write`](Self::write) for a guard owning a handle on the lock.
    ///
    /// ```
    /// use std::sync::Arc;
    /// weft::run(async {
    ///     let l = Arc::new(weft::sync::RwLock::new(1));
    ///     let mut w = l.clone().write_owned().await;
    ///     weft::spawn(async move { *w = 2 }).await.unwrap();
    ///     assert_eq!(*l.read().await, 2);
    /// });
    /// ```
    pub fn write_owned(self: Arc<Self>) -> WriteOwned<T> {
        WriteOwned {
            lock: self,
            state: Acquiring::new(MAX_READS, &WRITE_WAIT),
        }
    }

    /// [`try_read`](Self::try_read) for an owned guard.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let l = Arc::new(weft::sync::RwLock::new(1));
    /// assert_eq!(*l.try_read_owned().unwrap(), 1);
    /// ```
    pub fn try_read_owned(self: Arc<Self>) -> Result<OwnedRwLockReadGuard<T>, TryLockError> {
        match self.list.try_acquire(1) {
            Ok(()) => Ok(OwnedRwLockReadGuard::new(self)),
            Err(_) => Err(TryLockError),
        }
    }

    /// [`try_write`](Self::try_write) for an owned guard.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let l = Arc::new(weft::sync::RwLock::new(1));
    /// *l.clone().try_write_owned().unwrap() = 2;
    /// assert_eq!(*l.try_read().unwrap(), 2);
    /// ```
    pub fn try_write_owned(self: Arc<Self>) -> Result<OwnedRwLockWriteGuard<T>, TryLockError> {
        match self.list.try_acquire(MAX_READS) {
            Ok(()) => Ok(OwnedRwLockWriteGuard::new(self)),
            Err(_) => Err(TryLockError),
        }
    }

    /// Blocks the calling thread (not a task) for shared access.
    ///
    /// ```
    /// let l = weft::sync::RwLock::new(1);
    /// assert_eq!(*l.read_blocking(), 1);
    /// ```
    pub fn read_blocking(&self) -> RwLockReadGuard<'_, T> {
        // Without a deadline and never closed, the wait only ends with the unit.
        let _ = self.list.acquire_blocking(1, None);
        RwLockReadGuard::new(self)
    }

    /// Blocks the calling thread (not a task) for exclusive access.
    ///
    /// ```
    /// let l = weft::sync::RwLock::new(1);
    /// *l.write_blocking() = 2;
    /// assert_eq!(*l.read_blocking(), 2);
    /// ```
    pub fn write_blocking(&self) -> RwLockWriteGuard<'_, T> {
        // Without a deadline and never closed, the wait only ends with the units.
        let _ = self.list.acquire_blocking(MAX_READS, None);
        RwLockWriteGuard::new(self)
    }

    /// The data, through `&mut self` (nobody else can hold the lock).
    ///
    /// ```
    /// let mut l = weft::sync::RwLock::new(1);
    /// *l.get_mut() = 2;
    /// assert_eq!(l.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

/// The future of [`RwLock::read`]; dropping it cancels the wait.
///
/// ```
/// weft::run(async {
///     let l = weft::sync::RwLock::new(());
///     let fut: weft::sync::Read<'_, ()> = l.read();
///     let _r = fut.await;
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Read<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    state: Acquiring,
}

/// The future of [`RwLock::write`]; dropping it cancels the wait.
///
/// ```
/// weft::run(async {
///     let l = weft::sync::RwLock::new(());
///     let fut: weft::sync::Write<'_, ()> = l.write();
///     let _w = fut.await;
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Write<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    state: Acquiring,
}

/// The future of [`RwLock::read_owned`]; dropping it cancels the wait.
///
/// ```
/// use std::sync::Arc;
/// weft::run(async {
///     let l = Arc::new(weft::sync::RwLock::new(()));
///     let fut: weft::sync::ReadOwned<()> = l.read_owned();
///     let _r = fut.await;
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct ReadOwned<T: ?Sized> {
    lock: Arc<RwLock<T>>,
    state: Acquiring,
}

/// The future of [`RwLock::write_owned`]; dropping it cancels the wait.
///
/// ```
/// use std::sync::Arc;
/// weft::run(async {
///     let l = Arc::new(weft::sync::RwLock::new(()));
///     let fut: weft::sync::WriteOwned<()> = l.write_owned();
///     let _w = fut.await;
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct WriteOwned<T: ?Sized> {
    lock: Arc<RwLock<T>>,
    state: Acquiring,
}

/// The four futures differ only in how they hold the lock and which guard
/// they make.
macro_rules! rwlock_future {
    ($name:ident, [$($lt:lifetime)?], $guard:ty, |$this:ident| $make:expr) => {
        impl<$($lt,)? T: ?Sized> fmt::Debug for $name<$($lt,)? T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("queued", &self.state.is_queued())
                    .finish()
            }
        }

        impl<$($lt,)? T: ?Sized> Future for $name<$($lt,)? T> {
            type Output = $guard;

            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<$guard> {
                let $this = self.get_mut();
                // An rwlock's list is never closed: `Err` cannot happen.
                match $this.state.poll(&$this.lock.list, cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(_) => Poll::Ready($make),
                }
            }
        }

        impl<$($lt,)? T: ?Sized> Drop for $name<$($lt,)? T> {
            fn drop(&mut self) {
                self.state.cancel(&self.lock.list);
            }
        }
    };
}

rwlock_future!(Read, ['a], RwLockReadGuard<'a, T>, |this| RwLockReadGuard::new(this.lock));
rwlock_future!(Write, ['a], RwLockWriteGuard<'a, T>, |this| RwLockWriteGuard::new(this.lock));
rwlock_future!(ReadOwned, [], OwnedRwLockReadGuard<T>, |this| {
    OwnedRwLockReadGuard::new(this.lock.clone())
});
rwlock_future!(WriteOwned, [], OwnedRwLockWriteGuard<T>, |this| {
    OwnedRwLockWriteGuard::new(this.lock.clone())
});

/// Shared access to an [`RwLock`]'s data; dropping it releases it.
///
/// ```
/// let l = weft::sync::RwLock::new(vec![1]);
/// let r: weft::sync::RwLockReadGuard<'_, Vec<i32>> = l.try_read().unwrap();
/// assert_eq!(r.len(), 1);
/// ```
#[must_use = "dropping a guard unlocks at once"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    /// `Send`/`Sync` as `&T`.
    _marker: PhantomData<&'a T>,
}

/// Exclusive access to an [`RwLock`]'s data; dropping it releases it.
///
/// ```
/// let l = weft::sync::RwLock::new(vec![1]);
/// let mut w: weft::sync::RwLockWriteGuard<'_, Vec<i32>> = l.try_write().unwrap();
/// w.push(2);
/// ```
#[must_use = "dropping a guard unlocks at once"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    /// `Send`/`Sync` as `&mut T`.
    _marker: PhantomData<&'a mut T>,
}

/// Shared access to an `Arc<`[`RwLock`]`>`'s data, movable into a task.
///
/// ```
/// use std::sync::Arc;
/// let l = Arc::new(weft::sync::RwLock::new(1));
/// let r: weft::sync::OwnedRwLockReadGuard<i32> = l.try_read_owned().unwrap();
/// assert_eq!(*r, 1);
/// ```
#[must_use = "dropping a guard unlocks at once"]
pub struct OwnedRwLockReadGuard<T: ?Sized> {
    lock: Arc<RwLock<T>>,
    _marker: PhantomData<Box<T>>,
}

/// Exclusive access to an `Arc<`[`RwLock`]`>`'s data, movable into a task.
///
/// ```
/// use std::sync::Arc;
/// let l = Arc::new(weft::sync::RwLock::new(1));
/// let mut w: weft::sync::OwnedRwLockWriteGuard<i32> = l.try_write_owned().unwrap();
/// *w = 2;
/// ```
#[must_use = "dropping a guard unlocks at once"]
pub struct OwnedRwLockWriteGuard<T: ?Sized> {
    lock: Arc<RwLock<T>>,
    _marker: PhantomData<Box<T>>,
}

/// Constructor, `Deref`, `Drop` (releasing `$units`) and formatting of a guard.
macro_rules! rwlock_guard {
    ($name:ident, [$($lt:lifetime)?], $lock:ty, $units:expr) => {
        impl<$($lt,)? T: ?Sized> $name<$($lt,)? T> {
            /// For a caller that just took `$units` units of the lock.
            fn new(lock: $lock) -> Self {
                $name {
                    lock,
                    _marker: PhantomData,
                }
            }
        }

        impl<$($lt,)? T: ?Sized> Deref for $name<$($lt,)? T> {
            type Target = T;

            fn deref(&self) -> &T {
                // SAFETY: the guard holds at least one unit, so no writer
                // guard exists (a writer holds every unit); shared access
                // for as long as `&self` lives.
                unsafe { &*self.lock.data.get() }
            }
        }

        impl<$($lt,)? T: ?Sized> Drop for $name<$($lt,)? T> {
            fn drop(&mut self) {
                self.lock.list.release($units);
            }
        }

        impl<$($lt,)? T: ?Sized + fmt::Debug> fmt::Debug for $name<$($lt,)? T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }

        impl<$($lt,)? T: ?Sized + fmt::Display> fmt::Display for $name<$($lt,)? T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&**self, f)
            }
        }
    };
}

rwlock_guard!(RwLockReadGuard, ['a], &'a RwLock<T>, 1);
rwlock_guard!(RwLockWriteGuard, ['a], &'a RwLock<T>, MAX_READS);
rwlock_guard!(OwnedRwLockReadGuard, [], Arc<RwLock<T>>, 1);
rwlock_guard!(OwnedRwLockWriteGuard, [], Arc<RwLock<T>>, MAX_READS);

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: a write guard holds every unit, so no other guard exists,
        // and `&mut self` makes the access exclusive.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedRwLockWriteGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `RwLockWriteGuard`.
        unsafe { &mut *self.lock.data.get() }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use futures_util::task::noop_waker_ref;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn auto_traits() {
        assert_send_sync::<RwLock<Vec<u8>>>();
        assert_send_sync::<RwLockReadGuard<'static, Vec<u8>>>();
        assert_send_sync::<RwLockWriteGuard<'static, Vec<u8>>>();
        assert_send_sync::<OwnedRwLockReadGuard<Vec<u8>>>();
        assert_send_sync::<OwnedRwLockWriteGuard<Vec<u8>>>();
        assert_send_sync::<Read<'static, Vec<u8>>>();
        assert_send_sync::<WriteOwned<Vec<u8>>>();
    }

    #[test]
    fn a_waiting_writer_blocks_later_readers_and_gets_the_lock_first() {
        let l = RwLock::new(0);
        let mut cx = Context::from_waker(noop_waker_ref());
        let r1 = l.try_read().unwrap();
        let mut w = Box::pin(l.write());
        assert!(w.as_mut().poll(&mut cx).is_pending());
        // Write-preferring: a new reader queues behind the writer.
        assert!(l.try_read().is_err());
        let mut r2 = Box::pin(l.read());
        assert!(r2.as_mut().poll(&mut cx).is_pending());
        drop(r1);
        let Poll::Ready(mut g) = w.as_mut().poll(&mut cx) else {
            panic!("writer not served first");
        };
        *g = 1;
        assert!(r2.as_mut().poll(&mut cx).is_pending());
        drop(g);
        let Poll::Ready(r) = r2.as_mut().poll(&mut cx) else {
            panic!("reader not served after the writer");
        };
        assert_eq!(*r, 1);
    }

    #[test]
    fn a_cancelled_writer_hands_its_partial_units_to_the_readers_behind() {
        let l = RwLock::new(0);
        let mut cx = Context::from_waker(noop_waker_ref());
        let r1 = l.try_read().unwrap();
        let mut w = Box::pin(l.write());
        assert!(w.as_mut().poll(&mut cx).is_pending());
        let mut r2 = Box::pin(l.read());
        assert!(r2.as_mut().poll(&mut cx).is_pending());
        drop(w); // holds MAX_READS - 1 units now; they go to r2
        assert!(r2.as_mut().poll(&mut cx).is_ready());
        drop(r1);
        drop(r2);
        assert!(l.try_write().is_ok());
    }
}
