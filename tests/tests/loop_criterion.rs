//! criterion's `to_async` on weft (facade feature `criterion`): a real,
//! tiny criterion measurement through `b.to_async(&rt)`, `b.to_async(handle)`
//! and `b.to_async(rt.handle())`, checking that every iteration ran on the
//! weft runtime (inside its `block_on` loop, spawning onto its workers) and
//! that nothing was left behind. Each test runs under the common watchdog.

mod common;

use common::watchdog;
use criterion::Criterion;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A criterion small enough for a test: 10 samples in about 0.1 s.
fn tiny_criterion() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .nresamples(1_000)
        .warm_up_time(Duration::from_millis(20))
        .measurement_time(Duration::from_millis(100))
        .without_plots()
}

/// One iteration: spawn a task on the runtime and await it, counting both
/// the iteration and whether it ran inside `rt`'s loop.
/// (The `spawned` counter of the runtime's metrics then shows the spawns
/// went to that runtime.)
async fn iteration(iters: Arc<AtomicUsize>, outside: Arc<AtomicUsize>) {
    if weft::Handle::try_current().is_none() {
        outside.fetch_add(1, Ordering::Relaxed);
    }
    let t = weft::spawn(async { 21 * 2 });
    assert_eq!(t.await.unwrap(), 42);
    iters.fetch_add(1, Ordering::Relaxed);
}

fn wait_no_live_tasks(handle: &weft::Handle) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while handle.metrics().live_tasks != 0 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(handle.metrics().live_tasks, 0, "a task outlived its bench");
}

#[test]
fn to_async_runs_a_criterion_measurement_on_weft() {
    watchdog(|| {
        let rt = weft::Builder::new().workers(2).build().unwrap();
        let handle = rt.handle().clone();
        let mut c = tiny_criterion();
        let iters = Arc::new(AtomicUsize::new(0));
        let outside = Arc::new(AtomicUsize::new(0));

        let spawned_before = handle.metrics().spawned;
        let (i, o) = (iters.clone(), outside.clone());
        c.bench_function("to_async_runtime_ref", |b| {
            b.to_async(&rt).iter(|| iteration(i.clone(), o.clone()))
        });
        let by_runtime = iters.swap(0, Ordering::Relaxed);
        // Criterion ran warm-up and 10 samples of at least one iteration each,
        // and every iteration spawned exactly one weft task.
        assert!(by_runtime >= 10, "only {by_runtime} iterations");
        assert_eq!(handle.metrics().spawned - spawned_before, by_runtime);

        let (i, o) = (iters.clone(), outside.clone());
        let owned = handle.clone();
        c.bench_function("to_async_handle", |b| {
            b.to_async(owned.clone())
                .iter(|| iteration(i.clone(), o.clone()))
        });
        let by_handle = iters.swap(0, Ordering::Relaxed);
        assert!(by_handle >= 10, "only {by_handle} iterations");

        let (i, o) = (iters.clone(), outside.clone());
        c.bench_function("to_async_handle_ref", |b| {
            b.to_async(rt.handle())
                .iter(|| iteration(i.clone(), o.clone()))
        });
        let by_handle_ref = iters.swap(0, Ordering::Relaxed);
        assert!(by_handle_ref >= 10, "only {by_handle_ref} iterations");
        assert_eq!(
            handle.metrics().spawned - spawned_before,
            by_runtime + by_handle + by_handle_ref
        );

        assert_eq!(
            outside.load(Ordering::Relaxed),
            0,
            "an iteration ran outside the weft runtime"
        );
        wait_no_live_tasks(&handle);
    });
}

#[test]
fn to_async_borrows_non_static_state() {
    watchdog(|| {
        // The routine's future borrows a local: `to_async` blocks the bench
        // thread on it, no `'static` needed (as tokio's `Runtime::block_on`).
        let rt = weft::Builder::new().workers(1).build().unwrap();
        let local = String::from("abc");
        let (bytes, iters) = (AtomicUsize::new(0), AtomicUsize::new(0));
        tiny_criterion().bench_function("borrowing", |b| {
            b.to_async(&rt).iter(|| async {
                weft::yield_now().await;
                bytes.fetch_add(local.len(), Ordering::Relaxed);
                iters.fetch_add(1, Ordering::Relaxed);
            })
        });
        let (bytes, iters) = (bytes.into_inner(), iters.into_inner());
        assert!(iters >= 10, "only {iters} iterations");
        assert_eq!(bytes, 3 * iters);
    });
}

#[test]
fn to_async_from_inside_a_task_panics_clearly() {
    watchdog(|| {
        // A handle used from a task (a loop thread) cannot block it: the panic
        // says so, as `Handle::block_on` documents (tokio's Handle::block_on
        // panics the same way inside its runtime).
        let rt = weft::Builder::new().workers(1).build().unwrap();
        let handle = rt.handle().clone();
        let task = rt.spawn(async move {
            tiny_criterion().bench_function("nested", |b| {
                b.to_async(handle.clone()).iter(weft::yield_now)
            });
        });
        let err = rt.block_on(task).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(
                "cannot block on a future inside a running weft loop: use .await instead"
            ),
            "{message}"
        );
    });
}
