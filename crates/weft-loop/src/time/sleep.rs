//! [`Sleep`], [`SleepWith`] and [`Interval`].

use super::TimerEntry;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Waits until `duration` has passed (asyncio's `sleep`). `sleep(0)` yields
/// to the loop exactly once, as in asyncio.
///
/// Never returns early; on an idle machine it returns within about a
/// millisecond of the deadline. Dropping the future cancels the timer.
///
/// After shutdown: a sleep that was waiting when its runtime shut down ends
/// at once (its task is being cancelled, or it is the main future of a
/// `block_on` that should notice the runtime is gone: see
/// [`Handle::is_closed`](crate::Handle::is_closed)). A sleep first polled
/// after shutdown, which only the main future or a pinned task of a
/// `block_on` still running can do, waits out its duration as usual: that
/// loop's thread then turns the timers itself. So a periodic loop in such a
/// `block_on` keeps its period rather than spinning.
///
/// # Panics
///
/// When polled outside a weft runtime (the timer needs one to fire).
///
/// ```
/// use std::time::{Duration, Instant};
///
/// weft::run(async {
///     let start = Instant::now();
///     weft::sleep(Duration::from_millis(20)).await;
///     assert!(start.elapsed() >= Duration::from_millis(20));
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    let mut s = sleep_until(crate::deadline::after(duration));
    s.yield_once = duration.is_zero();
    s
}

/// Waits until `deadline` (tokio's `sleep_until`; asyncio spells it
/// `sleep(when - loop.time())`). A deadline already past is ready at once.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// weft::run(async {
///     let deadline = Instant::now() + Duration::from_millis(5);
///     weft::sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline);
/// });
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        timer: None,
        yield_once: false,
    }
}

/// Waits `duration`, then returns `value` (asyncio's `sleep(delay, result)`).
///
/// ```
/// use std::time::Duration;
///
/// weft::run(async {
///     let v = weft::sleep_with(Duration::from_millis(1), "done").await;
///     assert_eq!(v, "done");
/// });
/// ```
pub fn sleep_with<T>(duration: Duration, value: T) -> SleepWith<T> {
    SleepWith {
        sleep: sleep(duration),
        value: Some(value),
    }
}

/// The future of [`sleep`] and [`sleep_until`]. Dropping it cancels the timer.
///
/// ```
/// use std::time::Duration;
///
/// weft::run(async {
///     // A sleep is a value: it can be kept, inspected, and raced.
///     let mut long: weft::Sleep = weft::sleep(Duration::from_secs(3600));
///     let short = weft::sleep(Duration::from_millis(1));
///     futures_util::future::select(&mut long, short).await;
///     assert!(!long.is_elapsed());
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    timer: Option<TimerEntry>,
    /// `sleep(0)`: pending once, then ready.
    yield_once: bool,
}

impl Sleep {
    /// When this sleep ends.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let deadline = Instant::now() + Duration::from_secs(1);
    /// assert_eq!(weft::sleep_until(deadline).deadline(), deadline);
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// assert!(weft::sleep_until(Instant::now()).is_elapsed());
    /// assert!(!weft::sleep(Duration::from_secs(3600)).is_elapsed());
    /// ```
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline (earlier or later); the next poll waits for the new
    /// one. Used by timeout scopes' `reschedule`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// weft::run(async {
    ///     let mut s = weft::sleep(Duration::from_secs(3600));
    ///     s.reset(Instant::now() + Duration::from_millis(1));
    ///     s.await;
    /// });
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.cancel_timer();
        self.deadline = deadline;
        self.yield_once = false;
    }

    fn cancel_timer(&mut self) {
        self.timer = None;
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.yield_once {
            this.yield_once = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        // A timer that fired is past its deadline: no clock read, and its
        // drop takes no lock (the common wake-up of a sleep).
        if this.timer.as_ref().is_some_and(TimerEntry::has_fired) || Instant::now() >= this.deadline
        {
            this.cancel_timer();
            return Poll::Ready(());
        }
        if let Some(entry) = &this.timer {
            if entry.outlived_runtime() {
                this.cancel_timer();
                return Poll::Ready(());
            }
            if entry.set_waker(cx.waker()) {
                return Poll::Pending;
            }
            // Gone from the wheel and not past its deadline: registered after
            // shutdown, then drained by a later `close` (a `block_on` that
            // turned the driver since, ending). Register again.
        }
        let (driver, key) = crate::context::with_current(|lp| {
            let lp = lp.expect("weft::sleep polled outside a weft runtime");
            (lp.shared().driver.clone(), lp.key())
        });
        this.timer = Some(TimerEntry::register(
            driver,
            key,
            this.deadline,
            cx.waker().clone(),
        ));
        Poll::Pending
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registered", &self.timer.is_some())
            .finish()
    }
}

