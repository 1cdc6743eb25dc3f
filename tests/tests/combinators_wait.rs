//! `wait` (ASYNCIO.md, "wait"): empty input, `ReturnWhen::{AllCompleted,
//! FirstCompleted, FirstException}`, the timeout (never an error, never a
//! cancellation), cancelling the caller, and the argument order of the
//! `(done, pending)` lists.
//!
//! Where the exact moment of a wake-up matters, a test polls the `Wait` future
//! by hand (`common::poll_once`) from `block_on`'s future: children finish
//! between two polls, so "done at wake-up" does not depend on the scheduler.
//!
//! asyncio's "duplicates count once" cannot be exercised: a `Task` is not
//! `Clone`, so the same task cannot be passed to `wait` twice.

mod common;

use common::{
    gated, gated_panic, open_and_finish, parked, poll_once, spawn_started, wait_done, wait_until,
    yield_times, DropCounter, Log,
};
use std::future::Future;
use std::task::Poll;
use std::time::{Duration, Instant};
use weft::{EmptyError, Promise, ReturnWhen, Task, TaskId, TaskRef};

fn ids<T>(tasks: &[Task<T>]) -> Vec<TaskId> {
    tasks.iter().map(|t| t.id()).collect()
}

/// Asserts `task` is still running and was never asked to stop.
fn assert_running_uncancelled(task: &TaskRef) {
    common::assert_running_uncancelled(task, "wait");
}

/// `n` gated tasks returning their index: their gates, their refs and the
/// tasks themselves, in index order.
fn gated_batch(n: usize) -> (Vec<Promise<()>>, Vec<TaskRef>, Vec<Task<usize>>) {
    let (gates, tasks): (Vec<_>, Vec<_>) = (0..n).map(gated).unzip();
    let refs = tasks.iter().map(|t| t.task_ref()).collect();
    (gates, refs, tasks)
}

/// Opens the gates of `order`, in that order, waiting for each task to finish.
async fn finish_in_order(gates: &[Promise<()>], refs: &[TaskRef], order: &[usize]) {
    for &i in order {
        gates[i].set_result(()).unwrap();
        wait_done(&refs[i]).await;
    }
}

/// Polls `w` once; panics if it is not ready (for input already settled
/// before the first poll).
fn ready_now<F: Future + Unpin>(w: &mut F, what: &str) -> F::Output {
    match poll_once(w) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("{what}: wait should have returned at once"),
    }
}

/// Polls `w` until it is ready, yielding in between: a child's `done()` turns
/// true a moment before its wake-up reaches the combinator's waker, so the
/// first poll after `wait_done` may legitimately come too early.
async fn ready<F: Future + Unpin>(w: &mut F, what: &str) -> F::Output {
    let start = Instant::now();
    loop {
        if let Poll::Ready(out) = poll_once(w) {
            return out;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{what}: wait should have returned"
        );
        weft::yield_now().await;
    }
}

/// Lets pending wake-ups land (see [`ready`]), then polls `w` once and panics
/// if it is ready.
async fn still_pending<F: Future + Unpin>(w: &mut F, what: &str) {
    yield_times(20).await;
    if poll_once(w).is_ready() {
        panic!("{what}: wait returned too early");
    }
}

// ----- empty input -----

// Spec: "Empty input -> error." (asyncio: ValueError; weft: EmptyError.)
// CPython: test_tasks.py BaseTaskTests.test_wait_errors (its second half, an
// invalid return_when, cannot be written: ReturnWhen is an enum).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn wait_on_no_tasks_is_an_empty_error() {
    let err = weft::wait(Vec::<Task<u32>>::new()).await.unwrap_err();
    assert_eq!(err.to_string(), "nothing to wait for");
    let _: &dyn std::error::Error = &err;
    // Whatever the options.
    for when in [
        ReturnWhen::AllCompleted,
        ReturnWhen::FirstCompleted,
        ReturnWhen::FirstException,
    ] {
        let r = weft::wait(Vec::<Task<u32>>::new())
            .return_when(when)
            .timeout(Duration::from_millis(1))
            .await;
        let e: EmptyError = r.expect_err("empty input must be an error");
        assert_eq!(e.to_string(), "nothing to wait for", "{when:?}");
    }
    // At once, on the first poll.
    let mut w = weft::wait(Vec::<Task<()>>::new());
    assert!(ready_now(&mut w, "empty input").is_err());
}

