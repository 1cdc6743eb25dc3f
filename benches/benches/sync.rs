//! Sync-primitive and queue benchmarks (issue 14): `weft::sync` and
//! `weft::queue` on weft's runtime, against `tokio::sync` on tokio's
//! multi-thread runtime and async-lock / async-channel on async-executor, in
//! one run, with the same worker count (`WEFT_BENCH_WORKERS`, default
//! `available_parallelism`).
//!
//! The shapes follow tokio's `benches/sync_mpsc.rs` (producers spawned from
//! a driver task, the driver or a consumer task receiving), `sync_semaphore.rs`
//! and `sync_rwlock.rs` (acquire and release from tasks on a multi-thread
//! runtime, uncontended and contended), and `sync_notify.rs` (waiters parked
//! on the primitive and woken by its release). Each workload:
//!
//! * `mutex_uncontended`: one task locks, increments and unlocks a
//!   `Mutex<u64>` 10 000 times.
//! * `mutex_contended`: 8 tasks on the runtime's workers each lock,
//!   increment and unlock one shared `Mutex<u64>` 1 000 times.
//! * `semaphore_contended`: 8 tasks share a semaphore of 2 permits; each
//!   does 1 000 times: acquire, yield once while holding the permit, release.
//!   The yield keeps the permits held across a scheduling point, so most
//!   acquires find none free and wait in the semaphore's queue (without it,
//!   2 workers never hold more than 2 permits and no one ever waits).
//! * `rwlock_contended`: 8 tasks share one `RwLock<u64>`; each does 1 000
//!   times: every eighth a write lock and an increment, else a read lock and
//!   a read, yielding once while holding either (tokio's `sync_rwlock.rs`
//!   mixes held readers and a writer the same way), so readers overlap and
//!   the writers wait for them and make later readers wait (write-preferring
//!   in all three).
//! * `queue_1to1`: a producer task puts 10 000 items into a bounded queue of
//!   capacity 1 024; the driver task (the one that spawned it) gets them.
//! * `queue_4to4`: 4 producer tasks put 2 500 items each, 4 consumer tasks
//!   get 2 500 each, through one bounded queue of capacity 1 024.
//! * `queue_backpressure`: 4 producer tasks put 2 500 items each into a
//!   bounded queue of capacity 8; the driver task gets all 10 000 (the
//!   producers spend most of their time waiting for room: tokio's
//!   `contention/bounded_full` shape).
//! * `queue_thread_to_task`: the bench thread (a plain thread, not a
//!   worker) puts 10 000 items with the blocking put into a queue of capacity
//!   128; a consumer task on the runtime gets them.
//!
//! What each peer uses:
//!
//! | | weft | tokio | async-lock / async-channel |
//! |---|---|---|---|
//! | mutex | `weft::sync::Mutex` | `tokio::sync::Mutex` | `async_lock::Mutex` |
//! | semaphore | `weft::sync::Semaphore` | `tokio::sync::Semaphore` | `async_lock::Semaphore` |
//! | rwlock | `weft::sync::RwLock` | `tokio::sync::RwLock` | `async_lock::RwLock` |
//! | queue | `weft::queue::Queue` (`maxsize` = capacity) | `tokio::sync::mpsc::channel` | `async_channel::bounded` |
//! | blocking put | `put_blocking(item, None)` | `Sender::blocking_send` | `Sender::send_blocking` |
//!
//! tokio's mpsc channel has a single receiver, so in `queue_4to4` its four
//! consumers share it through an `Arc<tokio::sync::Mutex<Receiver>>`, which
//! is what a tokio user writes for several consumers; weft's queue and
//! async-channel's receiver are cloned.
//!
//! Bench ids are `<workload>/<peer>`, the peers named `weft`, `tokio` and
//! `async-lock` (lock and semaphore workloads) or `async-channel` (queue
//! workloads), so `benches/table.py` prints them beside the scheduler
//! benches. The timed iteration covers creating the primitive, spawning the
//! tasks and waiting for all of them (the body runs in one task on the
//! runtime, via `run_in_task`, except in `queue_thread_to_task`, whose
//! producer is the bench thread). Every iteration checks its result: the
//! counter's final value, the count of permits taken, the sum of the items
//! received. Each runtime is built the first time its bench function runs,
//! checked with one untimed iteration, and dropped before the next one is
//! built.

