//! Scheduler benchmarks: the same workloads on weft, tokio (multi-thread)
//! and async-executor, in one run, so the numbers can be compared side by side.
//!
//! The workload shapes follow tokio's `benches/rt_multi_threaded.rs`.
//! Every bench function id is `<bench>/<runtime>`; `benches/table.py` turns
//! criterion's output into a markdown table.
//!
//! Worker count: `WEFT_BENCH_WORKERS` (default: `available_parallelism`).
//!
//! Each runtime is built once per bench function, outside the timed loop, and
//! dropped before the next runtime is built, so idle workers of one runtime
//! never compete with another runtime's measurement. The runtime adapters
//! (`Rt`) live in the crate's lib (`benches/src/lib.rs`), shared with `io.rs`.
//!
//! The workloads that run one task from the bench thread ([`TaskWorkload`])
//! are timed with criterion's `to_async` on each runtime's own `block_on`
//! (weft's through the facade feature `criterion`); the two that wait on the
//! bench thread outside any runtime (`spawn_many_remote`, `yield_many`) keep
//! `b.iter`.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use criterion::{criterion_group, criterion_main, Bencher, Criterion, SamplingMode};
use tokio::sync::oneshot;
use weft_benches::{workers, AsyncExecutor, Rt, Tokio, Weft};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Counts down from `n`; the task that brings it to zero fires a oneshot.
/// `tokio::sync::oneshot` is runtime-agnostic, so it is used on all three.
struct Countdown {
    rem: AtomicUsize,
    done: Mutex<Option<oneshot::Sender<()>>>,
}

impl Countdown {
    fn new(n: usize) -> (Arc<Self>, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let cd = Arc::new(Countdown {
            rem: AtomicUsize::new(n),
            done: Mutex::new(Some(tx)),
        });
        (cd, rx)
    }

    fn tick(&self) {
        if self.rem.fetch_sub(1, Ordering::AcqRel) == 1 {
            let tx = self
                .done
                .lock()
                .unwrap()
                .take()
                .expect("countdown fired twice");
            tx.send(()).expect("countdown receiver gone");
        }
    }

    fn remaining(&self) -> usize {
        self.rem.load(Ordering::Acquire)
    }
}

/// Wait on the bench thread for a countdown, independent of any runtime.
fn wait_outside(rx: oneshot::Receiver<()>) {
    futures_lite::future::block_on(rx).expect("countdown sender dropped");
}

// ---------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------

trait Workload {
    const NAME: &'static str;
    /// One iteration; must verify its own result.
    fn run<R: Rt>(rt: &R);
    /// Times iterations with `b`: by default `b.iter` over [`run`](Self::run),
    /// for the workloads that wait on the bench thread outside any runtime
    /// (`wait_outside`), which `to_async` would move into the runtime's
    /// `block_on`.
    fn time<R: Rt>(rt: &R, b: &mut Bencher<'_>) {
        b.iter(|| Self::run(rt))
    }
}

/// A workload whose iteration is one future the bench thread awaits on the
/// runtime (a task spawned from the bench thread, then checked): timed with
/// criterion's `to_async` on each runtime's own `block_on` ([`Rt::iter_async`]),
/// so weft is benched the way its users bench async code. Each iteration does
/// the same work as `block_on(iteration)` would; the bench thread enters
/// `block_on` once per sample instead of once per iteration, on all three
/// runtimes alike.
trait TaskWorkload {
    const NAME: &'static str;
    /// One iteration; must verify its own result.
    async fn iteration<R: Rt>(rt: &R);
}

/// A [`TaskWorkload`] as a [`Workload`].
struct InTask<W>(PhantomData<W>);

impl<W: TaskWorkload> Workload for InTask<W> {
    const NAME: &'static str = W::NAME;

    fn run<R: Rt>(rt: &R) {
        rt.block_on(W::iteration(rt))
    }

    fn time<R: Rt>(rt: &R, b: &mut Bencher<'_>) {
        rt.iter_async(b, || W::iteration(rt))
    }
}

