//! `Semaphore` and `BoundedSemaphore` (asyncio's), on the wait list.
//!
//! A permit is a unit of the list (`waitlist.rs`): acquiring takes units,
//! dropping a permit releases them (to the head waiter first: hand-off).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::error::{ReleaseError, TimedOut, TryAcquireError};
use crate::loom::const_fn_unless_loom;
use crate::waitlist::{Acquiring, Fail, WaitList, MAX_UNITS};
use weft_task::awaiting::Described;

/// What a task dump shows a task queued for permits.
static PERMITS_WAIT: Described = Described::of_kind("semaphore");

/// asyncio's `Semaphore`: a count of permits; [`acquire`](Self::acquire)
/// waits for one (FIFO) and returns a [`SemaphorePermit`] that gives it back
/// when dropped.
///
/// A task that releases and at once re-acquires queues behind the tasks
/// already waiting (the permit is handed to the first of them). A waiting
/// `acquire` dropped after a permit was handed to it (cancelled after it was
/// woken) passes the permit on to the next waiter.
///
/// ```
/// use std::sync::Arc;
/// use weft::sync::Semaphore;
///
/// weft::run(async {
///     let limit = Arc::new(Semaphore::new(2)); // at most 2 at a time
///     let mut tasks = Vec::new();
///     for i in 0..5 {
///         let limit = limit.clone();
///         tasks.push(weft::spawn(async move {
///             let _permit = limit.acquire().await;
///             i * 2
///         }));
///     }
///     let mut sum = 0;
///     for t in tasks {
///         sum += t.await.unwrap();
///     }
///     assert_eq!(sum, 20);
///     assert_eq!(limit.available_permits(), 2);
/// });
/// ```
pub struct Semaphore {
    list: WaitList,
    /// The most `BoundedSemaphore::release` may raise the count to (its
    /// initial value); `usize::MAX` for a plain semaphore, which never
    /// checks it.
    bound: usize,
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available_permits", &self.available_permits())
            .field("waiters", &self.list.has_waiters())
            .finish()
    }
}

impl Default for Semaphore {
    /// asyncio's default: one permit.
    fn default() -> Self {
        Semaphore::new(1)
    }
}

impl Semaphore {
    /// The most permits a semaphore holds; more saturate at this.
    ///
    /// ```
    /// use weft::sync::Semaphore;
    /// let sem = Semaphore::new(usize::MAX);
    /// assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
    /// ```
    pub const MAX_PERMITS: usize = MAX_UNITS;

    const_fn_unless_loom! {
        /// A semaphore with `permits` permits (at most
        /// [`MAX_PERMITS`](Self::MAX_PERMITS)). A `const fn`: usable in a `static`.
        ///
        /// ```
        /// let sem = weft::sync::Semaphore::new(3);
        /// assert_eq!(sem.available_permits(), 3);
        /// ```
        pub fn new(permits: usize) -> Self {
            Semaphore {
                list: WaitList::new(permits, ()),
                bound: usize::MAX,
            }
        }
    }

