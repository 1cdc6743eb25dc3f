//! What hyper asks of a runtime: [`WeftExecutor`] (hyper's `Executor`,
//! spawning HTTP/2 streams and background work as weft tasks) and
//! [`WeftTimer`] (hyper's `Timer`, on weft's timer wheel, so the header-read
//! timeout and keep-alive work).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use weft_loop::Handle;

/// hyper's [`Executor`](hyper::rt::Executor) on weft: each future hyper hands
/// over (an HTTP/2 stream, a client connection's background work) becomes a
/// detached weft task.
///
/// [`WeftExecutor::new`] spawns on the runtime current where hyper calls it
/// (hyper calls it from the connection's task, so that is the connection's
/// runtime); [`WeftExecutor::with_handle`] always spawns on the given one.
/// Cheap to clone; dropping it does nothing to the tasks it spawned.
///
/// # Panics
///
/// An executor made by `new` panics when hyper calls it on a thread outside
/// any weft runtime, as [`weft::spawn`](weft_loop::spawn) does.
///
/// ```
/// use weft::hyper::WeftExecutor;
///
/// weft::run(async {
///     let (tx, rx) = std::sync::mpsc::channel();
///     hyper::rt::Executor::execute(&WeftExecutor::new(), async move { tx.send(7).unwrap() });
///     weft::sleep(std::time::Duration::from_millis(10)).await;
///     assert_eq!(rx.try_recv(), Ok(7));
/// });
/// ```
#[derive(Clone, Debug, Default)]
pub struct WeftExecutor {
    handle: Option<Handle>,
}

impl WeftExecutor {
    /// An executor that spawns on the runtime current at each call.
    ///
    /// ```
    /// let exec = weft::hyper::WeftExecutor::new();
    /// let builder = hyper_util::server::conn::auto::Builder::new(exec);
    /// # drop(builder);
    /// ```
    pub fn new() -> WeftExecutor {
        WeftExecutor { handle: None }
    }

    /// An executor that spawns on `handle`'s runtime, from any thread.
    ///
    /// ```
    /// let rt = weft::Runtime::new().unwrap();
    /// let exec = weft::hyper::WeftExecutor::with_handle(rt.handle().clone());
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// hyper::rt::Executor::execute(&exec, async move { tx.send(1).unwrap() });
    /// assert_eq!(rx.recv(), Ok(1));
    /// ```
    pub fn with_handle(handle: Handle) -> WeftExecutor {
        WeftExecutor {
            handle: Some(handle),
        }
    }
}

impl<F> hyper::rt::Executor<F> for WeftExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        match &self.handle {
            Some(handle) => handle.spawn(fut).detach(),
            None => weft_loop::spawn(fut).detach(),
        }
    }
}

/// hyper's [`Timer`](hyper::rt::Timer) on weft's timers: its sleeps are
/// weft [`Sleep`](weft_loop::Sleep)s, and hyper's `reset` moves the
/// deadline of the sleep it has instead of allocating a new one.
///
/// Without a timer hyper silently ignores its header-read timeout; the serve
/// helper ([`serve`](crate::serve)) always sets this one. The sleeps must be
/// polled inside a weft runtime (hyper polls them in the connection's task).
///
/// ```
/// use hyper::rt::Timer;
/// use std::time::{Duration, Instant};
///
/// weft::run(async {
///     let start = Instant::now();
///     weft::hyper::WeftTimer::new().sleep(Duration::from_millis(5)).await;
///     assert!(start.elapsed() >= Duration::from_millis(5));
/// });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct WeftTimer {
    _private: (),
}

impl WeftTimer {
    /// The timer (it holds nothing: the runtime polling a sleep fires it).
    ///
    /// ```
    /// let timer = weft::hyper::WeftTimer::new();
    /// let mut builder = hyper_util::server::conn::auto::Builder::new(weft::hyper::WeftExecutor::new());
    /// builder.http1().timer(timer);
    /// builder.http2().timer(timer);
    /// ```
    pub fn new() -> WeftTimer {
        WeftTimer { _private: () }
    }
}

/// A weft `Sleep` as hyper's `Sleep` (the orphan rule wants the newtype).
struct HyperSleep {
    inner: weft_loop::Sleep,
}

impl Future for HyperSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.inner).poll(cx)
    }
}

impl hyper::rt::Sleep for HyperSleep {}

impl hyper::rt::Timer for WeftTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep {
            inner: weft_loop::sleep(duration),
        })
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep {
            inner: weft_loop::sleep_until(deadline),
        })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HyperSleep>() {
            Some(mut ours) => ours.inner.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Timer;

    #[test]
    fn reset_moves_the_deadline_of_the_same_sleep() {
        weft::run(async {
            let timer = WeftTimer::new();
            let mut s = timer.sleep(Duration::from_secs(3600));
            let before: *const () = (&*s as *const dyn hyper::rt::Sleep).cast();
            let deadline = Instant::now() + Duration::from_millis(2);
            timer.reset(&mut s, deadline);
            let after: *const () = (&*s as *const dyn hyper::rt::Sleep).cast();
            assert_eq!(before, after, "reset reallocated the sleep");
            s.await;
            assert!(Instant::now() >= deadline);
        });
    }
}
