//! Combinator benchmarks: weft's `gather` and `as_completed` against what a
//! tokio or async-executor user writes for the same job, in one run, with the
//! same worker count (`WEFT_BENCH_WORKERS`, default `available_parallelism`).
//!
//! * `gather_100k`: from inside a task, spawn 100 000 tasks (task `i` returns
//!   `i`) and wait for all the results, in spawn order. weft:
//!   `weft::gather(tasks)`; tokio: `futures_util::future::join_all` over the
//!   `JoinHandle`s (each result unwrapped); async-executor: `join_all` over its
//!   `Task`s.
//! * `as_completed_10k`: from inside a task, spawn 10 000 tasks (task `i`
//!   yields `i % 3` times, then returns `i`, so they finish out of spawn order)
//!   and consume the results in completion order. weft:
//!   `weft::as_completed(tasks)`; tokio and async-executor: a
//!   `FuturesUnordered` of their handles.
//! * `eager_gather_100k`: `gather_100k`'s job (100 000 tasks that finish
//!   without suspending) spawned three ways: `weft_eager`
//!   (`weft::spawn_eager`: each task's only step runs inside the spawn, so
//!   none is ever queued), `weft` (`weft::spawn`, the same code as
//!   `gather_100k/weft`) and `tokio` (`tokio::spawn`, then each `JoinHandle`
//!   awaited in order: `join_all` would run into the budget pathology below and
//!   measure it instead of the spawns).
//!
//! The timed iteration covers the spawns and the wait (the whole body runs in
//! one task on the runtime, spawned from the bench thread and awaited there).
//! Every iteration checks its result (every value in order for gather, the
//! sum for as_completed). The iterations are timed with criterion's
//! `to_async` on each runtime's own `block_on` (`Rt::iter_async`; weft's
//! through the facade feature `criterion`), entered once per sample.
//!
//! The runtime adapters (`Rt`) are shared with `runtime.rs` and `io.rs`
//! (`benches/src/lib.rs`); this file adds the handle-level operations
//! ([`CombRt`]): `Rt::spawn` hides each runtime's handle type, and the
//! combinators need it. Each runtime is built the first time its bench
//! function runs, checked with one untimed iteration, and dropped before the
//! next one is built; a bench function a filter leaves out builds nothing.
//! Bench ids are `<bench>/<runtime>`, as in `runtime.rs`, so
//! `benches/table.py` prints them too.
//!
//! On tokio, `join_all` (a `FuturesOrdered` beyond 30 futures) and
//! `FuturesUnordered` over `JoinHandle`s run into tokio's cooperative budget:
//! once a poll has used its 128 units, every further handle polled returns
//! `Pending` with a deferred self-wake, so each poll of the waiting task walks
//! all the handles still pending (futures-rs#2053, tokio#2401). That is what
//! a tokio user who writes these idioms gets, so it is measured as is; an
//! iteration of `gather_100k/tokio` takes seconds.

use std::future::Future;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use futures_util::future::join_all;
use futures_util::stream::{FuturesUnordered, Stream, StreamExt};
use weft_benches::{bench_lazily_with, AsyncExecutor, Rt, Tokio, Weft};

// ---------------------------------------------------------------------------
// Handle-level operations per runtime
// ---------------------------------------------------------------------------

/// What the combinator workloads need beyond [`Rt`]: the runtime's own task
/// handle, and the idiomatic "wait for all, in order" and "each as it
/// finishes" over a `Vec` of them. All called from tasks on the runtime.
trait CombRt: Rt {
    /// The runtime's join handle for a task returning `T`.
    type Handle<T: Send + 'static>: Send + 'static;

    /// Spawn from inside a task on this runtime, keeping the handle.
    fn spawn_handle<F>(ctx: &Self::Ctx, f: F) -> Self::Handle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Every task's output, in the order of `handles`.
    fn gather_all<T: Send + 'static>(
        handles: Vec<Self::Handle<T>>,
    ) -> impl Future<Output = Vec<T>> + Send;

    /// Every task's output, in the order the tasks finish.
    fn completed<T: Send + 'static>(handles: Vec<Self::Handle<T>>) -> impl Stream<Item = T> + Send;
}

