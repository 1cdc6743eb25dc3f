//! The blocking pool behind [`spawn_blocking`] / [`to_thread`]: threads for
//! sync code that would stall a loop (file I/O, a blocking library, heavy
//! computation).
//!
//! # Protocol
//!
//! One mutex over the queue of jobs, the thread count, the idle count and a
//! `closed` flag; one condvar for idle threads.
//!
//! - **Submit:** push the job; if a thread is idle and not already woken
//!   for an earlier job, `notify_one`; else, below the cap, start a thread. Above the cap the job waits in the queue for
//!   the next thread to come free.
//! - **A pool thread** takes jobs until the queue is empty, then waits (idle)
//!   on the condvar for at most the keep-alive; woken with nothing to do
//!   after the keep-alive, it exits. It re-checks the queue under the lock
//!   before every wait, and submitters push under that lock before they
//!   notify, so no job waits while a thread is idle.
//! - **Close** (the runtime shuts down): refuse new jobs, drop the queued
//!   ones (each completes its [`ConcurrentFuture`] `Cancelled`) and wake the
//!   idle threads to exit. Jobs already running run to their end on their
//!   threads, which are not joined: a blocking call cannot be interrupted.

use crate::bridge::{ConcurrentFuture, Slot, Source};
use crate::loom::sync::{Condvar, Mutex};
use crate::Handle;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use weft_task::{Cancelled, TaskError};

/// Default cap on blocking threads (tokio's figure).
pub(crate) const DEFAULT_MAX_THREADS: usize = 512;
/// Default time an idle blocking thread waits for work before it exits.
pub(crate) const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

pub(crate) struct BlockingPool {
    state: Mutex<PoolState>,
    work: Condvar,
    max_threads: usize,
    keep_alive: Duration,
    thread_name: String,
}

struct PoolState {
    queue: VecDeque<Job>,
    threads: usize,
    /// Threads waiting on the condvar.
    idle: usize,
    /// Wake-ups sent to idle threads and not yet taken by one: a woken
    /// thread counts as idle until it runs again, so submitters count only
    /// `idle - notified` as free (else two quick submits would both wake the
    /// same thread and start none).
    notified: usize,
    closed: bool,
}

impl BlockingPool {
    pub(crate) fn new(
        max_threads: usize,
        keep_alive: Duration,
        thread_name: String,
    ) -> BlockingPool {
        BlockingPool {
            state: Mutex::new(PoolState {
                queue: VecDeque::new(),
                threads: 0,
                idle: 0,
                notified: 0,
                closed: false,
            }),
            work: Condvar::new(),
            max_threads: max_threads.max(1),
            keep_alive,
            thread_name,
        }
    }

    /// Queues `job`, starting a thread if none is idle and the cap allows.
    /// On a closed pool the job is dropped (its future completes cancelled).
    fn submit(self: &Arc<Self>, job: Job) {
        let mut st = self.state.lock();
        if st.closed {
            drop(st);
            drop(job);
            return;
        }
        st.queue.push_back(job);
        if st.idle > st.notified {
            st.notified += 1;
            drop(st);
            self.work.notify_one();
            return;
        }
        if st.threads >= self.max_threads {
            return;
        }
        st.threads += 1;
        drop(st);
        let pool = self.clone();
        let started = std::thread::Builder::new()
            .name(self.thread_name.clone())
            .spawn(move || pool.run());
        if let Err(e) = started {
            tracing::error!(error = %e, "could not start a blocking-pool thread");
            let mut st = self.state.lock();
            st.threads -= 1;
            if st.threads == 0 {
                // No thread will ever take the queue: fail what is in it.
                let queue = std::mem::take(&mut st.queue);
                drop(st);
                drop(queue);
            }
        }
    }

