//! The blocking pool behind `spawn_blocking` / `to_thread` (`blocking.rs`):
//! threads for sync code that would stall a loop (file I/O, a blocking
//! library, heavy computation). Jobs are plain boxed closures; what a job
//! completes (its `ConcurrentFuture`) is the caller's business.
//!
//! # Protocol
//!
//! One mutex over the queue of jobs, the thread count, the idle count, the
//! wake-up count and a `closed` flag; one condvar for idle threads.
//!
//! - **Submit:** push the job; if an idle thread is free (`idle > notified`),
//!   count a wake-up and `notify_one`; else, below the cap, start a thread.
//!   Above the cap the job waits in the queue for the next thread to come
//!   free.
//! - **A pool thread** takes jobs until the queue is empty, then waits (idle)
//!   on the condvar for at most the keep-alive. Coming out of the wait (woken,
//!   timed out or spuriously) it claims one counted wake-up if there is one.
//!   Woken with nothing to do after the keep-alive, it exits. It re-checks
//!   the queue under the lock before every wait, and submitters push under
//!   that lock, so no job waits while a thread is idle.
//! - **Take over a wake-up:** a thread that takes a job while more wake-ups
//!   are counted than jobs are left took a job some idle thread was woken
//!   for; it takes that wake-up over (uncounts it). The woken thread then
//!   finds none to claim: a spurious wake-up, it waits again.
//! - **Close** (the runtime shuts down): refuse new jobs, drop the queued
//!   ones (each completes its `ConcurrentFuture` `Cancelled`) and wake the
//!   idle threads to exit. Jobs already running run to their end on their
//!   threads, which are not joined: a blocking call cannot be interrupted.
//!
//! # Why the counts stay right
//!
//! `idle` counts the threads between going idle and relocking after their
//! wait, whether still waiting or already out of it (woken, timed out) and
//! not yet run. While the pool is open, under the lock:
//!
//! 1. `notified <= queue.len()`. A submit adds one to each or only to the
//!    queue; a thread that takes a job leaves `notified` at most the jobs
//!    left, by the take-over; a thread claiming a wake-up lowers `notified`
//!    alone; a failed thread start empties the queue only when no thread is
//!    left, so none idle and (by 2) none counted. So every counted wake-up
//!    has a job queued for it, and a thread that claims one finds a job.
//! 2. `notified <= idle`, and `notified <=` the idle threads already out
//!    of their wait plus the `notify_one`s still to be made (a submitter
//!    makes its own just after it unlocks). A submit counts a wake-up only
//!    when `idle > notified`, and adds a `notify_one` to be made; that call
//!    brings a waiting thread out, or finds none waiting, when all `idle`
//!    are out already and `notified <= idle` leaves room. A thread that
//!    relocks after its wait leaves `idle` and the out-of-wait threads one
//!    lower, and `notified` one lower with them when it is not zero; a
//!    wait that ends by timeout (or spuriously) only adds to the threads out
//!    of it; the take-over only lowers `notified`.
//!
//! By 2, a submit that finds `idle <= notified` leaves no thread waiting
//! for good: each idle thread is out of its wait or about to be brought out
//! by a `notify_one` on its way, and comes to the queue before it waits
//! again; so no job waits while a thread is idle. By 1, a submit starts a
//! thread (`idle <= notified`) only when every idle thread is spoken for by
//! a job queued ahead of its own. Without the take-over a busy thread that
//! got to the queue before the woken one left a wake-up counted with no
//! job, and the next submit started a thread although the woken one would
//! be free.
//! Closing empties the queue, so 1 no longer holds; it need not: after
//! close no job is queued, and every thread that comes to the queue exits.

