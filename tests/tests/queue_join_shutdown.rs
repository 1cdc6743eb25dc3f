//! `task_done` / `join` and Python 3.13's `shutdown`, ported from CPython's
//! Lib/test/test_asyncio/test_queues.py: `_QueueJoinTestMixin` and
//! `_QueueShutdownTestMixin`, each run for `Queue`, `LifoQueue` and
//! `PriorityQueue` as CPython runs them (`QueueJoinTests`, `LifoQueueJoinTests`,
//! `PriorityQueueJoinTests`, `QueueShutdownTests`, ...): the module `fifo`,
//! `lifo` or `priority` names the class, the test the method.
//!
//! `test_format` reads the queue's `Debug` form (CPython's `_format`); CPython
//! sets `_unfinished_tasks = 2` by hand, here two items are put and taken.
//!
//! One worker, the body in a task, as in queue_get_put.rs: `spawn_started!` /
//! `wait_until` / `yield_times` stand for `await asyncio.sleep(0)`.

mod common;

use common::{block_on, spawn_started, wait_done, yield_times};
use std::future::Future;

/// Runs `body` in a spawned task on a fresh 1-worker runtime, under the watchdog.
fn run<F>(body: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    block_on(1, |_| async move {
        weft::spawn(body).await.expect("the test's task failed")
    });
}

