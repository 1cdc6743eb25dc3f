//! `gather` (ASYNCIO.md, "gather"): argument order, the first error, cancelled
//! children, `gather_settled` (asyncio's `return_exceptions=True`), cancelling
//! the gather (which, in weft, means cancelling the task that awaits it), the
//! heterogeneous `gather!` / `gather_settled!` macros, `ensure_future!`, panics,
//! and scale.
//!
//! Children are gated on their own `Promise` so that completion order is
//! chosen by the test, not by the scheduler. (Never share one gate between
//! children that may be cancelled: cancelling a task that awaits a promise
//! cancels the promise.)

mod common;

use common::{
    block_on, cancel_message, gated, gated_panic, open_and_finish, panic_text, parked,
    spawn_started, wait_done, wait_until, yield_times, DropCounter, Flag, Log,
};
use std::future::pending;
use std::time::Duration;
use weft::{catch_cancel, Task, TaskRef};

/// Asserts `task` is still running and was never asked to stop.
fn assert_running_uncancelled(task: &TaskRef) {
    common::assert_running_uncancelled(task, "the gather");
}

// ----- argument order -----

// Spec: "Results in argument order, whatever the completion order."
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn gather_returns_values_in_argument_order_whatever_the_completion_order() {
    // Positions 1 and 4 are done before the gather starts; the rest finish
    // while it waits, in the order 3, 0, 2.
    let early1 = weft::spawn(async { 10u32 });
    let early4 = weft::spawn(async { 40u32 });
    wait_done(&early1).await;
    wait_done(&early4).await;
    let (g0, t0) = gated(0u32);
    let (g2, t2) = gated(20u32);
    let (g3, t3) = gated(30u32);
    let refs = [t0.task_ref(), t2.task_ref(), t3.task_ref()];
    let gathering = weft::spawn(weft::gather(vec![t0, early1, t2, t3, early4]));
    let finished = Log::new();
    for (gate, r, i) in [(&g3, &refs[2], 3), (&g0, &refs[0], 0), (&g2, &refs[1], 2)] {
        assert!(!gathering.done(), "gather finished before child {i}");
        gate.set_result(()).unwrap();
        wait_done(r).await;
        finished.push(i);
    }
    assert_eq!(finished.snapshot(), [3, 0, 2]);
    assert_eq!(gathering.await.unwrap().unwrap(), [0, 10, 20, 30, 40]);
}

// Spec: "Results in argument order, whatever the completion order" (with real
// timers: the first argument finishes last).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn gather_orders_sleeping_children_by_argument_not_by_wake_up() {
    let tasks: Vec<Task<u64>> = [60u64, 5, 30, 1]
        .into_iter()
        .map(|ms| weft::spawn(weft::sleep_with(Duration::from_millis(ms), ms)))
        .collect();
    assert_eq!(weft::gather(tasks).await.unwrap(), [60, 5, 30, 1]);
}

// Spec: "Empty gather -> [] at once."
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn gather_of_nothing_is_an_empty_vec_at_once() {
    let mut g = Box::pin(weft::gather(Vec::<Task<u32>>::new()));
    match common::poll_once(&mut g) {
        std::task::Poll::Ready(out) => assert!(out.unwrap().is_empty()),
        std::task::Poll::Pending => panic!("an empty gather must be ready on its first poll"),
    }
    let mut s = Box::pin(weft::gather_settled(Vec::<Task<u32>>::new()));
    match common::poll_once(&mut s) {
        std::task::Poll::Ready(out) => assert!(out.is_empty()),
        std::task::Poll::Pending => panic!("an empty gather_settled must be ready at once"),
    }
    // And inside a task.
    let t = weft::spawn(async { weft::gather(Vec::<Task<()>>::new()).await });
    assert!(t.await.unwrap().unwrap().is_empty());
}

// ----- the first error -----

