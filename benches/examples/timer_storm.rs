//! The `timer_storm` bench's workload on weft alone, outside criterion, for
//! `time`, `perf stat` and callgrind: `ROUNDS` storms
//! (`weft_benches::io::timer_storm_iter`: from one task, `N` sleepers with
//! `timer_delays(N)`, 0-20 ms, awaited) on one runtime of `WORKERS` workers,
//! built as the bench builds it.
//!
//! ```sh
//! cargo build --release -p weft-benches --example timer_storm
//! target/release/examples/timer_storm 10 2          # ROUNDS WORKERS [N]
//! valgrind --tool=callgrind target/release/examples/timer_storm 1 1 20000
//! ```
//!
//! Each storm checks that every sleeper ran and slept, so a broken runtime
//! fails instead of measuring nothing.

use std::sync::Arc;
use std::time::Duration;
use weft_benches::io::{timer_delays, timer_storm_iter, IoRt, TIMERS};
use weft_benches::{Rt, Weft};

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(10, |s| s.parse().expect("ROUNDS"));
    let workers: usize = args.next().map_or(2, |s| s.parse().expect("WORKERS"));
    let n: usize = args.next().map_or(TIMERS, |s| s.parse().expect("N"));
    let rt = Weft::build_io(workers);
    let delays: Arc<[Duration]> = timer_delays(n).into();
    for _ in 0..rounds {
        rt.block_on(timer_storm_iter(&rt, &delays));
    }
}
