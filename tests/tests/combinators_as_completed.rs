//! `as_completed` (ASYNCIO.md, "as_completed"): completion order, one item per
//! input, the timeout (a `TimeoutError` per remaining item, nothing
//! cancelled), the handle form (`.tasks()`), and dropping the stream or
//! cancelling its reader (nothing cancelled).
//!
//! asyncio's "one per unique input" needs no test of its own: a `Task` is not
//! `Clone`, so the same task cannot be passed twice.

mod common;

use common::{
    assert_finished_normally, gated, gated_panic, open_and_finish, wait_done, wait_until,
    yield_times, Log,
};
use futures_util::{Stream, StreamExt};
use std::time::Duration;
use weft::{Task, TaskError, TaskRef, TimeoutError};

/// Asserts `task` is still running and was never asked to stop.
fn assert_running_uncancelled(task: &TaskRef) {
    common::assert_running_uncancelled(task, "as_completed");
}

// ----- completion order -----

// Spec: "Yields results in completion order, one per unique input" (an error
// is an item too, at its completion position).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn as_completed_yields_results_in_completion_order_one_per_input() {
    let mut gates = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..5 {
        let (g, t) = if i == 3 {
            gated_panic("three")
        } else {
            gated(i)
        };
        gates.push(g);
        tasks.push(t);
    }
    let refs: Vec<TaskRef> = tasks.iter().map(|t| t.task_ref()).collect();
    let mut stream = weft::as_completed(tasks);
    assert_eq!(stream.size_hint(), (5, Some(5)));
    for i in [2, 4, 3, 0, 1] {
        gates[i].set_result(()).unwrap();
        wait_done(&refs[i]).await;
        let item = stream.next().await.expect("one item per input");
        if i == 3 {
            assert!(item.unwrap_err().is_panic(), "child 3's error");
        } else {
            assert_eq!(item.unwrap(), i, "not in completion order");
        }
    }
    assert!(stream.next().await.is_none(), "more items than inputs");
    assert_eq!(stream.size_hint(), (0, Some(0)));
}

// Spec: "Yields results in completion order" — with real timers, and with
// tasks already finished before the stream is polled.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn as_completed_follows_completion_order_with_sleeping_children() {
    let already = weft::spawn(async { 0u64 });
    wait_done(&already).await;
    let mut tasks: Vec<Task<u64>> = [90u64, 5, 45]
        .into_iter()
        .map(|ms| weft::spawn(weft::sleep_with(Duration::from_millis(ms), ms)))
        .collect();
    tasks.push(already);
    let order: Vec<u64> = weft::as_completed(tasks)
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(order, [0, 5, 45, 90]);
}

// Spec: one item per input — none at all for no input.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn as_completed_of_nothing_ends_at_once() {
    let mut stream = weft::as_completed(Vec::<Task<u32>>::new());
    assert!(stream.next().await.is_none());
    let mut handles = weft::as_completed(Vec::<Task<u32>>::new())
        .timeout(Duration::from_secs(5))
        .tasks();
    assert!(handles.next().await.is_none());
}

// A burst of completions larger than one poll's cooperative budget (128):
// the stream polls a done child, finds the budget spent, and yields; every
// child still comes out exactly once, none polled in a loop.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn as_completed_hands_out_a_burst_of_completions_each_once() {
    const N: usize = 2_000;
    let (gates, tasks): (Vec<_>, Vec<_>) = (0..N).map(gated).unzip();
    let mut stream = weft::as_completed(tasks);
    let reader = weft::spawn(async move {
        let mut seen = vec![false; N];
        while let Some(item) = stream.next().await {
            let i = item.expect("no child fails");
            assert!(!std::mem::replace(&mut seen[i], true), "child {i} twice");
        }
        seen.into_iter().filter(|&s| s).count()
    });
    weft::yield_now().await; // let the reader register every child
    for gate in gates.iter().rev() {
        gate.set_result(()).unwrap();
    }
    assert_eq!(reader.await.unwrap(), N, "every child once");
}

// ----- timeout -----

