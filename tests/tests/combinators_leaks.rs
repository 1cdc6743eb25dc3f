//! No combinator leaks a task or a timer when its caller is dropped or
//! cancelled mid-way (the combinators' issue: "test it with counting futures").
//!
//! Each combinator (gather, gather_settled, gather!, wait with a timeout,
//! as_completed with a timeout, wait_for, a timeout scope, shield, task_group)
//! is started over children whose futures hold `DropCounter` guards, then
//! (a) its future is dropped mid-way (raced against a short sleep in a
//! `select`, then dropped), or (b) the task awaiting it is cancelled mid-way.
//! The children then end as the combinator's documentation says: those it
//! cancels are checked cancelled (and, where it waits for them, finished by the
//! time the caller ends); those it leaves running are checked still running,
//! then cancelled by the test. Finally every guard has dropped exactly once and
//! the runtime's live task count and pending timers are back where they started.

mod common;

use common::{block_on, wait_until, DropCounter, Flag, Log, FOREVER, TICK};
use futures_util::future::{select, Either};
use std::fmt::Debug;
use std::future::{pending, poll_fn, Future};
use std::task::Poll;
use std::time::{Duration, Instant};
use weft::{catch_cancel, current_task, Handle, Promise, ReturnWhen, Task, TaskError, TaskRef};

/// What must come back to its starting value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Usage {
    live_tasks: usize,
    pending_timers: usize,
}

impl Usage {
    fn of(h: &Handle) -> Usage {
        let m = h.metrics();
        Usage {
            live_tasks: m.live_tasks,
            pending_timers: m.pending_timers,
        }
    }
}

/// Waits (bounded) until every one of `expected` guards has dropped and the
/// runtime's usage is back to `start`; then checks no guard dropped twice.
async fn settle(h: &Handle, start: Usage, drops: &DropCounter, expected: usize) {
    let begin = Instant::now();
    while !(drops.get() >= expected && Usage::of(h) == start) {
        if begin.elapsed() > Duration::from_secs(5) {
            panic!(
                "leak: {} of {expected} guards dropped; usage {:?}, started at {start:?}",
                drops.get(),
                Usage::of(h)
            );
        }
        weft::yield_now().await;
    }
    for _ in 0..50 {
        weft::yield_now().await;
    }
    assert_eq!(drops.get(), expected, "a guard dropped more than once");
    assert_eq!(Usage::of(h), start);
}

/// The children of one test: each holds a guard from `drops`.
#[derive(Clone)]
struct Kids {
    drops: DropCounter,
    /// One entry per child that reached its first await.
    started: Log<()>,
    /// The spawned "forever" children.
    forever: Log<TaskRef>,
    /// Set by a forever child when it is cancelled and has finished its
    /// (awaiting) cleanup; counts them.
    cleaned: Log<()>,
}

impl Kids {
    fn new() -> Kids {
        Kids {
            drops: DropCounter::new(),
            started: Log::new(),
            forever: Log::new(),
            cleaned: Log::new(),
        }
    }

