//! `wait_for` and timeout scopes (ASYNCIO.md, "wait_for / timeout"): plain
//! awaits and zero timeouts, expiry that cancels the work and waits for its
//! cleanup, swallowed cancellations, errors raised during cleanup, cancelling
//! `wait_for` itself, `expired` / `when` / `reschedule` / `timeout_at` /
//! `Timeout::unbounded`, nested scopes, outside cancellations, the drop path
//! outside a task, and timers that must not leak.
//!
//! Inside a spawned task a scope stops its block by cancelling the task and
//! intercepting that cancellation (asyncio 3.11's `cancelling` / `uncancel`);
//! in `block_on` (no task) it drops the block at the deadline. Both are tested.
//!
//! Timing assertions are only "never early" or orderings with wide margins; a
//! 60 s sleep stands for "forever".

mod common;

use common::{
    block_on, cancel_message, ms, poll_once, spawn_started, wait_done, wait_until, yield_times,
    DropCounter, Flag, Log, FOREVER,
};
use std::future::{pending, poll_fn, Future};
use std::task::Poll;
use std::time::{Duration, Instant};
use weft::{catch_cancel, wait_for, Task, TaskError, TaskRef, Timeout, TimeoutError};

/// Timers registered in the current runtime.
fn pending_timers() -> usize {
    weft::Handle::current().metrics().pending_timers
}

/// Runs `body` in a spawned task (the main path of timeout scopes) and returns
/// its value; a failure of that task fails the test.
async fn in_task<T, F>(body: F) -> T
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    match weft::spawn(body).await {
        Ok(v) => v,
        Err(e) => panic!("the test's task failed: {e}"),
    }
}

/// Under the watchdog, on a fresh 2-worker runtime: runs `body` in a spawned
/// task ([`in_task`]).
fn block_on_in_task<F>(body: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    block_on(2, |_| in_task(body));
}

/// What a [`Probe`] task does once its cancellation cleanup is over.
#[derive(Clone, Copy, Debug)]
enum Then {
    /// Re-raise the cancellation: the task ends cancelled.
    Reraise,
    /// Swallow it and return this value.
    Return(u32),
    /// Fail during cleanup.
    Panic,
}

/// What a task built by [`Probe::spawn`] reports.
#[derive(Clone, Default)]
struct Probe {
    /// Set just before it parks in `catch_cancel`.
    parked: Flag,
    /// Set at the end of its cleanup, after an await of 20 ms.
    cleaned: Flag,
    /// The message of each cancellation it intercepted.
    messages: Log<Option<String>>,
}

impl Probe {
    fn new() -> Probe {
        Probe::default()
    }

    /// A task that parks in `catch_cancel(pending())`; when cancelled it
    /// records the message, cleans up (sleeps 20 ms), sets `cleaned`, then
    /// does `then`.
    fn spawn(&self, then: Then) -> Task<u32> {
        let p = self.clone();
        weft::spawn(async move {
            p.parked.set();
            match catch_cancel(pending::<()>()).await {
                Ok(()) => unreachable!(),
                Err(c) => {
                    p.messages.push(c.message().map(str::to_owned));
                    weft::sleep(ms(20)).await;
                    p.cleaned.set();
                    match then {
                        Then::Reraise => c.raise().await,
                        Then::Return(v) => v,
                        Then::Panic => panic!("cleanup failed"),
                    }
                }
            }
        })
    }

    /// Spawns a task doing `then`, waits until it parked, and runs `wait_for`
    /// on it with a 10 ms timeout; returns the task and what `wait_for`
    /// returned.
    async fn expire_in_wait_for(&self, then: Then) -> (TaskRef, Result<u32, TaskError>) {
        let t = self.spawn(then);
        let r = t.task_ref();
        self.wait_parked().await;
        (r, wait_for(t, Some(ms(10))).await)
    }

    /// Waits until the task parked in `catch_cancel`.
    async fn wait_parked(&self) {
        wait_until("the probe to park in catch_cancel", || self.parked.get()).await;
        yield_times(10).await; // from the flag to the await point
    }
}

// ===== wait_for =====

