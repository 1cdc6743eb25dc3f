//! Task cancellation (ASYNCIO.md, "Task"): `cancel()` / `cancelling()` /
//! `cancelled()`, cancelling before the first poll, propagation down await
//! chains (tasks and promises), interception with `weft::catch_cancel`,
//! re-raising, messages, `uncancel()`, and destructors as `finally`.
//!
//! Where a test needs a cancel request to sit undelivered, it runs inside a task
//! on a one-worker runtime: the target cannot run until that task yields.

mod common;

use common::{block_on, cancel_message, wait_done, wait_until, DropCounter, Flag};
use std::future::pending;
use std::time::Duration;
use weft::{catch_cancel, Cancelled, Promise, Task, TaskError, TaskRef};

/// A task that signals it reached its await point, then waits forever. Holds a
/// guard from `drops` in its state.
fn parked_task(reached: &Flag, drops: &DropCounter) -> Task<()> {
    let (r, g) = (reached.clone(), drops.guard());
    weft::spawn(async move {
        let _finally = g;
        r.set();
        pending::<()>().await;
    })
}

// ----- cancel() / cancelling() / cancelled() -----

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancel_on_a_done_task_returns_false_and_changes_nothing() {
    let t = weft::spawn(async { 1 });
    let r = t.task_ref();
    assert_eq!(t.await.unwrap(), 1);
    assert!(!r.cancel());
    assert!(!r.cancel_with("too late"));
    assert_eq!(r.cancelling(), 0, "a refused cancel() must not count");
    assert!(!r.cancelled());
    assert!(r.exception().unwrap().is_none());

    // A cancelled task cannot be cancelled again; its message stays.
    let t = weft::spawn(pending::<()>());
    let r = t.task_ref();
    assert!(t.cancel_with("first"));
    assert_eq!(
        cancel_message(&t.await.unwrap_err()).as_deref(),
        Some("first")
    );
    assert!(!r.cancel_with("second"));
    assert_eq!(r.cancelling(), 1);
    let e = r.exception().unwrap().unwrap();
    assert_eq!(cancel_message(&e).as_deref(), Some("first"));

    // Nor can a task that panicked.
    let t = weft::spawn(async {
        if std::hint::black_box(true) {
            panic!("p");
        }
    });
    let r = t.task_ref();
    assert!(t.await.unwrap_err().is_panic());
    assert!(!r.cancel());
    assert!(!r.cancelled());
}

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancel_on_a_pending_task_returns_true_and_each_call_counts() {
    weft::spawn(async {
        let (reached, drops) = (Flag::new(), DropCounter::new());
        let t = parked_task(&reached, &drops);
        wait_until("the task to park", || reached.get()).await;
        assert_eq!(t.cancelling(), 0);
        assert!(t.cancel());
        assert_eq!(t.cancelling(), 1);
        assert!(t.cancel());
        assert!(t.cancel_with("third"));
        assert_eq!(t.cancelling(), 3);
        // Requested, not delivered: the only worker is running us.
        assert!(!t.cancelled(), "cancelled() before the task ended");
        assert!(!t.done());
        assert_eq!(drops.get(), 0);
        let r = t.task_ref();
        let err = t.await.unwrap_err();
        assert!(err.is_cancelled());
        assert!(r.cancelled() && r.done());
        assert_eq!(r.cancelling(), 3);
        assert_eq!(drops.get(), 1);
    })
    .await
    .unwrap();
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelled_is_false_while_a_requested_task_is_still_running() {
    let started = Flag::new();
    let s = started.clone();
    let t = weft::spawn(async move {
        let me = weft::current_task().unwrap();
        s.set();
        // Busy, without awaiting, until someone asks us to stop.
        let start = std::time::Instant::now();
        while me.cancelling() == 0 {
            assert!(start.elapsed() < Duration::from_secs(20));
            std::hint::spin_loop();
        }
        let seen_inside = (me.cancelled(), me.done());
        weft::yield_now().await; // the request is delivered here
        unreachable!("ran past a cancelled await: {seen_inside:?}");
    });
    let r = t.task_ref();
    wait_until("the task to start", || started.get()).await;
    assert!(t.cancel());
    assert!(
        !r.cancelled(),
        "cancelled() while the task is still running"
    );
    assert!(t.await.unwrap_err().is_cancelled());
    assert!(r.cancelled());
}

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancelled_before_the_first_poll_the_body_never_runs_and_the_message_is_kept() {
    weft::spawn(async {
        let ran = Flag::new();
        let drops = DropCounter::new();
        let (r, g) = (ran.clone(), drops.guard());
        let t = weft::spawn(async move {
            let _g = g;
            r.set();
            1
        });
        assert!(t.cancel_with("too early"));
        let tr = t.task_ref();
        let err = t.await.unwrap_err();
        assert_eq!(cancel_message(&err).as_deref(), Some("too early"));
        assert!(
            !ran.get(),
            "the body of a task cancelled before its first poll ran"
        );
        assert_eq!(drops.get(), 1, "the unpolled future was not dropped");
        assert!(tr.cancelled());

        // The same through result() and exception().
        let ran = Flag::new();
        let r = ran.clone();
        let mut t = weft::spawn(async move { r.set() });
        assert!(t.cancel_with("early again"));
        wait_done(&t).await;
        let e = t.exception().unwrap().expect("an exception");
        assert_eq!(cancel_message(&e).as_deref(), Some("early again"));
        let e = t.result().unwrap().unwrap_err();
        assert_eq!(cancel_message(&e).as_deref(), Some("early again"));
        assert!(!ran.get());
    })
    .await
    .unwrap();
}

// ----- propagation down await chains -----

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_a_task_that_awaits_another_task_cancels_that_task_too() {
    let (reached, drops) = (Flag::new(), DropCounter::new());
    let inner_ref = Promise::<TaskRef>::new();
    let (ir, rch, drp) = (inner_ref.clone(), reached.clone(), drops.clone());
    let outer = weft::spawn(async move {
        let inner = parked_task(&rch, &drp);
        ir.set_result(inner.task_ref()).unwrap();
        inner.await
    });
    let inner = inner_ref.await.unwrap();
    wait_until("the inner task to park", || reached.get()).await;
    for _ in 0..10 {
        weft::yield_now().await; // let the outer task reach its await
    }
    assert!(outer.cancel_with("down the chain"));
    let err = outer.await.unwrap_err();
    assert_eq!(cancel_message(&err).as_deref(), Some("down the chain"));
    wait_done(&inner).await;
    assert!(inner.cancelled(), "the awaited task was not cancelled");
    let e = inner.exception().unwrap().unwrap();
    assert_eq!(cancel_message(&e).as_deref(), Some("down the chain"));
    assert_eq!(drops.get(), 1);
}

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancellation_propagates_down_a_chain_of_three_tasks() {
    let (reached, drops) = (Flag::new(), DropCounter::new());
    let b_ref = Promise::<TaskRef>::new();
    let c_ref = Promise::<TaskRef>::new();
    let (bp, cp, rch, drp) = (b_ref.clone(), c_ref.clone(), reached.clone(), drops.clone());
    let (a_drops, b_drops) = (drops.guard(), drops.guard());
    // A awaits B awaits C; C waits forever.
    let a = weft::spawn(async move {
        let _a = a_drops;
        let b = weft::spawn(async move {
            let _b = b_drops;
            let c = parked_task(&rch, &drp);
            cp.set_result(c.task_ref()).unwrap();
            c.await
        });
        bp.set_result(b.task_ref()).unwrap();
        b.await
    });
    let (b, c) = (b_ref.await.unwrap(), c_ref.await.unwrap());
    wait_until("C to park", || reached.get()).await;
    assert!(!a.done() && !b.done() && !c.done());
    assert!(a.cancel_with("chain"));
    let err = a.await.unwrap_err();
    assert_eq!(cancel_message(&err).as_deref(), Some("chain"));
    for t in [&b, &c] {
        wait_done(t).await;
        assert!(t.cancelled(), "{t:?} was not cancelled");
        assert_eq!(
            cancel_message(&t.exception().unwrap().unwrap()).as_deref(),
            Some("chain")
        );
        assert_eq!(t.cancelling(), 1);
    }
    assert_eq!(drops.get(), 3, "every future in the chain must be dropped");
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_a_task_that_awaits_a_promise_cancels_the_promise() {
    let p = Promise::<u32>::new();
    let reached = Flag::new();
    let (p1, r) = (p.clone(), reached.clone());
    let t = weft::spawn(async move {
        r.set();
        p1.await
    });
    // Another awaiter of the same promise.
    let p2 = p.clone();
    let other = weft::spawn(async move { p2.wait().await });
    wait_until("the task to await the promise", || reached.get()).await;
    for _ in 0..10 {
        weft::yield_now().await;
    }
    assert!(t.cancel_with("stop waiting"));
    let err = t.await.unwrap_err();
    assert_eq!(cancel_message(&err).as_deref(), Some("stop waiting"));
    assert!(
        p.done() && p.cancelled(),
        "the awaited promise was not cancelled"
    );
    let e = p.exception().unwrap().unwrap();
    assert_eq!(cancel_message(&e).as_deref(), Some("stop waiting"));
    // As in asyncio, everyone awaiting that promise sees the cancellation.
    let e = other.await.unwrap().unwrap_err();
    assert!(e.is_cancelled());
    // And it cannot be settled any more.
    assert!(p.set_result(1).is_err());
}

// ----- interception -----

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_task_that_intercepts_and_returns_a_value_is_not_cancelled() {
    let reached = Flag::new();
    let drops = DropCounter::new();
    let (r, d) = (reached.clone(), drops.clone());
    let t = weft::spawn(async move {
        let g = d.guard();
        let guarded = async move {
            let _g = g;
            pending::<()>().await
        };
        r.set();
        match catch_cancel(guarded).await {
            Ok(()) => 0,
            Err(c) => {
                // The intercepted future was dropped before we got here.
                assert_eq!(d.get(), 1);
                assert_eq!(c.message(), Some("please stop"));
                42
            }
        }
    });
    let r = t.task_ref();
    wait_until("the task to reach catch_cancel", || reached.get()).await;
    for _ in 0..10 {
        weft::yield_now().await;
    }
    assert!(t.cancel_with("please stop"));
    assert_eq!(
        t.await.unwrap(),
        42,
        "the intercepted task's value was lost"
    );
    assert!(!r.cancelled());
    assert!(r.exception().unwrap().is_none());
    // The request is still counted until uncancel(), as in asyncio.
    assert_eq!(r.cancelling(), 1);
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn after_intercepting_the_next_await_is_not_cancelled() {
    let reached = Flag::new();
    let cleaning = Flag::new();
    let cleanup_gate = Promise::<u32>::new();
    let (r, c, gate) = (reached.clone(), cleaning.clone(), cleanup_gate.clone());
    let t = weft::spawn(async move {
        r.set();
        match catch_cancel(pending::<()>()).await {
            Ok(()) => unreachable!(),
            Err(_) => {
                c.set();
                // Awaits after interception complete normally.
                let v = gate.await.expect("cleanup await was cancelled");
                weft::yield_now().await;
                let helper = weft::spawn(async { 10 });
                v + helper.await.expect("cleanup task was cancelled")
            }
        }
    });
    let r = t.task_ref();
    wait_until("the task to reach catch_cancel", || reached.get()).await;
    for _ in 0..10 {
        weft::yield_now().await;
    }
    assert!(t.cancel());
    wait_until("the cleanup to start", || cleaning.get()).await;
    for _ in 0..20 {
        weft::yield_now().await;
    }
    assert!(!r.done(), "the cleanup await was cut short");
    assert!(
        !cleanup_gate.done(),
        "the promise awaited in cleanup was cancelled"
    );
    cleanup_gate.set_result(5).unwrap();
    assert_eq!(t.await.unwrap(), 15);
    assert!(!r.cancelled());
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn intercept_clean_up_then_raise_ends_cancelled_with_the_message() {
    let reached = Flag::new();
    let cleaned = Flag::new();
    let after_raise = Flag::new();
    let (r, c, a) = (reached.clone(), cleaned.clone(), after_raise.clone());
    let t = weft::spawn(async move {
        r.set();
        if let Err(cancelled) = catch_cancel(pending::<()>()).await {
            // Cleanup that awaits: a child task and a yield.
            let flush = weft::spawn(async { weft::yield_now().await });
            flush.await.expect("cleanup child was cancelled");
            weft::yield_now().await;
            c.set();
            let out: u32 = cancelled.raise().await;
            a.set();
            return out;
        }
        0
    });
    let r = t.task_ref();
    wait_until("the task to reach catch_cancel", || reached.get()).await;
    for _ in 0..10 {
        weft::yield_now().await;
    }
    assert!(t.cancel_with("bye"));
    let err = t.await.unwrap_err();
    assert_eq!(cancel_message(&err).as_deref(), Some("bye"));
    assert!(cleaned.get(), "the cleanup did not run to its end");
    assert!(!after_raise.get(), "code after raise() ran");
    assert!(r.cancelled());
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn nested_catch_cancel_the_innermost_catches() {
    // The innermost wrapper catches; the outer one sees a normal value.
    let reached = Flag::new();
    let r = reached.clone();
    let t = weft::spawn(async move {
        let outer = catch_cancel(async move {
            r.set();
            match catch_cancel(pending::<()>()).await {
                Err(c) => format!("inner caught {:?}", c.message()),
                Ok(()) => unreachable!(),
            }
        })
        .await;
        match outer {
            Ok(s) => s,
            Err(_) => "outer caught".to_owned(),
        }
    });
    wait_until("the task to park", || reached.get()).await;
    for _ in 0..10 {
        weft::yield_now().await;
    }
    t.cancel_with("m");
    assert_eq!(t.await.unwrap(), "inner caught Some(\"m\")");

    // The inner one re-raises: the outer one catches that.
    let reached = Flag::new();
    let inner_caught = Flag::new();
    let (r, ic) = (reached.clone(), inner_caught.clone());
    let t = weft::spawn(async move {
        let outer = catch_cancel(async move {
            r.set();
            if let Err(c) = catch_cancel(pending::<()>()).await {
                ic.set();
                c.raise::<()>().await;
            }
            unreachable!()
        })
        .await;
        match outer {
            Ok(()) => unreachable!(),
            Err(c) => format!("outer caught {:?}", c.message()),
        }
    });
    let tr = t.task_ref();
    wait_until("the task to park", || reached.get()).await;
    for _ in 0..10 {
        weft::yield_now().await;
    }
    t.cancel_with("again");
    assert_eq!(t.await.unwrap(), "outer caught Some(\"again\")");
    assert!(inner_caught.get());
    assert!(!tr.cancelled());

    // Once the inner wrapper is gone, the outer one is the innermost.
    let (reached, stage) = (Flag::new(), Flag::new());
    let (r, s) = (reached.clone(), stage.clone());
    let t = weft::spawn(async move {
        let outer = catch_cancel(async move {
            r.set();
            let first = catch_cancel(pending::<()>()).await.unwrap_err();
            s.set();
            pending::<()>().await;
            first
        })
        .await;
        let second = outer.unwrap_err();
        (first_message(&second), "outer")
    });
    wait_until("the task to park", || reached.get()).await;
    for _ in 0..10 {
        weft::yield_now().await;
    }
    let tr = t.task_ref();
    t.cancel_with("one");
    wait_until("the inner wrapper to catch", || stage.get()).await;
    assert!(!tr.done());
    t.cancel_with("two");
    assert_eq!(t.await.unwrap(), (Some("two".to_owned()), "outer"));
    assert_eq!(tr.cancelling(), 2);
}

fn first_message(c: &Cancelled) -> Option<String> {
    c.message().map(str::to_owned)
}

// ----- messages -----

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn the_cancel_message_is_visible_through_await_result_and_exception() {
    let (reached, drops) = (Flag::new(), DropCounter::new());
    let mut t = parked_task(&reached, &drops);
    wait_until("the task to park", || reached.get()).await;
    assert!(t.cancel_with("the reason"));
    wait_done(&t).await;
    let e = t.exception().unwrap().unwrap();
    assert_eq!(cancel_message(&e).as_deref(), Some("the reason"));
    assert_eq!(e.to_string(), "task cancelled: the reason");
    let e = t.result().unwrap().unwrap_err();
    assert_eq!(e.as_cancelled().unwrap().message(), Some("the reason"));

    // Through await, and without a message.
    let (reached, drops) = (Flag::new(), DropCounter::new());
    let t = parked_task(&reached, &drops);
    wait_until("the task to park", || reached.get()).await;
    assert!(t.cancel());
    let e = t.await.unwrap_err();
    assert_eq!(cancel_message(&e), None);
    assert_eq!(e.to_string(), "task cancelled");
    assert_eq!(e.as_cancelled(), Some(&Cancelled::new()));
}

// ----- self-cancellation and uncancel() -----

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_task_that_cancels_itself_and_returns_ends_cancelled() {
    let t = weft::spawn(async {
        assert!(weft::current_task().unwrap().cancel_with("self"));
        7
    });
    let e = t.await.unwrap_err();
    assert_eq!(cancel_message(&e).as_deref(), Some("self"));
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn uncancel_never_goes_below_zero_and_returns_what_is_left() {
    // Pinned to this thread's loop, which runs it only when this body
    // awaits: a worker could otherwise end it between two `cancel()`s,
    // and a done task's `cancel()` adds nothing.
    let t = weft::spawn_local(pending::<()>());
    assert_eq!(t.uncancel(), 0);
    assert_eq!(t.cancelling(), 0);
    assert_eq!(t.uncancel(), 0);
    assert_eq!(t.cancelling(), 0);
    t.cancel();
    t.cancel();
    assert_eq!(t.cancelling(), 2);
    t.cancel();
    assert_eq!(t.uncancel(), 2);
    assert_eq!(t.cancelling(), 2);
    // Two requests remain: the task still ends cancelled.
    assert!(t.await.unwrap_err().is_cancelled());
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn uncancel_to_zero_withdraws_a_pending_request() {
    let t = weft::spawn(async {
        let me = weft::current_task().unwrap();
        assert!(me.cancel());
        assert_eq!(me.cancelling(), 1);
        assert_eq!(me.uncancel(), 0);
        weft::yield_now().await; // would be cancelled here without uncancel
        weft::yield_now().await;
        assert_eq!(me.uncancel(), 0, "uncancel went below zero");
        assert_eq!(me.cancelling(), 0);
        "survived"
    });
    let r = t.task_ref();
    assert_eq!(t.await.unwrap(), "survived");
    assert!(!r.cancelled());
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn uncancel_that_leaves_requests_does_not_withdraw() {
    let t = weft::spawn(async {
        let me = weft::current_task().unwrap();
        me.cancel_with("a");
        me.cancel_with("b");
        assert_eq!(me.uncancel(), 1);
        weft::yield_now().await;
        "survived"
    });
    let e = t.await.unwrap_err();
    assert_eq!(cancel_message(&e).as_deref(), Some("b"));
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn after_intercepting_uncancel_brings_cancelling_back_to_zero() {
    let reached = Flag::new();
    let r = reached.clone();
    let t = weft::spawn(async move {
        r.set();
        let me = weft::current_task().unwrap();
        let caught = catch_cancel(pending::<()>()).await.is_err();
        let before = me.cancelling();
        let left = me.uncancel();
        // Not cancelled any more: awaiting goes on normally.
        weft::yield_now().await;
        (caught, before, left)
    });
    wait_until("the task to park", || reached.get()).await;
    for _ in 0..10 {
        weft::yield_now().await;
    }
    let tr = t.task_ref();
    t.cancel();
    assert_eq!(t.await.unwrap(), (true, 1, 0));
    assert_eq!(tr.cancelling(), 0);
    assert!(!tr.cancelled());
}

// ----- destructors are the `finally` -----

/// Records the id of the task it is dropped in.
struct RecordDropTask(Promise<Option<u64>>);

impl Drop for RecordDropTask {
    fn drop(&mut self) {
        let _ = self
            .0
            .set_result(weft::current_task().map(|t| t.id().as_u64()));
    }
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn destructors_of_a_cancelled_future_run() {
    let drops = DropCounter::new();
    let reached = Flag::new();
    let dropped_in = Promise::<Option<u64>>::new();
    let (g1, g2, g3, r) = (drops.guard(), drops.guard(), drops.guard(), reached.clone());
    let recorder = RecordDropTask(dropped_in.clone());
    let t = weft::spawn(async move {
        let _outer = g1;
        let _recorder = recorder;
        let left = async move {
            let _g = g2;
            pending::<()>().await
        };
        let right = async move {
            let _g = g3;
            r.set();
            pending::<()>().await
        };
        futures_util::future::join(left, right).await;
    });
    let id = t.id().as_u64();
    wait_until("the task to park", || reached.get()).await;
    assert_eq!(drops.get(), 0);
    t.cancel();
    assert!(t.await.unwrap_err().is_cancelled());
    // Every destructor ran before the awaiter learned of the cancellation.
    assert_eq!(drops.get(), 3);
    // And they ran inside the task, like a `finally` block.
    assert_eq!(dropped_in.result().unwrap().unwrap(), Some(id));
}

struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("cleanup failed");
    }
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_panic_during_cancellation_cleanup_wins_over_the_cancellation() {
    let reached = Flag::new();
    let r = reached.clone();
    let t = weft::spawn(async move {
        let _bomb = PanicOnDrop;
        r.set();
        pending::<()>().await;
    });
    let tr = t.task_ref();
    wait_until("the task to park", || reached.get()).await;
    t.cancel();
    match t.await.unwrap_err() {
        TaskError::Panicked(p) => assert_eq!(p.message(), "cleanup failed"),
        other => panic!("expected the cleanup panic, got {other:?}"),
    }
    assert!(!tr.cancelled());
    // The runtime survived the panicking destructor.
    assert_eq!(weft::spawn(async { 1 }).await.unwrap(), 1);
}

// ----- races and stale state -----

#[test]
fn cancel_returning_true_means_the_task_ends_cancelled_even_when_racing_completion() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    // The task finishes right as cancel() is called from another thread. Each
    // round either cancel() wins (true: the task must end Cancelled, since it
    // does not intercept) or completion wins (false: the value). The delay
    // before cancel() sweeps across the task's last poll. Stops at the first
    // broken round; bounded in time, since the busy-waits slow down a lot on a
    // loaded machine.
    let broken = block_on(2, |_| async {
        let since = std::time::Instant::now();
        for round in 0..20_000u32 {
            if since.elapsed() > Duration::from_secs(10) {
                break;
            }
            let (go, started) = (
                Arc::new(AtomicBool::new(false)),
                Arc::new(AtomicBool::new(false)),
            );
            let (g, s) = (go.clone(), started.clone());
            let t = weft::spawn(async move {
                s.store(true, Ordering::SeqCst);
                while !g.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
                round
            });
            let tr = t.task_ref();
            while !started.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
            go.store(true, Ordering::SeqCst);
            for _ in 0..(round % 400) {
                std::hint::spin_loop();
            }
            let accepted = tr.cancel();
            let out = t.await;
            match (accepted, &out) {
                (true, Err(e)) if e.is_cancelled() => assert!(tr.cancelled()),
                (false, Ok(v)) => assert_eq!(*v, round),
                _ => {
                    let out = out.map_err(|e| e.to_string());
                    return Some((round, accepted, out, tr.cancelled(), tr.cancelling()));
                }
            }
        }
        None
    });
    assert!(
        broken.is_none(),
        "(round, cancel() returned, outcome, cancelled(), cancelling()) = {broken:?}"
    );
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_handle_that_is_no_longer_awaited_is_not_cancelled_with_its_holder() {
    let gate = Promise::<()>::new();
    let child_finished = Flag::new();
    let (g, f) = (gate.clone(), child_finished.clone());
    let child = weft::spawn(async move {
        g.await.unwrap();
        f.set();
    });
    let child_ref = child.task_ref();
    let parked = Flag::new();
    let p = parked.clone();
    let parent = weft::spawn(async move {
        let mut child = child;
        // Wait for the child a little (as with a timeout), then give up
        // waiting but keep the handle.
        let raced = futures_util::future::select(&mut child, weft::yield_now()).await;
        assert!(matches!(raced, futures_util::future::Either::Right(_)));
        // One more task poll without polling `child`: from then on the task
        // is no longer awaiting it (a leaf counts as awaited while it was
        // pending in the task's latest poll).
        weft::yield_now().await;
        p.set();
        // Cancelled here, while awaiting something that is not the child.
        pending::<()>().await;
        drop(child);
    });
    wait_until("the parent to park", || parked.get()).await;
    assert!(parent.cancel());
    assert!(parent.await.unwrap_err().is_cancelled());
    // The child was not being awaited: as in asyncio, it runs on.
    assert!(
        !child_ref.cancelled(),
        "the child was cancelled with its holder"
    );
    assert!(!gate.done(), "the promise the child awaits was cancelled");
    gate.set_result(()).unwrap();
    wait_done(&child_ref).await;
    assert!(child_finished.get());
}
