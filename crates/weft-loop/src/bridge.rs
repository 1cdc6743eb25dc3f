//! The sync bridge: [`run_coroutine_threadsafe`] and [`ConcurrentFuture`]
//! (Python's `concurrent.futures.Future`), which [`spawn_blocking`](crate::spawn_blocking) returns
//! too.
//!
//! # Protocol
//!
//! A `ConcurrentFuture` is an `Arc<Slot<T>>`: weft-task's one result cell
//! ([`ResultCell`]: the outcome, the async waiters, the done callbacks, and
//! its set-once / take-once rules) and the work's source under one mutex; a
//! condvar for blocked threads around it; and a `done` flag outside the lock
//! for the waiting thread's short spin.
//!
//! - **Completion** (`Slot::complete`, once): under the lock, set the cell
//!   and `done`; then, outside it, `notify_all` the condvar, wake the async
//!   waiters (each through the panic runner, so a panicking waker neither
//!   stops the others nor skips the callbacks) and run the done callbacks, on
//!   the completing thread.
//! - **A blocked `result`** spins on `done` (Acquire, pairs with the Release
//!   store in `complete`) for up to 10 µs, then locks, re-checks the
//!   outcome and waits on the condvar. The outcome is stored under the lock
//!   before `notify_all`, so the waiter either sees it or is already waiting
//!   when the notification comes: no wake-up is lost.
//! - **A task source** registers the slot as the task's join waker
//!   ([`Task::poll_done`]) right after the spawn, then stores the handle in
//!   the slot and checks `done()` once more: a task that completed in between
//!   woke a slot that had no handle yet, and that check catches it. Every
//!   later completion comes through the join waker.
//! - **A blocking source** (`spawn_blocking`) completes the slot from the
//!   pool thread. It claims the job under the lock (`start_job`), so `cancel`
//!   either wins (the job is skipped) or sees it running and returns false.
//!   A job dropped unrun (the runtime shut down) completes `Cancelled`.
//! - **A task awaiting the future is cancelled** (its future dropped while
//!   this was pending in its latest poll, weft-task's `chain.rs`): the
//!   cancellation is passed on as [`cancel`](ConcurrentFuture::cancel)
//!   would (asyncio's `wrap_future` cancels the concurrent future). If that
//!   was accepted and the work has not ended yet (a task now cancelled), the
//!   cancelled task ends only after it has: a clone of the future waits for
//!   the slot through the cell's waiter list, like an await. A running job
//!   cannot be stopped (`cancel` returns false), and is not waited for, as
//!   asyncio's task does not wait for its thread.

use crate::loom::sync::{AtomicBool, Condvar, Mutex, MutexGuard, Ordering};
use crate::loop_handle::LoopHandle;
use crate::runtime::{spawn_on, Handle, Start};
use crate::scheduler::{spawn_pinned, PinTo};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
use weft_task::chain::{self, AwaitMark, AwaitTarget, Awaited, Delivering};
use weft_task::{awaiting, spin};
use weft_task::{Cancelled, DoneCallback, InvalidStateError, ResultCell, Task, TaskError};

/// Runs `future` on a weft runtime from any thread (asyncio's
/// `run_coroutine_threadsafe`) and returns a [`ConcurrentFuture`] for its
/// outcome, which plain threads wait on with [`ConcurrentFuture::result`] and
/// async code awaits.
///
/// `target` picks where it runs: a [`Handle`] (any worker of that runtime, as
/// `spawn`) or a [`LoopHandle`] (that one loop, delivered through its inbox
/// with a wake-up). Calling it from inside a task is fine: it only spawns.
/// On a shut-down runtime the future is dropped unpolled and the result is
/// `Cancelled` ("runtime is shut down").
///
/// ```
/// use std::time::Duration;
///
/// let rt = weft::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// let answer = std::thread::spawn(move || {
///     let fut = weft::run_coroutine_threadsafe(async { 6 * 7 }, &handle);
///     fut.result(Some(Duration::from_secs(5))).unwrap()
/// });
/// assert_eq!(answer.join().unwrap(), 42);
/// ```
#[track_caller]
pub fn run_coroutine_threadsafe<F, Tg>(future: F, target: &Tg) -> ConcurrentFuture<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    Tg: Target + ?Sized,
{
    let slot = Slot::new(Source::None);
    let started = slot.clone();
    let task = target.spawn_on_target(
        async move {
            started.started.store(true, Ordering::Relaxed);
            drop(started);
            future.await
        },
        Location::caller(),
    );
    slot.watch(task);
    ConcurrentFuture::from_slot(slot)
}

