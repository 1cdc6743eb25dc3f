//! Loop callbacks: [`call_soon`], [`call_later`], [`call_at`], their
//! [`CallbackHandle`], and [`LoopHandle`] for reaching one loop from other
//! threads.
//!
//! A callback belongs to one loop and runs on its thread, in that loop's
//! one FIFO of ready work (asyncio's order, `scheduler/local.rs`): after the
//! task steps and callbacks queued before it, before those queued after it,
//! so one that queues another cannot keep the loop from its tasks. A
//! panicking callback is reported through `tracing` and the loop goes on.
//!
//! A delayed callback is a timer ([`TimerEntry`], as every timer) whose
//! waker, when it fires, hands the callback to its loop
//! (`scheduler::hand_over`): directly on that loop's thread, else through its
//! inbox. Timers that fire together are handed over in due order, ties in
//! scheduling order, and the inbox keeps that order.

use crate::context::with_current;
use crate::loom::sync::{AtomicBool, Mutex, Ordering};
use crate::scheduler::hand_over;
use crate::state::{Callback, LoopRemote, Shared};
use crate::time::TimerEntry;
use std::fmt;
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};
use weft_task::contextvars::copy_context;

/// A queued callback. [`cancel`](Self::cancel) keeps it from running (asyncio's
/// `Handle` / `TimerHandle`). Dropping the handle does not cancel.
///
/// ```
/// weft::run(async {
///     let lp = weft::LoopHandle::current();
///     let h: weft::CallbackHandle = lp.call_later(std::time::Duration::from_secs(60), || {
///         unreachable!("cancelled first")
///     });
///     h.cancel();
///     assert!(h.cancelled());
/// });
/// ```
#[derive(Clone)]
pub struct CallbackHandle {
    state: Arc<CallbackState>,
}

struct CallbackState {
    cancelled: AtomicBool,
    /// A delayed callback's timer, removed on cancel so it frees at once.
    timer: Mutex<Option<TimerEntry>>,
}

impl CallbackHandle {
    fn new() -> CallbackHandle {
        CallbackHandle {
            state: Arc::new(CallbackState {
                cancelled: AtomicBool::new(false),
                timer: Mutex::new(None),
            }),
        }
    }

    /// Keeps the callback from running, if it has not started yet; a
    /// delayed one's timer is removed at once. Idempotent.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    ///
    /// weft::run(async {
    ///     let ran = Arc::new(AtomicBool::new(false));
    ///     let r = ran.clone();
    ///     let h = weft::call_soon(move || r.store(true, Ordering::SeqCst));
    ///     h.cancel();
    ///     weft::yield_now().await;
    ///     assert!(h.cancelled());
    ///     assert!(!ran.load(Ordering::SeqCst));
    /// });
    /// ```
    pub fn cancel(&self) {
        // Release / Acquire: pairs with the load in `guard`, so a callback
        // that sees the flag clear was not cancelled before it started.
        self.state.cancelled.store(true, Ordering::Release);
        // Taken under the lock, removed (dropped) after it is released.
        let timer = self.state.timer.lock().take();
        drop(timer);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    ///
    /// ```
    /// weft::run(async {
    ///     let h = weft::call_soon(|| {});
    ///     assert!(!h.cancelled());
    ///     h.cancel();
    ///     h.cancel(); // idempotent
    ///     assert!(h.cancelled());
    /// });
    /// ```
    pub fn cancelled(&self) -> bool {
        self.state.cancelled.load(Ordering::Acquire)
    }

    /// Wraps `f` so it runs only if not cancelled by then, in a copy of the
    /// context current now (asyncio's callback handles copy it too).
    fn guard<F: FnOnce()>(&self, f: F) -> impl FnOnce() {
        let state = self.state.clone();
        let mut context = copy_context();
        move || {
            // Acquire: pairs with the Release in `cancel`.
            if !state.cancelled.load(Ordering::Acquire) {
                context.run(f);
            }
        }
    }
}

impl fmt::Debug for CallbackHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackHandle")
            .field("cancelled", &self.cancelled())
            .finish()
    }
}

/// A handle on one loop (a worker's, or the thread inside `block_on`), for
/// queueing callbacks on it from any thread (asyncio's loop object).
/// Cheap to clone; dropping it does nothing.
///
/// ```
/// use std::sync::mpsc;
///
/// weft::run(async {
///     let lp = weft::LoopHandle::current();
///     let (tx, rx) = mpsc::channel();
///     std::thread::spawn(move || {
///         lp.call_soon_threadsafe(move || tx.send(std::thread::current().id()).unwrap());
///     });
///     // Not a blocking recv: the callback runs on this very thread, so the
///     // loop must keep turning until it has.
///     let ran_on = loop {
///         match rx.try_recv() {
///             Ok(id) => break id,
///             Err(_) => weft::yield_now().await,
///         }
///     };
///     assert_eq!(ran_on, std::thread::current().id());
/// });
/// ```
#[derive(Clone)]
pub struct LoopHandle {
    shared: Arc<Shared>,
    remote: Arc<LoopRemote>,
}

