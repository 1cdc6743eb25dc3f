//! The `block_on` driver: the caller's thread drives one future, and runs
//! the tasks pinned to its loop and its callbacks meanwhile; the workers run
//! everything else (a stealable task woken here goes to the injector, as
//! `mod.rs`'s table says).
//!
//! # One FIFO, the main future in it
//!
//! The main future takes its turns in the loop's ready queue (`local.rs`),
//! as asyncio's main task does: a wake-up queues [`Ready::Main`] behind the
//! steps already queued. A wake on this thread (the future itself, a pinned
//! task, a callback) queues it at once; a wake from another thread only sets
//! [`MainTurn`]'s state and unparks the loop, which queues the turn when it
//! next takes in its inbox, as it does the steps other threads send.
//!
//! # An iteration
//!
//! 1. Take in the inbox and a wake-up of the main future from elsewhere.
//! 2. Run the steps queued now (at most 128), in order; the main future's
//!    turn polls it, and ready ends `block_on`. Steps they queue wait for the
//!    next iteration (asyncio's rule).
//! 3. Nothing ran and nothing is queued or woken: park on the loop's parker.
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

use super::on_own_thread;
use crate::context::{Kind, Loop, Ready};
use crate::loom::sync::{Arc, AtomicU32, Ordering};
use crate::park::Parker;
use crate::state::{LoopRemote, Shared};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};

/// Most steps a `block_on` loop runs before it takes in its inbox again.
const BLOCK_ON_BATCH: usize = 128;

/// `MainTurn` state: not woken since its last turn began.
const IDLE: u32 = 0;
/// `MainTurn` state: woken from another thread; the loop has not queued the
/// turn yet.
const WOKEN: u32 = 1;
/// `MainTurn` state: the turn is in the ready queue.
const QUEUED: u32 = 2;

/// Whether the main future's turn is due, and queued (module header). Only
/// the loop's thread moves the state to `QUEUED` or `IDLE`; other threads
/// only from `IDLE` to `WOKEN`.
pub(crate) struct MainTurn {
    state: AtomicU32,
}

impl MainTurn {
    /// A turn already queued: the loop queues the first poll itself.
    fn queued() -> MainTurn {
        MainTurn {
            state: AtomicU32::new(QUEUED),
        }
    }

    /// A wake-up on the loop's own thread: whether the caller must queue
    /// the turn now (it was not queued yet).
    fn wake_here(&self) -> bool {
        // Relaxed: the loop's own thread, which later reads the state; as a
        // read-modify-write it continues the release sequence of a `WOKEN`
        // stored by `wake_elsewhere`, so `begin` still pairs with that.
        self.state.swap(QUEUED, Ordering::Relaxed) != QUEUED
    }

    /// A wake-up from another thread: whether the caller must unpark the
    /// loop (it was neither woken nor queued).
    fn wake_elsewhere(&self) -> bool {
        // Release: pairs with the Acquire swap in `begin`, so the poll sees
        // what the waker wrote before waking.
        self.state
            .compare_exchange(IDLE, WOKEN, Ordering::Release, Ordering::Relaxed)
            .is_ok()
    }

    /// On the loop's thread: whether a wake-up from elsewhere waits to be
    /// queued; if so it is marked queued, and the caller queues it.
    fn take_woken(&self) -> bool {
        // Relaxed: only decides whether to queue the turn; the read-modify-
        // write keeps the release sequence that `begin` acquires.
        self.state
            .compare_exchange(WOKEN, QUEUED, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// On the loop's thread, as its turn is taken: wake-ups from now on
    /// queue another turn.
    fn begin(&self) {
        // Acquire: pairs with the Release CAS in `wake_elsewhere` (through the
        // release sequence `take_woken` / `wake_here` continue).
        self.state.swap(IDLE, Ordering::Acquire);
    }

    /// Whether no turn is due (the parking check; a wake-up racing it
    /// unparks the parker, so park returns).
    fn idle(&self) -> bool {
        // Relaxed: `Parker`'s token orders a racing wake-up against the park.
        self.state.load(Ordering::Relaxed) == IDLE
    }
}

/// Wakes a `block_on` loop for its main future.
struct MainWaker {
    turn: MainTurn,
    remote: std::sync::Arc<LoopRemote>,
    parker: std::sync::Arc<Parker>,
}

impl Wake for MainWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        let elsewhere = on_own_thread(&self.remote, (), |lp, ()| {
            if self.turn.wake_here() {
                lp.push_ready(Ready::Main);
            }
        });
        if elsewhere.is_some() && self.turn.wake_elsewhere() {
            self.parker.unpark();
        }
    }
}

/// A `block_on` loop: its record, current on this thread while it runs.
struct BlockOn {
    lp: Loop,
}

/// Shuts down a loop's pinned tasks when dropped, even if the future
/// panicked; dropped while the loop is still current. Hands the driver over
/// if this loop turned it after shutdown (module header).
struct ShutdownPinned<'a> {
    lp: &'a Loop,
    turned: Cell<bool>,
}

impl Drop for ShutdownPinned<'_> {
    fn drop(&mut self) {
        self.lp.shutdown_pinned(true);
        if self.turned.get() {
            self.lp.shared.driver.close();
        }
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
        let shutdown = ShutdownPinned {
            lp,
            turned: Cell::new(false),
        };
        let main = std::sync::Arc::new(MainWaker {
            turn: MainTurn::queued(),
            remote: lp.remote.clone(),
            parker: lp.remote.parker.clone(),
        });
        lp.push_ready(Ready::Main);
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            lp.poll_inbox();
            if main.turn.take_woken() {
                lp.push_ready(Ready::Main);
            }
            // Only the steps queued now: those they queue wait for the next
            // iteration (asyncio's rule).
            let queued = lp.ready_len().min(BLOCK_ON_BATCH);
            for _ in 0..queued {
                let Some(step) = lp.pop_ready() else {
                    break;
                };
                if !step.run() {
                    main.turn.begin();
                    if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                        return out;
                    }
                }
            }
            if queued == 0 && main.turn.idle() && !lp.has_local_work() {
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
