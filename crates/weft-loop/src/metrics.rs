//! Runtime metrics: the counters each worker keeps ([`WorkerStats`]) and
//! the snapshot a user reads ([`RuntimeMetrics`], one [`WorkerMetrics`] per
//! worker, [`PollTimeHistogram`]). `Handle::metrics` (`runtime.rs`) reads
//! them into a snapshot.
//!
//! # Who writes what
//!
//! | counter | written by | when |
//! |---|---|---|
//! | a worker's polls, steals, parks, unparks | that worker alone | per task step run; per successful steal; per sleep and wake-up |
//! | a worker's busy time | that worker alone | when it parks, and at its maintenance tick (every 61 ticks) |
//! | a worker's poll-time histogram | that worker alone | per task step, only with `Builder::enable_poll_time_histogram` |
//! | I/O events, timer fires (`driver.rs`) | whoever turns the driver | under the driver's turn lock |
//!
//! One writer per counter, so a write is a `Relaxed` load and a `Relaxed`
//! store (no read-modify-write, no lock prefix on the poll path); the
//! driver's counters have one writer at a time, ordered by the turn lock.
//! Readers use `Relaxed` loads from any thread and never stop a worker: a
//! snapshot is read counter by counter while the workers run, so two
//! counters of one snapshot may be a few steps apart (a poll counted, its
//! histogram bucket not yet), and a queue depth is a moment's length.
//!
//! Each worker's block is cache-padded (`CachePadded` in `Remote`), so the
//! counter a worker writes on every poll never shares a line with another
//! worker's, and a reader costs the worker at most a line's transfer.
//!
//! # Clock reads
//!
//! With the histogram off, the poll path reads no clock: busy time is the
//! time between coming out of a park and the next park (or maintenance
//! tick), two clock reads per park, none per poll. With it on, each step is
//! timed (two reads of `Instant::now`).

use crate::loom::sync::{AtomicU64, Ordering::Relaxed};
use std::fmt;
use std::ops::Range;
use std::time::{Duration, Instant};

/// Buckets of the poll-time histogram.
const NUM_BUCKETS: usize = 18;
/// The first bucket's upper bound, in nanoseconds (a power of two).
const FIRST_BUCKET_NS: u64 = 256;

/// Adds `by` to a counter only one thread writes: a plain load and store,
/// which readers on other threads see whole (the module header).
#[inline(always)]
fn bump(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(by), Relaxed);
}

/// The histogram bucket of a poll that took `nanos`: 0 below 256 ns, then
/// one bucket per doubling, the last open-ended.
#[inline]
fn bucket_of(nanos: u64) -> usize {
    // 256 ns has 55 leading zeros and lands in bucket 1; each doubling one more.
    let b = 56u32.saturating_sub(nanos.leading_zeros()) as usize;
    b.min(NUM_BUCKETS - 1)
}

/// How a runtime times its loops' steps: for slow-poll warnings
/// (`Builder::slow_poll_threshold`), for the poll-time histogram
/// (`Builder::enable_poll_time_histogram`), or not at all (no clock read).
/// One timing serves both (`scheduler/step_timing.rs`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StepTiming {
    pub(crate) slow_poll: Option<Duration>,
    pub(crate) histogram: bool,
    /// Either of the two: decided once, so a worker's step tests one flag.
    on: bool,
}

impl StepTiming {
    pub(crate) fn new(slow_poll: Option<Duration>, histogram: bool) -> StepTiming {
        StepTiming {
            slow_poll,
            histogram,
            on: slow_poll.is_some() || histogram,
        }
    }

    /// Whether steps are timed at all.
    #[inline]
    pub(crate) fn is_on(self) -> bool {
        self.on
    }
}

/// One worker's counters, written by that worker alone (module header).
pub(crate) struct WorkerStats {
    poll_count: AtomicU64,
    busy_nanos: AtomicU64,
    steal_count: AtomicU64,
    steal_operations: AtomicU64,
    park_count: AtomicU64,
    unpark_count: AtomicU64,
    histogram: [AtomicU64; NUM_BUCKETS],
    /// Tasks this worker took from each worker (by index): a victim's
    /// `stolen_count` is its column, summed over the thieves, so the thief
    /// stays the only writer of what it counts.
    stolen_from: Box<[AtomicU64]>,
}

