//! `TaskGroup`: structured concurrency (asyncio 3.13's `TaskGroup`).
//!
//! # Protocol
//!
//! [`task_group`] runs the body inline, in the caller, with a [`TaskGroup`]
//! handle that spawns children. The group's state sits behind one mutex:
//! the live children, the errors collected, the phase (`Body`, `Exiting`,
//! `Closed`) and whether it is aborting.
//!
//! 1. Every child gets one shared done callback. When a child ends with an
//!    error other than a cancellation, the callback records it and, unless the
//!    group is aborting already, aborts: cancels every live child and, while
//!    the body still runs, stops the body (see `body.rs`: cancel the caller's
//!    task and remember to `uncancel` it, or outside a task drop the body).
//! 2. When the body ends, the group is `Exiting`: a cancellation the group
//!    requested is taken back with `uncancel`; if none is left, the body's
//!    `Cancelled` was the group's own and is not propagated. A body that
//!    failed or was cancelled from outside aborts the group.
//! 3. The group waits until no child is live, children spawned by children
//!    included. A cancellation from outside during that wait aborts the group
//!    (the first time) and is propagated at the end.
//! 4. `Closed`: spawning now fails. Errors win over a cancellation: with any,
//!    the result is a [`TaskGroupError`] holding all of them (children's
//!    first, in completion order, then the body's); otherwise a cancellation
//!    is re-raised; otherwise the body's value comes back.
//! 5. Errors returned while the task still counts a cancellation from outside
//!    (`cancelling() > 0` after step 2's `uncancel`): the group requests that
//!    cancellation again, `uncancel` then `cancel`, so the count stays the same
//!    and the caller's next await is cancelled (asyncio 3.13: the outside
//!    cancellation is not lost because the group reported errors instead).
//!
//! No wake-up is lost: a child's callback removes it from the live set and
//! takes the group's waker under the same lock the waiting group registers
//! its waker and reads the set under.

use crate::body::run_body;
use crate::child::{cancel_as, error_of, set_waker};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt;
use std::future::{poll_fn, Future};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};
use weft_loop::Handle;
use weft_task::awaiting::DescribedWait;
use weft_task::{
    catch_cancel, current_task, AwaitDescription, Cancelled, DoneCallback, Task, TaskError, TaskId,
    TaskRef,
};

