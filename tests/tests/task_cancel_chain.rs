//! Cancellation down the await chain and back up (issue 16, section 1): a
//! task cancelled while it awaits a task, a promise, a gather, a
//! `ConcurrentFuture` or `to_thread` passes the cancellation on, and ends only
//! after what it awaited has ended (its cleanup included); `catch_cancel`
//! returns `Err(Cancelled)` only then; `shield` passes nothing down.
//!
//! Each CPython case is named above its port. Where a case is new behaviour
//! (it failed before the chain was built), its comment says so.
//!
//! Cleanup that must take a while is gated on a promise the test settles, so
//! "the canceller has not ended yet" is checked at a point where the child
//! cannot have finished, whatever the scheduling.

mod common;

use common::{
    block_on, cancel_message, live_tasks, spawn_started, wait_done, wait_until, yield_times, Flag,
};
use std::future::{pending, Future};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use weft::{catch_cancel, Promise, Task, TaskError, TaskRef};

/// Re-raises a cancellation that came out of an await as the task's own
/// (what an uncaught `CancelledError` does in asyncio); other errors panic.
async fn reraise<T>(e: TaskError) -> T {
    match e.as_cancelled() {
        Some(c) => c.clone().raise().await,
        None => panic!("expected a cancellation, got {e}"),
    }
}

/// A task that, when cancelled, intercepts and cleans up until `gate` is
/// settled, then sets `cleaned` and re-raises. Returned once it is parked in
/// its `catch_cancel`.
async fn slow_to_die(gate: &Promise<()>, cleaned: &Flag) -> Task<()> {
    slow_to_die_watched(gate, cleaned, &Flag::new()).await
}

/// As [`slow_to_die`], setting `cleaning` once the child has taken its first
/// cancellation (its `catch_cancel` returned): a request made after that is a
/// new one, where one made before would merge with the first (as two
/// `cancel()`s before a task runs do in asyncio).
async fn slow_to_die_watched(gate: &Promise<()>, cleaned: &Flag, cleaning: &Flag) -> Task<()> {
    let (gate, cleaned, cleaning) = (gate.clone(), cleaned.clone(), cleaning.clone());
    spawn_started!("the child to park", {
        if let Err(c) = catch_cancel(pending::<()>()).await {
            cleaning.set();
            let _ = gate.await;
            cleaned.set();
            c.raise().await
        }
    })
}

/// Runs `body` as a task (the test body itself is driven by `block_on`, not
/// a task): on a one-worker runtime nothing else runs until it awaits, as on
/// asyncio's one thread, and a scope inside it has a task to cancel.
async fn in_task<F>(body: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    weft::spawn(body).await.unwrap()
}

// ----- a task awaiting a task -----

// New behaviour (the core of section 1): before, the awaiting task ended
// right after its future was dropped, while the child was still cleaning up.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_cancelled_task_ends_only_after_the_task_it_awaited_has_ended() {
    in_task(async move {
        let (gate, cleaned) = (Promise::new(), Flag::new());
        let child = slow_to_die(&gate, &cleaned).await;
        let child_ref = child.task_ref();
        let parent = spawn_started!("the parent to await the child", { child.await });
        assert!(parent.cancel_with("down"));
        wait_until("the child to be cancelled", || child_ref.cancelling() == 1).await;
        yield_times(20).await;
        assert!(
            !parent.done(),
            "the parent ended while the child was still cleaning up"
        );
        assert!(!child_ref.done());
        gate.set_result(()).unwrap();
        let err = parent.await.unwrap_err();
        assert_eq!(cancel_message(&err).as_deref(), Some("down"));
        assert!(child_ref.done() && cleaned.get(), "ended before the child");
        assert!(child_ref.cancelled());
    })
    .await
}

