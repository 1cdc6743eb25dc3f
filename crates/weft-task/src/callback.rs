//! Done callbacks with identity, so `remove_done_callback` can find them, and
//! [`DoneCallbacks`], the one list of them that tasks, promises and the sync
//! bridge's `ConcurrentFuture` all keep and fire.

use crate::loom::sync::Mutex;
use crate::panic::run_reporting;
use crate::varmap::{run_in, snapshot, Snapshot};
use std::fmt;
use std::sync::Arc;

/// A callback run (on the loop, never synchronously) when a task or promise
/// completes; `A` is what it receives ([`TaskRef`](crate::TaskRef) or the
/// [`Promise`](crate::Promise)).
///
/// Clones share identity: registering one callback twice runs it twice, and
/// `remove_done_callback` removes every registration of it (asyncio compares
/// callbacks the same way).
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use weft::DoneCallback;
///
/// weft::run(async {
///     let calls = Arc::new(AtomicUsize::new(0));
///     let counter = calls.clone();
///     let cb = DoneCallback::new(move |_task: &weft::TaskRef| {
///         counter.fetch_add(1, Ordering::SeqCst);
///     });
///     let go = weft::Promise::new();
///     let gate = go.clone();
///     let t = weft::spawn(async move { gate.await });
///     t.add_done_callback(cb.clone());
///     t.add_done_callback(cb.clone());
///     assert_eq!(t.remove_done_callback(&cb), 2);
///     go.set_result(()).unwrap();
///     t.await.unwrap().unwrap();
/// });
/// ```
pub struct DoneCallback<A: ?Sized> {
    f: Arc<dyn Fn(&A) + Send + Sync>,
    /// The context it runs in, captured where it was registered; `None`
    /// until then (it runs in whatever context is current).
    vars: Option<Snapshot>,
}

impl<A: ?Sized> DoneCallback<A> {
    /// Wraps `f`.
    ///
    /// ```
    /// weft::run(async {
    ///     let t = weft::spawn(async {});
    ///     t.add_done_callback(weft::DoneCallback::new(|t: &weft::TaskRef| assert!(t.done())));
    ///     t.await.unwrap();
    /// });
    /// ```
    pub fn new(f: impl Fn(&A) + Send + Sync + 'static) -> DoneCallback<A> {
        DoneCallback {
            f: Arc::new(f),
            vars: None,
        }
    }

    /// Wraps a callback that runs at most once (the first call runs `f`,
    /// later ones do nothing): for callers whose callbacks are `FnOnce`.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use weft_task::{DoneCallback, DoneCallbacks};
    ///
    /// let calls = Arc::new(AtomicUsize::new(0));
    /// let c = calls.clone();
    /// let cb = DoneCallback::once(move |n: &u8| {
    ///     c.fetch_add(usize::from(*n), Ordering::SeqCst);
    /// });
    /// // The same callback registered twice, fired: `f` runs the first time only.
    /// let mut list = DoneCallbacks::new();
    /// list.push(cb.clone());
    /// list.push(cb);
    /// list.fire(&1);
    /// assert_eq!(calls.load(Ordering::SeqCst), 1);
    /// ```
    pub fn once(f: impl FnOnce(&A) + Send + 'static) -> DoneCallback<A> {
        let f = Mutex::new(Some(f));
        DoneCallback::new(move |arg: &A| {
            // Taken under the lock, run after it is released.
            let f = f.lock().take();
            if let Some(f) = f {
                f(arg);
            }
        })
    }

    /// Whether `self` and `other` are (clones of) the same callback.
    ///
    /// ```
    /// let a = weft::DoneCallback::new(|_: &u8| {});
    /// let b = weft::DoneCallback::new(|_: &u8| {});
    /// assert!(a.same_as(&a.clone()));
    /// assert!(!a.same_as(&b), "same code, different callbacks");
    /// ```
    pub fn same_as(&self, other: &DoneCallback<A>) -> bool {
        Arc::ptr_eq(&self.f, &other.f)
    }

    /// Calls it; a panic is reported through `tracing` and swallowed so the loop
    /// goes on.
    pub(crate) fn invoke(&self, arg: &A) {
        match &self.vars {
            Some(vars) => run_in(vars, || run_reporting("a done callback", || (self.f)(arg))),
            None => run_reporting("a done callback", || (self.f)(arg)),
        }
    }

    /// The same callback (same identity), set to run in a copy of the
    /// context current now: what registering it does (asyncio's
    /// `add_done_callback` copies the context too).
    pub(crate) fn in_current_context(self) -> DoneCallback<A> {
        DoneCallback {
            f: self.f,
            vars: Some(snapshot()),
        }
    }
}

impl<A: ?Sized> Clone for DoneCallback<A> {
    fn clone(&self) -> Self {
        DoneCallback {
            f: self.f.clone(),
            vars: self.vars.clone(),
        }
    }
}

