//! `asyncio_as_completed.py` (PyMOTW-3, "Handling Background Operations as
//! They Finish") with weft: [`weft::as_completed`] yields each phase's result
//! as soon as it finishes.
//!
//! ```python
//! async def phase(i):
//!     print('in phase {}'.format(i))
//!     await asyncio.sleep(0.5 - (0.1 * i))
//!     print('done with phase {}'.format(i))
//!     return 'phase {} result'.format(i)
//!
//! async def main(num_phases):
//!     print('starting main')
//!     phases = [phase(i) for i in range(num_phases)]
//!     print('waiting for phases to complete')
//!     results = []
//!     for next_to_complete in asyncio.as_completed(phases):
//!         answer = await next_to_complete
//!         print('received answer {!r}'.format(answer))
//!         results.append(answer)
//!     print('results: {!r}'.format(results))
//!     return results
//! ```
//!
//! Python output:
//!
//! ```text
//! starting main
//! waiting for phases to complete
//! in phase 0
//! in phase 2
//! in phase 1
//! done with phase 2
//! received answer 'phase 2 result'
//! done with phase 1
//! received answer 'phase 1 result'
//! done with phase 0
//! received answer 'phase 0 result'
//! results: ['phase 2 result', 'phase 1 result', 'phase 0 result']
//! ```
//!
//! `asyncio.as_completed` wraps the coroutines in tasks by iterating over a
//! set, so the order they start in is arbitrary; the recorded run started
//! phase 0, then 2, then 1. This program spawns them in that order. They
//! finish in reverse order of `i` whatever the start order.
//!
//! asyncio runs `main` and its tasks on one thread, in the order they become
//! ready. To keep that interleaving (and the same output on every run), `main`
//! runs as a task on a runtime with one worker, as `asyncio.run` runs it as a
//! task, and spawns the phases with [`weft::spawn_local`], pinned to that
//! worker's loop: they first run when `main` awaits, in the order they were
//! spawned.
//!
//! Python's `as_completed` is an iterator of awaitables; weft's is a `Stream`
//! of results, read here with `futures_util::StreamExt::next`.
//!
//! ```text
//! cargo run --example as_completed
//! ```

mod pymotw;

use pymotw::py_list;
use std::time::Duration;
use weft::TaskError;

async fn phase(i: u32) -> String {
    println!("in phase {i}");
    weft::sleep(Duration::from_millis(500 - 100 * u64::from(i))).await;
    println!("done with phase {i}");
    format!("phase {i} result")
}

async fn async_main(num_phases: u32) -> Result<Vec<String>, TaskError> {
    println!("starting main");
    // Like Python's coroutine objects, these futures do nothing until spawned.
    let mut phases: Vec<_> = (0..num_phases).map(|i| (i, phase(i))).collect();
    println!("waiting for phases to complete");
    let mut results = Vec::new();
    // The order the recorded Python run started the phases in (a set's order).
    let start_order = [0, 2, 1];
    phases.sort_by_key(|(i, _)| start_order.iter().position(|s| s == i));
    // `as_completed(coros)` wraps each coroutine in a task; weft's takes the
    // tasks, so spawn them first.
    let mut next_to_complete =
        weft::as_completed(phases.into_iter().map(|(_, p)| weft::spawn_local(p)));
    while let Some(answer) = next_to_complete.next().await {
        let answer = answer?;
        println!("received answer '{answer}'");
        results.push(answer);
    }
    println!("results: {}", py_list(&results));
    Ok(results)
}

/// Runs the program (tests/tests/seeds_examples.rs calls it too, and compares
/// what it prints with the Python output above).
pub(crate) fn main() -> Result<(), Box<dyn std::error::Error>> {
    // event_loop.run_until_complete(main(3)); event_loop.close()
    pymotw::run_one_thread(async_main(3))??;
    Ok(())
}