macro_rules! join_and_shutdown_tests {
    ($kind:ident, $Q:ident) => {
        mod $kind {
            use super::*;
            use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
            use std::sync::Arc;
            use weft::queue::{$Q, QueueShutDown, TryGetError, TryPutError};

            fn assert_shut_down_nowait<T: std::fmt::Debug + Ord + Send + 'static>(
                q: &$Q<T>,
                item: T,
            ) {
                let put = q.put_nowait(item).unwrap_err();
                assert!(matches!(put, TryPutError::ShutDown(_)), "{put:?}");
                assert_eq!(put.to_string(), "queue shut down");
                let get = q.get_nowait().unwrap_err();
                assert!(matches!(get, TryGetError::ShutDown(_)), "{get:?}");
            }

            async fn assert_shut_down<T: std::fmt::Debug + Ord + Send + Clone + 'static>(
                q: &$Q<T>,
                item: T,
            ) {
                assert_eq!(q.put(item.clone()).await, Err(QueueShutDown(item.clone())));
                assert_eq!(q.get().await, Err(QueueShutDown(())));
                assert_shut_down_nowait(q, item);
            }

            // _QueueJoinTestMixin.test_task_done_underflow
            #[test]
            fn test_task_done_underflow() {
                let q = $Q::<i32>::new(0);
                let err = q.task_done().unwrap_err();
                assert_eq!(err.to_string(), "task_done() called too many times");
                // The queue stays usable.
                q.put_nowait(1).unwrap();
                assert_eq!(q.get_nowait(), Ok(1));
                q.task_done().unwrap();
                assert!(q.task_done().is_err());
            }

            // _QueueJoinTestMixin.test_task_done
            #[test]
            fn test_task_done() {
                run(async {
                    let q = $Q::new(0);
                    for i in 0..100 {
                        q.put_nowait(i).unwrap();
                    }
                    let accumulator = Arc::new(AtomicUsize::new(0));
                    let running = Arc::new(AtomicBool::new(true));

                    // Two workers get items from the queue and call task_done
                    // after each; join the queue and check every item was
                    // processed.
                    let mut tasks = Vec::new();
                    for _ in 0..2 {
                        let (q, acc, running) = (q.clone(), accumulator.clone(), running.clone());
                        tasks.push(weft::spawn(async move {
                            while running.load(Ordering::SeqCst) {
                                let item = q.get().await.unwrap();
                                acc.fetch_add(item, Ordering::SeqCst);
                                q.task_done().unwrap();
                            }
                        }));
                    }

                    q.join().await;
                    assert_eq!(accumulator.load(Ordering::SeqCst), (0..100).sum::<usize>());

                    // Stop the workers.
                    running.store(false, Ordering::SeqCst);
                    for _ in 0..tasks.len() {
                        q.put_nowait(0).unwrap();
                    }
                    for t in tasks {
                        t.await.unwrap();
                    }
                });
            }

            // _QueueJoinTestMixin.test_join_empty_queue
            #[test]
            fn test_join_empty_queue() {
                run(async {
                    let q = $Q::<i32>::new(0);
                    // join() returns at once, and again.
                    q.join().await;
                    q.join().await;
                });
            }

            // _QueueJoinTestMixin.test_format
            #[test]
            fn test_join_format() {
                let q = $Q::new(0);
                let repr = format!("{q:?}");
                assert!(repr.contains("maxsize: 0"), "{repr}");
                assert!(repr.contains("tasks: 0"), "{repr}");
                q.put_nowait(1).unwrap();
                q.put_nowait(2).unwrap();
                q.get_nowait().unwrap();
                q.get_nowait().unwrap();
                let repr = format!("{q:?}");
                assert!(repr.contains("tasks: 2"), "{repr}");
            }

            // _QueueShutdownTestMixin.test_format
            #[test]
            fn test_shutdown_format() {
                let q = $Q::<i32>::new(0);
                q.shutdown(false);
                let repr = format!("{q:?}");
                assert!(repr.contains("maxsize: 0"), "{repr}");
                assert!(repr.contains("shut_down: true"), "{repr}");
            }

            // _QueueShutdownTestMixin.test_shutdown_empty
            #[test]
            fn test_shutdown_empty() {
                run(async {
                    // An empty queue, with a get() task waiting.
                    let q = $Q::<&'static str>::new(0);
                    let q1 = q.clone();
                    let get_task = spawn_started!("the getter to wait", { q1.get().await });

                    q.shutdown(false); // unfinished tasks: 0 -> 0
                    assert_eq!(q.qsize(), 0);
                    assert!(q.is_shut_down());

                    // join() finishes.
                    q.join().await;

                    // The get() task is woken with the error.
                    wait_done(&get_task.task_ref()).await;
                    assert_eq!(get_task.await.unwrap(), Err(QueueShutDown(())));

                    // put() and get() fail.
                    assert_shut_down(&q, "data").await;
                });
            }

            // _QueueShutdownTestMixin.test_shutdown_nonempty
            #[test]
            fn test_shutdown_nonempty() {
                run(async {
                    // A full queue of one item, with join() and put() tasks.
                    let q = $Q::new(1);
                    q.put_nowait("data").unwrap();
                    let qj = q.clone();
                    let join_task = spawn_started!("join to wait", { qj.join().await });
                    let qp = q.clone();
                    let put_task = spawn_started!("the putter to wait", { qp.put("data2").await });
                    assert!(!put_task.done());

                    q.shutdown(false); // unfinished tasks: 1 -> 1
                    assert_eq!(q.qsize(), 1);

                    // The put() task fails, giving its item back.
                    wait_done(&put_task.task_ref()).await;
                    assert_eq!(put_task.await.unwrap(), Err(QueueShutDown("data2")));

                    // get() drains the item already in the queue.
                    assert_eq!(q.get().await, Ok("data"));

                    // join() still waits: the item is not done.
                    yield_times(3).await;
                    assert!(!join_task.done());

                    // put() and get() fail now.
                    assert_shut_down(&q, "data").await;

                    // One unfinished task: join() finishes after task_done.
                    q.task_done().unwrap();
                    wait_done(&join_task.task_ref()).await;
                    join_task.await.unwrap();

                    assert!(
                        q.task_done().is_err(),
                        "didn't appear to mark all tasks done"
                    );
                });
            }

            // _QueueShutdownTestMixin.test_shutdown_immediate
            #[test]
            fn test_shutdown_immediate() {
                run(async {
                    // A queue of one item, with a join() task.
                    let q = $Q::new(0);
                    q.put_nowait("data").unwrap();
                    let qj = q.clone();
                    let join_task = spawn_started!("join to wait", { qj.join().await });

                    q.shutdown(true); // unfinished tasks: 1 -> 0
                    assert_eq!(q.qsize(), 0);

                    // join() has finished.
                    wait_done(&join_task.task_ref()).await;
                    join_task.await.unwrap();

                    // put() and get() fail.
                    assert_shut_down(&q, "data").await;

                    // No unfinished tasks.
                    assert!(
                        q.task_done().is_err(),
                        "didn't appear to mark all tasks done"
                    );
                });
            }

            // _QueueShutdownTestMixin.test_shutdown_immediate_with_unfinished
            #[test]
            fn test_shutdown_immediate_with_unfinished() {
                run(async {
                    // Two items, one taken, and a join() task.
                    let q = $Q::new(0);
                    q.put_nowait("data").unwrap();
                    q.put_nowait("data").unwrap();
                    let qj = q.clone();
                    let join_task = spawn_started!("join to wait", { qj.join().await });
                    assert_eq!(q.get().await, Ok("data"));

                    q.shutdown(true); // unfinished tasks: 2 -> 1
                    assert_eq!(q.qsize(), 0);

                    // join() still waits.
                    yield_times(3).await;
                    assert!(!join_task.done());

                    // put() and get() fail.
                    assert_shut_down(&q, "data").await;

                    // One unfinished task.
                    q.task_done().unwrap();
                    assert!(
                        q.task_done().is_err(),
                        "didn't appear to mark all tasks done"
                    );

                    // join() has finished.
                    wait_done(&join_task.task_ref()).await;
                    join_task.await.unwrap();
                });
            }
        }
    };
}