// New behaviour: a second cancel() while the parent waits for its child is
// passed on to the child (asyncio passes every cancel() to `_fut_waiter`),
// where it lands in the child's cleanup await.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_second_cancel_while_draining_is_passed_on_to_the_awaited_task() {
    in_task(async move {
        let (gate, cleaned, cleaning) = (Promise::new(), Flag::new(), Flag::new());
        let child = slow_to_die_watched(&gate, &cleaned, &cleaning).await;
        let child_ref = child.task_ref();
        let parent = spawn_started!("the parent to await the child", { child.await });
        assert!(parent.cancel());
        wait_until("the child to be cancelled", || child_ref.cancelling() == 1).await;
        // Until the child has taken the first request, a second one would
        // merge with it (two cancels before a task runs are one).
        wait_until("the child to start its cleanup", || cleaning.get()).await;
        yield_times(5).await;
        assert!(!parent.done());
        assert!(
            parent.cancel_with("again"),
            "a draining task is not done yet"
        );
        assert!(parent.await.unwrap_err().is_cancelled());
        assert_eq!(child_ref.cancelling(), 2);
        assert!(child_ref.done() && !cleaned.get());
        assert!(
            gate.cancelled(),
            "the child's cleanup await was not cancelled"
        );
    })
    .await
}

// New behaviour: the chain holds through several tasks; each ends after the
// one below it.
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn each_task_of_a_chain_ends_after_the_one_it_awaited() {
    in_task(async move {
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (gate, cleaned) = (Promise::new(), Flag::new());
        let c = slow_to_die(&gate, &cleaned).await;
        let (c_ref, log) = (c.task_ref(), order.clone());
        c_ref.add_done_callback(weft::DoneCallback::new(move |_: &TaskRef| {
            log.lock().unwrap().push("c")
        }));
        let b = weft::spawn(c);
        let (b_ref, log) = (b.task_ref(), order.clone());
        b_ref.add_done_callback(weft::DoneCallback::new(move |_: &TaskRef| {
            log.lock().unwrap().push("b")
        }));
        let a = spawn_started!("A to await B", { b.await });
        yield_times(5).await;
        assert!(a.cancel());
        wait_until("C to be cancelled", || c_ref.cancelling() == 1).await;
        yield_times(10).await;
        assert!(!a.done() && !b_ref.done());
        gate.set_result(()).unwrap();
        assert!(a.await.unwrap_err().is_cancelled());
        assert!(b_ref.done() && c_ref.done());
        wait_until("the done callbacks", || order.lock().unwrap().len() == 2).await;
        assert_eq!(*order.lock().unwrap(), ["c", "b"]);
    })
    .await
}

// New behaviour: a child that intercepts and returns a value ends the parent
// cancelled all the same (the parent's future is gone), but only after it.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_child_refusing_the_cancellation_still_ends_first() {
    in_task(async move {
        let gate = Promise::<()>::new();
        let g = gate.clone();
        let child = weft::spawn(async move {
            match catch_cancel(pending::<()>()).await {
                Ok(()) => unreachable!(),
                Err(_) => {
                    let _ = g.await;
                    7
                }
            }
        });
        let child_ref = child.task_ref();
        let parent = spawn_started!("the parent", { child.await.unwrap() });
        assert!(parent.cancel());
        yield_times(20).await;
        assert!(!parent.done());
        gate.set_result(()).unwrap();
        assert!(parent.await.unwrap_err().is_cancelled());
        assert!(child_ref.done() && !child_ref.cancelled());
    })
    .await
}

// CPython: test_tasks.py BaseTaskTests.test_cancel_awaited_task
// (new behaviour: the nested task is done, and cancelled, when the outer
// task reports done; before, its cleanup could still be running).
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancel_awaited_task() {
    in_task(async move {
        let fut = Promise::<()>::new();
        let nested_ref = Promise::<TaskRef>::new();
        let (f, nr) = (fut.clone(), nested_ref.clone());
        let task = weft::spawn(async move {
            let nested = weft::spawn(async move {
                match catch_cancel(f.wait()).await {
                    Ok(r) => r,
                    // Cleanup taking a few loop turns.
                    Err(c) => {
                        yield_times(5).await;
                        c.raise().await
                    }
                }
            });
            nr.set_result(nested.task_ref()).unwrap();
            weft::yield_now().await;
            // Request the current task to be cancelled, then block on the
            // nested task, which is cancelled with it.
            weft::current_task().unwrap().cancel();
            nested.await
        });
        let err = task.await.unwrap_err();
        assert!(err.is_cancelled());
        let nested = nested_ref.result().unwrap().unwrap();
        assert!(nested.done(), "the outer task ended before the nested one");
        assert!(nested.cancelled());
        assert!(fut.cancelled());
    })
    .await
}