impl LoopHandle {
    /// The loop running on this thread.
    ///
    /// # Panics
    ///
    /// Outside a weft loop (see [`try_current`](Self::try_current)).
    ///
    /// ```
    /// weft::run(async {
    ///     let lp = weft::LoopHandle::current();
    ///     let (tx, rx) = std::sync::mpsc::channel();
    ///     std::thread::spawn(move || {
    ///         lp.call_soon_threadsafe(move || tx.send("ran on the loop").unwrap());
    ///     });
    ///     while rx.try_recv().is_err() {
    ///         weft::yield_now().await;
    ///     }
    /// });
    /// ```
    pub fn current() -> LoopHandle {
        LoopHandle::try_current().expect("LoopHandle::current called outside a weft loop")
    }

    pub(crate) fn from_parts(shared: Arc<Shared>, remote: Arc<LoopRemote>) -> LoopHandle {
        LoopHandle { shared, remote }
    }

    pub(crate) fn parts(&self) -> (&Arc<Shared>, &Arc<LoopRemote>) {
        (&self.shared, &self.remote)
    }

    /// The loop running on this thread, or `None`.
    ///
    /// ```
    /// assert!(weft::LoopHandle::try_current().is_none());
    /// weft::run(async { assert!(weft::LoopHandle::try_current().is_some()) });
    /// ```
    pub fn try_current() -> Option<LoopHandle> {
        with_current(|lp| {
            lp.map(|lp| LoopHandle {
                shared: lp.shared().clone(),
                remote: lp.remote().clone(),
            })
        })
    }

    /// Queues `f` on this loop from any thread (asyncio's
    /// `call_soon_threadsafe`), waking the loop. If the loop has ended, `f`
    /// is dropped without running.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    ///
    /// weft::run(async {
    ///     let lp = weft::LoopHandle::current();
    ///     let ran = Arc::new(AtomicBool::new(false));
    ///     let r = ran.clone();
    ///     let from = std::thread::spawn(move || {
    ///         lp.call_soon_threadsafe(move || r.store(true, Ordering::SeqCst));
    ///     });
    ///     from.join().unwrap();
    ///     while !ran.load(Ordering::SeqCst) {
    ///         weft::yield_now().await;
    ///     }
    /// });
    /// ```
    pub fn call_soon_threadsafe(&self, f: impl FnOnce() + Send + 'static) -> CallbackHandle {
        let handle = CallbackHandle::new();
        hand_over(&self.remote, Box::new(handle.guard(f)));
        handle
    }

    /// Runs `f` on this loop once `delay` has passed (asyncio's
    /// `call_later`); callable from any thread.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use std::time::{Duration, Instant};
    ///
    /// weft::run(async {
    ///     let ran = Arc::new(AtomicBool::new(false));
    ///     let r = ran.clone();
    ///     let start = Instant::now();
    ///     weft::LoopHandle::current().call_later(Duration::from_millis(5), move || {
    ///         assert!(start.elapsed() >= Duration::from_millis(5));
    ///         r.store(true, Ordering::SeqCst);
    ///     });
    ///     while !ran.load(Ordering::SeqCst) {
    ///         weft::sleep(Duration::from_millis(1)).await;
    ///     }
    /// });
    /// ```
    pub fn call_later(&self, delay: Duration, f: impl FnOnce() + Send + 'static) -> CallbackHandle {
        self.call_at(crate::deadline::after(delay), f)
    }