    /// A plain future that sleeps "forever" (a pending timer), and when
    /// cancelled cleans up with an await before re-raising.
    fn forever_future(&self) -> impl Future<Output = u32> + Send + 'static {
        let (g, started, cleaned) = (
            self.drops.guard(),
            self.started.clone(),
            self.cleaned.clone(),
        );
        async move {
            let _g = g;
            started.push(());
            match catch_cancel(weft::sleep(FOREVER)).await {
                Ok(()) => unreachable!("slept forever"),
                Err(c) => {
                    weft::sleep(TICK).await;
                    cleaned.push(());
                    c.raise().await
                }
            }
        }
    }

    /// [`Kids::forever_future`], spawned; its handle is recorded.
    fn forever(&self) -> Task<u32> {
        let t = weft::spawn(self.forever_future());
        self.forever.push(t.task_ref());
        t
    }

    /// A plain future that returns `value` after `after`.
    fn quick_future(
        &self,
        after: Duration,
        value: u32,
    ) -> impl Future<Output = u32> + Send + 'static {
        let (g, started) = (self.drops.guard(), self.started.clone());
        async move {
            let _g = g;
            started.push(());
            weft::sleep(after).await;
            value
        }
    }

    /// A spawned child that returns `value` once `gate` is set.
    fn gated(&self, gate: &Promise<()>, value: u32) -> Task<u32> {
        let (g, started, gate) = (self.drops.guard(), self.started.clone(), gate.clone());
        weft::spawn(async move {
            let _g = g;
            started.push(());
            gate.await.unwrap();
            value
        })
    }

    fn quick(&self, after: Duration, value: u32) -> Task<u32> {
        weft::spawn(self.quick_future(after, value))
    }

    async fn wait_started(&self, n: usize) {
        wait_until("the children to start", || self.started.len() >= n).await;
    }

    /// The forever children are still running, none cancelled.
    fn assert_forever_running(&self, why: &str) {
        for t in self.forever.snapshot() {
            assert!(
                !t.done() && t.cancelling() == 0,
                "{why}: {t:?} was cancelled"
            );
        }
    }

    /// The forever children are done, cancelled, their cleanup finished.
    fn assert_forever_cancelled_and_cleaned(&self, why: &str) {
        let refs = self.forever.snapshot();
        for t in &refs {
            assert!(
                t.cancelled(),
                "{why}: {t:?} not cancelled (or not finished)"
            );
        }
        assert!(
            self.cleaned.len() >= refs.len(),
            "{why}: a child's cleanup had not finished"
        );
    }

    /// Cancels the forever children (for those a combinator leaves running).
    fn cancel_forever(&self) {
        for t in self.forever.snapshot() {
            assert!(t.cancel());
        }
    }
}

/// Polls `fut` for a couple of ticks (in a `select` against a sleep), then
/// drops it: it must still be pending.
async fn drop_mid_way<F: Future>(fut: F) {
    let fut = Box::pin(fut);
    match select(fut, Box::pin(weft::sleep(3 * TICK))).await {
        Either::Left(_) => panic!("the combinator finished before it was dropped"),
        Either::Right(((), fut)) => drop(fut),
    }
}

/// Spawns `fut` as the caller task, lets it get going, cancels it with a
/// message and checks it ended cancelled with that message.
async fn cancel_mid_way<F>(fut: F)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static + Debug,
{
    let caller = weft::spawn(fut);
    weft::sleep(3 * TICK).await;
    assert!(
        !caller.done(),
        "the combinator finished before it was cancelled"
    );
    assert!(caller.cancel_with("mid-way"));
    let err = caller.await.expect_err("the caller was not cancelled");
    assert_eq!(
        err.as_cancelled().map(|c| c.message()),
        Some(Some("mid-way")),
        "{err:?}"
    );
}

/// `drop_mid_way_in_a_task!(fut)`: [`drop_mid_way`] of `fut` in a spawned
/// task, which must then run on, uncancelled. (A macro so that `fut` is
/// written out in that task, as if by hand, and may borrow temporaries.)
macro_rules! drop_mid_way_in_a_task {
    ($fut:expr) => {{
        let caller = weft::spawn(async move {
            drop_mid_way($fut).await;
            assert_eq!(current_task().unwrap().cancelling(), 0);
            weft::sleep(TICK).await;
            "ran on"
        });
        assert_eq!(caller.await.unwrap(), "ran on");
    }};
}

/// How a test stops a combinator mid-way.
#[derive(Clone, Copy, Debug)]
enum Stop {
    /// Its future is dropped ([`drop_mid_way`]).
    Drop,
    /// The task awaiting it is cancelled ([`cancel_mid_way`]).
    Cancel,
}

impl Stop {
    /// Stops `fut` mid-way, the way `self` says.
    async fn mid_way<F>(self, fut: F)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static + Debug,
    {
        match self {
            Stop::Drop => drop_mid_way(fut).await,
            Stop::Cancel => cancel_mid_way(fut).await,
        }
    }
}

