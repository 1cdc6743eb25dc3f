//! criterion's [`AsyncExecutor`] for weft (feature `criterion`), so a
//! benchmark of async code runs on weft the way it runs on tokio:
//! `b.to_async(&runtime)` or `b.to_async(handle)`.
//!
//! The impls live here, beside [`Runtime`] and [`Handle`], because of the
//! orphan rule (neither the trait nor the types are the facade's). Both go
//! through [`Handle::block_on`], the one `block_on` driver
//! (`scheduler/block_on.rs`): criterion's `AsyncBencher` calls
//! `block_on` once per sample, with a future that runs the sample's
//! iterations and times them, so the bench thread becomes a `block_on`
//! loop for the sample while the workers run everything the routine spawns.
//! That is also why a `Handle` needs nothing more: unlike tokio's, weft's
//! `Handle` already blocks a plain thread on a borrowed (non-`'static`)
//! future.

use crate::runtime::{Handle, Runtime};
use ::criterion::async_executor::AsyncExecutor;
use std::future::Future;

/// `b.to_async(&runtime)`: each sample runs in [`Runtime::block_on`] on the
/// bench thread; tasks the routine spawns run on the workers.
///
/// # Panics
///
/// As [`Handle::block_on`]: on a thread already running a weft loop (a bench
/// routine called from inside a task, or inside another `block_on`), with
/// "cannot block on a future inside a running weft loop: use .await
/// instead", and if the runtime is shut down.
///
/// ```
/// use criterion::Criterion;
/// use std::time::Duration;
///
/// let rt = weft::Runtime::new().unwrap();
/// let mut c = Criterion::default()
///     .sample_size(10)
///     .nresamples(1_000)
///     .warm_up_time(Duration::from_millis(10))
///     .measurement_time(Duration::from_millis(50));
/// c.bench_function("spawn_and_await", |b| {
///     b.to_async(&rt)
///         .iter(|| async { weft::spawn(async { 1 + 1 }).await.unwrap() })
/// });
/// ```
impl AsyncExecutor for &Runtime {
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        Handle::block_on(self.handle(), future)
    }
}

/// `b.to_async(handle)`, for a bench that keeps only a [`Handle`] (a
/// runtime built elsewhere, or [`Handle::current`] taken before the bench):
/// the same as `&Runtime`, through [`Handle::block_on`].
///
/// # Panics
///
/// As [`Handle::block_on`]: on a thread already running a weft loop (for
/// example a handle used to bench from inside a task), with "cannot block on
/// a future inside a running weft loop: use .await instead", and once the
/// runtime is shut down.
///
/// ```
/// use criterion::Criterion;
/// use std::time::Duration;
///
/// let rt = weft::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// let mut c = Criterion::default()
///     .sample_size(10)
///     .nresamples(1_000)
///     .warm_up_time(Duration::from_millis(10))
///     .measurement_time(Duration::from_millis(50));
/// c.bench_function("sleep_zero", |b| {
///     b.to_async(handle.clone())
///         .iter(|| weft::sleep(Duration::ZERO))
/// });
/// ```
impl AsyncExecutor for Handle {
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        Handle::block_on(self, future)
    }
}

/// `b.to_async(rt.handle())`: as [`Handle`], borrowed.
///
/// # Panics
///
/// As the impl for [`Handle`].
///
/// ```
/// use criterion::Criterion;
/// use std::time::Duration;
///
/// let rt = weft::Runtime::new().unwrap();
/// let mut c = Criterion::default()
///     .sample_size(10)
///     .nresamples(1_000)
///     .warm_up_time(Duration::from_millis(10))
///     .measurement_time(Duration::from_millis(50));
/// c.bench_function("yield_now", |b| b.to_async(rt.handle()).iter(weft::yield_now));
/// ```
impl AsyncExecutor for &Handle {
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        Handle::block_on(self, future)
    }
}
