//! [`Promise<T>`]: asyncio's `Future`, a one-shot result settled by hand.

use crate::awaiting;
use crate::callback::{DoneCallback, DoneCallbacks};
use crate::chain::{AwaitMark, AwaitTarget};
use crate::context::{self, CallSoon};
use crate::error::{Cancelled, InvalidStateError, TaskError};
use crate::loom::sync::Mutex;
use crate::result_cell::ResultCell;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
// std's `Arc` even under loom: the await record holds it as a trait object,
// which loom's `Arc` cannot be; its count takes part in no protocol here.
use std::sync::Arc;
use std::task::{Context, Poll};

/// asyncio's `Future`: a result that some code sets and any number of tasks
/// await. (Named `Promise` so as not to collide with `std::future::Future`.)
///
/// Clones are handles to the same promise. Awaiting one (it implements
/// `IntoFuture` when `T: Clone`) yields a clone of the value, or the
/// [`TaskError`] it was settled with. Done callbacks run on the loop where the
/// promise was created, never synchronously, in registration order; a promise
/// made outside any loop runs them on the thread that settles it.
///
/// Dropping a handle never settles or cancels the promise; dropping the
/// last one of a promise settled with an error nobody read (by awaiting,
/// `result()` or `exception()`) reports that error to the exception handler
/// of the loop running on the thread dropping it (the default handler, which
/// logs, on a thread without one), as asyncio logs "Future exception was
/// never retrieved". A task cancelled
/// while awaiting a promise cancels the promise (asyncio propagates
/// cancellation to the awaited future).
///
/// ```
/// use weft::Promise;
///
/// weft::run(async {
///     let p = Promise::new();
///     let setter = p.clone();
///     weft::spawn(async move { setter.set_result(5).unwrap() }).detach();
///     assert_eq!(p.await.unwrap(), 5);
/// });
/// ```
pub struct Promise<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    state: Mutex<ResultCell<T, Promise<T>>>,
    lp: Option<Arc<dyn CallSoon>>,
}

/// A task awaiting the promise is cancelled: so is the promise, at once.
impl<T: Send + 'static> AwaitTarget for Inner<T> {
    fn cancel_awaited(self: Arc<Self>, cancelled: &Cancelled) {
        let _ = Promise { inner: self }.settle(Err(TaskError::Cancelled(cancelled.clone())));
    }

    fn describe(&self) -> crate::AwaitDescription {
        crate::AwaitDescription::new("promise")
    }
}