// Spec: "With a timeout: after the deadline each remaining item yields
// TimeoutError; the children are not cancelled."
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn as_completed_timeout_yields_a_timeout_per_remaining_item_and_cancels_nothing() {
    let fast = weft::spawn(async { 1u32 });
    wait_done(&fast).await; // so the short deadline cannot beat it
    let (g_a, slow_a) = gated(2u32);
    let (g_b, slow_b) = gated(3u32);
    let (ra, rb) = (slow_a.task_ref(), slow_b.task_ref());
    let mut stream =
        weft::as_completed(vec![slow_a, fast, slow_b]).timeout(Duration::from_millis(30));
    assert_eq!(stream.next().await.unwrap().unwrap(), 1);
    for _ in 0..2 {
        let err = stream
            .next()
            .await
            .expect("one item per input, timed out or not")
            .expect_err("the deadline passed with this child unfinished");
        assert!(err.is_timeout(), "expected a timeout, got {err:?}");
        assert!(!err.is_cancelled());
    }
    assert!(stream.next().await.is_none());
    // Not cancelled: still running, and they finish normally later.
    assert_running_uncancelled(&ra);
    assert_running_uncancelled(&rb);
    drop(stream);
    open_and_finish(&[&g_a, &g_b], &[&ra, &rb]).await;
}

// Spec: "A form that yields the handles themselves as well" — finished
// handles as Ok, then after the deadline TimedOut, whose into_task() gives back
// the still-running handle.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn as_completed_tasks_yields_finished_handles_then_timed_out_handles() {
    let (g_a, a) = gated(10u32);
    let b = weft::spawn(async { 20u32 });
    wait_done(&b).await;
    let (g_c, c) = gated(30u32);
    let (a_id, b_id, c_id) = (a.id(), b.id(), c.id());
    let (a_ref, c_ref) = (a.task_ref(), c.task_ref());
    let mut handles = weft::as_completed(vec![a, b, c])
        .timeout(Duration::from_millis(300))
        .tasks();

    let mut first = handles.next().await.unwrap().expect("b finished in time");
    assert_eq!(first.id(), b_id);
    assert!(first.done());
    assert_eq!(first.result().unwrap().unwrap(), 20);

    g_a.set_result(()).unwrap();
    wait_done(&a_ref).await;
    let second = handles.next().await.unwrap().expect("a finished in time");
    assert_eq!(second.id(), a_id);
    assert_eq!(second.await.unwrap(), 10);

    let timed_out = handles
        .next()
        .await
        .unwrap()
        .expect_err("c was still running at the deadline");
    assert_eq!(timed_out.to_string(), TimeoutError::new().to_string());
    let still_running = timed_out.into_task();
    assert_eq!(still_running.id(), c_id);
    assert_running_uncancelled(&c_ref);
    assert!(handles.next().await.is_none());
    drop(handles);

    g_c.set_result(()).unwrap();
    assert_eq!(still_running.await.unwrap(), 30);
    assert_finished_normally(&c_ref);
}

// ----- dropping / cancelling the reader -----

// Brief: "Dropping the stream mid-way cancels nothing."
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn dropping_the_as_completed_stream_midway_cancels_nothing() {
    let (g0, t0) = gated(0u32);
    let (g1, t1) = gated(1u32);
    let (g2, t2) = gated(2u32);
    let refs = [t0.task_ref(), t1.task_ref(), t2.task_ref()];
    let mut stream = weft::as_completed(vec![t0, t1, t2]);
    g1.set_result(()).unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap(), 1);
    drop(stream);
    assert_running_uncancelled(&refs[0]);
    assert_running_uncancelled(&refs[2]);
    open_and_finish(&[&g0, &g2], &[&refs[0], &refs[1], &refs[2]]).await;

    // The handle form, with a timeout pending, likewise.
    let (g0, t0) = gated(0u32);
    let (g1, t1) = gated(1u32);
    let refs = [t0.task_ref(), t1.task_ref()];
    let mut handles = weft::as_completed(vec![t0, t1])
        .timeout(Duration::from_secs(10))
        .tasks();
    g0.set_result(()).unwrap();
    let first = handles.next().await.unwrap().unwrap();
    assert_eq!(first.id(), refs[0].id());
    drop(handles);
    assert_running_uncancelled(&refs[1]);
    open_and_finish(&[&g1], &[&refs[1]]).await;
}