// ----- ALL_COMPLETED -----

// Spec: "ALL_COMPLETED: (done, pending)" — it is the default and returns only
// when every task is done, all of them in done.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn all_completed_returns_only_when_every_task_is_done() {
    let (gates, refs, tasks) = gated_batch(3);
    let expected = ids(&tasks);
    let mut w = weft::wait(tasks);
    still_pending(&mut w, "nothing finished").await;
    // Finish them in reverse order; not done until the last one.
    for i in [2, 1] {
        gates[i].set_result(()).unwrap();
        wait_done(&refs[i]).await;
        still_pending(&mut w, "some still running").await;
    }
    finish_in_order(&gates, &refs, &[0]).await;
    let (mut done, pending) = ready(&mut w, "all finished").await.unwrap();
    assert!(pending.is_empty());
    assert_eq!(ids(&done), expected, "done is not in argument order");
    // The values stay in the handles.
    for (i, t) in done.iter_mut().enumerate() {
        assert_eq!(t.result().unwrap().unwrap(), i);
    }
}

// Spec: "ALL_COMPLETED: (done, pending); failed children are in done."
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn all_completed_puts_failed_and_cancelled_tasks_in_done() {
    let ok = weft::spawn(async { 1u32 });
    let (gp, boom) = gated_panic("boom");
    let reached = Log::new();
    let drops = DropCounter::new();
    let doomed = parked(&reached, &drops);
    let late = weft::spawn(weft::sleep_with(Duration::from_millis(20), 4u32));
    let doomed_ref = doomed.task_ref();
    let tasks = vec![ok, boom, doomed, late];
    let expected = ids(&tasks);
    let waiter = spawn_started!("the waiter to start", {
        weft::wait(tasks)
            .return_when(ReturnWhen::AllCompleted)
            .await
    });
    gp.set_result(()).unwrap();
    wait_until("the child to park", || reached.len() == 1).await;
    assert!(doomed_ref.cancel_with("gone"));
    let (mut done, pending) = waiter.await.unwrap().unwrap();
    assert!(pending.is_empty(), "{pending:?}");
    assert_eq!(ids(&done), expected);
    assert_eq!(done[0].result().unwrap().unwrap(), 1);
    assert!(done[1].exception().unwrap().unwrap().is_panic());
    let e = done[2].exception().unwrap().unwrap();
    assert_eq!(e.as_cancelled().and_then(|c| c.message()), Some("gone"));
    assert_eq!(done[3].result().unwrap().unwrap(), 4);
}

// Spec: "done and pending lists come back in argument order" — done, whatever
// the completion order (here the reverse of the argument order).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn all_completed_done_is_in_argument_order_whatever_the_completion_order() {
    let (gates, refs, tasks) = gated_batch(6);
    let expected = ids(&tasks);
    let waiter = spawn_started!("the waiter to start", { weft::wait(tasks).await });
    let finished = Log::new();
    for i in (0..6).rev() {
        gates[i].set_result(()).unwrap();
        wait_done(&refs[i]).await;
        finished.push(i);
    }
    assert_eq!(finished.snapshot(), [5, 4, 3, 2, 1, 0]);
    let (mut done, pending) = waiter.await.unwrap().unwrap();
    assert!(pending.is_empty());
    assert_eq!(ids(&done), expected);
    let values: Vec<usize> = done
        .iter_mut()
        .map(|t| t.result().unwrap().unwrap())
        .collect();
    assert_eq!(values, [0, 1, 2, 3, 4, 5]);
}

// ----- FIRST_COMPLETED -----