/// The future of [`sleep_with`]. Dropping it cancels the timer and drops
/// the value.
///
/// ```
/// use std::time::Duration;
///
/// weft::run(async {
///     let later: weft::SleepWith<u32> = weft::sleep_with(Duration::from_millis(1), 7);
///     assert_eq!(later.await, 7);
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct SleepWith<T> {
    sleep: Sleep,
    value: Option<T>,
}

impl<T> Unpin for SleepWith<T> {}

impl<T> Future for SleepWith<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        std::task::ready!(Pin::new(&mut self.sleep).poll(cx));
        Poll::Ready(
            self.value
                .take()
                .expect("SleepWith polled after completion"),
        )
    }
}

/// Ticks every `period`, the first tick at once (tokio's `interval`).
///
/// A tick that comes late (the task was busy) is delivered at once, and the
/// schedule then skips the ticks it missed rather than bursting to catch up.
///
/// # Panics
///
/// If `period` is zero.
///
/// ```
/// use std::time::Duration;
///
/// weft::run(async {
///     let mut every = weft::interval(Duration::from_millis(2));
///     let first = every.tick().await;
///     let second = every.tick().await;
///     assert!(second - first >= Duration::from_millis(2));
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Like [`interval`], the first tick at `start`.
///
/// # Panics
///
/// If `period` is zero.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// weft::run(async {
///     let start = Instant::now() + Duration::from_millis(5);
///     let mut every = weft::interval_at(start, Duration::from_millis(2));
///     assert_eq!(every.tick().await, start);
///     assert!(Instant::now() >= start);
/// });
/// ```
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(!period.is_zero(), "interval period must be non-zero");
    Interval {
        sleep: sleep_until(start),
        period,
    }
}

/// The timer of [`interval`]. Dropping it cancels the pending tick.
///
/// ```
/// use std::time::Duration;
///
/// weft::run(async {
///     let mut every: weft::Interval = weft::interval(Duration::from_millis(1));
///     for _ in 0..3 {
///         every.tick().await;
///     }
/// });
/// ```
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
}

impl Interval {
    /// Waits for the next tick and returns when it was scheduled.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// weft::run(async {
    ///     let mut every = weft::interval(Duration::from_millis(3));
    ///     let first = every.tick().await;
    ///     let second = every.tick().await;
    ///     // On the schedule (a late tick skips the ones it missed).
    ///     assert_eq!((second - first).as_nanos() % 3_000_000, 0);
    /// });
    /// ```
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick (see [`tick`](Self::tick)).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// weft::run(async {
    ///     let mut every = weft::interval(Duration::from_millis(1));
    ///     let at = std::future::poll_fn(|cx| every.poll_tick(cx)).await;
    ///     assert!(at <= std::time::Instant::now());
    /// });
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        std::task::ready!(Pin::new(&mut self.sleep).poll(cx));
        let scheduled = self.sleep.deadline();
        let now = Instant::now();
        let after = |periods: u128| {
            let nanos = self.period.as_nanos().saturating_mul(periods);
            let nanos = u64::try_from(nanos).unwrap_or(u64::MAX);
            crate::deadline::saturating_add(scheduled, Duration::from_nanos(nanos))
        };
        let mut next = after(1);
        if next <= now {
            // Missed ticks: skip to the first one still ahead.
            let behind = (now - scheduled).as_nanos() / self.period.as_nanos();
            next = after(behind + 1);
        }
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// The time between ticks.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// weft::run(async {
    ///     let every = weft::interval(Duration::from_millis(250));
    ///     assert_eq!(every.period(), Duration::from_millis(250));
    /// });
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }
}