/// What a stopped combinator must have done with its forever children.
#[derive(Clone, Copy, Debug)]
enum Then {
    /// Left them running (a tick later they still run, none cancelled; the
    /// test then cancels them).
    LeftRunning,
    /// Cancelled them and waited for their cleanup.
    CancelledAndAwaited,
}

/// Runs a leak test body on a 2-worker runtime, handing it the handle and the
/// usage at the start.
fn leak_test<F, M>(make: M)
where
    M: FnOnce(Handle, Usage) -> F + Send + 'static,
    F: Future<Output = ()>,
{
    block_on(2, move |h| {
        let h = h.clone();
        let start = Usage::of(&h);
        make(h, start)
    })
}

/// For forever children a combinator left running: checks they still run,
/// none cancelled (`why` names the case), cancels them, then [`settle`]s with
/// `guards` guards.
async fn cancel_running_and_settle(
    h: &Handle,
    start: Usage,
    kids: &Kids,
    why: &str,
    guards: usize,
) {
    kids.assert_forever_running(why);
    kids.cancel_forever();
    settle(h, start, &kids.drops, guards).await;
}

/// A leak test of a combinator over spawned children: `spawn` makes them
/// (one guard each); once all started, the future `combinator` makes of them
/// is stopped mid-way as `stop` says; then their forever members must be as
/// `then` says (`why` names the case in failure messages), and nothing may
/// leak.
fn children_leak_test<S, C, F>(spawn: S, combinator: C, stop: Stop, then: Then, why: &'static str)
where
    S: FnOnce(&Kids) -> Vec<Task<u32>> + Send + 'static,
    C: FnOnce(Vec<Task<u32>>) -> F + Send + 'static,
    F: Future + Send + 'static,
    F::Output: Send + 'static + Debug,
{
    leak_test(move |h, start| async move {
        let kids = Kids::new();
        let tasks = spawn(&kids);
        let children = tasks.len();
        kids.wait_started(children).await;
        stop.mid_way(combinator(tasks)).await;
        match then {
            Then::LeftRunning => {
                weft::sleep(TICK).await;
                cancel_running_and_settle(&h, start, &kids, why, children).await;
            }
            Then::CancelledAndAwaited => {
                kids.assert_forever_cancelled_and_cleaned(why);
                settle(&h, start, &kids.drops, children).await;
            }
        }
    });
}

/// The children most tests use: forever, quick, forever.
fn forever_quick_forever(kids: &Kids) -> Vec<Task<u32>> {
    vec![kids.forever(), kids.quick(TICK, 1), kids.forever()]
}

// ----- gather -----

#[test]
fn gather_dropped_mid_way_leaks_nothing() {
    // Documented: dropping leaves the children running.
    children_leak_test(
        forever_quick_forever,
        weft::gather,
        Stop::Drop,
        Then::LeftRunning,
        "gather dropped",
    );
}

#[test]
fn gather_cancelled_mid_way_cancels_and_awaits_children_and_leaks_nothing() {
    // Documented: the children were cancelled and waited for.
    children_leak_test(
        forever_quick_forever,
        |tasks| async move { weft::gather(tasks).await.map(|_| ()) },
        Stop::Cancel,
        Then::CancelledAndAwaited,
        "gather cancelled",
    );
}

// ----- gather_settled -----

fn quick_forever_forever(kids: &Kids) -> Vec<Task<u32>> {
    vec![kids.quick(TICK, 1), kids.forever(), kids.forever()]
}

#[test]
fn gather_settled_dropped_mid_way_leaks_nothing() {
    children_leak_test(
        quick_forever_forever,
        weft::gather_settled,
        Stop::Drop,
        Then::LeftRunning,
        "gather_settled dropped",
    );
}

#[test]
fn gather_settled_cancelled_mid_way_cancels_and_awaits_children_and_leaks_nothing() {
    children_leak_test(
        quick_forever_forever,
        |tasks| async move { weft::gather_settled(tasks).await.len() },
        Stop::Cancel,
        Then::CancelledAndAwaited,
        "gather_settled cancelled",
    );
}

// ----- gather! (tasks and plain futures mixed; the macro spawns the futures) -----

#[test]
fn gather_macro_dropped_mid_way_leaks_nothing() {
    leak_test(|h, start| async move {
        let kids = Kids::new();
        let finished = Flag::new();
        let f = finished.clone();
        let forever = kids.forever();
        // The plain futures are spawned inside gather!; this one ends by
        // itself and says so, proving it was not cancelled.
        let plain = kids.quick_future(5 * TICK, 2);
        let fut = weft::gather!(forever, kids.quick_future(TICK, 1), async move {
            let v = plain.await;
            f.set();
            v
        });
        drop_mid_way(fut).await;
        kids.assert_forever_running("gather! dropped");
        wait_until("the spawned plain future to finish", || finished.get()).await;
        cancel_running_and_settle(&h, start, &kids, "gather! dropped", 3).await;
    });
}

#[test]
fn gather_macro_cancelled_mid_way_cancels_spawned_futures_and_leaks_nothing() {
    leak_test(|h, start| async move {
        let kids = Kids::new();
        let forever = kids.forever();
        let (k1, k2) = (kids.forever_future(), kids.forever_future());
        let quick = kids.quick_future(TICK, 1);
        cancel_mid_way(async move { weft::gather!(forever, k1, quick, k2).await.map(|_| ()) })
            .await;
        // Every forever child, spawned here or by gather!, was cancelled and
        // finished its cleanup before the caller ended.
        kids.assert_forever_cancelled_and_cleaned("gather! cancelled");
        assert_eq!(
            kids.cleaned.len(),
            3,
            "a future spawned by gather! was not awaited"
        );
        settle(&h, start, &kids.drops, 4).await;
    });
}

// ----- wait (with a timeout) -----

#[test]
fn wait_with_timeout_dropped_mid_way_leaks_nothing() {
    // Documented: nothing is cancelled.
    children_leak_test(
        forever_quick_forever,
        |tasks| weft::wait(tasks).timeout(FOREVER),
        Stop::Drop,
        Then::LeftRunning,
        "wait dropped",
    );
}

#[test]
fn wait_with_timeout_cancelled_mid_way_leaves_children_running_and_leaks_nothing() {
    children_leak_test(
        forever_quick_forever,
        |tasks| async move {
            weft::wait(tasks)
                .timeout(FOREVER)
                .return_when(ReturnWhen::AllCompleted)
                .await
                .map(|(d, p)| (d.len(), p.len()))
        },
        Stop::Cancel,
        Then::LeftRunning,
        "wait's caller cancelled",
    );
}

// ----- as_completed (with a timeout) -----

#[test]
fn as_completed_with_timeout_dropped_mid_way_leaks_nothing() {
    // Documented: dropping the stream cancels nothing.
    children_leak_test(
        forever_quick_forever,
        |tasks| {
            let stream = weft::as_completed(tasks).timeout(FOREVER);
            async move {
                let mut stream = stream;
                assert_eq!(stream.next().await.unwrap().unwrap(), 1);
                stream.next().await
            }
        },
        Stop::Drop,
        Then::LeftRunning,
        "as_completed dropped",
    );
}

#[test]
fn as_completed_with_timeout_cancelled_mid_way_leaves_children_running_and_leaks_nothing() {
    children_leak_test(
        forever_quick_forever,
        |tasks| async move {
            let mut stream = weft::as_completed(tasks).timeout(FOREVER);
            let mut seen = Vec::new();
            while let Some(item) = stream.next().await {
                seen.push(item.ok());
            }
            seen
        },
        Stop::Cancel,
        Then::LeftRunning,
        "as_completed's caller cancelled",
    );
}

#[test]
fn as_completed_tasks_cancelled_mid_way_leaks_nothing() {
    children_leak_test(
        |kids| vec![kids.quick(TICK, 1), kids.forever()],
        |tasks| async move {
            let mut stream = weft::as_completed(tasks).timeout(FOREVER).tasks();
            let mut n = 0;
            while let Some(item) = stream.next().await {
                n += usize::from(item.is_ok());
            }
            n
        },
        Stop::Cancel,
        Then::LeftRunning,
        "as_completed(..).tasks()'s caller cancelled",
    );
}

// ----- wait_for -----

/// The one child of a wait_for test.
fn one_forever(kids: &Kids) -> Vec<Task<u32>> {
    vec![kids.forever()]
}

#[test]
fn wait_for_dropped_mid_way_leaks_nothing() {
    // Documented: dropping leaves the task running.
    children_leak_test(
        one_forever,
        |mut tasks| weft::wait_for(tasks.remove(0), Some(FOREVER)),
        Stop::Drop,
        Then::LeftRunning,
        "wait_for dropped",
    );
}

#[test]
fn wait_for_cancelled_mid_way_cancels_and_awaits_the_task_and_leaks_nothing() {
    children_leak_test(
        one_forever,
        |mut tasks| async move {
            weft::wait_for(tasks.remove(0), Some(FOREVER))
                .await
                .map(|_| ())
        },
        Stop::Cancel,
        Then::CancelledAndAwaited,
        "wait_for cancelled",
    );
}

#[test]
fn wait_for_dropped_after_expiry_while_the_task_cleans_up_leaks_nothing() {
    leak_test(|h, start| async move {
        let kids = Kids::new();
        let task = kids.forever();
        kids.wait_started(1).await;
        // Expires after one tick and cancels the task, whose cleanup takes
        // another tick; the wait_for is dropped at its next poll, while it
        // waits for that cleanup.
        let child = task.task_ref();
        let mut fut = Box::pin(weft::wait_for(task, Some(TICK)));
        poll_fn(|cx| {
            if child.cancelling() > 0 {
                return Poll::Ready(());
            }
            if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                panic!(
                    "wait_for returned {:?} before its task's cleanup",
                    out.map(|_| ())
                );
            }
            if child.cancelling() > 0 {
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        })
        .await;
        drop(fut);
        wait_until("the task to finish", || child.done()).await;
        assert!(child.cancelled());
        assert_eq!(kids.cleaned.len(), 1);
        settle(&h, start, &kids.drops, 1).await;
    });
}

// ----- timeout scope -----

/// A scope body: holds a guard and awaits a forever child's handle.
fn scope_body(kids: &Kids) -> impl Future<Output = Result<u32, TaskError>> + Send + 'static {
    let (g, child) = (kids.drops.guard(), kids.forever());
    async move {
        let _g = g;
        child.await
    }
}

