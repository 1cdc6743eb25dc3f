//! `weft::queue` under load (issue 14, "Semantics"): cancel-after-wake with
//! random cancellation (every item accounted for: none lost, none duplicated, no
//! wake-up lost), 4 producers → 4 consumers with `task_done` / `join`, and plain
//! threads ↔ tasks through one queue.

mod common;

use common::{block_on, wait_until};
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use weft::queue::{Queue, QueueShutDown};
use weft::TaskError;

/// Pseudo-random numbers from a counter hashed with std's SipHash (fixed keys),
/// enough to vary where cancellations land, and the same on every run so a
/// failure can be rerun.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        let mut h = DefaultHasher::new();
        self.0 += 1;
        h.write_u64(self.0);
        h.finish() % n
    }
}

/// Runs `fut` as a task, and with probability 1/2 cancels it after 0..3
/// yields; returns what `fut` returned, or `None` if it was dropped before it
/// finished. (The task's own outcome is not the test: a cancellation that
/// lands after `fut` finished still ends the task cancelled, as in asyncio, so
/// the output is recorded in the same poll that produced it.)
async fn maybe_cancelled<T: Send + 'static>(
    rng: &mut Rng,
    fut: impl std::future::Future<Output = T> + Send + 'static,
) -> Option<T> {
    let out = Arc::new(parking_lot::Mutex::new(None));
    let o = out.clone();
    let task = weft::spawn(async move {
        let value = fut.await;
        *o.lock() = Some(value);
    });
    if rng.below(2) == 0 {
        for _ in 0..rng.below(4) {
            weft::yield_now().await;
        }
        task.cancel();
    }
    match task.await {
        Ok(()) | Err(TaskError::Cancelled(_)) => {}
        Err(e) => panic!("the queue task failed: {e}"),
    }
    let value = out.lock().take();
    value
}

/// 10^4 items through a queue of 2 slots by 2 producers and 3 consumers, each
/// put and get a task cancelled at a random point half the time (often after
/// it was woken and handed a slot or an item). A cancelled put must not have
/// inserted (its producer puts the same item again), a cancelled get must not
/// have removed anything (the item is still there for the next get), and a
/// woken-then-cancelled waiter must pass its wake-up on (else the run hangs).
#[test]
fn cancel_after_wake_loses_and_duplicates_no_item() {
    const ITEMS: u32 = 10_000;
    const PRODUCERS: u32 = 2;
    const CONSUMERS: u64 = 3;
    let received = block_on(4, |_| async move {
        let q = Queue::new(2);
        let received = Arc::new(parking_lot::Mutex::new(Vec::with_capacity(ITEMS as usize)));

        let mut producers = Vec::new();
        for p in 0..PRODUCERS {
            let q = q.clone();
            producers.push(weft::spawn(async move {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ u64::from(p + 1));
                let mut id = p;
                while id < ITEMS {
                    let qp = q.clone();
                    match maybe_cancelled(&mut rng, async move { qp.put(id).await }).await {
                        Some(Ok(())) => id += PRODUCERS,
                        Some(Err(e)) => panic!("put failed: {e}"),
                        None => {} // dropped before it finished: not inserted, put it again
                    }
                }
            }));
        }

        let mut consumers = Vec::new();
        for c in 0..CONSUMERS {
            let (q, received) = (q.clone(), received.clone());
            consumers.push(weft::spawn(async move {
                let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ (c + 1));
                loop {
                    let qc = q.clone();
                    match maybe_cancelled(&mut rng, async move { qc.get().await }).await {
                        Some(Ok(item)) => received.lock().push(item),
                        Some(Err(QueueShutDown(()))) => return,
                        None => {} // dropped before it finished: removed nothing
                    }
                }
            }));
        }

        for p in producers {
            p.await.unwrap();
        }
        let r = received.clone();
        wait_until("every item to be received", || {
            r.lock().len() >= ITEMS as usize
        })
        .await;
        q.shutdown(false);
        for c in consumers {
            c.await.unwrap();
        }
        assert!(q.empty());
        let got = std::mem::take(&mut *received.lock());
        got
    });
    assert_eq!(
        received.len(),
        ITEMS as usize,
        "an item was duplicated or lost"
    );
    let distinct: HashSet<u32> = received.iter().copied().collect();
    assert_eq!(distinct.len(), ITEMS as usize, "an item was received twice");
    assert!(distinct.iter().all(|&i| i < ITEMS));
}