/// From inside a task, spawn 10_000 empty tasks and await every handle.
struct SpawnManyLocal;

impl TaskWorkload for SpawnManyLocal {
    const NAME: &'static str = "spawn_many_local";

    async fn iteration<R: Rt>(rt: &R) {
        const NUM_SPAWN: usize = 10_000;
        let ctx = rt.ctx();
        let ran = Arc::new(AtomicUsize::new(0));
        let ran2 = ran.clone();
        let sum = rt
            .spawn_remote(async move {
                let mut handles = Vec::with_capacity(NUM_SPAWN);
                for _ in 0..NUM_SPAWN {
                    let ran = ran2.clone();
                    handles.push(R::spawn(&ctx, async move {
                        ran.fetch_add(1, Ordering::Relaxed);
                        1usize
                    }));
                }
                let mut sum = 0;
                for h in handles {
                    sum += h.await;
                }
                sum
            })
            .await;
        assert_eq!(sum, NUM_SPAWN);
        assert_eq!(ran.load(Ordering::Relaxed), NUM_SPAWN);
    }
}

/// The per-task cost bar: on ONE worker, from inside a task, spawn
/// 100_000 empty tasks and await each handle. Reported per task (Throughput).
struct SpawnCost;

impl SpawnCost {
    const N: usize = 100_000;
}

impl TaskWorkload for SpawnCost {
    const NAME: &'static str = "spawn_cost_1_worker";

    async fn iteration<R: Rt>(rt: &R) {
        let ctx = rt.ctx();
        let sum = rt
            .spawn_remote(async move {
                let mut handles = Vec::with_capacity(SpawnCost::N);
                for _ in 0..SpawnCost::N {
                    handles.push(R::spawn(&ctx, async { 1usize }));
                }
                let mut sum = 0;
                for h in handles {
                    sum += h.await;
                }
                sum
            })
            .await;
        assert_eq!(sum, SpawnCost::N);
    }
}

/// The bar's literal form: on ONE worker, from inside a task, spawn 100_000
/// detached empty tasks (each bumps a static counter: no handle, no join),
/// then yield until all have run. Reported per task.
struct SpawnDetachedCost;

static DETACHED_RAN: AtomicUsize = AtomicUsize::new(0);

impl TaskWorkload for SpawnDetachedCost {
    const NAME: &'static str = "spawn_detached_cost_1_worker";

    async fn iteration<R: Rt>(rt: &R) {
        let ctx = rt.ctx();
        DETACHED_RAN.store(0, Ordering::SeqCst);
        rt.spawn_remote(async move {
            for _ in 0..SpawnCost::N {
                R::spawn_detached(&ctx, async {
                    DETACHED_RAN.fetch_add(1, Ordering::Relaxed);
                });
            }
            while DETACHED_RAN.load(Ordering::Relaxed) < SpawnCost::N {
                R::yield_now().await;
            }
        })
        .await;
        assert_eq!(DETACHED_RAN.load(Ordering::SeqCst), SpawnCost::N);
    }
}

/// From the bench thread, spawn 10_000 empty tasks and wait until all ran.
struct SpawnManyRemote;

impl Workload for SpawnManyRemote {
    const NAME: &'static str = "spawn_many_remote";

    fn run<R: Rt>(rt: &R) {
        const NUM_SPAWN: usize = 10_000;
        let (cd, rx) = Countdown::new(NUM_SPAWN);
        for _ in 0..NUM_SPAWN {
            let cd = cd.clone();
            rt.spawn_remote_detached(async move { cd.tick() });
        }
        wait_outside(rx);
        assert_eq!(cd.remaining(), 0);
    }
}

/// A chain of 1_000 tasks, each spawning the next; the last one signals.
struct ChainedSpawn;

impl TaskWorkload for ChainedSpawn {
    const NAME: &'static str = "chained_spawn";

