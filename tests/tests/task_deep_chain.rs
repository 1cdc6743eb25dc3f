//! Long await chains end without a deep stack: a chain of 100 000 tasks,
//! each awaiting the next (task `i` spawns task `i + 1` and awaits its
//! handle), ends on a worker's normal 2 MiB stack when the innermost task
//! returns, when the root is cancelled from outside while every link waits,
//! when the links' handles are dropped while their tasks are pending, and
//! when the runtime is dropped while every link waits;
//! and a chain of finished tasks, each holding the next one's handle in its
//! output, is freed without a deep stack when the first one goes.
//!
//! Each test checks the result, that every link's future was dropped (a drop
//! counter) and that no task is left live (the runtime's live-task count);
//! each runs on a two-worker and on a one-worker runtime, with the workers'
//! default (2 MiB) stacks.
//!
//! Regression tests for the stack overflow noticed at the end of long
//! chains (`deep chain` in the commit log). Before the fix (`dealloc.rs`,
//! and `header.rs`'s `pass_cancel_down`) each of these recursed once per
//! link: freeing a finished task freed the one whose join waker it held
//! (each link kept alive only by that waker once the innermost outlived
//! the rest), dropping a finished task's handle dropped its output and the
//! handle in it, and `cancel()` of an idle task borrowed it and cancelled
//! what it awaited, which borrowed the next... The dropped-handles test
//! passed before: that path never recursed.

mod common;

