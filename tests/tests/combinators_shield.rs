mod common;

use common::{
    cancel_message, ms, poll_once, spawn_started, wait_done, wait_until, yield_times, DropCounter,
    DropGuard, Flag,
};
use std::future::pending;
use std::task::Poll;
use weft::{catch_cancel, shield, wait_for, Task, TaskError, TaskRef};

/// A task to shield, and what shows how it ended: it works for 40 ms, sets
/// `finished`, and returns a guard counted by `drops` (so whoever drops the
/// result shows up there).
#[derive(Clone)]
struct Worker {
    finished: Flag,
    drops: DropCounter,
    task: TaskRef,
}

impl Worker {
    /// Spawns the task; returns its handle and what watches it.
    fn spawn() -> (Task<DropGuard>, Worker) {
        let (finished, drops) = (Flag::new(), DropCounter::new());
        let (f, g) = (finished.clone(), drops.guard());
        let x = weft::spawn(async move {
            weft::sleep(ms(40)).await;
            f.set();
            g
        });
        let task = x.task_ref();
        let worker = Worker {
            finished,
            drops,
            task,
        };
        (x, worker)
    }

    /// See [`assert_untouched`].
    fn assert_untouched(&self) {
        assert_untouched(&self.task, &self.finished);
    }

    /// Waits for the task to finish on its own and checks it ended with its
    /// value; then, since nobody holds its handle any more, that its result is
    /// dropped.
    async fn assert_finishes_and_its_result_is_dropped(&self) {
        let x = &self.task;
        wait_done(x).await;
        assert!(
            self.finished.get(),
            "the shielded task did not run to its end"
        );
        assert!(!x.cancelled(), "the shielded task was cancelled");
        assert!(x.exception().unwrap().is_none());
        assert_eq!(x.cancelling(), 0);
        wait_until("the shielded task's result to be dropped", || {
            self.drops.get() == 1
        })
        .await;
    }
}

/// Checks that `x` was left alone: not done yet, no cancel request.
fn assert_untouched(x: &TaskRef, finished: &Flag) {
    assert_eq!(x.cancelling(), 0, "the shielded task got a cancel request");
    assert!(
        !x.done() && !finished.get(),
        "the shielded task ended early"
    );
}

/// Waits until `x` is done, then polls `shield(x)` once and returns its
/// output; panics (naming what `x` is) if it is pending.
async fn shield_once_done<T: Send + 'static>(x: Task<T>, what: &str) -> Result<T, TaskError> {
    wait_done(&x).await;
    match poll_once(&mut Box::pin(shield(x))) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("shield of a {what} task was pending"),
    }
}

// Spec: shield(x): cancelling the outer does not cancel x; x keeps running and
// its later result is dropped.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_the_outer_leaves_the_shielded_task_running_and_drops_its_result() {
    let (x, worker) = Worker::spawn();
    let outer = spawn_started!("the outer task to await the shield", {
        shield(x).await.map(drop)
    });
    yield_times(10).await;
    let outer_ref = outer.task_ref();
    assert!(outer.cancel_with("outer only"));
    let err = outer.await.unwrap_err();
    assert_eq!(cancel_message(&err).as_deref(), Some("outer only"));
    assert!(outer_ref.cancelled());
    worker.assert_untouched();
    // Nobody holds x's handle any more: its result is dropped.
    worker.assert_finishes_and_its_result_is_dropped().await;
}

// Spec: shield(x): cancelling the outer does not cancel x (the outer
// intercepts its cancellation around the shield, asyncio's
// `try: await shield(x) except CancelledError:`).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn an_outer_that_catches_its_cancellation_around_shield_sees_the_task_still_running() {
    let (x, worker) = Worker::spawn();
    let (xr, f) = (worker.task.clone(), worker.finished.clone());
    let outer = spawn_started!("the outer task to await the shield", {
        match catch_cancel(shield(x)).await {
            Ok(_) => unreachable!("the shield finished before the cancel"),
            Err(c) => {
                assert_eq!(c.message(), Some("stop"));
                // Cleanup that awaits: x still runs, uncancelled.
                weft::yield_now().await;
                assert_untouched(&xr, &f);
                wait_done(&xr).await;
                assert!(!xr.cancelled());
                "caught"
            }
        }
    });
    yield_times(10).await;
    assert!(outer.cancel_with("stop"));
    assert_eq!(outer.await.unwrap(), "caught");
    worker.assert_finishes_and_its_result_is_dropped().await;
}