/// Where [`run_coroutine_threadsafe`] runs its future: a [`Handle`] (any
/// worker of its runtime) or a [`LoopHandle`] (that one loop).
///
/// ```
/// use weft::{ConcurrentFuture, Target};
///
/// /// Works out the answer wherever `target` says.
/// fn answer<T: Target + ?Sized>(target: &T) -> ConcurrentFuture<u32> {
///     weft::run_coroutine_threadsafe(async { 6 * 7 }, target)
/// }
///
/// let runner = weft::Runner::new().unwrap();
/// assert_eq!(answer(runner.handle()).result(None).unwrap(), 42);
/// // The runner's own loop runs only during a run: the work waits for one.
/// let on_loop = answer(&runner.loop_handle());
/// assert!(!on_loop.done());
/// assert_eq!(runner.run(on_loop).unwrap(), 42);
/// ```
///
/// Sealed: only weft's handles implement it.
///
/// ```compile_fail,E0277
/// struct Elsewhere;
/// impl weft::Target for Elsewhere {}
/// ```
pub trait Target: sealed::Sealed {
    #[doc(hidden)]
    fn spawn_on_target<F>(
        &self,
        future: F,
        location: &'static Location<'static>,
    ) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
}

mod sealed {
    /// The supertrait that keeps [`Target`](super::Target) to weft's own
    /// handles; private, so nothing outside can name it.
    #[doc(hidden)]
    pub trait Sealed {}
    impl Sealed for crate::Handle {}
    impl Sealed for crate::LoopHandle {}
}

impl Target for Handle {
    fn spawn_on_target<F>(&self, future: F, location: &'static Location<'static>) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match spawn_on(&self.shared, future, location, Start::Configured) {
            Ok(task) | Err(task) => task,
        }
    }
}

impl Target for LoopHandle {
    fn spawn_on_target<F>(&self, future: F, location: &'static Location<'static>) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (shared, remote) = self.parts();
        match spawn_pinned(PinTo::there(shared, remote), future, location) {
            Ok(task) | Err(task) => task,
        }
    }
}

/// Python's `concurrent.futures.Future`: the outcome of work running
/// elsewhere, for plain threads to wait on ([`result`](Self::result) with a
/// timeout) and for async code to await. Returned by
/// [`run_coroutine_threadsafe`] and [`spawn_blocking`](crate::spawn_blocking).
///
/// Clones share the outcome; the value is moved out by the first
/// [`result`](Self::result) (or await) that gets it, later ones get
/// [`FutureError::InvalidState`]`(`[`InvalidStateError::ResultTaken`]`)`; an
/// error goes to every caller. **Dropping it does not cancel the work**; call
/// [`cancel`](Self::cancel) — except when a task awaiting it is cancelled
/// (its future dropped with this pending in it): then the cancellation is
/// passed on, as asyncio's `wrap_future` does, and if it was accepted the
/// task ends only after the work has.
///
/// ```
/// use std::time::Duration;
///
/// let rt = weft::Runtime::new().unwrap();
/// let fut = weft::run_coroutine_threadsafe(
///     weft::sleep_with(Duration::from_secs(60), 1),
///     rt.handle(),
/// );
/// let err = fut.result(Some(Duration::from_millis(10))).unwrap_err();
/// assert!(err.is_timeout() && !fut.done()); // the task keeps running
/// assert!(fut.cancel());
/// assert!(fut.result(None).unwrap_err().is_cancelled());
/// assert!(fut.cancelled());
/// ```
pub struct ConcurrentFuture<T> {
    slot: Arc<Slot<T>>,
    /// This handle's index in the cell's waiter list, once it awaited.
    waiter: Option<usize>,
    /// The task poll in which this last returned `Pending`.
    awaited_at: AwaitMark,
    /// How a cancellation of the task awaiting this is passed on: set by
    /// `poll`, where `T: Send + 'static` is known (this `Drop` cannot ask).
    pass_on: Option<PassOn<T>>,
}

