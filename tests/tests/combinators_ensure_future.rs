//! `ensure_future!` of a `Promise` (asyncio's `ensure_future(fut)` returns
//! `fut` itself): the promise passes through, still a `Promise`, and is
//! the same promise (settling, cancelling or adding callbacks through
//! either handle is seen through the other). Tasks and plain futures:
//! combinators_gather.rs.

mod common;

use common::{wait_until, Log};
use weft::{DoneCallback, Promise, TaskError};

// CPython: test_tasks.py BaseTaskTests.test_ensure_future_future
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn test_ensure_future_future() {
    let f_orig = Promise::new();
    f_orig.set_result("ko").unwrap();
    let f: Promise<&str> = weft::ensure_future!(f_orig.clone());
    assert!(f.done());
    assert_eq!(f.clone().await.unwrap(), "ko");
    assert_eq!(f.result().unwrap().unwrap(), "ko");

    // The same promise ("assertIs(f, f_orig)"): what one handle does, the
    // other sees; nothing was spawned to watch it.
    let spawned_before = weft::Handle::current().metrics().spawned;
    let original = Promise::<u8>::new();
    let ensured = weft::ensure_future!(original.clone());
    assert_eq!(weft::Handle::current().metrics().spawned, spawned_before);
    let log = Log::new();
    let l = log.clone();
    original.add_done_callback(DoneCallback::new(move |_: &Promise<u8>| {
        l.push("original's callback")
    }));
    assert!(ensured.cancel());
    assert!(original.cancelled());
    wait_until("the callback added through the original", || log.len() == 1).await;
    assert!(matches!(original.await, Err(TaskError::Cancelled(_))));
}

// CPython: test_futures.py BaseFutureTests.test_ensure_future (a future
// given to ensure_future is awaitable as it was, by many)
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn ensure_future_of_a_pending_promise_is_awaited_by_many() {
    let p = Promise::new();
    let ensured = weft::ensure_future!(p.clone());
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let e = ensured.clone();
            weft::spawn(async move { e.await.unwrap() })
        })
        .collect();
    weft::yield_now().await;
    p.set_result(9u32).unwrap();
    for w in waiters {
        assert_eq!(w.await.unwrap(), 9);
    }
    // gather! takes the promise's wait() (a future, spawned).
    let (a, b) = weft::gather!(ensured.wait(), async { 1u32 }).await.unwrap();
    assert_eq!((a.unwrap(), b), (9, 1));
}