    async fn iteration<R: Rt>(rt: &R) {
        const ITER: usize = 1_000;

        fn link<R: Rt>(ctx: R::Ctx, hops: Arc<AtomicUsize>, done: oneshot::Sender<()>, n: usize) {
            hops.fetch_add(1, Ordering::Relaxed);
            if n == 0 {
                done.send(()).expect("chain receiver gone");
            } else {
                let next = ctx.clone();
                R::spawn_detached(&ctx, async move { link::<R>(next, hops, done, n - 1) });
            }
        }

        let ctx = rt.ctx();
        let hops = Arc::new(AtomicUsize::new(0));
        let hops2 = hops.clone();
        rt.spawn_remote(async move {
            let (tx, rx) = oneshot::channel();
            let start = ctx.clone();
            R::spawn_detached(&ctx, async move { link::<R>(start, hops2, tx, ITER) });
            rx.await.expect("chain dropped");
        })
        .await;
        // ITER spawned links plus the final one (n == 0).
        assert_eq!(hops.load(Ordering::Relaxed), ITER + 1);
    }
}

/// 200 tasks (spawned from the bench thread), each yielding 1_000 times.
struct YieldMany;

impl Workload for YieldMany {
    const NAME: &'static str = "yield_many";

    fn run<R: Rt>(rt: &R) {
        const TASKS: usize = 200;
        const NUM_YIELD: usize = 1_000;
        let yields = Arc::new(AtomicUsize::new(0));
        let (cd, rx) = Countdown::new(TASKS);
        for _ in 0..TASKS {
            let cd = cd.clone();
            let yields = yields.clone();
            rt.spawn_remote_detached(async move {
                for _ in 0..NUM_YIELD {
                    R::yield_now().await;
                }
                yields.fetch_add(NUM_YIELD, Ordering::Relaxed);
                cd.tick();
            });
        }
        wait_outside(rx);
        assert_eq!(yields.load(Ordering::Relaxed), TASKS * NUM_YIELD);
    }
}

/// 1_000 ping-pong pairs: each "ping" task spawns a "pong" task, sends it a
/// oneshot and awaits the reply on a second oneshot (tokio's ping_pong shape).
struct PingPong;

impl TaskWorkload for PingPong {
    const NAME: &'static str = "ping_pong";

    async fn iteration<R: Rt>(rt: &R) {
        const NUM_PINGS: usize = 1_000;
        let ctx = rt.ctx();
        let pongs = Arc::new(AtomicUsize::new(0));
        let pongs2 = pongs.clone();
        rt.spawn_remote(async move {
            let (cd, rx) = Countdown::new(NUM_PINGS);
            for _ in 0..NUM_PINGS {
                let cd = cd.clone();
                let pongs = pongs2.clone();
                let inner = ctx.clone();
                R::spawn_detached(&ctx, async move {
                    let (tx1, rx1) = oneshot::channel::<()>();
                    let (tx2, rx2) = oneshot::channel::<()>();
                    R::spawn_detached(&inner, async move {
                        rx1.await.expect("ping dropped");
                        pongs.fetch_add(1, Ordering::Relaxed);
                        tx2.send(()).expect("ping gone");
                    });
                    tx1.send(()).expect("pong gone");
                    rx2.await.expect("pong dropped");
                    cd.tick();
                });
            }
            rx.await.expect("countdown dropped");
        })
        .await;
        assert_eq!(pongs.load(Ordering::Relaxed), NUM_PINGS);
    }
}

/// Cancellation's per-task cost, on ONE worker: from inside a task, spawn
/// `SpawnCost::N` tasks that stay pending, let them start, cancel each and
/// await it (weft `cancel`, tokio `abort`, async-executor `Task::cancel`).
/// Reported per task (Throughput).
struct CancelCost;

impl TaskWorkload for CancelCost {
    const NAME: &'static str = "cancel_cost_1_worker";

    async fn iteration<R: Rt>(rt: &R) {
        let ctx = rt.ctx();
        let cancelled = rt
            .spawn_remote(async move { R::cancel_many(&ctx, SpawnCost::N).await })
            .await;
        assert_eq!(cancelled, SpawnCost::N);
    }
}