/// Runs `body` with a [`TaskGroup`] to spawn children into, and returns once
/// the body and every child have finished (asyncio's `async with
/// TaskGroup() as tg:`).
///
/// - Leaving waits for every child, including children spawned later by
///   other children. Cancelling one child explicitly affects no other.
/// - The first child to fail (an error or a panic; a cancellation is not a
///   failure) cancels the other children and the body, waits for all of
///   them, and the group returns every non-cancellation error together in a
///   [`TaskGroupError`]. A body returning `Err` does the same.
/// - Cancelling the caller from outside cancels the children and the body,
///   waits for them, then re-raises the cancellation, unless there are
///   errors (a child's failure arriving with the cancellation, or raised in
///   cleanup): those win, as a `TaskGroupError`, and the cancellation is not
///   lost: the caller's task stays cancelled (`cancelling()` unchanged), so
///   its next await is cancelled (asyncio 3.13).
/// - Spawning into a group that has finished, or is aborting, is an error and
///   the future is dropped unpolled.
/// - Dropping this future before it finishes (without cancelling it) closes
///   the group to new spawns and leaves the children running, as dropping
///   their handles does.
///
/// The body runs inline and may borrow from the caller. Children are
/// spawned tasks, run in parallel on any worker, so they borrow nothing:
/// they are `'static`, like every spawned task. A scoped spawn that lends
/// them the caller's locals would be unsound, because a group future that
/// is leaked (`mem::forget`) would free what running children still use.
///
/// Outside a task (the future given to `block_on`), there is no task to
/// cancel, so stopping the body drops it at its await point instead.
///
/// ```
/// weft::run(async {
///     let total = weft::task_group(|tg| async move {
///         let a = tg.spawn(async { 1 }).unwrap();
///         let b = tg.spawn(async { 2 }).unwrap();
///         Ok(a.await? + b.await?)
///     })
///     .await
///     .unwrap();
///     assert_eq!(total, 3);
///
///     let err = weft::task_group(|tg| async move {
///         tg.spawn(async { panic!("boom") }).unwrap().detach();
///         tg.spawn(std::future::pending::<()>()).unwrap().detach();
///         Ok(())
///     })
///     .await
///     .unwrap_err();
///     assert!(err.errors()[0].is_panic());
/// });
/// ```
pub async fn task_group<B, Fut, R>(body_fn: B) -> Result<R, TaskGroupError>
where
    B: FnOnce(TaskGroup) -> Fut,
    Fut: Future<Output = Result<R, TaskError>>,
{
    let parent = current_task();
    let group = TaskGroup::enter(parent.clone());
    let _closed_on_drop = CloseOnDrop(&group);
    // The group cancels `parent` itself (in `child_done`, under its lock), so
    // `run_body` is told of no task: it only drops the body outside a task.
    let out = run_body(body_fn(group.clone()), None, |cx| {
        group.take_body_interrupt(cx)
    })
    .await;

    let (mut value, mut body_error, mut propagate) = (None, None, None);
    // The last cancellation the group intercepted, for its message if the
    // group has to request it again (step 5).
    let mut last_cancel = None;
    match out {
        Ok(Ok(v)) => value = Some(v),
        Ok(Err(e)) => body_error = Some(e),
        Err(c) => {
            last_cancel = Some(c.clone());
            propagate = Some(c);
        }
    }
    let to_cancel = {
        let mut st = group.inner.state.lock();
        st.phase = Phase::Exiting;
        if st.parent_cancel_requested && parent.as_ref().is_some_and(|p| p.uncancel() == 0) {
            propagate = None;
        }
        if (body_error.is_some() || propagate.is_some()) && !st.aborting {
            st.abort()
        } else {
            Vec::new()
        }
    };
    cancel_all(&to_cancel);

    loop {
        let mut described = DescribedWait::new();
        let waited = catch_cancel(poll_fn(|cx| {
            let done = group.poll_children_done(cx);
            if done.is_pending() {
                described.pending(|| group.describe());
            } else {
                described.ready();
            }
            done
        }))
        .await;
        drop(described);
        match waited {
            Ok(()) => break,
            Err(c) => {
                last_cancel = Some(c.clone());
                let to_cancel = {
                    let mut st = group.inner.state.lock();
                    if st.aborting {
                        Vec::new()
                    } else {
                        propagate = Some(c);
                        st.abort()
                    }
                };
                cancel_all(&to_cancel);
            }
        }
    }

    let mut errors = {
        let mut st = group.inner.state.lock();
        st.phase = Phase::Closed;
        st.parent = None;
        st.waker = None;
        std::mem::take(&mut st.errors)
    };
    errors.extend(body_error);
    if !errors.is_empty() {
        if let Some(p) = parent.as_ref().filter(|p| p.cancelling() > 0) {
            // Step 5: the request from outside was consumed by the body or
            // the wait above; make it again, keeping the count.
            p.uncancel();
            match &last_cancel {
                Some(c) => cancel_as(p, c),
                None => p.cancel(),
            };
        }
        return Err(TaskGroupError { errors });
    }
    match (propagate, value.take()) {
        (Some(cancelled), _) => cancelled.raise().await,
        (None, Some(v)) => Ok(v),
        // The body was stopped only by the group, which stops it only for
        // an error: not reached, but an error is the safe answer.
        (None, None) => Err(TaskGroupError {
            errors: vec![Cancelled::new().into()],
        }),
    }
}

/// The handle [`task_group`] gives its body: spawns children into the group.
/// Cheap to clone; children may hold a clone to spawn more children, and the
/// group waits for those too. Dropping a clone does nothing.
///
/// ```
/// weft::run(async {
///     let total = weft::task_group(|tg: weft::TaskGroup| async move {
///         let a = tg.spawn(async { 1 }).unwrap();
///         let inner = tg.clone();
///         // A child spawning a grandchild into the same group.
///         let b = tg
///             .spawn(async move { inner.spawn(async { 2 }).unwrap().await.unwrap() })
///             .unwrap();
///         Ok(a.await? + b.await?)
///     })
///     .await
///     .unwrap();
///     assert_eq!(total, 3);
/// });
/// ```
#[derive(Clone)]
pub struct TaskGroup {
    inner: Arc<Group>,
}