// ----- a task awaiting a promise -----

/// `async def task(): await f; return 12`, started (parked on `f`).
async fn awaiting_inner_future(f: &Promise<u32>) -> Task<u32> {
    let f = f.clone();
    spawn_started!("the task to await f", {
        match f.await {
            Ok(_) => 12,
            Err(e) => reraise(e).await,
        }
    })
}

// CPython: test_tasks.py BaseTaskTests.test_cancel_inner_future
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancel_inner_future() {
    in_task(async move {
        let f = Promise::<u32>::new();
        let t = awaiting_inner_future(&f).await;
        assert!(f.cancel());
        assert!(t.await.unwrap_err().is_cancelled());
        assert!(f.cancelled());
    })
    .await
}

// CPython: test_tasks.py BaseTaskTests.test_cancel_both_task_and_inner_future
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancel_both_task_and_inner_future() {
    in_task(async move {
        let f = Promise::<u32>::new();
        let t = awaiting_inner_future(&f).await;
        let r = t.task_ref();
        assert!(f.cancel());
        assert!(t.cancel());
        assert!(t.await.unwrap_err().is_cancelled());
        assert!(r.done() && r.cancelled());
        assert!(f.cancelled());
    })
    .await
}

// CPython: test_tasks.py BaseTaskTests.test_cancel_task_catching
// (new behaviour: `fut2.cancelled()` right after `t.cancel()`, as in CPython;
// before, the request reached fut2 only when the task next ran).
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancel_task_catching() {
    in_task(async move {
        let (fut1, fut2) = (Promise::<()>::new(), Promise::<()>::new());
        let (f1, f2) = (fut1.clone(), fut2.clone());
        let t = spawn_started!("the task to await fut1", {
            f1.await.unwrap();
            match catch_cancel(f2.wait()).await {
                Err(_) => 42,
                Ok(_) => 0,
            }
        });
        let r = t.task_ref();
        fut1.set_result(()).unwrap();
        yield_times(5).await;
        assert!(t.cancel());
        assert!(
            fut2.cancelled(),
            "cancel() returned before fut2 was cancelled"
        );
        assert_eq!(t.await.unwrap(), 42);
        assert!(fut2.cancelled());
        assert!(!r.cancelled());
    })
    .await
}

// CPython: test_tasks.py BaseTaskTests.test_cancel_task_ignoring
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancel_task_ignoring() {
    in_task(async move {
        let (fut1, fut2, fut3) = (Promise::<()>::new(), Promise::<()>::new(), Promise::new());
        let (f1, f2, f3) = (fut1.clone(), fut2.clone(), fut3.clone());
        let t = spawn_started!("the task to await fut1", {
            f1.await.unwrap();
            let _ = catch_cancel(f2.wait()).await;
            f3.await.unwrap()
        });
        let r = t.task_ref();
        fut1.set_result(()).unwrap();
        yield_times(5).await;
        assert!(t.cancel());
        assert!(
            fut2.cancelled(),
            "cancel() returned before fut2 was cancelled"
        );
        fut3.set_result(42).unwrap();
        assert_eq!(t.await.unwrap(), 42);
        assert!(!fut3.cancelled());
        assert!(!r.cancelled());
    })
    .await
}

// ----- cancel() reaches the awaited future before it returns -----

// New behaviour (section 1, second part): asyncio's `task.cancel()` calls
// `self._fut_waiter.cancel(msg)` before it returns; weft's `cancel()` of a
// task parked on a promise cancels the promise as it returns.
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancel_cancels_the_awaited_promise_before_it_returns() {
    in_task(async move {
        let f = Promise::<u32>::new();
        let t = awaiting_inner_future(&f).await;
        assert!(!f.done());
        assert!(t.cancel_with("now"));
        assert!(f.cancelled(), "cancel() returned with the promise pending");
        let e = f.exception().unwrap().unwrap();
        assert_eq!(cancel_message(&e).as_deref(), Some("now"));
        let err = t.await.unwrap_err();
        assert_eq!(cancel_message(&err).as_deref(), Some("now"));
    })
    .await
}

