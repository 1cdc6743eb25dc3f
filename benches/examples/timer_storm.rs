//! The `timer_storm` bench's workload on weft alone, outside criterion, for
//! `perf stat`, `time` and callgrind: from one task, spawn `N` tasks, task
//! `i` sleeping `timer_delays(N)[i]` (0-20 ms), then await them all;
//! `ROUNDS` storms on one runtime of `WORKERS` workers.
//!
//! ```sh
//! cargo build --release -p weft-benches --example timer_storm
//! target/release/examples/timer_storm 10 2          # ROUNDS WORKERS [N]
//! valgrind --tool=callgrind target/release/examples/timer_storm 1 1 20000
//! ```
//!
//! Each storm checks that every task ran, so a broken runtime fails instead
//! of measuring nothing.

use weft_benches::io::timer_delays;

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(10, |s| s.parse().expect("ROUNDS"));
    let workers: usize = args.next().map_or(2, |s| s.parse().expect("WORKERS"));
    let n: usize = args.next().map_or(100_000, |s| s.parse().expect("N"));
    let rt = weft::Builder::new()
        .workers(workers)
        .build()
        .expect("runtime");
    let delays = timer_delays(n);
    for _ in 0..rounds {
        let delays = delays.clone();
        let storm = rt.spawn(async move {
            let tasks: Vec<_> = delays
                .into_iter()
                .map(|d| {
                    weft::spawn(async move {
                        weft::sleep(d).await;
                        1usize
                    })
                })
                .collect();
            let mut done = 0;
            for t in tasks {
                done += t.await.expect("sleeper");
            }
            done
        });
        assert_eq!(rt.block_on(storm).expect("storm"), n);
    }
}