#[test]
fn timeout_scope_dropped_mid_way_leaks_nothing() {
    leak_test(|h, start| async move {
        let kids = Kids::new();
        let body = scope_body(&kids);
        let scope = weft::timeout(FOREVER);
        let s = scope.clone();
        drop_mid_way(async move { s.run(body).await }).await;
        assert!(!scope.expired());
        // The body was dropped; the child whose handle it held runs on, as
        // after dropping any handle.
        assert_eq!(kids.drops.get(), 1, "the scope's body was not dropped");
        cancel_running_and_settle(&h, start, &kids, "timeout scope dropped", 2).await;
    });
}

#[test]
fn timeout_scope_dropped_mid_way_inside_a_task_leaks_nothing() {
    leak_test(|h, start| async move {
        let kids = Kids::new();
        let body = scope_body(&kids);
        drop_mid_way_in_a_task!(weft::timeout(FOREVER).run(body));
        cancel_running_and_settle(&h, start, &kids, "timeout scope dropped in a task", 2).await;
    });
}

#[test]
fn timeout_scope_cancelled_mid_way_leaks_nothing() {
    leak_test(|h, start| async move {
        let kids = Kids::new();
        let body = scope_body(&kids);
        cancel_mid_way(async move { weft::timeout(FOREVER).run(body).await.is_ok() }).await;
        // The cancellation reached the body's await on the child: the child
        // was cancelled too (asyncio cancels the awaited task), and the caller
        // ended only after it had (issue 16: cancellation comes back up the
        // chain), so the body's guard and the child's are both dropped by now.
        assert_eq!(
            kids.drops.get(),
            2,
            "the scope's body, or the child it awaited, was not dropped"
        );
        for t in kids.forever.snapshot() {
            assert!(t.done(), "the caller ended before the child it awaited");
        }
        kids.assert_forever_cancelled_and_cleaned("timeout scope cancelled");
        settle(&h, start, &kids.drops, 2).await;
    });
}