// Spec: wait_for(fut, None) is a plain await.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn wait_for_with_no_timeout_is_a_plain_await() {
    // A slow value comes back, never a timeout.
    let t = weft::spawn(weft::sleep_with(ms(30), 5u32));
    assert_eq!(wait_for(t, None).await.unwrap(), 5);

    // A panic and a cancellation come back as they are.
    let t = weft::spawn(async {
        weft::sleep(ms(5)).await;
        if std::hint::black_box(true) {
            panic!("boom");
        }
        1u32
    });
    assert!(wait_for(t, None).await.unwrap_err().is_panic());

    let t = weft::spawn(pending::<u32>());
    let r = t.task_ref();
    let canceller = weft::spawn(async move {
        weft::sleep(ms(10)).await;
        r.cancel_with("by hand");
    });
    let err = wait_for(t, None).await.unwrap_err();
    assert!(!err.is_timeout());
    assert_eq!(cancel_message(&err).as_deref(), Some("by hand"));
    canceller.await.unwrap();

    // The same inside a task.
    let v = in_task(async {
        let t = weft::spawn(weft::sleep_with(ms(30), 6u32));
        wait_for(t, None).await.unwrap()
    })
    .await;
    assert_eq!(v, 6);
}

// Spec: an already-finished input returns its value even with timeout 0.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn wait_for_a_finished_task_with_a_zero_timeout_returns_its_value_at_once() {
    let t = weft::spawn(async { 7u32 });
    wait_done(&t).await;
    let mut w = Box::pin(wait_for(t, Some(Duration::ZERO)));
    match poll_once(&mut w) {
        Poll::Ready(out) => assert_eq!(out.unwrap(), 7),
        Poll::Pending => panic!("wait_for of a finished task with timeout 0 was pending"),
    }

    // A finished task's error is its own, not a timeout.
    let t = weft::spawn(async {
        if std::hint::black_box(true) {
            panic!("done failing");
        }
        1u32
    });
    wait_done(&t).await;
    assert!(wait_for(t, Some(Duration::ZERO))
        .await
        .unwrap_err()
        .is_panic());

    // Inside a task too.
    let v = in_task(async {
        let t = weft::spawn(async { 8u32 });
        wait_done(&t).await;
        wait_for(t, Some(Duration::ZERO)).await.unwrap()
    })
    .await;
    assert_eq!(v, 8);

    // Whereas an unfinished task with timeout 0 times out, cancelled.
    let t = weft::spawn(pending::<u32>());
    let r = t.task_ref();
    assert!(wait_for(t, Some(Duration::ZERO))
        .await
        .unwrap_err()
        .is_timeout());
    assert!(r.cancelled());
}

// Spec: on expiry: cancel the inner work, wait until it has actually finished
// (its cleanup included), then TimeoutError.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn wait_for_expiry_cancels_the_task_and_waits_for_its_cleanup_before_timing_out() {
    let probe = Probe::new();
    let (r, out) = probe.expire_in_wait_for(Then::Reraise).await;
    let err = out.unwrap_err();
    assert!(err.is_timeout(), "expected a TimeoutError, got {err:?}");
    assert!(
        probe.cleaned.get(),
        "wait_for returned before the task's cleanup finished"
    );
    assert!(
        r.done() && r.cancelled(),
        "the task was not cancelled: {r:?}"
    );
    assert_eq!(probe.messages.snapshot(), vec![None]);
}

// Spec: on expiry: cancel the inner work, wait until it has actually finished
// (its cleanup included), then TimeoutError (caller inside a task).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn wait_for_expiry_inside_a_task_waits_for_cleanup_and_leaves_the_caller_uncancelled() {
    let probe = Probe::new();
    let p = probe.clone();
    let v = in_task(async move {
        let t = p.spawn(Then::Reraise);
        let r = t.task_ref();
        p.wait_parked().await;
        let err = wait_for(t, Some(ms(10))).await.unwrap_err();
        assert!(err.is_timeout(), "expected a TimeoutError, got {err:?}");
        assert!(p.cleaned.get(), "returned before the cleanup finished");
        assert!(r.cancelled());
        let me = weft::current_task().unwrap();
        assert_eq!(me.cancelling(), 0, "the caller was cancelled by wait_for");
        // The caller carries on normally.
        weft::sleep(ms(5)).await;
        weft::spawn(async { 3u32 }).await.unwrap()
    })
    .await;
    assert_eq!(v, 3);
}

// Spec: if the inner work swallows the cancellation and returns a value, that
// value is returned.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn wait_for_returns_the_value_of_a_task_that_swallows_the_cancellation() {
    let probe = Probe::new();
    let (r, out) = probe.expire_in_wait_for(Then::Return(42)).await;
    assert_eq!(out.unwrap(), 42, "the swallowing task's value was lost");
    assert!(probe.cleaned.get());
    assert!(!r.cancelled());
    assert_eq!(
        probe.messages.len(),
        1,
        "the task was not cancelled at expiry"
    );
}

