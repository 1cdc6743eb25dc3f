//! Sync-bridge benchmarks: a plain (non-runtime) thread submits a future to
//! the runtime and blocks until its result, weft against what a tokio or
//! async-executor user writes for the same job, in one run, with the same
//! worker count (`WEFT_BENCH_WORKERS`, default `available_parallelism`).
//!
//! One round trip = submit a trivial future (it returns a `u64` computed from
//! the loop index) and block the calling thread until its value is back:
//!
//! * weft: `weft::run_coroutine_threadsafe(fut, &handle).result(None)` (a
//!   short spin on the done flag, a few `yield_now`s, then a condvar);
//! * tokio: `handle.spawn(fut)`, then `handle.block_on(join)` on the
//!   `JoinHandle`. `tokio::runtime::Handle::block_on` is what a tokio user
//!   calls from a plain thread (it enters the runtime context and parks the
//!   thread on its own parker until the handle's waker fires);
//! * async-executor: `ex.spawn(fut)`, then `futures_lite::future::block_on`
//!   on the `Task` (async-executor has no block_on of its own).
//!
//! Workloads:
//!
//! * `submit_wait_1thread`: one plain thread (the bench thread) does 1 000
//!   sequential round trips per iteration;
//! * `submit_wait_4threads`: 4 plain threads, started per iteration with
//!   `std::thread::scope`, each doing 2 000 sequential round trips at the
//!   same time (8 000 in all; a thread start is a few tens of µs against the
//!   milliseconds of its round trips).
//!
//! Both report time per round trip (`Throughput::Elements`). Every result is
//! checked against the value the calling thread computes itself.
//!
//! Each runtime is built lazily the first time its bench function runs
//! (so a filter that leaves one out builds nothing), checked with one untimed
//! iteration, and dropped before the next runtime is built. Bench ids are
//! `<bench>/<runtime>`, so `benches/table.py` prints them too.

use std::future::Future;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use weft_benches::{workers, AsyncExecutor, Rt, Tokio, Weft};

// ---------------------------------------------------------------------------
// Submit-and-wait per runtime
// ---------------------------------------------------------------------------

/// What a plain thread holds to submit work: the runtime's handle.
trait BridgeRt: Rt + Sync {
    type Submitter: Clone + Send + Sync + 'static;

    fn submitter(&self) -> Self::Submitter;

    /// Submit `f` from a plain thread and block this thread until its output.
    fn submit_wait<F>(s: &Self::Submitter, f: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
}

impl BridgeRt for Weft {
    type Submitter = weft::Handle;

    fn submitter(&self) -> weft::Handle {
        self.0.handle().clone()
    }

    fn submit_wait<F>(handle: &weft::Handle, f: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        weft::run_coroutine_threadsafe(f, handle)
            .result(None)
            .expect("weft bridge round trip failed")
    }
}

impl BridgeRt for Tokio {
    type Submitter = tokio::runtime::Handle;

    fn submitter(&self) -> tokio::runtime::Handle {
        self.0.handle().clone()
    }

    fn submit_wait<F>(handle: &tokio::runtime::Handle, f: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let join = handle.spawn(f);
        // The natural blocking wait from a plain thread in tokio.
        handle.block_on(join).expect("tokio task failed")
    }
}

impl BridgeRt for AsyncExecutor {
    type Submitter = <AsyncExecutor as Rt>::Ctx;

    fn submitter(&self) -> Self::Submitter {
        self.ctx()
    }

    fn submit_wait<F>(ex: &Self::Submitter, f: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // async-executor's Task cancels on drop; it is always awaited here.
        futures_lite::future::block_on(ex.spawn(f))
    }
}

// ---------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------

/// The value round trip `i` of thread `t` must bring back: cheap, but
/// different for every round trip, so a stale or mixed-up result fails.
fn expected(t: u64, i: u64) -> u64 {
    ((t << 32) | i).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i
}

/// `n` sequential round trips from the calling thread (thread number `t`),
/// each result checked.
fn round_trips<R: BridgeRt>(s: &R::Submitter, t: u64, n: u64) {
    for i in 0..n {
        let got = R::submit_wait(s, async move { expected(t, i) });
        assert_eq!(got, expected(t, i), "round trip {i} of thread {t}");
    }
}

trait Workload {
    const NAME: &'static str;
    /// Round trips per iteration (the group's throughput).
    const ROUND_TRIPS: u64;
    /// One iteration; must verify its own results.
    fn run<R: BridgeRt>(s: &R::Submitter);
}

/// One plain thread (the bench thread), 1 000 sequential round trips.
struct SubmitWait1Thread;

impl Workload for SubmitWait1Thread {
    const NAME: &'static str = "submit_wait_1thread";
    const ROUND_TRIPS: u64 = 1_000;

    fn run<R: BridgeRt>(s: &R::Submitter) {
        round_trips::<R>(s, 0, Self::ROUND_TRIPS);
    }
}

/// Four plain threads at once, 2 000 sequential round trips each.
struct SubmitWait4Threads;

impl SubmitWait4Threads {
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 2_000;
}

impl Workload for SubmitWait4Threads {
    const NAME: &'static str = "submit_wait_4threads";
    const ROUND_TRIPS: u64 = Self::THREADS * Self::PER_THREAD;

    fn run<R: BridgeRt>(s: &R::Submitter) {
        std::thread::scope(|scope| {
            let threads: Vec<_> = (0..Self::THREADS)
                .map(|t| scope.spawn(move || round_trips::<R>(s, t, Self::PER_THREAD)))
                .collect();
            for t in threads {
                // A failed check panics in the thread: propagate it.
                t.join().expect("submitting thread panicked");
            }
        });
    }
}

// ---------------------------------------------------------------------------
// Criterion wiring
// ---------------------------------------------------------------------------

fn bench_one<W: Workload, R: BridgeRt>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
) {
    // Built lazily, as in `io.rs` and `combinators.rs`: a bench function a
    // filter leaves out builds nothing.
    let mut rt: Option<(R, R::Submitter)> = None;
    group.bench_function(R::NAME, |b| {
        let (_, s) = rt.get_or_insert_with(|| {
            let rt = R::build(workers());
            let s = rt.submitter();
            // Sanity run before timing: a broken runtime fails here, not mid-sample.
            W::run::<R>(&s);
            (rt, s)
        });
        // `b.iter`, not `to_async`: what is measured is a plain thread
        // blocking on work it hands to the runtime (`ConcurrentFuture::result`,
        // tokio's `Handle::block_on`, `futures_lite` on a `Task`). Under
        // `to_async` the bench thread would already sit in a runtime's
        // `block_on`, and blocking there is the very misuse weft refuses.
        b.iter(|| W::run::<R>(s))
    });
    drop(rt);
}

fn bench_workload<W: Workload>(c: &mut Criterion) {
    let mut group = c.benchmark_group(W::NAME);
    // Flat sampling: bounded iteration count even if one runtime is slow.
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(W::ROUND_TRIPS));
    bench_one::<W, Weft>(&mut group);
    bench_one::<W, Tokio>(&mut group);
    bench_one::<W, AsyncExecutor>(&mut group);
    group.finish();
}

fn submit_wait_1thread(c: &mut Criterion) {
    bench_workload::<SubmitWait1Thread>(c);
}

fn submit_wait_4threads(c: &mut Criterion) {
    bench_workload::<SubmitWait4Threads>(c);
}

criterion_group! {
    name = bridge;
    config = weft_benches::criterion_config();
    targets = submit_wait_1thread, submit_wait_4threads
}
criterion_main!(bridge);