// Spec: "FIRST_COMPLETED: everything done at wake-up is in done (can be
// several)" — tasks that finished before wait was first polled all come back.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn first_completed_returns_every_task_already_finished_before_the_first_poll() {
    let a = weft::spawn(async { 1u32 });
    let (ga, gated_b) = gated(2u32);
    let c = weft::spawn(async { 3u32 });
    let d = weft::spawn(async { 4u32 });
    for t in [&a, &c, &d] {
        wait_done(t).await;
    }
    let b_ref = gated_b.task_ref();
    let (a_id, b_id, c_id, d_id) = (a.id(), gated_b.id(), c.id(), d.id());
    let (done, pending) = weft::wait(vec![a, gated_b, c, d])
        .return_when(ReturnWhen::FirstCompleted)
        .await
        .unwrap();
    assert_eq!(
        ids(&done),
        [a_id, c_id, d_id],
        "every finished task belongs in done"
    );
    assert_eq!(ids(&pending), [b_id]);
    assert_running_uncancelled(&b_ref);
    ga.set_result(()).unwrap();
    wait_done(&b_ref).await;
}

// Spec: "FIRST_COMPLETED: everything done at wake-up is in done (can be
// several)" — several finishing between two polls, while it waits.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn first_completed_puts_every_task_done_at_wake_up_in_done() {
    let (gates, refs, tasks) = gated_batch(4);
    let all = ids(&tasks);
    let mut w = weft::wait(tasks).return_when(ReturnWhen::FirstCompleted);
    still_pending(&mut w, "nothing finished").await;
    finish_in_order(&gates, &refs, &[3, 1, 2]).await;
    let (mut done, pending) = ready(&mut w, "three finished").await.unwrap();
    assert_eq!(ids(&done), [all[1], all[2], all[3]]);
    assert_eq!(ids(&pending), [all[0]]);
    let values: Vec<usize> = done
        .iter_mut()
        .map(|t| t.result().unwrap().unwrap())
        .collect();
    assert_eq!(values, [1, 2, 3]);
    assert_running_uncancelled(&refs[0]);
    finish_in_order(&gates, &refs, &[0]).await;
}

// Spec: "FIRST_COMPLETED" returns as soon as one task is done; the others stay
// in pending, running and not cancelled.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn first_completed_returns_when_one_task_finishes_and_leaves_the_rest_running() {
    let (g0, t0) = gated(0u32);
    let (g1, t1) = gated(1u32);
    let (g2, t2) = gated(2u32);
    let (r0, r1, r2) = (t0.task_ref(), t1.task_ref(), t2.task_ref());
    let (id0, id1, id2) = (t0.id(), t1.id(), t2.id());
    let waiter = spawn_started!("the waiter to start", {
        weft::wait(vec![t0, t1, t2])
            .return_when(ReturnWhen::FirstCompleted)
            .await
    });
    yield_times(10).await;
    assert!(!waiter.done(), "FIRST_COMPLETED returned with nothing done");
    g1.set_result(()).unwrap();
    let (done, pending) = waiter.await.unwrap().unwrap();
    assert_eq!(ids(&done), [id1]);
    assert_eq!(ids(&pending), [id0, id2]);
    assert_running_uncancelled(&r0);
    assert_running_uncancelled(&r2);
    drop(pending); // dropping handles cancels nothing
    open_and_finish(&[&g0, &g2], &[&r0, &r1, &r2]).await;
}

// ----- FIRST_EXCEPTION -----