// Spec: an error raised during its cleanup wins.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn wait_for_reports_a_panic_raised_during_cleanup_instead_of_the_timeout() {
    let probe = Probe::new();
    let (r, out) = probe.expire_in_wait_for(Then::Panic).await;
    let err = out.unwrap_err();
    assert!(err.is_panic(), "expected the cleanup's panic, got {err:?}");
    assert!(!err.is_timeout());
    assert!(r.done() && !r.cancelled());
    assert!(probe.cleaned.get());
}

// Spec: cancelling wait_for itself cancels the inner work.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_wait_for_cancels_the_task_with_the_message_and_waits_for_its_cleanup() {
    for timeout in [Some(FOREVER), None] {
        let probe = Probe::new();
        let inner = probe.spawn(Then::Reraise);
        let inner_ref = inner.task_ref();
        let outer = spawn_started!("the outer task to enter wait_for", {
            wait_for(inner, timeout).await
        });
        let outer_ref = outer.task_ref();
        probe.wait_parked().await;
        yield_times(10).await;
        assert!(outer.cancel_with("stop"));
        let err = outer.await.unwrap_err();
        assert_eq!(
            cancel_message(&err).as_deref(),
            Some("stop"),
            "timeout {timeout:?}"
        );
        assert!(outer_ref.cancelled());
        assert!(
            probe.cleaned.get(),
            "the outer task ended before the inner cleanup ran (timeout {timeout:?})"
        );
        assert!(inner_ref.done() && inner_ref.cancelled());
        assert_eq!(probe.messages.snapshot(), vec![Some("stop".to_owned())]);
        let e = inner_ref.exception().unwrap().unwrap();
        assert_eq!(cancel_message(&e).as_deref(), Some("stop"));
    }
}

// Spec: cancelling wait_for itself cancels the inner work (the canceller is an
// enclosing timeout scope).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_timeout_scope_around_wait_for_cancels_the_inner_task_and_reports_the_timeout() {
    let probe = Probe::new();
    let p = probe.clone();
    let (out, inner_ref, expired) = in_task(async move {
        let inner = p.spawn(Then::Reraise);
        let inner_ref = inner.task_ref();
        p.wait_parked().await;
        let scope = weft::timeout(ms(10));
        let out = scope.run(wait_for(inner, Some(FOREVER))).await;
        assert_eq!(weft::current_task().unwrap().cancelling(), 0);
        (out, inner_ref, scope.expired())
    })
    .await;
    assert!(
        out.is_err(),
        "the scope did not report its timeout: {out:?}"
    );
    assert!(expired);
    assert!(probe.cleaned.get());
    assert!(inner_ref.cancelled());
}

// ===== timeout scopes =====

// Spec: timeout(d) scope: expired(), when().
#[test]
fn a_timeout_scope_reports_when_and_expired() {
    block_on_in_task(async {
        let before = Instant::now();
        let scope = weft::timeout(ms(50));
        let after = Instant::now();
        let when = scope.when().expect("timeout(d) has a deadline");
        assert!(
            when >= before + ms(50) && when <= after + ms(50),
            "when() is not now + d"
        );
        assert!(!scope.expired());
        // A block that finishes in time: its value, not expired.
        let out = scope.run(weft::sleep_with(ms(5), 1u32)).await;
        assert_eq!(out.unwrap(), 1);
        assert!(!scope.expired());
        assert_eq!(scope.when(), Some(when));

        // A block that does not: TimeoutError, expired, never early.
        let scope = weft::timeout(ms(20));
        let deadline = scope.when().unwrap();
        let reached = Flag::new();
        let r = reached.clone();
        let out = scope
            .run(async move {
                weft::sleep(FOREVER).await;
                r.set();
            })
            .await;
        assert!(out.is_err());
        assert!(Instant::now() >= deadline, "the scope expired early");
        assert!(scope.expired());
        assert!(!reached.get());
        let me = weft::current_task().unwrap();
        assert_eq!(
            me.cancelling(),
            0,
            "the scope left its cancellation counted"
        );
        // The task is not cancelled: it may await more.
        weft::sleep(ms(5)).await;
    });
}

