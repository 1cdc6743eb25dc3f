//! The `queue_1to1` and `queue_backpressure` benches' iteration (`--bench
//! sync`), run `ITERS` times on one weft runtime of 2 workers, for
//! instruction counts under callgrind (deterministic where the wall clock of
//! a shared machine is not):
//!
//! ```sh
//! cargo build --release -p weft-benches --example queue_ops
//! valgrind --tool=callgrind target/release/examples/queue_ops 1to1 20
//! valgrind --tool=callgrind target/release/examples/queue_ops 1to1 40
//! ```
//!
//! The difference of two runs' totals over the difference of their `ITERS`,
//! divided by the 10 000 items of an iteration, is the instructions per item
//! with the runtime's start and stop taken out. Arguments: the workload
//! (`1to1`: one producer task, the driver gets, capacity 1 024;
//! `backpressure`: four producer tasks, capacity 8), `ITERS` (default 20)
//! and, optionally, `task`: the driver is then a task on the workers, as in
//! the bench (`run_in_task`), not `block_on`'s future on the main thread
//! (the default, which the instruction counts in docs/benchmarks.md used).

use weft::queue::Queue;

const ITEMS: u64 = 10_000;

/// One iteration: `producers` tasks put `ITEMS` items in all, the driver task
/// gets them; returns their sum.
async fn pipeline(capacity: usize, producers: u64) -> u64 {
    let q = Queue::new(capacity);
    let per = ITEMS / producers;
    let handles: Vec<_> = (0..producers)
        .map(|p| {
            let q = q.clone();
            weft::spawn(async move {
                for i in p * per..(p + 1) * per {
                    q.put(i).await.expect("not shut down");
                }
            })
        })
        .collect();
    let mut sum = 0;
    for _ in 0..ITEMS {
        sum += q.get().await.expect("not shut down");
    }
    for h in handles {
        h.await.expect("producer");
    }
    sum
}

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args.next().unwrap_or_else(|| "1to1".to_string());
    let iters: usize = args.next().map_or(20, |s| s.parse().expect("a number"));
    let in_task = args.next().is_some_and(|s| s == "task");
    let (capacity, producers) = match workload.as_str() {
        "1to1" => (1_024, 1),
        "backpressure" => (8, 4),
        other => panic!("unknown workload {other}: 1to1 or backpressure"),
    };
    let rt = weft::Builder::new().workers(2).build().expect("runtime");
    for _ in 0..iters {
        let sum = if in_task {
            rt.block_on(rt.spawn(pipeline(capacity, producers)))
                .expect("the driver task")
        } else {
            rt.block_on(pipeline(capacity, producers))
        };
        assert_eq!(sum, ITEMS * (ITEMS - 1) / 2);
    }
}