impl<T: Send + 'static> Promise<T> {
    /// A pending promise bound to the current loop (if any) for its callbacks.
    ///
    /// ```
    /// let p = weft::Promise::<u8>::new(); // outside a loop: callbacks run inline
    /// assert!(!p.done());
    /// ```
    pub fn new() -> Promise<T> {
        Promise {
            inner: Arc::new(Inner {
                state: Mutex::new(ResultCell::new()),
                lp: context::current_loop(),
            }),
        }
    }

    /// Settles the promise with a value. `Err(InvalidStateError)` if it is
    /// already done (cancelled included); the value is then dropped.
    ///
    /// ```
    /// let p = weft::Promise::new();
    /// p.set_result(1).unwrap();
    /// assert!(p.set_result(2).unwrap_err().is_already_done());
    /// assert_eq!(p.result().unwrap().unwrap(), 1);
    /// ```
    pub fn set_result(&self, value: T) -> Result<(), InvalidStateError> {
        self.settle(Ok(value))
    }

    /// Settles the promise with an error (asyncio's `set_exception`).
    /// `Err(InvalidStateError)` if it is already done.
    ///
    /// ```
    /// weft::run(async {
    ///     let p = weft::Promise::<u8>::new();
    ///     p.set_exception(weft::TaskError::failed(std::io::Error::other("boom")))
    ///         .unwrap();
    ///     let err = p.await.unwrap_err();
    ///     assert!(err.is_failed());
    ///     assert!(err.to_string().contains("boom"));
    /// });
    /// ```
    pub fn set_exception(&self, error: TaskError) -> Result<(), InvalidStateError> {
        self.settle(Err(error))
    }

    /// Cancels the promise: false if it is already done, else true and it is
    /// done and cancelled from now on.
    ///
    /// ```
    /// let p = weft::Promise::<u8>::new();
    /// assert!(p.cancel());
    /// assert!(!p.cancel(), "already done");
    /// assert!(p.cancelled() && p.done());
    /// assert!(p.set_result(1).is_err());
    /// ```
    pub fn cancel(&self) -> bool {
        self.settle(Err(TaskError::Cancelled(Cancelled::new())))
            .is_ok()
    }

    /// [`cancel`](Self::cancel) with a message.
    ///
    /// ```
    /// weft::run(async {
    ///     let p = weft::Promise::<u8>::new();
    ///     assert!(p.cancel_with("no longer needed"));
    ///     let err = p.await.unwrap_err();
    ///     assert_eq!(err.as_cancelled().unwrap().message(), Some("no longer needed"));
    /// });
    /// ```
    pub fn cancel_with(&self, message: impl Into<String>) -> bool {
        let c = Cancelled::with_message(message.into());
        self.settle(Err(TaskError::Cancelled(c))).is_ok()
    }

    fn settle(&self, outcome: Result<T, TaskError>) -> Result<(), InvalidStateError> {
        let settled = self.inner.state.lock().try_set(outcome);
        match settled {
            // Each waiter is woken through the panic runner, so one panicking
            // waker neither strands the others nor skips the callbacks.
            Ok(wakeups) => {
                self.schedule_callbacks(wakeups.wake());
                Ok(())
            }
            // The refused outcome is dropped here, outside the lock.
            Err(_refused) => Err(InvalidStateError::AlreadyDone),
        }
    }

    fn schedule_callbacks(&self, callbacks: DoneCallbacks<Promise<T>>) {
        if callbacks.is_empty() {
            return;
        }
        let this = self.clone();
        let run = move || callbacks.fire(&this);
        match self.inner.lp.clone().or_else(context::current_loop) {
            Some(lp) => lp.call_soon(Box::new(run)),
            None => run(),
        }
    }

    /// Whether the promise is settled (value, error or cancelled).
    ///
    /// ```
    /// let p = weft::Promise::new();
    /// assert!(!p.done());
    /// p.set_result(()).unwrap();
    /// assert!(p.done());
    /// ```
    pub fn done(&self) -> bool {
        self.inner.state.lock().is_done()
    }

    /// Whether the promise was cancelled.
    ///
    /// ```
    /// let (kept, dropped) = (weft::Promise::new(), weft::Promise::<()>::new());
    /// kept.set_result(()).unwrap();
    /// dropped.cancel();
    /// assert!(!kept.cancelled());
    /// assert!(dropped.cancelled());
    /// ```
    pub fn cancelled(&self) -> bool {
        self.inner.state.lock().is_cancelled()
    }

    /// The error it was settled with: `Ok(None)` for a value, `Ok(Some(err))` for
    /// an error or cancellation, `Err(InvalidStateError)` while pending.
    ///
    /// ```
    /// let p = weft::Promise::<u8>::new();
    /// assert!(p.exception().unwrap_err().is_pending());
    /// p.cancel();
    /// assert!(p.exception().unwrap().unwrap().is_cancelled());
    ///
    /// let ok = weft::Promise::new();
    /// ok.set_result(1).unwrap();
    /// assert!(ok.exception().unwrap().is_none());
    /// ```
    pub fn exception(&self) -> Result<Option<TaskError>, InvalidStateError> {
        let mut state = self.inner.state.lock();
        if state.is_done() {
            state.mark_retrieved();
        }
        state.exception()
    }

    /// Registers `cb` to run when the promise is settled (at once, on the loop,
    /// if it already is).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use weft::{DoneCallback, Promise};
    ///
    /// weft::run(async {
    ///     let seen = Arc::new(AtomicBool::new(false));
    ///     let s = seen.clone();
    ///     let p = Promise::new();
    ///     p.add_done_callback(DoneCallback::new(move |p: &Promise<u8>| {
    ///         assert_eq!(p.result().unwrap().unwrap(), 9);
    ///         s.store(true, Ordering::SeqCst);
    ///     }));
    ///     p.set_result(9).unwrap();
    ///     while !seen.load(Ordering::SeqCst) {
    ///         weft::yield_now().await; // callbacks run soon, on the loop
    ///     }
    /// });
    /// ```
    pub fn add_done_callback(&self, cb: DoneCallback<Promise<T>>) {
        let refused = self.inner.state.lock().add_done_callback(cb);
        if let Err(cb) = refused {
            self.schedule_callbacks(cb.into());
        }
    }

    /// Removes every registration of `cb`; returns how many there were.
    ///
    /// ```
    /// use weft::{DoneCallback, Promise};
    ///
    /// let p = Promise::<()>::new();
    /// let cb = DoneCallback::new(|_: &Promise<()>| unreachable!("removed"));
    /// p.add_done_callback(cb.clone());
    /// p.add_done_callback(cb.clone());
    /// assert_eq!(p.remove_done_callback(&cb), 2);
    /// p.set_result(()).unwrap();
    /// ```
    pub fn remove_done_callback(&self, cb: &DoneCallback<Promise<T>>) -> usize {
        self.inner.state.lock().remove_done_callback(cb)
    }
}

impl<T: Clone + Send + 'static> Promise<T> {
    /// The value (cloned) without awaiting: `Err(InvalidStateError)` while
    /// pending; the inner `Result` is the outcome (asyncio's `result()`).
    ///
    /// ```
    /// let p = weft::Promise::new();
    /// assert!(p.result().unwrap_err().is_pending());
    /// p.set_result(String::from("v")).unwrap();
    /// assert_eq!(p.result().unwrap().unwrap(), "v");
    /// assert_eq!(p.result().unwrap().unwrap(), "v", "cloned: readable again");
    /// ```
    pub fn result(&self) -> Result<Result<T, TaskError>, InvalidStateError> {
        let mut state = self.inner.state.lock();
        if state.is_done() {
            state.mark_retrieved();
        }
        state.peek().cloned()
    }

    /// A future resolving to the outcome; many may wait at once.
    ///
    /// ```
    /// weft::run(async {
    ///     let p = weft::Promise::new();
    ///     let (w1, w2) = (p.wait(), p.wait());
    ///     let a = weft::spawn(w1);
    ///     let b = weft::spawn(w2);
    ///     p.set_result(3).unwrap();
    ///     assert_eq!(a.await.unwrap().unwrap(), 3);
    ///     assert_eq!(b.await.unwrap().unwrap(), 3);
    /// });
    /// ```
    pub fn wait(&self) -> PromiseWait<T> {
        PromiseWait {
            promise: self.clone(),
            slot: None,
            awaited_at: AwaitMark::new(),
        }
    }
}