    /// The permits free now.
    ///
    /// ```
    /// let sem = weft::sync::Semaphore::new(2);
    /// let _p = sem.try_acquire().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.list.available()
    }

    /// asyncio's `locked()`: whether an `acquire` would wait now (no free
    /// permit, or someone already waiting).
    ///
    /// ```
    /// let sem = weft::sync::Semaphore::new(1);
    /// assert!(!sem.locked());
    /// let p = sem.try_acquire().unwrap();
    /// assert!(sem.locked());
    /// drop(p);
    /// assert!(!sem.locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.list.available() == 0 || self.list.has_waiters()
    }

    /// Waits (FIFO) for one permit. Dropping the future cancels the wait
    /// without losing a permit.
    ///
    /// ```
    /// weft::run(async {
    ///     let sem = weft::sync::Semaphore::new(1);
    ///     let permit = sem.acquire().await;
    ///     assert_eq!(sem.available_permits(), 0);
    ///     drop(permit);
    ///     assert_eq!(sem.available_permits(), 1);
    /// });
    /// ```
    pub fn acquire(&self) -> Acquire<'_> {
        self.acquire_many(1)
    }

    /// Waits (FIFO) for `n` permits at once, collecting them as they are
    /// released; the waiters behind it wait meanwhile. `n` of 0 is ready at
    /// once; `n` over [`MAX_PERMITS`](Self::MAX_PERMITS) never completes.
    ///
    /// ```
    /// weft::run(async {
    ///     let sem = weft::sync::Semaphore::new(3);
    ///     let permit = sem.acquire_many(3).await;
    ///     assert_eq!(permit.num_permits(), 3);
    ///     assert!(sem.locked());
    /// });
    /// ```
    pub fn acquire_many(&self, n: usize) -> Acquire<'_> {
        Acquire {
            sem: self,
            state: Acquiring::new(n, &PERMITS_WAIT),
        }
    }

    /// Takes one permit if one is free and nobody waits.
    ///
    /// ```
    /// let sem = weft::sync::Semaphore::new(1);
    /// let p = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_err());
    /// drop(p);
    /// assert!(sem.try_acquire().is_ok());
    /// ```
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody waits.
    ///
    /// ```
    /// let sem = weft::sync::Semaphore::new(2);
    /// assert!(sem.try_acquire_many(3).is_err());
    /// assert_eq!(sem.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    pub fn try_acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        match self.list.try_acquire(n) {
            Ok(()) => Ok(SemaphorePermit { sem: self, n }),
            Err(_) => Err(TryAcquireError),
        }
    }

    /// [`acquire`](Self::acquire) for a permit that owns a handle on the
    /// semaphore, so it can move into a spawned task.
    ///
    /// ```
    /// use std::sync::Arc;
    /// weft::run(async {
    ///     let sem = Arc::new(weft::sync::Semaphore::new(1));
    ///     let permit = sem.clone().acquire_owned().await;
    ///     weft::spawn(async move { drop(permit) }).await.unwrap();
    ///     assert_eq!(sem.available_permits(), 1);
    /// });
    /// ```
    pub fn acquire_owned(self: Arc<Self>) -> AcquireOwned {
        self.acquire_many_owned(1)
    }

    /// [`acquire_many`](Self::acquire_many) for an owned permit.
    ///
    /// ```
    /// use std::sync::Arc;
    /// weft::run(async {
    ///     let sem = Arc::new(weft::sync::Semaphore::new(2));
    ///     let permit = sem.clone().acquire_many_owned(2).await;
    ///     assert_eq!(permit.num_permits(), 2);
    /// });
    /// ```
    pub fn acquire_many_owned(self: Arc<Self>, n: usize) -> AcquireOwned {
        AcquireOwned {
            sem: self,
            state: Acquiring::new(n, &PERMITS_WAIT),
        }
    }

    /// [`try_acquire`](Self::try_acquire) for an owned permit.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(weft::sync::Semaphore::new(1));
    /// let p = sem.clone().try_acquire_owned().unwrap();
    /// assert!(sem.clone().try_acquire_owned().is_err());
    /// drop(p);
    /// ```
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// [`try_acquire_many`](Self::try_acquire_many) for an owned permit.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(weft::sync::Semaphore::new(2));
    /// assert_eq!(sem.clone().try_acquire_many_owned(2).unwrap().num_permits(), 2);
    /// ```
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        n: usize,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        match self.list.try_acquire(n) {
            Ok(()) => Ok(OwnedSemaphorePermit { sem: self, n }),
            Err(_) => Err(TryAcquireError),
        }
    }

    /// Blocks the calling thread (not a task: it would block its worker)
    /// until a permit is free, FIFO with the async waiters.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(weft::sync::Semaphore::new(0));
    /// let s = sem.clone();
    /// let t = std::thread::spawn(move || s.acquire_blocking().forget());
    /// sem.add_permits(1);
    /// t.join().unwrap();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn acquire_blocking(&self) -> SemaphorePermit<'_> {
        match self.list.acquire_blocking(1, None) {
            Ok(()) | Err(Fail::NoUnits | Fail::Closed) => {}
        }
        SemaphorePermit { sem: self, n: 1 }
    }

    /// [`acquire_blocking`](Self::acquire_blocking) giving up after `timeout`
    /// (nothing taken then).
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = weft::sync::Semaphore::new(1);
    /// let p = sem.acquire_timeout_blocking(Duration::from_secs(1)).unwrap();
    /// assert!(sem.acquire_timeout_blocking(Duration::from_millis(5)).is_err());
    /// drop(p);
    /// ```
    pub fn acquire_timeout_blocking(
        &self,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, TimedOut> {
        let deadline = Instant::now().checked_add(timeout);
        match self.list.acquire_blocking(1, deadline) {
            Ok(()) => Ok(SemaphorePermit { sem: self, n: 1 }),
            Err(_) => Err(TimedOut),
        }
    }

    /// Adds `n` permits, handing them to waiters first (saturates at
    /// [`MAX_PERMITS`](Self::MAX_PERMITS)).
    ///
    /// ```
    /// let sem = weft::sync::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        self.list.release(n);
    }

    /// asyncio's `release()`: adds one permit (waking the first waiter). Use
    /// it after [`SemaphorePermit::forget`], or instead of permits, as asyncio
    /// code does.
    ///
    /// ```
    /// let sem = weft::sync::Semaphore::new(1);
    /// sem.try_acquire().unwrap().forget();
    /// sem.release();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn release(&self) {
        self.list.release(1);
    }
}

