//! The `#[weft::main]` and `#[weft::test]` attributes.
//!
//! Use them through the facade, as `#[weft::main]` and `#[weft::test]`; this
//! crate is an implementation detail of `weft`. Each turns an `async fn` into
//! a plain `fn` that does what `weft::run` does (asyncio's `asyncio.run`):
//! start a runtime, drive the body to completion on the calling thread, then
//! cancel the tasks still pending, give them up to
//! `weft::DEFAULT_SHUTDOWN_GRACE` to clean up, and stop the runtime.
//!
//! # Arguments
//!
//! Both attributes take the same, comma-separated, each at most once:
//!
//! - `workers = N`: the number of worker threads, a positive integer literal
//!   (`weft::Builder::workers`). Without it, one per available core, as
//!   `weft::run`.
//! - `crate = "path"`: the path of the `weft` crate, for a program that
//!   renamed the dependency (`my_weft = { package = "weft", .. }` in
//!   Cargo.toml). Without it the generated code names `::weft`.
//! - `time_limit = DURATION` (`#[weft::test]` only): any expression of type
//!   `std::time::Duration`. The body then runs on a thread of its own (named
//!   as the test), and the test fails if it has not finished, runtime
//!   shutdown included, within that time: a hang or a deadlock fails the test
//!   instead of hanging the suite. The thread is then left behind.
//!
//! There is no `start_paused` (tokio's option that starts a test with its
//! clock frozen): weft's timers run on the monotonic clock, which cannot be
//! paused or advanced by hand.
//!
//! # Errors
//!
//! A function that is not `async`, takes arguments or is generic, an unknown,
//! repeated or ill-typed argument, `workers = 0`, `#[weft::test]` on `main`
//! or with a `#[test]` of its own, and `time_limit` on `#[weft::main]` are
//! compile errors pointing at the offending tokens.

#![warn(missing_docs)]

use proc_macro::TokenStream;

mod entry;

/// Runs an `async fn main` on a weft runtime, as `asyncio.run(main())` does.
///
/// ```
/// #[weft::main(workers = 2)]
/// async fn main() {
///     let task = weft::spawn(async { 40 + 2 });
///     assert_eq!(task.await.unwrap(), 42);
///     assert_eq!(weft::Handle::current().metrics().workers, 2);
/// }
/// ```
///
/// It expands to (roughly)
///
/// ```text
/// fn main() {
///     async fn body() {
///         let task = weft::spawn(async { 40 + 2 });
///         // ...
///     }
///     weft::__private::run_with(weft::Builder::new().workers(2), body())
/// }
/// ```
///
/// where `run_with` is `weft::run` on a runtime built from that builder: it
/// builds the runtime (panicking if it cannot start its threads), drives the
/// body, then cancels the tasks still pending and gives them up to
/// `weft::DEFAULT_SHUTDOWN_GRACE` to clean up before it stops the workers.
///
/// The function may return anything `main` may, such as a `Result`:
///
/// ```
/// #[weft::main]
/// async fn main() -> Result<(), std::num::ParseIntError> {
///     let n: u32 = "7".parse()?;
///     weft::sleep(std::time::Duration::from_millis(n.into())).await;
///     Ok(())
/// }
/// ```
///
/// Arguments: `workers = N` and `crate = "path"` (see the crate's docs).
/// There is no `start_paused`: weft's clock cannot be paused.
///
/// The attribute also works on a function not named `main` (with no
/// arguments), which then blocks its caller until the body is done:
///
/// ```
/// #[weft::main(workers = 1)]
/// async fn answer() -> u32 {
///     weft::spawn(async { 42 }).await.unwrap()
/// }
///
/// fn main() {
///     assert_eq!(answer(), 42);
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(entry::Kind::Main, args.into(), item.into()).into()
}

/// Makes an `async fn` a `#[test]` that runs on its own weft runtime.
///
/// ```no_run
/// use std::time::Duration;
///
/// #[weft::test]
/// async fn spawns() {
///     let task = weft::spawn(async { 1 + 1 });
///     assert_eq!(task.await.unwrap(), 2);
/// }
///
/// #[weft::test(workers = 2)]
/// async fn may_fail() -> Result<(), std::num::ParseIntError> {
///     assert_eq!("2".parse::<usize>()?, weft::Handle::current().metrics().workers);
///     Ok(())
/// }
///
/// #[weft::test]
/// #[should_panic(expected = "boom")]
/// async fn panics() {
///     weft::spawn(async { panic!("boom") }).await.unwrap();
/// }
///
/// #[weft::test(time_limit = Duration::from_secs(10))]
/// async fn fails_if_it_hangs() {
///     weft::sleep(Duration::from_millis(1)).await;
/// }
/// # fn main() {}
/// ```
///
/// Each test builds a runtime of its own and, when its body returns, shuts
/// it down as `weft::run` does (the tasks still pending are cancelled and
/// given up to `weft::DEFAULT_SHUTDOWN_GRACE` to clean up), so no task,
/// timer or socket outlives its test. The body may return a `Result`, which
/// fails the test when it is an `Err`; other attributes such as
/// `#[should_panic]` or `#[ignore]` go below `#[weft::test]`.
///
/// Arguments: `workers = N` and `crate = "path"`, as for [`macro@main`],
/// and `time_limit = DURATION`: the test fails if its body has not finished
/// within that time (see the crate's docs). There is no `start_paused`:
/// weft's clock cannot be paused.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(entry::Kind::Test, args.into(), item.into()).into()
}