// Spec: "FIRST_EXCEPTION: returns when a child fails" (the others stay
// pending, not cancelled).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn first_exception_returns_when_a_child_fails_and_leaves_the_rest_running() {
    let (g0, t0) = gated(0u32);
    let (gb, boom) = gated_panic("first exception");
    let (g2, t2) = gated(2u32);
    let (r0, rb, r2) = (t0.task_ref(), boom.task_ref(), t2.task_ref());
    let (id0, idb, id2) = (t0.id(), boom.id(), t2.id());
    let mut w = weft::wait(vec![t0, boom, t2]).return_when(ReturnWhen::FirstException);
    still_pending(&mut w, "nothing finished").await;
    // A success alone does not end a FIRST_EXCEPTION wait.
    g2.set_result(()).unwrap();
    wait_done(&r2).await;
    still_pending(&mut w, "one success, no failure").await;
    gb.set_result(()).unwrap();
    wait_done(&rb).await;
    let (done, pending) = ready(&mut w, "a child panicked").await.unwrap();
    assert_eq!(ids(&done), [idb, id2]);
    assert_eq!(ids(&pending), [id0]);
    assert!(done[0].exception().unwrap().unwrap().is_panic());
    assert_running_uncancelled(&r0);
    open_and_finish(&[&g0], &[&r0]).await;

    // A failure before the first poll: returns at once.
    let (gb, boom) = gated_panic("already failed");
    gb.set_result(()).unwrap();
    wait_done(&boom).await;
    let (g1, t1) = gated(1u32);
    let r1 = t1.task_ref();
    let mut w = weft::wait(vec![t1, boom]).return_when(ReturnWhen::FirstException);
    let (done, pending) = ready_now(&mut w, "a child had already failed").unwrap();
    assert_eq!((done.len(), pending.len()), (1, 1));
    assert!(done[0].exception().unwrap().unwrap().is_panic());
    assert_running_uncancelled(&r1);
    open_and_finish(&[&g1], &[&r1]).await;
}

// Spec: "FIRST_EXCEPTION: ... cancellation does not count as failure".
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn first_exception_does_not_count_a_cancellation_as_a_failure() {
    let reached = Log::new();
    let drops = DropCounter::new();
    let doomed = parked(&reached, &drops);
    let (g1, t1) = gated(1u32);
    let (doomed_ref, r1) = (doomed.task_ref(), t1.task_ref());
    let (id0, id1) = (doomed.id(), t1.id());
    let mut w = weft::wait(vec![doomed, t1]).return_when(ReturnWhen::FirstException);
    still_pending(&mut w, "nothing finished").await;
    wait_until("the child to park", || reached.len() == 1).await;
    assert!(doomed_ref.cancel());
    wait_done(&doomed_ref).await;
    still_pending(&mut w, "a cancellation is not a failure").await;
    yield_times(10).await;
    still_pending(&mut w, "a cancellation is not a failure").await;
    g1.set_result(()).unwrap();
    wait_done(&r1).await;
    let (done, pending) = ready(&mut w, "all finished").await.unwrap();
    assert_eq!(ids(&done), [id0, id1]);
    assert!(pending.is_empty());
    assert!(done[0].cancelled());

    // Also when the cancelled task was done before the first poll.
    let reached = Log::new();
    let doomed = parked(&reached, &drops);
    wait_until("the child to park", || reached.len() == 1).await;
    doomed.cancel();
    wait_done(&doomed).await;
    let (g1, t1) = gated(1u32);
    let r1 = t1.task_ref();
    let mut w = weft::wait(vec![doomed, t1]).return_when(ReturnWhen::FirstException);
    still_pending(&mut w, "only a cancellation so far").await;
    g1.set_result(()).unwrap();
    wait_done(&r1).await;
    let (done, pending) = ready(&mut w, "all finished").await.unwrap();
    assert_eq!((done.len(), pending.len()), (2, 0));
}

// Spec: "FIRST_EXCEPTION: ... with no failure it behaves like ALL_COMPLETED".
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn first_exception_without_a_failure_behaves_like_all_completed() {
    let (gates, refs, tasks) = gated_batch(3);
    let expected = ids(&tasks);
    let waiter = spawn_started!("the waiter to start", {
        weft::wait(tasks)
            .return_when(ReturnWhen::FirstException)
            .await
    });
    finish_in_order(&gates, &refs, &[1, 2]).await;
    yield_times(10).await;
    assert!(
        !waiter.done(),
        "FIRST_EXCEPTION returned with no failure and a task still running"
    );
    gates[0].set_result(()).unwrap();
    let (done, pending) = waiter.await.unwrap().unwrap();
    assert_eq!(ids(&done), expected);
    assert!(pending.is_empty());
}

// ----- timeout -----

