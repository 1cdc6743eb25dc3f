//! `Condition` (asyncio's), bound to a [`Mutex`]: waiters queue on the wait
//! list in notify style, one notification each.
//!
//! # `wait` and cancellation
//!
//! asyncio's `wait()` releases the lock, waits, and re-acquires the lock
//! before it returns, even when it is cancelled (its `finally` awaits the
//! lock). A Rust future cannot await in its destructor, so the guard moves
//! into the [`ConditionWait`] future instead: it is released when the wait
//! starts and a new guard is returned on success. A wait future that is
//! dropped (cancelled) simply does not hold the lock: nothing is held, and
//! nothing can be left locked by accident. Code that must hold the lock again
//! after a cancellation (asyncio's `try: await cond.wait() except
//! CancelledError:` with the lock held) uses
//! [`wait_catch_cancel`](Condition::wait_catch_cancel), which catches the
//! cancellation, re-locks, and returns the guard with the `Cancelled`.
//!
//! A waiter dropped after it was notified (in the queue, or while
//! re-acquiring the lock) passes its notification to the next waiter, so no
//! notification is lost.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use weft_task::{catch_cancel, Cancelled};

use crate::error::{NotLockedError, WrongMutexError};
use crate::mutex::{Lock, Mutex, MutexGuard};
use crate::waitlist::{Left, WaitList, Waiter};

/// asyncio's `Condition`: tasks wait, with a [`Mutex`] held, for another
/// task to [`notify`](Self::notify) them.
///
/// ```
/// use std::sync::Arc;
/// use weft::sync::Condition;
///
/// weft::run(async {
///     let ready = Arc::new(Condition::new(false));
///     let r = ready.clone();
///     let waiter = weft::spawn(async move {
///         let guard = r.lock().await;
///         let guard = r.wait_for(guard, |ready| *ready).await.unwrap();
///         *guard
///     });
///     weft::yield_now().await;
///     let mut guard = ready.lock().await;
///     *guard = true;
///     ready.notify_all().unwrap();
///     drop(guard);
///     assert!(waiter.await.unwrap());
/// });
/// ```
pub struct Condition<T: ?Sized> {
    mutex: Arc<Mutex<T>>,
    list: WaitList,
}

impl<T: ?Sized> fmt::Debug for Condition<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("locked", &self.mutex.locked())
            .field("waiters", &self.list.has_waiters())
            .finish()
    }
}

impl<T: Default> Default for Condition<T> {
    fn default() -> Self {
        Condition::new(T::default())
    }
}

impl<T> Condition<T> {
    /// A condition with its own new mutex holding `value` (asyncio's
    /// `Condition()`).
    ///
    /// ```
    /// let cond = weft::sync::Condition::new(0);
    /// assert!(!cond.locked());
    /// ```
    pub fn new(value: T) -> Self {
        Condition::with_mutex(Arc::new(Mutex::new(value)))
    }
}

impl<T: ?Sized> Condition<T> {
    /// A condition bound to an existing mutex (asyncio's `Condition(lock)`):
    /// several conditions may share one mutex.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use weft::sync::{Condition, Mutex};
    /// let m = Arc::new(Mutex::new(Vec::<u8>::new()));
    /// let not_empty = Condition::with_mutex(m.clone());
    /// let not_full = Condition::with_mutex(m);
    /// assert!(Arc::ptr_eq(not_empty.mutex(), not_full.mutex()));
    /// ```
    pub fn with_mutex(mutex: Arc<Mutex<T>>) -> Self {
        Condition {
            mutex,
            list: WaitList::new(0, ()),
        }
    }

    /// The mutex this condition is bound to.
    ///
    /// ```
    /// let cond = weft::sync::Condition::new(1);
    /// assert_eq!(*cond.mutex().try_lock().unwrap(), 1);
    /// ```
    pub fn mutex(&self) -> &Arc<Mutex<T>> {
        &self.mutex
    }

