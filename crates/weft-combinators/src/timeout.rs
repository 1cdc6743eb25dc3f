//! `wait_for` and timeout scopes (`asyncio.wait_for`, `asyncio.timeout`).
//!
//! # `wait_for`
//!
//! The deadline is a [`Sleep`] made at the first poll (`wait_for` is an
//! `async fn`: its clock starts when it first runs, as a coroutine's does in
//! asyncio). One `poll_fn` watches the task with
//! `Task::poll_done` and, while the task is not done, the deadline; when it
//! passes (or at once for a zero timeout) it cancels the task and marks the
//! wait `expired`, then keeps waiting for the task to finish. The outcome is
//! read only once the task is done: a cancellation after `expired` becomes
//! the [`TimeoutError`]; a value or another error is returned as is. A
//! cancellation of the caller goes through `child::cancel_and_drain`, as in
//! gather.
//!
//! # Timeout scopes
//!
//! A [`Timeout`] is shared state (deadline, state, the running scope's
//! waker) behind one mutex, so clones inside the block can read or move the
//! deadline. Its states:
//!
//! | state      | reached by                                   | `reschedule`     | `expired()` |
//! |------------|----------------------------------------------|------------------|-------------|
//! | `Created`  | `timeout`, `timeout_at`, `unbounded`         | error            | false       |
//! | `Entered`  | `run` starts (once; a second `run` panics)    | moves deadline   | false       |
//! | `Expiring` | a poll of `run` finds the deadline passed    | error            | true        |
//! | `Expired`  | `run` returns (or is dropped) from `Expiring` | error            | true        |
//! | `Exited`   | `run` returns (or is dropped) from `Entered`  | error            | false       |
//!
//! Protocol of `run`, in the task `T` it is polled in (`current_task`):
//!
//! 1. Enter: remember `T.cancelling()`, move `Created -> Entered`, and arm a
//!    guard (`ExitOnDrop`) that performs step 4 if the future is dropped.
//! 2. Each poll: read the clock once per poll of the outermost scope
//!    (`PollClock`, so nested scopes agree), then poll the block. A block
//!    that is ready gives the outcome, even if the deadline has passed too
//!    (asyncio: a wake-up queued before the timer fired runs first, and the
//!    value wins). A pending block: under the lock, store the waker and
//!    compare the deadline. Not passed: arm or move the timer. Passed:
//!    `Entered -> Expiring` and interrupt the block (`body.rs`: cancel `T`,
//!    whose innermost `catch_cancel` takes the request at the next poll, or
//!    outside a task drop the block).
//!    `reschedule` stores the new deadline under the same lock and wakes the
//!    stored waker, so a moved deadline is looked at on the next poll.
//! 3. The block finishes: `Expiring -> Expired` or `Entered -> Exited`.
//! 4. Outcome. A value: returned (an expired scope takes its cancellation
//!    back with `uncancel`). `Cancelled` from an expired scope whose
//!    `uncancel` brings `T.cancelling()` back to the value of step 1: the
//!    cancellation was the scope's own, so [`TimeoutError`]. Any other
//!    `Cancelled` (from outside, or an outer scope's): re-raised.
//!
//! Of nested scopes expiring in the same poll, each cancels `T` once and
//! each uncancels once, so only the outermost finds `cancelling()` back at
//! its entry value and reports the timeout; the inner ones re-raise.

use crate::body::run_body;
use crate::child::{cancel_and_drain, outcome, set_waker, Done, Pending};
use parking_lot::Mutex;
use std::cell::Cell;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use weft_loop::{sleep, sleep_until, Sleep};
use weft_task::awaiting::DescribedWait;
use weft_task::{
    catch_cancel, current_task, AwaitDescription, InvalidStateError, Task, TaskError, TaskRef,
    TimeoutError,
};