// Spec: "timeout never errors and never cancels: unfinished children stay in
// pending and keep running."
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn wait_timeout_returns_unfinished_tasks_in_pending_and_they_keep_running() {
    let fast = weft::spawn(async { 1u32 });
    wait_done(&fast).await; // so the short timeout cannot beat it
    let (g_slow, slow) = gated(2u32);
    let slow_ref = slow.task_ref();
    let (fast_id, slow_id) = (fast.id(), slow.id());
    let (done, mut pending) = weft::wait(vec![fast, slow])
        .timeout(Duration::from_millis(30))
        .await
        .expect("a timeout is not an error");
    assert_eq!(ids(&done), [fast_id]);
    assert_eq!(ids(&pending), [slow_id]);
    assert_running_uncancelled(&slow_ref);
    // It finishes normally later, and the handle from pending gets its value.
    g_slow.set_result(()).unwrap();
    assert_eq!(pending.pop().unwrap().await.unwrap(), 2);
    assert!(!slow_ref.cancelled());
    assert_eq!(slow_ref.cancelling(), 0);
}

// Spec: "timeout never errors and never cancels" — not even when nothing
// finished, whatever return_when says.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn wait_timeout_with_nothing_finished_is_not_an_error() {
    for when in [
        ReturnWhen::AllCompleted,
        ReturnWhen::FirstCompleted,
        ReturnWhen::FirstException,
    ] {
        let (g0, t0) = gated(0u32);
        let (g1, t1) = gated(1u32);
        let refs = [t0.task_ref(), t1.task_ref()];
        let expected = vec![t0.id(), t1.id()];
        let (done, pending) = weft::wait(vec![t0, t1])
            .return_when(when)
            .timeout(Duration::from_millis(10))
            .await
            .expect("a timeout is not an error");
        assert!(done.is_empty(), "{when:?}");
        assert_eq!(ids(&pending), expected, "{when:?}");
        for r in &refs {
            assert_running_uncancelled(r);
        }
        drop(pending);
        g0.set_result(()).unwrap();
        g1.set_result(()).unwrap();
        for r in &refs {
            wait_done(r).await;
            assert!(r.exception().unwrap().is_none(), "{when:?}: {r:?}");
        }
    }
}

// Spec: "Cancelling the caller does not cancel the children."
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_the_caller_of_wait_does_not_cancel_the_children() {
    let (g0, t0) = gated(0u32);
    let (g1, t1) = gated(1u32);
    let refs = [t0.task_ref(), t1.task_ref()];
    let waiter = spawn_started!("the waiter to start", {
        weft::wait(vec![t0, t1])
            .timeout(Duration::from_secs(10))
            .await
    });
    yield_times(10).await;
    assert!(waiter.cancel_with("caller only"));
    let err = waiter.await.unwrap_err();
    assert!(err.is_cancelled());
    for r in &refs {
        assert_running_uncancelled(r);
    }
    yield_times(10).await;
    for r in &refs {
        assert_running_uncancelled(r);
    }
    open_and_finish(&[&g0, &g1], &[&refs[0], &refs[1]]).await;
}

// Doc (weft): dropping a wait future mid-way cancels nothing either.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn dropping_a_wait_future_cancels_nothing() {
    let (g0, t0) = gated(0u32);
    let r0 = t0.task_ref();
    let mut w = weft::wait(vec![t0]);
    still_pending(&mut w, "nothing finished").await;
    drop(w);
    assert_running_uncancelled(&r0);
    open_and_finish(&[&g0], &[&r0]).await;
}

// ----- argument order -----

