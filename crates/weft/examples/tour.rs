//! A tour of weft's task model, through the programs of the asyncio chapter
//! "Executing Tasks Concurrently" (PyMOTW-3):
//!
//! 1. Starting a Task (`asyncio_create_task.py`): spawn, await, look at the task.
//! 2. Canceling a Task (`asyncio_cancel_task.py`): cancel before it ever runs.
//! 3. Canceling a running Task (`asyncio_cancel_task2.py`): a callback
//!    scheduled with [`weft::call_soon`] cancels the task once it waits; the
//!    task catches the cancellation at its await point with
//!    [`weft::catch_cancel`], cleans up, and re-raises it with
//!    `cancelled.raise().await`.
//! 4. Creating Tasks from Coroutines (`asyncio_ensure_future.py`):
//!    [`weft::ensure_future!`] turns a future into a task another function can
//!    await without knowing where it came from.
//!
//! Each program prints the lines its Python original prints. Where Python
//! prints `repr(task)`, weft prints the task's `Display`, which reads the same:
//! `<Task pending name='Task-2' coro=<task_func() running at
//! crates/weft/examples/tour.rs:69>>`: the function the future comes from,
//! and the line that spawned it. Where Python prints a value's `repr`, weft
//! prints its `Debug` (`"the result"` for `'the result'`).
//!
//! asyncio runs a program and its tasks on one thread. To keep that interleaving
//! (and the same output on every run), the tour spawns with [`weft::spawn_local`]:
//! the task is pinned to the loop driving `main`, so it first runs when `main`
//! awaits, exactly like `create_task`. [`weft::spawn`] takes the same future (if it
//! is `Send`) and runs it on the worker threads instead, where it may start at
//! once, in parallel with `main`; program 4 runs on a one-worker runtime, where
//! a spawned task waits for the running one to await, as in asyncio.
//!
//! tests/tests/seeds_examples.rs runs this program and compares its output with
//! the Python one, line by line.
//!
//! Run it with:
//!
//! ```text
//! cargo run --release --example tour
//! ```

mod pymotw;

use pymotw::seconds;
use std::future::poll_fn;
use weft::{TaskError, TaskRef};

/// Runs the four programs (the test of the examples calls it too).
pub(crate) fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Each program gets its own runtime, as each Python program gets its own loop:
    // `weft::run` is `asyncio.run` (and `loop.run_until_complete` + `loop.close`).
    println!("== Starting a Task (asyncio_create_task.py)");
    weft::run(create_task_main())?;

    println!("\n== Canceling a Task (asyncio_cancel_task.py)");
    weft::run(cancel_task_main());

    println!("\n== Canceling a running Task (asyncio_cancel_task2.py)");
    weft::run(cancel_task2_main());

    println!("\n== Creating Tasks from Coroutines (asyncio_ensure_future.py)");
    ensure_future_program()?;
    Ok(())
}

async fn task_func() -> &'static str {
    println!("in task_func");
    "the result"
}

/// `asyncio_create_task.py`: the task runs when `main` awaits it.
async fn create_task_main() -> Result<(), Box<dyn std::error::Error>> {
    println!("creating task");
    let mut task = weft::spawn_local(task_func());
    println!("waiting for {task}");
    // Python's `await task` leaves the result in the task, so the repr below
    // shows it. Awaiting a weft handle moves the value out; `poll_done` waits
    // without taking it, and `result()` takes it afterwards.
    poll_fn(|cx| task.poll_done(cx)).await;
    println!("task completed {task}");
    let return_value = task.result()??;
    println!("return value: {return_value:?}");
    Ok(())
}

/// `asyncio_cancel_task.py`: a task cancelled before its first poll never runs.
async fn cancel_task_main() {
    println!("creating task");
    let task = weft::spawn_local(task_func());
    println!("canceling task");
    task.cancel();
    println!("canceled task {task}");
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
    // try: await asyncio.sleep(1) / except CancelledError: ... raise
    if let Err(cancelled) = weft::catch_cancel(weft::sleep(seconds(1.0))).await {
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
    // `loop.call_soon(task_canceller, task)`: the loop runs its ready work in
    // the order it was scheduled, so the callback runs after the task's first
    // step, once the task is waiting in its sleep, as in asyncio.
    let target = task.task_ref();
    weft::call_soon(move || task_canceller(&target));
    match task.await {
        Err(err) if err.is_cancelled() => println!("main() also sees task as canceled"),
        Err(err) => println!("task failed: {err}"),
        Ok(result) => println!("task returned {result:?}"),
    }
}

async fn wrapped() -> &'static str {
    println!("wrapped");
    "result"
}

/// `inner(task)` awaits a task without knowing how it was made.
async fn inner(task: weft::Task<&'static str>) -> Result<(), TaskError> {
    println!("inner: starting");
    println!("inner: waiting for {task}");
    let result = task.await?;
    println!("inner: task returned {result:?}");
    Ok(())
}

async fn starter() -> Result<(), TaskError> {
    println!("starter: creating task");
    let task = weft::ensure_future!(wrapped());
    println!("starter: waiting for inner");
    inner(task).await?;
    println!("starter: inner returned");
    Ok(())
}

/// `asyncio_ensure_future.py`: the task made by `ensure_future!` first runs
/// when `inner` awaits it. `ensure_future!` spawns with [`weft::spawn`]; on a
/// one-worker runtime the new task waits behind the running one, as in asyncio.
fn ensure_future_program() -> Result<(), Box<dyn std::error::Error>> {
    println!("entering event loop");
    // result = event_loop.run_until_complete(starter()); event_loop.close()
    pymotw::run_one_thread(starter())??;
    Ok(())
}