use common::{live_tasks, wait_until, DropCounter};
use std::future::{pending, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weft::{Promise, TaskRef};

/// Links in each chain: far past what a 2 MiB stack holds at one frame per
/// link (a few hundred bytes each).
const LINKS: usize = 100_000;

/// The bound of each test: 100 000 tasks take a few seconds in a debug
/// build on a loaded machine.
const LIMIT: Duration = Duration::from_secs(120);

type Link<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What every link shares: how many links reached their await, and the
/// counter their futures' drops add to.
#[derive(Clone)]
struct Chain {
    waiting: Arc<AtomicUsize>,
    drops: DropCounter,
    /// The innermost link, kept by the test past the chain's end.
    innermost: Arc<Mutex<Option<TaskRef>>>,
}

impl Chain {
    fn new() -> Chain {
        Chain {
            waiting: Arc::new(AtomicUsize::new(0)),
            drops: DropCounter::new(),
            innermost: Arc::new(Mutex::new(None)),
        }
    }

    fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}

/// Link `i` of `n`: spawns link `i + 1` and returns what it returns; the
/// last link returns its index, or (`hold`) waits forever.
fn link(chain: Chain, i: usize, n: usize, hold: bool) -> Link<usize> {
    Box::pin(async move {
        let _dropped = chain.drops.guard();
        chain.waiting.fetch_add(1, Ordering::SeqCst);
        if i + 1 == n {
            *chain.innermost.lock().unwrap() = weft::current_task();
            if hold {
                pending::<()>().await;
            }
            return i;
        }
        weft::spawn(link(chain.clone(), i + 1, n, hold))
            .await
            .unwrap()
    })
}

/// The innermost task returns and every link returns what it got. The test
/// keeps a reference to the innermost task meanwhile: each finished link is
/// then kept alive only by the join waker of the one it awaited, so the
/// whole chain hangs off the innermost task, and goes with it (on two
/// workers the runner finishing the innermost task can play that part).
async fn chain_completes() {
    let chain = Chain::new();
    let root = weft::spawn(link(chain.clone(), 0, LINKS, false));
    assert_eq!(root.await.unwrap(), LINKS - 1);
    assert_eq!(chain.drops.get(), LINKS, "every link's future was dropped");
    let innermost = chain
        .innermost
        .lock()
        .unwrap()
        .take()
        .expect("the last link ran");
    assert!(innermost.done());
    // Let go on a worker, as a task holding it would.
    weft::spawn(async move { drop(innermost) }).await.unwrap();
    wait_until("no task left live", || live_tasks() == 0).await;
}

#[weft::test(workers = 2, time_limit = LIMIT)]
async fn a_100k_chain_completes_on_two_workers() {
    chain_completes().await;
}

#[weft::test(workers = 1, time_limit = LIMIT)]
async fn a_100k_chain_completes_on_one_worker() {
    chain_completes().await;
}

/// Every link waits (the innermost forever); the root is cancelled from
/// outside: the request goes down the whole chain and every link ends
/// cancelled.
async fn chain_cancelled_at_root() {
    let chain = Chain::new();
    let root = weft::spawn(link(chain.clone(), 0, LINKS, true));
    let root_ref: TaskRef = (*root).clone();
    wait_until("every link to wait", || chain.waiting() == LINKS).await;
    // Every link has reached its await; let the last ones go idle.
    common::yield_times(10).await;
    assert!(root_ref.cancel_with("deep"));
    let error = root.await.unwrap_err();
    assert_eq!(
        error.as_cancelled().and_then(|c| c.message()),
        Some("deep"),
        "{error}"
    );
    assert_eq!(chain.drops.get(), LINKS, "every link's future was dropped");
    wait_until("no task left live", || live_tasks() == 0).await;
}

#[weft::test(workers = 2, time_limit = LIMIT)]
async fn a_100k_chain_cancelled_at_its_root_ends_on_two_workers() {
    chain_cancelled_at_root().await;
}

#[weft::test(workers = 1, time_limit = LIMIT)]
async fn a_100k_chain_cancelled_at_its_root_ends_on_one_worker() {
    chain_cancelled_at_root().await;
}

/// Link `i` of `n` whose handle is dropped while it is pending: it spawns
/// link `i + 1`, awaits its handle until that is pending (the join waker and
/// the await record set), drops it, and waits for `gate`; once that opens,
/// it opens the next link's gate and returns.
fn dropped_link(chain: Chain, gate: Promise<()>, i: usize, n: usize) -> Link<usize> {
    Box::pin(async move {
        let _dropped = chain.drops.guard();
        let next_gate = Promise::new();
        if i + 1 < n {
            let mut next = weft::spawn(dropped_link(chain.clone(), next_gate.clone(), i + 1, n));
            let mut polled = false;
            std::future::poll_fn(|cx| {
                if polled {
                    return std::task::Poll::Ready(());
                }
                polled = true;
                assert!(Pin::new(&mut next).poll(cx).is_pending());
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            })
            .await;
            drop(next);
        }
        chain.waiting.fetch_add(1, Ordering::SeqCst);
        gate.await.unwrap();
        next_gate.set_result(()).unwrap();
        i
    })
}

/// Every link drops its handle of the next while that one is pending; once
/// all wait, the root's gate opens, and each link opens the next one's.
async fn chain_of_dropped_handles() {
    let (chain, gate) = (Chain::new(), Promise::new());
    let root = weft::spawn(dropped_link(chain.clone(), gate.clone(), 0, LINKS));
    wait_until("every link to wait", || chain.waiting() == LINKS).await;
    gate.set_result(()).unwrap();
    assert_eq!(root.await.unwrap(), 0);
    wait_until("every link's future to be dropped", || {
        chain.drops.get() == LINKS
    })
    .await;
    wait_until("no task left live", || live_tasks() == 0).await;
}

#[weft::test(workers = 2, time_limit = LIMIT)]
async fn a_100k_chain_of_dropped_handles_ends_on_two_workers() {
    chain_of_dropped_handles().await;
}

#[weft::test(workers = 1, time_limit = LIMIT)]
async fn a_100k_chain_of_dropped_handles_ends_on_one_worker() {
    chain_of_dropped_handles().await;
}

/// A finished task whose output is the handle of the next one, the last
/// returning `None`: freeing the first frees them all in turn.
struct Next {
    _next: Option<weft::Task<Next>>,
    _dropped: common::DropGuard,
}

/// Spawns links `i..n` from the innermost out (each awaited to its end
/// before the next is spawned, so none is live once built) and returns the
/// handle of link `i`.
async fn output_chain(drops: &DropCounter, n: usize) -> weft::Task<Next> {
    let mut next: Option<weft::Task<Next>> = None;
    for _ in 0..n {
        let guard = drops.guard();
        let mut task = weft::spawn(async move {
            Next {
                _next: next,
                _dropped: guard,
            }
        });
        // Finished, its output stored in the task, not taken.
        std::future::poll_fn(|cx| task.poll_done(cx)).await;
        next = Some(task);
    }
    next.expect("at least one link")
}

/// Dropping the first handle of a chain of finished tasks (each output holds
/// the next task's handle) frees the whole chain.
async fn chain_in_outputs_freed() {
    let drops = DropCounter::new();
    let first = output_chain(&drops, LINKS).await;
    assert_eq!(live_tasks(), 0);
    assert_eq!(drops.get(), 0);
    // Freed on a worker, as the task holding the first handle would.
    weft::spawn(async move { drop(first) }).await.unwrap();
    assert_eq!(drops.get(), LINKS, "every output was dropped");
}

#[weft::test(workers = 2, time_limit = LIMIT)]
async fn a_100k_chain_held_in_outputs_is_freed_on_two_workers() {
    chain_in_outputs_freed().await;
}

#[weft::test(workers = 1, time_limit = LIMIT)]
async fn a_100k_chain_held_in_outputs_is_freed_on_one_worker() {
    chain_in_outputs_freed().await;
}

/// A runtime dropped while every link of a chain waits: its shutdown drops
/// every link's future (each handle dropped while its task is pending), and
/// every task ends cancelled.
fn chain_dropped_with_its_runtime(workers: usize) {
    common::watchdog_for(LIMIT, move || {
        let rt = common::runtime(workers);
        let handle = rt.handle().clone();
        let chain = Chain::new();
        let root = rt.spawn(link(chain.clone(), 0, LINKS, true));
        common::spin_until("every link to wait", || chain.waiting() == LINKS);
        drop(rt);
        assert!(root.cancelled(), "the root ended cancelled");
        assert_eq!(chain.drops.get(), LINKS, "every link's future was dropped");
        assert_eq!(handle.metrics().live_tasks, 0, "no task left live");
    });
}

#[test]
fn a_100k_chain_dropped_with_its_runtime_ends_on_two_workers() {
    chain_dropped_with_its_runtime(2);
}

#[test]
fn a_100k_chain_dropped_with_its_runtime_ends_on_one_worker() {
    chain_dropped_with_its_runtime(1);
}