// Spec: on expiry: cancel the inner work, wait until it has actually finished
// (its cleanup included), then TimeoutError (for a scope's block).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_timeout_scope_lets_its_block_clean_up_with_awaits_before_reporting_the_timeout() {
    let cleaned = Flag::new();
    let c = cleaned.clone();
    let (out, expired, cleaned_first) = in_task(async move {
        let scope = weft::timeout(ms(10));
        let c2 = c.clone();
        let out = scope
            .run(async move {
                match catch_cancel(weft::sleep(FOREVER)).await {
                    Ok(()) => unreachable!(),
                    Err(cancelled) => {
                        weft::sleep(ms(20)).await;
                        c2.set();
                        cancelled.raise::<()>().await
                    }
                }
            })
            .await;
        let first = c.get();
        (out, scope.expired(), first)
    })
    .await;
    assert!(out.is_err(), "expected a TimeoutError, got {out:?}");
    assert!(expired);
    assert!(
        cleaned_first,
        "run returned before the block's cleanup ended"
    );
    assert!(cleaned.get());
}

// Spec: reschedule(); reschedule(None) disables it.
#[test]
fn reschedule_none_disables_the_deadline() {
    block_on_in_task(async {
        let scope = weft::timeout(ms(10));
        let s = scope.clone();
        let out = scope
            .run(async move {
                s.reschedule(None).unwrap();
                weft::sleep(ms(60)).await; // well past the old deadline
                9u32
            })
            .await;
        assert_eq!(out.unwrap(), 9);
        assert!(!scope.expired());
        assert_eq!(scope.when(), None);
        assert_eq!(weft::current_task().unwrap().cancelling(), 0);
    });
}

// Spec: reschedule(); reschedule to an earlier time expires sooner.
#[test]
fn reschedule_to_an_earlier_deadline_expires_sooner() {
    block_on_in_task(async {
        // From inside the block.
        let scope = weft::timeout(FOREVER);
        let s = scope.clone();
        let new_deadline = Instant::now() + ms(20);
        let out = scope
            .run(async move {
                s.reschedule(Some(new_deadline)).unwrap();
                weft::sleep(FOREVER).await;
            })
            .await;
        assert!(out.is_err());
        assert!(scope.expired());
        assert!(
            Instant::now() >= new_deadline,
            "expired before the new deadline"
        );
        assert_eq!(scope.when(), Some(new_deadline));

        // From another task while the block is parked: the scope wakes up.
        let scope = weft::timeout(FOREVER);
        let s = scope.clone();
        let mover = weft::spawn(async move {
            weft::sleep(ms(20)).await;
            s.reschedule(Some(Instant::now() + ms(5))).unwrap();
        });
        let out = scope.run(weft::sleep(FOREVER)).await;
        assert!(out.is_err());
        assert!(scope.expired());
        mover.await.unwrap();

        // To a deadline already past: expires at once.
        let scope = weft::timeout(FOREVER);
        let s = scope.clone();
        let out = scope
            .run(async move {
                s.reschedule(Some(Instant::now() - ms(1))).unwrap();
                weft::sleep(FOREVER).await;
            })
            .await;
        assert!(out.is_err());
        assert!(scope.expired());
        assert_eq!(weft::current_task().unwrap().cancelling(), 0);
    });
}

// Spec: reschedule(); when() reports the (moved) deadline.
#[test]
fn reschedule_to_a_later_deadline_extends_the_scope() {
    block_on_in_task(async {
        let scope = weft::timeout(ms(10));
        let s = scope.clone();
        let later = Instant::now() + FOREVER;
        let out = scope
            .run(async move {
                s.reschedule(Some(later)).unwrap();
                assert_eq!(s.when(), Some(later));
                weft::sleep(ms(50)).await; // past the first deadline
                4u32
            })
            .await;
        assert_eq!(out.unwrap(), 4);
        assert!(!scope.expired());
        assert_eq!(scope.when(), Some(later));
    });
}

// Spec: reschedule() before run / after expiry is an InvalidStateError.
#[test]
fn reschedule_outside_the_running_block_is_an_invalid_state_error() {
    block_on_in_task(async {
        let soon = || Some(Instant::now() + ms(100));

        // Before run.
        let scope = weft::timeout(ms(10));
        let when = scope.when();
        assert!(scope.reschedule(soon()).is_err(), "reschedule before run");
        assert!(scope.reschedule(None).is_err());
        assert_eq!(
            scope.when(),
            when,
            "a refused reschedule moved the deadline"
        );

        // After expiry.
        assert!(scope.run(weft::sleep(FOREVER)).await.is_err());
        assert!(scope.reschedule(soon()).is_err(), "reschedule after expiry");
        assert!(scope.reschedule(None).is_err());
        assert_eq!(scope.when(), when);

        // While the block cleans up after expiry.
        let scope = weft::timeout(ms(10));
        let s = scope.clone();
        let out = scope
            .run(async move {
                match catch_cancel(weft::sleep(FOREVER)).await {
                    Ok(()) => unreachable!(),
                    Err(_) => s.reschedule(None).is_err(),
                }
            })
            .await;
        assert!(
            out.unwrap(),
            "reschedule during the expiry cleanup was accepted"
        );

        // After a normal exit.
        let scope = weft::timeout(FOREVER);
        scope.run(async {}).await.unwrap();
        assert!(scope.reschedule(soon()).is_err(), "reschedule after exit");
    });
}

