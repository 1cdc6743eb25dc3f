//! A tour of weft's task model, through the programs of the asyncio chapter
//! "Executing Tasks Concurrently" (PyMOTW-3):
//!
//! 1. Starting a Task (`asyncio_create_task.py`): spawn, await, look at the task.
//! 2. Canceling a Task (`asyncio_cancel_task.py`): cancel before it ever runs.
//! 3. Canceling a running Task (`asyncio_cancel_task2.py`): the task catches the
//!    cancellation at its await point with [`weft::catch_cancel`], cleans up, and
//!    re-raises it with `cancelled.raise().await`.
//!
//! Each program prints the lines its Python original prints; where Python prints
//! `repr(task)`, weft prints the task's `Debug`: `Task { id: 1, name: "Task-1",
//! state: pending }`.
//!
//! asyncio runs a program and its tasks on one thread. To keep that interleaving
//! (and the same output on every run), the tour spawns with [`weft::spawn_local`]:
//! the task is pinned to the loop driving `main`, so it first runs when `main`
//! awaits, exactly like `create_task`. [`weft::spawn`] takes the same future (if it
//! is `Send`) and runs it on the worker threads instead, where it may start at
//! once, in parallel with `main`.
//!
//! Run it with:
//!
//! ```text
//! cargo run --release --example tour
//! ```

use weft::{TaskError, TaskRef};

fn main() -> Result<(), TaskError> {
    // Each program gets its own runtime, as each Python program gets its own loop:
    // `weft::run` is `asyncio.run` (and `loop.run_until_complete` + `loop.close`).
    println!("== Starting a Task (asyncio_create_task.py)");
    weft::run(create_task_main())?;

    println!("\n== Canceling a Task (asyncio_cancel_task.py)");
    weft::run(cancel_task_main());

    println!("\n== Canceling a running Task (asyncio_cancel_task2.py)");
    weft::run(cancel_task2_main());
    Ok(())
}

async fn task_func() -> &'static str {
    println!("in task_func");
    "the result"
}

/// `asyncio_create_task.py`: the task runs when `main` awaits it.
async fn create_task_main() -> Result<(), TaskError> {
    println!("creating task");
    let mut task = weft::spawn_local(task_func());
    println!("waiting for {task:?}");
    // `(&mut task).await` keeps the handle, so we can print it afterwards.
    let return_value = (&mut task).await?;
    println!("task completed {task:?}");
    println!("return value: {return_value:?}");
    Ok(())
}

/// `asyncio_cancel_task.py`: a task cancelled before its first poll never runs.
async fn cancel_task_main() {
    println!("creating task");
    let task = weft::spawn_local(task_func());
    println!("canceling task");
    task.cancel();
    println!("canceled task {task:?}");
    match task.await {
        Err(err) if err.is_cancelled() => println!("caught error from canceled task"),
        Err(err) => println!("task failed: {err}"),
        Ok(result) => println!("task result: {result:?}"),
    }
}

/// The task of `asyncio_cancel_task2.py`: catches the cancellation where it
/// waits, cleans up, and re-raises.
async fn sleeping_task_func() -> &'static str {
    println!("in task_func, sleeping");
    // Python awaits `asyncio.sleep(1)`. weft has no timers yet, so the task yields
    // to the loop a few times instead: long enough for the canceller to run.
    let sleep = async {
        for _ in 0..3 {
            weft::yield_now().await;
        }
    };
    // try: await sleep / except CancelledError: ... raise
    if let Err(cancelled) = weft::catch_cancel(sleep).await {
        println!("task_func was canceled");
        // Cleanup may await, as in an asyncio `except` or `finally` block.
        weft::yield_now().await;
        return cancelled.raise().await;
    }
    "the result"
}

/// Python's `task_canceller(t)`, which `main` schedules with `loop.call_soon`.
fn task_canceller(t: &TaskRef) {
    println!("in task_canceller");
    t.cancel();
    println!("canceled the task");
}

/// `asyncio_cancel_task2.py`: the task is cancelled while it waits.
async fn cancel_task2_main() {
    println!("creating task");
    let task = weft::spawn_local(sleeping_task_func());
    // `loop.call_soon(task_canceller, task)`: weft's call_soon is still to come, so
    // a second task on the same loop calls it; the loop runs its tasks in order,
    // so the canceller runs once the first task is waiting.
    let target = task.task_ref();
    weft::spawn_local(async move { task_canceller(&target) }).detach();
    match task.await {
        Err(err) if err.is_cancelled() => println!("main() also sees task as canceled"),
        Err(err) => println!("task failed: {err}"),
        Ok(result) => println!("task returned {result:?}"),
    }
}