/// The future of [`Semaphore::acquire`] / [`acquire_many`](Semaphore::acquire_many).
///
/// Dropping it cancels the wait; permits already handed to it go to the next
/// waiter.
///
/// ```
/// weft::run(async {
///     let sem = weft::sync::Semaphore::new(0);
///     let waiting = sem.acquire();
///     drop(waiting); // cancelled: nothing held, nothing lost
///     assert_eq!(sem.available_permits(), 0);
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    state: Acquiring,
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("permits", &self.state.units())
            .field("queued", &self.state.is_queued())
            .finish()
    }
}

impl<'a> Future for Acquire<'a> {
    type Output = SemaphorePermit<'a>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SemaphorePermit<'a>> {
        let this = self.get_mut();
        // A semaphore's list is never closed: `Err` cannot happen.
        match this.state.poll(&this.sem.list, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => Poll::Ready(SemaphorePermit {
                sem: this.sem,
                n: this.state.units(),
            }),
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        self.state.cancel(&self.sem.list);
    }
}

/// The future of [`Semaphore::acquire_owned`].
///
/// ```
/// use std::sync::Arc;
/// weft::run(async {
///     let sem = Arc::new(weft::sync::Semaphore::new(1));
///     let fut: weft::sync::AcquireOwned = sem.acquire_owned();
///     let _permit = fut.await;
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct AcquireOwned {
    sem: Arc<Semaphore>,
    state: Acquiring,
}

impl fmt::Debug for AcquireOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOwned")
            .field("permits", &self.state.units())
            .field("queued", &self.state.is_queued())
            .finish()
    }
}

impl Future for AcquireOwned {
    type Output = OwnedSemaphorePermit;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<OwnedSemaphorePermit> {
        let this = self.get_mut();
        // A semaphore's list is never closed: `Err` cannot happen.
        match this.state.poll(&this.sem.list, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => Poll::Ready(OwnedSemaphorePermit {
                sem: this.sem.clone(),
                n: this.state.units(),
            }),
        }
    }
}

impl Drop for AcquireOwned {
    fn drop(&mut self) {
        self.state.cancel(&self.sem.list);
    }
}

/// Permits held from a [`Semaphore`]; dropping it releases them.
///
/// ```
/// let sem = weft::sync::Semaphore::new(1);
/// {
///     let _p = sem.try_acquire().unwrap();
///     assert_eq!(sem.available_permits(), 0);
/// }
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[must_use = "dropping a permit releases it at once"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    n: usize,
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.n)
            .finish()
    }
}

