//! Intercepting cancellation: [`catch_cancel`] and [`Cancelled::raise`].
//!
//! asyncio throws `CancelledError` into the coroutine at its await point, where
//! `try/except/finally` may clean up (even with awaits), re-raise or refuse. Rust
//! cannot throw into a future, so weft delivers a cancellation by dropping the
//! task's future at its await point (destructors are the `finally`), unless the
//! await point sits inside a [`catch_cancel`] wrapper: then the innermost such
//! wrapper drops only its own inner future and returns `Err(Cancelled)` to the
//! code around it, which keeps running.
//!
//! # Protocol
//!
//! A wrapper that returns `Pending` adds one to the thread's intercept count; the
//! runner stores the count after each poll as the task's `intercept_depth`. Each
//! wrapper also remembers how many wrappers registered inside it, so on the next
//! poll it knows whether it is innermost. The runner drops the whole future only
//! when the depth is zero; otherwise it polls, and the innermost wrapper on the
//! path consumes the request (clears `CANCEL_REQ`) before polling its inner
//! future, or right after the inner future returns `Pending` if the request
//! arrived (or was re-raised) during that poll.
//!
//! A wrapper that intercepts while its inner future was awaiting tasks
//! (`chain.rs`) returns `Err(Cancelled)` only once those have ended, as
//! asyncio's `CancelledError` comes up only after the awaited future ended.
//! Until then it stays `Pending` and counts as intercepting, so a further
//! request reaches it (and it passes that on to them) instead of dropping the
//! task's future around it.

use crate::awaiting;
use crate::chain::{self, Drains};
use crate::context::{self, PollStamp};
use crate::error::Cancelled;
use crate::header::RawTask;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs `future`, turning a cancellation of the enclosing task that arrives
/// while it is awaited into `Err(Cancelled)` (asyncio's
/// `try: await x except CancelledError:`).
///
/// On interception `future` is dropped (its destructors run; what it was
/// awaiting — a task, a promise — is cancelled with it, and the wrapper returns
/// only once such a task has ended, as asyncio's `CancelledError` comes up only
/// after the inner future is done) and the request is consumed: the task is no longer being cancelled, so it may await cleanup and
/// then either re-raise with [`Cancelled::raise`] or carry on and return a value
/// (the task then ends normally, as in asyncio). [`Task::cancelling`] still counts
/// the request until [`Task::uncancel`] is called.
///
/// Outside a task (in `block_on`) nothing can cancel `future`, and the wrapper
/// only passes its output through.
///
/// [`Task::cancelling`]: crate::TaskRef::cancelling
/// [`Task::uncancel`]: crate::TaskRef::uncancel
///
/// ```
/// weft::run(async {
///     let worker = weft::spawn(async {
///         match weft::catch_cancel(std::future::pending::<()>()).await {
///             Ok(()) => unreachable!(),
///             Err(cancelled) => {
///                 weft::yield_now().await; // cleanup may await
///                 cancelled.raise().await
///             }
///         }
///     });
///     weft::yield_now().await;
///     worker.cancel_with("stop");
///     let err = worker.await.unwrap_err();
///     assert_eq!(err.as_cancelled().unwrap().message(), Some("stop"));
/// });
/// ```
pub fn catch_cancel<F: Future>(future: F) -> CatchCancel<F> {
    CatchCancel {
        inner: Some(future),
        inner_wrappers: 0,
        ending: None,
    }
}

/// The future returned by [`catch_cancel`].
///
/// ```
/// weft::run(async {
///     let started = weft::Promise::new();
///     let s = started.clone();
///     let t = weft::spawn(async move {
///         let guarded: weft::CatchCancel<_> = weft::catch_cancel(async move {
///             s.set_result(()).unwrap();
///             std::future::pending::<()>().await
///         });
///         guarded.await.is_err() // intercepted: the task returns normally
///     });
///     started.await.unwrap(); // it is inside the wrapper now
///     t.cancel();
///     assert!(t.await.unwrap());
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct CatchCancel<F> {
    inner: Option<F>,
    /// Wrappers that registered inside this one during its last `Pending` poll.
    inner_wrappers: u32,
    /// Intercepted: the cancellation to return once what the inner future
    /// awaited has ended.
    ending: Option<(Cancelled, Drains)>,
}

impl<F> Drop for CatchCancel<F> {
    fn drop(&mut self) {
        // Dropped while waiting for those: an outer delivery takes them over.
        if let Some((_, drains)) = self.ending.take() {
            drains.hand_over();
        }
    }
}

impl<F: Future> CatchCancel<F> {
    /// Takes the request if one is pending for `task`; drops the inner future
    /// (delivering the cancellation to what it awaits: the leaf futures stamped
    /// `awaited`), and waits for what those leaves pass on to end.
    fn intercept(
        mut self: Pin<&mut Self>,
        task: RawTask,
        awaited: PollStamp,
        cx: &mut Context<'_>,
    ) -> Option<Poll<Cancelled>> {
        if !task.header().state.clear_cancel_request() {
            return None;
        }
        let cancelled = task.header().cancelled_error();
        // SAFETY: `inner` is structurally pinned; dropping it in place through
        // the pinned reference is allowed (drop is the end of its pin).
        let this = unsafe { self.as_mut().get_unchecked_mut() };
        // SAFETY: this is a poll of `task`: its runner holds RUNNING.
        let passed = unsafe { awaiting::passed_for_delivery(task.header(), awaited.1) };
        let delivery = chain::enter_cancel_delivery(&cancelled, awaited, passed);
        this.inner = None;
        let drains = delivery.finish();
        if drains.is_empty() {
            return Some(Poll::Ready(cancelled));
        }
        this.ending = Some((cancelled, drains));
        Some(self.poll_ending(task, cx))
    }

