//! The `semaphore_contended`, `queue_backpressure`, `mutex_uncontended`,
//! `mutex_contended` and `queue_thread_to_task` benches' iteration
//! (`--bench sync`) for weft and a peer, run `ITERS` times on one runtime
//! of 2 workers, for instruction counts under callgrind (deterministic
//! where the wall clock of a shared machine is not) and system-call counts
//! under `perf stat`:
//!
//! ```sh
//! cargo build --release -p weft-benches --example sync_ops
//! valgrind --tool=callgrind target/release/examples/sync_ops semaphore weft 4
//! valgrind --tool=callgrind target/release/examples/sync_ops semaphore weft 12
//! ```
//!
//! The difference of two runs' totals over the difference of their `ITERS`,
//! divided by the operations of an iteration (8 000 acquire+release pairs,
//! 10 000 or, contended, 8 000 lock+unlock pairs, or 10 000 items), is the
//! instructions per operation with the runtime's start and stop taken out.
//! Arguments: the workload (`semaphore`: 8 tasks × 1 000 acquire, yield,
//! release on 2 permits; `backpressure`: 4 producer tasks, the driver gets,
//! capacity 8; `mutex`: one task, 10 000 lock, increment, unlock;
//! `mutex_contended`: 8 tasks × 1 000 of those on one mutex;
//! `thread_to_task`: this thread puts 10 000 items with the blocking put,
//! capacity 128, one task gets them), the peer (`weft`, `tokio`, or `async`
//! for async-lock / async-channel on async-executor) and `ITERS` (default
//! 8). The peer may also be `RT/LIB`, one library's primitives on
//! another's runtime (`weft/tokio`: tokio's channel, semaphore or mutex on
//! weft's runtime), which tells the primitive's cost from the runtime's
//! (docs/benchmarks.md, issue 14 "Session 15" and "Against the bar").
//! callgrind runs one thread at a time, so the counts are path lengths, not
//! the cost of two workers writing one word at once.
//!
//! A fourth argument, `windows`, prints to stderr, for every 100
//! iterations, the mean wall time of one and the process's CPU time per
//! iteration (two busy workers show as twice the wall time): the wall-clock
//! side, where a two-worker runtime can sit in one state for seconds at a
//! time (`backpressure` on weft: docs/benchmarks.md, issue 14 "Session 14");
//! on weft's runtime it ends with the task steps, stolen tasks and parks
//! per iteration (`Rt::scheduler_counts`):
//!
//! ```sh
//! target/release/examples/sync_ops backpressure weft 1000 windows
//! target/release/examples/sync_ops backpressure tokio 1000 windows
//! target/release/examples/sync_ops backpressure tokio/weft 1000 windows   # weft's queue on tokio
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use weft_benches::{process_cpu_time, run_in_task, AsyncExecutor, Rt, Tokio, Weft};

const TASKS: usize = 8;
const PER_TASK: usize = 1_000;
const PERMITS: usize = 2;
const ITEMS: u64 = 10_000;
/// Iterations per line of the `windows` output.
const WINDOW: usize = 100;
const PRODUCERS: u64 = 4;
const CAPACITY: usize = 8;
/// `queue_thread_to_task`'s capacity.
const THREAD_CAPACITY: usize = 128;

/// One library's semaphore, bounded queue and mutex, whichever runtime runs
/// them.
trait Prims: 'static {
    type Sem: Send + Sync + 'static;
    fn sem(permits: usize) -> Self::Sem;
    /// Acquire, yield (`R`'s yield), release.
    fn acquire_yield_release<R: Rt>(s: &Self::Sem) -> impl Future<Output = ()> + Send;
    type Tx: Clone + Send + Sync + 'static;
    type Rx: Send + 'static;
    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx);
    fn send(tx: &Self::Tx, v: u64) -> impl Future<Output = ()> + Send;
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = u64> + Send;
    /// The blocking put of a plain thread.
    fn send_blocking(tx: &Self::Tx, v: u64);
    type Mutex: Send + Sync + 'static;
    fn mutex() -> Self::Mutex;
    /// Lock, add one, unlock; returns the value it wrote.
    fn increment(m: &Self::Mutex) -> impl Future<Output = u64> + Send;
}

/// weft's `sync` and `queue`.
struct WeftPrims;

