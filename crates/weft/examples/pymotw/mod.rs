//! What the ports of the seed programs share (the PyMOTW chapters, the Python
//! documentation's "Tasks and coroutines", the tutorials): asyncio's
//! single-threaded loop, the length of a second, and Python's `repr` of a list.
//!
//! Each example uses part of it.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

/// `event_loop.run_until_complete(main())` then `event_loop.close()`, on a
/// runtime with one worker (asyncio's one thread, first-come-first-run):
/// see [`run_until_complete`]. Returns `main`'s output. The task's spawn
/// site (what its `Display` shows) is the caller's line.
#[track_caller]
pub(crate) fn run_one_thread<F>(main: F) -> Result<F::Output, Box<dyn std::error::Error>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let rt = one_thread()?;
    // `loop.close()`: dropping the runtime.
    run_until_complete(&rt, main)
}

/// `loop.run_until_complete(main())` as asyncio runs it: `main` becomes a
/// task, a done callback on it stops the loop, and the loop runs until then
/// (`run_forever`). So, as in asyncio, what was ready before `main` ended
/// runs before the callback that stops the loop: the tasks `main` scheduled
/// and did not await take their first step, the tasks it cancelled run their
/// cleanup. (A plain `block_on(main)` returns as soon as `main` is done, and
/// the runtime cancels what is left when dropped.) Returns `main`'s output.
#[track_caller]
pub(crate) fn run_until_complete<F>(
    rt: &weft::Runtime,
    main: F,
) -> Result<F::Output, Box<dyn std::error::Error>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut task = rt.spawn(main);
    let handle = rt.handle().clone();
    // `future.add_done_callback(_run_until_complete_cb)`, which stops the loop.
    task.add_done_callback(weft::DoneCallback::once(move |_: &weft::TaskRef| {
        handle.stop()
    }));
    rt.run_forever();
    Ok(task.result()??)
}

/// A runtime with one worker: asyncio's one thread, for programs that drive
/// it themselves.
pub(crate) fn one_thread() -> std::io::Result<weft::Runtime> {
    weft::Builder::new().workers(1).build()
}

/// `s` seconds of the original program: real seconds, unless the environment
/// variable `WEFT_SEEDS_SECOND_MS` says how many milliseconds a second lasts
/// (the test that checks the examples' output, tests/tests/seeds_examples.rs,
/// runs them fast that way; the programs' order does not depend on it).
pub(crate) fn seconds(s: f64) -> Duration {
    let second_ms = std::env::var("WEFT_SEEDS_SECOND_MS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(1000.0);
    Duration::from_secs_f64(s * second_ms / 1000.0)
}

/// Python's `repr` of a list of strings: `['a', 'b']`.
pub(crate) fn py_list<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{}'", s.as_ref())).collect();
    format!("[{}]", quoted.join(", "))
}