impl SemaphorePermit<'_> {
    /// How many permits this holds.
    ///
    /// ```
    /// let sem = weft::sync::Semaphore::new(2);
    /// assert_eq!(sem.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.n
    }

    /// Keeps the permits taken: they are not released on drop (asyncio code
    /// that calls `release()` by hand does this).
    ///
    /// ```
    /// let sem = weft::sync::Semaphore::new(1);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        self.n = 0;
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.list.release(self.n);
    }
}

/// Permits held from an `Arc<`[`Semaphore`]`>`; dropping it releases them.
///
/// ```
/// use std::sync::Arc;
/// let sem = Arc::new(weft::sync::Semaphore::new(1));
/// let p: weft::sync::OwnedSemaphorePermit = sem.clone().try_acquire_owned().unwrap();
/// assert_eq!(p.num_permits(), 1);
/// drop(p);
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[must_use = "dropping a permit releases it at once"]
pub struct OwnedSemaphorePermit {
    sem: Arc<Semaphore>,
    n: usize,
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.n)
            .finish()
    }
}

impl OwnedSemaphorePermit {
    /// How many permits this holds.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(weft::sync::Semaphore::new(1));
    /// assert_eq!(sem.try_acquire_owned().unwrap().num_permits(), 1);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.n
    }

    /// The semaphore the permits come from.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(weft::sync::Semaphore::new(1));
    /// let p = sem.clone().try_acquire_owned().unwrap();
    /// assert!(Arc::ptr_eq(p.semaphore(), &sem));
    /// ```
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }

    /// Keeps the permits taken: they are not released on drop.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(weft::sync::Semaphore::new(1));
    /// sem.clone().try_acquire_owned().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        self.n = 0;
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        self.sem.list.release(self.n);
    }
}

/// asyncio's `BoundedSemaphore`: a [`Semaphore`] whose [`release`](Self::release)
/// refuses to raise the count past its initial value ([`ReleaseError`], not
/// a panic; the semaphore stays usable).
///
/// Permits returned by dropping a [`SemaphorePermit`] are always accepted
/// (they were taken from this semaphore): a `release` while permits are
/// held is checked against the count at that moment, so once they come back
/// the count can stand above the initial value (asyncio's `async with` would
/// raise on that exit instead; a drop cannot fail). The check and the
/// release are one atomic step.
///
/// ```
/// weft::run(async {
///     let sem = weft::sync::BoundedSemaphore::new(1);
///     sem.acquire().await.forget();
///     assert!(sem.release().is_ok());
///     assert!(sem.release().is_err()); // past the bound
///     assert_eq!(sem.available_permits(), 1);
/// });
/// ```
#[derive(Debug)]
// Transparent over `Semaphore` (whose `bound` field holds the bound), so an
// `Arc<BoundedSemaphore>` can be viewed as an `Arc<Semaphore>` for owned
// permits (`into_semaphore_arc`).
#[repr(transparent)]
pub struct BoundedSemaphore {
    sem: Semaphore,
}

impl Default for BoundedSemaphore {
    /// asyncio's default: one permit.
    fn default() -> Self {
        BoundedSemaphore::new(1)
    }
}

impl BoundedSemaphore {
    const_fn_unless_loom! {
        /// A bounded semaphore of `permits` permits (at most
        /// [`Semaphore::MAX_PERMITS`]), which is also its bound. A `const fn`.
        ///
        /// ```
        /// let sem = weft::sync::BoundedSemaphore::new(2);
        /// assert_eq!(sem.available_permits(), 2);
        /// ```
        pub fn new(permits: usize) -> Self {
            let permits = if permits > Semaphore::MAX_PERMITS {
                Semaphore::MAX_PERMITS
            } else {
                permits
            };
            BoundedSemaphore {
                sem: Semaphore {
                    list: WaitList::new(permits, ()),
                    bound: permits,
                },
            }
        }
    }

    /// The semaphore inside, for the methods this type does not repeat
    /// (`acquire_many`, `try_acquire_many`, ...). Its
    /// [`release`](Semaphore::release) and
    /// [`add_permits`](Semaphore::add_permits) do not check the bound.
    ///
    /// ```
    /// let sem = weft::sync::BoundedSemaphore::new(1);
    /// assert_eq!(sem.as_semaphore().available_permits(), 1);
    /// ```
    pub fn as_semaphore(&self) -> &Semaphore {
        &self.sem
    }

