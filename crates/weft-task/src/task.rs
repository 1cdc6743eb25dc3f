//! The handles: [`Task<T>`] (asyncio's Task), [`TaskRef`]'s methods (a
//! type-erased view of any task; the type itself lives in `header.rs`, which
//! the done-callback list names) and [`Runnable`] (a task ready to be polled,
//! as loops queue it).

use crate::awaiting;
use crate::callback::DoneCallback;
use crate::chain::{self, AwaitMark, Awaited};
use crate::error::Cancelled;
use crate::error::{AwaitSelfError, InvalidStateError, TaskError};
use crate::header::{schedule_callbacks, Header, RawTask, TaskRef};
use crate::id::TaskId;
use crate::loom::sync::Ordering;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::panic::Location;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context, Poll};

impl TaskRef {
    /// The task's id.
    ///
    /// ```
    /// weft::run(async {
    ///     let (a, b) = (weft::spawn(async {}), weft::spawn(async {}));
    ///     assert_ne!(a.id(), b.id());
    ///     assert_eq!(a.task_ref().id(), a.id());
    /// });
    /// ```
    pub fn id(&self) -> TaskId {
        self.raw.header().id
    }

    /// The task's name: `Task-{id}` unless [`set_name`](Self::set_name) gave one.
    ///
    /// ```
    /// weft::run(async {
    ///     let t = weft::spawn(async {});
    ///     assert_eq!(t.name(), format!("Task-{}", t.id()));
    /// });
    /// ```
    pub fn name(&self) -> String {
        let header = self.raw.header();
        header
            .peek_cold(|c| c.and_then(|c| c.name.as_deref().map(str::to_owned)))
            .unwrap_or_else(|| format!("Task-{}", header.id))
    }

    /// Renames the task (asyncio's `set_name`; any string). A task with a
    /// `tracing` span (see [`span`](Self::span)) records the name as the
    /// span's `task.name` field.
    ///
    /// ```
    /// weft::run(async {
    ///     let t = weft::spawn(async {});
    ///     t.set_name("fetch-users");
    ///     assert_eq!(t.name(), "fetch-users");
    /// });
    /// ```
    pub fn set_name(&self, name: impl Into<String>) {
        let name: Arc<str> = Arc::from(name.into());
        let span = self.raw.header().with_cold(|c| {
            c.name = Some(name.clone());
            c.span.clone()
        });
        crate::trace::record_name(span, &name);
    }

    /// The task's `tracing` span: target `weft::task`, level `TRACE`, name
    /// `task`, fields `task.id`, `task.name` (once [`set_name`](Self::set_name)
    /// gave one), `loc.file`, `loc.line` and `loc.col` (the spawn site).
    /// weft enters it around each poll of the task, so the events its code
    /// emits carry it. A disabled span ([`Span::none`](tracing::Span::none))
    /// if no subscriber enabled `TRACE` for `weft::task` when the task was
    /// spawned (the choice is made then, and costs nothing per poll when it
    /// is no), and once the task is done (its span closes as it ends).
    ///
    /// ```
    /// weft::run(async {
    ///     // No subscriber is installed here: no task gets a span.
    ///     let t = weft::spawn(async {});
    ///     assert!(t.span().is_disabled());
    ///     t.await.unwrap();
    /// });
    /// ```
    pub fn span(&self) -> tracing::Span {
        crate::trace::span_of(self.raw.header()).unwrap_or_else(tracing::Span::none)
    }

    /// Where the task was spawned.
    ///
    /// ```
    /// weft::run(async {
    ///     let line = line!() + 1;
    ///     let t = weft::spawn(async {});
    ///     assert_eq!(t.location().line(), line);
    /// });
    /// ```
    pub fn location(&self) -> &'static Location<'static> {
        self.raw.header().location
    }

    /// Whether the task finished: returned, failed, panicked or was cancelled.
    ///
    /// ```
    /// // On one worker, busy with this task, `t` cannot run before it awaits.
    /// let rt = weft::Builder::new().workers(1).build().unwrap();
    /// rt.block_on(rt.spawn(async {
    ///     let t = weft::spawn(async { 1 });
    ///     let r = t.task_ref();
    ///     assert!(!r.done(), "not run yet");
    ///     t.await.unwrap();
    ///     assert!(r.done());
    /// }))
    /// .unwrap();
    /// ```
    pub fn done(&self) -> bool {
        self.raw.header().state.load().is_complete()
    }

    /// Whether the task ended cancelled. A cancel request the task has not
    /// acted on yet does not count (see [`cancelling`](Self::cancelling)).
    ///
    /// ```
    /// // On one worker, busy with this task, `t` cannot run before it awaits.
    /// let rt = weft::Builder::new().workers(1).build().unwrap();
    /// rt.block_on(rt.spawn(async {
    ///     let t = weft::spawn(std::future::pending::<()>());
    ///     let r = t.task_ref();
    ///     t.cancel();
    ///     assert!(!r.cancelled(), "requested, not delivered yet");
    ///     assert!(t.await.unwrap_err().is_cancelled());
    ///     assert!(r.cancelled());
    /// }))
    /// .unwrap();
    /// ```
    pub fn cancelled(&self) -> bool {
        self.raw.header().state.load().is_ended_cancelled()
    }

    /// Requests cancellation (asyncio's `cancel()`). Returns false if the task is
    /// already done. Otherwise the task is woken and the request delivered at
    /// its current await point: its future is dropped there and it ends
    /// [`TaskError::Cancelled`], unless it intercepts the request with
    /// [`catch_cancel`](crate::catch_cancel). What it was awaiting there (a
    /// task, a promise) is cancelled with it, and it ends only after that has
    /// ended. A task cancelled before its first poll is never polled. Each
    /// call adds one to [`cancelling`](Self::cancelling).
    ///
    /// ```
    /// weft::run(async {
    ///     let t = weft::spawn(std::future::pending::<()>());
    ///     assert!(t.cancel());
    ///     let r = t.task_ref();
    ///     assert!(t.await.unwrap_err().is_cancelled());
    ///     assert!(!r.cancel(), "already done");
    /// });
    /// ```
    pub fn cancel(&self) -> bool {
        self.raw.request_cancel(None)
    }

