//! The error model: a panic's payload comes back (`into_panic`), a timeout is
//! its own variant (`is_timeout`, not `is_failed`), and `InvalidStateError`
//! is an enum whose "result taken" is reported the same way by every handle.

mod common;

use common::block_on;
use std::time::Duration;
use weft::{FutureError, InvalidStateError, Promise, TaskError, TimeoutError};

/// A payload of the user's own type.
#[derive(Debug, PartialEq)]
struct Custom(u32, &'static str);

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn into_panic_gives_back_a_custom_payload() {
    let t = weft::spawn(async { std::panic::panic_any(Custom(7, "seven")) });
    let err = t.await.unwrap_err();
    assert!(err.is_panic() && !err.is_failed() && !err.is_timeout());
    let payload = err.into_panic();
    assert_eq!(*payload.downcast::<Custom>().unwrap(), Custom(7, "seven"));
}

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn into_panic_payload_can_be_resumed() {
    let t = weft::spawn(async { std::panic::panic_any(Custom(1, "one")) });
    let err = t.await.unwrap_err();
    let payload = err.into_panic();
    let resumed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        std::panic::resume_unwind(payload)
    }));
    let payload = resumed.unwrap_err();
    assert_eq!(payload.downcast_ref::<Custom>(), Some(&Custom(1, "one")));
}

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn only_the_first_clone_gets_the_payload_the_others_the_message() {
    let t = weft::spawn(async { std::panic::panic_any(String::from("kaput")) });
    let err = t.await.unwrap_err();
    let copy = err.clone();
    assert_eq!(*err.into_panic().downcast::<String>().unwrap(), "kaput");
    assert_eq!(*copy.into_panic().downcast::<String>().unwrap(), "kaput");
    // Not a panic: the error comes back.
    let cancelled = TaskError::from(weft::Cancelled::new());
    assert!(cancelled.try_into_panic().unwrap_err().is_cancelled());
}

#[test]
fn a_timeout_is_its_own_variant() {
    let err = TaskError::from(TimeoutError::new());
    assert!(matches!(err, TaskError::TimedOut(_)));
    assert!(err.is_timeout() && !err.is_failed() && !err.is_cancelled() && !err.is_panic());
    assert_eq!(err.to_string(), "deadline elapsed");
    assert!(std::error::Error::source(&err).is_some());
    block_on(1, |_| async {
        let slow = weft::spawn(weft::sleep(Duration::from_secs(60)));
        let err = weft::wait_for(slow, Some(Duration::from_millis(5)))
            .await
            .unwrap_err();
        assert!(matches!(err, TaskError::TimedOut(_)), "{err:?}");
        assert!(!err.is_failed());
    });
}

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn result_taken_is_reported_one_way_by_task_and_concurrent_future() {
    let handle = weft::Handle::current();
    let mut t = weft::spawn(async { 1 });
    while !t.done() {
        weft::yield_now().await;
    }
    assert_eq!(t.result().unwrap().unwrap(), 1);
    assert_eq!(t.result().unwrap_err(), InvalidStateError::ResultTaken);
    assert!(t.result().unwrap_err().is_result_taken());

    let fut = weft::run_coroutine_threadsafe(async { 2 }, &handle);
    assert_eq!(fut.clone().await.unwrap(), 2);
    match fut.await {
        Err(FutureError::InvalidState(e)) => {
            assert_eq!(e, InvalidStateError::ResultTaken);
            assert_eq!(e.to_string(), "invalid state: result already taken");
        }
        other => panic!("expected ResultTaken, got {other:?}"),
    }

    let p = Promise::<u8>::new();
    assert_eq!(p.exception().unwrap_err(), InvalidStateError::Pending);
    p.set_result(1).unwrap();
    assert_eq!(p.set_result(2).unwrap_err(), InvalidStateError::AlreadyDone);
}

#[test]
fn every_timeout_shape_chains_to_a_timeout_error() {
    use std::error::Error;
    let is_timeout = |e: &dyn Error| e.source().is_some_and(|s| s.is::<TimeoutError>());
    assert!(is_timeout(&FutureError::Timeout));
    assert!(is_timeout(&TaskError::from(TimeoutError::new())));
    let wrapped = FutureError::Task(TaskError::from(TimeoutError::new()));
    assert!(wrapped.source().is_some_and(is_timeout));
}