struct Group {
    state: Mutex<GroupState>,
    handle: Handle,
}

struct GroupState {
    /// The task the body runs in, until the group closes.
    parent: Option<TaskRef>,
    live: HashMap<TaskId, TaskRef>,
    /// `spawn` calls between their check and their insert into `live`.
    spawning: usize,
    errors: Vec<TaskError>,
    phase: Phase,
    aborting: bool,
    /// The group cancelled `parent` to stop the body; to be taken back.
    parent_cancel_requested: bool,
    /// Outside a task: the body is to be dropped at its next poll.
    interrupt_body: bool,
    /// The group's future, waiting for the body or for the children.
    waker: Option<Waker>,
    on_done: DoneCallback<TaskRef>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Body,
    Exiting,
    Closed,
}

impl GroupState {
    /// Starts aborting; returns the children to cancel (outside the lock).
    fn abort(&mut self) -> Vec<TaskRef> {
        self.aborting = true;
        self.live.values().cloned().collect()
    }
}

fn cancel_all(tasks: &[TaskRef]) {
    for t in tasks {
        t.cancel();
    }
}

impl TaskGroup {
    fn enter(parent: Option<TaskRef>) -> TaskGroup {
        let inner = Arc::new_cyclic(|me: &Weak<Group>| {
            let me = me.clone();
            Group {
                state: Mutex::new(GroupState {
                    parent,
                    live: HashMap::new(),
                    spawning: 0,
                    errors: Vec::new(),
                    phase: Phase::Body,
                    aborting: false,
                    parent_cancel_requested: false,
                    interrupt_body: false,
                    waker: None,
                    on_done: DoneCallback::new(move |child: &TaskRef| {
                        if let Some(group) = me.upgrade() {
                            group.child_done(child);
                        }
                    }),
                }),
                handle: Handle::current(),
            }
        });
        TaskGroup { inner }
    }

    /// Spawns `future` as a child of the group (asyncio's
    /// `tg.create_task`) and returns its handle; dropping the handle leaves
    /// the child to the group.
    ///
    /// If the group has finished, or is aborting after a failure, the future
    /// is dropped unpolled and this is an error.
    ///
    /// ```
    /// weft::run(async {
    ///     weft::task_group(|tg| async move {
    ///         let child = tg.spawn(async { "child" }).unwrap();
    ///         tg.spawn(async {}).unwrap().detach(); // the group still waits for it
    ///         assert_eq!(child.await?, "child");
    ///         Ok(())
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Result<Task<F::Output>, TaskGroupSpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        {
            let mut st = self.inner.state.lock();
            if st.phase == Phase::Closed {
                return Err(TaskGroupSpawnError(Refusal::Finished));
            }
            if st.aborting {
                return Err(TaskGroupSpawnError(Refusal::Aborting));
            }
            st.spawning += 1;
        }
        // Spawned without the lock: a future refused by a shut-down runtime
        // is dropped in here, and its destructor may use the group.
        let spawned = self.inner.handle.try_spawn(future);
        let mut st = self.inner.state.lock();
        st.spawning -= 1;
        let Ok(task) = spawned else {
            let waker = st.live.is_empty().then(|| st.waker.take()).flatten();
            drop(st);
            if let Some(w) = waker {
                w.wake();
            }
            return Err(TaskGroupSpawnError(Refusal::ShutDown));
        };
        st.live.insert(task.id(), task.task_ref());
        if task.done() {
            // Done already (an eager child that finished in its first step):
            // counted now, not on a later turn of the loop, as asyncio 3.12's
            // TaskGroup calls its done handler at once for such a child.
            drop(st);
            self.inner.child_done(&task);
            return Ok(task);
        }
        // After the insert: a child done meanwhile runs the callback at once.
        task.add_done_callback(st.on_done.clone());
        if st.aborting {
            drop(st);
            task.cancel();
        }
        Ok(task)
    }

    /// How many children are still running.
    ///
    /// ```
    /// weft::run(async {
    ///     weft::task_group(|tg| async move {
    ///         let child = tg.spawn(std::future::pending::<()>()).unwrap();
    ///         assert_eq!(tg.len(), 1);
    ///         // Counted out by the group's done callback, soon after it ends.
    ///         child.cancel();
    ///         let _ = child.await;
    ///         Ok(())
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// ```
    pub fn len(&self) -> usize {
        self.inner.state.lock().live.len()
    }

    /// Whether no child is running.
    ///
    /// ```
    /// weft::run(async {
    ///     weft::task_group(|tg| async move {
    ///         assert!(tg.is_empty());
    ///         let gate = weft::Promise::<()>::new();
    ///         let open = gate.clone();
    ///         let child = tg.spawn(async move { open.wait().await.ok() }).unwrap();
    ///         assert!(!tg.is_empty()); // the child waits at the gate
    ///         gate.set_result(()).unwrap();
    ///         child.await?;
    ///         Ok(())
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True once, when the body must be dropped (outside a task); registers
    /// the group's waker for that.
    fn take_body_interrupt(&self, cx: &mut Context<'_>) -> bool {
        let mut st = self.inner.state.lock();
        set_waker(&mut st.waker, cx.waker());
        std::mem::take(&mut st.interrupt_body)
    }

    /// The group's await target for task dumps: its children still running.
    fn describe(&self) -> AwaitDescription {
        let st = self.inner.state.lock();
        AwaitDescription::new("task group").with_tasks(st.live.keys().copied())
    }

    fn poll_children_done(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.inner.state.lock();
        if st.live.is_empty() && st.spawning == 0 {
            return Poll::Ready(());
        }
        set_waker(&mut st.waker, cx.waker());
        Poll::Pending
    }
}