use std::future::Future;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use weft_benches::{bench_lazily, run_in_task, AsyncExecutor, Rt, Tokio, Weft};

// ---------------------------------------------------------------------------
// The primitives, per peer
// ---------------------------------------------------------------------------

/// The primitives a workload needs, implemented once per peer: each runtime
/// with the sync library its users reach for.
trait SyncRt: Rt {
    /// Bench id of this peer in the lock and semaphore workloads.
    const LOCK_NAME: &'static str;
    /// Bench id of this peer in the queue workloads.
    const QUEUE_NAME: &'static str;

    type Mutex: Send + Sync + 'static;
    fn mutex() -> Self::Mutex;
    /// Lock, add one, unlock.
    fn increment(m: &Self::Mutex) -> impl Future<Output = ()> + Send;
    /// The counter's value (nothing holds the lock).
    fn value(m: &Self::Mutex) -> u64;

    type Semaphore: Send + Sync + 'static;
    fn semaphore(permits: usize) -> Self::Semaphore;
    /// Acquire one permit, yield once holding it, release it.
    fn acquire_yield_release(s: &Self::Semaphore) -> impl Future<Output = ()> + Send;

    type RwLock: Send + Sync + 'static;
    fn rwlock() -> Self::RwLock;
    /// Read lock, yield once holding it, read, unlock.
    fn read_yield(l: &Self::RwLock) -> impl Future<Output = u64> + Send;
    /// Write lock, yield once holding it, add one, unlock.
    fn write_yield_increment(l: &Self::RwLock) -> impl Future<Output = ()> + Send;
    /// The counter's value (nothing holds the lock).
    fn rwlock_value(l: &Self::RwLock) -> u64;

    /// Producer end of a bounded queue.
    type Tx: Clone + Send + Sync + 'static;
    /// Consumer end, one consumer.
    type Rx: Send + 'static;
    /// Consumer end shared by several consumer tasks.
    type SharedRx: Clone + Send + Sync + 'static;
    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx);
    fn share(rx: Self::Rx) -> Self::SharedRx;
    fn send(tx: &Self::Tx, v: u64) -> impl Future<Output = ()> + Send;
    /// From a plain thread.
    fn send_blocking(tx: &Self::Tx, v: u64);
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = u64> + Send;
    fn recv_shared(rx: &Self::SharedRx) -> impl Future<Output = u64> + Send;
}

impl SyncRt for Weft {
    const LOCK_NAME: &'static str = "weft";
    const QUEUE_NAME: &'static str = "weft";

    type Mutex = weft::sync::Mutex<u64>;
    fn mutex() -> Self::Mutex {
        weft::sync::Mutex::new(0)
    }
    async fn increment(m: &Self::Mutex) {
        *m.lock().await += 1;
    }
    fn value(m: &Self::Mutex) -> u64 {
        *m.try_lock().expect("weft mutex still locked")
    }

    type Semaphore = weft::sync::Semaphore;
    fn semaphore(permits: usize) -> Self::Semaphore {
        weft::sync::Semaphore::new(permits)
    }
    async fn acquire_yield_release(s: &Self::Semaphore) {
        let permit = s.acquire().await;
        weft::yield_now().await;
        drop(permit);
    }

    type RwLock = weft::sync::RwLock<u64>;
    fn rwlock() -> Self::RwLock {
        weft::sync::RwLock::new(0)
    }
    async fn read_yield(l: &Self::RwLock) -> u64 {
        let guard = l.read().await;
        weft::yield_now().await;
        *guard
    }
    async fn write_yield_increment(l: &Self::RwLock) {
        let mut guard = l.write().await;
        weft::yield_now().await;
        *guard += 1;
    }
    fn rwlock_value(l: &Self::RwLock) -> u64 {
        *l.try_read().expect("weft rwlock still write-locked")
    }