// Spec: "done and pending lists come back in argument order" — both lists,
// with done filled in the reverse of the argument order.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn wait_lists_done_and_pending_in_argument_order() {
    let (gates, refs, tasks) = gated_batch(6);
    let all = ids(&tasks);
    let mut w = weft::wait(tasks).return_when(ReturnWhen::FirstCompleted);
    still_pending(&mut w, "nothing finished").await;
    finish_in_order(&gates, &refs, &[5, 3, 1]).await;
    let (done, pending) = ready(&mut w, "three finished").await.unwrap();
    assert_eq!(ids(&done), [all[1], all[3], all[5]]);
    assert_eq!(ids(&pending), [all[0], all[2], all[4]]);

    // The same through the timeout path, the waiter a task.
    let (gates2, refs, tasks) = gated_batch(6);
    let all = ids(&tasks);
    // Finish 4, 2, 0 first (in that order), then let the waiter time out.
    finish_in_order(&gates2, &refs, &[4, 2, 0]).await;
    let (done, pending) = weft::wait(tasks)
        .timeout(Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!(ids(&done), [all[0], all[2], all[4]]);
    assert_eq!(ids(&pending), [all[1], all[3], all[5]]);
    for i in [1, 3, 5] {
        gates2[i].set_result(()).unwrap();
    }
    for i in [0, 2, 4] {
        gates[i].set_result(()).unwrap();
    }
}

// ----- CPython's test_tasks.py wait cases -----

// CPython: test_tasks.py BaseTaskTests.test_wait
// ALL_COMPLETED over two sleepers; waiting again on the done handles takes
// no time.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cpython_wait_all_completed_over_sleepers_then_again_at_once() {
    let a = weft::spawn(weft::sleep(Duration::from_millis(100)));
    let b = weft::spawn(weft::sleep(Duration::from_millis(150)));
    let (a_id, b_id) = (a.id(), b.id());
    let t0 = Instant::now();
    let (done, pending) = weft::wait(vec![b, a]).await.unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(150));
    assert_eq!(ids(&done), [b_id, a_id]);
    assert!(pending.is_empty());
    // Again, on tasks all done: at once (another path: nothing to watch).
    let mut w = weft::wait(done);
    let (done, pending) = ready_now(&mut w, "every task was done").unwrap();
    assert_eq!(ids(&done), [b_id, a_id]);
    assert!(pending.is_empty());
}

// CPython: test_tasks.py BaseTaskTests.test_wait_first_completed
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cpython_wait_first_completed_returns_the_sleeper_that_finished() {
    let a = weft::spawn(weft::sleep(Duration::from_secs(10)));
    let b = weft::spawn(weft::sleep(Duration::from_millis(100)));
    let (a_ref, a_id, b_id) = (a.task_ref(), a.id(), b.id());
    let (mut done, pending) = weft::wait(vec![b, a])
        .return_when(ReturnWhen::FirstCompleted)
        .await
        .unwrap();
    assert_eq!(ids(&done), [b_id]);
    assert_eq!(ids(&pending), [a_id]);
    assert!(!a_ref.done());
    assert!(done[0].done());
    done[0].result().unwrap().unwrap();
    a_ref.cancel();
}

// CPython: test_tasks.py BaseTaskTests.test_wait_really_done
// Tasks in the pending list that are done by the time wait returns, their
// wake-ups not all delivered yet, are in done.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cpython_wait_really_done_puts_every_finished_task_in_done() {
    let (ga, a) = gated(());
    let (gb, b) = gated(());
    let (ra, rb) = (a.task_ref(), b.task_ref());
    let mut w = weft::wait(vec![b, a]).return_when(ReturnWhen::FirstCompleted);
    still_pending(&mut w, "nothing finished").await;
    ga.set_result(()).unwrap();
    gb.set_result(()).unwrap();
    wait_done(&ra).await;
    wait_done(&rb).await;
    let (mut done, pending) = ready(&mut w, "both finished").await.unwrap();
    assert_eq!(done.len(), 2);
    assert!(pending.is_empty());
    for t in &mut done {
        assert!(t.done());
        t.result().unwrap().unwrap();
    }
}

// CPython: test_tasks.py BaseTaskTests.test_wait_first_exception
// A task that has already failed: FIRST_EXCEPTION returns at once.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cpython_wait_first_exception_with_a_task_already_failed_returns_at_once() {
    let a = weft::spawn(weft::sleep(Duration::from_secs(10)));
    let b = weft::spawn(async { panic!("err") });
    let (a_ref, a_id, b_id) = (a.task_ref(), a.id(), b.id());
    wait_done(&b.task_ref()).await;
    let t0 = Instant::now();
    let (done, pending) = weft::wait(vec![b, a])
        .return_when(ReturnWhen::FirstException)
        .await
        .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(ids(&done), [b_id]);
    assert_eq!(ids(&pending), [a_id]);
    a_ref.cancel();
}