// Beyond tasks and timers: a scope dropped after it expired, while its body
// still cleans up, must take back the cancellation it requested (asyncio's
// `Timeout.__aexit__` calls `uncancel()` whatever ends the block), or the
// task's `cancelling()` stays raised for good.
#[test]
fn timeout_scope_dropped_while_its_expired_body_cleans_up_takes_its_cancellation_back() {
    leak_test(|h, start| async move {
        let drops = DropCounter::new();
        let g = drops.guard();
        let caller = weft::spawn(async move {
            let scope = weft::timeout(TICK);
            let body = async move {
                let _g = g;
                match catch_cancel(weft::sleep(FOREVER)).await {
                    Ok(()) => unreachable!("slept forever"),
                    Err(c) => {
                        // A cleanup that outlasts the caller's patience.
                        weft::sleep(FOREVER).await;
                        c.raise::<()>().await
                    }
                }
            };
            let run = Box::pin(scope.run(body));
            match select(run, Box::pin(weft::sleep(5 * TICK))).await {
                Either::Left(_) => panic!("the scope finished during its body's cleanup"),
                Either::Right(((), run)) => drop(run),
            }
            assert!(scope.expired(), "dropped before the deadline: no test");
            let cancelling = current_task().unwrap().cancelling();
            weft::sleep(TICK).await;
            cancelling
        });
        assert_eq!(
            caller.await.expect("the caller was cancelled"),
            0,
            "the dropped scope left its cancellation counted"
        );
        settle(&h, start, &drops, 1).await;
    });
}