/// Closes the group if its future is dropped before it finished (say, by a
/// `select` that took another branch): no more spawns, and a cancellation the
/// group requested to stop the body is taken back, since no exit step will.
/// The children run on, as dropped handles do.
struct CloseOnDrop<'a>(&'a TaskGroup);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        let mut st = self.0.inner.state.lock();
        if st.phase == Phase::Closed {
            return;
        }
        if st.phase == Phase::Body && st.parent_cancel_requested {
            if let Some(p) = &st.parent {
                p.uncancel();
            }
        }
        st.phase = Phase::Closed;
        st.parent = None;
        st.waker = None;
    }
}

impl Group {
    fn child_done(&self, child: &TaskRef) {
        let mut to_cancel = Vec::new();
        let waker = {
            let mut st = self.state.lock();
            if st.live.remove(&child.id()).is_none() {
                return;
            }
            let failure = error_of(child).filter(|e| !e.is_cancelled());
            let mut wake = st.live.is_empty() && st.spawning == 0;
            if let Some(e) = failure {
                st.errors.push(e);
                if !st.aborting {
                    to_cancel = st.abort();
                    if st.phase == Phase::Body {
                        st.parent_cancel_requested = true;
                        match &st.parent {
                            // Under the lock, so the exit step cannot take
                            // the request back before it is made.
                            Some(p) => {
                                p.cancel();
                            }
                            None => {
                                st.interrupt_body = true;
                                wake = true;
                            }
                        }
                    }
                }
            }
            if wake {
                st.waker.take()
            } else {
                None
            }
        };
        cancel_all(&to_cancel);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl fmt::Debug for TaskGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.lock();
        f.debug_struct("TaskGroup")
            .field("live", &st.live.len())
            .field("errors", &st.errors.len())
            .field("phase", &st.phase)
            .field("aborting", &st.aborting)
            .finish()
    }
}

/// The errors a [`task_group`] collected: every child failure (panics and
/// errors; cancellations are not failures) and the body's own error, if any
/// (asyncio's `ExceptionGroup`). Never empty.
///
/// ```
/// weft::run(async {
///     let err = weft::task_group(|_tg| async move {
///         Err::<(), _>(weft::TaskError::failed(std::fmt::Error))
///     })
///     .await
///     .unwrap_err();
///     assert_eq!(err.to_string(), "unhandled errors in a task group (1)");
///     assert!(err.errors()[0].is_failed());
/// });
/// ```
#[derive(Clone, Debug)]
pub struct TaskGroupError {
    errors: Vec<TaskError>,
}

