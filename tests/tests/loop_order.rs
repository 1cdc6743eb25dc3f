//! One loop runs its ready work in the order it was scheduled (issue 16,
//! section 2): asyncio's loop has a single FIFO of callbacks and task steps,
//! so a `call_soon` made after a task was spawned or woken runs after that
//! task's step. Every case runs on the three loops where weft keeps that
//! order exactly: a one-worker runtime with stealable tasks (`spawn`), the
//! same with pinned tasks (`spawn_local`), and `block_on`'s own loop (pinned
//! tasks, the main future taking its turns in the queue as asyncio's main
//! task does). docs/asyncio.md says what the LIFO slot and stealing reorder
//! on several workers.

mod common;

use common::{flag_when_pending, watchdog, Flag, Log};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use weft::sync::{Event, Mutex, Semaphore};

/// Which loop a case runs on, and how it spawns there.
#[derive(Clone, Copy, Debug)]
enum Site {
    /// A task on a one-worker runtime, spawning stealable tasks.
    Worker,
    /// A task on a one-worker runtime, spawning tasks pinned to the worker.
    WorkerPinned,
    /// `block_on`'s main future, spawning tasks pinned to its loop.
    BlockOn,
}

fn spawn_on<F>(on: Site, future: F) -> weft::Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match on {
        Site::Worker => weft::spawn(future),
        Site::WorkerPinned | Site::BlockOn => weft::spawn_local(future),
    }
}

/// Runs the case `make` builds on each loop of [`Site`], each on a fresh
/// one-worker runtime, under the watchdog.
fn on_each_loop<M, F>(make: M)
where
    M: Fn(Site) -> F + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    watchdog(move || {
        for on in [Site::Worker, Site::WorkerPinned, Site::BlockOn] {
            let rt = common::runtime(1);
            match on {
                Site::BlockOn => rt.block_on(make(on)),
                Site::Worker | Site::WorkerPinned => {
                    let case = rt.handle().spawn(make(on));
                    rt.block_on(case)
                        .unwrap_or_else(|e| panic!("the case on {on:?} failed: {e}"));
                }
            }
        }
    });
}

/// Queues a callback that cancels `task` (asyncio's `call_soon(t.cancel)`).
fn call_soon_cancel(task: weft::TaskRef) {
    weft::call_soon(move || {
        task.cancel();
    });
}

// No single CPython case: the rule itself, as asyncio's `_ready` deque runs
// it (python3.13 prints this order for the same program).
#[test]
fn callbacks_and_task_steps_run_in_the_order_they_were_scheduled() {
    on_each_loop(|on| async move {
        let log = Log::new();
        let step = |name: &'static str| {
            let log = log.clone();
            move || log.push(name)
        };
        let a = spawn_on(on, {
            let s = step("A");
            async move { s() }
        });
        weft::call_soon(step("c1"));
        let b = spawn_on(on, {
            let s = step("B");
            async move { s() }
        });
        weft::call_soon(step("c2"));
        weft::yield_now().await;
        log.push("main");
        assert_eq!(log.snapshot(), ["A", "c1", "B", "c2", "main"], "on {on:?}");
        a.await.unwrap();
        b.await.unwrap();
    });
}

// CPython: test_tasks.py BaseTaskTests.test_cancel (its test loop's clock
// generator checks that the task reached its 10 s sleep before the cancel:
// the task's first step runs before the callback queued after it).
#[test]
fn a_call_soon_cancel_cancels_the_task_after_its_first_step() {
    on_each_loop(|on| async move {
        let reached_sleep = Flag::new();
        let reached = reached_sleep.clone();
        let t = spawn_on(on, async move {
            reached.set();
            weft::sleep(Duration::from_secs(10)).await;
            12
        });
        let tr = t.task_ref();
        call_soon_cancel(tr.clone());
        assert!(t.await.unwrap_err().is_cancelled(), "on {on:?}");
        assert!(
            reached_sleep.get(),
            "on {on:?}: the callback ran before the task's first step"
        );
        assert!(tr.done());
        assert!(tr.cancelled());
        assert!(!tr.cancel());
    });
}

/// CPython's `_test_cancel_wait_for(timeout)`: a `wait_for` task over a
/// blocked task, cancelled by a callback queued right after it was created,
/// cancels the blocked task too (Python issue #23219), which needs the
/// `wait_for` to be running when the cancel arrives.
async fn cancel_wait_for(on: Site, timeout: Option<Duration>) {
    let blocked = spawn_on(on, std::future::pending::<()>());
    let blocked_ref = blocked.task_ref();
    let wait = spawn_on(on, weft::wait_for(blocked, timeout));
    call_soon_cancel(wait.task_ref());
    assert!(wait.await.unwrap_err().is_cancelled(), "on {on:?}");
    assert!(
        blocked_ref.cancelled(),
        "on {on:?}: cancelling the wait must also cancel the task"
    );
}