// ----- shield -----

/// Shields a gated child and a forever child, stops each shield mid-way as
/// `stop` says, and checks that, as documented, both shielded tasks keep
/// running: the gated one then finishes with its value (else `failed`), the
/// forever one runs on until the test cancels it (`why` names the case).
fn shield_leak_test(stop: Stop, failed: &'static str, why: &'static str) {
    leak_test(move |h, start| async move {
        let kids = Kids::new();
        let gate = Promise::new();
        let gated = kids.gated(&gate, 5);
        let gated_ref = gated.task_ref();
        let forever = kids.forever();
        kids.wait_started(2).await;
        match stop {
            Stop::Drop => {
                drop_mid_way(weft::shield(gated)).await;
                drop_mid_way(weft::shield(forever)).await;
            }
            Stop::Cancel => {
                cancel_mid_way(async move { weft::shield(gated).await.is_ok() }).await;
                cancel_mid_way(async move { weft::shield(forever).await.is_ok() }).await;
            }
        }
        // Documented: the shielded task keeps running and finishes.
        assert!(!gated_ref.done() && gated_ref.cancelling() == 0);
        gate.set_result(()).unwrap();
        wait_until("the shielded task to finish", || gated_ref.done()).await;
        assert!(gated_ref.exception().unwrap().is_none(), "{failed}");
        cancel_running_and_settle(&h, start, &kids, why, 2).await;
    });
}

#[test]
fn shield_dropped_mid_way_leaks_nothing() {
    shield_leak_test(Stop::Drop, "the shielded task failed", "shield dropped");
}