impl TaskGroupError {
    /// The errors, children's first in the order they failed, then the body's.
    ///
    /// ```
    /// weft::run(async {
    ///     let err = weft::task_group(|tg| async move {
    ///         tg.spawn(async { panic!("child") }).unwrap().detach();
    ///         weft::sleep(std::time::Duration::from_secs(60)).await; // cancelled
    ///         Err::<(), _>(weft::TaskError::failed(std::fmt::Error))
    ///     })
    ///     .await
    ///     .unwrap_err();
    ///     assert_eq!(err.errors().len(), 1, "the body was cancelled, not failed");
    ///     assert!(err.errors()[0].is_panic());
    /// });
    /// ```
    pub fn errors(&self) -> &[TaskError] {
        &self.errors
    }

    /// The errors, by value.
    ///
    /// ```
    /// weft::run(async {
    ///     let err = weft::task_group(|_tg| async move {
    ///         Err::<(), _>(weft::TaskError::failed(std::fmt::Error))
    ///     })
    ///     .await
    ///     .unwrap_err();
    ///     let errors: Vec<weft::TaskError> = err.into_errors();
    ///     assert!(errors[0].is_failed());
    /// });
    /// ```
    pub fn into_errors(self) -> Vec<TaskError> {
        self.errors
    }
}

impl fmt::Display for TaskGroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unhandled errors in a task group ({})",
            self.errors.len()
        )
    }
}

impl std::error::Error for TaskGroupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.errors.first().map(|e| e as _)
    }
}

/// [`TaskGroup::spawn`] refused: the group has finished, or is aborting after
/// a failure, or the runtime is shut down. The future was dropped unpolled.
///
/// ```
/// weft::run(async {
///     let mut kept = None;
///     weft::task_group(|tg| {
///         kept = Some(tg.clone());
///         async { Ok(()) }
///     })
///     .await
///     .unwrap();
///     let err = kept.unwrap().spawn(async {}).unwrap_err();
///     assert!(err.is_finished());
///     assert_eq!(err.to_string(), "task group is finished");
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskGroupSpawnError(Refusal);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    Finished,
    Aborting,
    ShutDown,
}

impl TaskGroupSpawnError {
    /// Whether the group had finished.
    ///
    /// ```
    /// weft::run(async {
    ///     let mut kept = None;
    ///     weft::task_group(|tg| {
    ///         kept = Some(tg.clone());
    ///         async { Ok(()) }
    ///     })
    ///     .await
    ///     .unwrap();
    ///     assert!(kept.unwrap().spawn(async {}).unwrap_err().is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.0 == Refusal::Finished
    }

    /// Whether the group was aborting after a failure.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::time::Duration;
    ///
    /// weft::run(async {
    ///     // In a task: the group aborts its body by cancelling the task.
    ///     weft::spawn(async {
    ///         let checked = AtomicBool::new(false);
    ///         let checked = &checked;
    ///         let result: Result<(), _> = weft::task_group(|tg| async move {
    ///             tg.spawn(async { panic!("a child fails") }).unwrap().detach();
    ///             match weft::catch_cancel(weft::sleep(Duration::from_secs(60))).await {
    ///                 Ok(()) => unreachable!("the failure cancels the body"),
    ///                 Err(c) => {
    ///                     assert!(tg.spawn(async {}).unwrap_err().is_aborting());
    ///                     checked.store(true, Ordering::SeqCst);
    ///                     Err(c.into())
    ///                 }
    ///             }
    ///         })
    ///         .await;
    ///         assert!(result.unwrap_err().errors()[0].is_panic());
    ///         assert!(checked.load(Ordering::SeqCst));
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// ```
    pub fn is_aborting(&self) -> bool {
        self.0 == Refusal::Aborting
    }
}

impl fmt::Display for TaskGroupSpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Refusal::Finished => "task group is finished",
            Refusal::Aborting => "task group is shutting down",
            Refusal::ShutDown => "runtime is shut down",
        })
    }
}

impl std::error::Error for TaskGroupSpawnError {}
