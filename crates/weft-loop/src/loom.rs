//! The one place weft-loop takes its atomics and locks from: `std` and
//! `parking_lot` normally, [loom]'s under `--cfg loom` so the parking protocol
//! can be model-checked (see `park.rs`).

#[cfg(not(loom))]
pub(crate) mod sync {
    pub(crate) use parking_lot::{Condvar, Mutex, MutexGuard};
    pub(crate) use std::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
    };
    pub(crate) use std::sync::Arc;
}

#[cfg(loom)]
pub(crate) mod sync {
    pub(crate) use loom::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
    };
    pub(crate) use loom::sync::MutexGuard;
    // `std`'s `Arc`, not loom's: `state.rs` and `scheduler/` name
    // `std::sync::Arc` directly (for `Arc<dyn Fn>` / `Arc<Parker>` fields and
    // `std::task::Wake`), and loom's `Arc` is a different type that cannot be
    // passed where they expect one. The models only need the atomics, the mutex
    // and the condvar inside the `Arc` to be loom's.
    pub(crate) use std::sync::Arc;

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

        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock().ok()
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

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
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