// CPython: test_waitfor.py WaitForTests.test_cancel_wait_for
#[test]
fn cancelling_a_started_wait_for_cancels_its_task() {
    on_each_loop(|on| cancel_wait_for(on, Some(Duration::from_secs(60))));
}

// CPython: test_waitfor.py WaitForTests.test_cancel_blocking_wait_for
#[test]
fn cancelling_a_started_blocking_wait_for_cancels_its_task() {
    on_each_loop(|on| cancel_wait_for(on, None));
}

// CPython: test_locks.py LockTests.test_acquire_cancel (asyncio's task is
// already waiting in `acquire` when the callback cancels it; the flag checks
// that, the end state that it left no waiter behind).
#[test]
fn a_call_soon_cancel_reaches_an_acquire_already_waiting() {
    on_each_loop(|on| async move {
        let lock = Arc::new(Mutex::new(()));
        let mine = lock.clone().lock_owned().await;
        let waiting = Flag::new();
        let task = spawn_on(
            on,
            flag_when_pending(waiting.clone(), lock.clone().lock_owned()),
        );
        call_soon_cancel(task.task_ref());
        assert!(task.await.unwrap_err().is_cancelled(), "on {on:?}");
        assert!(waiting.get(), "on {on:?}: cancelled before it waited");
        drop(mine);
        assert!(!lock.locked(), "on {on:?}: a waiter was left behind");
        drop(lock.try_lock().expect("the lock is free"));
    });
}

// CPython: test_locks.py EventTests.test_wait_cancel
#[test]
fn a_call_soon_cancel_reaches_an_event_wait_already_waiting() {
    on_each_loop(|on| async move {
        let ev = Arc::new(Event::new());
        let waiting = Flag::new();
        let e = ev.clone();
        let wait = spawn_on(
            on,
            flag_when_pending(waiting.clone(), async move { e.wait().await }),
        );
        call_soon_cancel(wait.task_ref());
        assert!(wait.await.unwrap_err().is_cancelled(), "on {on:?}");
        assert!(waiting.get(), "on {on:?}: cancelled before it waited");
        // No waiter left: setting the event wakes nobody and it stays set.
        ev.set();
        assert!(ev.is_set());
    });
}

// CPython: test_locks.py SemaphoreTests.test_acquire_cancel
#[test]
fn a_call_soon_cancel_reaches_a_semaphore_acquire_already_waiting() {
    on_each_loop(|on| async move {
        let sem = Arc::new(Semaphore::new(1));
        let mine = sem.clone().acquire_owned().await;
        let waiting = Flag::new();
        let acquire = spawn_on(
            on,
            flag_when_pending(waiting.clone(), sem.clone().acquire_owned()),
        );
        call_soon_cancel(acquire.task_ref());
        assert!(acquire.await.unwrap_err().is_cancelled(), "on {on:?}");
        assert!(waiting.get(), "on {on:?}: cancelled before it waited");
        drop(mine);
        assert_eq!(sem.available_permits(), 1, "on {on:?}: a waiter took it");
        assert!(!sem.locked());
    });
}

// CPython: test_tasks.py SleepTests.test_sleep_zero (a callback queued before
// `sleep(0)` has run when the task resumes; weft kept this before the one
// FIFO too, and must keep it).
#[test]
fn a_callback_queued_before_a_yield_runs_before_the_task_resumes() {
    on_each_loop(|on| async move {
        let result = Log::new();
        let r = result.clone();
        weft::call_soon(move || r.push(1));
        assert_eq!(result.len(), 0, "on {on:?}: call_soon ran synchronously");
        weft::yield_now().await;
        assert_eq!(result.snapshot(), [1], "on {on:?}");
    });
}

// No single CPython case: asyncio schedules a future's waiters when it is
// set, so tasks woken one after the other in one step run in that order. A
// lone worker's slot must not reverse them (a LIFO slot would run the last
// one woken first).
#[test]
fn tasks_woken_in_one_step_run_in_the_order_they_were_woken() {
    on_each_loop(|on| async move {
        let log = Log::new();
        let gates: Vec<weft::Promise<()>> = (0..3).map(|_| weft::Promise::new()).collect();
        let waiters: Vec<_> = gates
            .iter()
            .enumerate()
            .map(|(i, gate)| {
                let (gate, log) = (gate.clone(), log.clone());
                spawn_on(on, async move {
                    gate.await.unwrap();
                    log.push(i);
                })
            })
            .collect();
        weft::yield_now().await; // every waiter now waits on its gate
        for i in [2, 0, 1] {
            gates[i].set_result(()).unwrap();
        }
        weft::yield_now().await;
        assert_eq!(log.snapshot(), [2, 0, 1], "on {on:?}");
        for w in waiters {
            w.await.unwrap();
        }
    });
}
