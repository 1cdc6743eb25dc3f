//! What the PyMOTW ports (`wait`, `wait_timeout`, `gather`, `as_completed`)
//! share: asyncio's single-threaded loop, and Python's list `repr`.

use std::future::Future;

/// Runs `main` as a task on a one-worker runtime and returns its output:
/// `event_loop.run_until_complete(main())` with asyncio's one-thread,
/// first-come-first-run order (the phases are spawned with `spawn_local`).
pub(crate) fn run_one_thread<F>(main: F) -> Result<F::Output, Box<dyn std::error::Error>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let rt = weft::Builder::new().workers(1).build()?;
    Ok(rt.block_on(rt.spawn(main))?)
}

/// Python's `repr` of a list of strings: `['a', 'b']`.
#[allow(dead_code)] // wait_timeout prints no list
pub(crate) fn py_list<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{}'", s.as_ref())).collect();
    format!("[{}]", quoted.join(", "))
}