impl CombRt for Weft {
    type Handle<T: Send + 'static> = weft::Task<T>;

    fn spawn_handle<F>(_: &(), f: F) -> weft::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        weft::spawn(f)
    }

    async fn gather_all<T: Send + 'static>(handles: Vec<weft::Task<T>>) -> Vec<T> {
        weft::gather(handles).await.expect("weft gather failed")
    }

    fn completed<T: Send + 'static>(handles: Vec<weft::Task<T>>) -> impl Stream<Item = T> + Send {
        weft::as_completed(handles).map(|r| r.expect("weft task failed"))
    }
}

impl CombRt for Tokio {
    type Handle<T: Send + 'static> = tokio::task::JoinHandle<T>;

    fn spawn_handle<F>(_: &(), f: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(f)
    }

    async fn gather_all<T: Send + 'static>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
        join_all(handles)
            .await
            .into_iter()
            .map(|r| r.expect("tokio task failed"))
            .collect()
    }

    fn completed<T: Send + 'static>(
        handles: Vec<tokio::task::JoinHandle<T>>,
    ) -> impl Stream<Item = T> + Send {
        handles
            .into_iter()
            .collect::<FuturesUnordered<_>>()
            .map(|r| r.expect("tokio task failed"))
    }
}

impl CombRt for AsyncExecutor {
    type Handle<T: Send + 'static> = async_executor::Task<T>;

    fn spawn_handle<F>(ex: &Self::Ctx, f: F) -> async_executor::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // async-executor's Task cancels on drop; it is always awaited here.
        ex.spawn(f)
    }

    async fn gather_all<T: Send + 'static>(handles: Vec<async_executor::Task<T>>) -> Vec<T> {
        join_all(handles).await
    }

    fn completed<T: Send + 'static>(
        handles: Vec<async_executor::Task<T>>,
    ) -> impl Stream<Item = T> + Send {
        handles.into_iter().collect::<FuturesUnordered<_>>()
    }
}

// ---------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------

trait Workload {
    const NAME: &'static str;
    /// Tasks per iteration (the group's throughput).
    const TASKS: usize;
    /// One iteration, awaited on the bench thread; must verify its own
    /// result.
    async fn iteration<R: CombRt>(rt: &R);
}

/// From inside a task, spawn 100 000 tasks returning their index and gather
/// the results in spawn order.
struct Gather100k;

impl Workload for Gather100k {
    const NAME: &'static str = "gather_100k";
    const TASKS: usize = 100_000;

    async fn iteration<R: CombRt>(rt: &R) {
        let ctx = rt.ctx();
        let values = rt
            .spawn_remote(async move {
                let handles: Vec<_> = (0..Self::TASKS)
                    .map(|i| R::spawn_handle(&ctx, async move { i }))
                    .collect();
                R::gather_all(handles).await
            })
            .await;
        assert_eq!(values.len(), Self::TASKS);
        assert!(
            values.iter().enumerate().all(|(i, &v)| i == v),
            "gather out of order"
        );
    }
}

/// From inside a task, spawn 10 000 tasks (task `i` yields `i % 3` times, then
/// returns `i`) and sum the results in completion order.
struct AsCompleted10k;

impl Workload for AsCompleted10k {
    const NAME: &'static str = "as_completed_10k";
    const TASKS: usize = 10_000;

    async fn iteration<R: CombRt>(rt: &R) {
        let ctx = rt.ctx();
        let (sum, count) = rt
            .spawn_remote(async move {
                let handles: Vec<_> = (0..Self::TASKS)
                    .map(|i| {
                        R::spawn_handle(&ctx, async move {
                            for _ in 0..i % 3 {
                                R::yield_now().await;
                            }
                            i
                        })
                    })
                    .collect();
                let mut results = std::pin::pin!(R::completed(handles));
                let (mut sum, mut count) = (0usize, 0usize);
                while let Some(v) = results.next().await {
                    sum += v;
                    count += 1;
                }
                (sum, count)
            })
            .await;
        assert_eq!(count, Self::TASKS);
        assert_eq!(sum, Self::TASKS * (Self::TASKS - 1) / 2);
    }
}

