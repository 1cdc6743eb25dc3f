//! Eager tasks (issue 16 section 4; asyncio 3.12's `eager_task_factory`):
//! `Builder::eager_tasks(true)` and `weft::spawn_eager`. The task's first step
//! runs inside the spawn call, as the current task; a task that finishes there
//! is never scheduled and its handle is done when the call returns; one that
//! suspends goes on as any task.
//!
//! Ported from CPython's Lib/test/test_asyncio/test_eager_task_factory.py
//! (`EagerTaskFactoryLoopTests`, `BaseTaskCountingTests`), one test per case;
//! the cases weft has no counterpart for are listed in the report of the
//! branch that added this file (`test_context_vars` belongs to the
//! context-variables work, `staggered_race` and the C-task internals have no
//! weft equivalent). The rest pin what asyncio leaves to the loop: spawns from
//! outside a loop, `spawn_local`, panics in the first step, task groups,
//! nesting, done callbacks and leaks.
//!
//! Most bodies run inside a task spawned from the test thread (a plain
//! thread: that spawn is not eager), as CPython's `run_coro` runs its
//! coroutine as the loop's task; the `block_on` cases say so.

mod common;

use common::{ms, DropCounter, Flag, Log};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use weft::{current_task, DoneCallback, Promise, Runtime, TaskError, TaskRef};

/// A runtime whose every spawn is eager.
fn eager_runtime(workers: usize) -> Runtime {
    weft::Builder::new()
        .workers(workers)
        .eager_tasks(true)
        .build()
        .expect("build an eager weft runtime")
}

/// Under the watchdog: runs `body` as a task of a one-worker runtime (eager if
/// `eager`), and returns its output once the runtime holds no live task.
fn run_in_task<F>(eager: bool, body: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    common::watchdog(move || {
        let rt = if eager {
            eager_runtime(1)
        } else {
            common::runtime(1)
        };
        let out = rt.block_on(rt.spawn(body)).expect("the test's main task");
        // Nothing leaked: every task the body spawned has finished.
        let handle = rt.handle().clone();
        common::spin_until("the runtime to hold no live task", || {
            handle.metrics().live_tasks == 0
        });
        out
    })
}

fn eager<F>(body: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    run_in_task(true, body)
}

fn id_of(task: &Option<TaskRef>) -> Option<weft::TaskId> {
    task.as_ref().map(TaskRef::id)
}

// ----- EagerTaskFactoryLoopTests -----

// CPython: test_eager_task_factory.py EagerTaskFactoryLoopTests.test_eager_task_factory_set
#[test]
fn builder_eager_tasks_makes_every_spawn_eager() {
    eager(async {
        let ran = Flag::new();
        let r = ran.clone();
        let t = weft::spawn(async move { r.set() });
        // The body ran inside `spawn`, not on a later turn of the loop.
        assert!(ran.get());
        assert!(t.done());
        t.await.unwrap();
    });
}

// CPython: test_eager_task_factory.py EagerTaskFactoryLoopTests.test_await_future_during_eager_step
#[test]
fn promise_set_during_the_eager_step_is_set_when_spawn_returns() {
    let out = eager(async {
        let fut = Promise::new();
        let setter = fut.clone();
        let t = weft::spawn(async move { setter.set_result("my message").unwrap() });
        // The eager step completed the task.
        assert!(t.done());
        assert!(fut.done());
        fut.await.unwrap()
    });
    assert_eq!(out, "my message");
}

// CPython: test_eager_task_factory.py EagerTaskFactoryLoopTests.test_eager_completion
#[test]
fn task_finishing_in_its_first_step_is_done_when_spawn_returns() {
    let out = eager(async {
        let mut t = weft::spawn(async { "hello" });
        assert!(t.done());
        // The value is there without awaiting.
        assert_eq!(t.result().unwrap().unwrap(), "hello");
        let t = weft::spawn(async { "hello" });
        t.await.unwrap()
    });
    assert_eq!(out, "hello");
}

// CPython: test_eager_task_factory.py EagerTaskFactoryLoopTests.test_block_after_eager_step
#[test]
fn task_blocking_after_its_first_step_goes_on_as_a_scheduled_task() {
    let out = eager(async {
        let t = weft::spawn(async {
            weft::sleep(ms(20)).await;
            "finished after blocking"
        });
        assert!(!t.done());
        let tr = t.task_ref();
        let out = t.await.unwrap();
        assert!(tr.done());
        out
    });
    assert_eq!(out, "finished after blocking");
}

