//! Per-thread state of the task being polled: which task it is, its
//! cooperative budget and the `catch_cancel` wrappers it passed through.
//! (Whether its future is being dropped to deliver a cancellation is
//! `chain.rs`'s.)
//!
//! All of it lives in `const` thread-locals touched only by the polling thread.
//!
//! Which *loop* runs on this thread is the loop implementation's business
//! (weft-loop's `context.rs` holds the one current-loop thread-local); a
//! promise asks it through the hook installed with [`set_loop_hook`].

use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Polls a task gets before its leaf futures start returning `Pending` (after
/// waking it): tokio's figure, enough to amortise a trip through the queue.
const BUDGET: u8 = 128;

thread_local! {
    static CURRENT: Cell<Option<Current>> = const { Cell::new(None) };
    static BUDGET_LEFT: Cell<Option<u8>> = const { Cell::new(None) };
    static INTERCEPTING: Cell<u32> = const { Cell::new(0) };
}

/// The task being polled: its header's address, opaque here (only compared,
/// and turned back into a task by the layer that knows the header), and which
/// poll of it this is.
#[derive(Clone, Copy)]
struct Current {
    task: NonNull<()>,
    polls: u32,
}

/// Restores the previous task context when dropped.
///
/// Entering, leaving and the per-poll reads below are `#[inline]`: they run
/// on every poll, from `raw.rs`'s generic runner, which is compiled in the
/// crate that spawns (where these would otherwise be calls).
pub(crate) struct EnterTask {
    prev: Option<Current>,
    prev_budget: Option<u8>,
    prev_intercepting: u32,
}

/// Marks `task` (a task header's address) as the one being polled (or
/// dropped) on this thread, in its poll number `polls`.
#[inline]
pub(crate) fn enter_task(task: NonNull<()>, polls: u32) -> EnterTask {
    EnterTask {
        prev: CURRENT.replace(Some(Current { task, polls })),
        prev_budget: BUDGET_LEFT.replace(Some(BUDGET)),
        prev_intercepting: INTERCEPTING.replace(0),
    }
}

impl Drop for EnterTask {
    #[inline]
    fn drop(&mut self) {
        CURRENT.set(self.prev);
        BUDGET_LEFT.set(self.prev_budget);
        INTERCEPTING.set(self.prev_intercepting);
    }
}

/// The task being polled on this thread (its header's address).
#[inline]
pub(crate) fn current() -> Option<NonNull<()>> {
    CURRENT.get().map(|c| c.task)
}

/// How many `catch_cancel` wrappers registered during this poll; resets it.
#[inline]
pub(crate) fn take_intercept_count() -> u32 {
    INTERCEPTING.replace(0)
}

pub(crate) fn intercept_count() -> u32 {
    INTERCEPTING.get()
}

pub(crate) fn set_intercept_count(n: u32) {
    INTERCEPTING.set(n);
}

/// Which poll of which task a leaf future (a `Task` handle, a promise waiter)
/// last returned `Pending` in: the thing a task is *currently* awaiting is the
/// one stamped with its latest poll. The task is named by its address, only
/// ever compared, never followed (so stamps stay `Send`).
pub(crate) type PollStamp = (usize, u32);

/// The stamp for a leaf future returning `Pending` now, if inside a task.
#[inline]
pub(crate) fn poll_stamp() -> Option<PollStamp> {
    let current = CURRENT.get()?;
    Some((current.task.as_ptr() as usize, current.polls))
}

/// The task being polled on this thread (its header's address) and which
/// poll of it this is.
#[inline]
pub(crate) fn current_poll() -> Option<(NonNull<()>, u32)> {
    CURRENT.get().map(|c| (c.task, c.polls))
}

/// Cooperative scheduling: spends one unit of the running task's budget.
///
/// Leaf futures that may be ready many times in a row (a finished task's handle,
/// a channel with queued messages) call this first; once the task has used its
/// budget they wake it and return `Pending`, so one task cannot starve its loop.
/// Outside a task the budget is unlimited.
///
/// ```
/// use std::future::poll_fn;
///
/// weft::run(async {
///     // A leaf future that is always ready still yields now and then.
///     poll_fn(|cx| weft_task::coop::poll_proceed(cx)).await;
/// });
/// ```
#[inline]
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    // `with`, not `LocalKey::set`: `set` goes through std's out-of-line
    // `initialize_with` (callgrind: 17 instructions a call, once inlined here
    // into every leaf future).
    BUDGET_LEFT.with(|left| match left.get() {
        None => Poll::Ready(()),
        Some(0) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Some(n) => {
            left.set(Some(n - 1));
            Poll::Ready(())
        }
    })
}