    /// Runs `f` on this loop at `when` (asyncio's `call_at`), never earlier;
    /// callbacks due at the same time run in the order they were scheduled.
    /// Callable from any thread.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// weft::run(async {
    ///     let lp = weft::LoopHandle::current();
    ///     let when = lp.time() + Duration::from_millis(3);
    ///     let ran = Arc::new(AtomicBool::new(false));
    ///     let r = ran.clone();
    ///     lp.call_at(when, move || {
    ///         assert!(std::time::Instant::now() >= when);
    ///         r.store(true, Ordering::SeqCst);
    ///     });
    ///     while !ran.load(Ordering::SeqCst) {
    ///         weft::sleep(Duration::from_millis(1)).await;
    ///     }
    /// });
    /// ```
    pub fn call_at(&self, when: Instant, f: impl FnOnce() + Send + 'static) -> CallbackHandle {
        let handle = CallbackHandle::new();
        let call = Arc::new(DelayedCall {
            remote: self.remote.clone(),
            f: Mutex::new(Some(Box::new(handle.guard(f)))),
        });
        // `handle` is not shared yet, so nothing can cancel it before the
        // entry is stored; a timer that fires meanwhile leaves a stale slot,
        // whose removal is a no-op.
        let entry = TimerEntry::register(
            self.shared.driver.clone(),
            self.remote.key,
            when,
            Waker::from(call),
        );
        *handle.state.timer.lock() = Some(entry);
        handle
    }

    /// The loop's clock (asyncio's `loop.time()`): the monotonic clock
    /// [`call_at`](Self::call_at) and [`sleep_until`](crate::sleep_until) use.
    ///
    /// ```
    /// weft::run(async {
    ///     let lp = weft::LoopHandle::current();
    ///     let before = lp.time();
    ///     weft::sleep(std::time::Duration::from_millis(1)).await;
    ///     assert!(lp.time() > before);
    /// });
    /// ```
    pub fn time(&self) -> Instant {
        Instant::now()
    }
}

impl fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopHandle")
            .field("key", &self.remote.key)
            .finish_non_exhaustive()
    }
}

/// The timer waker of a delayed callback: firing hands the callback over.
struct DelayedCall {
    remote: Arc<LoopRemote>,
    f: Mutex<Option<Callback>>,
}

impl Wake for DelayedCall {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(f) = self.f.lock().take() {
            hand_over(&self.remote, f);
        }
    }
}

/// Queues `f` to run on this loop (asyncio's `call_soon`), behind the
/// callbacks and task steps queued on it before: the loop runs them all in
/// the order they were scheduled (on a runtime of several workers, see
/// docs/asyncio.md for what the LIFO slot and stealing reorder). `f` need
/// not be `Send`: it runs on this thread.
///
/// # Panics
///
/// Outside a weft loop (use [`LoopHandle::call_soon_threadsafe`] there).
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// weft::run(async {
///     let log = Rc::new(RefCell::new(Vec::new()));
///     for i in 0..3 {
///         let log = log.clone();
///         weft::call_soon(move || log.borrow_mut().push(i));
///     }
///     weft::yield_now().await;
///     assert_eq!(*log.borrow(), [0, 1, 2]);
/// });
/// ```
pub fn call_soon(f: impl FnOnce() + 'static) -> CallbackHandle {
    let handle = CallbackHandle::new();
    let f = Box::new(handle.guard(f));
    with_current(|lp| {
        lp.expect("weft::call_soon called outside a weft loop")
            .push_callback(f);
    });
    handle
}

/// Runs `f` on this loop once `delay` has passed (asyncio's `call_later`).
/// See [`LoopHandle::call_later`].
///
/// # Panics
///
/// Outside a weft loop.
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
///
/// weft::run(async {
///     let (tx, rx) = mpsc::channel();
///     weft::call_later(Duration::from_millis(5), move || tx.send("late").unwrap());
///     weft::sleep(Duration::from_millis(20)).await;
///     assert_eq!(rx.try_recv().unwrap(), "late");
/// });
/// ```
pub fn call_later(delay: Duration, f: impl FnOnce() + Send + 'static) -> CallbackHandle {
    LoopHandle::current().call_later(delay, f)
}

/// Runs `f` on this loop at `when` (asyncio's `call_at`). See
/// [`LoopHandle::call_at`].
///
/// # Panics
///
/// Outside a weft loop.
///
/// ```
/// use std::time::Duration;
///
/// weft::run(async {
///     let when = weft::loop_time() + Duration::from_millis(5);
///     let (tx, rx) = std::sync::mpsc::channel();
///     weft::call_at(when, move || tx.send(weft::loop_time()).unwrap());
///     weft::sleep(Duration::from_millis(20)).await;
///     assert!(rx.try_recv().unwrap() >= when, "never early");
/// });
/// ```
pub fn call_at(when: Instant, f: impl FnOnce() + Send + 'static) -> CallbackHandle {
    LoopHandle::current().call_at(when, f)
}

/// The loop clock (asyncio's `loop.time()`): monotonic, the one
/// [`call_at`] and [`sleep_until`](crate::sleep_until) take deadlines on.
///
/// ```
/// let t0 = weft::loop_time();
/// assert!(weft::loop_time() >= t0);
/// ```
pub fn loop_time() -> Instant {
    Instant::now()
}