/// How a cancellation of the awaiting task reaches the work (`pass_cancel_on`).
type PassOn<T> = fn(&Arc<Slot<T>>, &Delivering);

impl<T> Clone for ConcurrentFuture<T> {
    fn clone(&self) -> Self {
        ConcurrentFuture::from_slot(self.slot.clone())
    }
}

impl<T> Drop for ConcurrentFuture<T> {
    fn drop(&mut self) {
        if let Some(i) = self.waiter {
            self.slot.state.lock().cell.deregister(i);
        }
        if self.awaited_at.is_set() {
            awaiting::forget(self.target());
        }
        if let Some(pass_on) = self.pass_on {
            if let Some(delivering) = self.awaited_at.delivering(self.target()) {
                pass_on(&self.slot, &delivering);
            }
        }
    }
}

/// A task awaiting the future is being cancelled: cancel the work with the
/// same message (unless the `cancel()` did already); if it was accepted
/// and it has not ended, the task ends only after it has (see the module
/// header).
fn pass_cancel_on<T: Send + 'static>(slot: &Arc<Slot<T>>, delivering: &Delivering) {
    let end = ConcurrentFuture::from_slot(slot.clone());
    let accepted = if delivering.must_cancel() {
        end.cancel_as(delivering.cancelled())
    } else {
        // The `cancel()` passed it on: a task took the request (a running
        // job refused it, and is not waited for, as above).
        matches!(end.slot.state.lock().source, Source::Task(_))
    };
    if accepted && !end.done() {
        chain::wait_for_end(Box::new(end));
    }
}

/// A task awaiting the future is cancelled: the work is cancelled at once.
impl<T: Send + 'static> AwaitTarget for Slot<T> {
    fn cancel_awaited(self: Arc<Self>, cancelled: &Cancelled) {
        ConcurrentFuture::from_slot(self).cancel_as(cancelled);
    }

    fn describe(&self) -> weft_task::AwaitDescription {
        weft_task::AwaitDescription::new("concurrent future")
    }
}

impl<T: Send + 'static> Awaited for ConcurrentFuture<T> {
    fn cancel(&mut self, cancelled: &Cancelled) {
        self.cancel_as(cancelled);
    }

    fn poll_ended(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.slot.state.lock();
        if st.cell.is_done() {
            return Poll::Ready(());
        }
        st.cell.register(&mut self.waiter, cx.waker());
        Poll::Pending
    }
}

pub(crate) struct Slot<T> {
    state: Mutex<SlotState<T>>,
    ready: Condvar,
    /// Set once, under the lock, when the outcome is stored.
    done: AtomicBool,
    /// The work has begun (first poll of the task, or the job claimed).
    started: AtomicBool,
}

struct SlotState<T> {
    cell: ResultCell<T, ConcurrentFuture<T>>,
    source: Source<T>,
}

impl<T> SlotState<T> {
    /// The value for the first taker; an error for every caller.
    fn take_result(&mut self) -> Result<T, FutureError> {
        match self.cell.take() {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(FutureError::Task(e)),
            Err(invalid) => Err(match self.cell.error() {
                Some(e) => FutureError::Task(e.clone()),
                None => FutureError::InvalidState(invalid),
            }),
        }
    }
}

pub(crate) enum Source<T> {
    /// Not attached yet, or done.
    None,
    Task(Task<T>),
    /// A `spawn_blocking` job, not claimed yet or running.
    Job,
}

impl<T> Slot<T> {
    /// A slot fed by `source`: `Source::Job` for a blocking job, `None` for
    /// a task attached later by `watch`.
    pub(crate) fn new(source: Source<T>) -> Arc<Slot<T>> {
        Arc::new(Slot {
            state: Mutex::new(SlotState {
                cell: ResultCell::new(),
                source,
            }),
            ready: Condvar::new(),
            done: AtomicBool::new(false),
            started: AtomicBool::new(false),
        })
    }