// CPython: test_tasks.py BaseTaskTests.test_wait_first_exception_in_wait
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cpython_wait_first_exception_returns_when_a_task_fails_while_waiting() {
    let a = weft::spawn(weft::sleep(Duration::from_secs(10)));
    let b = weft::spawn(async {
        weft::sleep(Duration::from_millis(10)).await;
        panic!("err")
    });
    let (a_ref, a_id, b_id) = (a.task_ref(), a.id(), b.id());
    let (done, pending) = weft::wait(vec![b, a])
        .return_when(ReturnWhen::FirstException)
        .await
        .unwrap();
    assert_eq!(ids(&done), [b_id]);
    assert_eq!(ids(&pending), [a_id]);
    assert!(done[0].exception().unwrap().unwrap().is_panic());
    assert!(!a_ref.done());
    a_ref.cancel();
}

// CPython: test_tasks.py BaseTaskTests.test_wait_with_exception
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cpython_wait_all_completed_with_one_failure_returns_both_done() {
    let a = weft::spawn(weft::sleep(Duration::from_millis(100)));
    let b = weft::spawn(async {
        weft::sleep(Duration::from_millis(150)).await;
        panic!("really")
    });
    let (done, pending) = weft::wait(vec![b, a]).await.unwrap();
    assert_eq!(done.len(), 2);
    assert!(pending.is_empty());
    let errors = done
        .iter()
        .filter(|t| t.exception().unwrap().is_some())
        .count();
    assert_eq!(errors, 1);
}

// CPython: test_tasks.py BaseTaskTests.test_wait_with_timeout
// (the second task never finishes here: 10 ms of margin on each side of the
// timeout would make the port depend on a quiet machine).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cpython_wait_with_timeout_returns_what_finished_before_it() {
    let a = weft::spawn(weft::sleep(Duration::from_millis(50)));
    let (gb, b) = gated(());
    let (a_id, b_id) = (a.id(), b.id());
    let t0 = Instant::now();
    let (done, pending) = weft::wait(vec![b, a])
        .timeout(Duration::from_millis(300))
        .await
        .unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert_eq!(ids(&done), [a_id]);
    assert_eq!(ids(&pending), [b_id]);
    gb.set_result(()).unwrap();
}

// CPython: test_tasks.py BaseTaskTests.test_wait_concurrent_complete
// A task finishing at the same moment the timeout fires is in done, whatever
// return_when says: here it finished, then the deadline passed, then wait is
// polled.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cpython_wait_a_task_finishing_as_the_timeout_fires_is_in_done() {
    for when in [
        ReturnWhen::AllCompleted,
        ReturnWhen::FirstCompleted,
        ReturnWhen::FirstException,
    ] {
        let (ga, a) = gated(1u32);
        let (gb, b) = gated(2u32);
        let (ra, a_id, b_id) = (a.task_ref(), a.id(), b.id());
        let mut w = weft::wait(vec![b, a])
            .return_when(when)
            .timeout(Duration::from_millis(20));
        assert!(poll_once(&mut w).is_pending(), "{when:?}");
        ga.set_result(()).unwrap();
        wait_done(&ra).await;
        weft::sleep(Duration::from_millis(40)).await;
        let (done, pending) = ready_now(&mut w, "the deadline passed").unwrap();
        assert_eq!(ids(&done), [a_id], "{when:?}");
        assert_eq!(ids(&pending), [b_id], "{when:?}");
        gb.set_result(()).unwrap();
    }
}

// CPython: test_tasks.py BaseTaskTests.test_wait_with_iterator_of_tasks and
// test_wait_generator: any iterator of tasks.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cpython_wait_takes_any_iterator_of_tasks() {
    let (done, pending) = weft::wait((0..10u32).map(|i| weft::spawn(async move { i })))
        .return_when(ReturnWhen::AllCompleted)
        .await
        .unwrap();
    assert_eq!(done.len(), 10);
    assert!(pending.is_empty());
}
