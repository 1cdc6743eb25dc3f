//! A bounded producer/consumer pipeline: plain threads feed it, tasks drain it.
//!
//! asyncio's queues belong to one loop, so Python code that must feed one from
//! ordinary threads reaches for a second package (`janus`). A `weft::queue`
//! is thread-safe: threads block on it with `put_blocking` / `get_blocking`
//! while tasks on any worker `await` the same queue.
//!
//! ```python
//! async def worker(name, queue, totals):
//!     while True:
//!         try:
//!             job = await queue.get()
//!         except asyncio.QueueShutDown:
//!             return
//!         totals[name] += job.size
//!         queue.task_done()
//!
//! queue = asyncio.Queue(maxsize=8)          # back-pressure: at most 8 queued
//! workers = [asyncio.create_task(worker(n, queue, totals)) for n in names]
//! for job in jobs:
//!     await queue.put(job)                  # weft: put_blocking, from threads
//! await queue.join()                        # every job got and processed
//! queue.shutdown()                          # workers' next get raises
//! await asyncio.gather(*workers)
//! ```
//!
//! Here three threads each produce 200 jobs with `put_blocking`, blocking while
//! eight jobs are waiting (the queue's back-pressure). Four tasks take jobs
//! with `get`, "process" them, and mark each one with `task_done`. The main
//! task waits for the threads, then `join`s the queue (every job processed),
//! then `shutdown`s it, which ends each worker's loop, and prints the totals.
//! A last step shows `shutdown(true)`: queued jobs are dropped at once and
//! `join` returns.
//!
//! ```sh
//! cargo run --example pipeline
//! ```

use std::time::Duration;
use weft::queue::{Queue, QueueShutDown};

/// One unit of work.
#[derive(Debug)]
struct Job {
    producer: usize,
    size: u64,
}

const PRODUCERS: usize = 3;
const JOBS_PER_PRODUCER: u64 = 200;
const WORKERS: usize = 4;

fn main() {
    let queue: Queue<Job> = Queue::new(8);

    // Producers: plain threads, blocking while the queue is full.
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|producer| {
            let q = queue.clone();
            std::thread::spawn(move || {
                for size in 1..=JOBS_PER_PRODUCER {
                    q.put_blocking(Job { producer, size }, None)
                        .expect("the queue is shut down only after the producers finish");
                }
            })
        })
        .collect();

    weft::run(async move {
        // Consumers: tasks, on whichever worker runs them.
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                let q = queue.clone();
                weft::spawn(async move {
                    let mut per_producer = [0u64; PRODUCERS];
                    loop {
                        match q.get().await {
                            Ok(job) => {
                                weft::yield_now().await; // the "processing"
                                per_producer[job.producer] += job.size;
                                q.task_done().expect("one task_done per job got");
                            }
                            Err(QueueShutDown(())) => return per_producer,
                        }
                    }
                })
            })
            .collect();

        // Wait for the threads without blocking a worker.
        weft::to_thread(move || {
            for p in producers {
                p.join().expect("a producer thread panicked");
            }
        })
        .await
        .expect("joining the producers");

        queue.join().await;
        println!(
            "all {} jobs processed",
            PRODUCERS as u64 * JOBS_PER_PRODUCER
        );
        queue.shutdown(false);

        let mut totals = [0u64; PRODUCERS];
        for w in workers {
            let part = w.await.expect("a worker failed");
            for (t, p) in totals.iter_mut().zip(part) {
                *t += p;
            }
        }
        for (producer, total) in totals.iter().enumerate() {
            println!("producer {producer}: total size {total}");
        }
        assert!(totals
            .iter()
            .all(|&t| t == JOBS_PER_PRODUCER * (JOBS_PER_PRODUCER + 1) / 2));

        // shutdown(immediate=True): what is still queued is dropped, and join
        // returns although nobody processed it.
        let q: Queue<Job> = Queue::new(0);
        for size in 0..5 {
            q.put(Job { producer: 0, size }).await.unwrap();
        }
        q.shutdown(true);
        q.join().await;
        println!("immediate shutdown dropped the rest: qsize {}", q.qsize());
        if let Err(e) = q.put_blocking(
            Job {
                producer: 0,
                size: 9,
            },
            Some(Duration::ZERO),
        ) {
            let message = e.to_string();
            println!(
                "a put after shutdown: {message}; the job comes back: {:?}",
                e.into_inner()
            );
        }
    });
}