    /// Claims the job for running; false if it was cancelled first.
    pub(crate) fn start_job(&self) -> bool {
        let st = self.state.lock();
        if st.cell.is_done() {
            return false;
        }
        self.started.store(true, Ordering::Relaxed);
        true
    }

    /// Stores the outcome (the first one wins) and tells everyone waiting.
    pub(crate) fn complete(self: &Arc<Self>, outcome: Result<T, TaskError>) {
        let st = self.state.lock();
        self.complete_locked(st, outcome);
    }

    /// [`complete`](Self::complete) with the lock already held: stores the
    /// outcome under it (so a racing `cancel` or second completion sees it
    /// done), then releases it to notify, wake and run the callbacks.
    fn complete_locked(
        self: &Arc<Self>,
        mut st: MutexGuard<'_, SlotState<T>>,
        outcome: Result<T, TaskError>,
    ) {
        let Ok(wakeups) = st.cell.try_set(outcome) else {
            return;
        };
        st.source = Source::None;
        // Release: pairs with the Acquire loads in `is_done` (the spin).
        self.done.store(true, Ordering::Release);
        drop(st);
        self.ready.notify_all();
        let callbacks = wakeups.wake();
        if !callbacks.is_empty() {
            callbacks.fire(&ConcurrentFuture::from_slot(self.clone()));
        }
    }

    fn is_done(&self) -> bool {
        // Acquire: pairs with the Release store in `complete`.
        self.done.load(Ordering::Acquire)
    }
}

impl<T: Send + 'static> Slot<T> {
    /// Attaches the task: the slot becomes its join waker (see the module
    /// header for why the check after storing the handle loses nothing).
    fn watch(self: &Arc<Self>, mut task: Task<T>) {
        let waker = Waker::from(self.clone());
        let _ = task.poll_done(&mut Context::from_waker(&waker));
        self.state.lock().source = Source::Task(task);
        self.check_task();
    }

    /// Takes the task's outcome if it is done, and completes the slot with
    /// it under the same lock: two wake-ups racing, or a `cancel`, find it
    /// complete, never a task whose value is already gone.
    fn check_task(self: &Arc<Self>) {
        let mut st = self.state.lock();
        let Source::Task(task) = &mut st.source else {
            return;
        };
        if !task.done() {
            return;
        }
        let outcome = task.result().unwrap_or_else(|e| Err(TaskError::failed(e)));
        self.complete_locked(st, outcome);
    }
}

impl<T: Send + 'static> Wake for Slot<T> {
    fn wake(self: Arc<Self>) {
        self.check_task();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.check_task();
    }
}

impl<T> ConcurrentFuture<T> {
    /// The work's address, as the await record names it.
    fn target(&self) -> *const () {
        Arc::as_ptr(&self.slot) as *const ()
    }

    pub(crate) fn from_slot(slot: Arc<Slot<T>>) -> ConcurrentFuture<T> {
        ConcurrentFuture {
            slot,
            waiter: None,
            awaited_at: AwaitMark::new(),
            pass_on: None,
        }
    }

    /// Waits for the outcome: the value (moved out), or the work's error
    /// (`Cancelled`, a panic, a failure). `timeout`: `None` waits as long as
    /// it takes; when it passes first, [`FutureError::Timeout`], and **the
    /// work keeps running**.
    ///
    /// Blocks the thread (a short spin, then a condvar), so call it from
    /// plain threads. On a weft loop thread (inside a task or `block_on`),
    /// where blocking could deadlock the loop the work needs, it does not
    /// wait: a result not ready yet is [`FutureError::WouldBlock`]; await the
    /// future there instead.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// let fut = weft::run_coroutine_threadsafe(async { "value" }, rt.handle());
    /// assert_eq!(fut.result(Some(Duration::from_secs(5))).unwrap(), "value");
    /// // Moved out: a second call says so.
    /// assert!(fut.result(None).is_err());
    /// ```
    pub fn result(&self, timeout: Option<Duration>) -> Result<T, FutureError> {
        self.wait(timeout)?.take_result()
    }