    type Tx = weft::queue::Queue<u64>;
    type Rx = weft::queue::Queue<u64>;
    type SharedRx = weft::queue::Queue<u64>;
    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        let q = weft::queue::Queue::new(capacity);
        (q.clone(), q)
    }
    fn share(rx: Self::Rx) -> Self::SharedRx {
        rx
    }
    async fn send(tx: &Self::Tx, v: u64) {
        tx.put(v).await.expect("weft queue shut down");
    }
    fn send_blocking(tx: &Self::Tx, v: u64) {
        tx.put_blocking(v, None).expect("weft blocking put failed");
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        rx.get().await.expect("weft queue shut down")
    }
    async fn recv_shared(rx: &Self::SharedRx) -> u64 {
        rx.get().await.expect("weft queue shut down")
    }
}

impl SyncRt for Tokio {
    const LOCK_NAME: &'static str = "tokio";
    const QUEUE_NAME: &'static str = "tokio";

    type Mutex = tokio::sync::Mutex<u64>;
    fn mutex() -> Self::Mutex {
        tokio::sync::Mutex::new(0)
    }
    async fn increment(m: &Self::Mutex) {
        *m.lock().await += 1;
    }
    fn value(m: &Self::Mutex) -> u64 {
        *m.try_lock().expect("tokio mutex still locked")
    }

    type Semaphore = tokio::sync::Semaphore;
    fn semaphore(permits: usize) -> Self::Semaphore {
        tokio::sync::Semaphore::new(permits)
    }
    async fn acquire_yield_release(s: &Self::Semaphore) {
        let permit = s.acquire().await.expect("tokio semaphore closed");
        tokio::task::yield_now().await;
        drop(permit);
    }

    type RwLock = tokio::sync::RwLock<u64>;
    fn rwlock() -> Self::RwLock {
        tokio::sync::RwLock::new(0)
    }
    async fn read_yield(l: &Self::RwLock) -> u64 {
        let guard = l.read().await;
        tokio::task::yield_now().await;
        *guard
    }
    async fn write_yield_increment(l: &Self::RwLock) {
        let mut guard = l.write().await;
        tokio::task::yield_now().await;
        *guard += 1;
    }
    fn rwlock_value(l: &Self::RwLock) -> u64 {
        *l.try_read().expect("tokio rwlock still write-locked")
    }

    type Tx = tokio::sync::mpsc::Sender<u64>;
    type Rx = tokio::sync::mpsc::Receiver<u64>;
    type SharedRx = Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<u64>>>;
    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        tokio::sync::mpsc::channel(capacity)
    }
    fn share(rx: Self::Rx) -> Self::SharedRx {
        Arc::new(tokio::sync::Mutex::new(rx))
    }
    async fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).await.expect("tokio channel closed");
    }
    fn send_blocking(tx: &Self::Tx, v: u64) {
        tx.blocking_send(v).expect("tokio channel closed");
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        rx.recv().await.expect("tokio channel closed")
    }
    async fn recv_shared(rx: &Self::SharedRx) -> u64 {
        rx.lock().await.recv().await.expect("tokio channel closed")
    }
}

impl SyncRt for AsyncExecutor {
    const LOCK_NAME: &'static str = "async-lock";
    const QUEUE_NAME: &'static str = "async-channel";

    type Mutex = async_lock::Mutex<u64>;
    fn mutex() -> Self::Mutex {
        async_lock::Mutex::new(0)
    }
    async fn increment(m: &Self::Mutex) {
        *m.lock().await += 1;
    }
    fn value(m: &Self::Mutex) -> u64 {
        *m.try_lock().expect("async-lock mutex still locked")
    }

    type Semaphore = async_lock::Semaphore;
    fn semaphore(permits: usize) -> Self::Semaphore {
        async_lock::Semaphore::new(permits)
    }
    async fn acquire_yield_release(s: &Self::Semaphore) {
        let permit = s.acquire().await;
        futures_lite::future::yield_now().await;
        drop(permit);
    }

