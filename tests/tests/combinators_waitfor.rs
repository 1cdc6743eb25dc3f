//! `wait_for`, ported from CPython's Lib/test/test_asyncio/test_waitfor.py
//! (3.12+, where `wait_for` runs its await in a timeout scope): one test per
//! CPython case, its name in a comment above it.
//!
//! asyncio's `wait_for` takes a coroutine and wraps it in a task; weft's takes
//! the task, so each port spawns the coroutine first. Where the CPython case
//! relies on that coroutine starting inline, the port waits until the spawned
//! task has reached its await before `wait_for` starts its clock. asyncio's
//! negative timeouts have no `Duration`; the zero cases stand for them.
//!
//! What does not carry over: `cm.exception.__context__` (weft's
//! `TimeoutError` holds no cause, the cancellation it replaced is not kept).

mod common;

use common::{gated, ms, poll_once, spawn_started, wait_done, wait_until, DropCounter, Flag, Log};
use std::future::{pending, Future};
use std::task::Poll;
use std::time::{Duration, Instant};
use weft::{catch_cancel, wait_for, Promise, TaskRef};

/// asyncio's `_EPSILON`: a timeout above zero that passes at once.
const EPSILON: Duration = Duration::from_micros(100);

/// How long a [`SlowTask`] runs (asyncio's `SlowTask.TASK_TIMEOUT`).
const TASK_TIMEOUT: Duration = Duration::from_millis(200);

/// A bound "well under the 10 s the task would sleep" for the CPython
/// cases that assert a quick return (asyncio asserts 0.1 s; a shared test
/// machine needs slack).
const QUICK: Duration = Duration::from_secs(5);

/// asyncio's `SlowTask`: runs for [`TASK_TIMEOUT`], ignoring every
/// cancellation request, then sets `exited`.
#[derive(Clone, Default)]
struct SlowTask {
    exited: Flag,
}

impl SlowTask {
    fn run(&self) -> impl Future<Output = ()> + Send + 'static {
        let exited = self.exited.clone();
        async move {
            let exit_at = Instant::now() + TASK_TIMEOUT;
            loop {
                let now = Instant::now();
                if now >= exit_at {
                    break;
                }
                let _ = catch_cancel(weft::sleep(exit_at - now)).await;
            }
            exited.set();
        }
    }
}

/// Spawns `body` and waits until it has parked at its first await.
async fn spawn_parked<T, F>(body: F) -> weft::Task<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    spawn_started!("the task to park", { body.await })
}

// CPython: test_waitfor.py AsyncioWaitForTest.test_asyncio_wait_for_cancelled
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_wait_for_waits_for_a_task_that_ignores_cancellation() {
    let t = SlowTask::default();
    let run = t.run();
    let waitfortask = spawn_started!("wait_for to start", {
        wait_for(weft::spawn(run), Some(TASK_TIMEOUT * 2)).await
    });
    assert!(waitfortask.cancel());
    weft::wait([waitfortask]).await.unwrap();
    assert!(t.exited.get(), "wait_for ended before its task did");
}

// CPython: test_waitfor.py AsyncioWaitForTest.test_asyncio_wait_for_timeout
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_timed_out_wait_for_waits_for_a_task_that_ignores_cancellation() {
    let t = SlowTask::default();
    let run = t.run();
    let out = weft::spawn(async move { wait_for(weft::spawn(run), Some(TASK_TIMEOUT / 2)).await })
        .await
        .unwrap();
    // 3.12+: the task swallowed the cancellation and returned, so its value
    // (CPython accepts a TimeoutError too).
    match out {
        Ok(()) => {}
        Err(e) => assert!(e.is_timeout(), "{e:?}"),
    }
    assert!(t.exited.get(), "wait_for returned before its task ended");
}

// CPython: test_waitfor.py AsyncioWaitForTest.test_wait_for_timeout_less_then_0_or_0_future_done
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_zero_timeout_on_a_done_task_returns_its_result() {
    let fut = weft::spawn(async { "done" });
    let r = fut.task_ref();
    wait_done(&r).await;
    let t0 = Instant::now();
    let ret = wait_for(fut, Some(Duration::ZERO)).await;
    assert_eq!(ret.unwrap(), "done");
    assert!(r.done());
    assert!(t0.elapsed() < QUICK);
}

// CPython: test_waitfor.py AsyncioWaitForTest.test_wait_for_timeout_less_then_0_or_0_coroutine_do_not_started
// One worker: the spawned task cannot start before `wait_for` (in the same
// task, which does not yield in between) cancels it.
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn a_zero_timeout_never_starts_a_task_not_started_yet() {
    let foo_started = Flag::new();
    let s = foo_started.clone();
    let (err, elapsed) = weft::spawn(async move {
        let t0 = Instant::now();
        let foo = weft::spawn(async move { s.set() });
        let err = wait_for(foo, Some(Duration::ZERO)).await.unwrap_err();
        (err, t0.elapsed())
    })
    .await
    .unwrap();
    assert!(err.is_timeout(), "{err:?}");
    assert!(!foo_started.get(), "the task was started");
    assert!(elapsed < QUICK);
}