impl WorkerStats {
    /// Zeroed counters for one of `workers` workers.
    pub(crate) fn new(workers: usize) -> WorkerStats {
        WorkerStats {
            poll_count: AtomicU64::new(0),
            busy_nanos: AtomicU64::new(0),
            steal_count: AtomicU64::new(0),
            steal_operations: AtomicU64::new(0),
            park_count: AtomicU64::new(0),
            unpark_count: AtomicU64::new(0),
            histogram: std::array::from_fn(|_| AtomicU64::new(0)),
            stolen_from: (0..workers).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The owning worker runs one task step.
    #[inline]
    pub(crate) fn count_step(&self) {
        bump(&self.poll_count, 1);
    }

    /// A timed task step took `took` (`Builder::enable_poll_time_histogram`).
    pub(crate) fn record_poll_time(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        bump(&self.histogram[bucket_of(nanos)], 1);
    }

    /// Adds the time from `since` to now to the busy time; returns now.
    pub(crate) fn add_busy(&self, since: Instant) -> Instant {
        let now = Instant::now();
        let nanos = u64::try_from(now.saturating_duration_since(since).as_nanos());
        bump(&self.busy_nanos, nanos.unwrap_or(u64::MAX));
        now
    }

    /// A successful steal of `tasks` tasks from worker `victim`.
    pub(crate) fn count_steal(&self, victim: usize, tasks: u64) {
        bump(&self.steal_operations, 1);
        bump(&self.steal_count, tasks);
        if let Some(column) = self.stolen_from.get(victim) {
            bump(column, tasks);
        }
    }

    /// The worker is about to sleep.
    pub(crate) fn count_park(&self) {
        bump(&self.park_count, 1);
    }

    /// The worker woke up.
    pub(crate) fn count_unpark(&self) {
        bump(&self.unpark_count, 1);
    }

    /// Tasks this worker took from worker `victim`.
    pub(crate) fn stolen_from(&self, victim: usize) -> u64 {
        self.stolen_from.get(victim).map_or(0, |c| c.load(Relaxed))
    }

    /// This worker's counters as a snapshot; `stolen_count` (summed over the
    /// thieves) and `local_queue_depth` (read from the queue) come from the
    /// caller, and the histogram is read only if it is `enabled`.
    pub(crate) fn snapshot(
        &self,
        stolen_count: u64,
        local_queue_depth: usize,
        enabled: bool,
    ) -> WorkerMetrics {
        WorkerMetrics {
            poll_count: self.poll_count.load(Relaxed),
            total_busy_duration: Duration::from_nanos(self.busy_nanos.load(Relaxed)),
            steal_count: self.steal_count.load(Relaxed),
            steal_operations: self.steal_operations.load(Relaxed),
            stolen_count,
            park_count: self.park_count.load(Relaxed),
            unpark_count: self.unpark_count.load(Relaxed),
            local_queue_depth,
            poll_time_histogram: PollTimeHistogram {
                buckets: if enabled {
                    self.histogram.iter().map(|b| b.load(Relaxed)).collect()
                } else {
                    Vec::new()
                },
            },
        }
    }
}

impl fmt::Debug for WorkerStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerStats")
            .field("poll_count", &self.poll_count.load(Relaxed))
            .field("park_count", &self.park_count.load(Relaxed))
            .finish_non_exhaustive()
    }
}

/// A snapshot of a runtime's counters ([`Handle::metrics`](crate::Handle::metrics)),
/// read while the workers run: reading never stops a worker, so the fields
/// are each a moment's value, not all the same moment's.
///
/// Runtime-wide figures are fields here; per-worker figures are in
/// [`per_worker`](Self::per_worker), one [`WorkerMetrics`] per worker, by
/// worker index (thread `{thread_name}-{index}`). Names follow tokio's
/// `RuntimeMetrics` where tokio has the figure: tokio's
/// `worker_poll_count(i)` is `per_worker[i].poll_count`, its
/// `injection_queue_depth()` is `injection_queue_depth`, and so on.
///
/// ```
/// let rt = weft::Builder::new().workers(1).build().unwrap();
/// rt.block_on(async {
///     weft::spawn(async {
///         for _ in 0..10 {
///             weft::yield_now().await;
///         }
///     })
///     .await
///     .unwrap();
/// });
/// let m = rt.handle().metrics();
/// assert_eq!(m.workers, 1);
/// assert_eq!(m.per_worker.len(), 1);
/// assert!(m.per_worker[0].poll_count >= 11); // 10 yields, then the end
/// assert!(!m.poll_time_histogram.is_enabled()); // opt-in
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// Worker threads.
    pub workers: usize,
    /// Tasks spawned and not yet complete.
    pub live_tasks: usize,
    /// Tasks spawned since the start.
    pub spawned: usize,
    /// Successful steals from other workers' queues (the sum of the
    /// workers' [`steal_operations`](WorkerMetrics::steal_operations)).
    pub steals: usize,
    /// Times a worker went to sleep for lack of work (the sum of the
    /// workers' [`park_count`](WorkerMetrics::park_count)).
    pub parks: usize,
    /// Sockets registered with the reactor (each live socket is one).
    pub io_sources: usize,
    /// Timers waiting to fire (sleeps, intervals, `call_later`s).
    pub pending_timers: usize,
    /// Threads of the blocking pool, busy or idle.
    pub blocking_threads: usize,
    /// Each worker's figures, by worker index.
    pub per_worker: Vec<WorkerMetrics>,
    /// Tasks waiting in the injector, the queue work from outside the
    /// workers (a plain thread's `Handle::spawn`, a wake-up from `block_on`)
    /// goes to (tokio's `injection_queue_depth`).
    pub injection_queue_depth: usize,
    /// Readiness events the reactor has handed to sockets since the start
    /// (tokio's `io_driver_ready_count`).
    pub io_driver_ready_count: u64,
    /// Timers that have fired since the start: sleeps ended, interval
    /// ticks, `call_later` callbacks and timeouts due (a timer dropped or
    /// cancelled before its time is not counted).
    pub timer_fire_count: u64,
    /// [`spawn_blocking`](crate::spawn_blocking) jobs queued for a free
    /// pool thread (tokio's `blocking_queue_depth`).
    pub blocking_queue_depth: usize,
    /// Every worker's poll-time histogram, added up; empty unless the
    /// runtime was built with
    /// [`Builder::enable_poll_time_histogram`](crate::Builder::enable_poll_time_histogram).
    pub poll_time_histogram: PollTimeHistogram,
}

