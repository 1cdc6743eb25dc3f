//! `shield` (ASYNCIO.md, "shield"): cancelling (or dropping, or timing out)
//! the outer leaves the shielded task running and drops its later result; a
//! cancellation of the shielded task itself comes out of the shield; a task
//! already done comes back on the first poll.

mod common;

use common::{block_on, poll_once, wait_done, wait_until, DropCounter, DropGuard, Flag};
use std::future::pending;
use std::task::Poll;
use std::time::Duration;
use weft::{catch_cancel, shield, wait_for, Task, TaskError, TaskRef};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The message of a cancellation error, or a panic if it is not one.
fn cancel_message(err: &TaskError) -> Option<String> {
    match err {
        TaskError::Cancelled(c) => c.message().map(str::to_owned),
        other => panic!("expected a cancellation, got {other:?}"),
    }
}

/// A task that works for 40 ms, sets `finished`, and returns a guard counted
/// by `drops` (so whoever drops the result shows up there).
fn worker(finished: &Flag, drops: &DropCounter) -> Task<DropGuard> {
    let (f, g) = (finished.clone(), drops.guard());
    weft::spawn(async move {
        weft::sleep(ms(40)).await;
        f.set();
        g
    })
}

/// Checks that `x` was left alone: not done yet, no cancel request.
fn assert_untouched(x: &TaskRef, finished: &Flag) {
    assert_eq!(x.cancelling(), 0, "the shielded task got a cancel request");
    assert!(
        !x.done() && !finished.get(),
        "the shielded task ended early"
    );
}

/// Waits for `x` to finish on its own and checks it ended with its value.
async fn assert_finishes_normally(x: &TaskRef, finished: &Flag) {
    wait_done(x).await;
    assert!(finished.get(), "the shielded task did not run to its end");
    assert!(!x.cancelled(), "the shielded task was cancelled");
    assert!(x.exception().unwrap().is_none());
    assert_eq!(x.cancelling(), 0);
}

// Spec: shield(x): cancelling the outer does not cancel x; x keeps running and
// its later result is dropped.
#[test]
fn cancelling_the_outer_leaves_the_shielded_task_running_and_drops_its_result() {
    block_on(2, |_| async {
        let (finished, drops) = (Flag::new(), DropCounter::new());
        let x = worker(&finished, &drops);
        let x_ref = x.task_ref();
        let waiting = Flag::new();
        let w = waiting.clone();
        let outer = weft::spawn(async move {
            w.set();
            shield(x).await.map(drop)
        });
        let outer_ref = outer.task_ref();
        wait_until("the outer task to await the shield", || waiting.get()).await;
        for _ in 0..10 {
            weft::yield_now().await;
        }
        assert!(outer.cancel_with("outer only"));
        let err = outer.await.unwrap_err();
        assert_eq!(cancel_message(&err).as_deref(), Some("outer only"));
        assert!(outer_ref.cancelled());
        assert_untouched(&x_ref, &finished);

        assert_finishes_normally(&x_ref, &finished).await;
        // Nobody holds x's handle any more: its result is dropped.
        wait_until("the shielded task's result to be dropped", || {
            drops.get() == 1
        })
        .await;
    });
}