use crate::loom::sync::{Condvar, Mutex};
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Default cap on blocking threads (tokio's figure).
pub(crate) const DEFAULT_MAX_THREADS: usize = 512;
/// Default time an idle blocking thread waits for work before it exits.
pub(crate) const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(10);

/// A job: run once on a pool thread, or dropped unrun at close.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

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
    /// Wake-ups sent to idle threads and not yet claimed by one, each for a
    /// queued job: a woken thread counts as idle until it runs again, so
    /// submitters count only `idle - notified` as free (else two quick
    /// submits would both wake the same thread and start none). Kept at most
    /// `queue.len()` (see "Why the counts stay right").
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
    pub(crate) fn submit(self: &Arc<Self>, job: Job) {
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
            if let Some(job) = st.take_job() {
                drop(st);
                job();
                st = self.state.lock();
                continue;
            }
            if st.closed {
                break;
            }
            st.idle += 1;
            let deadline = crate::deadline::after(self.keep_alive);
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

    /// Jobs queued for a free thread now.
    pub(crate) fn queue_depth(&self) -> usize {
        self.state.lock().queue.len()
    }
}

impl PoolState {
    /// The next job for a pool thread to run, taking over a wake-up it was
    /// counted for when more are counted than jobs are left (rule 1 of the
    /// module header).
    fn take_job(&mut self) -> Option<Job> {
        let job = self.queue.pop_front()?;
        if self.notified > self.queue.len() {
            // An idle thread was woken for this job and has not run yet: it
            // will find no wake-up to claim and wait again.
            self.notified -= 1;
        }
        Some(job)
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Far beyond any real latency; only bounds a failing test.
    const PATIENCE: Duration = Duration::from_secs(5);

    /// A job that reports `n` on `ran`, then blocks until the test sends on
    /// the returned gate (or 5 s pass).
    fn gated_job(ran: &mpsc::Sender<u32>, n: u32) -> (Job, mpsc::Sender<()>) {
        let (gate, wait) = mpsc::channel();
        let ran = ran.clone();
        let job = Box::new(move || {
            ran.send(n).unwrap();
            let _ = wait.recv_timeout(PATIENCE);
        });
        (job, gate)
    }

    /// Regression (an extra thread seen under load in
    /// `idle_pool_threads_are_kept_and_reused_within_the_keep_alive`): a busy
    /// thread that takes the job an idle thread was just woken for left that
    /// wake-up counted, so the next submit saw no free idle thread and
    /// started a new one, although the woken thread would find no job.
    ///
    /// The race's window (woken, not yet run again) is held open by the test
    /// standing in for the woken thread: it is counted idle and never takes a
    /// job, as a woken thread that the OS has not yet run.
    #[test]
    fn a_busy_thread_that_takes_a_woken_threads_job_takes_over_its_wake_up() {
        let pool = Arc::new(BlockingPool::new(
            16,
            Duration::from_secs(60),
            "pool-test".to_owned(),
        ));
        let (ran_tx, ran) = mpsc::channel();
        // Thread A, busy in job 0.
        let (job0, gate0) = gated_job(&ran_tx, 0);
        pool.submit(job0);
        assert_eq!(ran.recv_timeout(PATIENCE), Ok(0));
        assert_eq!(pool.threads(), 1);

        // An idle thread, woken for job 1 but not yet run.
        pool.state.lock().idle += 1;
        let (job1, gate1) = gated_job(&ran_tx, 1);
        pool.submit(job1);
        assert_eq!(pool.threads(), 1, "job 1 woke the idle thread");

        // A finishes job 0 first and takes job 1.
        gate0.send(()).unwrap();
        assert_eq!(ran.recv_timeout(PATIENCE), Ok(1));

        // The woken thread has no job left: job 2 is its, not a new thread's.
        let (job2, gate2) = gated_job(&ran_tx, 2);
        pool.submit(job2);
        assert_eq!(
            pool.threads(),
            1,
            "a thread started although the woken idle thread had no job"
        );

        // A takes job 2 once job 1 is done; the stand-in leaves with no
        // wake-up left counted for it.
        gate1.send(()).unwrap();
        assert_eq!(ran.recv_timeout(PATIENCE), Ok(2));
        gate2.send(()).unwrap();
        {
            let mut st = pool.state.lock();
            st.idle -= 1;
            assert_eq!(st.notified, 0, "a wake-up left counted with no job");
        }
        pool.close();
    }
}