// Spec: shield(x): cancelling the outer does not cancel x (the outer stopped
// by a timeout scope, or by wait_for).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_timeout_around_shield_leaves_the_shielded_task_running() {
    // A timeout scope in a task: stops the block by cancelling that task.
    let (x, worker) = Worker::spawn();
    let timed_out = weft::spawn(async move { weft::timeout(ms(10)).run(shield(x)).await.is_err() });
    assert!(timed_out.await.unwrap(), "the scope did not time out");
    worker.assert_untouched();
    worker.assert_finishes_and_its_result_is_dropped().await;

    // wait_for of a task that awaits the shield: that task is cancelled,
    // x is not.
    let (x, worker) = Worker::spawn();
    let outer = weft::spawn(async move { shield(x).await.map(drop) });
    let outer_ref = outer.task_ref();
    let err = wait_for(outer, Some(ms(10))).await.unwrap_err();
    assert!(err.is_timeout());
    assert!(outer_ref.cancelled());
    worker.assert_untouched();
    worker.assert_finishes_and_its_result_is_dropped().await;
}

// Spec: shield(x): x keeps running (the shield's future dropped while
// pending, outside any task).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn dropping_the_shield_future_leaves_the_task_running() {
    let (x, worker) = Worker::spawn();
    let mut fut = Box::pin(shield(x));
    assert!(poll_once(&mut fut).is_pending());
    drop(fut);
    worker.assert_untouched();
    worker.assert_finishes_and_its_result_is_dropped().await;
}

// Spec: shield(x) is otherwise a plain await of x.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn shield_returns_the_tasks_value_or_error_when_nothing_is_cancelled() {
    let x = weft::spawn(weft::sleep_with(ms(20), 3u32));
    assert_eq!(shield(x).await.unwrap(), 3);
    let x = weft::spawn(async {
        weft::sleep(ms(5)).await;
        if std::hint::black_box(true) {
            panic!("x failed");
        }
        1u32
    });
    assert!(shield(x).await.unwrap_err().is_panic());
    // Inside a task.
    let v = weft::spawn(async { shield(weft::spawn(weft::sleep_with(ms(20), 4u32))).await })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v, 4);
}

// Spec: if x itself is cancelled the outer is cancelled (the shield resolves
// to x's cancellation).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn shield_resolves_to_the_cancellation_when_the_shielded_task_itself_is_cancelled() {
    // Outside a task.
    let x = weft::spawn(pending::<u32>());
    let x_ref = x.task_ref();
    let canceller = weft::spawn(async move {
        weft::sleep(ms(10)).await;
        x_ref.cancel_with("x stopped");
    });
    let err = shield(x).await.unwrap_err();
    assert_eq!(cancel_message(&err).as_deref(), Some("x stopped"));
    canceller.await.unwrap();

    // Inside a task: the outer sees the cancellation and, re-raising it as
    // asyncio's `await shield(x)` does, ends cancelled.
    let x = weft::spawn(pending::<u32>());
    let x_ref = x.task_ref();
    let outer = spawn_started!("the outer task to await the shield", {
        match shield(x).await {
            Err(TaskError::Cancelled(c)) => c.raise().await,
            other => panic!("expected the shielded task's cancellation, got {other:?}"),
        }
    });
    yield_times(10).await;
    let outer_ref = outer.task_ref();
    assert!(x_ref.cancel_with("x again"));
    let err: TaskError = outer.await.unwrap_err();
    assert_eq!(cancel_message(&err).as_deref(), Some("x again"));
    assert!(outer_ref.cancelled());
    assert!(x_ref.cancelled());
}

// Spec: an already-done x returns at once.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn shield_of_a_finished_task_returns_on_the_first_poll() {
    let x = weft::spawn(async { 9u32 });
    assert_eq!(shield_once_done(x, "finished").await.unwrap(), 9);

    // A finished task's error, too.
    let x = weft::spawn(async {
        if std::hint::black_box(true) {
            panic!("done failing");
        }
        1u32
    });
    assert!(shield_once_done(x, "failed").await.unwrap_err().is_panic());

    let x = weft::spawn(pending::<u32>());
    x.cancel_with("gone");
    let err = shield_once_done(x, "cancelled").await.unwrap_err();
    assert_eq!(cancel_message(&err).as_deref(), Some("gone"));

    // Inside a task (a cancel-aware context), the same.
    let v = weft::spawn(async {
        let x = weft::spawn(async { 10u32 });
        shield_once_done(x, "finished").await.unwrap()
    })
    .await
    .unwrap();
    assert_eq!(v, 10);
}