/// Waits for `task` for at most `timeout` (asyncio's `wait_for`). `None`
/// waits as long as it takes. A task already done returns its outcome at
/// once, even with a zero timeout.
///
/// When the timeout passes, the task is cancelled and **waited for until it
/// has really finished**, its cleanup included. Then:
/// - it ended cancelled: `Err`, a [`TimeoutError`] (`is_timeout()`);
/// - it intercepted the cancellation and returned a value: `Ok(value)`;
/// - its cleanup failed or panicked: that error wins.
///
/// **Cancelling the caller** cancels the task too (with the same message),
/// waits for it to finish, then re-raises the cancellation. Dropping the
/// future without cancelling leaves the task running.
///
/// For a plain future, spawn it first (`wait_for(weft::spawn(f), t)`, what
/// asyncio does with a coroutine), or run it inline in a [`timeout`] scope.
///
/// ```
/// use std::time::Duration;
///
/// weft::run(async {
///     let slow = weft::spawn(weft::sleep_with(Duration::from_secs(60), 1));
///     let err = weft::wait_for(slow, Some(Duration::from_millis(10))).await.unwrap_err();
///     assert!(err.is_timeout());
///
///     let fast = weft::spawn(async { 2 });
///     assert_eq!(weft::wait_for(fast, Some(Duration::from_secs(1))).await.unwrap(), 2);
/// });
/// ```
pub async fn wait_for<T>(mut task: Task<T>, timeout: Option<Duration>) -> Result<T, TaskError> {
    let mut deadline: Option<Sleep> = timeout.filter(|t| !t.is_zero()).map(sleep);
    let mut expire_now = timeout.is_some_and(|t| t.is_zero());
    let mut expired = false;
    let mut described = DescribedWait::new();
    let watched = catch_cancel(poll_fn(|cx| {
        let done = wait_for_step(&mut task, &mut deadline, &mut expire_now, &mut expired, cx);
        if done.is_pending() {
            described.pending(|| AwaitDescription::new("wait_for").with_tasks([task.id()]));
        } else {
            described.ready();
        }
        done
    }))
    .await;
    drop(described);
    if let Err(cancelled) = watched {
        let mut only = Pending::new(vec![Done::new(0, &mut task)]);
        return cancel_and_drain(&mut only, cancelled).await;
    }
    match outcome(&mut task) {
        Err(e) if expired && e.is_cancelled() => Err(TimeoutError::new().into()),
        other => other,
    }
}

/// One poll of `wait_for`'s watch: expires the wait when its deadline
/// passed (cancelling the task), then polls the task's end.
fn wait_for_step<T>(
    task: &mut Task<T>,
    deadline: &mut Option<Sleep>,
    expire_now: &mut bool,
    expired: &mut bool,
    cx: &mut Context<'_>,
) -> Poll<()> {
    if !*expired && !task.done() {
        if let Some(d) = deadline.as_mut() {
            *expire_now |= Pin::new(d).poll(cx).is_ready();
        }
        if *expire_now {
            *expired = true;
            *deadline = None;
            task.cancel();
        }
    }
    task.poll_done(cx)
}

/// A timeout scope for a block of async code (asyncio's `asyncio.timeout`):
/// [`run`](Timeout::run) runs a future inline, in the caller's task, and stops
/// it when the deadline passes. Clones share the scope, so the block itself
/// can read or move its deadline.
///
/// At the deadline the scope cancels the task it runs in (a block that is
/// ready by then gives its value instead). The innermost [`catch_cancel`] in
/// the block gets the request at its await point and may clean up (awaiting
/// if it likes). If the block ends cancelled, `run`
/// returns [`TimeoutError`]; if it swallowed the cancellation, its value. A
/// cancellation from outside that arrives too is re-raised instead, and of
/// nested scopes expiring together only the outermost reports the timeout
/// (asyncio 3.11's `cancelling` / `uncancel` protocol).
///
/// Outside a task (the future given to `block_on`), there is no task to
/// cancel: the block is dropped at the deadline, its destructors run.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// weft::run(async {
///     let scope = weft::timeout(Duration::from_millis(10));
///     let out = scope.run(weft::sleep(Duration::from_secs(60))).await;
///     assert!(out.is_err() && scope.expired());
///
///     let scope = weft::Timeout::unbounded();
///     let out = scope
///         .run(async {
///             scope.reschedule(Some(Instant::now() + Duration::from_secs(60))).unwrap();
///             7
///         })
///         .await;
///     assert_eq!(out.unwrap(), 7);
///     assert!(!scope.expired());
/// });
/// ```
#[derive(Clone)]
pub struct Timeout {
    scope: Arc<Mutex<Scope>>,
}

struct Scope {
    deadline: Option<Instant>,
    state: State,
    /// The scope's future, woken when `reschedule` moves the deadline.
    waker: Option<Waker>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Created,
    Entered,
    /// The deadline passed; the block is being stopped.
    Expiring,
    Expired,
    Exited,
}

/// A scope that times out `delay` from now (asyncio's `timeout(delay)`).
///
/// ```
/// use std::time::Duration;
///
/// weft::run(async {
///     let out = weft::timeout(Duration::from_secs(60)).run(async { 1 }).await;
///     assert_eq!(out.unwrap(), 1);
///     let late = weft::timeout(Duration::from_millis(1))
///         .run(weft::sleep(Duration::from_secs(60)))
///         .await;
///     assert!(late.is_err());
/// });
/// ```
pub fn timeout(delay: Duration) -> Timeout {
    Timeout::new(Some(sleep(delay).deadline()))
}