    /// The free permits now.
    ///
    /// ```
    /// let sem = weft::sync::BoundedSemaphore::new(1);
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.sem.available_permits()
    }

    /// asyncio's `locked()`.
    ///
    /// ```
    /// let sem = weft::sync::BoundedSemaphore::new(1);
    /// let _p = sem.try_acquire().unwrap();
    /// assert!(sem.locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.sem.locked()
    }

    /// Waits (FIFO) for one permit; see [`Semaphore::acquire`].
    ///
    /// ```
    /// weft::run(async {
    ///     let sem = weft::sync::BoundedSemaphore::new(1);
    ///     let _p = sem.acquire().await;
    ///     assert!(sem.locked());
    /// });
    /// ```
    pub fn acquire(&self) -> Acquire<'_> {
        self.sem.acquire()
    }

    /// Takes one permit if one is free and nobody waits.
    ///
    /// ```
    /// let sem = weft::sync::BoundedSemaphore::new(1);
    /// assert!(sem.try_acquire().is_ok());
    /// ```
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.sem.try_acquire()
    }

    /// [`acquire`](Self::acquire) for a permit that owns a handle on the
    /// semaphore, so it can move into a spawned task.
    ///
    /// ```
    /// use std::sync::Arc;
    /// weft::run(async {
    ///     let sem = Arc::new(weft::sync::BoundedSemaphore::new(1));
    ///     let permit = sem.clone().acquire_owned().await;
    ///     weft::spawn(async move { drop(permit) }).await.unwrap();
    ///     assert_eq!(sem.available_permits(), 1);
    /// });
    /// ```
    pub fn acquire_owned(self: Arc<Self>) -> AcquireOwned {
        Self::into_semaphore_arc(self).acquire_owned()
    }

    /// [`try_acquire`](Self::try_acquire) for an owned permit.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(weft::sync::BoundedSemaphore::new(1));
    /// let p = sem.clone().try_acquire_owned().unwrap();
    /// assert!(sem.clone().try_acquire_owned().is_err());
    /// drop(p);
    /// assert!(sem.release().is_err()); // the permit came back; still bounded
    /// ```
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        Self::into_semaphore_arc(self).try_acquire_owned()
    }

    /// The same allocation, seen as the semaphore inside.
    fn into_semaphore_arc(this: Arc<Self>) -> Arc<Semaphore> {
        // `BoundedSemaphore` is `repr(transparent)` over `Semaphore`: one
        // size and alignment, and the same drop glue (no `Drop` on the
        // wrapper), so the allocation is valid and dropped alike as either.
        // SAFETY: that layout identity is what `Arc::from_raw` requires of a
        // pointer from another type's `Arc::into_raw`.
        unsafe { Arc::from_raw(Arc::into_raw(this).cast::<Semaphore>()) }
    }

    /// Blocks the calling thread for one permit; see
    /// [`Semaphore::acquire_blocking`].
    ///
    /// ```
    /// let sem = weft::sync::BoundedSemaphore::new(1);
    /// let _p = sem.acquire_blocking();
    /// ```
    pub fn acquire_blocking(&self) -> SemaphorePermit<'_> {
        self.sem.acquire_blocking()
    }

    /// asyncio's `release()`: adds one permit, or fails with
    /// [`ReleaseError`] (changing nothing) if that would exceed the initial
    /// value.
    ///
    /// ```
    /// let sem = weft::sync::BoundedSemaphore::new(1);
    /// sem.try_acquire().unwrap().forget();
    /// sem.release().unwrap();
    /// assert!(sem.release().is_err());
    /// ```
    pub fn release(&self) -> Result<(), ReleaseError> {
        // The semaphore's value is its free units plus those already handed
        // to the head waiter (the only partial holder); the list checks it
        // against the bound in the same atomic step that adds the permit, so
        // a permit dropped at the same moment cannot slip in between.
        if self.sem.list.release_within(self.sem.bound) {
            Ok(())
        } else {
            Err(ReleaseError)
        }
    }
}
