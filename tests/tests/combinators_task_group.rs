//! `weft::task_group` (ASYNCIO.md, "TaskGroup (3.11)"): leaving waits for every
//! child (grandchildren included), cancelling one child touches no other, the
//! first failure cancels the siblings and the body and every non-cancellation
//! error comes back together, a body error does the same, cancelling the
//! parent from outside cancels and awaits the children then re-raises (errors
//! from their cleanup win), and a finished or aborting group refuses to spawn,
//! dropping the future unpolled. As of asyncio 3.13 (test_taskgroups.py cases
//! at the end): when errors win over an outside cancellation, the task stays
//! cancelled.
//!
//! The body is stopped two ways: inside a spawned task the group cancels that
//! task and takes the request back (`uncancel`); in the future given to
//! `block_on` (not a task) it drops the body. Tests that depend on the path run
//! on both.

mod common;

use common::{block_on, panic_text, wait_until, DropCounter, Flag, Log, TICK};
use std::future::{pending, Future};
use std::time::Duration;
use weft::{catch_cancel, current_task, Promise, TaskError, TaskGroup, TaskGroupError, TaskRef};

/// The error a body returns in these tests.
#[derive(Debug)]
struct BodyFailed;

impl std::fmt::Display for BodyFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("body failed")
    }
}

impl std::error::Error for BodyFailed {}

fn is_body_failed(e: &TaskError) -> bool {
    matches!(e, TaskError::Failed(inner) if inner.is::<BodyFailed>())
}

/// The panic messages of a group error, sorted.
fn panic_texts(err: &TaskGroupError) -> Vec<String> {
    let mut v: Vec<String> = err.errors().iter().map(panic_text).collect();
    v.sort();
    v
}

/// A child that parks until cancelled, then cleans up with an await and
/// re-raises (asyncio's `except CancelledError: await ...; raise`), and the
/// flags that tell how far it got.
#[derive(Clone, Default)]
struct CleanupChild {
    /// Set when it parks.
    reached: Flag,
    /// Set at the end of its cleanup, just before it re-raises.
    cleaned: Flag,
}

impl CleanupChild {
    fn new() -> CleanupChild {
        CleanupChild::default()
    }

    /// The child's future (to spawn into a group).
    fn future(&self) -> impl Future<Output = ()> + Send + 'static {
        let (reached, cleaned) = (self.reached.clone(), self.cleaned.clone());
        async move {
            reached.set();
            match catch_cancel(pending::<()>()).await {
                Ok(()) => unreachable!("pending() returned"),
                Err(c) => {
                    weft::sleep(2 * TICK).await;
                    cleaned.set();
                    c.raise().await
                }
            }
        }
    }

    /// Waits until the child has parked (`who` names it in the failure
    /// message).
    async fn wait_parked(&self, who: &str) {
        wait_until(&format!("{who} to park"), || self.reached.get()).await;
    }
}

/// A child that sets `reached`, waits for `gate` (a cancellation there does
/// not stop it), then panics with `msg`.
fn failing_on_gate(
    gate: &Promise<()>,
    reached: &Flag,
    msg: &'static str,
) -> impl Future<Output = ()> + Send + 'static {
    let (gate, reached) = (gate.clone(), reached.clone());
    async move {
        reached.set();
        let _ = catch_cancel(gate.wait()).await;
        panic!("{msg}");
    }
}

/// A future that holds a guard from `drops` and sets `polled` if it is ever
/// polled (for spawns that must be refused).
fn refused_future(drops: &DropCounter, polled: &Flag) -> impl Future<Output = ()> + Send + 'static {
    let (g, p) = (drops.guard(), polled.clone());
    async move {
        let _g = g;
        p.set();
    }
}

/// A clone of a group that has finished (its body returned at once).
async fn finished_group() -> TaskGroup {
    let mut kept = None;
    weft::task_group(|tg| {
        kept = Some(tg.clone());
        async { Ok(()) }
    })
    .await
    .unwrap();
    kept.unwrap()
}

/// A child that sleeps `after`, then panics with `msg`.
async fn failing_child(after: Duration, msg: &'static str) {
    weft::sleep(after).await;
    panic!("{msg}");
}

/// The cancel count of the task running this code (0 outside a task).
fn my_cancelling() -> u32 {
    current_task().map_or(0, |t| t.cancelling())
}

/// Runs `scenario` on both paths of a group: in the future given to
/// `block_on` (not a task: the group drops its body), then as a spawned task
/// (the group cancels that task and takes the request back).
fn on_both_paths<F>(scenario: fn() -> F)
where
    F: Future<Output = ()> + Send + 'static,
{
    block_on(2, move |_| async move {
        scenario().await;
        weft::spawn(scenario()).await.unwrap();
    });
}

// ----- leaving waits for every child -----

/// Body returns at once; a child sleeps, then spawns a grandchild through its
/// own clone of the group; the grandchild sleeps, then sets `done`.
async fn grandchild_scenario() {
    let done = Flag::new();
    let d = done.clone();
    let out = weft::task_group(|tg| async move {
        let tg2 = tg.clone();
        tg.spawn(async move {
            // By now the body has returned and the group is waiting.
            weft::sleep(TICK).await;
            tg2.spawn(async move {
                weft::sleep(3 * TICK).await;
                d.set();
            })
            .expect("a child may spawn while the group waits")
            .detach();
        })
        .unwrap()
        .detach();
        Ok(5)
    })
    .await;
    assert_eq!(out.unwrap(), 5);
    assert!(
        done.get(),
        "task_group returned before a grandchild finished"
    );
    assert_eq!(my_cancelling(), 0);
}

