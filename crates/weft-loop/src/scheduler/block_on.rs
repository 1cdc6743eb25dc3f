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
//! pending are shut down on this thread, while its loop is still current
//! (except on a `Runner`'s kept loop, whose pinned tasks wait for its next
//! run; `Runner::close` shuts them down). A
//! `block_on` that turned the driver after shutdown then closes it again,
//! which wakes every timer still registered: a sleep of another `block_on`
//! still running registers again, and its thread takes the driver over. As
//! with workers (`driver.rs`, "Not handed over"), a `block_on` parked on its
//! condvar meanwhile gets its timers fired by the one turning the driver,
//! so they wait while that one runs without parking.

use super::{on_own_thread, slow_poll};
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

/// `MainTurn` bit: woken from another thread since its last turn began.
/// Only other threads set it (and the loop clears it in `begin`).
const WOKEN: u32 = 1;
/// `MainTurn` bit: the turn is in the ready queue. Only the loop's thread
/// sets and clears it.
const QUEUED: u32 = 2;

/// Whether the main future's turn is due, and queued (module header): the
/// bits `WOKEN` and `QUEUED`, 0 when neither. Every change is a
/// read-modify-write, so each wake-up from elsewhere (a Release `fetch_or`,
/// even when the bit is already set) heads a release sequence that the
/// Acquire swap in `begin` reads from or after: the poll that follows sees
/// what the waker wrote before waking, or a later turn is due.
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
        // Relaxed: this thread reads it next; as a read-modify-write it
        // keeps the release sequences `begin` acquires.
        self.state.fetch_or(QUEUED, Ordering::Relaxed) & QUEUED == 0
    }

    /// A wake-up from another thread: whether the caller must unpark the
    /// loop (no turn was due yet).
    fn wake_elsewhere(&self) -> bool {
        // Release: pairs with the Acquire swap in `begin`, so the poll sees
        // what the waker wrote before waking.
        self.state.fetch_or(WOKEN, Ordering::Release) == 0
    }

    /// On the loop's thread: whether a wake-up from elsewhere waits to be
    /// queued; if so it is marked queued, and the caller queues it.
    fn take_woken(&self) -> bool {
        // Relaxed: only decides whether to queue the turn. Between the load
        // and the `fetch_or` other threads can only set `WOKEN`, already set.
        if self.state.load(Ordering::Relaxed) != WOKEN {
            return false;
        }
        self.state.fetch_or(QUEUED, Ordering::Relaxed);
        true
    }

    /// On the loop's thread, as its turn is taken: wake-ups from now on
    /// make another turn due.
    fn begin(&self) {
        // Acquire: pairs with the Release `fetch_or` in `wake_elsewhere`.
        self.state.swap(0, Ordering::Acquire);
    }

    /// Whether no turn is due (the parking check; a wake-up racing it
    /// unparks the parker, so the park returns).
    fn idle(&self) -> bool {
        // Relaxed: `Parker`'s token orders a racing wake-up against the park.
        self.state.load(Ordering::Relaxed) == 0
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

/// A `block_on` loop: its record, current on this thread while it runs. A
/// `Runner` keeps one across its runs (`runner.rs`).
pub(crate) struct BlockOn {
    lp: Loop,
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
    let mut context = weft_task::contextvars::copy_context();
    BlockOn::new(shared).run(future, true, &mut context)
}

impl BlockOn {
    /// A new loop record for `shared`'s runtime, not running yet.
    pub(crate) fn new(shared: &Arc<Shared>) -> BlockOn {
        let (remote, inbox) = LoopRemote::new(&shared.driver);
        BlockOn {
            lp: super::new_loop(shared.clone(), remote, inbox, Kind::BlockOn),
        }
    }

    /// The loop's record.
    pub(crate) fn lp(&self) -> &Loop {
        &self.lp
    }

    /// Drives `future` on this loop, on this thread, which runs no loop (see
    /// the module header). `shut_down_pinned`: whether the pinned tasks still
    /// pending at the end are shut down (false for a kept loop, whose next
    /// run goes on with them). `future` runs in `context`, which keeps what it
    /// sets (`block_on` passes a copy of the caller's, as `asyncio.run`'s main
    /// task gets; a `Runner` its own, kept across runs).
    pub(crate) fn run<F: Future>(
        &self,
        future: F,
        shut_down_pinned: bool,
        context: &mut weft_task::contextvars::Context,
    ) -> F::Output {
        let lp = &self.lp;
        let _enter = lp.enter();
        let shutdown = ShutdownPinned {
            lp,
            turned: Cell::new(false),
            pinned: shut_down_pinned,
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
                if !step.run(&lp.shared) {
                    main.turn.begin();
                    let polled = slow_poll::run_main(&lp.shared, || {
                        context.run(|| future.as_mut().poll(&mut cx))
                    });
                    if let Poll::Ready(out) = polled {
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

#[cfg(all(test, loom))]
mod loom_main_turn {
    use super::*;
    use crate::loom::sync::AtomicBool;
    use crate::park::loom_park::MockDriver;

    /// `block_on`'s loop in small: a thread writes, then wakes the main
    /// future from elsewhere, while the loop takes its queued turn ("polls":
    /// ready once it sees the write) and parks when no turn is due. With
    /// `wake_here`, a step on the loop's thread wakes the main future too,
    /// racing the other thread. The loop must end with a turn that sees the
    /// write: no wake-up is lost, none is taken without its write.
    fn model(wake_here_too: bool) {
        loom::model(move || {
            let turn = Arc::new(MainTurn::queued());
            let parker = Parker::new(MockDriver::new());
            let written = Arc::new(AtomicBool::new(false));
            let waker = {
                let (turn, parker, written) = (turn.clone(), parker.clone(), written.clone());
                loom::thread::spawn(move || {
                    written.store(true, Ordering::Relaxed);
                    if turn.wake_elsewhere() {
                        parker.unpark();
                    }
                })
            };
            // The loop's ready queue, reduced to "is the turn in it".
            let mut queued = true;
            let mut first = true;
            loop {
                if turn.take_woken() {
                    assert!(!queued, "a turn queued twice");
                    queued = true;
                }
                if queued {
                    queued = false;
                    turn.begin();
                    if written.load(Ordering::Relaxed) {
                        break;
                    }
                    if std::mem::take(&mut first) && wake_here_too && turn.wake_here() {
                        queued = true;
                    }
                    continue;
                }
                if turn.idle() {
                    parker.park();
                }
            }
            waker.join().unwrap();
        });
    }

    #[test]
    fn loom_main_turn_wake_from_elsewhere() {
        model(false);
    }

    #[test]
    fn loom_main_turn_wakes_here_and_elsewhere() {
        model(true);
    }
}
