//! The `chained_spawn` bench's iteration, timed one `block_on` at a time: a
//! chain of `HOPS` tasks, each spawning the next, started from `block_on` on a
//! runtime of `WORKERS` workers, `ITERS` times; prints the runtime's steal and
//! park counts and the median, p10 and p90 iteration time.
//!
//! ```sh
//! cargo run --release -p weft-benches --example chain_iter -- 300 2 10000
//! ```
//!
//! Arguments: `ITERS` (default 2000), `WORKERS` (default 2), `HOPS` (default
//! 1000). Unlike `spawn_loop chain` (one long chain, for callgrind), each
//! iteration here wakes the workers from parked and lets them park again, as
//! criterion's iterations do, so it shows wall-clock costs of the second
//! worker (waking, searching, parking) that instruction counts miss.

use std::sync::Arc;
use std::time::Instant;

fn link(n: usize, done: Arc<weft::Promise<()>>) {
    if n == 0 {
        let _ = done.set_result(());
    } else {
        // Detached: dropping the handle leaves the task running.
        drop(weft::spawn(async move { link(n - 1, done) }));
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut arg = |default: usize| {
        args.next()
            .map_or(default, |s| s.parse().expect("a number"))
    };
    let (iters, workers, hops) = (arg(2000).max(1), arg(2), arg(1000));
    let rt = weft::Builder::new()
        .workers(workers)
        .build()
        .expect("runtime");
    let mut times = Vec::with_capacity(iters);
    for _ in 0..iters {
        let start = Instant::now();
        rt.block_on(async {
            let done = Arc::new(weft::Promise::new());
            let first = done.clone();
            let task = weft::spawn(async move {
                link(hops, first.clone());
                first.wait().await
            });
            let _ = task.await;
        });
        times.push(start.elapsed().as_micros());
    }
    let m = rt.handle().metrics();
    times.sort_unstable();
    println!(
        "steals {} parks {}; per iteration: median {} us, p10 {} us, p90 {} us",
        m.steals,
        m.parks,
        times[iters / 2],
        times[iters / 10],
        times[iters * 9 / 10]
    );
}