// Spec: "Leaving the group waits for every child, including children spawned later by children."
#[test]
fn leaving_waits_for_grandchildren_spawned_later_by_children() {
    on_both_paths(grandchild_scenario);
}

// Spec: "Leaving the group waits for every child" (children the body never awaits).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn leaving_waits_for_detached_children_the_body_never_awaits() {
    let log = Log::new();
    let (l, seen) = (log.clone(), log.clone());
    weft::spawn(async move {
        weft::task_group(|tg| async move {
            for ms in [30u64, 10, 20] {
                let l = l.clone();
                tg.spawn(async move {
                    weft::sleep(Duration::from_millis(ms)).await;
                    l.push(ms);
                })
                .unwrap()
                .detach();
            }
            assert_eq!(tg.len(), 3);
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(
            seen.len(),
            3,
            "task_group returned with children still running"
        );
    })
    .await
    .unwrap();
    let mut seen = log.snapshot();
    seen.sort_unstable();
    assert_eq!(seen, [10, 20, 30]);
}

// ----- cancelling one child -----

async fn cancel_one_child_scenario() {
    let (child, late) = (CleanupChild::new(), Flag::new());
    let (ch, lt) = (child.clone(), late.clone());
    let cancelled_ref = Log::<TaskRef>::new();
    let cr = cancelled_ref.clone();
    let out = weft::task_group(|tg| async move {
        let a = tg.spawn(ch.future()).unwrap();
        let b = tg.spawn(weft::sleep_with(3 * TICK, 7)).unwrap();
        tg.spawn(async move {
            weft::sleep(5 * TICK).await;
            lt.set();
        })
        .unwrap()
        .detach();
        cr.push(a.task_ref());
        ch.wait_parked("the child").await;
        assert!(a.cancel_with("just this one"));
        let err = a.await.unwrap_err();
        assert_eq!(err.as_cancelled().unwrap().message(), Some("just this one"));
        // The sibling and the body are untouched: the body keeps awaiting.
        let v = b.await?;
        weft::sleep(TICK).await;
        Ok(v)
    })
    .await;
    assert_eq!(out.expect("a cancelled child is no error"), 7);
    assert!(child.cleaned.get());
    assert!(late.get(), "the last sibling was cut short");
    assert!(cancelled_ref.snapshot()[0].cancelled());
    assert_eq!(my_cancelling(), 0, "the group cancelled its parent");
}

// Spec: "Cancelling one child explicitly affects no other."
#[test]
fn cancelling_one_child_affects_no_other_and_is_no_error() {
    on_both_paths(cancel_one_child_scenario);
}

// Spec: "Cancelling one child explicitly affects no other" (detached, cancelled
// after the body returned: the group keeps waiting for the rest and succeeds).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_a_detached_child_while_the_group_waits_is_no_error() {
    let slot = Promise::<TaskRef>::new();
    let s = slot.clone();
    let other_done = Flag::new();
    let od = other_done.clone();
    let group = weft::spawn(async move {
        weft::task_group(|tg| async move {
            let t = tg.spawn(pending::<()>()).unwrap();
            s.set_result(t.task_ref()).unwrap();
            tg.spawn(async move {
                weft::sleep(4 * TICK).await;
                od.set();
            })
            .unwrap()
            .detach();
            Ok("left")
        })
        .await
    });
    let child = slot.await.unwrap();
    weft::sleep(TICK).await;
    assert!(!group.done());
    assert!(child.cancel());
    assert_eq!(group.await.unwrap().unwrap(), "left");
    assert!(other_done.get());
    assert!(child.cancelled());
}

// ----- the first failure -----

// Spec: "The first child failure cancels the siblings and the body, waits for
// them, then returns all non-cancellation errors together" (inside a task: the
// body is interrupted by cancelling the task, which is then taken back).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn first_child_failure_cancels_siblings_and_body_and_waits_for_their_cleanup() {
    let (child, body_ran_on) = (CleanupChild::new(), Flag::new());
    let body_drops = DropCounter::new();
    let sibling = Log::<TaskRef>::new();
    let (ch, bro, g, sib) = (
        child.clone(),
        body_ran_on.clone(),
        body_drops.guard(),
        sibling.clone(),
    );
    let parent = weft::spawn(async move {
        let ch2 = ch.clone();
        let out = weft::task_group(|tg| async move {
            let _g = g;
            sib.push(tg.spawn(ch2.future()).unwrap().task_ref());
            ch2.wait_parked("the sibling").await;
            tg.spawn(failing_child(TICK, "child failed"))
                .unwrap()
                .detach();
            pending::<()>().await;
            bro.set();
            Ok(())
        })
        .await;
        let err = out.unwrap_err();
        assert!(
            ch.cleaned.get(),
            "task_group returned before the cancelled sibling finished its cleanup"
        );
        assert_eq!(panic_texts(&err), ["child failed"]);
        // The group's own cancel request was taken back: the task goes on.
        let me = current_task().unwrap();
        assert_eq!(
            me.cancelling(),
            0,
            "the group's cancellation was not taken back"
        );
        weft::sleep(TICK).await;
        weft::yield_now().await;
        42
    });
    assert_eq!(parent.await.expect("the enclosing task was cancelled"), 42);
    assert_eq!(body_drops.get(), 1, "the body was not stopped");
    assert!(
        !body_ran_on.get(),
        "the body ran past its await after a failure"
    );
    assert!(
        sibling.snapshot()[0].cancelled(),
        "the sibling was not cancelled"
    );
}