    /// Waits like [`result`](Self::result), then returns the work's error,
    /// or `None` if it produced a value (concurrent.futures' `exception()`).
    /// The value stays in place.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// let fut = weft::run_coroutine_threadsafe(async { 1 }, rt.handle());
    /// assert!(fut.exception(Some(Duration::from_secs(5))).unwrap().is_none());
    /// assert_eq!(fut.result(None).unwrap(), 1, "still there");
    /// ```
    pub fn exception(&self, timeout: Option<Duration>) -> Result<Option<TaskError>, FutureError> {
        let st = self.wait(timeout)?;
        Ok(st.cell.error().cloned())
    }

    /// Whether the work has finished (a value, an error or cancelled).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// let fut = weft::run_coroutine_threadsafe(async { 2 }, rt.handle());
    /// fut.result(Some(Duration::from_secs(5))).unwrap();
    /// assert!(fut.done());
    /// ```
    pub fn done(&self) -> bool {
        self.slot.is_done()
    }

    /// Whether the work ended cancelled.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// let fut = weft::run_coroutine_threadsafe(std::future::pending::<()>(), rt.handle());
    /// assert!(!fut.cancelled());
    /// fut.cancel();
    /// assert!(fut.result(Some(Duration::from_secs(5))).unwrap_err().is_cancelled());
    /// assert!(fut.cancelled());
    /// ```
    pub fn cancelled(&self) -> bool {
        self.slot.state.lock().cell.is_cancelled()
    }

    /// Whether the work has started and not finished.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// let fut = weft::run_coroutine_threadsafe(std::future::pending::<()>(), rt.handle());
    /// while !fut.running() {
    ///     std::thread::sleep(Duration::from_millis(1)); // until a worker polls it
    /// }
    /// fut.cancel();
    /// let _ = fut.result(Some(Duration::from_secs(5)));
    /// assert!(!fut.running());
    /// ```
    pub fn running(&self) -> bool {
        self.slot.started.load(Ordering::Relaxed) && !self.done()
    }

    /// Cancels the work; true unless it had finished already (then false).
    /// A task gets a cancel request (it may intercept it, as any task may);
    /// a blocking job not started yet is skipped and ends `Cancelled`, one
    /// already running cannot be stopped (false). Calling it again is
    /// harmless.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// let fut = weft::run_coroutine_threadsafe(std::future::pending::<()>(), rt.handle());
    /// assert!(fut.cancel());
    /// let _ = fut.result(Some(Duration::from_secs(5)));
    /// assert!(!fut.cancel(), "finished: nothing to cancel");
    /// ```
    pub fn cancel(&self) -> bool {
        self.cancel_as(&Cancelled::new())
    }

    /// [`cancel`](Self::cancel) with the message of `cancelled`.
    fn cancel_as(&self, cancelled: &Cancelled) -> bool {
        let st = self.slot.state.lock();
        match &st.source {
            _ if st.cell.is_done() => false,
            // False if it finished and its wake-up has not reached us yet.
            Source::Task(task) => match cancelled.message() {
                Some(message) => task.cancel_with(message),
                None => task.cancel(),
            },
            Source::Job if self.slot.started.load(Ordering::Relaxed) => false,
            Source::Job | Source::None => {
                self.slot
                    .complete_locked(st, Err(TaskError::Cancelled(cancelled.clone())));
                true
            }
        }
    }

    /// Runs `f` when the work finishes, on the thread that finishes it; at
    /// once, on this thread, if it has finished already. Callbacks run in the
    /// order they were added; a panic in one is reported through `tracing`.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let fut = weft::run_coroutine_threadsafe(async { 5 }, rt.handle());
    /// fut.add_done_callback(move |f| tx.send(f.done()).unwrap());
    /// assert!(rx.recv_timeout(Duration::from_secs(5)).unwrap());
    /// ```
    pub fn add_done_callback(&self, f: impl FnOnce(&ConcurrentFuture<T>) + Send + 'static) {
        let refused = self
            .slot
            .state
            .lock()
            .cell
            .add_done_callback(DoneCallback::once(f));
        if let Err(cb) = refused {
            weft_task::DoneCallbacks::from(cb).fire(self);
        }
    }