// Spec: "Without return_exceptions: the first error completes the gather at
// once; the other children keep running (they are not cancelled)."
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn gather_first_error_completes_it_at_once_and_the_other_children_keep_running() {
    let (ga, a) = gated(1u32);
    let (gb, b) = gated_panic("boom");
    let (gc, c) = gated(3u32);
    let (ar, br, cr) = (a.task_ref(), b.task_ref(), c.task_ref());
    let gathering = weft::spawn(weft::gather(vec![a, b, c]));
    let gr = gathering.task_ref();
    gb.set_result(()).unwrap();
    wait_done(&br).await;
    // The gather completes with b's error while a and c are still gated.
    wait_done(&gr).await;
    assert_running_uncancelled(&ar);
    assert_running_uncancelled(&cr);
    let err = gathering.await.unwrap().unwrap_err();
    assert_eq!(panic_text(&err), "boom");
    // Nothing was cancelled behind our back: they finish normally later.
    yield_times(10).await;
    assert_running_uncancelled(&ar);
    assert_running_uncancelled(&cr);
    open_and_finish(&[&ga, &gc], &[&ar, &cr]).await;
}

// Spec: "the first error completes the gather" — first in time, not in
// argument order.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn gather_error_is_the_first_child_to_fail_not_the_first_in_argument_order() {
    let (g_late, late) = gated_panic::<u32>("late");
    let (g_early, early) = gated_panic("early");
    let (late_r, early_r) = (late.task_ref(), early.task_ref());
    let gathering = weft::spawn(weft::gather(vec![late, early]));
    g_early.set_result(()).unwrap();
    wait_done(&early_r).await;
    wait_done(&gathering).await;
    g_late.set_result(()).unwrap();
    wait_done(&late_r).await;
    let err = gathering.await.unwrap().unwrap_err();
    assert_eq!(panic_text(&err), "early");
}

// Spec: "the first error completes the gather at once; the other children keep
// running" — also when that child had failed before the gather started.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn gather_with_an_already_failed_child_errs_at_once_and_leaves_the_rest_running() {
    let (gf, failed) = gated_panic("already");
    gf.set_result(()).unwrap();
    wait_done(&failed).await;
    let (ga, a) = gated(1u32);
    let ar = a.task_ref();
    let mut g = Box::pin(weft::gather(vec![a, failed]));
    match common::poll_once(&mut g) {
        std::task::Poll::Ready(out) => assert_eq!(panic_text(&out.unwrap_err()), "already"),
        std::task::Poll::Pending => panic!("a gather with a failed child must end at once"),
    }
    drop(g);
    assert_running_uncancelled(&ar);
    open_and_finish(&[&ga], &[&ar]).await;
}

// ----- cancelled children -----

// Spec: "A cancelled child counts as an error (Cancelled) but the gather itself
// is not 'cancelled'" — the task awaiting it goes on and is not cancelled.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_cancelled_child_is_an_error_for_gather_but_the_caller_is_not_cancelled() {
    let (ga, a) = gated(1u32);
    let reached = Log::new();
    let drops = DropCounter::new();
    let b = parked(&reached, &drops);
    let (ar, br) = (a.task_ref(), b.task_ref());
    let outer = spawn_started!("the caller to start gathering", {
        let err = weft::gather(vec![a, b]).await.unwrap_err();
        // Still running, and awaits work normally.
        weft::sleep(Duration::from_millis(2)).await;
        weft::yield_now().await;
        (err, 7)
    });
    let outer_ref = outer.task_ref();
    wait_until("b to park", || reached.len() == 1).await;
    assert!(br.cancel_with("child only"));
    let (err, seven) = outer.await.expect("the caller must not be cancelled");
    assert_eq!(cancel_message(&err).as_deref(), Some("child only"));
    assert_eq!(seven, 7);
    assert!(!outer_ref.cancelled());
    assert_eq!(outer_ref.cancelling(), 0, "the caller got a cancel request");
    assert!(br.cancelled());
    // The other child was not cancelled either.
    assert_running_uncancelled(&ar);
    open_and_finish(&[&ga], &[&ar]).await;
}

// ----- gather_settled (return_exceptions=True) -----

// Spec: "With return_exceptions: errors and cancellations sit at their child's
// position" (and a failure does not end the gather early).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn gather_settled_puts_errors_and_cancellations_at_their_childs_position() {
    let ok0 = weft::spawn(async { 0u32 });
    let (g1, boom1) = gated_panic("boom at 1");
    let reached = Log::new();
    let drops = DropCounter::new();
    let cancelled2 = parked(&reached, &drops);
    let (g3, ok3) = gated(3u32);
    let (r1, r2, r3) = (boom1.task_ref(), cancelled2.task_ref(), ok3.task_ref());
    let settled = weft::spawn(weft::gather_settled(vec![ok0, boom1, cancelled2, ok3]));
    g1.set_result(()).unwrap();
    wait_done(&r1).await;
    wait_until("child 2 to park", || reached.len() == 1).await;
    assert!(r2.cancel_with("bye"));
    wait_done(&r2).await;
    yield_times(10).await;
    assert!(
        !settled.done(),
        "gather_settled ended before its last child finished"
    );
    g3.set_result(()).unwrap();
    wait_done(&r3).await;
    let out = settled.await.unwrap();
    assert_eq!(out.len(), 4);
    assert_eq!(*out[0].as_ref().unwrap(), 0);
    assert_eq!(panic_text(out[1].as_ref().unwrap_err()), "boom at 1");
    assert_eq!(
        cancel_message(out[2].as_ref().unwrap_err()).as_deref(),
        Some("bye")
    );
    assert_eq!(*out[3].as_ref().unwrap(), 3);
}