#[test]
fn shield_cancelled_mid_way_leaves_the_task_running_and_leaks_nothing() {
    shield_leak_test(
        Stop::Cancel,
        "the shielded task was cancelled",
        "shield's caller cancelled",
    );
}

// ----- task_group -----

/// A group body: spawns two forever children and a quick one (recorded in
/// `kids`), holds a guard, and waits forever.
fn group_body(
    kids: &Kids,
) -> impl FnOnce(weft::TaskGroup) -> std::pin::Pin<Box<dyn Future<Output = Result<(), TaskError>> + Send>>
{
    let kids = kids.clone();
    move |tg| {
        Box::pin(async move {
            let _g = kids.drops.guard();
            for _ in 0..2 {
                let t = tg.spawn(kids.forever_future()).unwrap();
                kids.forever.push(t.task_ref());
            }
            tg.spawn(kids.quick_future(TICK, 1)).unwrap().detach();
            pending::<()>().await;
            Ok(())
        })
    }
}

#[test]
fn task_group_dropped_mid_way_leaks_nothing() {
    leak_test(|h, start| async move {
        let kids = Kids::new();
        drop_mid_way(weft::task_group(group_body(&kids))).await;
        assert_eq!(kids.started.len(), 3);
        // Like every combinator's (crate docs), a dropped group's children
        // run on; the body itself was dropped.
        weft::sleep(TICK).await;
        cancel_running_and_settle(&h, start, &kids, "task_group dropped", 4).await;
    });
}

#[test]
fn task_group_dropped_mid_way_inside_a_task_leaks_nothing() {
    leak_test(|h, start| async move {
        let kids = Kids::new();
        let body = group_body(&kids);
        drop_mid_way_in_a_task!(weft::task_group(body));
        cancel_running_and_settle(&h, start, &kids, "task_group dropped in a task", 4).await;
    });
}

#[test]
fn task_group_cancelled_mid_way_cancels_and_awaits_children_and_leaks_nothing() {
    leak_test(|h, start| async move {
        let kids = Kids::new();
        let body = group_body(&kids);
        cancel_mid_way(async move { weft::task_group(body).await.is_ok() }).await;
        kids.assert_forever_cancelled_and_cleaned("task_group cancelled");
        assert_eq!(kids.forever.len(), 2);
        settle(&h, start, &kids.drops, 4).await;
    });
}

// Beyond tasks and timers: a task group dropped right after a child failure
// made it stop its body (by cancelling the enclosing task) must not leave that
// cancellation behind; nobody cancelled the enclosing task.
#[test]
fn task_group_dropped_after_it_stopped_its_body_leaves_no_cancellation_behind() {
    leak_test(|h, start| async move {
        let kids = Kids::new();
        let k = kids.clone();
        let caller = weft::spawn(async move {
            let me = current_task().unwrap();
            let mut group = Box::pin(weft::task_group(|tg| {
                let k = k.clone();
                async move {
                    let _g = k.drops.guard();
                    tg.spawn(async {
                        weft::sleep(TICK).await;
                        panic!("child failed");
                    })
                    .unwrap()
                    .detach();
                    pending::<()>().await;
                    Ok(())
                }
            }));
            // Like a biased `select!` whose other branch is ready at that very
            // moment: the group is dropped when it has just asked to stop
            // its body, without being polled again.
            poll_fn(|cx| {
                if me.cancelling() > 0 {
                    return Poll::Ready(());
                }
                match group.as_mut().poll(cx) {
                    Poll::Ready(out) => panic!("the group finished: {:?}", out.map(|_| ())),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await;
            drop(group);
            weft::sleep(TICK).await;
            "ran on"
        });
        let out = caller.await;
        assert_eq!(
            out.as_ref().map_err(TaskError::is_cancelled).ok(),
            Some(&"ran on"),
            "the enclosing task was cancelled by a dropped group: {out:?}"
        );
        settle(&h, start, &kids.drops, 1).await;
    });
}