/// 4 producers → 4 consumers on 4 workers through a bounded queue; consumers
/// call `task_done`, the producer side `join`s, then shuts the queue down.
#[test]
fn four_producers_to_four_consumers() {
    const PER_PRODUCER: u64 = 5_000;
    block_on(4, |_| async {
        let q = Queue::new(16);
        let sum = Arc::new(AtomicUsize::new(0));
        let count = Arc::new(AtomicUsize::new(0));

        let consumers: Vec<_> = (0..4)
            .map(|_| {
                let (q, sum, count) = (q.clone(), sum.clone(), count.clone());
                weft::spawn(async move {
                    while let Ok(item) = q.get().await {
                        sum.fetch_add(item as usize, Ordering::Relaxed);
                        count.fetch_add(1, Ordering::Relaxed);
                        q.task_done().unwrap();
                    }
                })
            })
            .collect();
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let q = q.clone();
                weft::spawn(async move {
                    for i in 0..PER_PRODUCER {
                        q.put(p * PER_PRODUCER + i).await.unwrap();
                    }
                })
            })
            .collect();

        for p in producers {
            p.await.unwrap();
        }
        q.join().await;
        assert_eq!(count.load(Ordering::Relaxed), 4 * PER_PRODUCER as usize);
        q.shutdown(false);
        for c in consumers {
            c.await.unwrap();
        }
        let n = 4 * PER_PRODUCER;
        assert_eq!(sum.load(Ordering::Relaxed) as u64, n * (n - 1) / 2);
        assert!(q.task_done().is_err());
    });
}

/// Plain threads put with `put_blocking` and tasks get; tasks put and plain
/// threads get with `get_blocking`; both through bounded queues small enough
/// that each side blocks on the other.
#[test]
fn threads_and_tasks_share_one_queue() {
    const PER_THREAD: u32 = 5_000;
    block_on(2, |_| async {
        // Threads -> tasks.
        let q = Queue::new(4);
        let threads: Vec<_> = (0..2)
            .map(|t| {
                let q = q.clone();
                std::thread::spawn(move || {
                    for i in 0..PER_THREAD {
                        q.put_blocking(t * PER_THREAD + i, None).unwrap();
                    }
                })
            })
            .collect();
        let mut got = Vec::new();
        for _ in 0..2 * PER_THREAD {
            got.push(q.get().await.unwrap());
        }
        for t in threads {
            t.join().unwrap();
        }
        got.sort_unstable();
        assert_eq!(got, (0..2 * PER_THREAD).collect::<Vec<_>>());

        // Tasks -> threads.
        let q = Queue::new(4);
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while let Ok(item) = q.get_blocking(Some(Duration::from_secs(20))) {
                        got.push(item);
                    }
                    got
                })
            })
            .collect();
        let writers: Vec<_> = (0..2)
            .map(|t| {
                let q = q.clone();
                weft::spawn(async move {
                    for i in 0..PER_THREAD {
                        q.put(t * PER_THREAD + i).await.unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        wait_until("the threads to drain the queue", || q.empty()).await;
        q.shutdown(false);
        let mut got: Vec<u32> = Vec::new();
        for r in readers {
            got.extend(weft::to_thread(move || r.join().unwrap()).await.unwrap());
        }
        got.sort_unstable();
        assert_eq!(got, (0..2 * PER_THREAD).collect::<Vec<_>>());
    });
}