    /// A pool thread: runs jobs, waits idle up to the keep-alive, exits.
    fn run(&self) {
        let mut st = self.state.lock();
        loop {
            if let Some(job) = st.queue.pop_front() {
                drop(st);
                job();
                st = self.state.lock();
                continue;
            }
            if st.closed {
                break;
            }
            st.idle += 1;
            let deadline = std::time::Instant::now() + self.keep_alive;
            let timed_out = self.work.wait_until(&mut st, deadline).timed_out();
            st.idle -= 1;
            let woken = st.notified > 0;
            if woken {
                st.notified -= 1;
            }
            if timed_out && !woken && st.queue.is_empty() {
                break;
            }
        }
        st.threads -= 1;
    }

    /// Refuses new jobs, drops the queued ones and lets idle threads exit.
    pub(crate) fn close(&self) {
        let queue = {
            let mut st = self.state.lock();
            st.closed = true;
            std::mem::take(&mut st.queue)
        };
        self.work.notify_all();
        drop(queue);
    }

    /// Threads alive now (busy or idle).
    pub(crate) fn threads(&self) -> usize {
        self.state.lock().threads
    }
}

impl fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.lock();
        f.debug_struct("BlockingPool")
            .field("threads", &st.threads)
            .field("idle", &st.idle)
            .field("queued", &st.queue.len())
            .field("max_threads", &self.max_threads)
            .finish()
    }
}

/// Completes the job's future `Cancelled` if the job is dropped unrun.
struct Unrun<T>(Arc<Slot<T>>);

impl<T> Drop for Unrun<T> {
    fn drop(&mut self) {
        self.0
            .complete(Err(TaskError::Cancelled(Cancelled::with_message(
                "runtime is shut down",
            ))));
    }
}

/// Runs `f` on `pool`; its outcome (a value, or its panic as the error)
/// completes the returned future.
pub(crate) fn spawn_on<T, F>(pool: &Arc<BlockingPool>, f: F) -> ConcurrentFuture<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let slot = Slot::new(Source::Job);
    let unrun = Unrun(slot.clone());
    pool.submit(Box::new(move || {
        let slot = &unrun.0;
        if !slot.start_job() {
            return; // cancelled before it started
        }
        let outcome = weft_task::catch_panic(f).map_err(TaskError::Panicked);
        slot.complete(outcome);
        drop(unrun); // a no-op now: the slot is complete
    }));
    ConcurrentFuture::from_slot(slot)
}

/// Runs the sync function `f` on the runtime's blocking pool, so it does not
/// stall a loop (tokio's `spawn_blocking`, asyncio's `to_thread` /
/// `run_in_executor`), and returns a [`ConcurrentFuture`] to await (or, from
/// a plain thread, to wait on). A panic in `f` is that future's error.
///
/// The pool grows up to [`Builder::max_blocking_threads`](crate::Builder::max_blocking_threads)
/// threads (512 by default), and a thread idle for
/// [`Builder::blocking_keep_alive`](crate::Builder::blocking_keep_alive) (10 s)
/// exits. `cancel()` skips a job that has not started; a running one cannot
/// be stopped. At shutdown, queued jobs end `Cancelled` and running ones run
/// to their end on their own threads.
///
/// # Panics
///
/// Outside a weft runtime (use [`Handle::spawn_blocking`]).
///
/// ```
/// weft::run(async {
///     let sum = weft::spawn_blocking(|| (1..=10).sum::<u32>()).await.unwrap();
///     assert_eq!(sum, 55);
///     let err = weft::to_thread(|| panic!("boom")).await.unwrap_err();
///     assert!(err.task_error().unwrap().is_panic());
/// });
/// ```
#[track_caller]
pub fn spawn_blocking<T, F>(f: F) -> ConcurrentFuture<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Handle::current().spawn_blocking(f)
}

/// asyncio's name for [`spawn_blocking`]: `await asyncio.to_thread(f)`.
#[track_caller]
pub fn to_thread<T, F>(f: F) -> ConcurrentFuture<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_blocking(f)
}