// CPython: test_eager_task_factory.py EagerTaskFactoryLoopTests.test_cancellation_after_eager_completion
#[test]
fn cancel_after_eager_completion_is_refused() {
    let out = eager(async {
        let t = weft::spawn(async { "finished without blocking" });
        assert!(!t.cancel(), "a finished task cannot be cancelled");
        let tr = t.task_ref();
        let out = t.await.unwrap();
        assert!(!tr.cancelled());
        assert_eq!(tr.cancelling(), 0);
        out
    });
    assert_eq!(out, "finished without blocking");
}

// CPython: test_eager_task_factory.py EagerTaskFactoryLoopTests.test_cancellation_after_eager_step_blocks
#[test]
fn cancel_after_the_eager_step_blocked_cancels_at_the_await() {
    let cleaned = DropCounter::new();
    let guard = cleaned.guard();
    let err = eager(async move {
        let t = weft::spawn(async move {
            let _g = guard;
            weft::sleep(ms(100)).await;
            "finished after blocking"
        });
        assert!(t.cancel_with("cancellation message"));
        assert!(t.cancelling() > 0);
        t.await.unwrap_err()
    });
    match err {
        TaskError::Cancelled(c) => assert_eq!(c.message(), Some("cancellation message")),
        other => panic!("expected a cancellation, got {other:?}"),
    }
    assert_eq!(
        cleaned.get(),
        1,
        "the blocked step's state was dropped once"
    );
}

// CPython: test_eager_task_factory.py EagerTaskFactoryLoopTests.test_current_task
#[test]
fn current_task_inside_the_eager_step_is_the_new_task() {
    eager(async {
        let me = current_task().expect("the main task");
        let captured = Arc::new(parking_lot::Mutex::new(None));
        let c = captured.clone();
        let t = weft::spawn(async move {
            let first = current_task();
            *c.lock() = first.clone();
            weft::sleep(ms(10)).await;
            // The same task before and after blocking.
            assert_eq!(id_of(&current_task()), id_of(&first));
        });
        assert_eq!(id_of(&captured.lock()), Some(t.id()));
        // The spawner's task is current again once `spawn` returns.
        assert_eq!(id_of(&current_task()), Some(me.id()));
        t.await.unwrap();
    });
}

// CPython: test_eager_task_factory.py EagerTaskFactoryLoopTests.test_all_tasks_with_eager_completion
#[test]
fn all_tasks_lists_the_eager_task_only_during_its_step() {
    eager(async {
        let captured = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let c = captured.clone();
        let t = weft::spawn(async move {
            *c.lock() = weft::all_tasks();
        });
        assert!(captured.lock().iter().any(|x| x.id() == t.id()));
        assert!(!weft::all_tasks().iter().any(|x| x.id() == t.id()));
    });
}

// CPython: test_eager_task_factory.py EagerTaskFactoryLoopTests.test_all_tasks_with_blocking
#[test]
fn all_tasks_lists_an_eager_task_that_blocked_until_it_ends() {
    eager(async {
        let (fut1, fut2) = (Promise::new(), Promise::new());
        let captured = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let (c, f1, f2) = (captured.clone(), fut1.clone(), fut2.clone());
        let t = weft::spawn(async move {
            *c.lock() = weft::all_tasks();
            f1.await.unwrap();
            f2.set_result(()).unwrap();
        });
        assert!(captured.lock().iter().any(|x| x.id() == t.id()));
        assert!(weft::all_tasks().iter().any(|x| x.id() == t.id()));
        fut1.set_result(()).unwrap();
        fut2.await.unwrap();
        // The task set fut2 as its last act; let it finish.
        let tr = t.task_ref();
        common::wait_done(&tr).await;
        assert!(!weft::all_tasks().iter().any(|x| x.id() == t.id()));
    });
}

// CPython: test_eager_task_factory.py CEagerTaskFactoryLoopTests.test_issue122332
// (the finished task lets go of its coroutine: weft drops the future at once).
#[test]
fn future_finishing_eagerly_is_dropped_inside_spawn() {
    eager(async {
        let drops = DropCounter::new();
        let g = drops.guard();
        let t = weft::spawn(async move {
            let _g = g;
        });
        assert_eq!(drops.get(), 1);
        t.await.unwrap();
    });
}

// ----- BaseTaskCountingTests -----

/// How a level of the recursion waits for its children: CPython's
/// `recursive_gather` or `recursive_taskgroups`.
#[derive(Clone, Copy)]
enum Via {
    Gather,
    TaskGroup,
}