    /// Locks the bound mutex (asyncio's `acquire()` / `async with cond`).
    ///
    /// ```
    /// weft::run(async {
    ///     let cond = weft::sync::Condition::new(1);
    ///     assert_eq!(*cond.lock().await, 1);
    /// });
    /// ```
    pub fn lock(&self) -> Lock<'_, T> {
        self.mutex.lock()
    }

    /// Whether the bound mutex is locked.
    ///
    /// ```
    /// let cond = weft::sync::Condition::new(());
    /// let g = cond.mutex().try_lock().unwrap();
    /// assert!(cond.locked());
    /// drop(g);
    /// ```
    pub fn locked(&self) -> bool {
        self.mutex.locked()
    }

    fn owns(&self, guard: &MutexGuard<'_, T>) -> bool {
        std::ptr::eq(MutexGuard::mutex(guard), &*self.mutex)
    }

    /// Releases the lock held by `guard`, waits for a notification, locks
    /// again and returns the new guard. FIFO among waiters.
    ///
    /// Fails at once, giving the guard back, if `guard` is of another mutex.
    /// Dropping the future (cancellation) leaves the lock *not* held; see the
    /// type's docs and [`wait_catch_cancel`](Self::wait_catch_cancel).
    ///
    /// ```
    /// use std::sync::Arc;
    /// weft::run(async {
    ///     let cond = Arc::new(weft::sync::Condition::new(0));
    ///     let c = cond.clone();
    ///     let waiter = weft::spawn(async move {
    ///         let g = c.lock().await;
    ///         let g = c.wait(g).await.unwrap(); // lock held again here
    ///         *g
    ///     });
    ///     while !cond.has_waiters() {
    ///         weft::yield_now().await;
    ///     }
    ///     let mut g = cond.lock().await;
    ///     *g = 5;
    ///     cond.notify(1).unwrap();
    ///     drop(g);
    ///     assert_eq!(waiter.await.unwrap(), 5);
    /// });
    /// ```
    pub fn wait<'a>(&'a self, guard: MutexGuard<'a, T>) -> ConditionWait<'a, T> {
        ConditionWait {
            cond: self,
            state: WaitState::Start(Some(guard)),
        }
    }

    /// asyncio's `wait_for(predicate)`: waits until `predicate` (called with
    /// the lock held, first before any wait) returns true, and returns the
    /// guard.
    ///
    /// ```
    /// use std::sync::Arc;
    /// weft::run(async {
    ///     let cond = Arc::new(weft::sync::Condition::new(0));
    ///     let c = cond.clone();
    ///     let waiter = weft::spawn(async move {
    ///         let g = c.lock().await;
    ///         *c.wait_for(g, |n| *n >= 3).await.unwrap()
    ///     });
    ///     for _ in 0..3 {
    ///         let mut g = cond.lock().await;
    ///         *g += 1;
    ///         cond.notify_all().unwrap();
    ///         drop(g);
    ///         weft::yield_now().await;
    ///     }
    ///     assert_eq!(waiter.await.unwrap(), 3);
    /// });
    /// ```
    pub async fn wait_for<'a, F>(
        &'a self,
        mut guard: MutexGuard<'a, T>,
        mut predicate: F,
    ) -> Result<MutexGuard<'a, T>, WrongMutexError<MutexGuard<'a, T>>>
    where
        F: FnMut(&mut T) -> bool,
    {
        if !self.owns(&guard) {
            return Err(WrongMutexError::new(guard));
        }
        while !predicate(&mut guard) {
            guard = self.wait(guard).await?;
        }
        Ok(guard)
    }

    /// [`wait`](Self::wait) that, if the task is cancelled while waiting
    /// (or while re-locking), catches the cancellation (as
    /// [`catch_cancel`] does), locks again, and
    /// returns the guard with `Err(Cancelled)`: asyncio's rule that `wait`
    /// holds the lock when it returns, even by cancellation. Re-raise with
    /// [`Cancelled::raise`] after cleaning up, or carry on.
    ///
    /// ```
    /// use std::sync::Arc;
    /// weft::run(async {
    ///     let cond = Arc::new(weft::sync::Condition::new(0));
    ///     let c = cond.clone();
    ///     let task = weft::spawn(async move {
    ///         let g = c.lock().await;
    ///         let (g, outcome) = c.wait_catch_cancel(g).await.unwrap();
    ///         assert!(outcome.is_err()); // cancelled, but the lock is held
    ///         assert!(c.locked());
    ///         drop(g);
    ///         "cleaned up"
    ///     });
    ///     while !cond.has_waiters() {
    ///         weft::yield_now().await;
    ///     }
    ///     task.cancel();
    ///     assert_eq!(task.await.unwrap(), "cleaned up");
    /// });
    /// ```
    pub async fn wait_catch_cancel<'a>(
        &'a self,
        guard: MutexGuard<'a, T>,
    ) -> Result<(MutexGuard<'a, T>, Result<(), Cancelled>), WrongMutexError<MutexGuard<'a, T>>>
    {
        if !self.owns(&guard) {
            return Err(WrongMutexError::new(guard));
        }
        let mut cancelled = match catch_cancel(self.wait(guard)).await {
            Ok(r) => return r.map(|g| (g, Ok(()))),
            Err(c) => c,
        };
        // The wait future was dropped (the lock is not held): lock again,
        // absorbing further cancellations as asyncio's `finally` does.
        loop {
            match catch_cancel(self.mutex.lock()).await {
                Ok(g) => return Ok((g, Err(cancelled))),
                Err(c) => cancelled = c,
            }
        }
    }

    /// [`wait`](Self::wait) for a plain thread (not a task): blocks until
    /// notified, then locks again.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let cond = Arc::new(weft::sync::Condition::new(false));
    /// let c = cond.clone();
    /// let t = std::thread::spawn(move || {
    ///     let mut g = c.mutex().lock_blocking();
    ///     while !*g {
    ///         g = c.wait_blocking(g).unwrap();
    ///     }
    /// });
    /// let mut g = cond.mutex().lock_blocking();
    /// *g = true;
    /// cond.notify_all().unwrap();
    /// drop(g);
    /// t.join().unwrap();
    /// ```
    pub fn wait_blocking<'a>(
        &'a self,
        guard: MutexGuard<'a, T>,
    ) -> Result<MutexGuard<'a, T>, WrongMutexError<MutexGuard<'a, T>>> {
        if !self.owns(&guard) {
            return Err(WrongMutexError::new(guard));
        }
        let mut w = Waiter::new(1);
        {
            let mut locked = self.list.lock();
            locked.enqueue(&mut w, None);
            // Unlock the mutex only once queued, so a notify that follows
            // the unlock finds us. (Lock order: this list, then the mutex's.)
            drop(guard);
            // Never closed, no deadline: the wait ends notified.
            let _ = locked.wait_thread(&mut w, None);
        }
        Ok(self.mutex.lock_blocking())
    }

    /// Wakes up to `n` waiters (FIFO), which then re-lock in turn; returns how
    /// many were woken. Fails if the mutex is not locked (asyncio's
    /// `RuntimeError`; like asyncio it checks that the lock is held, not by
    /// whom).
    ///
    /// ```
    /// weft::run(async {
    ///     let cond = weft::sync::Condition::new(());
    ///     let g = cond.lock().await;
    ///     assert_eq!(cond.notify(1).unwrap(), 0); // nobody waits
    ///     drop(g);
    ///     assert!(cond.notify(1).is_err());
    /// });
    /// ```
    pub fn notify(&self, n: usize) -> Result<usize, NotLockedError> {
        if !self.mutex.locked() {
            return Err(NotLockedError);
        }
        Ok(self.list.lock().notify(n))
    }

    /// Wakes every waiter; fails if the mutex is not locked.
    ///
    /// ```
    /// let cond = weft::sync::Condition::new(());
    /// let _g = cond.mutex().try_lock().unwrap();
    /// assert_eq!(cond.notify_all().unwrap(), 0);
    /// ```
    pub fn notify_all(&self) -> Result<usize, NotLockedError> {
        if !self.mutex.locked() {
            return Err(NotLockedError);
        }
        Ok(self.list.lock().notify_all())
    }

    /// Whether any task or thread waits for a notification now.
    ///
    /// ```
    /// let cond = weft::sync::Condition::new(());
    /// assert!(!cond.has_waiters());
    /// ```
    pub fn has_waiters(&self) -> bool {
        self.list.has_waiters()
    }
}