// Spec: "The first child failure cancels ... the body, waits for them" (the body
// intercepts the cancellation, cleans up with an await, and re-raises).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn first_child_failure_lets_the_body_clean_up_with_awaits_before_returning() {
    let body_cleaned = Flag::new();
    let (bc, bc2) = (body_cleaned.clone(), body_cleaned.clone());
    let parent = weft::spawn(async move {
        let out: Result<(), TaskGroupError> = weft::task_group(|tg| async move {
            tg.spawn(failing_child(TICK, "boom")).unwrap().detach();
            match catch_cancel(pending::<()>()).await {
                Ok(()) => unreachable!(),
                Err(c) => {
                    weft::sleep(2 * TICK).await;
                    bc.set();
                    c.raise().await
                }
            }
        })
        .await;
        assert!(
            bc2.get(),
            "task_group returned before the body's cleanup ran"
        );
        let err = out.unwrap_err();
        assert_eq!(panic_texts(&err), ["boom"]);
        assert_eq!(my_cancelling(), 0);
        weft::sleep(TICK).await;
        "went on"
    });
    assert_eq!(parent.await.unwrap(), "went on");
    assert!(body_cleaned.get());
}

// Spec: "The first child failure cancels the siblings" (after the body has
// returned: the group, waiting, still aborts; the caller is not cancelled).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn child_failure_after_the_body_returned_cancels_the_siblings() {
    let child = CleanupChild::new();
    let parent = weft::spawn(async move {
        let ch = child.clone();
        let out = weft::task_group(|tg| async move {
            tg.spawn(ch.future()).unwrap().detach();
            tg.spawn(failing_child(2 * TICK, "late failure"))
                .unwrap()
                .detach();
            Ok(())
        })
        .await;
        assert!(child.cleaned.get());
        assert_eq!(panic_texts(&out.unwrap_err()), ["late failure"]);
        assert_eq!(my_cancelling(), 0);
        weft::sleep(TICK).await;
        1
    });
    assert_eq!(parent.await.unwrap(), 1);
}

/// Two children park on the same promise; the body (in the enclosing task or
/// in `block_on`) fires it, so both fail at once. Each catches a cancellation
/// too and fails anyway, so neither can be cancelled out of failing, whichever
/// the group sees first: both errors must come back.
async fn two_failures_scenario() {
    let gate = Promise::<()>::new();
    let (ra, rb, child) = (Flag::new(), Flag::new(), CleanupChild::new());
    let ch = child.clone();
    let out: Result<(), TaskGroupError> = weft::task_group(|tg| async move {
        let a = failing_on_gate(&gate, &ra, "a failed");
        tg.spawn(a).unwrap().detach();
        let b = failing_on_gate(&gate, &rb, "b failed");
        tg.spawn(b).unwrap().detach();
        tg.spawn(ch.future()).unwrap().detach();
        wait_until("every child to park", || {
            ra.get() && rb.get() && ch.reached.get()
        })
        .await;
        gate.set_result(()).unwrap();
        pending::<()>().await;
        unreachable!("the body ran on after the failures")
    })
    .await;
    let err = out.unwrap_err();
    assert_eq!(panic_texts(&err), ["a failed", "b failed"]);
    assert_eq!(err.errors().len(), 2, "the cancelled sibling is no error");
    assert!(child.cleaned.get());
    assert_eq!(my_cancelling(), 0);
}

// Spec: "... then returns all non-cancellation errors together (an error group)."
#[test]
fn two_children_failing_at_once_are_both_reported() {
    on_both_paths(two_failures_scenario);
}

// Spec: "The first child failure cancels ... the body" (only the innermost
// group's body: a failure in a nested group leaves the outer group alone).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_failure_in_a_nested_group_stops_only_the_inner_body() {
    let outer_sibling_done = Flag::new();
    let osd = outer_sibling_done.clone();
    let parent = weft::spawn(async move {
        weft::task_group(|outer| async move {
            outer
                .spawn(async move {
                    weft::sleep(4 * TICK).await;
                    osd.set();
                })
                .unwrap()
                .detach();
            let inner = weft::task_group(|tg| async move {
                tg.spawn(failing_child(TICK, "inner")).unwrap().detach();
                pending::<()>().await;
                Ok(())
            })
            .await;
            assert_eq!(panic_texts(&inner.unwrap_err()), ["inner"]);
            assert_eq!(my_cancelling(), 0);
            weft::sleep(TICK).await;
            Ok(9)
        })
        .await
    });
    assert_eq!(parent.await.unwrap().expect("the outer group failed"), 9);
    assert!(
        outer_sibling_done.get(),
        "the outer group's child was cut short"
    );
}