    /// Intercepted: `Ready` with the cancellation once what the inner future
    /// awaited has ended. Meanwhile a new request is consumed and passed on
    /// to those, and the wrapper counts as intercepting.
    fn poll_ending(self: Pin<&mut Self>, task: RawTask, cx: &mut Context<'_>) -> Poll<Cancelled> {
        // SAFETY: `ending` is not structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let Some((cancelled, drains)) = this.ending.as_mut() else {
            unreachable!("poll_ending without an ending");
        };
        let header = task.header();
        if header.state.clear_cancel_request() {
            drains.cancel_all(&header.cancelled_error());
        }
        if drains.poll(cx).is_ready() {
            let cancelled = cancelled.clone();
            this.ending = None;
            return Poll::Ready(cancelled);
        }
        context::set_intercept_count(context::intercept_count() + 1);
        Poll::Pending
    }
}

impl<F: Future> Future for CatchCancel<F> {
    type Output = Result<F::Output, Cancelled>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let stamp = context::poll_stamp();
        let task = RawTask::current();
        if let (Some(task), Some((ptr, polls))) = (task, stamp) {
            if self.ending.is_some() {
                return self.poll_ending(task, cx).map(Err);
            }
            if self.inner_wrappers == 0 && self.inner.is_some() {
                // Not polled yet in this task poll: the inner future's leaves
                // were last stamped by the previous one.
                let awaited = (ptr, polls.wrapping_sub(1));
                if let Some(c) = self.as_mut().intercept(task, awaited, cx) {
                    return c.map(Err);
                }
            }
        }
        let before = context::intercept_count();
        // SAFETY: `inner` is structurally pinned: never moved out while Some.
        let this = unsafe { self.as_mut().get_unchecked_mut() };
        let Some(inner) = this.inner.as_mut() else {
            panic!("CatchCancel polled after completion");
        };
        // SAFETY: as above.
        match unsafe { Pin::new_unchecked(inner) }.poll(cx) {
            Poll::Ready(value) => {
                this.inner = None;
                Poll::Ready(Ok(value))
            }
            Poll::Pending => {
                let after = context::intercept_count();
                this.inner_wrappers = after - before;
                if let (Some(task), Some(stamp)) = (task, stamp) {
                    if this.inner_wrappers == 0 {
                        if let Some(c) = self.as_mut().intercept(task, stamp, cx) {
                            return c.map(Err);
                        }
                    }
                    context::set_intercept_count(after + 1);
                }
                Poll::Pending
            }
        }
    }
}

impl<F> fmt::Debug for CatchCancel<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CatchCancel")
            .field("done", &self.inner.is_none())
            .finish()
    }
}

impl Cancelled {
    /// Re-raises this cancellation in the running task (asyncio's bare `raise`
    /// in an `except CancelledError:` block): the task ends `Cancelled` with this
    /// message, unless an enclosing [`catch_cancel`] intercepts it.
    ///
    /// The returned future never completes; its output type fits any `return`.
    ///
    /// # Panics
    ///
    /// When awaited outside a weft task (there is no task to end).
    ///
    /// ```
    /// weft::run(async {
    ///     let t = weft::spawn(async {
    ///         if let Err(c) = weft::catch_cancel(std::future::pending::<()>()).await {
    ///             return c.raise().await;
    ///         }
    ///         7
    ///     });
    ///     weft::yield_now().await;
    ///     t.cancel();
    ///     assert!(t.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn raise<T>(self) -> Raise<T> {
        Raise {
            cancelled: Some(self),
            _output: PhantomData,
        }
    }
}

/// The future returned by [`Cancelled::raise`]; never completes.
///
/// ```
/// weft::run(async {
///     let t = weft::spawn(async {
///         let c = weft::Cancelled::with_message("from inside");
///         let raised: weft::Raise<()> = c.raise();
///         raised.await
///     });
///     let err = t.await.unwrap_err();
///     assert_eq!(err.as_cancelled().unwrap().message(), Some("from inside"));
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Raise<T> {
    cancelled: Option<Cancelled>,
    _output: PhantomData<fn() -> T>,
}

impl<T> Future for Raise<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let Some(task) = RawTask::current() else {
            panic!("Cancelled::raise awaited outside a weft task");
        };
        if let Some(cancelled) = self.cancelled.take() {
            let header = task.header();
            header.with_cold(|c| c.cancel_message = cancelled.message_arc());
            header.state.set_cancel_request();
            // The runner delivers it when this poll returns, or the enclosing
            // wrapper catches it; either way the task must be polled again.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

impl<T> Unpin for Raise<T> {}

impl<T> fmt::Debug for Raise<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Raise").finish_non_exhaustive()
    }
}
