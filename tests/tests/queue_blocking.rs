//! `put_blocking` / `get_blocking`: plain threads on a `weft::queue` (what
//! asyncio's queues cannot do; Python users add `janus`). Timeouts give the
//! item back, a shutdown wakes a blocked thread with the error, and a thread and
//! a task hand items to each other.

mod common;

use common::{ms, watchdog};
use std::time::{Duration, Instant};
use weft::queue::{BlockingGetError, BlockingPutError, Queue};

#[test]
fn put_blocking_times_out_on_a_full_queue_and_gives_the_item_back() {
    watchdog(|| {
        let q = Queue::new(1);
        q.put_blocking("a", None).unwrap();
        let start = Instant::now();
        let err = q.put_blocking("b", Some(ms(30))).unwrap_err();
        assert!(
            start.elapsed() >= ms(30),
            "returned early: {:?}",
            start.elapsed()
        );
        assert!(matches!(err, BlockingPutError::TimedOut(_)), "{err:?}");
        assert_eq!(err.to_string(), "queue put timed out");
        assert_eq!(err.into_inner(), "b");
        // Nothing was inserted, and the queue works on.
        assert_eq!(q.qsize(), 1);
        assert_eq!(q.get_blocking(None), Ok("a"));
        q.put_blocking("c", Some(ms(30))).unwrap();
        assert_eq!(q.get_nowait(), Ok("c"));
    });
}

#[test]
fn get_blocking_times_out_on_an_empty_queue() {
    watchdog(|| {
        let q = Queue::<u8>::new(0);
        let start = Instant::now();
        let err = q.get_blocking(Some(ms(30))).unwrap_err();
        assert!(
            start.elapsed() >= ms(30),
            "returned early: {:?}",
            start.elapsed()
        );
        assert_eq!(err, BlockingGetError::TimedOut);
        assert_eq!(err.to_string(), "queue get timed out");
        // A zero timeout is a non-blocking try.
        q.put_nowait(5).unwrap();
        assert_eq!(q.get_blocking(Some(Duration::ZERO)), Ok(5));
        assert_eq!(
            q.get_blocking(Some(Duration::ZERO)),
            Err(BlockingGetError::TimedOut)
        );
    });
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_blocked_thread_is_woken_by_a_task() {
    let q = Queue::new(1);
    let q2 = q.clone();
    let thread = std::thread::spawn(move || {
        let first = q2.get_blocking(None);
        // Now block on a full queue until the task takes the item.
        q2.put_blocking(10, None).unwrap();
        q2.put_blocking(11, None).unwrap();
        first
    });
    weft::sleep(ms(20)).await;
    q.put(1).await.unwrap();
    assert_eq!(q.get().await, Ok(10));
    assert_eq!(q.get().await, Ok(11));
    assert_eq!(
        weft::to_thread(move || thread.join().unwrap())
            .await
            .unwrap(),
        Ok(1)
    );
}

#[test]
fn shutdown_wakes_blocked_threads_with_the_error() {
    watchdog(|| {
        let getters_q = Queue::<u8>::new(0);
        let putters_q = Queue::new(1);
        putters_q.put_nowait(0u8).unwrap();
        let (g, p) = (getters_q.clone(), putters_q.clone());
        let getter = std::thread::spawn(move || g.get_blocking(None));
        let putter = std::thread::spawn(move || p.put_blocking(7, Some(Duration::from_secs(20))));
        std::thread::sleep(ms(30));
        getters_q.shutdown(false);
        putters_q.shutdown(false);
        assert_eq!(getter.join().unwrap(), Err(BlockingGetError::ShutDown));
        let err = putter.join().unwrap().unwrap_err();
        assert_eq!(err.to_string(), "queue shut down");
        assert_eq!(err.into_inner(), 7);
        // Later calls fail at once, a get after draining.
        assert_eq!(putters_q.get_blocking(None), Ok(0));
        assert_eq!(
            putters_q.get_blocking(None),
            Err(BlockingGetError::ShutDown)
        );
        match putters_q.put_blocking(8, None) {
            Err(BlockingPutError::ShutDown(8)) => {}
            other => panic!("expected a shut-down error, got {other:?}"),
        }
    });
}

/// The blocking get's spin before it queues (`look_then_spin`) keeps the FIFO
/// rule: an item handed to a woken task getter is not taken by a thread that
/// comes after, however long it spins.
#[test]
fn a_blocking_get_does_not_take_the_item_a_woken_getter_was_woken_for() {
    watchdog(|| {
        use std::future::Future;
        use std::pin::pin;
        use std::task::{Context, Poll};

        let q = Queue::new(0);
        let mut waiting = pin!(q.get());
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        assert!(waiting.as_mut().poll(&mut cx).is_pending(), "queued");
        // Hands the item's wake-up to the queued getter, which has not run.
        q.put_nowait(7).unwrap();
        let start = Instant::now();
        assert_eq!(
            q.get_blocking(Some(ms(5))),
            Err(BlockingGetError::TimedOut),
            "the thread overtook the woken getter"
        );
        assert!(start.elapsed() >= ms(5));
        assert_eq!(waiting.as_mut().poll(&mut cx), Poll::Ready(Ok(7)));
    });
}