// Spec: "The first child failure cancels ... the body" (in block_on, not a
// task: there is nothing to cancel, so the body is dropped at its await).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn in_block_on_a_child_failure_drops_the_body_and_the_group_fails() {
    assert!(current_task().is_none());
    let (child, ran_on) = (CleanupChild::new(), Flag::new());
    let body_drops = DropCounter::new();
    let (g, ro, ch) = (body_drops.guard(), ran_on.clone(), child.clone());
    let out = weft::task_group(|tg| async move {
        let _g = g;
        tg.spawn(ch.future()).unwrap().detach();
        tg.spawn(failing_child(TICK, "dropped the body"))
            .unwrap()
            .detach();
        pending::<()>().await;
        ro.set();
        Ok(())
    })
    .await;
    assert_eq!(panic_texts(&out.unwrap_err()), ["dropped the body"]);
    assert_eq!(body_drops.get(), 1, "the body was not dropped");
    assert!(!ran_on.get());
    assert!(child.cleaned.get(), "returned before the sibling's cleanup");
}

// ----- a body error -----

async fn body_error_scenario() {
    let child = CleanupChild::new();
    let child_ref = Log::<TaskRef>::new();
    let (ch, c) = (child.clone(), child_ref.clone());
    let out: Result<(), _> = weft::task_group(|tg| async move {
        c.push(tg.spawn(ch.future()).unwrap().task_ref());
        ch.wait_parked("the child").await;
        Err(TaskError::failed(BodyFailed))
    })
    .await;
    let err = out.unwrap_err();
    assert_eq!(err.errors().len(), 1, "{:?}", err.errors());
    assert!(is_body_failed(&err.errors()[0]));
    assert!(child.cleaned.get(), "returned before the child's cleanup");
    assert!(child_ref.snapshot()[0].cancelled());
    assert_eq!(my_cancelling(), 0);
}

// Spec (task_group's docs; asyncio: an error in the `async with` body): "A body
// returning Err does the same" (aborts the children; its error is reported).
#[test]
fn a_body_returning_err_aborts_the_children_and_is_reported() {
    on_both_paths(body_error_scenario);
}

// Spec: "... returns all non-cancellation errors together" (children's first,
// then the body's).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_body_error_and_a_child_failure_are_reported_together() {
    let out = weft::spawn(async {
        weft::task_group(|tg| async move {
            tg.spawn(failing_child(TICK, "child")).unwrap().detach();
            match catch_cancel(pending::<()>()).await {
                Ok(()) => unreachable!(),
                // Stopped by the failure; the cleanup fails too.
                Err(_) => Err::<(), _>(TaskError::failed(BodyFailed)),
            }
        })
        .await
    })
    .await
    .unwrap();
    let errors = out.unwrap_err().into_errors();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(panic_text(&errors[0]), "child");
    assert!(is_body_failed(&errors[1]));
}

// ----- cancelling the parent from outside -----

// Spec: "Cancelling the parent from outside cancels and awaits the children,
// then reports Cancelled" (while the body runs).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_the_parent_during_the_body_cancels_awaits_children_and_reraises() {
    let (one, two, ran_on) = (CleanupChild::new(), CleanupChild::new(), Flag::new());
    let body_drops = DropCounter::new();
    let children = Log::<TaskRef>::new();
    let (a, b, ro, g, ch) = (
        one.future(),
        two.future(),
        ran_on.clone(),
        body_drops.guard(),
        children.clone(),
    );
    let parent = weft::spawn(async move {
        let _ = weft::task_group(|tg| async move {
            let _g = g;
            ch.push(tg.spawn(a).unwrap().task_ref());
            ch.push(tg.spawn(b).unwrap().task_ref());
            pending::<()>().await;
            Ok(())
        })
        .await;
        ro.set();
    });
    wait_until("the children to park", || {
        one.reached.get() && two.reached.get()
    })
    .await;
    weft::sleep(TICK).await;
    assert!(parent.cancel_with("stop"));
    let err = parent.await.unwrap_err();
    // Cleanup takes 2 ticks: done before the parent ended, or not awaited.
    let cleaned_when_parent_ended = (one.cleaned.get(), two.cleaned.get());
    assert_eq!(
        err.as_cancelled().expect("not Cancelled").message(),
        Some("stop")
    );
    assert_eq!(
        cleaned_when_parent_ended,
        (true, true),
        "children were not awaited"
    );
    assert!(children.snapshot().iter().all(TaskRef::cancelled));
    assert_eq!(body_drops.get(), 1);
    assert!(!ran_on.get(), "the caller ran past a cancelled task group");
}