    type RwLock = async_lock::RwLock<u64>;
    fn rwlock() -> Self::RwLock {
        async_lock::RwLock::new(0)
    }
    async fn read_yield(l: &Self::RwLock) -> u64 {
        let guard = l.read().await;
        futures_lite::future::yield_now().await;
        *guard
    }
    async fn write_yield_increment(l: &Self::RwLock) {
        let mut guard = l.write().await;
        futures_lite::future::yield_now().await;
        *guard += 1;
    }
    fn rwlock_value(l: &Self::RwLock) -> u64 {
        *l.try_read().expect("async-lock rwlock still write-locked")
    }

    type Tx = async_channel::Sender<u64>;
    type Rx = async_channel::Receiver<u64>;
    type SharedRx = async_channel::Receiver<u64>;
    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        async_channel::bounded(capacity)
    }
    fn share(rx: Self::Rx) -> Self::SharedRx {
        rx
    }
    async fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).await.expect("async-channel closed");
    }
    fn send_blocking(tx: &Self::Tx, v: u64) {
        tx.send_blocking(v).expect("async-channel closed");
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        rx.recv().await.expect("async-channel closed")
    }
    async fn recv_shared(rx: &Self::SharedRx) -> u64 {
        rx.recv().await.expect("async-channel closed")
    }
}

// ---------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------

/// Which of a peer's names a workload's bench ids use.
#[derive(Clone, Copy)]
enum Family {
    Lock,
    Queue,
}

trait Workload {
    const NAME: &'static str;
    const FAMILY: Family;
    /// Operations per iteration (the group's throughput): lock+unlock
    /// pairs, acquire+release pairs or items through the queue.
    const OPS: usize;
    /// One iteration; must verify its own result.
    fn run<R: SyncRt>(rt: &R);
}

/// Sum of the items `0..n` that every queue workload sends.
fn sum_below(n: usize) -> u64 {
    let n = n as u64;
    n * (n - 1) / 2
}

/// `producers` tasks send the items `0..items` (producer `p` the ones with
/// `i % producers == p`) into a bounded queue of `capacity`; `consumers`
/// tasks receive `items / consumers` each. Returns the sum received.
/// A single consumer is the driver task itself, on the single-consumer end
/// (as in tokio's `sync_mpsc.rs`); several are spawned and share it.
fn pipeline<R: SyncRt>(
    rt: &R,
    capacity: usize,
    producers: usize,
    consumers: usize,
    items: usize,
) -> u64 {
    assert_eq!(items % consumers, 0);
    let ctx = rt.ctx();
    run_in_task(rt, async move {
        let (tx, rx) = R::bounded(capacity);
        let senders: Vec<_> = (0..producers)
            .map(|p| {
                let tx = tx.clone();
                R::spawn(&ctx, async move {
                    for i in (p..items).step_by(producers) {
                        R::send(&tx, i as u64).await;
                    }
                })
            })
            .collect();
        drop(tx);
        let per_consumer = items / consumers;
        let mut sum = 0;
        if consumers == 1 {
            let mut rx = rx;
            for _ in 0..per_consumer {
                sum += R::recv(&mut rx).await;
            }
        } else {
            let rx = R::share(rx);
            let receivers: Vec<_> = (0..consumers)
                .map(|_| {
                    let rx = rx.clone();
                    R::spawn(&ctx, async move {
                        let mut sum = 0;
                        for _ in 0..per_consumer {
                            sum += R::recv_shared(&rx).await;
                        }
                        sum
                    })
                })
                .collect();
            for r in receivers {
                sum += r.await;
            }
        }
        for s in senders {
            s.await;
        }
        sum
    })
}

/// One task: 10 000 lock, increment, unlock.
struct MutexUncontended;

impl Workload for MutexUncontended {
    const NAME: &'static str = "mutex_uncontended";
    const FAMILY: Family = Family::Lock;
    const OPS: usize = 10_000;