enum WaitState<'a, T: ?Sized> {
    /// Not polled yet: still holds the caller's guard.
    Start(Option<MutexGuard<'a, T>>),
    /// Queued for a notification; the lock released.
    Waiting(Waiter),
    /// Notified; locking again.
    Relocking(Lock<'a, T>),
    /// Returned.
    Done,
}

/// The future of [`Condition::wait`]: `Ok(guard)` once notified and locked
/// again, `Err` (with the guard) at once for a guard of another mutex.
///
/// Dropping it cancels the wait: the lock is not held afterwards, and a
/// notification it had received goes to the next waiter.
///
/// ```
/// weft::run(async {
///     let cond = weft::sync::Condition::new(());
///     let g = cond.lock().await;
///     let fut: weft::sync::ConditionWait<'_, ()> = cond.wait(g);
///     drop(fut); // never polled: the guard inside is dropped, unlocking
///     assert!(!cond.locked());
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct ConditionWait<'a, T: ?Sized> {
    cond: &'a Condition<T>,
    state: WaitState<'a, T>,
}

impl<T: ?Sized> fmt::Debug for ConditionWait<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            WaitState::Start(_) => "start",
            WaitState::Waiting(_) => "waiting",
            WaitState::Relocking(_) => "relocking",
            WaitState::Done => "done",
        };
        f.debug_struct("ConditionWait")
            .field("state", &state)
            .finish()
    }
}