impl<T> Drop for Inner<T> {
    /// The last handle is gone: an error nobody read is reported to the
    /// exception handler of the loop running on this thread (asyncio's
    /// "Future exception was never retrieved").
    fn drop(&mut self) {
        let error = self.state.lock().unretrieved_error().cloned();
        if let Some(error) = error {
            report_unretrieved::<T>(error);
        }
    }
}

#[cold]
#[inline(never)]
fn report_unretrieved<T>(error: TaskError) {
    let context = crate::ExceptionContext::new("Future exception was never retrieved")
        .with_error(error)
        .with_future(std::any::type_name::<Promise<T>>());
    crate::exception::report(None, context);
}

impl<T: Send + 'static> Default for Promise<T> {
    fn default() -> Self {
        Promise::new()
    }
}

impl<T> Clone for Promise<T> {
    fn clone(&self) -> Self {
        Promise {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for Promise<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state.lock();
        let state = if !state.is_done() {
            "pending"
        } else if state.is_cancelled() {
            "cancelled"
        } else if state.error().is_some() {
            "failed"
        } else {
            "finished"
        };
        f.debug_struct("Promise")
            .field("state", &format_args!("{state}"))
            .finish()
    }
}

impl<T: Clone + Send + 'static> IntoFuture for Promise<T> {
    type Output = Result<T, TaskError>;
    type IntoFuture = PromiseWait<T>;

    fn into_future(self) -> PromiseWait<T> {
        PromiseWait {
            promise: self,
            slot: None,
            awaited_at: AwaitMark::new(),
        }
    }
}

/// The future returned by [`Promise::wait`] (and by awaiting a `Promise`).
/// Dropping it while it waits inside a task that is being cancelled cancels
/// the promise.
///
/// Named apart from `weft::Wait`, the combinator that waits for many tasks.
///
/// ```
/// weft::run(async {
///     let p = weft::Promise::new();
///     p.set_result(3).unwrap();
///     let waiting: weft::PromiseWait<i32> = p.wait();
///     assert_eq!(waiting.await.unwrap(), 3);
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct PromiseWait<T: Send + 'static> {
    promise: Promise<T>,
    slot: Option<usize>,
    /// The task poll in which this waiter last returned `Pending`.
    awaited_at: AwaitMark,
}

impl<T: Send + 'static> Unpin for PromiseWait<T> {}

impl<T: Clone + Send + 'static> Future for PromiseWait<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if crate::coop::poll_proceed(cx).is_pending() {
            self.suspend();
            return Poll::Pending;
        }
        let this = &mut *self;
        let mut state = this.promise.inner.state.lock();
        if state.is_done() {
            state.mark_retrieved();
        }
        if let Ok(outcome) = state.peek() {
            this.slot = None;
            let outcome = outcome.clone();
            drop(state);
            let target = this.target();
            awaiting::resume(&mut this.awaited_at, target);
            return Poll::Ready(outcome);
        }
        state.register(&mut this.slot, cx.waker());
        drop(state);
        this.suspend();
        Poll::Pending
    }
}

impl<T: Send + 'static> PromiseWait<T> {
    /// Returns `Pending`: the task awaits the promise now.
    fn suspend(&mut self) {
        awaiting::suspend(&mut self.awaited_at, &self.promise.inner);
    }

    /// The promise's address, as the await record names it.
    fn target(&self) -> *const () {
        Arc::as_ptr(&self.promise.inner) as *const ()
    }
}

impl<T: Send + 'static> Drop for PromiseWait<T> {
    /// Leaves the waiter list; if the task awaiting this (at its latest poll)
    /// is being cancelled, cancels the promise too.
    fn drop(&mut self) {
        if self.awaited_at.is_set() {
            awaiting::forget(self.target());
        }
        let Some(i) = self.slot else { return };
        let cancel = {
            let mut state = self.promise.inner.state.lock();
            state.deregister(i);
            !state.is_done()
        };
        if cancel {
            if let Some(d) = self.awaited_at.delivering(self.target()) {
                if d.must_cancel() {
                    let c = d.cancelled().clone();
                    let _ = self.promise.settle(Err(TaskError::Cancelled(c)));
                }
            }
        }
    }
}

impl<T: Send + 'static> fmt::Debug for PromiseWait<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PromiseWait")
            .field("promise", &self.promise)
            .finish()
    }
}