    /// Waits until done, or `timeout`; returns the locked state.
    fn wait(&self, timeout: Option<Duration>) -> Result<MutexGuard<'_, SlotState<T>>, FutureError> {
        let deadline = timeout.map(crate::deadline::after);
        if !self.slot.is_done() {
            if crate::context::is_entered() {
                return Err(FutureError::WouldBlock);
            }
            // A round trip to a worker usually ends within the spin; a sleep
            // costs a futex call on each side and often a migration.
            spin::spin_until(deadline, || self.slot.is_done());
        }
        let mut st = self.slot.state.lock();
        while !st.cell.is_done() {
            match deadline {
                None => self.slot.ready.wait(&mut st),
                Some(deadline) => {
                    if self.slot.ready.wait_until(&mut st, deadline).timed_out()
                        && !st.cell.is_done()
                    {
                        return Err(FutureError::Timeout);
                    }
                }
            }
        }
        Ok(st)
    }
}

impl<T: Send + 'static> Future for ConcurrentFuture<T> {
    type Output = Result<T, FutureError>;

    /// Awaiting moves the value out, like [`result`](ConcurrentFuture::result);
    /// works on any runtime (or none).
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut st = this.slot.state.lock();
        if st.cell.is_done() {
            let out = st.take_result();
            drop(st);
            let target = this.target();
            awaiting::resume(&mut this.awaited_at, target);
            return Poll::Ready(out);
        }
        st.cell.register(&mut this.waiter, cx.waker());
        drop(st);
        awaiting::suspend(&mut this.awaited_at, &this.slot);
        this.pass_on = Some(pass_cancel_on::<T>);
        Poll::Pending
    }
}

impl<T> fmt::Debug for ConcurrentFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.cancelled() {
            "cancelled"
        } else if self.done() {
            "done"
        } else if self.running() {
            "running"
        } else {
            "pending"
        };
        f.debug_struct("ConcurrentFuture")
            .field("state", &state)
            .finish()
    }
}

/// Why [`ConcurrentFuture::result`] returned no value.
///
/// ```
/// let e = weft::FutureError::Timeout;
/// assert_eq!(e.to_string(), "timed out waiting for the result");
/// assert!(e.is_timeout());
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum FutureError {
    /// The timeout passed first; the work goes on.
    Timeout,
    /// Called on a weft loop thread before the outcome was ready: waiting
    /// there could deadlock the loop; await the future instead.
    WouldBlock,
    /// An earlier `result` or await took the value
    /// ([`InvalidStateError::ResultTaken`], as `Task::result` reports it).
    InvalidState(InvalidStateError),
    /// The work ended with this error (a cancellation, a panic, a failure).
    Task(TaskError),
}

impl FutureError {
    /// Whether the timeout passed.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// let fut = weft::run_coroutine_threadsafe(std::future::pending::<()>(), rt.handle());
    /// assert!(fut.result(Some(Duration::from_millis(1))).unwrap_err().is_timeout());
    /// fut.cancel();
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, FutureError::Timeout)
    }

    /// Whether the work was cancelled.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// let fut = weft::run_coroutine_threadsafe(std::future::pending::<()>(), rt.handle());
    /// fut.cancel();
    /// let err = fut.result(Some(Duration::from_secs(5))).unwrap_err();
    /// assert!(err.is_cancelled() && !err.is_timeout());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, FutureError::Task(e) if e.is_cancelled())
    }

    /// The work's error, if it ended with one.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft::Runtime::new().unwrap();
    /// let fut = weft::run_coroutine_threadsafe(async { panic!("boom") }, rt.handle());
    /// let err = fut.result(Some(Duration::from_secs(5))).unwrap_err();
    /// assert!(err.task_error().unwrap().is_panic());
    /// ```
    pub fn task_error(&self) -> Option<&TaskError> {
        match self {
            FutureError::Task(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for FutureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FutureError::Timeout => f.write_str("timed out waiting for the result"),
            FutureError::WouldBlock => {
                f.write_str("would block a weft loop thread: await the future instead")
            }
            FutureError::InvalidState(e) => e.fmt(f),
            FutureError::Task(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for FutureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FutureError::Task(e) => Some(e),
            FutureError::InvalidState(e) => Some(e),
            FutureError::Timeout => {
                static TIMEOUT: weft_task::TimeoutError = weft_task::TimeoutError::new();
                Some(&TIMEOUT)
            }
            FutureError::WouldBlock => None,
        }
    }
}