// ----- cancelling the gather -----

// Spec: "Cancelling the gather cancels every unfinished child" (with the same
// message, as asyncio passes it on); "it then ends Cancelled".
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_the_gather_cancels_every_unfinished_child_with_the_same_message() {
    let finished = weft::spawn(async { 5u32 });
    let finished_ref = finished.task_ref();
    wait_done(&finished_ref).await;
    let reached = Log::new();
    let drops = DropCounter::new();
    let kids: Vec<Task<u32>> = (0..3).map(|_| parked(&reached, &drops)).collect();
    let refs: Vec<TaskRef> = kids.iter().map(|k| k.task_ref()).collect();
    let mut children = vec![finished];
    children.extend(kids);
    let outer = spawn_started!("the caller to start gathering", {
        weft::gather(children).await
    });
    wait_until("the children to park", || reached.len() == 3).await;
    assert!(outer.cancel_with("stop"));
    let err = outer.await.unwrap_err();
    assert_eq!(cancel_message(&err).as_deref(), Some("stop"));
    // The gather waited for them: all done by the time the caller ended.
    assert_eq!(
        drops.get(),
        3,
        "the children's futures were not all dropped"
    );
    for r in &refs {
        assert!(r.done(), "{r:?} still running after the gather ended");
        assert!(r.cancelled(), "{r:?} was not cancelled");
        assert_eq!(r.cancelling(), 1);
        let e = r.exception().unwrap().unwrap();
        assert_eq!(cancel_message(&e).as_deref(), Some("stop"));
    }
    assert!(!finished_ref.cancelled());
}

// Spec: "Cancelling the gather cancels every unfinished child; it then ends
// Cancelled even with return_exceptions" — even when a child refuses the
// cancellation and returns a value.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_a_gather_settled_still_ends_cancelled() {
    let reached = Log::new();
    let drops = DropCounter::new();
    let plain = parked(&reached, &drops);
    let r = reached.clone();
    let refuses = weft::spawn(async move {
        r.push(());
        // Swallows the cancellation and returns a value.
        catch_cancel(pending::<u32>()).await.unwrap_or(99)
    });
    let (plain_ref, refuses_ref) = (plain.task_ref(), refuses.task_ref());
    let outer = spawn_started!("the caller to start gathering", {
        weft::gather_settled(vec![plain, refuses]).await
    });
    let outer_ref = outer.task_ref();
    wait_until("the children to park", || reached.len() == 2).await;
    assert!(outer.cancel());
    let err = outer
        .await
        .expect_err("a cancelled gather_settled must end cancelled, not return its outcomes");
    assert!(err.is_cancelled());
    assert_eq!(cancel_message(&err), None);
    assert!(outer_ref.cancelled());
    assert!(plain_ref.cancelled());
    assert_eq!(
        cancel_message(&plain_ref.exception().unwrap().unwrap()),
        None
    );
    assert!(refuses_ref.done());
    assert!(
        !refuses_ref.cancelled(),
        "the refusing child ended with a value"
    );
    assert_eq!(refuses_ref.cancelling(), 1);
}