/// A scope that times out at `deadline` (asyncio's `timeout_at(when)`).
///
/// ```
/// use std::time::{Duration, Instant};
///
/// weft::run(async {
///     let deadline = Instant::now() + Duration::from_millis(5);
///     let scope = weft::timeout_at(deadline);
///     assert_eq!(scope.when(), Some(deadline));
///     assert!(scope.run(std::future::pending::<()>()).await.is_err());
///     assert!(Instant::now() >= deadline);
/// });
/// ```
pub fn timeout_at(deadline: Instant) -> Timeout {
    Timeout::new(Some(deadline))
}

impl Timeout {
    fn new(deadline: Option<Instant>) -> Timeout {
        Timeout {
            scope: Arc::new(Mutex::new(Scope {
                deadline,
                state: State::Created,
                waker: None,
            })),
        }
    }

    /// A scope with no deadline yet (asyncio's `timeout(None)`); give it one
    /// with [`reschedule`](Self::reschedule).
    ///
    /// ```
    /// weft::run(async {
    ///     let scope = weft::Timeout::unbounded();
    ///     assert_eq!(scope.when(), None);
    ///     assert_eq!(scope.run(async { 2 }).await.unwrap(), 2);
    /// });
    /// ```
    pub fn unbounded() -> Timeout {
        Timeout::new(None)
    }

    /// The deadline, if any (asyncio's `when()`).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let at = Instant::now() + Duration::from_secs(1);
    /// assert_eq!(weft::timeout_at(at).when(), Some(at));
    /// assert_eq!(weft::Timeout::unbounded().when(), None);
    /// ```
    pub fn when(&self) -> Option<Instant> {
        self.scope.lock().deadline
    }

    /// Whether the deadline passed while the block ran (asyncio's
    /// `expired()`), whatever the block then did.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// weft::run(async {
    ///     let scope = weft::timeout(Duration::from_millis(1));
    ///     assert!(!scope.expired());
    ///     let _ = scope.run(weft::sleep(Duration::from_secs(60))).await;
    ///     assert!(scope.expired());
    /// });
    /// ```
    pub fn expired(&self) -> bool {
        matches!(self.scope.lock().state, State::Expiring | State::Expired)
    }

    /// Moves the deadline (`None`: no deadline). Only while the block runs
    /// and the scope has not expired; otherwise an [`InvalidStateError`].
    /// A deadline already past expires the scope at once.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// weft::run(async {
    ///     let scope = weft::timeout(Duration::from_millis(1));
    ///     // Not running yet: refused.
    ///     let refused = scope.reschedule(None);
    ///     assert!(matches!(refused, Err(weft::InvalidStateError::NotStarted)));
    ///     let out = scope
    ///         .run(async {
    ///             scope.reschedule(Some(Instant::now() + Duration::from_secs(60))).unwrap();
    ///             weft::sleep(Duration::from_millis(5)).await; // outlives the first deadline
    ///             "done"
    ///         })
    ///         .await;
    ///     assert_eq!(out.unwrap(), "done");
    /// });
    /// ```
    pub fn reschedule(&self, deadline: Option<Instant>) -> Result<(), InvalidStateError> {
        let mut scope = self.scope.lock();
        match scope.state {
            State::Entered => {}
            State::Created => return Err(InvalidStateError::NotStarted),
            State::Expiring | State::Expired | State::Exited => {
                return Err(InvalidStateError::AlreadyDone)
            }
        }
        scope.deadline = deadline;
        if let Some(waker) = scope.waker.take() {
            waker.wake();
        }
        Ok(())
    }