impl Prims for WeftPrims {
    type Sem = weft::sync::Semaphore;
    fn sem(permits: usize) -> Self::Sem {
        weft::sync::Semaphore::new(permits)
    }
    async fn acquire_yield_release<R: Rt>(s: &Self::Sem) {
        let permit = s.acquire().await;
        R::yield_now().await;
        drop(permit);
    }
    type Tx = weft::queue::Queue<u64>;
    type Rx = weft::queue::Queue<u64>;
    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        let q = weft::queue::Queue::new(capacity);
        (q.clone(), q)
    }
    async fn send(tx: &Self::Tx, v: u64) {
        tx.put(v).await.expect("not shut down");
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        rx.get().await.expect("not shut down")
    }
    fn send_blocking(tx: &Self::Tx, v: u64) {
        tx.put_blocking(v, None).expect("not shut down");
    }
    type Mutex = weft::sync::Mutex<u64>;
    fn mutex() -> Self::Mutex {
        weft::sync::Mutex::new(0)
    }
    async fn increment(m: &Self::Mutex) -> u64 {
        let mut g = m.lock().await;
        *g += 1;
        *g
    }
}

/// tokio's `sync` (its bounded `mpsc` channel as the queue).
struct TokioPrims;

impl Prims for TokioPrims {
    type Sem = tokio::sync::Semaphore;
    fn sem(permits: usize) -> Self::Sem {
        tokio::sync::Semaphore::new(permits)
    }
    async fn acquire_yield_release<R: Rt>(s: &Self::Sem) {
        let permit = s.acquire().await.expect("not closed");
        R::yield_now().await;
        drop(permit);
    }
    type Tx = tokio::sync::mpsc::Sender<u64>;
    type Rx = tokio::sync::mpsc::Receiver<u64>;
    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        tokio::sync::mpsc::channel(capacity)
    }
    async fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).await.expect("not closed");
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        rx.recv().await.expect("not closed")
    }
    fn send_blocking(tx: &Self::Tx, v: u64) {
        tx.blocking_send(v).expect("not closed");
    }
    type Mutex = tokio::sync::Mutex<u64>;
    fn mutex() -> Self::Mutex {
        tokio::sync::Mutex::new(0)
    }
    async fn increment(m: &Self::Mutex) -> u64 {
        let mut g = m.lock().await;
        *g += 1;
        *g
    }
}

/// async-lock and async-channel.
struct AsyncPrims;

impl Prims for AsyncPrims {
    type Sem = async_lock::Semaphore;
    fn sem(permits: usize) -> Self::Sem {
        async_lock::Semaphore::new(permits)
    }
    async fn acquire_yield_release<R: Rt>(s: &Self::Sem) {
        let permit = s.acquire().await;
        R::yield_now().await;
        drop(permit);
    }
    type Tx = async_channel::Sender<u64>;
    type Rx = async_channel::Receiver<u64>;
    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        async_channel::bounded(capacity)
    }
    async fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).await.expect("not closed");
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        rx.recv().await.expect("not closed")
    }
    fn send_blocking(tx: &Self::Tx, v: u64) {
        tx.send_blocking(v).expect("not closed");
    }
    type Mutex = async_lock::Mutex<u64>;
    fn mutex() -> Self::Mutex {
        async_lock::Mutex::new(0)
    }
    async fn increment(m: &Self::Mutex) -> u64 {
        let mut g = m.lock().await;
        *g += 1;
        *g
    }
}

/// One iteration of `mutex_uncontended`: the counter's last value.
fn mutex<R: Rt, P: Prims>(rt: &R) -> u64 {
    run_in_task(rt, async {
        let m = P::mutex();
        let mut last = 0;
        for _ in 0..ITEMS {
            last = P::increment(&m).await;
        }
        last
    })
}

/// Spawns `TASKS` tasks on `R`'s workers, each running `task(shared)` on a
/// clone of `shared`, and returns their outputs in spawn order: the shape of
/// `semaphore_contended` and `mutex_contended`.
fn on_tasks<R, S, T, Fut>(rt: &R, shared: S, task: fn(S) -> Fut) -> Vec<T>
where
    R: Rt,
    S: Clone + Send + 'static,
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let ctx = rt.ctx();
    run_in_task(rt, async move {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| R::spawn(&ctx, task(shared.clone())))
            .collect();
        let mut outputs = Vec::with_capacity(TASKS);
        for t in tasks {
            outputs.push(t.await);
        }
        outputs
    })
}

/// One iteration of `mutex_contended`: the counter's last value.
fn mutex_contended<R: Rt, P: Prims>(rt: &R) -> u64 {
    let outputs = on_tasks(rt, Arc::new(P::mutex()), |m| async move {
        let mut last = 0;
        for _ in 0..PER_TASK {
            last = P::increment(&m).await;
        }
        last
    });
    outputs.into_iter().max().unwrap_or(0)
}