// Spec: timeout_at(instant); when() reports the deadline.
#[test]
fn timeout_at_expires_at_the_given_instant_and_never_before() {
    block_on_in_task(async {
        let deadline = Instant::now() + ms(30);
        let scope = weft::timeout_at(deadline);
        assert_eq!(scope.when(), Some(deadline));
        let out = scope.run(weft::sleep(FOREVER)).await;
        assert!(out.is_err());
        assert!(Instant::now() >= deadline, "timeout_at expired early");
        assert!(scope.expired());

        // A deadline already past: a block that must await times out.
        let scope = weft::timeout_at(Instant::now() - ms(1));
        assert!(scope.run(weft::sleep(FOREVER)).await.is_err());
        assert!(scope.expired());

        // In time: the value.
        let scope = weft::timeout_at(Instant::now() + FOREVER);
        assert_eq!(scope.run(async { 2u32 }).await.unwrap(), 2);
        assert!(!scope.expired());
    });
}

// Spec: Timeout::unbounded() (asyncio's timeout(None)).
#[test]
fn an_unbounded_scope_never_expires_until_given_a_deadline() {
    block_on_in_task(async {
        let scope = Timeout::unbounded();
        assert_eq!(scope.when(), None);
        let out = scope.run(weft::sleep_with(ms(30), 5u32)).await;
        assert_eq!(out.unwrap(), 5);
        assert!(!scope.expired());

        let scope = Timeout::unbounded();
        let s = scope.clone();
        let out = scope
            .run(async move {
                weft::sleep(ms(10)).await;
                s.reschedule(Some(Instant::now() + ms(10))).unwrap();
                weft::sleep(FOREVER).await;
            })
            .await;
        assert!(out.is_err());
        assert!(scope.expired());
    });
}

// Spec: nested scopes with the same deadline: only the outermost reports
// TimeoutError.
#[test]
fn nested_scopes_with_the_same_deadline_only_the_outermost_reports_the_timeout() {
    block_on_in_task(async {
        let deadline = Instant::now() + ms(20);
        let outer = weft::timeout_at(deadline);
        let inner = weft::timeout_at(deadline);
        let seen_cancel = Flag::new();
        let past_inner = Flag::new();
        let (i, seen, past) = (inner.clone(), seen_cancel.clone(), past_inner.clone());
        let out = outer
            .run(async move {
                // asyncio: the inner `async with` raises CancelledError,
                // which code between the scopes sees, then the outer
                // scope turns it into TimeoutError.
                match catch_cancel(i.run(weft::sleep(FOREVER))).await {
                    Err(c) => {
                        seen.set();
                        c.raise::<()>().await
                    }
                    Ok(r) => {
                        past.set();
                        panic!("the inner scope returned {r:?} to the outer block");
                    }
                }
            })
            .await;
        assert!(out.is_err(), "the outer scope did not report the timeout");
        assert!(!past_inner.get(), "the inner scope returned to its caller");
        assert!(
            seen_cancel.get(),
            "the inner scope did not re-raise the cancellation"
        );
        assert!(outer.expired() && inner.expired());
        let me = weft::current_task().unwrap();
        assert_eq!(me.cancelling(), 0);
        weft::sleep(ms(5)).await; // the task is not cancelled
    });
}

/// Runs nested scopes sharing one deadline around a block that keeps the task
/// busy (yields, never parks), so the deadline passes while the scopes are
/// being polled; returns how many of `runs` rounds let the inner scope report
/// the timeout, with whether the outer scope then counted as expired.
async fn nested_same_deadline_busy_rounds(runs: usize) -> Vec<bool> {
    let mut inner_reported = Vec::new();
    for _ in 0..runs {
        let deadline = Instant::now() + ms(3);
        let outer = weft::timeout_at(deadline);
        let inner = weft::timeout_at(deadline);
        let i = inner.clone();
        let out = outer
            .run(async move {
                i.run(async {
                    loop {
                        weft::yield_now().await;
                    }
                })
                .await
            })
            .await;
        match out {
            Err(_) => {}
            Ok(Err(_)) => inner_reported.push(outer.expired()),
            Ok(Ok(())) => unreachable!("the busy block finished"),
        }
        if let Some(me) = weft::current_task() {
            assert_eq!(me.cancelling(), 0);
        }
    }
    inner_reported
}