// New behaviour: the same for a task awaiting a task; the request reaches
// the awaited task once, as in asyncio (the delivery that follows does not
// pass it again).
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancel_cancels_the_awaited_task_before_it_returns_and_only_once() {
    in_task(async move {
        let (gate, cleaned) = (Promise::new(), Flag::new());
        let child = slow_to_die(&gate, &cleaned).await;
        let child_ref = child.task_ref();
        let parent = spawn_started!("the parent to await the child", { child.await });
        assert_eq!(child_ref.cancelling(), 0);
        assert!(parent.cancel());
        assert_eq!(
            child_ref.cancelling(),
            1,
            "cancel() returned before the awaited task was cancelled"
        );
        gate.set_result(()).unwrap();
        assert!(parent.await.unwrap_err().is_cancelled());
        assert!(child_ref.done() && child_ref.cancelled() && cleaned.get());
        assert_eq!(child_ref.cancelling(), 1, "the request was passed twice");
    })
    .await
}

// New behaviour: the chain is followed at once: a task awaiting a task that
// awaits a promise cancels the promise before cancel() returns.
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancel_follows_a_chain_of_awaits_at_once() {
    in_task(async move {
        let f = Promise::<u32>::new();
        let inner = awaiting_inner_future(&f).await;
        let inner_ref = inner.task_ref();
        let outer = spawn_started!("the outer task to await the inner one", { inner.await });
        assert!(outer.cancel());
        assert_eq!(inner_ref.cancelling(), 1);
        assert!(
            f.cancelled(),
            "the promise at the end of the chain is pending"
        );
        assert!(outer.await.unwrap_err().is_cancelled());
        assert!(inner_ref.cancelled());
    })
    .await
}

// What is passed at once is what the task awaits at its latest suspension:
// a promise awaited earlier and done with is left alone.
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancel_passes_nothing_to_a_promise_no_longer_awaited() {
    in_task(async move {
        let (first, second) = (Promise::<u32>::new(), Promise::<u32>::new());
        let (f, s) = (first.clone(), second.clone());
        let t = spawn_started!("the task to await the first promise", {
            // Awaited until it is ready, then something else is awaited.
            let _ = f.wait().await;
            let _ = s.wait().await;
        });
        first.set_result(1).unwrap();
        yield_times(5).await;
        // Parked on `second` now; a promise polled and then dropped unawaited
        // is forgotten too.
        let third = Promise::<u32>::new();
        let th = third.clone();
        let probe = spawn_started!("the probe to park", {
            let mut w = th.wait();
            std::future::poll_fn(|cx| {
                let _ = std::pin::Pin::new(&mut w).poll(cx);
                std::task::Poll::Ready(())
            })
            .await;
            drop(w);
            pending::<()>().await
        });
        assert!(t.cancel());
        assert!(second.cancelled());
        assert!(!first.cancelled() && first.done());
        assert!(probe.cancel());
        assert!(!third.done(), "a dropped waiter's promise was cancelled");
        assert!(t.await.unwrap_err().is_cancelled());
        assert!(probe.await.unwrap_err().is_cancelled());
    })
    .await
}

// A running task is not borrowed: the request is delivered when its poll
// ends, and passed down by the delivery as before.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancel_of_a_running_task_passes_the_request_at_delivery() {
    in_task(async move {
        let f = Promise::<u32>::new();
        let (fw, started) = (f.clone(), Flag::new());
        let (st, release) = (started.clone(), Arc::new(std::sync::Barrier::new(2)));
        let r = release.clone();
        let t = weft::spawn(async move {
            st.set();
            // Blocks its worker while the test cancels it.
            r.wait();
            fw.await
        });
        common::sleep_until_true("the task to run", || started.get()).await;
        assert!(t.cancel());
        assert!(!f.done(), "nothing is awaited while the task runs");
        release.wait();
        assert!(t.await.unwrap_err().is_cancelled());
        // Dropped in its first poll, pending: the promise is cancelled by the
        // delivery (asyncio's `_must_cancel` path).
        assert!(f.cancelled());
    })
    .await
}

// ----- a task cancelling itself -----