// Spec: "Cancelling the gather cancels every unfinished child; it then ends
// Cancelled" — only after the children's cleanup (asyncio's gather completes
// when its last child does).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_cancelled_gather_waits_for_its_childrens_cleanup_before_raising() {
    let parked_flag = Flag::new();
    let cleaned = Flag::new();
    let (p, c) = (parked_flag.clone(), cleaned.clone());
    let child = weft::spawn(async move {
        p.set();
        match catch_cancel(pending::<()>()).await {
            Ok(()) => unreachable!(),
            Err(cancelled) => {
                weft::sleep(Duration::from_millis(40)).await;
                c.set();
                cancelled.raise().await
            }
        }
    });
    let child_ref = child.task_ref();
    let c = cleaned.clone();
    let outer = spawn_started!("the caller to start gathering", {
        match catch_cancel(weft::gather(vec![child])).await {
            Ok(_) => unreachable!("the child never returns"),
            Err(cancelled) => {
                // The gather re-raised: the child's cleanup must be over.
                let cleaned_when_raised = c.get();
                (cleaned_when_raised, cancelled.message().map(str::to_owned))
            }
        }
    });
    wait_until("the child to park", || parked_flag.get()).await;
    assert!(outer.cancel_with("clean up first"));
    let (cleaned_when_raised, message) = outer.await.unwrap();
    assert!(
        cleaned_when_raised,
        "the gather re-raised before its child finished cleaning up"
    );
    assert_eq!(message.as_deref(), Some("clean up first"));
    assert!(cleaned.get());
    assert!(child_ref.done() && child_ref.cancelled());
}

// Spec: "Cancelling the gather cancels every unfinished child; it then ends
// Cancelled" — after its children, even when the caller is cancelled again
// while the gather waits for their cleanup (asyncio: the second cancel() goes
// to the gathering future, which passes it on to the children; the task keeps
// waiting for that future).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_second_cancel_during_the_cleanup_wait_does_not_abandon_the_children() {
    let parked_flag = Flag::new();
    let cleaning = Flag::new();
    let drops = DropCounter::new();
    let (p, c, g) = (parked_flag.clone(), cleaning.clone(), drops.guard());
    let child = weft::spawn(async move {
        let _finally = g; // dropped when the child ends, however it ends
        p.set();
        match catch_cancel(pending::<()>()).await {
            Ok(()) => unreachable!(),
            Err(cancelled) => {
                c.set();
                // Slow cleanup; a second cancellation may cut it short.
                weft::sleep(Duration::from_millis(100)).await;
                cancelled.raise().await
            }
        }
    });
    let child_ref = child.task_ref();
    let outer = spawn_started!("the caller to start gathering", {
        weft::gather(vec![child]).await
    });
    let outer_ref = outer.task_ref();
    wait_until("the child to park", || parked_flag.get()).await;
    assert!(outer_ref.cancel_with("first"));
    wait_until("the child to start cleaning up", || cleaning.get()).await;
    assert!(!outer_ref.done());
    assert!(outer_ref.cancel_with("second"));
    let err = outer.await.unwrap_err();
    assert!(err.is_cancelled());
    assert!(
        child_ref.done(),
        "the caller ended while its gather's child was still cleaning up"
    );
    assert_eq!(drops.get(), 1);
    assert!(child_ref.cancelled());
}

// Spec: "Once done, cancel() -> false."
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_finished_gather_cannot_be_cancelled() {
    let a = weft::spawn(async { 1u32 });
    let b = weft::spawn(weft::sleep_with(Duration::from_millis(2), 2u32));
    let (ar, br) = (a.task_ref(), b.task_ref());
    let outer = weft::spawn(weft::gather(vec![a, b]));
    let outer_ref = outer.task_ref();
    wait_done(&outer_ref).await;
    assert!(!outer_ref.cancel());
    assert!(!outer_ref.cancel_with("too late"));
    assert_eq!(outer_ref.cancelling(), 0);
    assert!(!ar.cancel() && !br.cancel());
    assert_eq!(outer.await.unwrap().unwrap(), [1, 2]);

    // Nor once it ended cancelled.
    let reached = Log::new();
    let drops = DropCounter::new();
    let kid = parked::<u32>(&reached, &drops);
    let outer = spawn_started!("the caller to start gathering", {
        weft::gather(vec![kid]).await
    });
    let outer_ref = outer.task_ref();
    wait_until("the child to park", || reached.len() == 1).await;
    assert!(outer_ref.cancel_with("first"));
    wait_done(&outer_ref).await;
    assert!(!outer_ref.cancel_with("second"));
    let err = outer.await.unwrap_err();
    assert_eq!(cancel_message(&err).as_deref(), Some("first"));
}

// ----- heterogeneous children: gather!, gather_settled!, ensure_future! -----

