//! What `#[weft::test]` and `#[weft::main]` expand to, run: the body runs on
//! a weft runtime of its own, with the arguments' configuration, and ends as
//! `weft::run` ends.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[weft::test]
async fn the_body_runs_on_a_weft_runtime() {
    assert!(weft::Handle::try_current().is_some());
    let task = weft::spawn(async { 40 + 2 });
    assert_eq!(task.await.unwrap(), 42);
}

#[weft::test(workers = 3)]
async fn workers_sets_the_worker_count() {
    assert_eq!(weft::Handle::current().metrics().workers, 3);
}

#[weft::test(workers = 1)]
async fn one_worker_runs_the_spawned_tasks() {
    assert_eq!(weft::Handle::current().metrics().workers, 1);
    let tasks: Vec<_> = (0..4).map(|i| weft::spawn(async move { i * 2 })).collect();
    let mut sum = 0;
    for t in tasks {
        sum += t.await.unwrap();
    }
    assert_eq!(sum, 12);
}

#[weft::test]
async fn each_test_has_a_runtime_of_its_own() {
    // Tests run in parallel: a shared runtime would count the others' spawns.
    let before = weft::Handle::current().metrics().spawned;
    weft::spawn(async {}).await.unwrap();
    assert_eq!(weft::Handle::current().metrics().spawned, before + 1);
    assert_eq!(weft::all_tasks().len(), 0);
}

#[weft::test]
async fn an_ok_result_passes() -> Result<(), std::num::ParseIntError> {
    let n: u64 = "1".parse()?;
    weft::sleep(Duration::from_millis(n)).await;
    Ok(())
}

/// A `Result` body's `Err` is the function's output (the test harness fails
/// a test whose output is an `Err`).
#[weft::main(workers = 1)]
async fn fails() -> Result<(), String> {
    weft::yield_now().await;
    Err("failed".into())
}

#[test]
fn an_err_result_is_returned() {
    assert_eq!(fails(), Err("failed".to_string()));
}

#[weft::test]
#[should_panic(expected = "boom")]
async fn should_panic_passes_through() {
    weft::sleep(Duration::from_millis(1)).await;
    panic!("boom");
}

#[weft::test]
async fn inner_attributes_stay_in_the_body() {
    #![allow(clippy::let_unit_value)]
    let unit = ();
    assert_eq!(unit, ());
}

/// The facade under another path, as a program that renamed it would have.
mod renamed {
    pub(crate) use weft as my_weft;
}

#[weft::test(crate = "crate::renamed::my_weft", workers = 2)]
async fn crate_names_the_facade() {
    assert_eq!(renamed::my_weft::Handle::current().metrics().workers, 2);
}

static CLEANED_UP: AtomicUsize = AtomicUsize::new(0);

/// Leaves a task pending behind it, which cleans up when cancelled.
#[weft::main(workers = 1)]
async fn leave_a_task_behind() -> weft::TaskRef {
    let started = std::sync::Arc::new(weft::sync::Event::new());
    let task = weft::spawn({
        let started = started.clone();
        async move {
            let _guard = CountOnDrop;
            started.set();
            std::future::pending::<()>().await;
        }
    });
    started.wait().await;
    task.task_ref()
}

struct CountOnDrop;

impl Drop for CountOnDrop {
    fn drop(&mut self) {
        CLEANED_UP.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn main_returns_the_body_output_after_a_graceful_shutdown() {
    let task = leave_a_task_behind();
    // As weft::run: the pending task was cancelled and ran its cleanup
    // before the call returned.
    assert!(task.cancelled());
    assert_eq!(CLEANED_UP.load(Ordering::SeqCst), 1);
    // A second call builds a new runtime.
    let again = leave_a_task_behind();
    assert!(again.cancelled());
    assert_eq!(CLEANED_UP.load(Ordering::SeqCst), 2);
}

const LIMIT: Duration = Duration::from_secs(30);

#[weft::test(workers = 2, time_limit = LIMIT)]
async fn time_limit_runs_the_body_on_a_thread_named_after_the_test() {
    assert_eq!(
        std::thread::current().name(),
        Some("time_limit_runs_the_body_on_a_thread_named_after_the_test")
    );
    assert_eq!(weft::Handle::current().metrics().workers, 2);
    // The future is made on that thread: it need not be `Send`.
    let local = std::rc::Rc::new(5);
    weft::yield_now().await;
    assert_eq!(*local, 5);
}

#[weft::test(time_limit = Duration::from_millis(50))]
#[should_panic(expected = "did not finish within 50ms")]
async fn time_limit_fails_a_test_that_runs_too_long() {
    // Long past the limit, but it ends: the abandoned thread does not outlive
    // the test binary by much.
    weft::sleep(Duration::from_secs(2)).await;
}

#[weft::test(time_limit = LIMIT)]
#[should_panic(expected = "a panic keeps its payload")]
async fn time_limit_re_raises_the_bodys_panic() {
    weft::yield_now().await;
    panic!("a panic keeps its payload");
}

#[weft::test(time_limit = LIMIT)]
async fn time_limit_returns_the_result() -> Result<(), String> {
    weft::spawn(async { Ok(()) }).await.unwrap()
}