/// How `eager_gather_100k` spawns its tasks: one row per implementation.
trait Spawner: 'static {
    type R: CombRt;
    /// The bench id's last part.
    const ID: &'static str;

    fn spawn<F>(f: F) -> <Self::R as CombRt>::Handle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Every task's output, in spawn order.
    fn wait_all<T: Send + 'static>(
        handles: Vec<<Self::R as CombRt>::Handle<T>>,
    ) -> impl Future<Output = Vec<T>> + Send;
}

/// weft: `weft::spawn_eager` (`EAGER`) or `weft::spawn`, then `weft::gather`
/// (the plain row is the same code as `gather_100k/weft`).
struct WeftSpawn<const EAGER: bool>;

impl<const EAGER: bool> Spawner for WeftSpawn<EAGER> {
    type R = Weft;
    const ID: &'static str = if EAGER { "weft_eager" } else { "weft" };

    fn spawn<F>(f: F) -> weft::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if EAGER {
            weft::spawn_eager(f)
        } else {
            weft::spawn(f)
        }
    }

    fn wait_all<T: Send + 'static>(
        handles: Vec<weft::Task<T>>,
    ) -> impl Future<Output = Vec<T>> + Send {
        Weft::gather_all(handles)
    }
}

/// `tokio::spawn`, then each handle awaited in order.
struct TokioSpawn;

impl Spawner for TokioSpawn {
    type R = Tokio;
    const ID: &'static str = "tokio";

    fn spawn<F>(f: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(f)
    }

    async fn wait_all<T: Send + 'static>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            out.push(h.await.expect("tokio task failed"));
        }
        out
    }
}

/// One iteration of `eager_gather_100k` spawned by `S`.
async fn eager_gather_iteration<S: Spawner>(rt: &S::R) {
    const TASKS: usize = 100_000;
    let values = rt
        .spawn_remote(async move {
            let handles: Vec<_> = (0..TASKS).map(|i| S::spawn(async move { i })).collect();
            S::wait_all(handles).await
        })
        .await;
    assert_eq!(values.len(), TASKS);
    assert!(
        values.iter().enumerate().all(|(i, &v)| i == v),
        "gather out of order"
    );
}

fn bench_eager_row<S: Spawner>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
) {
    bench_lazily_with::<S::R>(
        group,
        S::ID,
        |rt| rt.block_on(eager_gather_iteration::<S>(rt)),
        |rt, b| rt.iter_async(b, || eager_gather_iteration::<S>(rt)),
    );
}

// ---------------------------------------------------------------------------
// Criterion wiring
// ---------------------------------------------------------------------------

fn bench_one<W: Workload, R: CombRt>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
) {
    // Built lazily, as in `io.rs`: a bench function a filter leaves out builds
    // nothing (tokio's untimed `gather_100k` check alone takes seconds).
    bench_lazily_with::<R>(
        group,
        R::NAME,
        |rt| rt.block_on(W::iteration(rt)),
        |rt, b| rt.iter_async(b, || W::iteration(rt)),
    );
}

fn bench_workload<W: Workload>(c: &mut Criterion) {
    let mut group = c.benchmark_group(W::NAME);
    // Flat sampling: bounded iteration count even if one runtime is slow.
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(W::TASKS as u64));
    bench_one::<W, Weft>(&mut group);
    bench_one::<W, Tokio>(&mut group);
    bench_one::<W, AsyncExecutor>(&mut group);
    group.finish();
}

fn gather_100k(c: &mut Criterion) {
    bench_workload::<Gather100k>(c);
}

fn as_completed_10k(c: &mut Criterion) {
    bench_workload::<AsCompleted10k>(c);
}

fn eager_gather_100k(c: &mut Criterion) {
    let mut group = c.benchmark_group("eager_gather_100k");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(100_000));
    bench_eager_row::<WeftSpawn<true>>(&mut group);
    bench_eager_row::<WeftSpawn<false>>(&mut group);
    bench_eager_row::<TokioSpawn>(&mut group);
    group.finish();
}

criterion_group! {
    name = combinators;
    config = weft_benches::criterion_config();
    targets = gather_100k, as_completed_10k, eager_gather_100k
}
criterion_main!(combinators);
