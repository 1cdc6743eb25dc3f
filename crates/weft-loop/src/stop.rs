//! The stop signal of `run_forever` (asyncio's `loop.stop()` /
//! `loop.run_forever()`), one per runtime.
//!
//! # States
//!
//! | `running` | `requested` | meaning                                              |
//! |-----------|-------------|------------------------------------------------------|
//! | false     | false       | nobody runs forever; nothing asked                   |
//! | false     | true        | `stop()` came first: the next run does one iteration |
//! | true      | false       | a run waits, its waker stored                        |
//! | true      | true        | a stop arrived: the run returns at its next poll     |
//!
//! Everything is under one lock: a stop and a run starting or ending never
//! race, and the waker taken under the lock is woken after it is released.
//!
//! # One iteration
//!
//! asyncio's `stop()` lets the iteration under way finish, then the loop
//! returns; a `stop()` made before `run_forever()` makes the next run do one
//! full iteration. A run is a `block_on` whose main future is [`RunForever`],
//! which the loop polls first in each iteration: a stop made during the
//! run (by a callback or pinned task of this iteration, or by any other
//! thread) is seen at the next poll, so the iteration it was made in has
//! run its callbacks and tasks. A stop found at the start instead wakes the
//! run once and answers `Pending`, so one iteration runs before it returns.

use crate::loom::sync::Mutex;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A runtime's stop signal (module header).
pub(crate) struct StopSignal {
    state: Mutex<StopState>,
}

#[derive(Default)]
struct StopState {
    /// `stop()` was called and no run has consumed it yet.
    requested: bool,
    /// A `run_forever` runs now.
    running: bool,
    /// The running one's waker, once it has been polled.
    waker: Option<Waker>,
}

impl StopSignal {
    pub(crate) fn new() -> StopSignal {
        StopSignal {
            state: Mutex::new(StopState::default()),
        }
    }

    /// Asks the running `run_forever` to return, or the next one to return
    /// after one iteration.
    pub(crate) fn stop(&self) {
        let waker = {
            let mut s = self.state.lock();
            s.requested = true;
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Claims the run, or `None` if one runs already.
    pub(crate) fn start(&self) -> Option<RunForever<'_>> {
        let mut s = self.state.lock();
        if s.running {
            return None;
        }
        s.running = true;
        let early = std::mem::take(&mut s.requested);
        Some(RunForever {
            signal: self,
            last_iteration: early,
            polled: false,
        })
    }
}

/// The main future of a `run_forever`: ready once a stop is requested (module
/// header). Dropping it ends the run, so another may start.
pub(crate) struct RunForever<'a> {
    signal: &'a StopSignal,
    /// A stop came before the run: return at the poll after the next.
    last_iteration: bool,
    /// Polled before (for `last_iteration`).
    polled: bool,
}

impl Future for RunForever<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.last_iteration {
            if self.polled {
                // Second poll: the one iteration has run.
                return Poll::Ready(());
            }
            // First poll: let one iteration run, then come back.
            self.polled = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let mut s = self.signal.state.lock();
        if std::mem::take(&mut s.requested) {
            return Poll::Ready(());
        }
        s.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for RunForever<'_> {
    fn drop(&mut self) {
        let mut s = self.signal.state.lock();
        // As asyncio's `run_forever` ends: a stop made during the run was
        // for this run, not the next.
        s.running = false;
        s.requested = false;
        s.waker = None;
    }
}
