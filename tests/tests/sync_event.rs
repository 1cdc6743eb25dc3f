//! `weft::sync::Event`: the port of CPython's
//! Lib/test/test_asyncio/test_locks.py, class `EventTests`, one test per case
//! (its CPython name in the comment above it), plus weft's own rules.
//!
//! Each scenario runs as a task pinned to one loop ([`on_one_loop`]) and spawns
//! its tasks there (`spawn_local`), so they run in asyncio's order and
//! `weft::yield_now()` plays `await asyncio.sleep(0)`.
//!
//! asyncio's checks of its private `_waiters` list become checks of behaviour
//! (a set after a cancelled wait wakes nobody and nothing hangs), and `wait()`
//! returns `()` where asyncio's returns `True`.
//!
//! Not ported, and why:
//! - `test_repr`: Python's `repr`; weft's `Debug` output is not an interface.

mod common;

use common::{on_one_loop, Log};
use std::sync::Arc;
use std::time::Duration;
use weft::sync::Event;
use weft::Task;

/// A task that waits for `ev`, then records `tag`.
fn waiter(ev: &Arc<Event>, log: &Log<u32>, tag: u32) -> Task<bool> {
    let (ev, log) = (ev.clone(), log.clone());
    weft::spawn_local(async move {
        ev.wait().await;
        log.push(tag);
        true
    })
}

// EventTests.test_wait
#[test]
fn set_wakes_every_waiter() {
    on_one_loop(|| async {
        let ev = Arc::new(Event::new());
        assert!(!ev.is_set());
        let result = Log::new();
        let t1 = waiter(&ev, &result, 1);
        let t2 = waiter(&ev, &result, 2);
        weft::yield_now().await;
        assert_eq!(result.snapshot(), Vec::<u32>::new());

        let t3 = waiter(&ev, &result, 3);
        ev.set();
        weft::yield_now().await;
        // t3 first: it was already queued to run, and finds the event set.
        assert_eq!(result.snapshot(), [3, 1, 2]);
        assert!(t1.done() && t2.done() && t3.done());
        for t in [t1, t2, t3] {
            assert!(t.await.unwrap());
        }
    });
}

// EventTests.test_wait_on_set
#[test]
fn wait_on_a_set_event_returns_at_once() {
    on_one_loop(|| async {
        let ev = Event::new();
        ev.set();
        ev.wait().await;
        assert!(ev.is_set());
    });
}

// EventTests.test_wait_cancel
#[test]
fn a_cancelled_wait_leaves_no_waiter_behind() {
    on_one_loop(|| async {
        let ev = Arc::new(Event::new());
        let e = ev.clone();
        let wait = weft::spawn_local(async move { e.wait().await });
        weft::yield_now().await; // it parks in wait()
        assert!(wait.cancel());
        assert!(wait.await.unwrap_err().is_cancelled());
        // Setting the event afterwards wakes nobody and stays set.
        ev.set();
        assert!(ev.is_set());
        ev.wait().await;
    });
}

// EventTests.test_clear
#[test]
fn clear_resets_the_flag() {
    let ev = Event::new();
    assert!(!ev.is_set());
    ev.set();
    assert!(ev.is_set());
    ev.clear();
    assert!(!ev.is_set());
}

// EventTests.test_clear_with_waiters
#[test]
fn a_waiter_woken_by_set_returns_even_if_clear_ran_before_it_resumed() {
    on_one_loop(|| async {
        let ev = Arc::new(Event::new());
        let result = Log::new();
        let t = waiter(&ev, &result, 1);
        weft::yield_now().await;
        assert_eq!(result.snapshot(), Vec::<u32>::new());

        ev.set();
        ev.clear();
        assert!(!ev.is_set());

        ev.set();
        ev.set();
        weft::yield_now().await;
        assert_eq!(result.snapshot(), [1]);
        assert!(t.done());
        assert!(t.await.unwrap());
    });
}

// ----- weft's own rules -----

/// set() then clear() before the waiter runs: it still returns (asyncio's
/// rule), and a wait after the clear blocks again.
#[test]
fn set_then_clear_still_releases_the_waiters_of_that_set() {
    on_one_loop(|| async {
        let ev = Arc::new(Event::new());
        let result = Log::new();
        let t = waiter(&ev, &result, 1);
        weft::yield_now().await;
        ev.set();
        ev.clear();
        assert!(t.await.unwrap());
        assert_eq!(result.snapshot(), [1]);

        let late = waiter(&ev, &result, 2);
        common::yield_times(3).await;
        assert!(!late.done(), "a wait after clear() must block");
        ev.set();
        assert!(late.await.unwrap());
    });
}

/// A plain thread waits with `wait_blocking`, with or without a timeout.
#[test]
fn a_plain_thread_waits_for_a_task_to_set_the_event() {
    on_one_loop(|| async {
        let ev = Arc::new(Event::new());
        assert!(!ev.wait_timeout_blocking(Duration::from_millis(1)));
        let e = ev.clone();
        let woke = common::Flag::new();
        let w = woke.clone();
        let thread = std::thread::spawn(move || {
            e.wait_blocking();
            w.set();
        });
        weft::yield_now().await;
        ev.set();
        common::sleep_until_true("the thread to wake", || woke.get()).await;
        thread.join().unwrap();
        assert!(ev.wait_timeout_blocking(Duration::from_millis(1)));
    });
}
