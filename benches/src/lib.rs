//! Shared pieces of the weft benches (`benches/benches/*.rs`): the [`Rt`]
//! trait with its adapters for weft, tokio (multi-thread) and async-executor,
//! the worker count, [`run_in_task`], and the CPU-time clocks the examples
//! read ([`process_cpu_time`], [`thread_cpu_time`]).
//!
//! Each runtime is built once per bench function, outside the timed loop, and
//! dropped before the next runtime is built, so idle workers of one runtime
//! never compete with another runtime's measurement.

pub mod io;

use std::future::Future;
use std::sync::Arc;
use std::thread::JoinHandle;

use criterion::async_executor::AsyncExecutor as CriterionExecutor;
use criterion::Bencher;
use tokio::sync::oneshot;

// ---------------------------------------------------------------------------
// Runtime abstraction
// ---------------------------------------------------------------------------

/// The operations a workload needs, implemented once per runtime.
///
/// "Inside" spawns (`spawn`, `spawn_detached`) are only called from tasks
/// running on the runtime and use each runtime's idiomatic in-task spawn
/// (`weft::spawn`, `tokio::spawn`, the captured `Arc<Executor>`).
/// "Remote" spawns are called from the bench thread.
pub trait Rt: Sized + 'static {
    const NAME: &'static str;

    /// What a task has to carry to spawn more tasks (`()` where the runtime
    /// has an ambient, thread-local spawn).
    type Ctx: Clone + Send + Sync + 'static;

    fn build(workers: usize) -> Self;
    fn ctx(&self) -> Self::Ctx;

    /// Drive `f` to completion from the bench thread.
    fn block_on<F: Future>(&self, f: F) -> F::Output;

    /// Spawn from the bench (non-runtime) thread; the returned future
    /// resolves to the task's output.
    fn spawn_remote<F>(&self, f: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Spawn from the bench thread and forget the handle (the task keeps running).
    fn spawn_remote_detached<F>(&self, f: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// Spawn from inside a task on this runtime.
    fn spawn<F>(ctx: &Self::Ctx, f: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Spawn from inside a task on this runtime and forget the handle.
    fn spawn_detached<F>(ctx: &Self::Ctx, f: F)
    where
        F: Future<Output = ()> + Send + 'static;

    fn yield_now() -> impl Future<Output = ()> + Send;

    /// From inside a task: spawns `n` tasks that never end by themselves
    /// (each awaits a future that stays pending), yields once so they
    /// start, then cancels each with the runtime's own request (weft's
    /// `cancel`, tokio's `abort`, async-executor's `Task::cancel`) and awaits
    /// it. Returns how many ended cancelled.
    fn cancel_many(ctx: &Self::Ctx, n: usize) -> impl Future<Output = usize> + Send;

    /// Times `routine` with criterion's `to_async` on this runtime's own
    /// `block_on` (the same one [`Rt::block_on`] uses): the bench thread
    /// enters it once per sample and awaits `routine()` once per iteration.
    fn iter_async<Fut: Future>(&self, b: &mut Bencher<'_>, routine: impl FnMut() -> Fut);

    /// The scheduler's counters since the runtime was built, summed over its
    /// workers, where the runtime reports them (weft's `Handle::metrics`);
    /// `None` where it does not (tokio's need `--cfg tokio_unstable`).
    ///
    /// ```
    /// use weft_benches::{run_in_task, Rt, Tokio, Weft};
    ///
    /// let rt = Weft::build(2);
    /// run_in_task(&rt, async {});
    /// assert!(rt.scheduler_counts().unwrap().polls >= 1);
    /// assert_eq!(Tokio::build(2).scheduler_counts(), None);
    /// ```
    fn scheduler_counts(&self) -> Option<SchedulerCounts> {
        None
    }
}

/// Scheduler counters summed over a runtime's workers
/// ([`Rt::scheduler_counts`]).
///
/// ```
/// use weft_benches::{run_in_task, Rt, SchedulerCounts, Weft};
///
/// let rt = Weft::build(1);
/// run_in_task(&rt, async {});
/// let counts: SchedulerCounts = rt.scheduler_counts().unwrap();
/// assert_eq!(counts.stolen, 0); // a lone worker has nobody to steal from
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedulerCounts {
    /// Task steps run.
    pub polls: u64,
    /// Tasks taken from another worker.
    pub stolen: u64,
    /// Times a worker went to sleep for lack of work.
    pub parks: u64,
}

// ----- weft ----------------------------------------------------------------

pub struct Weft(pub weft::Runtime);

impl Rt for Weft {
    const NAME: &'static str = "weft";
    type Ctx = ();

    fn build(workers: usize) -> Self {
        Weft(
            weft::Builder::new()
                .workers(workers)
                .thread_name("weft-bench")
                .build()
                .expect("build weft runtime"),
        )
    }

    fn ctx(&self) -> Self::Ctx {}

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }

    fn spawn_remote<F>(&self, f: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = self.0.spawn(f);
        async move { task.await.expect("weft task failed") }
    }

    fn spawn_remote_detached<F>(&self, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.0.spawn(f).detach();
    }

    fn spawn<F>(_: &(), f: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = weft::spawn(f);
        async move { task.await.expect("weft task failed") }
    }

    fn spawn_detached<F>(_: &(), f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        weft::spawn(f).detach();
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        weft::yield_now()
    }

    async fn cancel_many(_: &(), n: usize) -> usize {
        let tasks: Vec<_> = (0..n)
            .map(|_| weft::spawn(std::future::pending::<()>()))
            .collect();
        weft::yield_now().await;
        for t in &tasks {
            t.cancel();
        }
        let mut cancelled = 0;
        for t in tasks {
            cancelled += usize::from(t.await.is_err_and(|e| e.is_cancelled()));
        }
        cancelled
    }

    fn iter_async<Fut: Future>(&self, b: &mut Bencher<'_>, routine: impl FnMut() -> Fut) {
        // weft's own impl (facade feature `criterion`).
        b.to_async(&self.0).iter(routine)
    }

    fn scheduler_counts(&self) -> Option<SchedulerCounts> {
        let m = self.0.handle().metrics();
        Some(
            m.per_worker
                .iter()
                .fold(SchedulerCounts::default(), |c, w| SchedulerCounts {
                    polls: c.polls + w.poll_count,
                    stolen: c.stolen + w.steal_count,
                    parks: c.parks + w.park_count,
                }),
        )
    }
}

// ----- tokio ---------------------------------------------------------------

pub struct Tokio(pub tokio::runtime::Runtime);

impl Rt for Tokio {
    const NAME: &'static str = "tokio";
    type Ctx = ();

    fn build(workers: usize) -> Self {
        Tokio(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .thread_name("tokio-bench")
                .enable_all()
                .build()
                .expect("build tokio runtime"),
        )
    }

    fn ctx(&self) -> Self::Ctx {}

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }

    fn spawn_remote<F>(&self, f: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = self.0.spawn(f);
        async move { task.await.expect("tokio task failed") }
    }

    fn spawn_remote_detached<F>(&self, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.0.spawn(f));
    }

    fn spawn<F>(_: &(), f: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = tokio::spawn(f);
        async move { task.await.expect("tokio task failed") }
    }

    fn spawn_detached<F>(_: &(), f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(tokio::spawn(f));
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    async fn cancel_many(_: &(), n: usize) -> usize {
        let tasks: Vec<_> = (0..n)
            .map(|_| tokio::spawn(std::future::pending::<()>()))
            .collect();
        tokio::task::yield_now().await;
        for t in &tasks {
            t.abort();
        }
        let mut cancelled = 0;
        for t in tasks {
            cancelled += usize::from(t.await.is_err_and(|e| e.is_cancelled()));
        }
        cancelled
    }

    fn iter_async<Fut: Future>(&self, b: &mut Bencher<'_>, routine: impl FnMut() -> Fut) {
        // criterion's own impl (its feature `async_tokio`).
        b.to_async(&self.0).iter(routine)
    }
}

// ----- async-executor ------------------------------------------------------

/// An `async_executor::Executor` run by `workers` threads, each in
/// `block_on(ex.run(shutdown))`.
///
/// [`Rt::build`] uses `futures_lite::future::block_on` (a plain parker: the
/// scheduler benches measure the executor alone).
/// [`AsyncExecutor::build_driving_io`] uses `async_io::block_on`, which lets an
/// idle runner drive async-io's reactor itself, as `smol` runs its executor;
/// with the plain parker every I/O event and timer would go through
/// async-io's fallback "async-io" thread first (an extra thread hop).
pub struct AsyncExecutor {
    ex: Arc<async_executor::Executor<'static>>,
    shutdown: Vec<oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl Drop for AsyncExecutor {
    fn drop(&mut self) {
        // Dropping the senders resolves every runner's shutdown future.
        self.shutdown.clear();
        for t in self.threads.drain(..) {
            t.join().expect("async-executor runner panicked");
        }
    }
}

/// Which `block_on` an [`AsyncExecutor`] runner thread sits in.
#[derive(Clone, Copy, Debug)]
enum RunnerBlockOn {
    FuturesLite,
    AsyncIo,
}

impl AsyncExecutor {
    /// `workers` runners in `async_io::block_on`: idle runners drive
    /// async-io's reactor (for the I/O and timer benches).
    pub fn build_driving_io(workers: usize) -> Self {
        Self::build_with(workers, RunnerBlockOn::AsyncIo)
    }

    fn build_with(workers: usize, block_on: RunnerBlockOn) -> Self {
        let ex = Arc::new(async_executor::Executor::new());
        let mut shutdown = Vec::with_capacity(workers);
        let mut threads = Vec::with_capacity(workers);
        for i in 0..workers {
            let (tx, rx) = oneshot::channel::<()>();
            shutdown.push(tx);
            let ex = ex.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("async-executor-bench-{i}"))
                    .spawn(move || {
                        let _ = match block_on {
                            RunnerBlockOn::FuturesLite => {
                                futures_lite::future::block_on(ex.run(rx))
                            }
                            RunnerBlockOn::AsyncIo => async_io::block_on(ex.run(rx)),
                        };
                    })
                    .expect("spawn async-executor runner"),
            );
        }
        AsyncExecutor {
            ex,
            shutdown,
            threads,
        }
    }
}

