//! The six programs of the "Asyncio Tasks Tutorial" (TutorialEdge, Python
//! 3.6), with weft:
//!
//! 1. A Simple Example: `ensure_future` five times, each task blocking its
//!    loop for a second.
//! 2. `all_tasks()`: the tasks pending once `main` has scheduled five.
//! 3. `cancel()`: the first task to run prints every pending task before and
//!    after cancelling it, itself included.
//! 4. `as_completed()`: five workers, results as they finish.
//! 5. `gather()`: five workers, gathered.
//! 6. `wait()`: five workers, waited for with a timeout.
//!
//! ```python
//! async def myTask():
//!     time.sleep(1)
//!     print("Processing Task")
//!
//! async def myTaskGenerator():
//!     for i in range(5):
//!         asyncio.ensure_future(myTask())
//!
//! loop = asyncio.get_event_loop()
//! loop.run_until_complete(myTaskGenerator())
//! print("Completed All Tasks")
//! loop.close()
//! ```
//!
//! Program 2's `main` is `myTaskGenerator` followed by
//! `print(asyncio.Task.all_tasks())`; program 3's `myTask` goes on with
//!
//! ```python
//!     for task in asyncio.Task.all_tasks():
//!         print(task)
//!         task.cancel()
//!         print(task)
//! ```
//!
//! and programs 4 to 6 run five `myWorker()`s (`return number * 2`, or
//! `print("Hello World")`) through `as_completed` (printing each result),
//! `gather` and `wait(..., timeout=2)`.
//!
//! Output, as the tutorial shows it for programs 1 to 3 (Python 3.6; a set's
//! order is arbitrary):
//!
//! ```text
//! Processing Task            (five times)
//! Completed All Tasks
//!
//! {<Task pending coro=<myTask() running at test.py:4>>, (five of them),
//!  <Task pending coro=<main() running at test.py:12> cb=[_run_until_complete_cb() at ...]>}
//! Processing Task            (five times)
//! Completed All Tasks
//!
//! Processing Task
//! <Task pending coro=<myTask() running at test.py:4>>
//! <Task cancelling coro=<myTask() running at test.py:4>>
//!                            (for each task, the running one included)
//! Completed All Tasks
//! ```
//!
//! Programs 4 to 6 print `2` five times, then `Hello World` five times,
//! twice. (Program 5 and 6 define a `main` printing `My Main` that they never
//! call.)
//!
//! `myTask` blocks the loop with `time.sleep(1)`, not `await
//! asyncio.sleep(1)`: the five tasks run one after the other, five seconds in
//! all, and nothing else runs on the loop meanwhile. This port does the same
//! with [`std::thread::sleep`] on a runtime with one worker, asyncio's one
//! thread, and shows the same thing: a task must not block. Blocking work
//! belongs in [`weft::to_thread`] (asyncio's `to_thread`), which runs it on
//! the blocking pool while the loop goes on.
//!
//! `loop.run_until_complete(main())` is asyncio's: `main` runs as a task, a
//! done callback on it stops the loop, and the loop runs until then
//! (`pymotw::run_until_complete`). The tasks `main` scheduled were queued
//! ahead of that callback, so they all run (or, in program 3, end
//! cancelled) before the loop stops, as in the tutorial.
//!
//! Differences from the tutorial's output, by design:
//!
//! - `all_tasks()` lists the tasks not done yet, as asyncio's does since 3.7
//!   (3.6's `Task.all_tasks()` listed finished ones too): program 3 prints the
//!   five `myTask`s, not the finished `main`. The reprs carry names (Python
//!   3.8+) and no `cb=[..]` part (see the `Display` of `weft::TaskRef`).
//! - Python prints a set (program 2) and walks one (program 3) in an
//!   arbitrary order; weft's `all_tasks()` is a `Vec` in the registry's
//!   order, which is just as arbitrary.
//!
//! tests/tests/seeds_examples.rs runs this program (with shorter seconds) and
//! compares its output with the Python one.
//!
//! ```text
//! cargo run --example tasks_tutorial
//! ```

mod pymotw;

use pymotw::seconds;
use std::future::Future;
use std::time::Duration;
use weft::{Task, TaskError};