    fn run<R: SyncRt>(rt: &R) {
        let value = run_in_task(rt, async {
            let m = R::mutex();
            for _ in 0..Self::OPS {
                R::increment(&m).await;
            }
            R::value(&m)
        });
        assert_eq!(value, Self::OPS as u64);
    }
}

/// 8 tasks x 1 000 lock, increment, unlock on one shared mutex.
struct MutexContended;

impl MutexContended {
    const TASKS: usize = 8;
    const PER_TASK: usize = 1_000;
}

impl Workload for MutexContended {
    const NAME: &'static str = "mutex_contended";
    const FAMILY: Family = Family::Lock;
    const OPS: usize = Self::TASKS * Self::PER_TASK;

    fn run<R: SyncRt>(rt: &R) {
        let ctx = rt.ctx();
        let value = run_in_task(rt, async move {
            let m = Arc::new(R::mutex());
            let tasks: Vec<_> = (0..Self::TASKS)
                .map(|_| {
                    let m = m.clone();
                    R::spawn(&ctx, async move {
                        for _ in 0..Self::PER_TASK {
                            R::increment(&m).await;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await;
            }
            R::value(&m)
        });
        assert_eq!(value, Self::OPS as u64);
    }
}

/// 8 tasks x 1 000 (acquire, yield, release) on a semaphore of 2 permits.
struct SemaphoreContended;

impl SemaphoreContended {
    const TASKS: usize = 8;
    const PER_TASK: usize = 1_000;
    const PERMITS: usize = 2;
}

impl Workload for SemaphoreContended {
    const NAME: &'static str = "semaphore_contended";
    const FAMILY: Family = Family::Lock;
    const OPS: usize = Self::TASKS * Self::PER_TASK;

    fn run<R: SyncRt>(rt: &R) {
        let ctx = rt.ctx();
        let done = run_in_task(rt, async move {
            let s = Arc::new(R::semaphore(Self::PERMITS));
            let tasks: Vec<_> = (0..Self::TASKS)
                .map(|_| {
                    let s = s.clone();
                    R::spawn(&ctx, async move {
                        for _ in 0..Self::PER_TASK {
                            R::acquire_yield_release(&s).await;
                        }
                        Self::PER_TASK
                    })
                })
                .collect();
            let mut done = 0;
            for t in tasks {
                done += t.await;
            }
            done
        });
        assert_eq!(done, Self::OPS);
    }
}

/// 8 tasks x 1 000 lock operations on one `RwLock<u64>`: every eighth a
/// write (increment), the rest reads, each holding the lock across a yield.
struct RwLockContended;

impl RwLockContended {
    const TASKS: usize = 8;
    const PER_TASK: usize = 1_000;
    /// One operation in this many is a write.
    const WRITE_EVERY: usize = 8;
}

impl Workload for RwLockContended {
    const NAME: &'static str = "rwlock_contended";
    const FAMILY: Family = Family::Lock;
    const OPS: usize = Self::TASKS * Self::PER_TASK;

    fn run<R: SyncRt>(rt: &R) {
        let ctx = rt.ctx();
        let (writes, value) = run_in_task(rt, async move {
            let l = Arc::new(R::rwlock());
            let tasks: Vec<_> = (0..Self::TASKS)
                .map(|t| {
                    let l = l.clone();
                    R::spawn(&ctx, async move {
                        let mut writes = 0;
                        for i in 0..Self::PER_TASK {
                            // Staggered, so the tasks do not all write at once.
                            if (i + t) % Self::WRITE_EVERY == 0 {
                                R::write_yield_increment(&l).await;
                                writes += 1;
                            } else {
                                std::hint::black_box(R::read_yield(&l).await);
                            }
                        }
                        writes
                    })
                })
                .collect();
            let mut writes = 0u64;
            for t in tasks {
                writes += t.await;
            }
            (writes, R::rwlock_value(&l))
        });
        assert_eq!(value, writes);
        assert_eq!(writes, (Self::OPS / Self::WRITE_EVERY) as u64);
    }
}

/// 1 producer task -> the driver task, 10 000 items, capacity 1 024.
struct Queue1to1;

impl Workload for Queue1to1 {
    const NAME: &'static str = "queue_1to1";
    const FAMILY: Family = Family::Queue;
    const OPS: usize = 10_000;

    fn run<R: SyncRt>(rt: &R) {
        assert_eq!(pipeline(rt, 1_024, 1, 1, Self::OPS), sum_below(Self::OPS));
    }
}

/// 4 producer tasks -> 4 consumer tasks, 10 000 items, capacity 1 024.
struct Queue4to4;

impl Workload for Queue4to4 {
    const NAME: &'static str = "queue_4to4";
    const FAMILY: Family = Family::Queue;
    const OPS: usize = 10_000;

    fn run<R: SyncRt>(rt: &R) {
        assert_eq!(pipeline(rt, 1_024, 4, 4, Self::OPS), sum_below(Self::OPS));
    }
}

/// 4 producer tasks -> the driver task, 10 000 items, capacity 8.
struct QueueBackpressure;

impl Workload for QueueBackpressure {
    const NAME: &'static str = "queue_backpressure";
    const FAMILY: Family = Family::Queue;
    const OPS: usize = 10_000;

    fn run<R: SyncRt>(rt: &R) {
        assert_eq!(pipeline(rt, 8, 4, 1, Self::OPS), sum_below(Self::OPS));
    }
}

/// The bench thread puts 10 000 items (blocking put) into a queue of
/// capacity 128; one consumer task on the runtime gets them.
struct QueueThreadToTask;

impl Workload for QueueThreadToTask {
    const NAME: &'static str = "queue_thread_to_task";
    const FAMILY: Family = Family::Queue;
    const OPS: usize = 10_000;

    fn run<R: SyncRt>(rt: &R) {
        let (tx, mut rx) = R::bounded(128);
        let consumer = rt.spawn_remote(async move {
            let mut sum = 0;
            for _ in 0..Self::OPS {
                sum += R::recv(&mut rx).await;
            }
            sum
        });
        for i in 0..Self::OPS {
            R::send_blocking(&tx, i as u64);
        }
        assert_eq!(rt.block_on(consumer), sum_below(Self::OPS));
    }
}

// ---------------------------------------------------------------------------
// Criterion wiring
// ---------------------------------------------------------------------------

fn bench_one<W: Workload, R: SyncRt>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
) {
    let name = match W::FAMILY {
        Family::Lock => R::LOCK_NAME,
        Family::Queue => R::QUEUE_NAME,
    };
    bench_lazily::<R>(group, name, W::run::<R>);
}

fn bench_workload<W: Workload>(c: &mut Criterion) {
    let mut group = c.benchmark_group(W::NAME);
    // Flat sampling: bounded iteration count even if one peer is slow.
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(W::OPS as u64));
    bench_one::<W, Weft>(&mut group);
    bench_one::<W, Tokio>(&mut group);
    bench_one::<W, AsyncExecutor>(&mut group);
    group.finish();
}

fn mutex_uncontended(c: &mut Criterion) {
    bench_workload::<MutexUncontended>(c);
}

fn mutex_contended(c: &mut Criterion) {
    bench_workload::<MutexContended>(c);
}

fn semaphore_contended(c: &mut Criterion) {
    bench_workload::<SemaphoreContended>(c);
}

fn rwlock_contended(c: &mut Criterion) {
    bench_workload::<RwLockContended>(c);
}

fn queue_1to1(c: &mut Criterion) {
    bench_workload::<Queue1to1>(c);
}

fn queue_4to4(c: &mut Criterion) {
    bench_workload::<Queue4to4>(c);
}

fn queue_backpressure(c: &mut Criterion) {
    bench_workload::<QueueBackpressure>(c);
}

fn queue_thread_to_task(c: &mut Criterion) {
    bench_workload::<QueueThreadToTask>(c);
}

criterion_group! {
    name = sync;
    config = weft_benches::criterion_config();
    targets = mutex_uncontended, mutex_contended, semaphore_contended,
        rwlock_contended, queue_1to1, queue_4to4, queue_backpressure, queue_thread_to_task
}
criterion_main!(sync);
