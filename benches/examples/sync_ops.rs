//! The `semaphore_contended` and `queue_backpressure` benches' iteration
//! (`--bench sync`) for weft and a peer, run `ITERS` times on one runtime of
//! 2 workers, for instruction counts under callgrind (deterministic where the
//! wall clock of a shared machine is not):
//!
//! ```sh
//! cargo build --release -p weft-benches --example sync_ops
//! valgrind --tool=callgrind target/release/examples/sync_ops semaphore weft 4
//! valgrind --tool=callgrind target/release/examples/sync_ops semaphore weft 12
//! ```
//!
//! The difference of two runs' totals over the difference of their `ITERS`,
//! divided by the operations of an iteration (8 000 acquire+release pairs,
//! or 10 000 items), is the instructions per operation with the runtime's
//! start and stop taken out. Arguments: the workload (`semaphore`: 8 tasks ×
//! 1 000 acquire, yield, release on 2 permits; `backpressure`: 4 producer
//! tasks, the driver gets, capacity 8), the peer (`weft`, `tokio`, or
//! `async` for async-lock / async-channel on async-executor) and `ITERS`
//! (default 8). callgrind runs one thread at a time, so the counts are path
//! lengths, not the cost of two workers writing one word at once.

use std::sync::Arc;

use weft_benches::{run_in_task, AsyncExecutor, Rt, Tokio, Weft};

const TASKS: usize = 8;
const PER_TASK: usize = 1_000;
const PERMITS: usize = 2;
const ITEMS: u64 = 10_000;
const PRODUCERS: u64 = 4;
const CAPACITY: usize = 8;

/// One peer's semaphore and bounded queue.
trait Peer: Rt {
    type Sem: Send + Sync + 'static;
    fn sem(permits: usize) -> Self::Sem;
    fn acquire_yield_release(s: &Self::Sem) -> impl std::future::Future<Output = ()> + Send;
    /// One iteration of `queue_backpressure`: the sum of the items.
    fn backpressure(rt: &Self) -> u64;
}

impl Peer for Weft {
    type Sem = weft::sync::Semaphore;
    fn sem(permits: usize) -> Self::Sem {
        weft::sync::Semaphore::new(permits)
    }
    async fn acquire_yield_release(s: &Self::Sem) {
        let permit = s.acquire().await;
        weft::yield_now().await;
        drop(permit);
    }
    fn backpressure(rt: &Self) -> u64 {
        run_in_task(rt, async {
            let q = weft::queue::Queue::new(CAPACITY);
            let producers: Vec<_> = (0..PRODUCERS)
                .map(|p| {
                    let q = q.clone();
                    weft::spawn(async move {
                        for i in (p..ITEMS).step_by(PRODUCERS as usize) {
                            q.put(i).await.expect("not shut down");
                        }
                    })
                })
                .collect();
            let mut sum = 0;
            for _ in 0..ITEMS {
                sum += q.get().await.expect("not shut down");
            }
            for p in producers {
                p.await.expect("producer");
            }
            sum
        })
    }
}

impl Peer for Tokio {
    type Sem = tokio::sync::Semaphore;
    fn sem(permits: usize) -> Self::Sem {
        tokio::sync::Semaphore::new(permits)
    }
    async fn acquire_yield_release(s: &Self::Sem) {
        let permit = s.acquire().await.expect("not closed");
        tokio::task::yield_now().await;
        drop(permit);
    }
    fn backpressure(rt: &Self) -> u64 {
        run_in_task(rt, async {
            let (tx, mut rx) = tokio::sync::mpsc::channel(CAPACITY);
            let producers: Vec<_> = (0..PRODUCERS)
                .map(|p| {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        for i in (p..ITEMS).step_by(PRODUCERS as usize) {
                            tx.send(i).await.expect("not closed");
                        }
                    })
                })
                .collect();
            drop(tx);
            let mut sum = 0;
            for _ in 0..ITEMS {
                sum += rx.recv().await.expect("not closed");
            }
            for p in producers {
                p.await.expect("producer");
            }
            sum
        })
    }
}

impl Peer for AsyncExecutor {
    type Sem = async_lock::Semaphore;
    fn sem(permits: usize) -> Self::Sem {
        async_lock::Semaphore::new(permits)
    }
    async fn acquire_yield_release(s: &Self::Sem) {
        let permit = s.acquire().await;
        futures_lite::future::yield_now().await;
        drop(permit);
    }
    fn backpressure(rt: &Self) -> u64 {
        let ctx = rt.ctx();
        run_in_task(rt, async move {
            let (tx, rx) = async_channel::bounded(CAPACITY);
            let producers: Vec<_> = (0..PRODUCERS)
                .map(|p| {
                    let tx = tx.clone();
                    AsyncExecutor::spawn(&ctx, async move {
                        for i in (p..ITEMS).step_by(PRODUCERS as usize) {
                            tx.send(i).await.expect("not closed");
                        }
                    })
                })
                .collect();
            drop(tx);
            let mut sum = 0;
            for _ in 0..ITEMS {
                sum += rx.recv().await.expect("not closed");
            }
            for p in producers {
                p.await;
            }
            sum
        })
    }
}

/// One iteration of `semaphore_contended`: the permits taken.
fn semaphore<R: Peer>(rt: &R) -> usize {
    let ctx = rt.ctx();
    run_in_task(rt, async move {
        let s = Arc::new(R::sem(PERMITS));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let s = s.clone();
                R::spawn(&ctx, async move {
                    for _ in 0..PER_TASK {
                        R::acquire_yield_release(&s).await;
                    }
                    PER_TASK
                })
            })
            .collect();
        let mut done = 0;
        for t in tasks {
            done += t.await;
        }
        done
    })
}

fn run<R: Peer>(workload: &str, iters: usize) {
    let rt = R::build(2);
    for _ in 0..iters {
        match workload {
            "semaphore" => assert_eq!(semaphore(&rt), TASKS * PER_TASK),
            "backpressure" => assert_eq!(R::backpressure(&rt), ITEMS * (ITEMS - 1) / 2),
            other => panic!("unknown workload {other}: semaphore or backpressure"),
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args.next().unwrap_or_else(|| "semaphore".to_string());
    let peer = args.next().unwrap_or_else(|| "weft".to_string());
    let iters: usize = args.next().map_or(8, |s| s.parse().expect("a number"));
    match peer.as_str() {
        "weft" => run::<Weft>(&workload, iters),
        "tokio" => run::<Tokio>(&workload, iters),
        "async" => run::<AsyncExecutor>(&workload, iters),
        other => panic!("unknown peer {other}: weft, tokio or async"),
    }
}