/// Awaits `t`: it ends cancelled, and a later `cancel()` is refused.
async fn ends_cancelled_for_good<T: Send + std::fmt::Debug + 'static>(t: Task<T>) {
    let r = t.task_ref();
    assert!(t.await.unwrap_err().is_cancelled());
    assert!(r.done() && r.cancelled());
    assert!(!r.cancel());
}

// CPython: test_tasks.py BaseTaskTests.test_cancel_yield
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancel_yield() {
    in_task(async move {
        let t = spawn_started!("the task to start", {
            weft::yield_now().await;
            weft::yield_now().await;
            12
        });
        assert!(t.cancel());
        ends_cancelled_for_good(t).await;
    })
    .await
}

// CPython: test_tasks.py BaseTaskTests.test_cancel_current_task
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancel_current_task() {
    in_task(async move {
        let t = weft::spawn(async {
            weft::current_task().unwrap().cancel();
            // The sleep is cancelled at once.
            weft::sleep(Duration::from_secs(100)).await;
            12
        });
        assert!(!t.cancelled());
        ends_cancelled_for_good(t).await;
    })
    .await
}

// CPython: test_tasks.py BaseTaskTests.test_cancel_at_end
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancel_at_end() {
    in_task(async move {
        let t = weft::spawn(async {
            weft::current_task().unwrap().cancel();
            12
        });
        ends_cancelled_for_good(t).await;
    })
    .await
}

// New behaviour: a task that cancels itself and then awaits another task
// cancels that task and ends after it (asyncio: `_must_cancel` is passed to
// the next future the task blocks on).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_task_cancelling_itself_then_awaiting_a_task_ends_after_it() {
    in_task(async move {
        let (gate, cleaned) = (Promise::new(), Flag::new());
        let child = slow_to_die(&gate, &cleaned).await;
        let child_ref = child.task_ref();
        let parked = Flag::new();
        let p = parked.clone();
        let parent = weft::spawn(async move {
            // Let the child reach its catch_cancel first.
            while !p.get() {
                weft::yield_now().await;
            }
            weft::current_task().unwrap().cancel();
            child.await
        });
        yield_times(5).await;
        parked.set();
        wait_until("the child to be cancelled", || child_ref.cancelling() == 1).await;
        yield_times(20).await;
        assert!(!parent.done());
        gate.set_result(()).unwrap();
        assert!(parent.await.unwrap_err().is_cancelled());
        assert!(child_ref.done() && cleaned.get());
    })
    .await
}

// ----- catch_cancel around an awaited task -----

// New behaviour: the wrapper returns Err(Cancelled) only after the task it
// was awaiting has ended (asyncio: the CancelledError comes up the await
// only once the inner future is done).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn catch_cancel_returns_only_after_the_awaited_task_ended() {
    in_task(async move {
        let (gate, cleaned) = (Promise::new(), Flag::new());
        let child = slow_to_die(&gate, &cleaned).await;
        let child_ref = child.task_ref();
        let (cr, cl) = (child_ref.clone(), cleaned.clone());
        let parent = spawn_started!("the parent to await the child", {
            match catch_cancel(child).await {
                Ok(_) => unreachable!(),
                Err(c) => {
                    assert!(cr.done() && cl.get(), "caught before the child ended");
                    c.raise::<()>().await
                }
            }
        });
        assert!(parent.cancel());
        wait_until("the child to be cancelled", || child_ref.cancelling() == 1).await;
        yield_times(20).await;
        assert!(!parent.done());
        gate.set_result(()).unwrap();
        let err = parent.await.unwrap_err();
        assert!(err.is_cancelled(), "{err}");
    })
    .await
}

// New behaviour: a timeout scope around an awaited task cancels it and
// reports the timeout only after the task has ended (asyncio.timeout).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_timeout_scope_waits_for_the_task_it_cancelled() {
    in_task(async move {
        let cleaned = Flag::new();
        let cl = cleaned.clone();
        let child = weft::spawn(async move {
            if let Err(c) = catch_cancel(pending::<()>()).await {
                weft::sleep(Duration::from_millis(30)).await;
                cl.set();
                c.raise::<()>().await
            }
        });
        let child_ref = child.task_ref();
        let out = weft::timeout(Duration::from_millis(5)).run(child).await;
        assert!(out.is_err(), "the scope did not time out");
        assert!(
            child_ref.done() && cleaned.get(),
            "timed out before the child ended"
        );
        assert!(child_ref.cancelled());
    })
    .await
}