/// One iteration of `queue_thread_to_task`: the sum of the items.
fn thread_to_task<R: Rt, P: Prims>(rt: &R) -> u64 {
    let (tx, mut rx) = P::bounded(THREAD_CAPACITY);
    let consumer = rt.spawn_remote(async move {
        let mut sum = 0;
        for _ in 0..ITEMS {
            sum += P::recv(&mut rx).await;
        }
        sum
    });
    for i in 0..ITEMS {
        P::send_blocking(&tx, i);
    }
    rt.block_on(consumer)
}

/// One iteration of `queue_backpressure`: the sum of the items.
fn backpressure<R: Rt, P: Prims>(rt: &R) -> u64 {
    let ctx = rt.ctx();
    run_in_task(rt, async move {
        let (tx, mut rx) = P::bounded(CAPACITY);
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let tx = tx.clone();
                R::spawn(&ctx, async move {
                    for i in (p..ITEMS).step_by(PRODUCERS as usize) {
                        P::send(&tx, i).await;
                    }
                })
            })
            .collect();
        drop(tx);
        let mut sum = 0;
        for _ in 0..ITEMS {
            sum += P::recv(&mut rx).await;
        }
        for p in producers {
            p.await;
        }
        sum
    })
}

/// One iteration of `semaphore_contended`: the permits taken.
fn semaphore<R: Rt, P: Prims>(rt: &R) -> usize {
    let outputs = on_tasks(rt, Arc::new(P::sem(PERMITS)), |s| async move {
        for _ in 0..PER_TASK {
            P::acquire_yield_release::<R>(&s).await;
        }
        PER_TASK
    });
    outputs.into_iter().sum()
}

fn run<R: Rt, P: Prims>(workload: &str, iters: usize, windows: bool) {
    let rt = R::build(2);
    let mut window = (Instant::now(), process_cpu_time());
    for i in 0..iters {
        if windows && i > 0 && i % WINDOW == 0 {
            let now = (Instant::now(), process_cpu_time());
            eprintln!(
                "{i:>6}: {:>8.3} ms wall, {:>8.3} ms CPU per iteration",
                (now.0 - window.0).as_secs_f64() * 1e3 / WINDOW as f64,
                (now.1 - window.1).as_secs_f64() * 1e3 / WINDOW as f64,
            );
            window = now;
        }
        match workload {
            "semaphore" => assert_eq!(semaphore::<R, P>(&rt), TASKS * PER_TASK),
            "backpressure" => assert_eq!(backpressure::<R, P>(&rt), ITEMS * (ITEMS - 1) / 2),
            "mutex" => assert_eq!(mutex::<R, P>(&rt), ITEMS),
            "mutex_contended" => {
                assert_eq!(mutex_contended::<R, P>(&rt), (TASKS * PER_TASK) as u64)
            }
            "thread_to_task" => assert_eq!(thread_to_task::<R, P>(&rt), ITEMS * (ITEMS - 1) / 2),
            other => {
                panic!(
                    "unknown workload {other}: semaphore, backpressure, mutex, mutex_contended \
                     or thread_to_task"
                )
            }
        }
    }
    if let Some(c) = windows.then(|| rt.scheduler_counts()).flatten() {
        let per = |n: u64| n as f64 / iters as f64;
        eprintln!(
            "per iteration: {:.0} task steps, {:.1} stolen tasks, {:.2} parks",
            per(c.polls),
            per(c.stolen),
            per(c.parks)
        );
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args.next().unwrap_or_else(|| "semaphore".to_string());
    let peer = args.next().unwrap_or_else(|| "weft".to_string());
    let iters: usize = args.next().map_or(8, |s| s.parse().expect("a number"));
    let windows = args.next().is_some_and(|s| s == "windows");
    // `RT` or `RT/LIB`: a runtime, and the library whose primitives run on it
    // (by default its own).
    let (runtime, library) = peer.split_once('/').unwrap_or((&peer, &peer));
    match runtime {
        "weft" => run_on::<Weft>(library, &workload, iters, windows),
        "tokio" => run_on::<Tokio>(library, &workload, iters, windows),
        "async" => run_on::<AsyncExecutor>(library, &workload, iters, windows),
        other => panic!("unknown runtime {other}: weft, tokio or async"),
    }
}

/// [`run`] on runtime `R` with `library`'s primitives.
fn run_on<R: Rt>(library: &str, workload: &str, iters: usize, windows: bool) {
    match library {
        "weft" => run::<R, WeftPrims>(workload, iters, windows),
        "tokio" => run::<R, TokioPrims>(workload, iters, windows),
        "async" => run::<R, AsyncPrims>(workload, iters, windows),
        other => panic!("unknown library {other}: weft, tokio or async"),
    }
}
