//! Done callbacks with identity, so `remove_done_callback` can find them.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
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
}

impl<A: ?Sized> DoneCallback<A> {
    /// Wraps `f`.
    pub fn new(f: impl Fn(&A) + Send + Sync + 'static) -> DoneCallback<A> {
        DoneCallback { f: Arc::new(f) }
    }

    /// Whether `self` and `other` are (clones of) the same callback.
    pub fn same_as(&self, other: &DoneCallback<A>) -> bool {
        Arc::ptr_eq(&self.f, &other.f)
    }

    /// Calls it; a panic is reported through `tracing` and swallowed so the loop
    /// goes on.
    pub(crate) fn invoke(&self, arg: &A) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| (self.f)(arg))) {
            let err = crate::PanicError::from_payload(payload);
            tracing::error!(error = %err, "a done callback panicked");
        }
    }
}

impl<A: ?Sized> Clone for DoneCallback<A> {
    fn clone(&self) -> Self {
        DoneCallback { f: self.f.clone() }
    }
}

impl<A: ?Sized> fmt::Debug for DoneCallback<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DoneCallback({:p})", Arc::as_ptr(&self.f) as *const ())
    }
}

/// Removes every registration of `cb` from `list`; returns how many.
pub(crate) fn remove_all<A: ?Sized>(
    list: &mut Vec<DoneCallback<A>>,
    cb: &DoneCallback<A>,
) -> usize {
    let before = list.len();
    list.retain(|c| !c.same_as(cb));
    before - list.len()
}