/// One worker's figures in a [`RuntimeMetrics`] snapshot. Each counter
/// counts from the start of the runtime. Counted task steps are those its
/// loop runs: stealable tasks, tasks pinned to it, and the first step of an
/// eager task spawned on it; `call_soon` callbacks are not task steps.
///
/// ```
/// let rt = weft::Builder::new().workers(2).build().unwrap();
/// rt.block_on(async { weft::spawn(async {}).await.unwrap() });
/// let m = rt.handle().metrics();
/// let polls: u64 = m.per_worker.iter().map(|w| w.poll_count).sum();
/// assert!(polls >= 1);
/// let parks: u64 = m.per_worker.iter().map(|w| w.park_count).sum();
/// assert_eq!(parks as usize, m.parks); // the runtime-wide sum
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// Task steps run (tokio's `worker_poll_count`).
    pub poll_count: u64,
    /// Time spent out of park: running tasks and callbacks, turning the
    /// driver, searching for work (tokio's `worker_total_busy_duration`).
    /// Measured when the worker parks and every 61 ticks, so it may lag a
    /// busy stretch by that much; it reads the clock per park, not per poll.
    pub total_busy_duration: Duration,
    /// Tasks this worker stole from other workers (tokio's
    /// `worker_steal_count`). A steal takes half a victim's queue; the count
    /// is read from this worker's queue just after, so a sibling stealing
    /// from it at that moment can make it fall short.
    pub steal_count: u64,
    /// Successful steals (each one or more tasks; tokio's
    /// `worker_steal_operations`).
    pub steal_operations: u64,
    /// Tasks other workers stole from this one (steals suffered; as
    /// counted by the thieves' `steal_count`).
    pub stolen_count: u64,
    /// Times the worker went to sleep for lack of work (tokio's
    /// `worker_park_count`).
    pub park_count: u64,
    /// Times it woke up from such a sleep: one less than `park_count`
    /// while it sleeps, equal while it runs.
    pub unpark_count: u64,
    /// Tasks queued on it now that a sibling could steal: its deque and its
    /// LIFO slot (tokio's `worker_local_queue_depth`). Tasks pinned to it
    /// and callbacks are in its own ready queue, which only it reads, and
    /// are not counted.
    pub local_queue_depth: usize,
    /// Its poll times; empty unless the histogram is enabled.
    pub poll_time_histogram: PollTimeHistogram,
}

/// How long task steps took, counted in buckets (tokio's poll-time
/// histogram), as kept with
/// [`Builder::enable_poll_time_histogram`](crate::Builder::enable_poll_time_histogram).
///
/// Buckets are fixed, 18 of them, by powers of two: bucket 0 holds steps
/// under 256 ns, bucket `i` (1 to 16) those from `256 ns << (i - 1)` to
/// under `256 ns << i`, and bucket 17 every step of 16.78 ms (`256 ns <<
/// 16`) or more. [`bucket_range`](Self::bucket_range) gives each range. A
/// runtime built without the option has an empty histogram (no buckets).
///
/// ```
/// use std::time::Duration;
///
/// let rt = weft::Builder::new()
///     .workers(1)
///     .enable_poll_time_histogram()
///     .build()
///     .unwrap();
/// rt.block_on(async {
///     // A step is counted once it has returned: by the time the one worker
///     // runs the second task, the first one's step is in.
///     weft::spawn(async {}).await.unwrap();
///     weft::spawn(async {}).await.unwrap();
/// });
/// let h = rt.handle().metrics().poll_time_histogram;
/// assert!(h.is_enabled());
/// assert_eq!(h.num_buckets(), 18);
/// assert!(h.total() >= 1);
/// assert_eq!(
///     weft::PollTimeHistogram::bucket_range(1),
///     Some(Duration::from_nanos(256)..Duration::from_nanos(512))
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollTimeHistogram {
    buckets: Vec<u64>,
}