    /// [`cancel`](Self::cancel) with a message, which the resulting
    /// [`Cancelled`] carries (asyncio's `cancel(msg)`).
    ///
    /// ```
    /// weft::run(async {
    ///     let t = weft::spawn(std::future::pending::<()>());
    ///     t.cancel_with("shutting down");
    ///     let err = t.await.unwrap_err();
    ///     assert_eq!(err.as_cancelled().unwrap().message(), Some("shutting down"));
    /// });
    /// ```
    pub fn cancel_with(&self, message: impl Into<String>) -> bool {
        self.raw.request_cancel(Some(Arc::from(message.into())))
    }

    /// Pending cancellation requests: `cancel()` calls minus `uncancel()` calls.
    ///
    /// ```
    /// // On one worker, busy with this task, `t` cannot run before it awaits.
    /// let rt = weft::Builder::new().workers(1).build().unwrap();
    /// rt.block_on(rt.spawn(async {
    ///     let t = weft::spawn(std::future::pending::<()>());
    ///     assert_eq!(t.cancelling(), 0);
    ///     t.cancel();
    ///     t.cancel();
    ///     assert_eq!(t.cancelling(), 2);
    ///     t.await.unwrap_err();
    /// }))
    /// .unwrap();
    /// ```
    pub fn cancelling(&self) -> u32 {
        self.raw.header().cancelling.load(Ordering::Relaxed)
    }

    /// Takes back one cancellation request (never below zero) and returns how
    /// many remain. When none remain, a request not yet delivered is withdrawn.
    ///
    /// ```
    /// // On one worker, busy with this task, `t` cannot run before it awaits.
    /// let rt = weft::Builder::new().workers(1).build().unwrap();
    /// rt.block_on(rt.spawn(async {
    ///     let t = weft::spawn(async { 5 });
    ///     t.cancel();
    ///     assert_eq!(t.uncancel(), 0); // withdrawn before the task ran
    ///     assert_eq!(t.await.unwrap(), 5);
    /// }))
    /// .unwrap();
    /// ```
    pub fn uncancel(&self) -> u32 {
        let header = self.raw.header();
        let left = header
            .cancelling
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            })
            .map_or(0, |prev| prev.saturating_sub(1));
        if left == 0 {
            header.state.clear_cancel_request();
        }
        left
    }

    /// The error the task ended with: `Ok(None)` for a value, `Ok(Some(err))` for
    /// a cancellation, panic or failure, `Err(InvalidStateError)` while pending.
    ///
    /// ```
    /// weft::run(async {
    ///     let t = weft::spawn(std::future::pending::<()>());
    ///     let r = t.task_ref();
    ///     assert!(r.exception().unwrap_err().is_pending());
    ///     t.cancel();
    ///     let _ = t.await;
    ///     assert!(r.exception().unwrap().unwrap().is_cancelled());
    /// });
    /// ```
    pub fn exception(&self) -> Result<Option<TaskError>, InvalidStateError> {
        let header = self.raw.header();
        let state = header.state.load();
        if !state.is_complete() {
            return Err(InvalidStateError::Pending);
        }
        if state.is_ended_cancelled() {
            return Ok(Some(TaskError::Cancelled(header.cancelled_error())));
        }
        // Reading the error retrieves it (asyncio's `exception()` clears
        // `__log_traceback`): dropping the handle then reports nothing.
        let mut cold = header.lock_cold();
        Ok(cold.as_mut().and_then(|c| {
            c.error_retrieved = c.error.is_some();
            c.error.clone()
        }))
    }

    /// The task's context variables (asyncio's `task.get_context()`): a
    /// copy of the context it runs in, as of the start of its current step
    /// (inside the task itself, [`copy_context`](crate::contextvars::copy_context)
    /// gives the live one). A task starts with a copy of its spawner's
    /// context; its `set`s change only its own.
    ///
    /// ```
    /// static USER: weft::ContextVar<&str> = weft::ContextVar::new("user");
    ///
    /// weft::run(async {
    ///     USER.set("ann");
    ///     // The task waits for `go`, so `before` is read before its `set`.
    ///     let go = std::sync::Arc::new(weft::sync::Event::new());
    ///     let wait = go.clone();
    ///     let t = weft::spawn(async move {
    ///         wait.wait().await;
    ///         USER.set("bob");
    ///     });
    ///     let before = t.context();
    ///     go.set();
    ///     let handle: weft::TaskRef = (*t).clone();
    ///     t.await.unwrap();
    ///     let t = handle;
    ///     assert_eq!(before.get(&USER), Some("ann"));
    ///     assert_eq!(t.context().get(&USER), Some("bob"));
    /// });
    /// ```
    pub fn context(&self) -> crate::contextvars::Context {
        let header = self.raw.header();
        let vars = {
            let _readers = header.lock_cold();
            // SAFETY: the cold lock keeps the runner from writing `vars`
            // (header.rs: it writes only under that lock).
            header.vars.with(|v| unsafe { Option::clone(&*v) })
        };
        crate::contextvars::Context::from_snapshot(vars)
    }

    /// Registers `cb` to run (on the loop, never synchronously) when the task is
    /// done; if it is done already, `cb` is scheduled at once. Callbacks run in
    /// registration order, each once, each in (a copy of) the context current
    /// when it was registered.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    ///
    /// weft::run(async {
    ///     let seen = Arc::new(AtomicBool::new(false));
    ///     let s = seen.clone();
    ///     let t = weft::spawn(async {});
    ///     t.add_done_callback(weft::DoneCallback::new(move |t: &weft::TaskRef| {
    ///         assert!(t.done());
    ///         s.store(true, Ordering::SeqCst);
    ///     }));
    ///     t.await.unwrap();
    ///     while !seen.load(Ordering::SeqCst) {
    ///         weft::yield_now().await; // it runs soon, on the loop
    ///     }
    /// });
    /// ```
    pub fn add_done_callback(&self, cb: DoneCallback<TaskRef>) {
        let cb = cb.in_current_context();
        let header = self.raw.header();
        let completed_unseen = header.with_cold(|c| {
            if header.state.set_has_callbacks().is_complete() {
                true
            } else {
                c.callbacks.push(cb.clone());
                false
            }
        });
        if completed_unseen {
            schedule_callbacks(self.raw, cb.into());
        }
    }

    /// Removes every registration of `cb`; returns how many there were.
    ///
    /// ```
    /// // On one worker, busy with this task, `t` cannot run before it awaits.
    /// let rt = weft::Builder::new().workers(1).build().unwrap();
    /// rt.block_on(rt.spawn(async {
    ///     let t = weft::spawn(async {});
    ///     let cb = weft::DoneCallback::new(|_: &weft::TaskRef| unreachable!("removed"));
    ///     t.add_done_callback(cb.clone());
    ///     assert_eq!(t.remove_done_callback(&cb), 1);
    ///     assert_eq!(t.remove_done_callback(&cb), 0);
    ///     t.await.unwrap();
    /// }))
    /// .unwrap();
    /// ```
    pub fn remove_done_callback(&self, cb: &DoneCallback<TaskRef>) -> usize {
        let mut cold = self.raw.header().lock_cold();
        cold.as_mut().map_or(0, |c| c.callbacks.remove(cb))
    }

    fn state_name(&self) -> &'static str {
        let s = self.raw.header().state.load();
        if s.is_ended_cancelled() {
            "cancelled"
        } else if s.is_complete() {
            "done"
        } else if s.is_cancel_requested() {
            "cancelling"
        } else if s.is_running() {
            "running"
        } else {
            "pending"
        }
    }

    #[inline]
    pub(crate) fn is_current(&self) -> bool {
        RawTask::current() == Some(self.raw)
    }
}