// Spec: "Heterogeneous children: a tuple form (macro) as well as the Vec form."
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn gather_macro_takes_tasks_and_futures_of_different_types_in_argument_order() {
    let (g_name, name) = gated("name");
    let name_ref = name.task_ref();
    let outer = spawn_started!("the caller to start gathering", {
        weft::gather!(
            name,
            async { 2u8 },
            weft::sleep_with(Duration::from_millis(5), vec![1u16, 2]),
            weft::spawn(async { String::from("four") }),
        )
        .await
    });
    // The first argument finishes last.
    weft::sleep(Duration::from_millis(20)).await;
    assert!(!outer.done(), "gather! ended before its first child");
    g_name.set_result(()).unwrap();
    wait_done(&name_ref).await;
    let (a, b, c, d) = outer.await.unwrap().unwrap();
    assert_eq!(a, "name");
    assert_eq!(b, 2u8);
    assert_eq!(c, vec![1u16, 2]);
    assert_eq!(d, "four");
}

// Spec: tuple form — asyncio's gather wraps coroutines in tasks; gather! spawns
// plain futures (they run as tasks, not inline in the caller).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn gather_macro_spawns_plain_futures_as_tasks() {
    // block_on's future is not a task: run inline, current_task() is None.
    assert!(weft::current_task().is_none());
    let (a, b) = weft::gather!(async { weft::current_task().map(|t| t.id()) }, async {
        weft::current_task().map(|t| t.id())
    },)
    .await
    .unwrap();
    let (a, b) = (a.expect("not run as a task"), b.expect("not run as a task"));
    assert_ne!(a, b, "each future gets its own task");
}

// Spec: "the first error completes the gather at once; the other children keep
// running" — the tuple form too.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn gather_macro_first_error_completes_it_and_the_others_keep_running() {
    let (ga, a) = gated(1u32);
    let (gb, b) = gated_panic::<u32>("tuple boom");
    let (gc, c) = gated("c");
    let (ar, br, cr) = (a.task_ref(), b.task_ref(), c.task_ref());
    let gathering = weft::spawn(weft::gather!(a, b, c));
    gb.set_result(()).unwrap();
    wait_done(&br).await;
    wait_done(&gathering).await;
    let err = gathering.await.unwrap().unwrap_err();
    assert_eq!(panic_text(&err), "tuple boom");
    assert_running_uncancelled(&ar);
    assert_running_uncancelled(&cr);
    open_and_finish(&[&ga, &gc], &[&ar, &cr]).await;

    // A cancelled child is an error of the tuple form too; the caller goes on.
    let reached = Log::new();
    let drops = DropCounter::new();
    let kid = parked::<u32>(&reached, &drops);
    let kid_ref = kid.task_ref();
    let outer = weft::spawn(async move {
        let err = weft::gather!(kid, async { 1u8 }).await.unwrap_err();
        weft::yield_now().await;
        err
    });
    let outer_ref = outer.task_ref();
    wait_until("the child to park", || reached.len() == 1).await;
    assert!(kid_ref.cancel_with("tuple child"));
    let err = outer.await.expect("the caller must not be cancelled");
    assert_eq!(cancel_message(&err).as_deref(), Some("tuple child"));
    assert_eq!(outer_ref.cancelling(), 0);
}

// Spec: "Cancelling the gather cancels every unfinished child" — the tuple
// form too, and it waits for them.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_a_gather_macro_cancels_its_children() {
    let reached = Log::new();
    let drops = DropCounter::new();
    let a = parked::<u32>(&reached, &drops);
    let b = parked::<String>(&reached, &drops);
    let (ar, br) = (a.task_ref(), b.task_ref());
    let outer = spawn_started!("the caller to start gathering", {
        weft::gather!(a, b, async { 3u8 }).await
    });
    wait_until("the children to park", || reached.len() == 2).await;
    assert!(outer.cancel_with("tuple stop"));
    let err = outer.await.unwrap_err();
    assert_eq!(cancel_message(&err).as_deref(), Some("tuple stop"));
    assert_eq!(drops.get(), 2);
    for r in [&ar, &br] {
        assert!(r.cancelled(), "{r:?} was not cancelled");
        let e = r.exception().unwrap().unwrap();
        assert_eq!(cancel_message(&e).as_deref(), Some("tuple stop"));
    }

    // gather_settled! as well: it ends cancelled, not with outcomes.
    let reached = Log::new();
    let drops = DropCounter::new();
    let a = parked::<u32>(&reached, &drops);
    let ar = a.task_ref();
    let outer = spawn_started!("the caller to start gathering", {
        weft::gather_settled!(a, async { 3u8 }).await
    });
    wait_until("the child to park", || reached.len() == 1).await;
    assert!(outer.cancel());
    assert!(outer.await.unwrap_err().is_cancelled());
    assert!(ar.done() && ar.cancelled());
}