// Spec: "Cancelling the parent from outside cancels and awaits the children,
// then reports Cancelled" (after the body returned, while the group waits).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_the_parent_while_the_group_waits_cancels_awaits_children_and_reraises() {
    let (child, ran_on) = (CleanupChild::new(), Flag::new());
    let children = Log::<TaskRef>::new();
    let (a, ro, ch) = (child.future(), ran_on.clone(), children.clone());
    let parent = weft::spawn(async move {
        let _ = weft::task_group(|tg| async move {
            ch.push(tg.spawn(a).unwrap().task_ref());
            ch.push(
                tg.spawn(weft::sleep(Duration::from_secs(60)))
                    .unwrap()
                    .task_ref(),
            );
            Ok(())
        })
        .await;
        ro.set();
    });
    child.wait_parked("the child").await;
    weft::sleep(TICK).await;
    assert!(!parent.done());
    assert!(parent.cancel_with("leave"));
    let err = parent.await.unwrap_err();
    let cleaned_when_parent_ended = child.cleaned.get();
    assert_eq!(
        err.as_cancelled().expect("not Cancelled").message(),
        Some("leave")
    );
    assert!(cleaned_when_parent_ended, "the child was not awaited");
    assert!(children.snapshot().iter().all(TaskRef::cancelled));
    assert!(!ran_on.get());
}

// Spec: "(errors raised during their cleanup win over Cancelled)": a child
// panics in its cancellation cleanup. As in asyncio (the ExceptionGroup leaves
// the `async with`), task_group returns the error; the outside request stays
// counted and, as in 3.13, stays requested: the task's next await is cancelled.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_child_cleanup_failure_wins_over_the_parents_cancellation() {
    let reached = Flag::new();
    let r = reached.clone();
    let seen = Log::new();
    let seen2 = seen.clone();
    let went_on = Flag::new();
    let went_on2 = went_on.clone();
    let parent = weft::spawn(async move {
        let out = weft::task_group(|tg| async move {
            tg.spawn(async move {
                r.set();
                if let Err(_c) = catch_cancel(pending::<()>()).await {
                    weft::sleep(TICK).await;
                    panic!("cleanup failed");
                }
            })
            .unwrap()
            .detach();
            pending::<()>().await;
            Ok(())
        })
        .await;
        seen2.push((out, my_cancelling()));
        // Still cancelled (asyncio 3.13): the next await is.
        weft::sleep(TICK).await;
        went_on2.set();
    });
    wait_until("the child to park", || reached.get()).await;
    weft::sleep(TICK).await;
    assert!(parent.cancel_with("outside"));
    let ended = parent.await.unwrap_err();
    let (out, cancelling) = seen.snapshot().pop().expect("task_group did not return");
    let err = out.expect_err("the group's error must win over the cancellation");
    assert_eq!(panic_texts(&err), ["cleanup failed"]);
    assert_eq!(cancelling, 1);
    assert_eq!(
        ended
            .as_cancelled()
            .expect("the outside cancellation was lost")
            .message(),
        Some("outside")
    );
    assert!(
        !went_on.get(),
        "the await after the group was not cancelled"
    );
}

// Spec: "(errors raised during their cleanup win over Cancelled)" (the body's
// own cleanup fails, while the group waits for a child).
// The group's `Err` is recorded before the task returns: the outside
// cancellation, requested again by the group (3.13), turns the task's return
// into a cancellation.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_body_cleanup_error_wins_over_the_parents_cancellation() {
    let child = CleanupChild::new();
    let ch = child.clone();
    let seen = Log::new();
    let seen2 = seen.clone();
    let parent = weft::spawn(async move {
        let a = ch.future();
        let out = weft::task_group(|tg| async move {
            tg.spawn(a).unwrap().detach();
            match catch_cancel(pending::<()>()).await {
                Ok(()) => unreachable!(),
                Err(_) => {
                    weft::yield_now().await;
                    Err::<(), _>(TaskError::failed(BodyFailed))
                }
            }
        })
        .await;
        assert!(ch.cleaned.get());
        seen2.push(out);
    });
    child.wait_parked("the child").await;
    weft::sleep(TICK).await;
    assert!(parent.cancel());
    assert!(parent.await.unwrap_err().is_cancelled());
    let out = seen.snapshot().pop().expect("task_group did not return");
    let err = out.expect_err("the body's error must win over the cancellation");
    assert_eq!(err.errors().len(), 1, "{:?}", err.errors());
    assert!(is_body_failed(&err.errors()[0]));
    assert!(child.cleaned.get());
}

// ----- spawning into a finished or aborting group -----

// Spec: "Spawning into a finished group -> error (the future is dropped unpolled)."
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn spawning_into_a_finished_group_fails_and_drops_the_future_unpolled() {
    let h = weft::Handle::current();
    let tg = finished_group().await;
    let (drops, polled) = (DropCounter::new(), Flag::new());
    let refused = refused_future(&drops, &polled);
    let spawned_before = h.metrics().spawned;
    let err = tg
        .spawn(refused)
        .expect_err("spawned into a finished group");
    assert!(err.is_finished() && !err.is_aborting());
    assert_eq!(drops.get(), 1, "the refused future was not dropped (once)");
    assert_eq!(
        h.metrics().spawned,
        spawned_before,
        "a task was spawned anyway"
    );
    weft::sleep(TICK).await;
    assert!(!polled.get(), "the refused future was polled");
    assert_eq!(drops.get(), 1);
    assert!(tg.is_empty());
}

