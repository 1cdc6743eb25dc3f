//! # weft-sync
//!
//! asyncio's synchronization primitives for weft's multi-threaded runtime,
//! re-exported as `weft::sync`:
//!
//! | asyncio | weft |
//! |---------|------|
//! | `Lock` | [`Mutex<T>`] (holds the data; [`MutexGuard`] unlocks on drop) |
//! | (none) | [`RwLock<T>`] (write-preferring, FIFO) |
//! | `Event` | [`Event`] |
//! | `Condition` | [`Condition<T>`] (bound to a `Mutex<T>`) |
//! | `Semaphore`, `BoundedSemaphore` | [`Semaphore`], [`BoundedSemaphore`] |
//! | `Barrier` | [`Barrier`] |
//!
//! All of them sit on one FIFO waiter list (`waitlist.rs`, whose header states
//! the protocol and why nothing is lost): waiters are served in arrival order,
//! a release hands the lock or permit straight to the first waiter (so a task
//! that releases and re-acquires at once queues behind it), and the
//! uncontended paths are one atomic operation, no lock, no allocation.
//!
//! Every primitive is thread-safe: tasks on any worker, and plain threads
//! through the `*_blocking` methods, share it. Every `.await` is a
//! cancellation point: dropping the future cancels the wait and never loses a
//! permit, lock or notification (a waiter cancelled after it was woken passes
//! its wake-up to the next one). `docs/asyncio.md` lists where weft differs
//! from asyncio, and why.
//!
//! ```
//! use std::sync::Arc;
//! use weft::sync::Semaphore;
//!
//! weft::run(async {
//!     let sem = Arc::new(Semaphore::new(1));
//!     let permit = sem.acquire().await;
//!     let s = sem.clone();
//!     let waiter = weft::spawn(async move { s.acquire().await.num_permits() });
//!     drop(permit); // handed to the waiting task
//!     assert_eq!(waiter.await.unwrap(), 1);
//! });
//! ```

#![warn(missing_docs)]

mod barrier;
mod condition;
mod error;
mod event;
mod loom;
#[cfg(all(test, loom))]
mod loom_tests;
mod mutex;
pub mod queue;
mod rwlock;
mod semaphore;
#[cfg(test)]
mod test_util;
#[cfg(all(test, not(loom)))]
mod tests;
mod waitlist;

pub use barrier::{Barrier, BarrierWait};
pub use condition::{Condition, ConditionWait};
pub use error::{
    BrokenBarrierError, NotLockedError, ReleaseError, TimedOut, TryAcquireError, TryLockError,
    WrongMutexError, ZeroPartiesError,
};
pub use event::{Event, EventWait};
pub use mutex::{Lock, LockOwned, Mutex, MutexGuard, OwnedMutexGuard};
pub use rwlock::{
    OwnedRwLockReadGuard, OwnedRwLockWriteGuard, Read, ReadOwned, RwLock, RwLockReadGuard,
    RwLockWriteGuard, Write, WriteOwned,
};
pub use semaphore::{
    Acquire, AcquireOwned, BoundedSemaphore, OwnedSemaphorePermit, Semaphore, SemaphorePermit,
};