impl<'a, T: ?Sized> Future for ConditionWait<'a, T> {
    type Output = Result<MutexGuard<'a, T>, WrongMutexError<MutexGuard<'a, T>>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let cond = this.cond;
        loop {
            match &mut this.state {
                WaitState::Start(guard) => {
                    let Some(guard) = guard.take() else {
                        this.state = WaitState::Done;
                        return Poll::Pending;
                    };
                    if !cond.owns(&guard) {
                        this.state = WaitState::Done;
                        return Poll::Ready(Err(WrongMutexError::new(guard)));
                    }
                    let mut w = Waiter::new(1);
                    cond.list.lock().enqueue(&mut w, Some(cx.waker()));
                    // Unlock only once queued: a notify after the unlock
                    // finds us in the queue.
                    drop(guard);
                    this.state = WaitState::Waiting(w);
                    return Poll::Pending;
                }
                WaitState::Waiting(w) => {
                    // Never closed: `Ready` means notified.
                    if cond.list.lock().poll_slot(w, cx.waker()).is_pending() {
                        return Poll::Pending;
                    }
                    this.state = WaitState::Relocking(cond.mutex.lock());
                }
                WaitState::Relocking(lock) => {
                    return match Pin::new(lock).poll(cx) {
                        Poll::Pending => Poll::Pending,
                        Poll::Ready(guard) => {
                            this.state = WaitState::Done;
                            Poll::Ready(Ok(guard))
                        }
                    };
                }
                WaitState::Done => return Poll::Pending,
            }
        }
    }
}

impl<T: ?Sized> Drop for ConditionWait<'_, T> {
    fn drop(&mut self) {
        match &mut self.state {
            WaitState::Waiting(w) => {
                let mut locked = self.cond.list.lock();
                if let Left::Assigned(_) = locked.leave(w) {
                    // Notified but cancelled before it looked: pass it on.
                    locked.notify(1);
                }
            }
            WaitState::Relocking(_) => {
                // Notified, cancelled while re-locking: pass it on (the
                // `Lock` future hands on the lock itself).
                self.cond.list.lock().notify(1);
            }
            WaitState::Start(_) | WaitState::Done => {}
        }
    }
}
