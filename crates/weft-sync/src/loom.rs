//! The one place weft-sync takes its atomics and locks from: `std` and
//! `parking_lot` normally, [loom]'s under `--cfg loom` so the wait list
//! (`waitlist.rs`) can be model-checked on the shipped code.

/// Declares a `const fn` normally and a plain `fn` under loom, whose types
/// have no `const` constructors (so `static M: Mutex<()> = Mutex::new(())`
/// works in real builds).
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
pub(crate) use const_fn_unless_loom;

#[cfg(not(loom))]
pub(crate) mod sync {
    pub(crate) use parking_lot::{Condvar, Mutex, MutexGuard};
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
}

#[cfg(loom)]
pub(crate) mod sync {
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    pub(crate) use loom::sync::MutexGuard;

    /// `parking_lot::Mutex`'s surface over loom's.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }
    }

    /// `parking_lot::Condvar`'s surface over loom's.
    #[derive(Debug)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Condvar(loom::sync::Condvar::new())
        }

        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            // loom's condvar consumes the guard; swap it through a temporary.
            // SAFETY: the guard is read out and a valid one written back before
            // anyone can observe the hole; `wait` does not unwind under loom.
            unsafe {
                let g = std::ptr::read(guard);
                let g = self.0.wait(g).unwrap();
                std::ptr::write(guard, g);
            }
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }

        /// loom has no clock: a timed wait is an untimed one, never timing out.
        pub(crate) fn wait_until<T>(
            &self,
            guard: &mut MutexGuard<'_, T>,
            _deadline: std::time::Instant,
        ) -> WaitTimeout {
            self.wait(guard);
            WaitTimeout
        }
    }

    /// `parking_lot::WaitTimeoutResult`'s surface.
    #[derive(Debug)]
    pub(crate) struct WaitTimeout;

    impl WaitTimeout {
        pub(crate) fn timed_out(&self) -> bool {
            false
        }
    }
}