    /// Runs `block` inline under this scope: its value, or [`TimeoutError`]
    /// if the deadline stopped it.
    ///
    /// # Panics
    ///
    /// If the scope was run before: a scope is entered once.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// weft::run(async {
    ///     let scope = weft::timeout(Duration::from_secs(60));
    ///     let body = async {
    ///         weft::yield_now().await;
    ///         "in time"
    ///     };
    ///     assert_eq!(scope.run(body).await.unwrap(), "in time");
    /// });
    /// ```
    pub async fn run<F: Future>(&self, block: F) -> Result<F::Output, TimeoutError> {
        let task = current_task();
        let cancelling_at_entry = task.as_ref().map_or(0, |t| t.cancelling());
        {
            let mut scope = self.scope.lock();
            assert!(
                scope.state == State::Created,
                "a weft::Timeout scope runs once"
            );
            scope.state = State::Entered;
        }
        let _exit_on_drop = ExitOnDrop {
            scope: self,
            task: task.clone(),
        };
        let mut timer: Option<Sleep> = None;
        let mut run = pin!(run_body(block, task.as_ref(), |cx| {
            self.check_deadline(PollClock::now(), &mut timer, cx)
        }));
        // The clock is read once per poll, before the deadline check, and
        // shared with the scopes nested in the block (see `PollClock`).
        // A task dump shows the scope where the block's own leaf recorded
        // nothing this poll (it waits for a timer, say).
        let mut described = DescribedWait::new();
        let out = poll_fn(|cx| {
            let _clock = PollClock::enter();
            let out = run.as_mut().poll(cx);
            if out.is_pending() {
                described.pending(|| AwaitDescription::new("timeout scope"));
            } else {
                described.ready();
            }
            out
        })
        .await;
        drop(described);
        let expired = {
            let mut scope = self.scope.lock();
            let expired = scope.state == State::Expiring;
            scope.state = if expired {
                State::Expired
            } else {
                State::Exited
            };
            scope.waker = None;
            expired
        };
        let cancelled = match out {
            Ok(value) => {
                if expired {
                    task.as_ref().map(|t| t.uncancel());
                }
                return Ok(value);
            }
            Err(cancelled) => cancelled,
        };
        if expired && task.as_ref().map_or(0, |t| t.uncancel()) <= cancelling_at_entry {
            return Err(TimeoutError::new());
        }
        cancelled.raise().await
    }

    /// Whether the deadline is at or before `now`: true once, when the scope
    /// expires (the caller then stops the block). Otherwise arms `timer` for
    /// the deadline.
    fn check_deadline(
        &self,
        now: Instant,
        timer: &mut Option<Sleep>,
        cx: &mut std::task::Context<'_>,
    ) -> bool {
        let mut scope = self.scope.lock();
        if scope.state != State::Entered {
            return false;
        }
        set_waker(&mut scope.waker, cx.waker());
        let Some(deadline) = scope.deadline else {
            *timer = None;
            return false;
        };
        if deadline <= now {
            scope.state = State::Expiring;
            *timer = None;
            return true;
        }
        let timer = timer.get_or_insert_with(|| sleep_until(deadline));
        if timer.deadline() != deadline {
            timer.reset(deadline);
        }
        if Pin::new(timer).poll(cx).is_ready() {
            // The deadline passed after `now` was read: decide on the next
            // poll, with the other scopes of that poll.
            cx.waker().wake_by_ref();
        }
        false
    }
}

/// Leaves the scope if `run`'s future is dropped before it finished: an
/// expired scope takes its cancellation back (asyncio's `__aexit__` always
/// calls `uncancel` when it expired), so the task's `cancelling()` stays true.
struct ExitOnDrop<'a> {
    scope: &'a Timeout,
    task: Option<TaskRef>,
}

impl Drop for ExitOnDrop<'_> {
    fn drop(&mut self) {
        let mut scope = self.scope.scope.lock();
        match scope.state {
            State::Expiring => {
                scope.state = State::Expired;
                drop(scope);
                if let Some(t) = &self.task {
                    t.uncancel();
                }
            }
            State::Entered => scope.state = State::Exited,
            _ => {}
        }
    }
}

thread_local! {
    static POLL_NOW: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// The clock reading shared by every timeout scope polled within one poll of
/// the outermost scope, so nested scopes with one deadline agree on whether
/// it has passed: the inner one, checked first, and then the outer one
/// expire in the same poll, and only the outer one reports the timeout.
/// (asyncio gets this by firing every due timer before the task runs again;
/// reading the clock once per scope would let it pass between the inner
/// scope's check and the outer one's.)
struct PollClock {
    outermost: bool,
}

impl PollClock {
    /// Reads the clock for this poll, unless an enclosing scope did.
    fn enter() -> PollClock {
        let outermost = POLL_NOW.get().is_none();
        if outermost {
            POLL_NOW.set(Some(Instant::now()));
        }
        PollClock { outermost }
    }

    /// The reading of the outermost scope being polled (inside `enter`'s
    /// guard; outside one, the clock now).
    fn now() -> Instant {
        POLL_NOW.get().unwrap_or_else(Instant::now)
    }
}

impl Drop for PollClock {
    fn drop(&mut self) {
        if self.outermost {
            POLL_NOW.set(None);
        }
    }
}

impl fmt::Debug for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = self.scope.lock();
        f.debug_struct("Timeout")
            .field("when", &scope.deadline)
            .field("state", &scope.state)
            .finish()
    }
}
