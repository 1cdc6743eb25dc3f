//! The sync bridge: plain threads hand work to one weft runtime and wait for
//! it, and async code hands blocking work to a thread.
//!
//! asyncio's loop runs on one thread; other threads submit coroutines to it with
//! `asyncio.run_coroutine_threadsafe(coro, loop)` and wait on the
//! `concurrent.futures.Future` it returns. In the other direction,
//! `await asyncio.to_thread(f)` (or `loop.run_in_executor(None, f)`) runs a
//! blocking function on a thread pool without stalling the loop:
//!
//! ```python
//! fut = asyncio.run_coroutine_threadsafe(slow(), loop)   # from a plain thread
//! try:
//!     fut.result(timeout=0.05)
//! except concurrent.futures.TimeoutError:
//!     print('still running:', fut.running())            # the work goes on
//!     fut.cancel()
//! try:
//!     fut.result()
//! except concurrent.futures.CancelledError:
//!     print('cancelled:', fut.cancelled())
//!
//! total = await asyncio.to_thread(blocking_sum, 100)    # inside the loop
//! ```
//!
//! weft's [`weft::run_coroutine_threadsafe`] takes a [`weft::Handle`] (the task
//! runs on any worker of the runtime, like `spawn`) or a [`weft::LoopHandle`]
//! (it runs on that one loop, as asyncio's always does) and returns a
//! [`weft::ConcurrentFuture`]: `result(timeout)`, `exception(timeout)`,
//! `done()`, `running()`, `cancel()`, `cancelled()` and `add_done_callback`, as
//! in `concurrent.futures`, and async code may await it. The program shows:
//!
//! 1. a thread submitting to the runtime [`Handle`](weft::Handle), with a done
//!    callback; a second `result()` finds the value already taken (a Rust value
//!    has one owner);
//! 2. a thread submitting to one chosen loop through a `LoopHandle` obtained
//!    inside the runtime; the work runs on that loop's thread;
//! 3. a thread whose work is slow: `result(Some(50 ms))` times out while the
//!    work keeps running, then `cancel()` stops it (its future is dropped at its
//!    await point, so its destructor runs) and `result()` reports the
//!    cancellation;
//! 4. async code awaiting [`weft::to_thread`] (asyncio's name for
//!    [`weft::spawn_blocking`]): `result()` there returns `WouldBlock` instead of
//!    blocking the loop, and `cancel()` of a job already running returns false,
//!    as in `concurrent.futures`.
//!
//! The threads do not print: each returns its lines, and `main` prints them as
//! it joins the threads in order, so the output is the same on every run.
//!
//! ```text
//! cargo run --example sync_bridge
//! ```

use std::sync::mpsc;
use std::thread;
use std::time::Duration;
use weft::{ConcurrentFuture, FutureError, Handle, InvalidStateError, LoopHandle};

/// How long the threads whose work is quick are prepared to wait.
const PATIENCE: Duration = Duration::from_secs(5);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The loop threads: two workers, plus a small blocking pool for `to_thread`.
    let rt = weft::Builder::new()
        .workers(2)
        .thread_name("bridge")
        .max_blocking_threads(4)
        .blocking_keep_alive(Duration::from_secs(1))
        .build()?;
    let handle = rt.handle().clone();

    // `LoopHandle::current()` names the loop it is called on. Called in a
    // spawned task, that is one of the workers' loops, which lives as long as
    // the runtime (the loop inside `block_on` ends when `block_on` returns).
    let (chosen_loop, loop_thread) =
        rt.block_on(rt.spawn(async { (LoopHandle::current(), thread::current().id()) }))?;

    let threads = vec![
        thread::spawn(move || submit_to_runtime(&handle)),
        thread::spawn(move || submit_to_loop(&chosen_loop, loop_thread)),
        {
            let handle = rt.handle().clone();
            thread::spawn(move || slow_work_times_out(&handle))
        },
    ];
    for (i, t) in threads.into_iter().enumerate() {
        println!("== thread {}", i + 1);
        for line in t.join().expect("the thread panicked") {
            println!("{line}");
        }
    }

    println!("== async code, to_thread");
    rt.block_on(blocking_from_async())?;
    Ok(())
}