impl PartialEq for TaskRef {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Eq for TaskRef {}

impl std::hash::Hash for TaskRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id().as_u64())
            .field("name", &self.name())
            .field("state", &format_args!("{}", self.state_name()))
            .finish()
    }
}

/// asyncio's Task: a handle to a spawned future, awaitable for its result.
///
/// `Task<T>` dereferences to [`TaskRef`] for `cancel`, `done`, `name`,
/// `cancelling`, `add_done_callback` and the rest. Awaiting it yields
/// `Ok(value)`, or the [`TaskError`] it ended with.
///
/// **Dropping a `Task` does not cancel the task**: as in asyncio the runtime owns
/// it and runs it to the end; the output is then dropped. [`detach`](Self::detach)
/// says so in code. An error nobody retrieved (the handle gone without
/// awaiting it, [`result`](Task::result) or `exception()`, and no done
/// callback reading it) goes to the runtime's exception handler, as asyncio
/// logs "Task exception was never retrieved". If a task is cancelled while awaiting another task's handle,
/// the awaited task is cancelled too (asyncio propagates down await chains),
/// and the cancelled task reports done only after the awaited one has ended,
/// its cleanup included. "Awaiting" means the handle was polled, and pending,
/// in the awaiting task's latest poll; a handle merely held (say, after losing
/// a `select`) and not polled since is left alone.
///
/// ```
/// weft::run(async {
///     let t = weft::spawn(async { 40 + 2 });
///     assert!(format!("{t:?}").starts_with("Task { id: "));
///     assert_eq!(t.await.unwrap(), 42);
/// });
/// ```
///
/// # Panics
///
/// Polling a `Task` again after it returned `Ready`, or after
/// [`result`](Task::result) took the value, panics with
/// [`InvalidStateError::ResultTaken`]'s message (the value is gone; any
/// future may panic when polled after completion).
#[must_use = "dropping a Task detaches it (it keeps running); call .detach() to say so"]
pub struct Task<T> {
    task: ManuallyDrop<TaskRef>,
    /// The task poll in which this handle last returned `Pending`: while it is
    /// the latest poll of that task, the task is awaiting this handle.
    awaited_at: AwaitMark,
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves the output `T` out (on the thread holding the
// handle), so it is as Send as `T`; everything else goes through the header's
// atomics and locks.
unsafe impl<T: Send> Send for Task<T> {}
// SAFETY: `&Task<T>` gives no access to `T` at all.
unsafe impl<T> Sync for Task<T> {}
impl<T> Unpin for Task<T> {}

impl<T> Task<T> {
    pub(crate) fn from_raw(raw: RawTask) -> Task<T> {
        // The join reference was counted at allocation.
        Task {
            task: ManuallyDrop::new(TaskRef::from_counted(raw)),
            awaited_at: AwaitMark::new(),
            _output: PhantomData,
        }
    }

    /// A type-erased handle to the same task.
    ///
    /// ```
    /// weft::run(async {
    ///     let t = weft::spawn(async { 1 });
    ///     let r: weft::TaskRef = t.task_ref();
    ///     t.await.unwrap();
    ///     assert!(r.done());
    /// });
    /// ```
    pub fn task_ref(&self) -> TaskRef {
        (*self.task).clone()
    }

    /// The task's value, without awaiting (asyncio's `result()`). Moves it out:
    /// a second call returns [`InvalidStateError::ResultTaken`], and a call
    /// while the task is pending [`InvalidStateError::Pending`]. The inner `Result` is the
    /// task's outcome.
    ///
    /// ```
    /// weft::run(async {
    ///     let go = weft::Promise::new();
    ///     let gate = go.clone();
    ///     let mut t = weft::spawn(async move { gate.await.map(|()| 1) });
    ///     assert!(t.result().unwrap_err().is_pending());
    ///     go.set_result(()).unwrap();
    ///     while !t.done() {
    ///         weft::yield_now().await;
    ///     }
    ///     assert_eq!(t.result().unwrap().unwrap().unwrap(), 1);
    ///     assert!(t.result().is_err());
    /// });
    /// ```
    pub fn result(&mut self) -> Result<Result<T, TaskError>, InvalidStateError> {
        // SAFETY: T is this task's output type and we are its handle.
        unsafe { self.task.raw.take_output::<T>() }
    }

    /// Waits for the task to finish without taking its value, which stays for
    /// [`result`](Task::result) (asyncio's `wait` and `shield` look at a task this
    /// way). Registers `cx`'s waker like awaiting the handle does; once the
    /// task is done it spends one unit of the cooperative budget.
    ///
    /// Unlike awaiting the handle, this does not make the task the thing the
    /// caller awaits: if the polling task is cancelled, this one is left alone.
    ///
    /// ```
    /// use std::future::poll_fn;
    ///
    /// weft::run(async {
    ///     let mut t = weft::spawn(async { 7 });
    ///     poll_fn(|cx| t.poll_done(cx)).await;
    ///     assert!(t.done());
    ///     assert_eq!(t.result().unwrap().unwrap(), 7);
    /// });
    /// ```
    pub fn poll_done(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.done() && !self.task.raw.set_join_waker(cx.waker()) {
            return Poll::Pending;
        }
        // Done: a leaf about to be ready spends budget (a pending one has
        // registered its waker, and is woken when the task completes).
        crate::coop::poll_proceed(cx)
    }

    /// Lets the task run on without this handle. Same as dropping it; says so.
    ///
    /// ```
    /// weft::run(async {
    ///     let done = weft::Promise::new();
    ///     let d = done.clone();
    ///     weft::spawn(async move { d.set_result(()).unwrap() }).detach();
    ///     done.await.unwrap(); // it ran to the end all the same
    /// });
    /// ```
    pub fn detach(self) {}
}

impl<T> Deref for Task<T> {
    type Target = TaskRef;

    fn deref(&self) -> &TaskRef {
        &self.task
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if !self.awaited_at.is_set() && self.task.is_current() && !self.done() {
            return Poll::Ready(Err(TaskError::failed(AwaitSelfError)));
        }
        let out = if crate::coop::poll_proceed(cx).is_pending() {
            Poll::Pending
        } else {
            // SAFETY: T is this task's output type and we are its handle.
            unsafe { self.task.raw.try_read_output::<T>(cx.waker()) }
        };
        let raw = self.task.raw;
        if out.is_pending() {
            awaiting::suspend_on_task(&mut self.awaited_at, raw);
        } else {
            awaiting::resume(&mut self.awaited_at, awaiting::addr_of(raw) as *const ());
        }
        out
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        // Dropped because the task awaiting it (right now) is being cancelled:
        // cancel this one too, with the same message (asyncio cancels the
        // future a task is waiting on), and make the canceller wait until
        // this one has ended (chain.rs). A handle merely held is left alone.
        if self.awaited_at.is_set() && pass_cancel_on(self.task.raw, &self.awaited_at) {
            return;
        }
        self.task.raw.drop_join_handle();
    }
}

/// A dropped handle that was pending in its holder's latest poll: it is
/// awaited no more (`awaiting.rs`); if the holder is being cancelled, cancels `raw` too and, while it runs on, hands
/// the handle's reference and join interest to the delivery (true).
#[inline(never)]
fn pass_cancel_on(raw: RawTask, awaited_at: &AwaitMark) -> bool {
    let addr = awaiting::addr_of(raw) as *const ();
    awaiting::forget(addr);
    let Some(d) = awaited_at.delivering(addr) else {
        return false;
    };
    if d.must_cancel() {
        raw.request_cancel(d.cancelled().message_arc());
    }
    if raw.header().state.load().is_complete() {
        return false;
    }
    chain::wait_for_task_end(Box::new(JoinEnd { raw }), addr as usize);
    true
}

/// A `Task` handle dropped by a cancellation delivery while its task runs on:
/// what the cancelled awaiter waits for (chain.rs). It keeps the handle's
/// reference and join interest, and waits through the join waker as the
/// handle did; dropping it is dropping the handle.
struct JoinEnd {
    raw: RawTask,
}

impl Awaited for JoinEnd {
    fn cancel(&mut self, cancelled: &Cancelled) {
        self.raw.request_cancel(cancelled.message_arc());
    }

    fn poll_ended(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.raw.set_join_waker(cx.waker()) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for JoinEnd {
    fn drop(&mut self) {
        self.raw.drop_join_handle();
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (*self.task).fmt(f)
    }
}

/// A task that is ready to be polled: what run queues hold. Running it polls the
/// task once; dropping it without running releases its reference only.
///
/// Loops get `Runnable`s from [`Schedule::schedule`](crate::Schedule::schedule)
/// and from spawning.
///
/// ```
/// # use std::collections::VecDeque;
/// # use std::sync::{Arc, Mutex};
/// # use weft_task::context::CallSoon;
/// # use weft_task::{CallExceptionHandler, Runnable, Schedule, Spawned, Task, TaskRegistry};
/// # /// A loop of one queue, run by hand.
/// # #[derive(Clone)]
/// # struct Queue(Arc<(TaskRegistry, Mutex<VecDeque<Runnable>>)>);
/// # impl CallSoon for Queue {
/// #     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) { f() }
/// # }
/// # impl CallExceptionHandler for Queue {}
/// # // SAFETY: `registry` always returns the same registry.
/// # unsafe impl Schedule for Queue {
/// #     fn schedule(&self, task: Runnable) { self.0 .1.lock().unwrap().push_back(task) }
/// #     fn registry(&self) -> &TaskRegistry { &self.0 .0 }
/// # }
/// # /// Spawns `f` on `s`: its handle and first `Runnable`.
/// # fn spawn<S: Schedule + Clone, F: std::future::Future<Output = ()> + Send + 'static>(s: &S, f: F) -> (Task<()>, Runnable) {
/// #     match weft_task::spawn(f, s.clone(), std::panic::Location::caller()) {
/// #         Spawned::Ready(task, first) => (task, first),
/// #         Spawned::Refused(_) => panic!("the registry is closed"),
/// #     }
/// # }
/// # let q = Queue(Arc::new((TaskRegistry::new(1), Mutex::new(VecDeque::new()))));
/// // Scheduled by hand: a loop of one queue (hidden above).
/// let (task, first) = spawn(&q, async {});
/// assert_eq!(first.id(), task.id());
/// assert!(!task.done(), "spawning does not poll it");
/// first.run();
/// assert!(task.done());
/// ```
pub struct Runnable {
    raw: RawTask,
}

// SAFETY: a Runnable is a counted pointer; the Schedule implementation is
// responsible for running tasks of !Send futures on their owner thread only
// (the contract of `spawn_unchecked`).
unsafe impl Send for Runnable {}

impl Runnable {
    pub(crate) fn from_raw(ptr: NonNull<Header>) -> Runnable {
        Runnable {
            raw: RawTask::from_header(ptr),
        }
    }

    /// Polls the task once (or delivers its cancellation).
    ///
    /// ```
    /// # use std::collections::VecDeque;
    /// # use std::sync::{Arc, Mutex};
    /// # use weft_task::context::CallSoon;
    /// # use weft_task::{CallExceptionHandler, Runnable, Schedule, Spawned, Task, TaskRegistry};
    /// # /// A loop of one queue, run by hand.
    /// # #[derive(Clone)]
    /// # struct Queue(Arc<(TaskRegistry, Mutex<VecDeque<Runnable>>)>);
    /// # impl CallSoon for Queue {
    /// #     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) { f() }
    /// # }
    /// # impl CallExceptionHandler for Queue {}
    /// # // SAFETY: `registry` always returns the same registry.
    /// # unsafe impl Schedule for Queue {
    /// #     fn schedule(&self, task: Runnable) { self.0 .1.lock().unwrap().push_back(task) }
    /// #     fn registry(&self) -> &TaskRegistry { &self.0 .0 }
    /// # }
    /// # /// Spawns `f` on `s`: its handle and first `Runnable`.
    /// # fn spawn<S: Schedule + Clone, F: std::future::Future<Output = ()> + Send + 'static>(s: &S, f: F) -> (Task<()>, Runnable) {
    /// #     match weft_task::spawn(f, s.clone(), std::panic::Location::caller()) {
    /// #         Spawned::Ready(task, first) => (task, first),
    /// #         Spawned::Refused(_) => panic!("the registry is closed"),
    /// #     }
    /// # }
    /// # let q = Queue(Arc::new((TaskRegistry::new(1), Mutex::new(VecDeque::new()))));
    /// use std::future::poll_fn;
    /// use std::task::Poll;
    ///
    /// // A task that yields once: it wakes itself and returns `Pending`.
    /// let mut yielded = false;
    /// let (task, first) = spawn(&q, poll_fn(move |cx| {
    ///     if yielded {
    ///         return Poll::Ready(());
    ///     }
    ///     yielded = true;
    ///     cx.waker().wake_by_ref();
    ///     Poll::Pending
    /// }));
    /// first.run(); // one poll: the task is queued again
    /// assert!(!task.done());
    /// let again = q.0 .1.lock().unwrap().pop_front().unwrap();
    /// again.run();
    /// assert!(task.done());
    /// ```
    #[inline]
    pub fn run(self) {
        let raw = self.raw;
        std::mem::forget(self);
        raw.run();
    }

    /// Worker number `worker` of a runtime is about to run the task: a task
    /// dump then shows it as the worker that last ran the task. (`u32::MAX`
    /// is no worker's number: the dump then shows none.)
    ///
    /// ```
    /// // A runtime's workers call `set_worker(index)` before each run.
    /// let rt = weft::Builder::new().workers(1).build().unwrap();
    /// let t = rt.spawn(async {});
    /// let task = t.task_ref();
    /// rt.block_on(t).unwrap();
    /// assert_eq!(weft::TaskInfo::of(&task).last_worker, Some(0));
    /// ```
    #[inline]
    pub fn set_worker(&self, worker: u32) {
        // Relaxed: a statistic, read by dumps only; a plain store, no RMW,
        // of the number as it is (no worker is `NO_WORKER`), so a worker's
        // step stores a value it holds.
        self.raw
            .header()
            .last_worker
            .store(worker, crate::loom::sync::Ordering::Relaxed);
    }

    /// The task's id.
    ///
    /// ```
    /// # use std::collections::VecDeque;
    /// # use std::sync::{Arc, Mutex};
    /// # use weft_task::context::CallSoon;
    /// # use weft_task::{CallExceptionHandler, Runnable, Schedule, Spawned, Task, TaskRegistry};
    /// # /// A loop of one queue, run by hand.
    /// # #[derive(Clone)]
    /// # struct Queue(Arc<(TaskRegistry, Mutex<VecDeque<Runnable>>)>);
    /// # impl CallSoon for Queue {
    /// #     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) { f() }
    /// # }
    /// # impl CallExceptionHandler for Queue {}
    /// # // SAFETY: `registry` always returns the same registry.
    /// # unsafe impl Schedule for Queue {
    /// #     fn schedule(&self, task: Runnable) { self.0 .1.lock().unwrap().push_back(task) }
    /// #     fn registry(&self) -> &TaskRegistry { &self.0 .0 }
    /// # }
    /// # /// Spawns `f` on `s`: its handle and first `Runnable`.
    /// # fn spawn<S: Schedule + Clone, F: std::future::Future<Output = ()> + Send + 'static>(s: &S, f: F) -> (Task<()>, Runnable) {
    /// #     match weft_task::spawn(f, s.clone(), std::panic::Location::caller()) {
    /// #         Spawned::Ready(task, first) => (task, first),
    /// #         Spawned::Refused(_) => panic!("the registry is closed"),
    /// #     }
    /// # }
    /// # let q = Queue(Arc::new((TaskRegistry::new(1), Mutex::new(VecDeque::new()))));
    /// let (task, first) = spawn(&q, async {});
    /// assert_eq!(first.id(), task.id());
    /// first.run();
    /// ```
    pub fn id(&self) -> TaskId {
        self.raw.header().id
    }

    /// Cancels the task without polling it again (its future is dropped here
    /// and it ends `Cancelled`), for work refused after a runtime closed. A
    /// task pinned to a loop (`local_owner() != 0`) is left alone: its future
    /// Cancels the task without polling it again (its future is dropped here
    /// and it ends `Cancelled`), for work refused after a runtime closed. A
    /// task pinned to a loop (`local_owner() != 0`) is left alone: its future
    /// may only be dropped on its own thread; only this reference is released.
    ///
    /// ```
    /// # use std::collections::VecDeque;
    /// # use std::sync::{Arc, Mutex};
    /// # use weft_task::context::CallSoon;
    /// # use weft_task::{CallExceptionHandler, Runnable, Schedule, Spawned, Task, TaskRegistry};
    /// # /// A loop of one queue, run by hand.
    /// # #[derive(Clone)]
    /// # struct Queue(Arc<(TaskRegistry, Mutex<VecDeque<Runnable>>)>);
    /// # impl CallSoon for Queue {
    /// #     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) { f() }
    /// # }
    /// # impl CallExceptionHandler for Queue {}
    /// # // SAFETY: `registry` always returns the same registry.
    /// # unsafe impl Schedule for Queue {
    /// #     fn schedule(&self, task: Runnable) { self.0 .1.lock().unwrap().push_back(task) }
    /// #     fn registry(&self) -> &TaskRegistry { &self.0 .0 }
    /// # }
    /// # /// Spawns `f` on `s`: its handle and first `Runnable`.
    /// # fn spawn<S: Schedule + Clone, F: std::future::Future<Output = ()> + Send + 'static>(s: &S, f: F) -> (Task<()>, Runnable) {
    /// #     match weft_task::spawn(f, s.clone(), std::panic::Location::caller()) {
    /// #         Spawned::Ready(task, first) => (task, first),
    /// #         Spawned::Refused(_) => panic!("the registry is closed"),
    /// #     }
    /// # }
    /// # let q = Queue(Arc::new((TaskRegistry::new(1), Mutex::new(VecDeque::new()))));
    /// let (task, first) = spawn(&q, std::future::pending());
    /// first.shutdown(); // never polled: its future is dropped here
    /// assert!(task.cancelled());
    /// assert!(q.registry().is_empty());
    /// ```
    pub fn shutdown(self) {
        if self.local_owner() == 0 {
            // Holding the Runnable means nobody is polling the task (a queued
            // Runnable exists only while it is not running), and its future is
            // Send, so this thread may drop it.
            self.raw.shutdown();
        }
    }

    /// [`shutdown`](Self::shutdown) for a task pinned to a loop, from any
    /// thread: for a pinned task whose loop ended before it ever ran (the
    /// `Runnable` could not be delivered).
    ///
    /// # Safety
    ///
    /// The task's future and output must be `Send` (so this thread may drop
    /// [`shutdown`](Self::shutdown) for a task pinned to a loop, from any
    /// thread: for a pinned task whose loop ended before it ever ran (the
    /// `Runnable` could not be delivered).
    ///
    /// ```
    /// # use std::collections::VecDeque;
    /// # use std::sync::{Arc, Mutex};
    /// # use weft_task::context::CallSoon;
    /// # use weft_task::{CallExceptionHandler, Runnable, Schedule, Spawned, Task, TaskRegistry};
    /// # /// A loop of one queue, run by hand.
    /// # #[derive(Clone)]
    /// # struct Queue(Arc<(TaskRegistry, Mutex<VecDeque<Runnable>>)>);
    /// # impl CallSoon for Queue {
    /// #     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) { f() }
    /// # }
    /// # impl CallExceptionHandler for Queue {}
    /// # // SAFETY: `registry` always returns the same registry.
    /// # unsafe impl Schedule for Queue {
    /// #     fn schedule(&self, task: Runnable) { self.0 .1.lock().unwrap().push_back(task) }
    /// #     fn registry(&self) -> &TaskRegistry { &self.0 .0 }
    /// # }
    /// # /// Spawns `f` on `s`: its handle and first `Runnable`.
    /// # fn spawn<S: Schedule + Clone, F: std::future::Future<Output = ()> + Send + 'static>(s: &S, f: F) -> (Task<()>, Runnable) {
    /// #     match weft_task::spawn(f, s.clone(), std::panic::Location::caller()) {
    /// #         Spawned::Ready(task, first) => (task, first),
    /// #         Spawned::Refused(_) => panic!("the registry is closed"),
    /// #     }
    /// # }
    /// # let q = Queue(Arc::new((TaskRegistry::new(1), Mutex::new(VecDeque::new()))));
    /// # /// The same queue, its tasks pinned to a loop keyed 1.
    /// # #[derive(Clone)]
    /// # struct Pinned(Queue);
    /// # impl CallSoon for Pinned {
    /// #     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) { f() }
    /// # }
    /// # impl CallExceptionHandler for Pinned {}
    /// # // SAFETY: `registry` always returns the same registry.
    /// # unsafe impl Schedule for Pinned {
    /// #     fn schedule(&self, task: Runnable) { self.0.schedule(task) }
    /// #     fn registry(&self) -> &TaskRegistry { self.0.registry() }
    /// #     fn local_owner(&self) -> usize { 1 }
    /// # }
    /// // A task pinned to a loop (the scheduler's `local_owner` is 1), whose
    /// // loop is gone before the task ever ran.
    /// let (task, first) = spawn(&Pinned(q.clone()), std::future::pending());
    /// assert_eq!(first.local_owner(), 1);
    /// // SAFETY: the future is `Send`, and `first` is the task's only `Runnable`.
    /// unsafe { first.shutdown_pinned() };
    /// assert!(task.cancelled());
    /// ```
    ///
    /// # Safety
    ///
    /// The task's future and output must be `Send` (so this thread may drop
    /// them), and nothing else may run the task: this is its only `Runnable`.
    pub unsafe fn shutdown_pinned(self) {
        self.raw.shutdown();
    }

    /// The local-owner key given at spawn (0 for tasks any thread may run).
    ///
    /// ```
    /// # use std::collections::VecDeque;
    /// # use std::sync::{Arc, Mutex};
    /// # use weft_task::context::CallSoon;
    /// # use weft_task::{CallExceptionHandler, Runnable, Schedule, Spawned, Task, TaskRegistry};
    /// # /// A loop of one queue, run by hand.
    /// # #[derive(Clone)]
    /// # struct Queue(Arc<(TaskRegistry, Mutex<VecDeque<Runnable>>)>);
    /// # impl CallSoon for Queue {
    /// #     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) { f() }
    /// # }
    /// # impl CallExceptionHandler for Queue {}
    /// # // SAFETY: `registry` always returns the same registry.
    /// # unsafe impl Schedule for Queue {
    /// #     fn schedule(&self, task: Runnable) { self.0 .1.lock().unwrap().push_back(task) }
    /// #     fn registry(&self) -> &TaskRegistry { &self.0 .0 }
    /// # }
    /// # /// Spawns `f` on `s`: its handle and first `Runnable`.
    /// # fn spawn<S: Schedule + Clone, F: std::future::Future<Output = ()> + Send + 'static>(s: &S, f: F) -> (Task<()>, Runnable) {
    /// #     match weft_task::spawn(f, s.clone(), std::panic::Location::caller()) {
    /// #         Spawned::Ready(task, first) => (task, first),
    /// #         Spawned::Refused(_) => panic!("the registry is closed"),
    /// #     }
    /// # }
    /// # let q = Queue(Arc::new((TaskRegistry::new(1), Mutex::new(VecDeque::new()))));
    /// # /// The same queue, its tasks pinned to a loop keyed 1.
    /// # #[derive(Clone)]
    /// # struct Pinned(Queue);
    /// # impl CallSoon for Pinned {
    /// #     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) { f() }
    /// # }
    /// # impl CallExceptionHandler for Pinned {}
    /// # // SAFETY: `registry` always returns the same registry.
    /// # unsafe impl Schedule for Pinned {
    /// #     fn schedule(&self, task: Runnable) { self.0.schedule(task) }
    /// #     fn registry(&self) -> &TaskRegistry { self.0.registry() }
    /// #     fn local_owner(&self) -> usize { 1 }
    /// # }
    /// let (_free, first) = spawn(&q, async {});
    /// assert_eq!(first.local_owner(), 0, "any thread may run it");
    /// first.run();
    /// let (_pinned, first) = spawn(&Pinned(q.clone()), async {});
    /// assert_eq!(first.local_owner(), 1, "only loop 1 may run it");
    /// first.run();
    /// ```
    pub fn local_owner(&self) -> usize {
        self.raw.local_owner()
    }

    /// A type-erased handle to the task.
    ///
    /// ```
    /// # use std::collections::VecDeque;
    /// # use std::sync::{Arc, Mutex};
    /// # use weft_task::context::CallSoon;
    /// # use weft_task::{CallExceptionHandler, Runnable, Schedule, Spawned, Task, TaskRegistry};
    /// # /// A loop of one queue, run by hand.
    /// # #[derive(Clone)]
    /// # struct Queue(Arc<(TaskRegistry, Mutex<VecDeque<Runnable>>)>);
    /// # impl CallSoon for Queue {
    /// #     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) { f() }
    /// # }
    /// # impl CallExceptionHandler for Queue {}
    /// # // SAFETY: `registry` always returns the same registry.
    /// # unsafe impl Schedule for Queue {
    /// #     fn schedule(&self, task: Runnable) { self.0 .1.lock().unwrap().push_back(task) }
    /// #     fn registry(&self) -> &TaskRegistry { &self.0 .0 }
    /// # }
    /// # /// Spawns `f` on `s`: its handle and first `Runnable`.
    /// # fn spawn<S: Schedule + Clone, F: std::future::Future<Output = ()> + Send + 'static>(s: &S, f: F) -> (Task<()>, Runnable) {
    /// #     match weft_task::spawn(f, s.clone(), std::panic::Location::caller()) {
    /// #         Spawned::Ready(task, first) => (task, first),
    /// #         Spawned::Refused(_) => panic!("the registry is closed"),
    /// #     }
    /// # }
    /// # let q = Queue(Arc::new((TaskRegistry::new(1), Mutex::new(VecDeque::new()))));
    /// let (task, first) = spawn(&q, async {});
    /// let seen = first.task_ref();
    /// assert_eq!(seen, task.task_ref());
    /// first.run();
    /// assert!(seen.done(), "the handle outlives the Runnable");
    /// ```
    pub fn task_ref(&self) -> TaskRef {
        TaskRef::from_raw_inc(self.raw)
    }

    /// Turns the runnable into a raw pointer, e.g. to store it in a lock-free
    /// Turns the runnable into a raw pointer, e.g. to store it in a lock-free
    /// slot. [`from_raw_ptr`](Self::from_raw_ptr) gives it back.
    ///
    /// ```
    /// # use std::collections::VecDeque;
    /// # use std::sync::{Arc, Mutex};
    /// # use weft_task::context::CallSoon;
    /// # use weft_task::{CallExceptionHandler, Runnable, Schedule, Spawned, Task, TaskRegistry};
    /// # /// A loop of one queue, run by hand.
    /// # #[derive(Clone)]
    /// # struct Queue(Arc<(TaskRegistry, Mutex<VecDeque<Runnable>>)>);
    /// # impl CallSoon for Queue {
    /// #     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) { f() }
    /// # }
    /// # impl CallExceptionHandler for Queue {}
    /// # // SAFETY: `registry` always returns the same registry.
    /// # unsafe impl Schedule for Queue {
    /// #     fn schedule(&self, task: Runnable) { self.0 .1.lock().unwrap().push_back(task) }
    /// #     fn registry(&self) -> &TaskRegistry { &self.0 .0 }
    /// # }
    /// # /// Spawns `f` on `s`: its handle and first `Runnable`.
    /// # fn spawn<S: Schedule + Clone, F: std::future::Future<Output = ()> + Send + 'static>(s: &S, f: F) -> (Task<()>, Runnable) {
    /// #     match weft_task::spawn(f, s.clone(), std::panic::Location::caller()) {
    /// #         Spawned::Ready(task, first) => (task, first),
    /// #         Spawned::Refused(_) => panic!("the registry is closed"),
    /// #     }
    /// # }
    /// # let q = Queue(Arc::new((TaskRegistry::new(1), Mutex::new(VecDeque::new()))));
    /// use std::ptr::{null_mut, NonNull};
    /// use std::sync::atomic::{AtomicPtr, Ordering};
    ///
    /// let (task, first) = spawn(&q, async {});
    /// let id = first.id();
    /// // Parked in a lock-free slot as a plain pointer...
    /// let slot = AtomicPtr::new(first.into_raw_ptr().as_ptr());
    /// // ...and taken back out of it, once.
    /// let ptr = NonNull::new(slot.swap(null_mut(), Ordering::AcqRel)).unwrap();
    /// // SAFETY: `ptr` came from `into_raw_ptr`, and the swap took it out once.
    /// let back = unsafe { Runnable::from_raw_ptr(ptr) };
    /// assert_eq!(back.id(), id);
    /// back.run();
    /// assert!(task.done());
    /// ```
    pub fn into_raw_ptr(self) -> NonNull<()> {
        let ptr = self.raw.header_ptr().cast();
        std::mem::forget(self);
        ptr
    }

    /// The runnable a pointer from [`into_raw_ptr`](Self::into_raw_ptr)
    /// stands for.
    ///
    /// ```
    /// # use std::collections::VecDeque;
    /// # use std::sync::{Arc, Mutex};
    /// # use weft_task::context::CallSoon;
    /// # use weft_task::{CallExceptionHandler, Runnable, Schedule, Spawned, Task, TaskRegistry};
    /// # /// A loop of one queue, run by hand.
    /// # #[derive(Clone)]
    /// # struct Queue(Arc<(TaskRegistry, Mutex<VecDeque<Runnable>>)>);
    /// # impl CallSoon for Queue {
    /// #     fn call_soon(&self, f: Box<dyn FnOnce() + Send>) { f() }
    /// # }
    /// # impl CallExceptionHandler for Queue {}
    /// # // SAFETY: `registry` always returns the same registry.
    /// # unsafe impl Schedule for Queue {
    /// #     fn schedule(&self, task: Runnable) { self.0 .1.lock().unwrap().push_back(task) }
    /// #     fn registry(&self) -> &TaskRegistry { &self.0 .0 }
    /// # }
    /// # /// Spawns `f` on `s`: its handle and first `Runnable`.
    /// # fn spawn<S: Schedule + Clone, F: std::future::Future<Output = ()> + Send + 'static>(s: &S, f: F) -> (Task<()>, Runnable) {
    /// #     match weft_task::spawn(f, s.clone(), std::panic::Location::caller()) {
    /// #         Spawned::Ready(task, first) => (task, first),
    /// #         Spawned::Refused(_) => panic!("the registry is closed"),
    /// #     }
    /// # }
    /// # let q = Queue(Arc::new((TaskRegistry::new(1), Mutex::new(VecDeque::new()))));
    /// let (task, first) = spawn(&q, async {});
    /// let ptr = first.into_raw_ptr();
    /// // SAFETY: `ptr` came from `into_raw_ptr`, and is used once.
    /// let first = unsafe { Runnable::from_raw_ptr(ptr) };
    /// assert_eq!(first.id(), task.id());
    /// first.run();
    /// assert!(task.done());
    /// ```
    ///
    /// # Safety
    ///
    /// `ptr` must come from [`into_raw_ptr`](Self::into_raw_ptr), and be used once.
    pub unsafe fn from_raw_ptr(ptr: NonNull<()>) -> Runnable {
        Runnable::from_raw(ptr.cast())
    }
}

impl Drop for Runnable {
    fn drop(&mut self) {
        self.raw.ref_dec();
    }
}

impl fmt::Debug for Runnable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runnable")
            .field("id", &self.id().as_u64())
            .finish()
    }
}