/// `recursive_gather(width, depth)` / `recursive_taskgroups(width, depth)`:
/// each level spawns `width` children and waits for them `via` gather or a
/// task group. Counts, in `scheduled`, the spawns whose task was not done when
/// the spawn returned (those the loop had to schedule).
fn recursive(
    via: Via,
    width: usize,
    depth: usize,
    scheduled: Arc<AtomicUsize>,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            return;
        }
        let shared = scheduled.clone();
        let child = move || recursive(via, width, depth - 1, shared.clone());
        let count = |done: bool| {
            if !done {
                scheduled.fetch_add(1, Ordering::Relaxed);
            }
        };
        match via {
            Via::Gather => {
                let tasks: Vec<_> = (0..width)
                    .map(|_| {
                        let t = weft::spawn(child());
                        count(t.done());
                        t
                    })
                    .collect();
                weft::gather(tasks).await.unwrap();
            }
            Via::TaskGroup => weft::task_group(|tg| async move {
                for _ in 0..width {
                    count(tg.spawn(child()).unwrap().done());
                }
                Ok(())
            })
            .await
            .unwrap(),
        }
    })
}

/// Runs `recursive(via, 5, 4)` as the main task on an eager or plain
/// one-worker runtime and checks that it spawned 5 + 5^2 + 5^3 + 5^4 tasks
/// (CPython's 781 minus the main task, spawned here from the test thread,
/// where no spawn is eager), `scheduled` of which were not done at spawn.
fn assert_recursive_schedules(eager: bool, via: Via, scheduled: usize) {
    const CHILDREN: usize = 780;
    let (counted, spawned) = run_in_task(eager, async move {
        let before = weft::Handle::current().metrics().spawned;
        let counter = Arc::new(AtomicUsize::new(0));
        recursive(via, 5, 4, counter.clone()).await;
        let spawned = weft::Handle::current().metrics().spawned - before;
        (counter.load(Ordering::Relaxed), spawned)
    });
    assert_eq!(spawned, CHILDREN);
    assert_eq!(counted, scheduled);
}

// CPython: test_eager_task_factory.py BaseTaskCountingTests.test_recursive_gather (EagerTests)
#[test]
fn recursive_gather_on_an_eager_runtime_schedules_no_task() {
    assert_recursive_schedules(true, Via::Gather, 0);
}

// CPython: test_eager_task_factory.py BaseTaskCountingTests.test_recursive_gather (NonEagerTests)
#[test]
fn recursive_gather_on_a_plain_runtime_schedules_every_task() {
    // One worker, busy with the spawning task: no child can run before it yields.
    assert_recursive_schedules(false, Via::Gather, 780);
}

// CPython: test_eager_task_factory.py BaseTaskCountingTests.test_recursive_taskgroups (EagerTests)
#[test]
fn recursive_task_groups_on_an_eager_runtime_schedule_no_task() {
    assert_recursive_schedules(true, Via::TaskGroup, 0);
}

// CPython: test_eager_task_factory.py BaseTaskCountingTests.test_recursive_taskgroups (NonEagerTests)
#[test]
fn recursive_task_groups_on_a_plain_runtime_schedule_every_task() {
    assert_recursive_schedules(false, Via::TaskGroup, 780);
}

// ----- what asyncio leaves to the loop -----

#[test]
fn spawn_eager_is_eager_on_a_plain_runtime_and_spawn_is_not() {
    run_in_task(false, async {
        let t = weft::spawn_eager(async { 1 });
        assert!(t.done());
        // On this one-worker runtime a plain spawn waits for us to yield.
        let u = weft::spawn(async { 2 });
        assert!(!u.done());
        assert_eq!(t.await.unwrap() + u.await.unwrap(), 3);
    });
}

#[test]
fn spawn_eager_outside_a_runtime_is_refused_like_spawn() {
    assert!(weft::try_spawn_eager(async {})
        .unwrap_err()
        .is_outside_runtime());
    let panicked = std::panic::catch_unwind(|| weft::spawn_eager(async {}).detach());
    let message = common::panic_message(&*panicked.unwrap_err());
    assert!(message.contains("outside a weft runtime"), "{message}");
}

