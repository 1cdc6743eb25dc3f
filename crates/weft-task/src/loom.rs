//! The workspace's one loom shim: the one place weft-task, weft-loop and
//! weft-sync take their atomics, cells and locks from. It is public (hidden)
//! only so weft's own crates can share it; it is not part of weft's API.
//!
//! Under `--cfg loom` every primitive comes from `loom` so the model tests
//! (`loom_*` in each crate) explore all interleavings of the shipped code;
//! otherwise from `std` and `parking_lot`. Nothing else in these crates names
//! `std::sync::atomic`, `parking_lot` or `loom::sync` directly, outside the
//! model tests themselves.
//!
//! The loom side keeps `parking_lot`'s surface (`lock` without a `Result`, a
//! condvar that waits on `&mut MutexGuard`), so code is written once.

/// Declares a `const fn` normally and a plain `fn` under loom, whose types
/// have no `const` constructors (so `static M: Mutex<()> = Mutex::new(())`
/// works in real builds). For weft's own crates, through `weft_task::loom`.
///
/// ```ignore
/// const_fn_unless_loom! {
///     pub fn new() -> Self { Self { count: AtomicUsize::new(0) } }
/// }
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! const_fn_unless_loom {
    ($(#[$meta:meta])* $vis:vis fn $($rest:tt)*) => {
        #[cfg(not(loom))]
        $(#[$meta])*
        $vis const fn $($rest)*

        #[cfg(loom)]
        $(#[$meta])*
        $vis fn $($rest)*
    };
}
pub use crate::const_fn_unless_loom;

/// Atomics, `Arc`, and `parking_lot`'s `Mutex` and `Condvar`: `std` and
/// `parking_lot` normally.
#[cfg(not(loom))]
pub mod sync {
    pub use parking_lot::{Condvar, Mutex, MutexGuard, WaitTimeoutResult as WaitTimeout};
    pub use std::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
    };
    pub use std::sync::Arc;
}

/// Atomics, `Arc`, and `parking_lot`'s `Mutex` and `Condvar` surface: all
/// loom's under `--cfg loom`.
#[cfg(loom)]
pub mod sync {
    pub use loom::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
    };
    pub use loom::sync::{Arc, MutexGuard};

    /// `parking_lot::Mutex`'s surface over loom's.
    #[derive(Debug)]
    pub struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        /// A mutex holding `value`.
        pub fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        /// Locks, blocking the (model) thread until the lock is free.
        pub fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }

        /// Locks if the lock is free.
        pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock().ok()
        }
    }

    /// `parking_lot::Condvar`'s surface over loom's.
    #[derive(Debug)]
    pub struct Condvar(loom::sync::Condvar);

    impl Condvar {
        /// A condvar nobody waits on.
        pub fn new() -> Self {
            Condvar(loom::sync::Condvar::new())
        }

        /// Unlocks `guard`'s mutex, waits for a notification, and relocks.
        pub fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            // loom's condvar consumes the guard; swap it through a temporary.
            // SAFETY: the guard is read out and a valid one written back before
            // anyone can observe the hole; `wait` does not unwind under loom.
            unsafe {
                let g = std::ptr::read(guard);
                let g = self.0.wait(g).unwrap();
                std::ptr::write(guard, g);
            }
        }

        /// Wakes one waiter, if any.
        pub fn notify_one(&self) {
            self.0.notify_one();
        }

        /// Wakes every waiter.
        pub fn notify_all(&self) {
            self.0.notify_all();
        }

        /// loom has no clock: a timed wait is an untimed one, never timing out.
        pub fn wait_until<T>(
            &self,
            guard: &mut MutexGuard<'_, T>,
            _deadline: std::time::Instant,
        ) -> WaitTimeout {
            self.wait(guard);
            WaitTimeout
        }
    }

    impl Default for Condvar {
        fn default() -> Self {
            Condvar::new()
        }
    }

    /// `parking_lot::WaitTimeoutResult`'s surface.
    #[derive(Debug)]
    pub struct WaitTimeout;

    impl WaitTimeout {
        /// Always `false`: loom's waits do not time out.
        pub fn timed_out(&self) -> bool {
            false
        }
    }
}

/// Yielding the thread in a retry loop: loom's under `--cfg loom`, so a
/// model explores the other threads' steps in between.
pub mod thread {
    #[cfg(loom)]
    pub use loom::thread::yield_now;
    #[cfg(not(loom))]
    pub use std::thread::yield_now;
}

/// `UnsafeCell` with loom's closure-based access surface.
#[cfg(not(loom))]
pub mod cell {
    /// `std::cell::UnsafeCell` behind loom's `with`/`with_mut`.
    #[derive(Debug)]
    pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        /// A cell holding `value`.
        pub const fn new(value: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        /// Calls `f` with a shared pointer to the value.
        #[inline(always)]
        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Calls `f` with a mutable pointer to the value.
        #[inline(always)]
        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

/// `UnsafeCell`: loom's under `--cfg loom`.
#[cfg(loom)]
pub mod cell {
    pub use loom::cell::UnsafeCell;
}