// Spec: "Spawning into a finished group -> error" (from a task holding a clone,
// after the group finished).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_child_spawning_after_the_group_finished_is_refused() {
    let gate = Promise::<()>::new();
    let g = gate.clone();
    let refused = Promise::<bool>::new();
    let rf = refused.clone();
    let tg = finished_group().await;
    let (drops, polled) = (DropCounter::new(), Flag::new());
    let fut = refused_future(&drops, &polled);
    weft::spawn(async move {
        g.await.unwrap();
        let r = tg.spawn(fut);
        rf.set_result(r.is_err_and(|e| e.is_finished())).unwrap();
    })
    .detach();
    gate.set_result(()).unwrap();
    assert!(refused.await.unwrap());
    assert_eq!(drops.get(), 1);
    assert!(!polled.get());
}

// Spec: "Spawning into a finished group -> error" (and while aborting: the body
// in its cancellation cleanup, inside a task).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn spawning_from_the_body_while_the_group_aborts_is_refused() {
    let (drops, polled) = (DropCounter::new(), Flag::new());
    let refused = refused_future(&drops, &polled);
    let out = weft::spawn(async move {
        weft::task_group::<_, _, ()>(|tg| async move {
            tg.spawn(failing_child(TICK, "abort")).unwrap().detach();
            match catch_cancel(pending::<()>()).await {
                Ok(()) => unreachable!(),
                Err(c) => {
                    let err = tg
                        .spawn(refused)
                        .expect_err("spawned into an aborting group");
                    assert!(err.is_aborting() && !err.is_finished());
                    c.raise().await
                }
            }
        })
        .await
    })
    .await
    .unwrap();
    assert_eq!(panic_texts(&out.unwrap_err()), ["abort"]);
    weft::sleep(TICK).await;
    assert_eq!(drops.get(), 1);
    assert!(!polled.get());
}

/// A sibling's cleanup spawns while the group aborts after a failure.
async fn sibling_spawns_while_aborting_scenario() {
    let (drops, polled, reached, answered) =
        (DropCounter::new(), Flag::new(), Flag::new(), Flag::new());
    let refused = refused_future(&drops, &polled);
    let (rch, ans) = (reached.clone(), answered.clone());
    let out: Result<(), _> = weft::task_group(|tg| async move {
        let (tg2, r) = (tg.clone(), rch.clone());
        tg.spawn(async move {
            r.set();
            if let Err(c) = catch_cancel(pending::<()>()).await {
                let err = tg2
                    .spawn(refused)
                    .expect_err("spawned into an aborting group");
                assert!(err.is_aborting());
                ans.set();
                c.raise::<()>().await;
            }
        })
        .unwrap()
        .detach();
        wait_until("the sibling to park", || rch.get()).await;
        tg.spawn(failing_child(TICK, "abort")).unwrap().detach();
        pending::<()>().await;
        Ok(())
    })
    .await;
    assert_eq!(panic_texts(&out.unwrap_err()), ["abort"]);
    assert!(
        answered.get(),
        "the sibling's cleanup did not run to the end"
    );
    assert_eq!(drops.get(), 1);
    assert!(!polled.get());
}

// Spec: "Spawning into a finished group -> error" (while aborting: a sibling's
// cleanup spawns; on both paths, since in block_on the body is dropped).
#[test]
fn a_sibling_spawning_in_its_cleanup_while_the_group_aborts_is_refused() {
    on_both_paths(sibling_spawns_while_aborting_scenario);
}

// ----- asyncio 3.13: a child's error and an outside cancellation together -----

// CPython: test_taskgroups.py BaseTestTaskGroup.test_error_and_cancel
// A child fails while the task is being cancelled from outside: the group
// returns the error, the task still counts the outside request (1), and the
// request stands: the next await is cancelled and the task ends cancelled.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_child_error_with_an_outside_cancel_returns_the_error_and_the_task_stays_cancelled() {
    let event = Promise::<()>::new();
    let seen = Log::new();
    let (body_went_on, went_on) = (Flag::new(), Flag::new());
    let (ev, seen2, bwo, wo) = (
        event.clone(),
        seen.clone(),
        body_went_on.clone(),
        went_on.clone(),
    );
    let inner = weft::spawn(async move {
        let me = current_task().unwrap();
        let out = weft::task_group(|tg| async move {
            tg.spawn(async move {
                ev.set_result(()).unwrap();
                // Fails once the outside cancel() was made (asyncio's loop
                // order makes it arrive first), cancelled meanwhile or not.
                let _ = catch_cancel(wait_until("the outside cancel", move || {
                    me.cancelling() > 0
                }))
                .await;
                panic!("runtime error");
            })
            .unwrap()
            .detach();
            weft::sleep(Duration::from_secs(1)).await;
            bwo.set();
            Ok(())
        })
        .await;
        seen2.push((out, my_cancelling()));
        weft::sleep(Duration::from_secs(1)).await;
        wo.set();
    });
    let inner_ref = inner.task_ref();
    event.clone().await.unwrap();
    assert_eq!(inner_ref.cancelling(), 0);
    assert!(inner_ref.cancel());
    assert_eq!(inner_ref.cancelling(), 1);
    let ended = inner.await.unwrap_err();
    assert!(ended.is_cancelled(), "{ended:?}");
    assert!(inner_ref.cancelled());
    let (out, cancelling) = seen.snapshot().pop().expect("task_group did not return");
    assert_eq!(panic_texts(&out.unwrap_err()), ["runtime error"]);
    assert_eq!(cancelling, 1, "the outside cancellation is not counted");
    assert!(
        !body_went_on.get(),
        "the sleep in the group was not cancelled"
    );
    assert!(
        !went_on.get(),
        "the sleep after the group was not cancelled"
    );
}

