//! Tasks that await each other in a cycle (A awaits B's handle, B awaits
//! A's), then cancelled or shut down: the cycle resolves with every task
//! ended cancelled, and nothing hangs or leaks.
//!
//! A cancelled task passes the cancellation to the task it awaits and ends
//! only after that one has ended (`task_cancel_chain.rs`). Around a cycle
//! that rule would have each task wait for the next one's end for ever: the
//! wait closes on a task that is itself waiting. asyncio has no answer to
//! copy here (its `Task.cancel` recurses around the cycle through
//! `_fut_waiter.cancel()` until `RecursionError`); weft ends the cycle, every
//! task cancelled, as the chain would end if it were cut where it closes.
//!
//! Every test is bounded by the runtime's own time limit or the watchdog, so
//! a hang fails the test instead of blocking the suite.

mod common;

use common::{live_tasks, wait_until, yield_times, DropCounter};
use parking_lot::Mutex;
use std::sync::Arc;
use weft::{Promise, Task, TaskError, TaskRef};

/// Re-raises a cancellation that came out of an await as the task's own
/// (an uncaught `CancelledError`); other outcomes panic.
async fn reraise(outcome: Result<(), TaskError>) {
    match outcome {
        Ok(()) => panic!("a task of the cycle ended with a value"),
        Err(e) => match e.as_cancelled() {
            Some(c) => c.clone().raise().await,
            None => panic!("expected a cancellation, got {e}"),
        },
    }
}

/// The tasks of a cycle, task `i` awaiting task `i + 1`'s handle (the last
/// awaiting the first's), each holding a guard of `drops` in its state.
struct Cycle {
    tasks: Vec<TaskRef>,
}

impl Cycle {
    /// Spawns `n` tasks and waits until each is parked on the next one's
    /// handle (its `cancel()` then reaches that one at once).
    async fn start(n: usize, drops: &DropCounter) -> Cycle {
        let slots: Arc<Vec<Mutex<Option<Task<()>>>>> =
            Arc::new((0..n).map(|_| Mutex::new(None)).collect());
        let go = Promise::<()>::new();
        let mut tasks = Vec::with_capacity(n);
        for i in 0..n {
            let (mine, go, guard) = (slots.clone(), go.clone(), drops.guard());
            let task = weft::spawn(async move {
                let _finally = guard;
                go.await.unwrap();
                let next = mine[(i + 1) % n].lock().take().expect("the next task");
                reraise(next.await).await
            });
            tasks.push(task.task_ref());
            *slots[i].lock() = Some(task);
        }
        go.set_result(()).unwrap();
        // Parked once every handle has been taken and awaited: the slots
        // are empty and nothing has ended.
        wait_until("every task of the cycle to park", || {
            slots.iter().all(|s| s.lock().is_none())
        })
        .await;
        yield_times(5).await;
        assert!(tasks.iter().all(|t| !t.done()), "the cycle is parked");
        Cycle { tasks }
    }