// Doc (weft): cancelling the task polling the stream cancels nothing either.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_the_reader_of_as_completed_cancels_nothing() {
    let (g0, t0) = gated(0u32);
    let (g1, t1) = gated(1u32);
    let refs = [t0.task_ref(), t1.task_ref()];
    let got = Log::new();
    let log = got.clone();
    let reader = weft::spawn(async move {
        let mut stream = weft::as_completed(vec![t0, t1]);
        while let Some(item) = stream.next().await {
            log.push(item.unwrap());
        }
    });
    g0.set_result(()).unwrap();
    wait_until("the reader to take the first item", || got.len() == 1).await;
    // Let it go back to waiting for the second.
    yield_times(10).await;
    assert!(reader.cancel_with("reader only"));
    let err: TaskError = reader.await.unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(got.snapshot(), [0]);
    assert_running_uncancelled(&refs[1]);
    open_and_finish(&[&g1], &[&refs[1]]).await;
}

// ----- CPython's test_tasks.py as_completed cases -----

// CPython: test_tasks.py BaseTaskTests.test_as_completed
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cpython_as_completed_yields_the_sleepers_in_the_order_they_finish() {
    let sleeper =
        |ms: u64, x: &'static str| weft::spawn(weft::sleep_with(Duration::from_millis(ms), x));
    let (a, b, c) = (sleeper(10, "a"), sleeper(10, "b"), sleeper(150, "c"));
    let res: Vec<&str> = weft::as_completed(vec![b, c, a])
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert!(res[..2].contains(&"a"), "{res:?}");
    assert!(res[..2].contains(&"b"), "{res:?}");
    assert_eq!(res[2], "c");
}

// CPython: test_tasks.py BaseTaskTests.test_as_completed_with_timeout
// (the second task never finishes here, so the port does not depend on
// 20 ms of margin on a loaded machine).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cpython_as_completed_with_timeout_yields_a_value_then_a_timeout() {
    let a = weft::spawn(weft::sleep_with(Duration::from_millis(100), "a"));
    let (gb, b) = gated("b");
    let b_ref = b.task_ref();
    let mut values = Vec::new();
    let mut stream = weft::as_completed(vec![a, b]).timeout(Duration::from_millis(400));
    while let Some(item) = stream.next().await {
        values.push(item);
    }
    assert_eq!(values.len(), 2, "{values:?}");
    assert_eq!(*values[0].as_ref().unwrap(), "a");
    assert!(values[1].as_ref().unwrap_err().is_timeout(), "{values:?}");
    assert_running_uncancelled(&b_ref);
    open_and_finish(&[&gb], &[&b_ref]).await;
}

// CPython: test_tasks.py BaseTaskTests.test_as_completed_with_unused_timeout
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cpython_as_completed_with_an_unused_timeout_yields_the_value() {
    let a = weft::spawn(weft::sleep_with(Duration::from_millis(10), "a"));
    let mut stream = weft::as_completed(vec![a]).timeout(Duration::from_secs(1));
    assert_eq!(stream.next().await.unwrap().unwrap(), "a");
    assert!(stream.next().await.is_none());
}

// Issue 16, section 2: a task that finished before the deadline passed is a
// result, not a timeout, even when the stream is first polled after the
// deadline (asyncio's done callback runs before the timeout handler).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn as_completed_yields_a_task_done_when_the_deadline_passes_as_a_result() {
    let (ga, a) = gated(1u32);
    let (gb, b) = gated(2u32);
    let (ra, rb) = (a.task_ref(), b.task_ref());
    let mut stream = weft::as_completed(vec![b, a])
        .timeout(Duration::from_millis(20))
        .tasks();
    assert!(common::poll_once(&mut Box::pin(stream.next())).is_pending());
    ga.set_result(()).unwrap();
    wait_done(&ra).await;
    weft::sleep(Duration::from_millis(40)).await;
    let first = stream.next().await.unwrap();
    assert_eq!(
        first.expect("a done task came out as a timeout").id(),
        ra.id()
    );
    let second = stream.next().await.unwrap();
    assert_eq!(
        second.expect_err("b is still running").into_task().id(),
        rb.id()
    );
    assert!(stream.next().await.is_none());
    drop(stream);
    open_and_finish(&[&gb], &[&rb]).await;
}