// ----- wait_for -----

// CPython: test_waitfor.py AsyncioWaitForTest.test_cancel_wait_for
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancel_wait_for() {
    in_task(async move {
        cancel_wait_for_with(Some(Duration::from_secs(60))).await;
    })
    .await
}

// CPython: test_waitfor.py AsyncioWaitForTest.test_cancel_blocking_wait_for
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancel_blocking_wait_for() {
    in_task(async move {
        cancel_wait_for_with(None).await;
    })
    .await
}

/// `_test_cancel_wait_for`: cancelling the wait cancels the task, which is
/// cancelled by the time the wait reports done. (CPython cancels from a
/// `call_soon` callback; ordering against task steps is section 2's, so this
/// cancels after the wait has started.)
async fn cancel_wait_for_with(timeout: Option<Duration>) {
    let task = weft::spawn(async {
        let fut = Promise::<()>::new();
        fut.await
    });
    let task_ref = task.task_ref();
    let wait = spawn_started!("the wait to start", { weft::wait_for(task, timeout).await });
    assert!(wait.cancel());
    assert!(wait.await.unwrap_err().is_cancelled());
    assert!(task_ref.cancelled());
}

// CPython: test_waitfor.py AsyncioWaitForTest.test_wait_for_waits_for_task_cancellation
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn wait_for_waits_for_task_cancellation() {
    in_task(async move {
        let task_done = Flag::new();
        let d = task_done.clone();
        let inner = weft::spawn(async move {
            let r = catch_cancel(weft::sleep(Duration::from_secs(10))).await;
            if let Err(c) = r {
                weft::sleep(Duration::from_millis(1)).await;
                d.set();
                return c.raise().await;
            }
            d.set();
        });
        let err = weft::wait_for(inner, Some(Duration::from_millis(1)))
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert!(task_done.get());
    })
    .await
}

// ----- gather -----

// CPython: test_tasks.py GatherTestsBase.test_cancellation_broadcast
// (as in CPython, everything below the gather is cancelled and done when
// the outer task reports done).
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancellation_broadcast() {
    in_task(async move {
        let proof = Arc::new(AtomicUsize::new(0));
        let waiter = Promise::<()>::new();
        let inner = |w: Promise<()>, proof: Arc<AtomicUsize>| {
            weft::spawn(async move {
                match w.await {
                    Ok(()) => proof.fetch_add(1, Ordering::Relaxed),
                    Err(e) => reraise(e).await,
                };
            })
        };
        let child1 = inner(waiter.clone(), proof.clone());
        let child2 = inner(waiter.clone(), proof.clone());
        let (c1, c2) = (child1.task_ref(), child2.task_ref());
        let p = proof.clone();
        let f = spawn_started!("outer to gather", {
            let _ = weft::gather([child1, child2]).await;
            p.fetch_add(100, Ordering::Relaxed);
        });
        assert!(f.cancel());
        assert!(f.await.unwrap_err().is_cancelled());
        assert!(waiter.cancelled());
        assert!(c1.cancelled() && c2.cancelled());
        yield_times(5).await;
        assert_eq!(proof.load(Ordering::Relaxed), 0);
    })
    .await
}

// CPython: test_tasks.py BaseTaskTests.test_cancel_gather_2 (the message
// reaches the children and comes back up through the gather).
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancel_gather_2() {
    in_task(async move {
        for message in [None, Some("my message")] {
            let children: Vec<Task<()>> = (0..2).map(|_| weft::spawn(pending::<()>())).collect();
            let refs: Vec<TaskRef> = children.iter().map(|t| t.task_ref()).collect();
            let qwe = spawn_started!("the gather to start", {
                let _ = weft::gather_settled(children).await;
            });
            match message {
                Some(m) => assert!(qwe.cancel_with(m)),
                None => assert!(qwe.cancel()),
            }
            let err = qwe.await.unwrap_err();
            assert_eq!(cancel_message(&err).as_deref(), message);
            for r in &refs {
                assert!(r.cancelled());
                let e = r.exception().unwrap().unwrap();
                assert_eq!(cancel_message(&e).as_deref(), message);
            }
        }
    })
    .await
}

