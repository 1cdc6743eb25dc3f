//! # weft-sync
//!
//! asyncio's synchronization primitives for weft's multi-threaded runtime,
//! re-exported as `weft::sync`: [`Semaphore`] and [`BoundedSemaphore`]
//! (asyncio's), and more to come in this crate, all on one FIFO waiter list
//! (`waitlist.rs`, whose header states the protocol).
//!
//! Every primitive is thread-safe: tasks on any worker, and plain threads
//! through the `*_blocking` methods, share it. Every `.await` is a
//! cancellation point: dropping the future cancels the wait and never loses a
//! permit, lock or notification (a waiter cancelled after it was woken passes
//! its wake-up to the next one).
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
mod rwlock;
mod semaphore;
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
