//! A task's `Display`, asyncio's `repr(task)` (CPython `Lib/asyncio/base_tasks.py`,
//! `_task_repr_info`): one test per state (pending, cancelling, finished with a
//! result, finished with an exception, cancelled), the value rules of `Task<T>`
//! against `TaskRef`, and the name and value formatting.
//!
//! Each expected line names this file and the line of the spawn, taken with
//! `line!()` right after it, so the test pins the location exactly.

mod common;

use common::{wait_done, yield_times};
use std::future::poll_fn;
use std::time::Duration;
use weft::{Task, TaskError};

async fn work() -> &'static str {
    "the result"
}

async fn parked() -> u32 {
    weft::sleep(common::FOREVER).await;
    0
}

async fn explode() -> u32 {
    panic!("boom")
}

/// Waits for `task` to finish without taking its value (Python's `await task`
/// leaves the result in the task).
async fn finished<T>(task: &mut Task<T>) {
    poll_fn(|cx| task.poll_done(cx)).await;
}

/// `<Task {state} name='{name}' coro=<{coro}() {running at|done, defined at} file:line>`.
fn expected(state: &str, name: &str, coro: &str, line: u32) -> String {
    let at = if matches!(state, "finished" | "cancelled") {
        "done, defined at"
    } else {
        "running at"
    };
    format!(
        "<Task {state} name='{name}' coro=<{coro}() {at} {}:{line}>",
        file!()
    )
}

// CPython: test_tasks.py BaseTaskTests.test_task_repr (the pending, cancelling
// and finished-with-result states of a task made from a coroutine).
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn pending_task_reads_like_asyncio() {
    let t = weft::spawn_local(work());
    let line = line!() - 1;
    let name = t.name();
    assert_eq!(
        t.to_string(),
        expected("pending", &name, "work", line) + ">"
    );
    // The type-erased handle shows the same.
    assert_eq!(t.task_ref().to_string(), t.to_string());
    t.await.unwrap();
}

// CPython: test_tasks.py BaseTaskTests.test_task_repr (a task being run shows
// pending: asyncio has no "running" state).
async fn show_myself() -> String {
    weft::current_task().unwrap().to_string()
}

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn running_task_shows_pending() {
    let t = weft::spawn_local(show_myself());
    let line = line!() - 1;
    let name = t.name();
    let shown = t.await.unwrap();
    assert_eq!(shown, expected("pending", &name, "show_myself", line) + ">");
}

// CPython: test_tasks.py BaseTaskTests.test_task_repr (`t.cancel()` then
// repr: `<Task cancelling ...>`).
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancel_requested_task_shows_cancelling() {
    let t = weft::spawn_local(parked());
    let line = line!() - 1;
    let name = t.name();
    yield_times(2).await;
    assert!(t.cancel());
    assert_eq!(
        t.to_string(),
        expected("cancelling", &name, "parked", line) + ">"
    );
    assert!(t.await.unwrap_err().is_cancelled());
}

/// Catches one cancellation, then waits for `gate`.
async fn catch_then_wait(gate: weft::Promise<()>) {
    let _ = weft::catch_cancel(weft::sleep(common::FOREVER)).await;
    gate.await.unwrap();
}

// CPython: test_tasks.py BaseTaskTests.test_uncancel_basic (a task that caught
// the cancellation stays `cancelling()` until `uncancel()`; the repr follows
// the count, as `_task_repr_info` reads `task.cancelling()`).
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn intercepted_cancel_shows_cancelling_until_uncancel() {
    let promise = weft::Promise::<()>::new();
    let gate = promise.clone();
    let t = weft::spawn_local(catch_then_wait(gate));
    let line = line!() - 1;
    let name = t.name();
    let coro = "catch_then_wait";
    yield_times(2).await;
    assert!(t.cancel());
    yield_times(3).await;
    assert!(!t.done());
    assert_eq!(
        t.to_string(),
        expected("cancelling", &name, coro, line) + ">"
    );
    assert_eq!(t.uncancel(), 0);
    assert_eq!(t.to_string(), expected("pending", &name, coro, line) + ">");
    promise.set_result(()).unwrap();
    t.await.unwrap();
}

// CPython: test_tasks.py BaseTaskTests.test_task_repr (done: `<Task finished
// name=.. coro=<..() done, defined at ..> result='abc'>`).
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn finished_task_shows_its_result_while_stored() {
    let mut t = weft::spawn_local(work());
    let line = line!() - 1;
    let name = t.name();
    finished(&mut t).await;
    let done = expected("finished", &name, "work", line);
    assert_eq!(t.to_string(), format!("{done} result=\"the result\">"));
    // A TaskRef does not know the value's type: no result part.
    assert_eq!(t.task_ref().to_string(), format!("{done}>"));
    // Once the value is moved out, there is nothing left to show.
    assert_eq!(t.result().unwrap().unwrap(), "the result");
    assert_eq!(t.to_string(), format!("{done}>"));
}

