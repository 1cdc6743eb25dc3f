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
//! 1; more for wall-clock runs of `bridge` as the criterion bench has them).
//!
//! Modes: `join` (spawn N empty tasks, then await each), `chain` (spawn one and
//! await it, N times), `detach` (spawn N detached), `gather` (spawn N tasks,
//! task `i` returning `i`, then `weft::gather` them, as the `gather_100k`
//! bench does), `promise` (N promise round
//! trips between two tasks), `bridge` (N `run_coroutine_threadsafe` +
//! `result` from the main thread), `yield` (200 tasks sharing N
//! `yield_now`s, as the `yield_many` bench), `pingpong` (N ping tasks, each
//! spawning a pong task and trading two promises with it, as the
//! `ping_pong` bench). Each checks its result, so a broken runtime fails
//! instead of measuring nothing.

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(100_000, |s| s.parse().expect("N"));
    let mode = args.next().unwrap_or_else(|| "join".into());
    let workers: usize = args.next().map_or(1, |s| s.parse().expect("workers"));
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
                const TASKS: usize = 200;
                let per_task = n / TASKS;
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| {
                        weft::spawn(async move {
                            for _ in 0..per_task {
                                weft::yield_now().await;
                            }
                            per_task
                        })
                    })
                    .collect();
                let out = weft::gather(tasks).await.expect("gather");
                assert_eq!(out.iter().sum::<usize>(), TASKS * per_task);
            }
            "pingpong" => {
                let pings: Vec<_> = (0..n)
                    .map(|i| {
                        weft::spawn(async move {
                            let (ping, pong) = (weft::Promise::new(), weft::Promise::new());
                            let (ping2, pong2) = (ping.clone(), pong.clone());
                            weft::spawn(async move {
                                let i = ping2.await.expect("ping");
                                pong2.set_result(i).expect("pong set");
                            })
                            .detach();
                            ping.set_result(i).expect("ping set");
                            pong.await.expect("pong")
                        })
                    })
                    .collect();
                let out = weft::gather(pings).await.expect("gather");
                assert!(out.into_iter().eq(0..n), "ping pong lost a reply");
            }
            other => panic!(
                "unknown mode {other}: join, chain, detach, gather, promise, bridge, yield or pingpong"
            ),
        }
        n
    }));
    assert_eq!(done.expect("main task"), n);
}