/// Checks that in no round of 50 (of [`nested_same_deadline_busy_rounds`])
/// the inner scope reported the timeout.
fn assert_only_the_outermost_reported(inner_reported: &[bool]) {
    assert!(
        inner_reported.is_empty(),
        "the inner scope reported TimeoutError to the outer block in {}/50 rounds \
         (outer.expired() in those rounds: {inner_reported:?})",
        inner_reported.len()
    );
}

// Spec: nested scopes with the same deadline: only the outermost reports
// TimeoutError (a block that keeps the task busy, polled as the deadline
// passes).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn nested_scopes_with_the_same_deadline_around_a_busy_block_only_the_outermost_reports() {
    let inner_reported = in_task(nested_same_deadline_busy_rounds(50)).await;
    assert_only_the_outermost_reported(&inner_reported);
}

// Spec: nested scopes with the same deadline: only the outermost reports
// TimeoutError (drop path, outside a task, busy block).
#[test]
fn outside_a_task_nested_scopes_with_the_same_deadline_around_a_busy_block_only_the_outermost_reports(
) {
    block_on(2, |_| async {
        let inner_reported = nested_same_deadline_busy_rounds(50).await;
        assert_only_the_outermost_reported(&inner_reported);
    });
}

// Spec: nested scopes: only the scope whose deadline passed reports it (an
// inner scope expiring first reports TimeoutError to the outer block).
#[test]
fn an_inner_scope_with_an_earlier_deadline_reports_its_timeout_to_the_outer_block() {
    block_on_in_task(async {
        let outer = weft::timeout(FOREVER);
        let inner = weft::timeout(ms(10));
        let i = inner.clone();
        let out = outer
            .run(async move {
                let r = i.run(weft::sleep(FOREVER)).await;
                (r.is_err(), 11u32)
            })
            .await;
        assert_eq!(out.unwrap(), (true, 11));
        assert!(inner.expired());
        assert!(!outer.expired());
        assert_eq!(weft::current_task().unwrap().cancelling(), 0);
    });
}

// Spec: a scope whose block swallows the cancellation returns Ok(value),
// expired() is true, and the task is not cancelled afterwards.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_block_that_swallows_the_cancellation_returns_its_value_and_leaves_the_task_uncancelled()
{
    let t = weft::spawn(async {
        let me = weft::current_task().unwrap();
        assert_eq!(me.cancelling(), 0);
        let scope = weft::timeout(ms(10));
        let out = scope
            .run(async {
                match catch_cancel(weft::sleep(FOREVER)).await {
                    Ok(()) => 0u32,
                    Err(_) => 5u32,
                }
            })
            .await;
        assert_eq!(out.unwrap(), 5, "the swallowing block's value was lost");
        assert!(scope.expired());
        assert_eq!(
            me.cancelling(),
            0,
            "cancelling() not back to its entry value"
        );
        // The task goes on: sleeps, awaits a child, finishes normally.
        weft::sleep(ms(10)).await;
        weft::yield_now().await;
        let child = weft::spawn(weft::sleep_with(ms(5), 2u32));
        out.unwrap() + child.await.unwrap()
    });
    let r = t.task_ref();
    assert_eq!(t.await.unwrap(), 7);
    assert!(!r.cancelled());
}

// Spec: cancelling()/uncancel protocol: a scope entered while the task already
// counts a (swallowed) cancellation still reports its own timeout, and leaves
// the count where it found it.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_scope_entered_with_a_counted_cancellation_still_reports_its_own_timeout() {
    let v = in_task(async {
        let me = weft::current_task().unwrap();
        assert!(me.cancel());
        assert!(
            catch_cancel(weft::yield_now()).await.is_err(),
            "the self-cancellation was not delivered"
        );
        assert_eq!(me.cancelling(), 1);

        let scope = weft::timeout(ms(10));
        let out = scope.run(weft::sleep(FOREVER)).await;
        assert!(out.is_err(), "the scope re-raised instead of timing out");
        assert!(scope.expired());
        assert_eq!(me.cancelling(), 1);

        let scope = weft::timeout(ms(10));
        let out = scope
            .run(async { catch_cancel(weft::sleep(FOREVER)).await.is_err() })
            .await;
        assert!(out.unwrap());
        assert_eq!(me.cancelling(), 1);
        weft::sleep(ms(5)).await;
        3u32
    })
    .await;
    assert_eq!(v, 3);
}