/// Runs the six programs (the test of the examples calls it too).
pub(crate) fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== A Simple Example");
    simple_example()?;

    println!("\n== The all_tasks(loop=None) method");
    all_tasks_example()?;

    println!("\n== The cancel() function");
    cancel_example()?;

    println!("\n== The as_completed() function");
    as_completed_example()?;

    println!("\n== The gather() function");
    gather_example()?;

    println!("\n== The wait() function");
    wait_example()?;
    Ok(())
}

async fn my_task() {
    // `time.sleep(1)`: blocks the loop's only thread on purpose (see the
    // module doc; `weft::to_thread` is the way not to).
    std::thread::sleep(seconds(1.0));
    println!("Processing Task");
}

async fn my_task_generator() {
    for _ in 0..5 {
        // The task runs on without its handle, as asyncio's does.
        weft::ensure_future!(my_task()).detach();
    }
}

/// `loop = asyncio.get_event_loop(); loop.run_until_complete(main())`; then
/// `print("Completed All Tasks")` and `loop.close()` (dropping the runtime).
/// `main` runs as a task spawned here, with the caller's line as its spawn
/// site.
#[track_caller]
fn run_main<F>(main: F) -> Result<(), Box<dyn std::error::Error>>
where
    F: Future<Output = ()> + Send + 'static,
{
    let rt = pymotw::one_thread()?;
    pymotw::run_until_complete(&rt, main)?;
    println!("Completed All Tasks");
    Ok(())
}

fn simple_example() -> Result<(), Box<dyn std::error::Error>> {
    run_main(my_task_generator())
}

/// Python's `print` of a set of tasks: `{<Task ..>, <Task ..>}`.
fn print_task_set(tasks: &[weft::TaskRef]) {
    let shown: Vec<String> = tasks.iter().map(ToString::to_string).collect();
    println!("{{{}}}", shown.join(", "));
}

async fn all_tasks_main() {
    my_task_generator().await;
    let pending = weft::all_tasks();
    print_task_set(&pending);
}

fn all_tasks_example() -> Result<(), Box<dyn std::error::Error>> {
    run_main(all_tasks_main())
}

/// Program 3's `myTask`: the first one to run cancels every pending task,
/// itself included; the others never start.
async fn my_cancelling_task() {
    std::thread::sleep(seconds(1.0));
    println!("Processing Task");
    for task in weft::all_tasks() {
        println!("{task}");
        task.cancel();
        println!("{task}");
    }
}

async fn cancel_main() {
    for _ in 0..5 {
        weft::ensure_future!(my_cancelling_task()).detach();
    }
}

fn cancel_example() -> Result<(), Box<dyn std::error::Error>> {
    run_main(cancel_main())
}

async fn my_doubling_worker(number: u32) -> u32 {
    number * 2
}

async fn as_completed_main(workers: Vec<Task<u32>>) -> Result<(), TaskError> {
    let mut results = weft::as_completed(workers);
    while let Some(result) = results.next().await {
        println!("{}", result?);
    }
    Ok(())
}

fn as_completed_example() -> Result<(), Box<dyn std::error::Error>> {
    // try: ... except KeyboardInterrupt: pass — Ctrl-C ends a Rust program
    // without a handler, so there is nothing to catch.
    let rt = pymotw::one_thread()?;
    rt.block_on(async {
        // `as_completed(coros)` wraps each coroutine in a task; weft's takes
        // the tasks.
        let workers = (0..5)
            .map(|_| weft::ensure_future!(my_doubling_worker(1)))
            .collect();
        as_completed_main(workers).await
    })?;
    Ok(())
}

async fn my_printing_worker() {
    println!("Hello World");
}

fn gather_example() -> Result<(), Box<dyn std::error::Error>> {
    let rt = pymotw::one_thread()?;
    rt.block_on(async {
        let workers: Vec<Task<()>> = (0..5)
            .map(|_| weft::ensure_future!(my_printing_worker()))
            .collect();
        weft::gather(workers).await
    })?;
    Ok(())
}

fn wait_example() -> Result<(), Box<dyn std::error::Error>> {
    let rt = pymotw::one_thread()?;
    rt.block_on(async {
        let workers: Vec<Task<()>> = (0..5)
            .map(|_| weft::ensure_future!(my_printing_worker()))
            .collect();
        // `timeout=2`: 2 s of the original program.
        let two_seconds: Duration = seconds(2.0);
        weft::wait(workers).timeout(two_seconds).await
    })?;
    Ok(())
}