#[test]
fn spawn_from_a_plain_thread_on_an_eager_runtime_is_scheduled_as_usual() {
    common::watchdog(|| {
        let rt = eager_runtime(1);
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        // Occupy the only worker, so a scheduled task cannot run yet.
        let blocker = rt.spawn(async move {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        });
        started_rx.recv().unwrap();
        // No loop of the runtime runs this thread: nothing to start it on.
        let ran = Flag::new();
        let r = ran.clone();
        let t = rt.handle().spawn(async move { r.set() });
        std::thread::sleep(ms(20));
        assert!(
            !ran.get(),
            "a spawn from a plain thread ran inside the call"
        );
        assert!(!t.done());
        release_tx.send(()).unwrap();
        rt.block_on(blocker).unwrap();
        rt.block_on(t).unwrap();
        assert!(ran.get());
    });
}

#[test]
fn spawn_eager_from_block_on_runs_the_step_on_the_block_on_thread() {
    common::watchdog(|| {
        let rt = common::runtime(1);
        rt.block_on(async {
            let here = std::thread::current().id();
            let t = weft::spawn_eager(async move {
                let first = std::thread::current().id();
                let me = current_task().map(|t| t.id());
                weft::sleep(ms(5)).await;
                (first, me, current_task().map(|t| t.id()))
            });
            // block_on's own future is no task: none is current again.
            assert!(current_task().is_none());
            let id = t.id();
            let (first, me, later) = t.await.unwrap();
            assert_eq!(first, here);
            assert_eq!(me, Some(id));
            assert_eq!(later, Some(id));
        });
        assert_eq!(rt.handle().metrics().live_tasks, 0);
    });
}

#[test]
fn spawn_local_on_an_eager_runtime_is_eager() {
    eager(async {
        // A !Send future, pinned to this worker's loop.
        let t = weft::spawn_local(async {
            let shared = Rc::new(3);
            *shared + 1
        });
        assert!(t.done());
        let u = weft::spawn_local(async {
            let shared = Rc::new(5);
            weft::yield_now().await;
            *shared
        });
        assert!(!u.done());
        assert_eq!(t.await.unwrap() + u.await.unwrap(), 9);
    });
}

#[test]
fn panic_in_the_first_step_fails_the_task_not_the_spawner() {
    eager(async {
        let t = weft::spawn(async {
            if weft::all_tasks().len() < usize::MAX {
                panic!("boom in the first step");
            }
            1
        });
        // The spawner goes on; the task is done with the panic as its error.
        assert!(t.done());
        let err = t.exception().unwrap().expect("an error");
        assert!(err.is_panic());
        assert!(t.await.unwrap_err().is_panic());
    });
}

#[test]
fn done_callbacks_of_an_eager_completion_run_on_the_loop_not_inside_spawn() {
    eager(async {
        let log = Log::new();
        let l = log.clone();
        let t = weft::spawn(async { 1 });
        assert!(t.done());
        t.add_done_callback(DoneCallback::new(move |_| l.push("callback")));
        // Scheduled with call_soon, as asyncio does for a done future.
        assert!(log.snapshot().is_empty());
        common::wait_until("the done callback to run", || log.len() == 1).await;
        assert_eq!(t.await.unwrap(), 1);
    });
}

#[test]
fn task_yielding_in_its_first_step_is_rescheduled() {
    eager(async {
        let steps = Log::new();
        let s = steps.clone();
        let t = weft::spawn(async move {
            s.push(1);
            weft::yield_now().await;
            s.push(2);
        });
        assert_eq!(steps.snapshot(), [1]);
        assert!(!t.done());
        t.await.unwrap();
        assert_eq!(steps.snapshot(), [1, 2]);
    });
}

#[test]
fn task_cancelling_itself_in_its_first_step_ends_cancelled() {
    eager(async {
        let t = weft::spawn(async {
            current_task().unwrap().cancel_with("self");
            weft::yield_now().await;
            unreachable!("the cancellation is delivered at the first await");
        });
        assert!(t.done());
        assert!(t.cancelled());
        let err = t.await.unwrap_err();
        assert!(err.is_cancelled());
    });
}

#[test]
fn eager_children_of_a_task_group_finish_inside_spawn() {
    eager(async {
        let out = weft::task_group(|tg| async move {
            let a = tg.spawn(async { 1 }).unwrap();
            assert!(a.done());
            assert_eq!(tg.len(), 0, "a child done in its first step left the group");
            let b = tg
                .spawn(async {
                    weft::sleep(ms(5)).await;
                    2
                })
                .unwrap();
            assert!(!b.done());
            Ok(a.await.unwrap() + b.await.unwrap())
        })
        .await
        .unwrap();
        assert_eq!(out, 3);
    });
}