/// Spawns a task that runs `scope` around a block that sleeps forever, and
/// waits until that block has started (and reached its sleep). Returns the
/// task and a flag it sets if `run` ever returns to it.
async fn spawn_scoped_sleeper(scope: &Timeout) -> (Task<Result<(), TimeoutError>>, Flag) {
    let entered = Flag::new();
    let after = Flag::new();
    let (s, e, a) = (scope.clone(), entered.clone(), after.clone());
    let t = weft::spawn(async move {
        let out = s
            .run(async move {
                e.set();
                weft::sleep(FOREVER).await;
            })
            .await;
        a.set();
        out
    });
    wait_until("the block to start", || entered.get()).await;
    yield_times(10).await;
    (t, after)
}

// Spec: a cancellation from outside arriving while a scope is active is
// re-raised, not turned into a timeout.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn an_outside_cancellation_during_a_scope_is_reraised_not_turned_into_a_timeout() {
    let scope = weft::timeout(FOREVER);
    let (t, after) = spawn_scoped_sleeper(&scope).await;
    let r = t.task_ref();
    assert!(t.cancel_with("outside"));
    let err = t.await.unwrap_err();
    assert_eq!(cancel_message(&err).as_deref(), Some("outside"));
    assert!(r.cancelled());
    assert!(
        !after.get(),
        "run returned to its caller after an outside cancel"
    );
    assert!(!scope.expired());
}

// Spec: a cancellation from outside arriving while a scope is active is
// re-raised, even when the deadline passed at the same time.
#[test]
fn an_outside_cancellation_arriving_with_the_deadline_still_cancels_the_task() {
    // One worker: while this task blocks it, the scoped task cannot run, so the
    // deadline and the outside request are both pending at its next poll.
    block_on(1, |_| async {
        in_task(async {
            let scope = weft::timeout(ms(20));
            let (t, after) = spawn_scoped_sleeper(&scope).await;
            let r = t.task_ref();
            std::thread::sleep(ms(50)); // hold the worker past the deadline
            assert!(Instant::now() > scope.when().unwrap());
            assert!(
                !scope.expired(),
                "the scoped task ran while the worker was held"
            );
            assert!(t.cancel_with("outside"));
            let err = t.await.unwrap_err();
            assert!(err.is_cancelled(), "expected a cancellation, got {err:?}");
            assert!(r.cancelled());
            assert!(!after.get(), "the outside cancel became a timeout");
        })
        .await;
    });
}

// Spec: drop path: outside a task the scope drops the block at the deadline
// (its destructors run) and reports TimeoutError.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn outside_a_task_the_scope_drops_the_block_at_the_deadline() {
    assert!(weft::current_task().is_none());
    let drops = DropCounter::new();
    let g = drops.guard();
    let reached = Flag::new();
    let r = reached.clone();
    let scope = weft::timeout(ms(10));
    let deadline = scope.when().unwrap();
    let out = scope
        .run(async move {
            let _finally = g;
            weft::sleep(FOREVER).await;
            r.set();
        })
        .await;
    assert!(out.is_err(), "expected a TimeoutError");
    assert!(Instant::now() >= deadline, "expired early");
    assert!(scope.expired());
    assert_eq!(drops.get(), 1, "the block's destructors did not run");
    assert!(!reached.get());

    // In time: the value, not expired.
    let scope = weft::timeout(FOREVER);
    assert_eq!(scope.run(weft::sleep_with(ms(5), 3u32)).await.unwrap(), 3);
    assert!(!scope.expired());

    // reschedule works on this path too.
    let scope = weft::timeout(FOREVER);
    let s = scope.clone();
    let out = scope
        .run(async move {
            s.reschedule(Some(Instant::now() + ms(10))).unwrap();
            weft::sleep(FOREVER).await;
        })
        .await;
    assert!(out.is_err());
    assert!(scope.expired());

    // Nested, same deadline: the outer reports it; the inner's caller never
    // sees a result.
    let deadline = Instant::now() + ms(10);
    let (outer, inner) = (weft::timeout_at(deadline), weft::timeout_at(deadline));
    let past = Flag::new();
    let p = past.clone();
    let out = outer
        .run(async move {
            let r = inner.run(weft::sleep(FOREVER)).await;
            p.set();
            r
        })
        .await;
    assert!(out.is_err(), "the outer scope did not report: {out:?}");
    assert!(!past.get());
}