// CPython: test_waitfor.py AsyncioWaitForTest.test_wait_for_timeout_less_then_0_or_0
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_zero_timeout_cancels_a_started_task_and_waits_for_its_cleanup() {
    let finally = DropCounter::new();
    let started = Promise::<()>::new();
    let (st, g) = (started.clone(), finally.guard());
    let fut = weft::spawn(async move {
        let _finally = g;
        st.set_result(()).unwrap();
        weft::sleep(Duration::from_secs(10)).await;
        "done"
    });
    let r = fut.task_ref();
    started.clone().await.unwrap();
    let t0 = Instant::now();
    let err = wait_for(fut, Some(Duration::ZERO)).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(t0.elapsed() < QUICK);
    assert!(r.done());
    assert!(
        r.cancelled(),
        "it should have been cancelled by the timeout"
    );
    assert_eq!(finally.get(), 1, "its cleanup had not run");
}

// CPython: test_waitfor.py AsyncioWaitForTest.test_wait_for
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn wait_for_times_out_cancels_the_task_and_waits_for_its_cleanup() {
    let finally = DropCounter::new();
    let g = finally.guard();
    let fut = weft::spawn(async move {
        let _finally = g;
        weft::sleep(Duration::from_secs(10)).await;
        "done"
    });
    let r = fut.task_ref();
    let t0 = Instant::now();
    let err = wait_for(fut, Some(ms(100))).await.unwrap_err();
    let elapsed = t0.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(r.done());
    assert!(
        r.cancelled(),
        "it should have been cancelled by the timeout"
    );
    assert!(elapsed >= ms(100), "timed out early: {elapsed:?}");
    assert!(elapsed < QUICK);
    assert_eq!(finally.get(), 1);
}

// CPython: test_waitfor.py AsyncioWaitForTest.test_wait_for_blocking
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn wait_for_with_no_timeout_returns_the_result() {
    let res = wait_for(weft::spawn(async { "done" }), None).await;
    assert_eq!(res.unwrap(), "done");
}

// CPython: test_waitfor.py AsyncioWaitForTest.test_wait_for_race_condition
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_result_set_before_the_timeout_is_returned() {
    let res = weft::spawn(async {
        let fut = Promise::<&'static str>::new();
        let f = fut.clone();
        let task = weft::spawn(async move { f.await });
        weft::call_later(ms(100), move || {
            fut.set_result("ok").unwrap();
        });
        wait_for(task, Some(ms(200))).await
    })
    .await
    .unwrap();
    assert_eq!(res.unwrap().unwrap(), "ok");
}

/// In a task: spawns a task that sleeps `sleep` and, cancelled there,
/// returns `on_cancel`; waits until it parked; runs `wait_for` on it with
/// `timeout`.
async fn wait_for_a_task_catching_the_timeout(
    sleep: Duration,
    timeout: Duration,
    on_cancel: u32,
) -> Result<u32, weft::TaskError> {
    weft::spawn(async move {
        let inner = spawn_parked(async move {
            match catch_cancel(weft::sleep(sleep)).await {
                Ok(()) => panic!("the sleep was not cancelled"),
                Err(_) => on_cancel,
            }
        })
        .await;
        wait_for(inner, Some(timeout)).await
    })
    .await
    .unwrap()
}

/// A task body that sleeps 10 s and, cancelled there, cleans up with an
/// await before re-raising; `finally` is dropped when it ends, however.
async fn cleanup_then_reraise(finally: common::DropGuard) {
    let _finally = finally;
    if let Err(c) = catch_cancel(weft::sleep(Duration::from_secs(10))).await {
        weft::sleep(EPSILON).await;
        c.raise::<()>().await;
    }
}

// CPython: test_waitfor.py AsyncioWaitForTest.test_wait_for_cancellation_race_condition
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_task_that_catches_the_timeouts_cancellation_returns_its_value() {
    let result = wait_for_a_task_catching_the_timeout(Duration::from_secs(1), ms(10), 1).await;
    assert_eq!(result.unwrap(), 1);
}

/// In a task: spawns [`cleanup_then_reraise`], sleeps `first` (if any),
/// runs `wait_for` on it with `timeout`; checks that the result is the
/// timeout and came only once the task had ended.
async fn time_out_a_task_cleaning_up(first: Option<Duration>, timeout: Duration) {
    let task_done = DropCounter::new();
    let g = task_done.guard();
    let err = weft::spawn(async move {
        let inner_task = weft::spawn(cleanup_then_reraise(g));
        if let Some(d) = first {
            weft::sleep(d).await;
        }
        wait_for(inner_task, Some(timeout)).await.unwrap_err()
    })
    .await
    .unwrap();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(
        task_done.get(),
        1,
        "wait_for returned before the task ended"
    );
}

// CPython: test_waitfor.py AsyncioWaitForTest.test_wait_for_waits_for_task_cancellation
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_timed_out_wait_for_waits_for_the_tasks_cancellation_cleanup() {
    time_out_a_task_cleaning_up(None, EPSILON).await;
}