/// `run_coroutine_threadsafe(coro, loop)` with the runtime as the target.
fn submit_to_runtime(handle: &Handle) -> Vec<String> {
    let mut out = Vec::new();
    let fut = weft::run_coroutine_threadsafe(
        async {
            weft::sleep(Duration::from_millis(10)).await;
            6 * 7
        },
        handle,
    );
    // A done callback runs on the thread that completes the work (here a
    // worker); it reports back through a channel rather than printing.
    let (tx, rx) = mpsc::channel();
    fut.add_done_callback(move |f| {
        let _ = tx.send(f.done());
    });
    match fut.result(Some(PATIENCE)) {
        Ok(v) => out.push(format!("result(5 s): {v}")),
        Err(e) => out.push(format!("result(5 s) failed: {e}")),
    }
    let saw_done = rx.recv_timeout(PATIENCE).unwrap_or(false);
    out.push(format!("done callback ran, done() = {saw_done}"));
    // The value was moved out by the first result().
    match fut.result(Some(PATIENCE)) {
        Err(e @ FutureError::InvalidState(InvalidStateError::ResultTaken)) => {
            out.push(format!("second result(): Taken ({e})"))
        }
        other => out.push(format!("second result(): {other:?}")),
    }
    out
}

/// `run_coroutine_threadsafe(coro, loop)` with one particular loop as the
/// target: the task is pinned to it and runs only on its thread.
fn submit_to_loop(chosen: &LoopHandle, loop_thread: thread::ThreadId) -> Vec<String> {
    let fut = weft::run_coroutine_threadsafe(
        async move {
            weft::yield_now().await;
            thread::current().id() == loop_thread
        },
        chosen,
    );
    match fut.result(Some(PATIENCE)) {
        Ok(same) => vec![format!("ran on the chosen loop's thread: {same}")],
        Err(e) => vec![format!("result(5 s) failed: {e}")],
    }
}

/// Reports, through a channel, when the future holding it is dropped.
struct OnDrop(mpsc::Sender<&'static str>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        let _ = self.0.send("the slow work was dropped: its destructor ran");
    }
}

/// A wait that times out, then a cancel.
fn slow_work_times_out(handle: &Handle) -> Vec<String> {
    let mut out = Vec::new();
    let (tx, dropped) = mpsc::channel();
    let fut: ConcurrentFuture<&str> = weft::run_coroutine_threadsafe(
        async move {
            let _guard = OnDrop(tx);
            weft::sleep(Duration::from_secs(60)).await;
            "finished the slow work"
        },
        handle,
    );
    match fut.result(Some(Duration::from_millis(50))) {
        Err(e) if e.is_timeout() => out.push(format!(
            "result(50 ms): {e}; running() = {}, done() = {}",
            fut.running(),
            fut.done()
        )),
        other => out.push(format!("result(50 ms): {other:?}")),
    }
    out.push(format!("cancel() = {}", fut.cancel()));
    match fut.result(None) {
        Err(e) if e.is_cancelled() => out.push(format!("result(): {e}")),
        other => out.push(format!("result(): {other:?}")),
    }
    if let Ok(line) = dropped.recv_timeout(PATIENCE) {
        out.push(line.to_string());
    }
    let exception = fut.exception(None).ok().flatten();
    out.push(format!(
        "cancelled() = {}, exception() = {}",
        fut.cancelled(),
        exception.map_or("None".to_string(), |e| e.to_string())
    ));
    out
}

/// `await asyncio.to_thread(f)`: a blocking call on the blocking pool.
async fn blocking_from_async() -> Result<(), FutureError> {
    // The job blocks (in `recv`) until it is given its input: a stand-in for a
    // blocking library call, and a way to see it running.
    let (input, gate) = mpsc::channel::<u64>();
    let job = weft::to_thread(move || {
        let n = gate.recv().unwrap_or(0);
        let name = thread::current().name().unwrap_or("?").to_string();
        ((1..=n).sum::<u64>(), name)
    });
    // Blocking here would stall this loop; result() says so instead.
    if let Err(e) = job.result(None) {
        println!("result() inside async code: {e}");
    }
    while !job.running() {
        weft::sleep(Duration::from_millis(1)).await;
    }
    // A blocking call cannot be interrupted: the cancel is refused.
    println!("cancel() of the running job = {}", job.cancel());
    let _ = input.send(100);
    let (sum, thread_name) = job.await?;
    println!("awaited: sum 1..=100 = {sum}, computed on thread {thread_name}");
    Ok(())
}