// Spec: timers do not leak: after scopes and wait_for finish or are dropped,
// pending_timers returns to its starting value.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn timers_do_not_leak_after_scopes_and_wait_for_finish_or_are_dropped() {
    let base = pending_timers();

    // Outside a task: the drop path.
    let s = weft::timeout(ms(10));
    assert!(s.run(weft::sleep(FOREVER)).await.is_err());
    let s = weft::timeout(FOREVER);
    assert_eq!(s.run(weft::sleep_with(ms(5), 1u32)).await.unwrap(), 1);
    {
        let s = weft::timeout(FOREVER);
        let mut fut = Box::pin(s.run(weft::sleep(FOREVER)));
        assert!(poll_once(&mut fut).is_pending());
        assert!(
            pending_timers() > base,
            "a pending scope registered no timer"
        );
    }
    let t = weft::spawn(weft::sleep_with(ms(5), 2u32));
    assert_eq!(wait_for(t, Some(FOREVER)).await.unwrap(), 2);
    let t = weft::spawn(weft::sleep(FOREVER));
    assert!(wait_for(t, Some(ms(10))).await.unwrap_err().is_timeout());
    {
        // Dropped while waiting: the task runs on; cancel it ourselves.
        let t = weft::spawn(weft::sleep(FOREVER));
        let r = t.task_ref();
        let mut fut = Box::pin(wait_for(t, Some(FOREVER)));
        assert!(poll_once(&mut fut).is_pending());
        drop(fut);
        r.cancel();
        wait_done(&r).await;
    }

    // Inside a task: the main path.
    in_task(async {
        let s = weft::timeout(ms(10));
        assert!(s.run(weft::sleep(FOREVER)).await.is_err());
        let s = weft::timeout(FOREVER);
        assert!(s.run(weft::sleep(ms(5))).await.is_ok());
        let s = weft::timeout(ms(10));
        let out = s
            .run(async { catch_cancel(weft::sleep(FOREVER)).await.is_err() })
            .await;
        assert!(out.unwrap());
        let s = weft::timeout(FOREVER);
        let s2 = s.clone();
        let out = s
            .run(async move {
                s2.reschedule(Some(Instant::now() + ms(30))).unwrap();
                s2.reschedule(None).unwrap();
                weft::sleep(ms(5)).await;
            })
            .await;
        assert!(out.is_ok());
        let deadline = Instant::now() + ms(10);
        let (o, i) = (weft::timeout_at(deadline), weft::timeout_at(deadline));
        assert!(o
            .run(async move { i.run(weft::sleep(FOREVER)).await })
            .await
            .is_err());
        {
            let s = weft::timeout(FOREVER);
            let mut fut = Box::pin(s.run(weft::sleep(FOREVER)));
            let _ = poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx).is_pending())).await;
        }
        let t = weft::spawn(weft::sleep(FOREVER));
        assert!(wait_for(t, Some(ms(10))).await.unwrap_err().is_timeout());
    })
    .await;

    // A task cancelled while in wait_for.
    let inner = weft::spawn(weft::sleep(FOREVER));
    let inner_ref = inner.task_ref();
    let outer = weft::spawn(async move { wait_for(inner, Some(FOREVER)).await });
    weft::sleep(ms(10)).await;
    outer.cancel();
    assert!(outer.await.unwrap_err().is_cancelled());
    assert!(inner_ref.cancelled());

    wait_until("pending_timers to return to its starting value", || {
        pending_timers() == base
    })
    .await;
}

// Issue 16, section 2 (asyncio's timeout scope: a wake-up queued before the
// timer fired runs first, so a result that is ready when the deadline passes
// is the scope's value, not a timeout): the block's promise is set, then the
// deadline passes, then the scope is polled. In a task and outside one.
#[test]
fn a_block_ready_when_the_deadline_passes_returns_its_value() {
    async fn scenario() {
        let scope = weft::timeout(ms(20));
        let gate = weft::Promise::<u32>::new();
        let g = gate.clone();
        let mut run = Box::pin(scope.run(async move { g.await.unwrap() }));
        assert!(poll_once(&mut run).is_pending());
        gate.set_result(7).unwrap();
        weft::sleep(ms(40)).await;
        match poll_once(&mut run) {
            Poll::Ready(out) => assert_eq!(out.expect("a ready value became a timeout"), 7),
            Poll::Pending => panic!("the scope is pending with its block ready"),
        }
        drop(run);
        assert!(!scope.expired());
        if let Some(me) = weft::current_task() {
            assert_eq!(me.cancelling(), 0);
        }
    }
    block_on(2, |_| async {
        scenario().await;
        in_task(scenario()).await;
    });
}