// Spec: "With return_exceptions: errors and cancellations sit at their child's
// position" — the tuple form (gather_settled!).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn gather_settled_macro_reports_each_outcome_at_its_position() {
    let reached = Log::new();
    let drops = DropCounter::new();
    let doomed = parked::<u32>(&reached, &drops);
    let doomed_ref = doomed.task_ref();
    let outer = weft::spawn(async move {
        weft::gather_settled!(
            async { 1u8 },
            async {
                if std::hint::black_box(true) {
                    panic!("settled boom");
                }
                "unreachable"
            },
            doomed,
            weft::sleep_with(Duration::from_millis(30), String::from("late")),
        )
        .await
    });
    wait_until("the child to park", || reached.len() == 1).await;
    assert!(doomed_ref.cancel_with("gone"));
    let (a, b, c, d) = outer.await.unwrap();
    assert_eq!(a.unwrap(), 1);
    assert_eq!(panic_text(&b.unwrap_err()), "settled boom");
    assert_eq!(cancel_message(&c.unwrap_err()).as_deref(), Some("gone"));
    assert_eq!(d.unwrap(), "late");
}

// Spec (weft): ensure_future! passes a task through unchanged (same id) and
// spawns any other future.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn ensure_future_passes_a_task_through_and_spawns_a_future() {
    let t = weft::spawn(async { 1u32 });
    let id = t.id();
    let same: Task<u32> = weft::ensure_future!(t);
    assert_eq!(same.id(), id, "a task must pass through unchanged");
    assert_eq!(same.await.unwrap(), 1);

    let ran = Flag::new();
    let r = ran.clone();
    let spawned: Task<Option<weft::TaskId>> = weft::ensure_future!(async move {
        r.set();
        weft::current_task().map(|t| t.id())
    });
    assert_ne!(spawned.id(), id);
    // It runs on its own, without being awaited.
    wait_until("the spawned future to run", || ran.get()).await;
    let spawned_id = spawned.id();
    assert_eq!(spawned.await.unwrap(), Some(spawned_id));
}

// ----- panics -----

// Spec: "A panic in a task is that task's error (an ordinary exception for
// gather/TaskGroup)."
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_panicking_child_is_an_ordinary_error_for_gather() {
    let ok = weft::spawn(async { 1u32 });
    let (gp, boom) = gated_panic("kaboom");
    gp.set_result(()).unwrap();
    let err = weft::gather(vec![ok, boom]).await.unwrap_err();
    assert!(err.is_panic());
    assert!(!err.is_cancelled());
    assert_eq!(panic_text(&err), "kaboom");

    let ok = weft::spawn(async { 1u32 });
    let (gp, boom) = gated_panic("kaboom settled");
    gp.set_result(()).unwrap();
    let out = weft::gather_settled(vec![boom, ok]).await;
    assert!(out[0].as_ref().unwrap_err().is_panic());
    assert_eq!(*out[1].as_ref().unwrap(), 1);

    // The task awaiting the gather is unharmed by the child's panic.
    let (gp, boom) = gated_panic::<u32>("kaboom in task");
    gp.set_result(()).unwrap();
    let outer = weft::spawn(async move {
        let e = weft::gather(vec![boom]).await.unwrap_err();
        (e.is_panic(), 5)
    });
    assert_eq!(outer.await.unwrap(), (true, 5));
}

// ----- scale -----

// Brief (scale): gather of 100_000 trivial tasks returns every value, in
// argument order (watching children costs one poll per wake-up, child.rs).
#[test]
fn gather_of_100_000_trivial_tasks_returns_every_value_in_order() {
    const N: usize = 100_000;
    block_on(2, |_| async {
        let outer = weft::spawn(async {
            let tasks: Vec<Task<usize>> = (0..N).map(|i| weft::spawn(async move { i })).collect();
            weft::gather(tasks).await
        });
        let out = outer.await.unwrap().unwrap();
        assert_eq!(out.len(), N);
        assert!(
            out.iter().enumerate().all(|(i, v)| i == *v),
            "values out of order"
        );
    });
}
