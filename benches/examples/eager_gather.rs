//! `eager_gather_100k`'s job on one worker, for counting instructions with
//! callgrind (as `spawn_loop.rs` does for the plain spawn paths; kept apart so
//! that adding it did not change how the compiler lays out those):
//!
//! ```sh
//! cargo build --release -p weft-benches --example eager_gather
//! valgrind --tool=callgrind target/release/examples/eager_gather 100000
//! ```
//!
//! Spawns `N` tasks with `weft::spawn_eager`, task `i` returning `i` (each
//! finishes inside its spawn, so none is queued), then `weft::gather`s them
//! and checks every value in order. Compare with `spawn_loop N gather`, the
//! same job with `weft::spawn`.

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(100_000, |s| s.parse().expect("N"));
    let rt = weft::Builder::new().workers(1).build().expect("runtime");
    let done = rt.block_on(rt.spawn(async move {
        let tasks: Vec<_> = (0..n)
            .map(|i| weft::spawn_eager(async move { i }))
            .collect();
        let out = weft::gather(tasks).await.expect("gather");
        assert!(out.into_iter().eq(0..n), "gather out of order");
        n
    }));
    assert_eq!(done.expect("main task"), n);
}
