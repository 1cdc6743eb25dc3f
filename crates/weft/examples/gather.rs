//! `asyncio_gather.py` (PyMOTW-3, "Gathering Results from Coroutines") with
//! weft: run two phases concurrently with [`weft::gather!`] and get their
//! results in argument order, whatever order they finish in.
//!
//! ```python
//! async def phase1():
//!     print('in phase1')
//!     await asyncio.sleep(2)
//!     print('done with phase1')
//!     return 'phase1 result'
//!
//! async def phase2():
//!     print('in phase2')
//!     await asyncio.sleep(1)
//!     print('done with phase2')
//!     return 'phase2 result'
//!
//! async def main():
//!     print('starting main')
//!     print('waiting for phases to complete')
//!     results = await asyncio.gather(
//!         phase1(),
//!         phase2(),
//!     )
//!     print('results: {!r}'.format(results))
//! ```
//!
//! Python output:
//!
//! ```text
//! starting main
//! waiting for phases to complete
//! in phase2
//! in phase1
//! done with phase2
//! done with phase1
//! results: ['phase1 result', 'phase2 result']
//! ```
//!
//! asyncio's `gather` (up to Python 3.6) wrapped its coroutines in tasks by
//! iterating over a set, so they started in an arbitrary order: phase2 first
//! in the recorded run. This program spawns them in that order; the results
//! still come in argument order.
//!
//! asyncio runs `main` and its tasks on one thread, in the order they become
//! ready. To keep that interleaving (and the same output on every run), `main`
//! runs as a task on a runtime with one worker, as `asyncio.run` runs it as a
//! task, and spawns the phases with [`weft::spawn_local`], pinned to that
//! worker's loop: they first run when `main` awaits, in the order they were
//! spawned.
//!
//! `weft::gather!(phase1(), phase2())` works too: the macro spawns plain
//! futures with [`weft::spawn`], in argument order, onto the worker threads of
//! the runtime (where, on a multi-threaded runtime, the two phases run in
//! parallel and print in either order).
//!
//! ```text
//! cargo run --example gather
//! ```

mod pymotw;

use pymotw::{py_list, seconds};
use weft::TaskError;

async fn phase1() -> &'static str {
    println!("in phase1");
    weft::sleep(seconds(2.0)).await;
    println!("done with phase1");
    "phase1 result"
}

async fn phase2() -> &'static str {
    println!("in phase2");
    weft::sleep(seconds(1.0)).await;
    println!("done with phase2");
    "phase2 result"
}

async fn async_main() -> Result<(), TaskError> {
    println!("starting main");
    println!("waiting for phases to complete");
    // asyncio.gather wraps the coroutines in tasks; started in the recorded
    // run's order (see above).
    let second = weft::spawn_local(phase2());
    let first = weft::spawn_local(phase1());
    // gather!(a, b) resolves to a tuple in argument order; with tasks of one
    // type, `weft::gather([first, second])` gives a Vec.
    let (r1, r2) = weft::gather!(first, second).await?;
    println!("results: {}", py_list(&[r1, r2]));
    Ok(())
}

/// Runs the program (tests/tests/seeds_examples.rs calls it too, and compares
/// what it prints with the Python output above).
pub(crate) fn main() -> Result<(), Box<dyn std::error::Error>> {
    // event_loop.run_until_complete(main()); event_loop.close()
    pymotw::run_one_thread(async_main())??;
    Ok(())
}