impl Rt for AsyncExecutor {
    const NAME: &'static str = "async-executor";
    type Ctx = Arc<async_executor::Executor<'static>>;

    fn build(workers: usize) -> Self {
        Self::build_with(workers, RunnerBlockOn::FuturesLite)
    }

    fn ctx(&self) -> Self::Ctx {
        self.ex.clone()
    }

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        futures_lite::future::block_on(f)
    }

    fn spawn_remote<F>(&self, f: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Self::spawn(&self.ex, f)
    }

    fn spawn_remote_detached<F>(&self, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        Self::spawn_detached(&self.ex, f)
    }

    fn spawn<F>(ex: &Self::Ctx, f: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // async-executor's Task cancels on drop; it is always awaited here.
        ex.spawn(f)
    }

    fn spawn_detached<F>(ex: &Self::Ctx, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        ex.spawn(f).detach();
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }

    async fn cancel_many(ex: &Self::Ctx, n: usize) -> usize {
        let tasks: Vec<_> = (0..n)
            .map(|_| ex.spawn(std::future::pending::<()>()))
            .collect();
        futures_lite::future::yield_now().await;
        // Its request and its wait are one call: `cancel().await` is
        // `None` when the task ended cancelled.
        let mut cancelled = 0;
        for t in tasks {
            cancelled += usize::from(t.cancel().await.is_none());
        }
        cancelled
    }

    fn iter_async<Fut: Future>(&self, b: &mut Bencher<'_>, routine: impl FnMut() -> Fut) {
        b.to_async(FuturesLiteBlockOn).iter(routine)
    }
}

