//! How long a task dump of many live tasks takes, and what it costs the
//! workers meanwhile (issue 17, section 1):
//!
//! ```sh
//! cargo build --release -p weft-benches --example dump_many
//! target/release/examples/dump_many 100000
//! ```
//!
//! Arguments: `N` live tasks (default 100 000), each parked on one promise
//! (so each has an await edge to read), and the number of workers (default
//! 2). One busy task per worker yields in a loop and counts its polls. The
//! program measures the busy tasks' polls per second for one second with no
//! dump, then for one second while a plain thread takes dumps back to back,
//! and prints the dumps' mean time and the throughput of both seconds. On
//! a machine with fewer cores than workers + 1, the dumping thread takes
//! CPU time from the workers: run it with fewer workers than cores to see
//! what the dump itself costs them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(100_000, |s| s.parse().expect("N"));
    let workers: usize = args.next().map_or(2, |s| s.parse().expect("workers"));
    let rt = weft::Builder::new()
        .workers(workers)
        .build()
        .expect("runtime");
    let gate = weft::Promise::<()>::new();
    let parked: Vec<_> = (0..n)
        .map(|_| {
            let gate = gate.clone();
            rt.spawn(async move { gate.wait().await.expect("settled") })
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let polls = Arc::new(AtomicU64::new(0));
    let busy: Vec<_> = (0..workers)
        .map(|_| {
            let (stop, polls) = (stop.clone(), polls.clone());
            rt.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    polls.fetch_add(1, Ordering::Relaxed);
                    weft::yield_now().await;
                }
            })
        })
        .collect();
    // Every parked task has had its first poll (its edge is recorded).
    while parked.iter().any(|t| t.awaiting().is_none()) {
        std::thread::sleep(Duration::from_millis(10));
    }

    let window = Duration::from_secs(1);
    let before = polls.load(Ordering::Relaxed);
    std::thread::sleep(window);
    let quiet = polls.load(Ordering::Relaxed) - before;

    let handle = rt.handle().clone();
    let start_polls = polls.load(Ordering::Relaxed);
    let start = Instant::now();
    let mut dumps = 0u32;
    let mut longest = Duration::ZERO;
    let mut total = Duration::ZERO;
    let mut listed = 0;
    while start.elapsed() < window {
        let t = Instant::now();
        let dump = handle.dump();
        let took = t.elapsed();
        total += took;
        longest = longest.max(took);
        listed = dump.tasks.len();
        assert!(dump.tasks.iter().filter(|t| t.awaiting.is_some()).count() >= n);
        dumps += 1;
    }
    let elapsed = start.elapsed();
    let dumping = polls.load(Ordering::Relaxed) - start_polls;

    println!("{n} parked tasks, {workers} workers, {listed} tasks listed per dump");
    println!(
        "dump: {dumps} dumps in {elapsed:.2?}, mean {:.2?}, longest {longest:.2?}",
        total / dumps
    );
    println!(
        "busy tasks' polls per second: {quiet} without dumps, {} while dumping ({:.1}%)",
        (dumping as f64 / elapsed.as_secs_f64()) as u64,
        100.0 * (dumping as f64 / elapsed.as_secs_f64()) / quiet as f64
    );

    stop.store(true, Ordering::Relaxed);
    gate.set_result(()).expect("not settled yet");
    for t in busy {
        rt.block_on(t).expect("busy task");
    }
    for t in parked {
        rt.block_on(t).expect("parked task");
    }
}