impl<A: ?Sized> fmt::Debug for DoneCallback<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DoneCallback({:p})", Arc::as_ptr(&self.f) as *const ())
    }
}

/// The done callbacks registered on one task, promise or `ConcurrentFuture`,
/// in registration order: the one done-callback mechanism. The owner keeps
/// the list under its lock, [`take`](Self::take)s it when the outcome is
/// set, and [`fire`](Self::fire)s it outside the lock (on its loop or
/// inline, as the owner documents).
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use weft_task::{DoneCallback, DoneCallbacks};
///
/// let calls = Arc::new(AtomicUsize::new(0));
/// let counter = calls.clone();
/// let mut list = DoneCallbacks::new();
/// list.push(DoneCallback::new(move |_: &()| {
///     counter.fetch_add(1, Ordering::SeqCst);
/// }));
/// list.push(DoneCallback::new(|_: &()| panic!("reported, not raised")));
/// list.take().fire(&());
/// assert_eq!(calls.load(Ordering::SeqCst), 1);
/// ```
pub struct DoneCallbacks<A: ?Sized> {
    list: Vec<DoneCallback<A>>,
}

impl<A: ?Sized> DoneCallbacks<A> {
    /// An empty list (no allocation).
    ///
    /// ```
    /// let list = weft_task::DoneCallbacks::<u8>::new();
    /// assert!(list.is_empty());
    /// ```
    pub const fn new() -> DoneCallbacks<A> {
        DoneCallbacks { list: Vec::new() }
    }

    /// Adds `cb` at the end.
    ///
    /// ```
    /// use weft_task::{DoneCallback, DoneCallbacks};
    ///
    /// let mut list = DoneCallbacks::new();
    /// list.push(DoneCallback::new(|n: &u8| assert_eq!(*n, 3)));
    /// assert!(!list.is_empty());
    /// list.fire(&3);
    /// ```
    pub fn push(&mut self, cb: DoneCallback<A>) {
        self.list.push(cb);
    }

    /// Removes every registration of `cb`; returns how many there were.
    ///
    /// ```
    /// use weft_task::{DoneCallback, DoneCallbacks};
    ///
    /// let cb = DoneCallback::new(|_: &u8| unreachable!("removed"));
    /// let mut list = DoneCallbacks::new();
    /// list.push(cb.clone());
    /// list.push(cb.clone());
    /// assert_eq!(list.remove(&cb), 2);
    /// assert!(list.is_empty());
    /// ```
    pub fn remove(&mut self, cb: &DoneCallback<A>) -> usize {
        let before = self.list.len();
        self.list.retain(|c| !c.same_as(cb));
        before - self.list.len()
    }

    /// Whether no callback is registered.
    ///
    /// ```
    /// use weft_task::{DoneCallback, DoneCallbacks};
    ///
    /// let mut list = DoneCallbacks::new();
    /// assert!(list.is_empty());
    /// list.push(DoneCallback::new(|_: &()| {}));
    /// assert!(!list.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Moves the callbacks out, leaving the list empty.
    ///
    /// ```
    /// use weft_task::{DoneCallback, DoneCallbacks};
    ///
    /// let mut list = DoneCallbacks::new();
    /// list.push(DoneCallback::new(|_: &()| {}));
    /// let taken = list.take();
    /// assert!(list.is_empty() && !taken.is_empty());
    /// ```
    pub fn take(&mut self) -> DoneCallbacks<A> {
        DoneCallbacks {
            list: std::mem::take(&mut self.list),
        }
    }

    /// Runs each callback once, in order, with `arg`; a panic in one is
    /// reported through `tracing` and the rest still run.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use weft_task::{DoneCallback, DoneCallbacks};
    ///
    /// let calls = Arc::new(AtomicUsize::new(0));
    /// let mut list = DoneCallbacks::new();
    /// for _ in 0..2 {
    ///     let c = calls.clone();
    ///     list.push(DoneCallback::new(move |_: &()| {
    ///         c.fetch_add(1, Ordering::SeqCst);
    ///     }));
    /// }
    /// list.fire(&());
    /// assert_eq!(calls.load(Ordering::SeqCst), 2);
    /// ```
    pub fn fire(self, arg: &A) {
        for cb in &self.list {
            cb.invoke(arg);
        }
    }
}

impl<A: ?Sized> Default for DoneCallbacks<A> {
    fn default() -> Self {
        DoneCallbacks::new()
    }
}

impl<A: ?Sized> From<DoneCallback<A>> for DoneCallbacks<A> {
    fn from(cb: DoneCallback<A>) -> Self {
        DoneCallbacks { list: vec![cb] }
    }
}

impl<A: ?Sized> fmt::Debug for DoneCallbacks<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.list).finish()
    }
}