// CPython: test_taskgroups.py BaseTestTaskGroup.test_cancelling_level_preserved
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_child_failure_leaves_the_cancel_count_where_it_was() {
    let t = weft::spawn(async {
        let out = weft::task_group(|tg| async move {
            tg.spawn(async {
                weft::sleep(Duration::ZERO).await;
                panic!("runtime error")
            })
            .unwrap()
            .detach();
            Ok(())
        })
        .await;
        assert_eq!(panic_texts(&out.unwrap_err()), ["runtime error"]);
        my_cancelling()
    });
    assert_eq!(t.await.unwrap(), 0);
}

// CPython: test_taskgroups.py BaseTestTaskGroup.test_nested_groups_both_cancelled
// Both groups of one task see a child fail (the outer group's first). The
// inner group returns its error with the outer group's request still counted
// (1); the outer group then takes its own back (0).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn nested_groups_both_failing_leave_the_count_at_one_then_zero() {
    let t = weft::spawn(async {
        let out = weft::task_group(|outer| async move {
            let inner_out = weft::task_group(|inner| async move {
                let value_error = outer
                    .spawn(async { panic!("value error") })
                    .unwrap()
                    .task_ref();
                inner
                    .spawn(async move {
                        let _ = catch_cancel(common::wait_done(&value_error)).await;
                        panic!("runtime error");
                    })
                    .unwrap()
                    .detach();
                pending::<()>().await;
                Ok(())
            })
            .await;
            assert_eq!(panic_texts(&inner_out.unwrap_err()), ["runtime error"]);
            assert_eq!(my_cancelling(), 1);
            Ok(())
        })
        .await;
        assert_eq!(panic_texts(&out.unwrap_err()), ["value error"]);
        my_cancelling()
    });
    assert_eq!(t.await.unwrap(), 0);
}

// CPython: test_taskgroups.py BaseTestTaskGroup.test_cancellation_does_not_leak_out_of_tg
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_failed_group_leaves_no_cancellation_behind() {
    let t = weft::spawn(async {
        let out = weft::task_group(|tg| async move {
            tg.spawn(async { panic!("my error") }).unwrap().detach();
            Ok(())
        })
        .await;
        assert_eq!(panic_texts(&out.unwrap_err()), ["my error"]);
        weft::yield_now().await;
        "went on"
    });
    assert_eq!(t.await.unwrap(), "went on");
}

// CPython: test_taskgroups.py BaseTestTaskGroup.test_taskgroup_context_manager_exit_raises
// A child fails and the body's own cleanup (a context manager's exit) fails
// too: both errors come back and the task is left uncancelled.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_child_error_and_a_failing_body_cleanup_both_come_back_and_nothing_is_cancelled() {
    let t = weft::spawn(async {
        let out = weft::task_group(|tg| async move {
            tg.spawn(async { panic!("custom exception") })
                .unwrap()
                .detach();
            let _ = catch_cancel(weft::sleep(Duration::from_secs(1))).await;
            Err::<(), _>(TaskError::failed(BodyFailed))
        })
        .await;
        let err = out.unwrap_err();
        assert_eq!(err.errors().len(), 2, "{:?}", err.errors());
        assert_eq!(panic_text(&err.errors()[0]), "custom exception");
        assert!(is_body_failed(&err.errors()[1]));
        my_cancelling()
    });
    assert_eq!(t.await.unwrap(), 0);
}

// CPython: test_taskgroups.py BaseTestTaskGroup.test_taskgroup_08
// Cancelled from outside while five children fail in their cleanup: the group
// returns their errors (3.13: the ExceptionGroup, not CancelledError). asyncio
// raises that group out of the task; a weft task returns, and the outside
// cancellation, requested again by the group, ends it cancelled.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelled_from_outside_while_children_fail_in_cleanup_returns_their_errors() {
    let parked = Log::<()>::new();
    let seen = Log::new();
    let (p, seen2) = (parked.clone(), seen.clone());
    let r = weft::spawn(async move {
        let out = weft::task_group(|tg| async move {
            for _ in 0..5 {
                let p = p.clone();
                tg.spawn(async move {
                    p.push(());
                    let _ = catch_cancel(weft::sleep(Duration::from_secs(10))).await;
                    panic!("zero division");
                })
                .unwrap()
                .detach();
            }
            weft::sleep(Duration::from_secs(10)).await;
            Ok(())
        })
        .await;
        seen2.push(out);
    });
    wait_until("the children to park", || parked.len() == 5).await;
    assert!(!r.done());
    assert!(r.cancel());
    assert!(r.await.unwrap_err().is_cancelled());
    let out = seen.snapshot().pop().expect("task_group did not return");
    assert_eq!(panic_texts(&out.unwrap_err()), ["zero division"; 5]);
}