// ----- shield passes nothing down -----

// CPython: test_tasks.py BaseTaskTests.test_shield_effect
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn shield_effect() {
    in_task(async move {
        let proof = Arc::new(AtomicUsize::new(0));
        let waiter = Promise::<()>::new();
        let (w, p) = (waiter.clone(), proof.clone());
        let inner = weft::spawn(async move {
            w.await.unwrap();
            p.fetch_add(1, Ordering::Relaxed);
        });
        let inner_ref = inner.task_ref();
        let p = proof.clone();
        let f = spawn_started!("outer to await the shield", {
            let _ = weft::shield(inner).await;
            p.fetch_add(100, Ordering::Relaxed);
        });
        assert!(f.cancel());
        // The outer task does not wait for the shielded one.
        assert!(f.await.unwrap_err().is_cancelled());
        assert!(!inner_ref.done() && inner_ref.cancelling() == 0);
        waiter.set_result(()).unwrap();
        wait_done(&inner_ref).await;
        assert_eq!(proof.load(Ordering::Relaxed), 1);
    })
    .await
}

// CPython: test_tasks.py BaseTaskTests.test_shield_gather
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn shield_gather() {
    in_task(async move {
        let (child1, child2) = (Promise::<u32>::new(), Promise::<u32>::new());
        let (a, b) = (child1.clone(), child2.clone());
        let parent = weft::spawn(async move {
            weft::gather([
                weft::spawn(async move { a.await }),
                weft::spawn(async move { b.await }),
            ])
            .await
        });
        let parent_ref = parent.task_ref();
        let parent_out = Promise::new();
        let po = parent_out.clone();
        let outer = spawn_started!("outer to await the shield", {
            let r = weft::shield(parent).await;
            po.set_result(()).unwrap();
            r
        });
        assert!(outer.cancel());
        assert!(outer.await.unwrap_err().is_cancelled());
        assert!(!parent_out.done());
        assert_eq!(parent_ref.cancelling(), 0);
        child1.set_result(1).unwrap();
        child2.set_result(2).unwrap();
        wait_done(&parent_ref).await;
        assert!(parent_ref.exception().unwrap().is_none());
    })
    .await
}

// ----- the sync bridge -----

// CPython: test_futures.py BaseFutureTests.test_wrap_future_cancel (the
// concurrent future is cancelled through the task awaiting it). New
// behaviour: before, dropping the ConcurrentFuture left the work pending.
#[test]
fn wrap_future_cancel() {
    common::watchdog(wrap_future_cancel_body);
}