/// Recursive spawn + join: a binary tree of depth 12 where every node spawns
/// two children and awaits both handles (8_191 tasks).
struct SpawnTree;

impl TaskWorkload for SpawnTree {
    const NAME: &'static str = "spawn_tree";

    async fn iteration<R: Rt>(rt: &R) {
        const DEPTH: u32 = 12;

        fn node<R: Rt>(ctx: R::Ctx, depth: u32) -> Pin<Box<dyn Future<Output = usize> + Send>> {
            Box::pin(async move {
                if depth == 0 {
                    return 1;
                }
                let left = R::spawn(&ctx, node::<R>(ctx.clone(), depth - 1));
                let right = R::spawn(&ctx, node::<R>(ctx.clone(), depth - 1));
                1 + left.await + right.await
            })
        }

        let nodes = rt.spawn_remote(node::<R>(rt.ctx(), DEPTH)).await;
        assert_eq!(nodes, (1usize << (DEPTH + 1)) - 1);
    }
}

// ---------------------------------------------------------------------------
// Criterion wiring
// ---------------------------------------------------------------------------

fn bench_one<W: Workload, R: Rt>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
) {
    bench_one_with::<W, R>(group, workers());
}

fn bench_one_with<W: Workload, R: Rt>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    workers: usize,
) {
    let rt = R::build(workers);
    // Sanity run before timing: a broken runtime fails here, not mid-sample.
    W::run(&rt);
    group.bench_function(R::NAME, |b| W::time(&rt, b));
    drop(rt);
}

fn bench_workload<W: Workload>(c: &mut Criterion) {
    let mut group = c.benchmark_group(W::NAME);
    // Flat sampling: bounded iteration count even if one runtime is slow.
    group.sampling_mode(SamplingMode::Flat);
    bench_one::<W, Weft>(&mut group);
    bench_one::<W, Tokio>(&mut group);
    bench_one::<W, AsyncExecutor>(&mut group);
    group.finish();
}

/// A workload of `SpawnCost::N` tasks on one worker, reported per task.
fn bench_one_worker<W: Workload>(c: &mut Criterion) {
    let mut group = c.benchmark_group(W::NAME);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(criterion::Throughput::Elements(SpawnCost::N as u64));
    bench_one_with::<W, Weft>(&mut group, 1);
    bench_one_with::<W, Tokio>(&mut group, 1);
    bench_one_with::<W, AsyncExecutor>(&mut group, 1);
    group.finish();
}

fn spawn_cost(c: &mut Criterion) {
    bench_one_worker::<InTask<SpawnCost>>(c);
}

fn spawn_detached_cost(c: &mut Criterion) {
    bench_one_worker::<InTask<SpawnDetachedCost>>(c);
}

fn cancel_cost(c: &mut Criterion) {
    bench_one_worker::<InTask<CancelCost>>(c);
}

fn spawn_many_local(c: &mut Criterion) {
    bench_workload::<InTask<SpawnManyLocal>>(c);
}

fn spawn_many_remote(c: &mut Criterion) {
    bench_workload::<SpawnManyRemote>(c);
}

fn chained_spawn(c: &mut Criterion) {
    bench_workload::<InTask<ChainedSpawn>>(c);
}

fn yield_many(c: &mut Criterion) {
    bench_workload::<YieldMany>(c);
}

fn ping_pong(c: &mut Criterion) {
    bench_workload::<InTask<PingPong>>(c);
}

fn spawn_tree(c: &mut Criterion) {
    bench_workload::<InTask<SpawnTree>>(c);
}

criterion_group! {
    name = runtime;
    config = weft_benches::criterion_config();
    targets = spawn_cost, spawn_detached_cost, cancel_cost, spawn_many_local, spawn_many_remote, chained_spawn, yield_many, ping_pong, spawn_tree
}
criterion_main!(runtime);