/// criterion's executor for [`AsyncExecutor`]: the bench thread waits in
/// `futures_lite::future::block_on`, as [`Rt::block_on`] does for it
/// (async-executor has no `block_on` of its own, and criterion has no impl
/// for it).
#[derive(Clone, Copy, Debug)]
struct FuturesLiteBlockOn;

impl CriterionExecutor for FuturesLiteBlockOn {
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        futures_lite::future::block_on(future)
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The criterion settings of the scheduler, combinator and bridge benches:
/// 20 samples, 1 s warm-up, 3 s measurement (command-line flags still
/// override them). Prints the worker count once.
pub fn criterion_config() -> criterion::Criterion {
    eprintln!("weft-benches: {} worker thread(s) per runtime", workers());
    criterion::Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
}

/// Worker threads of every runtime: `WEFT_BENCH_WORKERS`, default
/// `std::thread::available_parallelism()`.
pub fn workers() -> usize {
    match std::env::var("WEFT_BENCH_WORKERS") {
        Ok(v) => v
            .trim()
            .parse()
            .ok()
            .filter(|&n: &usize| n > 0)
            .unwrap_or_else(|| panic!("WEFT_BENCH_WORKERS must be a positive integer, got {v:?}")),
        Err(_) => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

/// Benchmarks `run` on a runtime `R` as `group`'s function `id`. The runtime
/// is built (with [`workers()`] threads) the first time criterion runs the
/// function, so a function a filter leaves out builds nothing, and checked
/// with one untimed `run` (a broken runtime fails there, not mid-sample);
/// it is dropped before this returns, so the next runtime's measurement
/// never competes with its idle workers. `run` must verify its own result.
pub fn bench_lazily<R: Rt>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: &str,
    run: impl Fn(&R),
) {
    bench_lazily_with(group, id, &run, |rt, b| b.iter(|| run(rt)));
}

/// [`bench_lazily`] with the timing given: `check` is the untimed first
/// iteration, `time` times iterations with the bencher (for example through
/// [`Rt::iter_async`], criterion's `to_async`).
pub fn bench_lazily_with<R: Rt>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: &str,
    check: impl Fn(&R),
    time: impl Fn(&R, &mut Bencher<'_>),
) {
    let mut rt: Option<R> = None;
    group.bench_function(id, |b| {
        let rt = rt.get_or_insert_with(|| {
            let rt = R::build(workers());
            check(&rt);
            rt
        });
        time(rt, b)
    });
    drop(rt);
}

/// Run `body` as a task on the runtime and wait for its result from the bench thread.
pub fn run_in_task<R: Rt, T, F>(rt: &R, body: F) -> T
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let join = rt.spawn_remote(body);
    rt.block_on(join)
}

/// The CPU time `clock` (a CPU-time clock) has counted so far.
fn cpu_time(clock: libc::clockid_t) -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime({clock})");
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The CPU time the whole process (every thread) has used so far.
///
/// ```
/// let before = weft_benches::process_cpu_time();
/// let _busy: u64 = (0..100_000u64).sum();
/// assert!(weft_benches::process_cpu_time() >= before);
/// ```
pub fn process_cpu_time() -> std::time::Duration {
    cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// The CPU time the calling thread has used so far.
///
/// ```
/// let before = weft_benches::thread_cpu_time();
/// assert!(weft_benches::thread_cpu_time() >= before);
/// ```
pub fn thread_cpu_time() -> std::time::Duration {
    cpu_time(libc::CLOCK_THREAD_CPUTIME_ID)
}