#[test]
fn eager_child_failing_in_its_first_step_aborts_its_task_group() {
    eager(async {
        let sibling_cleaned = DropCounter::new();
        let g = sibling_cleaned.guard();
        let err = weft::task_group(|tg| async move {
            tg.spawn(async move {
                let _g = g;
                weft::sleep(common::FOREVER).await;
            })
            .unwrap()
            .detach();
            let bad = tg
                .spawn(async {
                    if weft::all_tasks().len() < usize::MAX {
                        panic!("child failed eagerly");
                    }
                })
                .unwrap();
            assert!(bad.done());
            weft::sleep(common::FOREVER).await;
            Ok(())
        })
        .await
        .unwrap_err();
        assert_eq!(err.errors().len(), 1);
        assert!(err.errors()[0].is_panic());
        assert_eq!(sibling_cleaned.get(), 1, "the sibling was cancelled");
    });
}

#[test]
fn nested_eager_spawns_run_depth_first_with_the_right_current_task() {
    eager(async {
        let main = current_task().unwrap().id();
        let order = Log::new();
        let o = order.clone();
        let outer = weft::spawn(async move {
            let outer_id = current_task().unwrap().id();
            o.push("outer starts");
            let o2 = o.clone();
            let inner = weft::spawn(async move {
                o2.push("inner runs");
                current_task().unwrap().id()
            });
            // The inner task finished inside the nested spawn, and the outer
            // task is current again.
            assert!(inner.done());
            assert_eq!(current_task().unwrap().id(), outer_id);
            o.push("outer goes on");
            let inner_id = inner.await.unwrap();
            assert_ne!(inner_id, outer_id);
            outer_id
        });
        assert!(outer.done());
        assert_eq!(current_task().unwrap().id(), main);
        assert_eq!(
            order.snapshot(),
            ["outer starts", "inner runs", "outer goes on"]
        );
        assert_ne!(outer.await.unwrap(), main);
    });
}

#[test]
fn gather_macro_children_on_an_eager_runtime_are_eager() {
    eager(async {
        let ran = Arc::new(AtomicUsize::new(0));
        let (a, b) = (ran.clone(), ran.clone());
        let (x, y) = weft::gather!(
            async move {
                a.fetch_add(1, Ordering::Relaxed);
                1
            },
            async move {
                b.fetch_add(1, Ordering::Relaxed);
                2
            }
        )
        .await
        .unwrap();
        assert_eq!((x, y), (1, 2));
        assert_eq!(ran.load(Ordering::Relaxed), 2);
    });
}

#[test]
fn dropping_an_eager_runtime_cancels_a_blocked_eager_task_without_leaking() {
    common::watchdog(|| {
        let drops = DropCounter::new();
        let g = drops.guard();
        let rt = eager_runtime(1);
        let t = rt.block_on(async move {
            let t = weft::spawn(async move {
                let _g = g;
                weft::sleep(common::FOREVER).await;
            });
            assert!(!t.done());
            t.task_ref()
        });
        drop(rt);
        assert_eq!(drops.get(), 1);
        assert!(t.done());
        assert!(t.cancelled());
    });
}

/// A shutdown from another thread that runs while an eager step runs inside
/// `block_on` finds the task running and leaves it; the spawn then cancels it
/// itself once the step has suspended, so it neither leaks nor waits forever.
#[test]
fn eager_step_in_block_on_racing_a_shutdown_is_cancelled_not_leaked() {
    common::watchdog(|| {
        let rt = common::runtime(1);
        let handle = rt.handle().clone();
        let drops = DropCounter::new();
        let (in_step_tx, in_step_rx) = std::sync::mpsc::channel::<()>();
        let shut_down = Flag::new();
        let (g, gone) = (drops.guard(), shut_down.clone());
        let d = drops.clone();
        let block_on_thread = std::thread::spawn(move || {
            handle.block_on(async move {
                let t = weft::spawn_eager(async move {
                    let _g = g;
                    in_step_tx.send(()).unwrap();
                    // Hold the step until the runtime is gone, then suspend.
                    common::spin_until("the runtime to shut down", || gone.get());
                    std::future::pending::<()>().await;
                });
                assert!(t.done(), "the task outlived its runtime, pending");
                assert!(t.cancelled());
                assert_eq!(d.get(), 1, "its future was dropped");
            });
        });
        in_step_rx.recv().unwrap();
        drop(rt);
        shut_down.set();
        block_on_thread.join().unwrap();
        assert_eq!(drops.get(), 1);
    });
}