/// Whether the running task has budget left (always true outside a task).
///
/// A leaf future that does a lot of work per poll can check this to yield
/// before [`poll_proceed`] would make it.
///
/// ```
/// use std::future::poll_fn;
/// use std::task::Poll;
/// use weft_task::coop::{has_budget_remaining, poll_proceed};
///
/// assert!(has_budget_remaining(), "outside a task: unlimited");
/// weft::run(async {
///     // A task that spends its whole budget in one poll.
///     let task = weft::spawn(poll_fn(|cx| {
///         let mut spent = 0;
///         while has_budget_remaining() {
///             assert!(poll_proceed(cx).is_ready());
///             spent += 1;
///         }
///         assert!(poll_proceed(cx).is_pending(), "spent: time to yield");
///         Poll::Ready(spent)
///     }));
///     assert!(task.await.unwrap() > 0);
/// });
/// ```
#[inline]
pub fn has_budget_remaining() -> bool {
    BUDGET_LEFT.get() != Some(0)
}

/// A loop that can run callbacks: what a [`Promise`](crate::Promise) made on this
/// thread uses to schedule its done callbacks. Loop implementations make theirs
/// reachable with [`set_loop_hook`].
///
/// ```
/// use std::collections::VecDeque;
/// use std::sync::{Arc, Mutex};
/// use weft_task::context::CallSoon;
///
/// /// A loop whose callbacks wait in a queue until it is run by hand.
/// #[derive(Default)]
/// struct Deferred(Mutex<VecDeque<Box<dyn FnOnce() + Send>>>);
/// impl CallSoon for Deferred {
///     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) {
///         self.0.lock().unwrap().push_back(f);
///     }
/// }
///
/// let lp = Deferred::default();
/// let order = Arc::new(Mutex::new(Vec::new()));
/// for n in 1..=2 {
///     let order = order.clone();
///     lp.call_soon(Box::new(move || order.lock().unwrap().push(n)));
/// }
/// assert!(order.lock().unwrap().is_empty(), "soon, not now");
/// let pop = || lp.0.lock().unwrap().pop_front();
/// while let Some(f) = pop() {
///     f();
/// }
/// assert_eq!(*order.lock().unwrap(), [1, 2], "in the order scheduled");
/// ```
pub trait CallSoon: Send + Sync {
    /// Runs `f` soon on the loop, after the callbacks already scheduled.
    fn call_soon(&self, f: Box<dyn FnOnce() + Send>);
}

/// Asks the loop implementation for the loop running on this thread, if any.
pub type LoopHook = fn() -> Option<Arc<dyn CallSoon>>;

/// The installed hook. A std `OnceLock`: set once per process, read by
/// `Promise::new`; it orders nothing else.
static LOOP_HOOK: std::sync::OnceLock<LoopHook> = std::sync::OnceLock::new();

/// Installs `hook`, the function a [`Promise`](crate::Promise) calls to find
/// the loop running on this thread (for loop implementations: weft-loop
/// installs its own the first time a loop starts). One hook per process: a
/// later call is ignored and returns false.
///
/// ```
/// use std::sync::Arc;
/// use weft_task::context::{set_loop_hook, CallSoon};
///
/// struct Inline;
/// impl CallSoon for Inline {
///     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) {
///         f()
///     }
/// }
/// fn here() -> Option<Arc<dyn CallSoon>> {
///     Some(Arc::new(Inline))
/// }
/// assert!(set_loop_hook(here));
/// assert!(!set_loop_hook(here));
/// ```
pub fn set_loop_hook(hook: LoopHook) -> bool {
    LOOP_HOOK.set(hook).is_ok()
}

/// This thread's current loop, if any (through the installed hook).
pub(crate) fn current_loop() -> Option<Arc<dyn CallSoon>> {
    LOOP_HOOK.get().and_then(|hook| hook())
}