// CPython: test_tasks.py BaseTaskTests.test_task_repr (awaiting the handle
// takes the value in weft; asyncio's stays: the difference the repr shows).
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn awaited_task_shows_no_result() {
    let mut t = weft::spawn_local(work());
    let line = line!() - 1;
    let name = t.name();
    assert_eq!((&mut t).await.unwrap(), "the result");
    assert_eq!(
        t.to_string(),
        expected("finished", &name, "work", line) + ">"
    );
}

// CPython: test_futures.py BaseFutureTests.test_future_repr (`exception=`
// for a future finished with an exception), for a task.
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn failed_task_shows_its_exception() {
    let mut t = weft::spawn_local(explode());
    let line = line!() - 1;
    let name = t.name();
    finished(&mut t).await;
    let done = expected("finished", &name, "explode", line);
    let want = format!("{done} exception=Panicked(PanicError {{ message: \"boom\", .. }})>");
    assert_eq!(t.to_string(), want);
    // Any handle shows the exception, and it stays after the outcome is taken.
    assert_eq!(t.task_ref().to_string(), want);
    assert!(t.result().unwrap().unwrap_err().is_panic());
    assert_eq!(t.to_string(), want);
}

async fn forward(p: weft::Promise<u32>) -> Result<u32, TaskError> {
    p.await
}

// CPython: test_futures.py BaseFutureTests.test_future_repr (`exception=` of
// an exception set on a future): a task that returns the promise's error as
// an `Err` value finished with that value (Rust errors are values; only a
// panic or a cancellation ends a task with an exception).
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn task_returning_an_err_shows_it_as_its_result() {
    let promise = weft::Promise::<u32>::new();
    let p = promise.clone();
    let t = weft::spawn_local(forward(p));
    let line = line!() - 1;
    let name = t.name();
    let bad = "x".parse::<u32>().unwrap_err();
    promise
        .set_exception(TaskError::failed(bad.clone()))
        .unwrap();
    wait_done(&t.task_ref()).await;
    // The task returned `Err(TaskError)` as its value: the result is shown.
    let shown = t.to_string();
    let done = expected("finished", &name, "forward", line);
    assert_eq!(shown, format!("{done} result=Err(Failed({bad:?}))>"),);
    assert!(matches!(t.await.unwrap(), Err(TaskError::Failed(_))));
}

// CPython: test_tasks.py BaseTaskTests.test_task_repr (cancelled: `<Task
// cancelled name=.. coro=<..() done, defined at ..>>`).
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancelled_task_shows_cancelled() {
    let mut t = weft::spawn_local(parked());
    let line = line!() - 1;
    let name = t.name();
    t.cancel();
    finished(&mut t).await;
    let want = expected("cancelled", &name, "parked", line) + ">";
    assert_eq!(t.to_string(), want);
    assert_eq!(t.task_ref().to_string(), want);
}

// CPython: test_tasks.py BaseTaskTests.test_task_repr_name_not_str (the name
// is shown with repr: quotes, escapes).
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn name_is_quoted_like_a_python_str() {
    let t = weft::spawn_local(work());
    let line = line!() - 1;
    t.set_name("it's");
    let shown = t.to_string();
    assert!(shown.starts_with("<Task pending name=\"it's\" coro=<work() running at "));
    assert!(shown.ends_with(&format!(":{line}>>")), "{shown}");
    t.set_name(r"a'b\c");
    assert!(t.to_string().contains(r#"name="a'b\\c""#), "{t}");
    t.set_name(r#"a'b"c"#);
    assert!(t.to_string().contains(r#"name='a\'b"c'"#), "{t}");
    t.await.unwrap();
}

// CPython: test_futures.py BaseFutureTests.test_future_repr (a long result is
// cut with reprlib: `result=<..>...`).
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn long_results_are_cut() {
    let mut t = weft::spawn_local(async { vec![7u8; 1000] });
    finished(&mut t).await;
    let shown = t.to_string();
    let value = shown.split(" result=").nth(1).unwrap();
    // The first 60 characters of the Debug text, then `...`.
    let full = format!("{:?}", vec![7u8; 1000]);
    assert_eq!(value, format!("{}...>", &full[..60]));
    assert_eq!(t.result().unwrap().unwrap().len(), 1000);
}

// CPython: test_tasks.py BaseTaskTests.test_task_repr_coro_decorator (the
// coroutine's name): an async block is named after the function around it,
// a combinator after its type.
#[test]
fn coro_names_the_future() {
    weft::run(async {
        let t = weft::spawn_local(async { 1 });
        assert!(
            t.to_string()
                .contains(" coro=<coro_names_the_future() running at "),
            "{t}"
        );
        let s = weft::spawn_local(weft::sleep(Duration::from_millis(1)));
        assert!(s.to_string().contains(" coro=<Sleep() running at "), "{s}");
        t.await.unwrap();
        s.await.unwrap();
    });
}

// Debug stays the compact struct form.
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn debug_is_unchanged() {
    let t = weft::spawn_local(work());
    assert!(format!("{t:?}").starts_with("Task { id: "));
    t.await.unwrap();
}
