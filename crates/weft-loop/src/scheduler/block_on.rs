//! The `block_on` driver: the caller's thread drives one future, and runs
//! the tasks pinned to its loop and its callbacks meanwhile; the workers run
//! everything else (a stealable task woken here goes to the injector, as
//! `mod.rs`'s table says).
//!
//! # An iteration
//!
//! 1. If the main future was woken, poll it; ready ends `block_on`.
//! 2. Run the callbacks that were ready when the iteration began.
//! 3. Run the pinned tasks queued now (at most 128): one that yields goes
//!    behind the main future, which then gets its turn (asyncio's
//!    round-robin).
//! 4. Nothing ran and nothing is queued or woken: park on the loop's parker
//!    (never inside the driver; the workers turn it).
//!
//! When `block_on` ends, normally or by a panic, its pinned tasks still
//! pending are shut down on this thread, while its loop is still current.

use crate::context::{Kind, Loop};
use crate::loom::sync::{Arc, AtomicBool, Ordering};
use crate::park::Parker;
use crate::state::{LoopRemote, Shared};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};

/// Most pinned tasks a `block_on` loop runs between polls of its future.
const BLOCK_ON_BATCH: usize = 128;

/// Wakes a `block_on` loop for its main future.
struct MainWaker {
    woken: AtomicBool,
    parker: std::sync::Arc<Parker>,
}

impl Wake for MainWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        // Release: pairs with the Acquire swap in `BlockOn::run` before polling.
        if !self.woken.swap(true, Ordering::Release) {
            self.parker.unpark();
        }
    }
}

/// A `block_on` loop: its record, current on this thread while it runs.
struct BlockOn {
    lp: Loop,
}

/// Shuts down a loop's pinned tasks when dropped, even if the future
/// panicked; dropped while the loop is still current.
struct ShutdownPinned<'a>(&'a Loop);

impl Drop for ShutdownPinned<'_> {
    fn drop(&mut self) {
        self.0.shutdown_pinned(true);
    }
}

/// Drives `future` on this thread (see the module header). The caller
/// checked that no loop runs on this thread.
pub(crate) fn block_on<F: Future>(shared: &Arc<Shared>, future: F) -> F::Output {
    let (remote, inbox) = LoopRemote::new(&shared.driver);
    let b = BlockOn {
        lp: super::new_loop(shared.clone(), remote, inbox, Kind::BlockOn),
    };
    b.run(future)
}

impl BlockOn {
    fn run<F: Future>(&self, future: F) -> F::Output {
        let lp = &self.lp;
        let _enter = lp.enter();
        let _shutdown = ShutdownPinned(lp);
        let main = std::sync::Arc::new(MainWaker {
            woken: AtomicBool::new(true),
            parker: lp.remote.parker.clone(),
        });
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            // Acquire: pairs with the Release in `MainWaker::wake_by_ref`.
            if main.woken.swap(false, Ordering::Acquire) {
                if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                    return out;
                }
            }
            let mut ran = lp.run_callbacks();
            // Only the pinned tasks queued now: one that yields goes behind the
            // main future, which then gets its turn (asyncio's round-robin).
            lp.drain_inbox();
            let queued = lp.local.borrow().pinned.len().min(BLOCK_ON_BATCH);
            for _ in 0..queued {
                let Some(task) = lp.local.borrow_mut().pinned.pop_front() else {
                    break;
                };
                task.run();
                ran = true;
            }
            // Acquire: pairs with the Release in `MainWaker::wake_by_ref`.
            if !ran && !main.woken.load(Ordering::Acquire) && !lp.has_local_work() {
                lp.remote.parker.park();
            }
        }
    }
}