    /// Waits until every task has ended, and checks each ended cancelled.
    async fn ended_cancelled(&self) {
        wait_until("every task of the cycle to end", || {
            self.tasks.iter().all(TaskRef::done)
        })
        .await;
        for t in &self.tasks {
            assert!(t.cancelled(), "{t:?} ended cancelled");
        }
    }
}

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancelling_one_of_two_tasks_awaiting_each_other_ends_both() {
    let (before, drops) = (live_tasks(), DropCounter::new());
    let cycle = Cycle::start(2, &drops).await;
    assert!(cycle.tasks[0].cancel_with("cut"));
    // Passed around the cycle before `cancel()` returned, and counted once
    // by each task: the pass stops where it comes back round to the first.
    assert!(cycle.tasks.iter().all(|t| t.cancelling() == 1));
    cycle.ended_cancelled().await;
    for t in &cycle.tasks {
        let e = t.exception().unwrap().unwrap();
        assert_eq!(common::cancel_message(&e).as_deref(), Some("cut"));
    }
    assert_eq!(drops.get(), 2, "each task's future was dropped");
    wait_until("every task to be gone", || live_tasks() == before).await;
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_one_of_two_on_two_workers_ends_both() {
    let (before, drops) = (live_tasks(), DropCounter::new());
    for _ in 0..20 {
        let cycle = Cycle::start(2, &drops).await;
        assert!(cycle.tasks[1].cancel());
        cycle.ended_cancelled().await;
    }
    assert_eq!(drops.get(), 40);
    wait_until("every task to be gone", || live_tasks() == before).await;
}

// In a task on one worker, nothing else runs between the two `cancel()`s.
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancelling_both_tasks_awaiting_each_other_ends_both() {
    in_task(async {
        let (before, drops) = (live_tasks(), DropCounter::new());
        let cycle = Cycle::start(2, &drops).await;
        assert!(cycle.tasks[0].cancel_with("first"));
        // The first request reached the second task already: a second one
        // is still accepted (it is not done), and counted.
        assert!(cycle.tasks[1].cancel_with("second"));
        assert_eq!(cycle.tasks[1].cancelling(), 2);
        cycle.ended_cancelled().await;
        assert_eq!(drops.get(), 2);
        wait_until("every task to be gone", || live_tasks() == before).await;
    })
    .await
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_both_on_two_workers_ends_both() {
    let (before, drops) = (live_tasks(), DropCounter::new());
    for _ in 0..20 {
        let cycle = Cycle::start(2, &drops).await;
        assert!(cycle.tasks[0].cancel());
        // The cycle may have ended already: then the second is refused.
        assert!(cycle.tasks[1].cancel() || cycle.tasks[1].done());
        cycle.ended_cancelled().await;
    }
    assert_eq!(drops.get(), 40);
    wait_until("every task to be gone", || live_tasks() == before).await;
}

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancelling_one_task_of_a_three_task_cycle_ends_all_three() {
    let (before, drops) = (live_tasks(), DropCounter::new());
    for first in 0..3 {
        let cycle = Cycle::start(3, &drops).await;
        assert!(cycle.tasks[first].cancel());
        assert!(cycle.tasks.iter().all(|t| t.cancelling() == 1));
        cycle.ended_cancelled().await;
    }
    assert_eq!(drops.get(), 9);
    wait_until("every task to be gone", || live_tasks() == before).await;
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_a_task_of_a_three_task_cycle_on_two_workers_ends_all_three() {
    let (before, drops) = (live_tasks(), DropCounter::new());
    for round in 0..20 {
        let cycle = Cycle::start(3, &drops).await;
        assert!(cycle.tasks[round % 3].cancel());
        if round % 2 == 1 {
            let other = &cycle.tasks[(round + 1) % 3];
            assert!(other.cancel() || other.done());
        }
        cycle.ended_cancelled().await;
    }
    assert_eq!(drops.get(), 60);
    wait_until("every task to be gone", || live_tasks() == before).await;
}

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn a_cycle_through_a_catch_cancel_ends_when_cancelled() {
    let (before, drops) = (live_tasks(), DropCounter::new());
    let slot: Arc<Mutex<Option<Task<()>>>> = Arc::new(Mutex::new(None));
    let (go, s, g) = (Promise::<()>::new(), slot.clone(), drops.guard());
    let wait = go.clone();
    let catcher = weft::spawn(async move {
        let _finally = g;
        wait.await.unwrap();
        let other = s.lock().take().expect("the other task");
        match weft::catch_cancel(other).await {
            Ok(outcome) => reraise(outcome).await,
            Err(c) => c.raise().await,
        }
    });
    let catcher_ref = catcher.task_ref();
    let g = drops.guard();
    let other = weft::spawn(async move {
        let _finally = g;
        reraise(catcher.await).await
    });
    let other_ref = other.task_ref();
    *slot.lock() = Some(other);
    go.set_result(()).unwrap();
    wait_until("the catcher to take the other's handle", || {
        slot.lock().is_none()
    })
    .await;
    yield_times(5).await;
    assert!(catcher_ref.cancel());
    let cycle = Cycle {
        tasks: vec![catcher_ref, other_ref],
    };
    cycle.ended_cancelled().await;
    assert_eq!(drops.get(), 2);
    wait_until("every task to be gone", || live_tasks() == before).await;
}

/// Runs `body` as a task: on a one-worker runtime nothing else runs until
/// it awaits.
async fn in_task<F>(body: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    weft::spawn(body).await.unwrap()
}

/// Runs a cycle of `n` tasks inside `block_on` on a runtime with `workers`
/// workers, cancelling the first one if `cancel`, and returns their refs
/// after the runtime is dropped with the cycle still parked (or draining).
fn shut_down_with_a_cycle(workers: usize, n: usize, cancel: bool) {
    let drops = DropCounter::new();
    let d = drops.clone();
    let tasks = common::watchdog(move || {
        let rt = common::runtime(workers);
        let tasks = rt.block_on(async move {
            let cycle = Cycle::start(n, &d).await;
            if cancel {
                cycle.tasks[0].cancel();
                yield_times(5).await;
            }
            cycle.tasks
        });
        drop(rt);
        tasks
    });
    for t in &tasks {
        assert!(t.done() && t.cancelled(), "{t:?} ended cancelled");
    }
    assert_eq!(drops.get(), n, "every task's future was dropped");
}

#[test]
fn a_runtime_dropped_with_a_parked_cycle_ends_every_task() {
    shut_down_with_a_cycle(1, 2, false);
    shut_down_with_a_cycle(2, 3, false);
}

#[test]
fn a_runtime_dropped_with_a_cancelled_cycle_ends_every_task() {
    shut_down_with_a_cycle(1, 2, true);
    shut_down_with_a_cycle(2, 3, true);
}

#[test]
fn run_returns_with_a_cycle_parked() {
    let drops = DropCounter::new();
    let d = drops.clone();
    let tasks = common::watchdog(move || weft::run(async move { Cycle::start(2, &d).await.tasks }));
    assert!(tasks.iter().all(|t| t.done() && t.cancelled()));
    assert_eq!(drops.get(), 2);
}