// CPython: test_waitfor.py AsyncioWaitForTest.test_wait_for_waits_for_task_cancellation_w_timeout_0
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_zero_timeout_waits_for_the_tasks_cancellation_cleanup() {
    time_out_a_task_cleaning_up(Some(EPSILON), Duration::ZERO).await;
}

// CPython: test_waitfor.py AsyncioWaitForTest.test_wait_for_reraises_exception_during_cancellation
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn an_error_raised_in_the_tasks_cleanup_replaces_the_timeout() {
    let err = weft::spawn(async {
        let inner_task = weft::spawn(async {
            // try: sleep(0.2) finally: raise FooException
            let _ = catch_cancel(weft::sleep(ms(200))).await;
            panic!("foo exception");
        });
        wait_for(inner_task, Some(EPSILON)).await.unwrap_err()
    })
    .await
    .unwrap();
    assert_eq!(common::panic_text(&err), "foo exception");
}

// CPython: test_waitfor.py AsyncioWaitForTest.test_wait_for_self_cancellation
// (the version that cancels the waiting task 0.2 s in, after the timeout's
// own cancellation was caught).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_wait_for_after_its_timeout_was_caught_still_cancels_it() {
    let value = Log::new();
    let v = value.clone();
    let inner_task = weft::spawn(async move {
        if catch_cancel(weft::sleep(ms(300))).await.is_err()
            && catch_cancel(weft::sleep(ms(300))).await.is_err()
        {
            weft::sleep(ms(300)).await;
        }
        v.push(42);
        42
    });
    let inner_ref = inner_task.task_ref();
    let task = weft::spawn(wait_for(inner_task, Some(ms(100))));
    weft::sleep(ms(200)).await;
    assert!(task.cancel());
    let err = task.await.unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
    wait_done(&inner_ref).await;
    assert!(!inner_ref.cancelled());
    assert!(inner_ref.exception().unwrap().is_none());
    assert_eq!(value.snapshot(), [42]);
}

/// asyncio's `_test_cancel_wait_for`: cancelling the task running `wait_for`
/// cancels the task it waits for (Python issue #23219). asyncio cancels with
/// `call_soon` right after creating the task, which its FIFO loop runs after
/// the task's first step; the port cancels once `wait_for` has started.
async fn cancel_wait_for(timeout: Option<Duration>) {
    let task = weft::spawn(pending::<()>());
    let r: TaskRef = task.task_ref();
    let wait = spawn_started!("wait_for to start", { wait_for(task, timeout).await });
    assert!(wait.cancel());
    let err = wait.await.unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
    assert!(r.cancelled(), "cancelling the wait did not cancel the task");
}

// CPython: test_waitfor.py AsyncioWaitForTest.test_cancel_blocking_wait_for
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_a_wait_for_without_timeout_cancels_its_task() {
    cancel_wait_for(None).await;
}

// CPython: test_waitfor.py AsyncioWaitForTest.test_cancel_wait_for
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_a_wait_for_with_a_timeout_cancels_its_task() {
    cancel_wait_for(Some(Duration::from_secs(60))).await;
}

// CPython: test_waitfor.py AsyncioWaitForTest.test_wait_for_cancel_suppressed
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_task_returning_a_value_from_its_cancellation_gives_that_value() {
    let res = wait_for_a_task_catching_the_timeout(Duration::from_secs(10), ms(100), 42).await;
    assert_eq!(res.unwrap(), 42);
}

// CPython: test_waitfor.py AsyncioWaitForTest.test_wait_for_issue86296
// The cancellation reaches the task just as the task `wait_for` waits on has
// finished: it is not swallowed by the finished wait.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_cancellation_arriving_as_the_awaited_task_finishes_is_not_lost() {
    let reached_end = Flag::new();
    let inner = Log::<TaskRef>::new();
    let (re, inn) = (reached_end.clone(), inner.clone());
    let task = weft::spawn(async move {
        let t = weft::spawn(async {});
        inn.push(t.task_ref());
        wait_for(t, Some(Duration::from_secs(100))).await.unwrap();
        weft::sleep(Duration::from_secs(1)).await;
        re.set();
    });
    wait_until("the inner task to finish", || {
        inner.snapshot().first().is_some_and(TaskRef::done)
    })
    .await;
    assert!(!task.done());
    assert!(task.cancel());
    let err = task.await.unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
    assert!(!reached_end.get());
}

// Issue 16, section 2 (asyncio 3.12+'s wait_for is a timeout scope around the
// await: a result that is ready when the deadline fires is returned): the
// task finished, then the deadline passed, then wait_for is polled.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_result_ready_when_the_deadline_passes_is_returned_not_a_timeout() {
    let (gate, task) = gated(7u32);
    let r = task.task_ref();
    let mut wf = Box::pin(wait_for(task, Some(ms(20))));
    assert!(poll_once(&mut wf).is_pending());
    gate.set_result(()).unwrap();
    wait_done(&r).await;
    weft::sleep(ms(40)).await;
    match poll_once(&mut wf) {
        Poll::Ready(out) => assert_eq!(out.expect("a ready result became a timeout"), 7),
        Poll::Pending => panic!("wait_for is still pending with its task done"),
    }
    assert!(!r.cancelled());
}
