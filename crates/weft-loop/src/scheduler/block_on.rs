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
//! 4. Nothing ran and nothing is queued or woken: park on the loop's parker.
//!    While the runtime runs, never inside the driver (the workers turn it).
//!    Once it has shut down nobody else turns it, so this thread parks in
//!    the driver if no other thread holds it (a sleep polled after shutdown
//!    then still ends on time: `time/sleep.rs`).
//!
//! When `block_on` ends, normally or by a panic, its pinned tasks still
//! pending are shut down on this thread, while its loop is still current. A
//! `block_on` that turned the driver after shutdown then closes it again,
//! which wakes every timer still registered: a sleep of another `block_on`
//! still running registers again, and its thread takes the driver over. As
//! with workers (`driver.rs`, "Not handed over"), a `block_on` parked on its
//! condvar meanwhile gets its timers fired by the one turning the driver,
//! so they wait while that one runs without parking.

use crate::context::{Kind, Loop};
use crate::loom::sync::{Arc, AtomicBool, Ordering};
use crate::park::Parker;
use crate::state::{LoopRemote, Shared};
use std::cell::Cell;
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

/// Shuts down a loop's pinned tasks when dropped, even if the future
/// panicked; dropped while the loop is still current. Hands the driver over
/// if this loop turned it after shutdown (module header).
struct ShutdownPinned<'a> {
    lp: &'a Loop,
    turned: Cell<bool>,
    /// False for a kept loop (a `Runner`'s): its pinned tasks wait for the
    /// next run, and its owner shuts them down when it closes.
    pinned: bool,
}

impl Drop for ShutdownPinned<'_> {
    fn drop(&mut self) {
        if self.pinned {
            self.lp.shutdown_pinned(true);
        }
        if self.turned.get() {
            self.lp.shared.driver.close();
        }
    }
}

/// Drives `future` on this thread (see the module header). The caller
/// checked that no loop runs on this thread.
pub(crate) fn block_on<F: Future>(shared: &Arc<Shared>, future: F) -> F::Output {
    run_on(&block_on_loop(shared), future, true)
}

/// A new `block_on` loop record for `shared`'s runtime, not running yet: a
/// `Runner` keeps one across its runs.
pub(crate) fn block_on_loop(shared: &Arc<Shared>) -> Loop {
    let (remote, inbox) = LoopRemote::new(&shared.driver);
    super::new_loop(shared.clone(), remote, inbox, Kind::BlockOn)
}

/// Drives `future` on `lp` (this thread's own record, not current yet; see
/// the module header). `shut_down_pinned`: whether the pinned tasks still
/// pending at the end are shut down (false for a kept loop).
pub(crate) fn run_on<F: Future>(lp: &Loop, future: F, shut_down_pinned: bool) -> F::Output {
    let _enter = lp.enter();
    let shutdown = ShutdownPinned {
        lp,
        turned: Cell::new(false),
        pinned: shut_down_pinned,
    };
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
            if lp.shared.is_closed() {
                if park_after_shutdown(lp) {
                    shutdown.turned.set(true);
                }
            } else {
                lp.remote.parker.park();
            }
        }
    }
}

/// Parks a `block_on` loop whose runtime has shut down: inside the driver if
/// no other thread holds it, so timers registered since still fire (module
/// header, step 4). Returns whether it turned the driver.
fn park_after_shutdown(lp: &Loop) -> bool {
    let parker = &lp.remote.parker;
    match lp.shared.driver.try_turn() {
        Some(mut turning) => {
            parker.park_driving(|| turning.block());
            turning.dispatch();
            true
        }
        None => {
            parker.park();
            false
        }
    }
}