// CPython: test_taskgroups.py BaseTestTaskGroup.test_taskgroup_15
// The body intercepts an outside cancellation and cleans up; a child fails
// during that cleanup: the group stops the cleanup, returns the error, and
// the task stays cancelled.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_child_failing_during_the_bodys_cancellation_cleanup_returns_its_error() {
    let (parked, cleaned) = (Flag::new(), Flag::new());
    let seen = Log::new();
    let (p, c, seen2) = (parked.clone(), cleaned.clone(), seen.clone());
    let r = weft::spawn(async move {
        let out = weft::task_group(|tg| async move {
            tg.spawn(failing_child(Duration::from_millis(300), "zero division"))
                .unwrap()
                .detach();
            p.set();
            if let Err(cancelled) = catch_cancel(weft::sleep(Duration::from_secs(10))).await {
                weft::sleep(Duration::from_millis(500)).await;
                c.set();
                return cancelled.raise().await;
            }
            Ok(())
        })
        .await;
        seen2.push(out);
    });
    wait_until("the body to start", || parked.get()).await;
    weft::sleep(Duration::from_millis(100)).await;
    assert!(!r.done());
    assert!(r.cancel());
    assert!(r.await.unwrap_err().is_cancelled());
    let out = seen.snapshot().pop().expect("task_group did not return");
    assert_eq!(panic_texts(&out.unwrap_err()), ["zero division"]);
    assert!(
        !cleaned.get(),
        "the child's failure did not stop the body's cleanup"
    );
}

// CPython: test_taskgroups.py BaseTestTaskGroup.test_taskgroup_18
// The body turns an outside cancellation into an error: the group returns it,
// and the task stays cancelled.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_body_turning_the_outside_cancellation_into_an_error_returns_it() {
    let (parked, caught) = (Flag::new(), Flag::new());
    let seen = Log::new();
    let (p, c, seen2) = (parked.clone(), caught.clone(), seen.clone());
    let r = weft::spawn(async move {
        let out = weft::task_group(|_tg| async move {
            p.set();
            match catch_cancel(weft::sleep(Duration::from_secs(10))).await {
                Ok(()) => Ok(()),
                Err(_) => {
                    c.set();
                    Err(TaskError::failed(BodyFailed))
                }
            }
        })
        .await;
        seen2.push((out, my_cancelling()));
    });
    wait_until("the body to start", || parked.get()).await;
    weft::sleep(TICK).await;
    assert!(r.cancel());
    assert!(r.await.unwrap_err().is_cancelled());
    let (out, cancelling) = seen.snapshot().pop().expect("task_group did not return");
    let err = out.unwrap_err();
    assert_eq!(err.errors().len(), 1);
    assert!(is_body_failed(&err.errors()[0]));
    assert_eq!(cancelling, 1);
    assert!(caught.get());
}

/// asyncio's test_taskgroup_11 and _12: an outer group (with `outer_child`
/// spawned into it, if any) around an inner group whose five children fail
/// in their cleanup; the task is cancelled from outside. The inner group's
/// error, returned by the outer body, comes back inside the outer group's
/// (an ExceptionGroup in an ExceptionGroup), and the task stays cancelled.
async fn nested_groups_cancelled_from_outside(outer_child: bool) {
    let parked = Log::<()>::new();
    let seen = Log::new();
    let (p, seen2) = (parked.clone(), seen.clone());
    let r = weft::spawn(async move {
        let out = weft::task_group(|g1| async move {
            if outer_child {
                g1.spawn(weft::sleep(Duration::from_secs(10)))
                    .unwrap()
                    .detach();
            }
            weft::task_group(|g2| async move {
                for _ in 0..5 {
                    let p = p.clone();
                    g2.spawn(async move {
                        p.push(());
                        let _ = catch_cancel(weft::sleep(Duration::from_secs(10))).await;
                        panic!("zero division");
                    })
                    .unwrap()
                    .detach();
                }
                weft::sleep(Duration::from_secs(10)).await;
                Ok(())
            })
            .await
            .map_err(TaskError::failed)
        })
        .await;
        seen2.push(out);
    });
    wait_until("the children to park", || parked.len() == 5).await;
    assert!(!r.done());
    assert!(r.cancel());
    assert!(r.await.unwrap_err().is_cancelled());
    let err = seen
        .snapshot()
        .pop()
        .expect("task_group did not return")
        .unwrap_err();
    assert_eq!(err.errors().len(), 1, "{:?}", err.errors());
    let TaskError::Failed(inner) = &err.errors()[0] else {
        panic!("not the inner group's error: {:?}", err.errors()[0]);
    };
    let inner = inner
        .downcast_ref::<TaskGroupError>()
        .expect("not the inner group's error");
    assert_eq!(panic_texts(inner), ["zero division"; 5]);
}

// CPython: test_taskgroups.py BaseTestTaskGroup.test_taskgroup_11
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn nested_groups_cancelled_from_outside_return_the_inner_errors_nested() {
    nested_groups_cancelled_from_outside(false).await;
}

// CPython: test_taskgroups.py BaseTestTaskGroup.test_taskgroup_12
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn nested_groups_with_an_outer_child_cancelled_from_outside_return_the_inner_errors_nested() {
    nested_groups_cancelled_from_outside(true).await;
}