join_and_shutdown_tests!(fifo, Queue);
join_and_shutdown_tests!(lifo, LifoQueue);
join_and_shutdown_tests!(priority, PriorityQueue);

/// Not in CPython: a shutdown wakes every blocked getter and putter (not only
/// the first), each with the error, and putters get their items back.
#[test]
fn shutdown_wakes_every_blocked_getter_and_putter() {
    use weft::queue::{Queue, QueueShutDown};
    run(async {
        let getters_q = Queue::<u32>::new(0);
        let mut getters = Vec::new();
        for _ in 0..3 {
            let q = getters_q.clone();
            getters.push(spawn_started!("a getter to wait", { q.get().await }));
        }
        let putters_q = Queue::new(1);
        putters_q.put_nowait(0).unwrap();
        let mut putters = Vec::new();
        for i in 1..4 {
            let q = putters_q.clone();
            putters.push(spawn_started!("a putter to wait", { q.put(i).await }));
        }
        getters_q.shutdown(false);
        putters_q.shutdown(false);
        for g in getters {
            assert_eq!(g.await.unwrap(), Err(QueueShutDown(())));
        }
        for (i, p) in (1..4).zip(putters) {
            assert_eq!(p.await.unwrap(), Err(QueueShutDown(i)));
        }
        // Gets drain the item put before the shutdown.
        assert_eq!(putters_q.get().await, Ok(0));
        assert_eq!(putters_q.get().await, Err(QueueShutDown(())));
    });
}

/// Not in CPython: `shutdown` may be called again; a later `immediate` call
/// still drops what is left and releases `join`.
#[test]
fn a_second_shutdown_may_be_immediate() {
    use weft::queue::{Queue, QueueShutDown};
    run(async {
        let q = Queue::new(0);
        for i in 0..3 {
            q.put_nowait(i).unwrap();
        }
        q.shutdown(false);
        q.shutdown(false);
        assert_eq!(q.qsize(), 3);
        assert_eq!(q.get().await, Ok(0));
        q.shutdown(true);
        assert_eq!(q.qsize(), 0);
        assert_eq!(q.get().await, Err(QueueShutDown(())));
        // One item was got and is still pending.
        let q1 = q.clone();
        let join_task = spawn_started!("join to wait", { q1.join().await });
        q.task_done().unwrap();
        wait_done(&join_task.task_ref()).await;
        join_task.await.unwrap();
        assert!(q.task_done().is_err());
    });
}