impl PollTimeHistogram {
    /// Whether the runtime keeps the histogram (otherwise it has no buckets).
    ///
    /// ```
    /// let rt = weft::Builder::new().workers(1).build().unwrap();
    /// assert!(!rt.handle().metrics().poll_time_histogram.is_enabled());
    /// ```
    pub fn is_enabled(&self) -> bool {
        !self.buckets.is_empty()
    }

    /// Number of buckets: 18 when enabled, 0 when not (tokio's
    /// `poll_time_histogram_num_buckets`).
    ///
    /// ```
    /// let rt = weft::Builder::new().workers(1).build().unwrap();
    /// assert_eq!(rt.handle().metrics().poll_time_histogram.num_buckets(), 0);
    /// ```
    pub fn num_buckets(&self) -> usize {
        self.buckets.len()
    }

    /// The steps counted in `bucket` (0 for a bucket past the last).
    ///
    /// ```
    /// let rt = weft::Builder::new().workers(1).enable_poll_time_histogram().build().unwrap();
    /// let h = rt.handle().metrics().poll_time_histogram;
    /// assert_eq!(h.bucket_count(99), 0);
    /// ```
    pub fn bucket_count(&self, bucket: usize) -> u64 {
        self.buckets.get(bucket).copied().unwrap_or(0)
    }

    /// Every bucket's count, in bucket order (empty when not enabled).
    ///
    /// ```
    /// let rt = weft::Builder::new().workers(1).enable_poll_time_histogram().build().unwrap();
    /// let h = rt.handle().metrics().poll_time_histogram;
    /// assert_eq!(h.buckets().iter().sum::<u64>(), h.total());
    /// ```
    pub fn buckets(&self) -> &[u64] {
        &self.buckets
    }

    /// Steps counted in all buckets.
    ///
    /// ```
    /// let rt = weft::Builder::new().workers(1).build().unwrap();
    /// assert_eq!(rt.handle().metrics().poll_time_histogram.total(), 0);
    /// ```
    pub fn total(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The poll times bucket `bucket` holds (tokio's
    /// `poll_time_histogram_bucket_range`); `None` past the last bucket.
    /// The last one ends at `Duration::MAX`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::PollTimeHistogram;
    ///
    /// assert_eq!(PollTimeHistogram::bucket_range(0), Some(Duration::ZERO..Duration::from_nanos(256)));
    /// assert_eq!(PollTimeHistogram::bucket_range(17).unwrap().end, Duration::MAX);
    /// assert_eq!(PollTimeHistogram::bucket_range(18), None);
    /// ```
    pub fn bucket_range(bucket: usize) -> Option<Range<Duration>> {
        let nanos = |b: usize| Duration::from_nanos(FIRST_BUCKET_NS << (b - 1));
        match bucket {
            0 => Some(Duration::ZERO..Duration::from_nanos(FIRST_BUCKET_NS)),
            b if b < NUM_BUCKETS - 1 => Some(nanos(b)..nanos(b + 1)),
            b if b == NUM_BUCKETS - 1 => Some(nanos(b)..Duration::MAX),
            _ => None,
        }
    }

    /// Adds `other`'s counts to these (the runtime-wide sum); an empty
    /// `self` takes `other`'s buckets.
    pub(crate) fn add(&mut self, other: &PollTimeHistogram) {
        if self.buckets.len() < other.buckets.len() {
            self.buckets.resize(other.buckets.len(), 0);
        }
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn every_duration_falls_in_the_bucket_whose_range_holds_it() {
        for nanos in [
            0,
            1,
            255,
            256,
            511,
            512,
            1000,
            65_535,
            1 << 20,
            1 << 24,
            1 << 30,
            u64::MAX,
        ] {
            let b = bucket_of(nanos);
            let range = PollTimeHistogram::bucket_range(b).unwrap();
            let d = Duration::from_nanos(nanos);
            assert!(
                range.contains(&d) || (b == NUM_BUCKETS - 1 && d >= range.start),
                "{nanos} ns in bucket {b}: {range:?}"
            );
        }
    }

    #[test]
    fn the_buckets_cover_every_duration_without_gaps() {
        let mut end = Duration::ZERO;
        for b in 0..NUM_BUCKETS {
            let range = PollTimeHistogram::bucket_range(b).unwrap();
            assert_eq!(
                range.start,
                end,
                "bucket {b} starts where {} ends",
                b.wrapping_sub(1)
            );
            end = range.end;
        }
        assert_eq!(end, Duration::MAX);
        assert_eq!(PollTimeHistogram::bucket_range(NUM_BUCKETS), None);
    }
}
