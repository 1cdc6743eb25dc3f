//! `asyncio_wait.py` (PyMOTW-3, "Waiting for Multiple Coroutines") with weft:
//! start several phases, then wait for all of them with [`weft::wait`].
//!
//! ```python
//! async def phase(i):
//!     print('in phase {}'.format(i))
//!     await asyncio.sleep(0.1 * i)
//!     print('done with phase {}'.format(i))
//!     return 'phase {} result'.format(i)
//!
//! async def main(num_phases):
//!     print('starting main')
//!     phases = [phase(i) for i in range(num_phases)]
//!     print('waiting for phases to complete')
//!     completed, pending = await asyncio.wait(phases)
//!     results = [t.result() for t in completed]
//!     print('results: {!r}'.format(results))
//! ```
//!
//! Python output (the `results` order comes from a set, so it varies):
//!
//! ```text
//! starting main
//! waiting for phases to complete
//! in phase 0
//! in phase 1
//! in phase 2
//! done with phase 0
//! done with phase 1
//! done with phase 2
//! results: ['phase 1 result', 'phase 0 result', 'phase 2 result']
//! ```
//!
//! `completed` is a set in asyncio, so the `results` list comes in an
//! arbitrary order: phase 1, 0, 2 in the recorded run. weft's `wait` returns
//! `done` in argument order (a `Vec`); this program reads it in the recorded
//! run's order, so it prints the same lines as that run.
//!
//! asyncio runs `main` and its tasks on one thread, in the order they become
//! ready. To keep that interleaving (and the same output on every run), `main`
//! runs as a task on a runtime with one worker, as `asyncio.run` runs it as a
//! task, and spawns the phases with [`weft::spawn_local`], pinned to that
//! worker's loop: they first run when `main` awaits, in the order they were
//! spawned, like the tasks `asyncio.wait` creates. With [`weft::spawn`] on a
//! default runtime they would run on several worker threads in parallel, and
//! the `in phase` lines could come in any order.
//!
//! ```text
//! cargo run --example wait
//! ```

mod pymotw;

use pymotw::py_list;
use std::time::Duration;
use weft::TaskError;

async fn phase(i: u32) -> String {
    println!("in phase {i}");
    weft::sleep(Duration::from_millis(100 * u64::from(i))).await;
    println!("done with phase {i}");
    format!("phase {i} result")
}

async fn async_main(num_phases: u32) -> Result<(), TaskError> {
    println!("starting main");
    // Like Python's coroutine objects, these futures do nothing until spawned.
    let phases: Vec<_> = (0..num_phases).map(phase).collect();
    println!("waiting for phases to complete");
    // `asyncio.wait(coros)` wraps each coroutine in a task; weft's `wait` takes
    // the tasks, so spawn them first.
    let tasks = phases.into_iter().map(weft::spawn_local);
    let (mut completed, _pending) = weft::wait(tasks).await.expect("three phases to wait for");
    // `completed` comes back in argument order; asyncio's is a set, iterated
    // in an arbitrary order: the recorded run's (see above).
    let set_order = [1, 0, 2];
    let results = set_order
        .iter()
        .map(|&i| completed[i].result().expect("a done task has a result"))
        .collect::<Result<Vec<_>, _>>()?;
    println!("results: {}", py_list(&results));
    Ok(())
}

/// Runs the program (tests/tests/seeds_examples.rs calls it too, and compares
/// what it prints with the Python output above).
pub(crate) fn main() -> Result<(), Box<dyn std::error::Error>> {
    // event_loop.run_until_complete(main(3)); event_loop.close()
    pymotw::run_one_thread(async_main(3))??;
    Ok(())
}