// Spec: shield(x): cancelling the outer does not cancel x (the outer
// intercepts its cancellation around the shield, asyncio's
// `try: await shield(x) except CancelledError:`).
#[test]
fn an_outer_that_catches_its_cancellation_around_shield_sees_the_task_still_running() {
    block_on(2, |_| async {
        let (finished, drops) = (Flag::new(), DropCounter::new());
        let x = worker(&finished, &drops);
        let x_ref = x.task_ref();
        let (xr, f) = (x_ref.clone(), finished.clone());
        let waiting = Flag::new();
        let w = waiting.clone();
        let outer = weft::spawn(async move {
            w.set();
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
        wait_until("the outer task to await the shield", || waiting.get()).await;
        for _ in 0..10 {
            weft::yield_now().await;
        }
        assert!(outer.cancel_with("stop"));
        assert_eq!(outer.await.unwrap(), "caught");
        assert_finishes_normally(&x_ref, &finished).await;
        wait_until("the shielded task's result to be dropped", || {
            drops.get() == 1
        })
        .await;
    });
}

// Spec: shield(x): cancelling the outer does not cancel x (the outer stopped
// by a timeout scope, or by wait_for).
#[test]
fn a_timeout_around_shield_leaves_the_shielded_task_running() {
    block_on(2, |_| async {
        // A timeout scope in a task: stops the block by cancelling that task.
        let (finished, drops) = (Flag::new(), DropCounter::new());
        let x = worker(&finished, &drops);
        let x_ref = x.task_ref();
        let timed_out =
            weft::spawn(async move { weft::timeout(ms(10)).run(shield(x)).await.is_err() });
        assert!(timed_out.await.unwrap(), "the scope did not time out");
        assert_untouched(&x_ref, &finished);
        assert_finishes_normally(&x_ref, &finished).await;
        wait_until("the shielded task's result to be dropped", || {
            drops.get() == 1
        })
        .await;

        // wait_for of a task that awaits the shield: that task is cancelled,
        // x is not.
        let (finished, drops) = (Flag::new(), DropCounter::new());
        let x = worker(&finished, &drops);
        let x_ref = x.task_ref();
        let outer = weft::spawn(async move { shield(x).await.map(drop) });
        let outer_ref = outer.task_ref();
        let err = wait_for(outer, Some(ms(10))).await.unwrap_err();
        assert!(err.is_timeout());
        assert!(outer_ref.cancelled());
        assert_untouched(&x_ref, &finished);
        assert_finishes_normally(&x_ref, &finished).await;
        wait_until("the shielded task's result to be dropped", || {
            drops.get() == 1
        })
        .await;
    });
}

// Spec: shield(x): x keeps running (the shield's future dropped while
// pending, outside any task).
#[test]
fn dropping_the_shield_future_leaves_the_task_running() {
    block_on(2, |_| async {
        let (finished, drops) = (Flag::new(), DropCounter::new());
        let x = worker(&finished, &drops);
        let x_ref = x.task_ref();
        let mut fut = Box::pin(shield(x));
        assert!(poll_once(&mut fut).is_pending());
        drop(fut);
        assert_untouched(&x_ref, &finished);
        assert_finishes_normally(&x_ref, &finished).await;
        wait_until("the shielded task's result to be dropped", || {
            drops.get() == 1
        })
        .await;
    });
}

// Spec: shield(x) is otherwise a plain await of x.
#[test]
fn shield_returns_the_tasks_value_or_error_when_nothing_is_cancelled() {
    block_on(2, |_| async {
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
    });
}

// Spec: if x itself is cancelled the outer is cancelled (the shield resolves
// to x's cancellation).
#[test]
fn shield_resolves_to_the_cancellation_when_the_shielded_task_itself_is_cancelled() {
    block_on(2, |_| async {
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
        let waiting = Flag::new();
        let w = waiting.clone();
        let outer = weft::spawn(async move {
            w.set();
            match shield(x).await {
                Err(TaskError::Cancelled(c)) => c.raise().await,
                other => panic!("expected the shielded task's cancellation, got {other:?}"),
            }
        });
        let outer_ref = outer.task_ref();
        wait_until("the outer task to await the shield", || waiting.get()).await;
        for _ in 0..10 {
            weft::yield_now().await;
        }
        assert!(x_ref.cancel_with("x again"));
        let err: TaskError = outer.await.unwrap_err();
        assert_eq!(cancel_message(&err).as_deref(), Some("x again"));
        assert!(outer_ref.cancelled());
        assert!(x_ref.cancelled());
    });
}

// Spec: an already-done x returns at once.
#[test]
fn shield_of_a_finished_task_returns_on_the_first_poll() {
    block_on(2, |_| async {
        let x = weft::spawn(async { 9u32 });
        wait_done(&x).await;
        let mut fut = Box::pin(shield(x));
        match poll_once(&mut fut) {
            Poll::Ready(out) => assert_eq!(out.unwrap(), 9),
            Poll::Pending => panic!("shield of a finished task was pending"),
        }

        // A finished task's error, too.
        let x = weft::spawn(async {
            if std::hint::black_box(true) {
                panic!("done failing");
            }
            1u32
        });
        wait_done(&x).await;
        let mut fut = Box::pin(shield(x));
        match poll_once(&mut fut) {
            Poll::Ready(out) => assert!(out.unwrap_err().is_panic()),
            Poll::Pending => panic!("shield of a failed task was pending"),
        }

        let x = weft::spawn(pending::<u32>());
        x.cancel_with("gone");
        wait_done(&x).await;
        let mut fut = Box::pin(shield(x));
        match poll_once(&mut fut) {
            Poll::Ready(out) => {
                assert_eq!(cancel_message(&out.unwrap_err()).as_deref(), Some("gone"))
            }
            Poll::Pending => panic!("shield of a cancelled task was pending"),
        }

        // Inside a task (a cancel-aware context), the same.
        let v = weft::spawn(async {
            let x = weft::spawn(async { 10u32 });
            wait_done(&x).await;
            let mut fut = Box::pin(shield(x));
            match poll_once(&mut fut) {
                Poll::Ready(out) => out.unwrap(),
                Poll::Pending => panic!("shield of a finished task was pending"),
            }
        })
        .await
        .unwrap();
        assert_eq!(v, 10);
    });
}
