//! A fixed workload on one worker, for counting instructions with callgrind
//! (repeatable, whatever else the machine is doing), where criterion's
//! timings drown in a shared machine's noise:
//!
//! ```sh
//! cargo build --release -p weft-benches --example spawn_loop
//! valgrind --tool=callgrind target/release/examples/spawn_loop 100000 chain
//! ```
//!
//! Arguments: `N`, the mode, and optionally the number of workers (default
//! 1; more for wall-clock runs of `bridge` as the criterion bench has them)
//! and of rounds (default 1: the workload run that many times on one
//! runtime, as criterion's iterations are; not for `bridge`).
//!
//! Modes: `join` (spawn N empty tasks, then await each), `chain` (spawn one and
//! await it, N times), `detach` (spawn N detached), `gather` (spawn N tasks,
//! task `i` returning `i`, then `weft::gather` them, as the `gather_100k`
//! bench does), `promise` (N promise round
//! trips between two tasks), `bridge` (N `run_coroutine_threadsafe` +
//! `result` from the main thread), `yield` (N / 1000 tasks yielding 1000
//! times each, the `yield_many` bench's shape), `pingpong` (N ping tasks,
//! each spawning a pong task and trading two `tokio::sync::oneshot`s with
//! it, the `ping_pong` bench's shape), `cancel` (spawn N tasks that stay
//! pending, cancel each and await it: the `cancel_cost_1_worker` bench's
//! shape), `cancelchild` (the same with N tasks each awaiting a child task
//! that stays pending: cancelling the parent cancels the child, and the
//! parent ends after it). Each checks its result, so a broken
//! runtime fails instead of measuring nothing.

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(100_000, |s| s.parse().expect("N"));
    let mode = args.next().unwrap_or_else(|| "join".into());
    let workers: usize = args.next().map_or(1, |s| s.parse().expect("workers"));
    let rounds: usize = args.next().map_or(1, |s| s.parse().expect("rounds"));
    let rt = weft::Builder::new()
        .workers(workers)
        .build()
        .expect("runtime");
    let handle = rt.handle().clone();
    if mode == "bridge" {
        for i in 0..n {
            let fut = weft::run_coroutine_threadsafe(async move { i }, &handle);
            assert_eq!(fut.result(None).expect("result"), i);
        }
        return;
    }
    for _ in 0..rounds {
        run_round(&rt, &handle, n, mode.clone());
    }
}

/// One run of the workload `mode` on `rt`, from a task.
fn run_round(rt: &weft::Runtime, handle: &weft::Handle, n: usize, mode: String) {
    let done = rt.block_on(handle.spawn(async move {
        match mode.as_str() {
            "join" => {
                let tasks: Vec<_> = (0..n).map(|_| weft::spawn(async {})).collect();
                for t in tasks {
                    t.await.expect("task");
                }
            }
            "chain" => {
                for _ in 0..n {
                    weft::spawn(async {}).await.expect("task");
                }
            }
            "detach" => {
                for _ in 0..n {
                    weft::spawn(async {}).detach();
                }
                weft::yield_now().await;
            }
            "gather" => {
                let tasks: Vec<_> = (0..n).map(|i| weft::spawn(async move { i })).collect();
                let out = weft::gather(tasks).await.expect("gather");
                assert!(out.into_iter().eq(0..n), "gather out of order");
            }
            "promise" => {
                for i in 0..n {
                    let p = weft::Promise::new();
                    let setter = p.clone();
                    let t = weft::spawn(async move { setter.set_result(i).expect("set") });
                    assert_eq!(p.await.expect("promise"), i);
                    t.await.expect("task");
                }
            }
            "yield" => {
                let tasks: Vec<_> = (0..n / 1000)
                    .map(|_| {
                        weft::spawn(async {
                            for _ in 0..1000 {
                                weft::yield_now().await;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("task");
                }
            }
            "pingpong" => {
                let pings: Vec<_> = (0..n)
                    .map(|_| {
                        weft::spawn(async {
                            let (tx1, rx1) = tokio::sync::oneshot::channel::<()>();
                            let (tx2, rx2) = tokio::sync::oneshot::channel::<()>();
                            weft::spawn(async move {
                                rx1.await.expect("ping dropped");
                                tx2.send(()).expect("ping gone");
                            })
                            .detach();
                            tx1.send(()).expect("pong gone");
                            rx2.await.expect("pong dropped");
                        })
                    })
                    .collect();
                for t in pings {
                    t.await.expect("ping");
                }
            }
            "cancel" => {
                // The bench's own weft adapter, so both count the same work.
                use weft_benches::{Rt, Weft};
                assert_eq!(Weft::cancel_many(&(), n).await, n);
            }
            "cancelchild" => {
                let parents: Vec<_> = (0..n)
                    .map(|_| {
                        weft::spawn(async {
                            let _ = weft::spawn(std::future::pending::<()>()).await;
                        })
                    })
                    .collect();
                weft::yield_now().await;
                for p in &parents {
                    p.cancel();
                }
                for p in parents {
                    assert!(p.await.expect_err("cancelled").is_cancelled());
                }
            }
            other => panic!(
                "unknown mode {other}: join, chain, detach, gather, promise, bridge, yield, \
                 pingpong, cancel or cancelchild"
            ),
        }
        n
    }));
    assert_eq!(done.expect("main task"), n);
}