fn wrap_future_cancel_body() {
    // One pool thread, busy, so the job stays queued.
    let rt = weft::Builder::new()
        .workers(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let release = Arc::new(std::sync::Barrier::new(2));
    let r = release.clone();
    let busy = rt.handle().spawn_blocking(move || {
        r.wait();
    });
    let ran = Flag::new();
    let rn = ran.clone();
    let f1 = rt.handle().spawn_blocking(move || rn.set());
    let f2 = f1.clone();
    let f3 = f1.clone();
    // The body runs as a task on the one worker, so the task it cancels is
    // parked (not in the middle of its poll) when it does.
    rt.block_on(in_task(async move {
        let t = spawn_started!("the task to await the job", { f2.await });
        assert!(t.cancel());
        // New behaviour: cancelled before cancel() returned, as asyncio's
        // `_fut_waiter.cancel()` cancels the wrapped future at once.
        assert!(f3.cancelled(), "the job was not cancelled at once");
        assert!(t.await.unwrap_err().is_cancelled());
    }));
    assert!(f1.cancelled(), "the queued job was not cancelled");
    release.wait();
    busy.result(Some(Duration::from_secs(10))).unwrap();
    assert!(!ran.get(), "a cancelled job ran");
}

// CPython: test_futures.py BaseFutureTests.test_wrap_future_cancel2 (work
// already done: cancelling the awaiting task leaves its outcome alone).
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn wrap_future_cancel2() {
    in_task(async move {
        let f1 = weft::spawn_blocking(|| 42);
        let gate = Promise::<()>::new();
        let (f2, g) = (f1.clone(), gate.clone());
        let t = spawn_started!("the task to await the job", {
            let _ = g.await;
            f2.await.unwrap()
        });
        common::sleep_until_true("the job to finish", || f1.done()).await;
        assert!(t.cancel());
        assert!(t.await.unwrap_err().is_cancelled());
        assert!(!f1.cancelled());
        assert_eq!(f1.result(None).unwrap(), 42);
    })
    .await
}

// New behaviour: a task awaiting `run_coroutine_threadsafe`'s future cancels
// the task behind it and ends only after that task has ended.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn cancelling_a_task_awaiting_a_threadsafe_future_cancels_its_task_and_waits() {
    in_task(async move {
        let (gate, cleaned) = (Promise::new(), Flag::new());
        let (g, cl) = (gate.clone(), cleaned.clone());
        let work = weft::run_coroutine_threadsafe(
            async move {
                if let Err(c) = catch_cancel(pending::<()>()).await {
                    let _ = g.await;
                    cl.set();
                    c.raise::<()>().await
                }
            },
            &weft::Handle::current(),
        );
        let watch = work.clone();
        yield_times(5).await;
        let parent = spawn_started!("the parent to await the work", {
            let _ = work.await;
        });
        assert!(parent.cancel_with("stop"));
        wait_until("the work to start cancelling", || watch.running()).await;
        yield_times(20).await;
        assert!(!parent.done(), "ended before the work it awaited");
        gate.set_result(()).unwrap();
        assert!(parent.await.unwrap_err().is_cancelled());
        assert!(cleaned.get() && watch.done() && watch.cancelled());
        let e = watch.exception(None).unwrap().unwrap();
        assert_eq!(cancel_message(&e).as_deref(), Some("stop"));
    })
    .await
}

// A running blocking job cannot be stopped; as in asyncio (whose task does
// not wait for its thread) the awaiting task ends at once and the job runs
// to its end.
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn a_task_awaiting_a_running_job_ends_without_waiting_for_it() {
    in_task(async move {
        let release = Arc::new(std::sync::Barrier::new(2));
        let started = Flag::new();
        let (r, s) = (release.clone(), started.clone());
        let job = weft::to_thread(move || {
            s.set();
            r.wait();
            5
        });
        let watch = job.clone();
        common::sleep_until_true("the job to start", || started.get()).await;
        let parent = spawn_started!("the parent to await the job", { job.await.unwrap() });
        assert!(parent.cancel());
        assert!(parent.await.unwrap_err().is_cancelled());
        assert!(!watch.done());
        release.wait();
        common::sleep_until_true("the job to finish", || watch.done()).await;
        assert_eq!(watch.result(None).unwrap(), 5);
    })
    .await
}

// ----- nothing leaks -----

#[test]
fn draining_tasks_leak_nothing() {
    block_on(2, |_| async {
        let before = live_tasks();
        for _ in 0..50 {
            let (gate, cleaned) = (Promise::new(), Flag::new());
            let child = slow_to_die(&gate, &cleaned).await;
            let parent = spawn_started!("the parent to await the child", { child.await });
            parent.cancel();
            yield_times(3).await;
            gate.set_result(()).unwrap();
            assert!(parent.await.unwrap_err().is_cancelled());
            assert!(cleaned.get());
        }
        wait_until("every task to end", || live_tasks() == before).await;
    });
}

#[test]
fn a_runtime_shut_down_while_a_task_drains_ends_it() {
    common::watchdog(shut_down_while_draining);
}

fn shut_down_while_draining() {
    let rt = common::runtime(1);
    let (gate, cleaned) = (Promise::<()>::new(), Flag::new());
    let parent_ref = rt.block_on(async {
        let child = slow_to_die(&gate, &cleaned).await;
        let child_ref = child.task_ref();
        let parent = spawn_started!("the parent to await the child", { child.await });
        parent.cancel();
        wait_until("the child to be cancelled", || child_ref.cancelling() == 1).await;
        yield_times(3).await;
        assert!(!parent.done(), "the parent is draining");
        parent.task_ref()
    });
    drop(rt);
    assert!(parent_ref.done() && parent_ref.cancelled());
}
