//! `asyncio_wait_timeout.py` (PyMOTW-3, "Waiting for Multiple Coroutines") with
//! weft: [`weft::wait`] with a timeout leaves the unfinished phases pending
//! (and running); `main` cancels them, and each one catches the cancellation,
//! reports it and re-raises it.
//!
//! ```python
//! async def phase(i):
//!     print('in phase {}'.format(i))
//!     try:
//!         await asyncio.sleep(0.1 * i)
//!     except asyncio.CancelledError:
//!         print('phase {} canceled'.format(i))
//!         raise
//!     else:
//!         print('done with phase {}'.format(i))
//!         return 'phase {} result'.format(i)
//!
//! async def main(num_phases):
//!     print('starting main')
//!     phases = [phase(i) for i in range(num_phases)]
//!     print('waiting 0.1 for phases to complete')
//!     completed, pending = await asyncio.wait(phases, timeout=0.1)
//!     print('{} completed and {} pending'.format(len(completed), len(pending)))
//!     # Cancel remaining tasks so they do not generate errors
//!     # as we exit without finishing them.
//!     if pending:
//!         print('canceling tasks')
//!         for t in pending:
//!             t.cancel()
//!     print('exiting main')
//! ```
//!
//! Python output (the page prints `cancelling` and `cancelled` where its
//! code says `canceling` and `canceled`: the output was recorded from another
//! revision of the program; this port prints what the code says):
//!
//! ```text
//! starting main
//! waiting 0.1 for phases to complete
//! in phase 1
//! in phase 0
//! in phase 2
//! done with phase 0
//! 1 completed and 2 pending
//! cancelling tasks
//! exiting main
//! phase 1 cancelled
//! phase 2 cancelled
//! ```
//!
//! `asyncio.wait` wraps the coroutines in tasks by iterating over a set, so the
//! order they start in is arbitrary; the recorded run started phase 1 first.
//! This program spawns them in that order.
//!
//! asyncio runs `main` and its tasks on one thread, in the order they become
//! ready. To keep that interleaving (and the same output on every run), `main`
//! runs as a task on a runtime with one worker, as `asyncio.run` runs it as a
//! task, and spawns the phases with [`weft::spawn_local`], pinned to that
//! worker's loop. Phase 1's sleep and the wait's timeout end together (both
//! 0.1 s); as in asyncio, the timeout was armed first, so `main` runs first
//! and finds phase 1 still pending, and phase 1, whether or not its timer has
//! fired by then, sees the cancellation at its next poll.
//!
//! ```text
//! cargo run --example wait_timeout
//! ```

mod pymotw;

use std::time::Duration;

async fn phase(i: u32) -> String {
    println!("in phase {i}");
    // try: await asyncio.sleep(0.1 * i) / except asyncio.CancelledError:
    let slept = weft::catch_cancel(weft::sleep(Duration::from_millis(100 * u64::from(i)))).await;
    if let Err(cancelled) = slept {
        println!("phase {i} canceled");
        // raise: the task ends cancelled (`raise` never returns).
        return cancelled.raise().await;
    }
    println!("done with phase {i}");
    format!("phase {i} result")
}

async fn async_main(num_phases: u32) {
    println!("starting main");
    // Like Python's coroutine objects, these futures do nothing until spawned.
    let mut phases: Vec<_> = (0..num_phases).map(|i| (i, phase(i))).collect();
    println!("waiting 0.1 for phases to complete");
    // The order the recorded Python run started the phases in (a set's order).
    let start_order = [1, 0, 2];
    phases.sort_by_key(|(i, _)| start_order.iter().position(|s| s == i));
    // `asyncio.wait(coros)` wraps each coroutine in a task; weft's `wait` takes
    // the tasks, so spawn them first.
    let tasks = phases.into_iter().map(|(_, p)| weft::spawn_local(p));
    let (completed, pending) = weft::wait(tasks)
        .timeout(Duration::from_millis(100))
        .await
        .expect("three phases to wait for");
    println!(
        "{} completed and {} pending",
        completed.len(),
        pending.len()
    );
    // Cancel remaining tasks so they do not generate errors
    // as we exit without finishing them.
    if !pending.is_empty() {
        println!("canceling tasks");
        for t in &pending {
            t.cancel();
        }
    }
    println!("exiting main");
    // The cancelled phases run their `except` blocks after `main` returns:
    // they were woken before `main` ended, so the loop runs them before the
    // done callback that stops it (`pymotw::run_until_complete`).
}

/// Runs the program (tests/tests/seeds_examples.rs calls it too, and compares
/// what it prints with the Python output above).
pub(crate) fn main() -> Result<(), Box<dyn std::error::Error>> {
    // event_loop.run_until_complete(main(3)); event_loop.close()
    pymotw::run_one_thread(async_main(3))?;
    Ok(())
}
