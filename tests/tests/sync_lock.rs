//! `weft::sync::Mutex`, asyncio's `Lock`: the port of CPython's
//! Lib/test/test_asyncio/test_locks.py, class `LockTests`, one test per case
//! (its CPython name in the comment above it), plus weft's own rules.
//!
//! Each scenario runs as a task pinned to one loop ([`on_one_loop`]) and spawns
//! its tasks there (`spawn_local`), so they run in asyncio's order and
//! `weft::yield_now()` plays `await asyncio.sleep(0)`. A Python `acquire()`
//! whose lock stays held after the acquiring task ends is a task that returns
//! its owned guard; `release()` is dropping that guard.
//!
//! asyncio's checks of its private `_waiters` list become checks of behaviour:
//! after the release the lock is free, so nobody was left queued.
//!
//! Not ported, and why:
//! - `test_repr`: Python's `repr`; weft's `Debug` output is not an interface.
//! - `test_lock`: "a Lock cannot be awaited" is a Python `TypeError`; in Rust a
//!   `Mutex` is not a future, which the compiler checks.
//! - `test_lock_doesnt_accept_loop_parameter`: there is no `loop=` argument.
//! - `test_lock_by_with_statement`: the `with await lock` syntax is Python's.
//! - `test_release_not_acquired`: only a guard releases the lock and a guard
//!   exists only while the lock is held, so releasing an unheld lock cannot be
//!   written (docs/asyncio.md, "Deviations in the sync primitives").

mod common;

use common::{on_one_loop, wait_done, wait_until, yield_times, Log};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use weft::sync::{Mutex, OwnedMutexGuard};
use weft::{Promise, Task};

/// A task that takes `lock`, records `tag` in `log`, and returns its guard (the
/// lock stays held until whoever takes the task's result drops it).
fn acquirer(lock: &Arc<Mutex<()>>, log: &Log<u32>, tag: u32) -> Task<OwnedMutexGuard<()>> {
    let (lock, log) = (lock.clone(), log.clone());
    weft::spawn_local(async move {
        let guard = lock.lock_owned().await;
        log.push(tag);
        guard
    })
}

/// Drops the guard a finished [`acquirer`] returned: asyncio's `lock.release()`
/// for the lock that task took.
fn release_held_by(task: &mut Task<OwnedMutexGuard<()>>) {
    let guard = task
        .result()
        .expect("the acquirer is done")
        .expect("the acquirer failed");
    drop(guard);
}

// LockTests.test_acquire
#[test]
fn acquire_serves_waiters_in_fifo_order() {
    on_one_loop(|| async {
        let lock = Arc::new(Mutex::new(()));
        let result = Log::new();
        let mine = lock.clone().lock_owned().await;
        assert!(lock.locked());

        let mut t1 = acquirer(&lock, &result, 1);
        let mut t2 = acquirer(&lock, &result, 2);
        weft::yield_now().await;
        assert_eq!(result.snapshot(), Vec::<u32>::new());

        drop(mine);
        weft::yield_now().await;
        assert_eq!(result.snapshot(), [1]);

        weft::yield_now().await;
        assert_eq!(result.snapshot(), [1]);

        let mut t3 = acquirer(&lock, &result, 3);
        release_held_by(&mut t1);
        weft::yield_now().await;
        assert_eq!(result.snapshot(), [1, 2]);

        release_held_by(&mut t2);
        weft::yield_now().await;
        assert_eq!(result.snapshot(), [1, 2, 3]);

        assert!(t1.done() && t2.done() && t3.done());
        release_held_by(&mut t3);
        assert!(!lock.locked());
    });
}

// LockTests.test_acquire_cancel
#[test]
fn a_cancelled_acquire_leaves_no_waiter_behind() {
    on_one_loop(|| async {
        let lock = Arc::new(Mutex::new(()));
        let mine = lock.clone().lock_owned().await;

        let task = weft::spawn_local(lock.clone().lock_owned());
        weft::yield_now().await; // the task parks in lock()
        assert!(task.cancel());
        assert!(task.await.unwrap_err().is_cancelled());

        // No waiter left: releasing leaves the lock free, nobody took it.
        drop(mine);
        assert!(!lock.locked());
        let again = lock.try_lock().expect("the lock is free");
        drop(again);
        assert!(!lock.locked());
    });
}

/// asyncio's `lockit(name, blocker)`: takes the lock, waits for `blocker` if
/// there is one, releases.
fn lockit(lock: &Arc<Mutex<()>>, blocker: Option<Promise<()>>) -> Task<()> {
    let lock = lock.clone();
    weft::spawn_local(async move {
        let guard = lock.lock().await;
        if let Some(blocker) = blocker {
            blocker.await.expect("the blocker was cancelled");
        }
        drop(guard);
    })
}

// LockTests.test_cancel_race
#[test]
fn a_release_racing_a_cancelled_waiter_moves_on_to_the_next() {
    on_one_loop(|| async {
        let lock = Arc::new(Mutex::new(()));
        let fa = Promise::new();
        let ta = lockit(&lock, Some(fa.clone()));
        weft::yield_now().await;
        assert!(lock.locked());
        let tb = lockit(&lock, None);
        weft::yield_now().await;
        let tc = lockit(&lock, None);
        weft::yield_now().await;
        assert!(!tb.done() && !tc.done());

        // The race: A releases (once it runs) while B is being cancelled.
        fa.set_result(()).unwrap();
        assert!(tb.cancel());
        weft::yield_now().await;
        // A ran and released; the lock went to B, whose cancellation passed
        // it on to C. asyncio reports the lock free here because C has not
        // resumed yet; weft counts it C's from the hand-off (docs/asyncio.md).
        assert!(ta.done());
        assert!(tb.cancelled());
        assert!(lock.locked());
        assert!(!tc.done());
        // C is served, not stranded behind B's cancelled waiter.
        tc.await.unwrap();
        assert!(!lock.locked());
    });
}

// LockTests.test_cancel_release_race
#[test]
fn a_waiter_cancelled_as_the_lock_is_released_passes_it_to_one_waiter_only() {
    on_one_loop(|| async {
        let lock = Arc::new(Mutex::new(()));
        let lock_count = Arc::new(AtomicUsize::new(0));
        let call_count = Arc::new(AtomicUsize::new(0));
        let lockit = || {
            let (lock, locks, calls) = (lock.clone(), lock_count.clone(), call_count.clone());
            weft::spawn_local(async move {
                calls.fetch_add(1, Ordering::SeqCst);
                let guard = lock.lock_owned().await;
                locks.fetch_add(1, Ordering::SeqCst);
                guard // stays held
            })
        };
        let mine = lock.clone().lock_owned().await;
        let t1 = lockit();
        let t2 = lockit();
        let t3 = lockit();
        weft::yield_now().await; // all three park in lock()

        // trigger(): cancel the first waiter, then release.
        assert!(t1.cancel());
        drop(mine);
        let t1_ref = t1.task_ref();
        assert!(t1.await.unwrap_err().is_cancelled());

        assert_eq!(lock_count.load(Ordering::SeqCst), 1);
        assert_eq!(call_count.load(Ordering::SeqCst), 3);
        assert!(t1_ref.cancelled() && t2.done());
        assert!(!t3.done(), "two tasks got the lock at once");

        // Clean up the task still parked in lock().
        assert!(t3.cancel());
        let t3_ref = t3.task_ref();
        wait_done(&t3_ref).await;
        assert!(t3_ref.cancelled());
        drop(t2.await.unwrap());
        assert!(!lock.locked());
    });
}

// LockTests.test_finished_waiter_cancelled
#[test]
fn a_waiter_woken_then_cancelled_passes_the_lock_on() {
    on_one_loop(|| async {
        let lock = Arc::new(Mutex::new(()));
        let mine = lock.clone().lock_owned().await;
        assert!(lock.locked());

        let tb = weft::spawn_local(lock.clone().lock_owned());
        weft::yield_now().await; // B waits

        // A second waiter; wake the first (hand the lock to B) and cancel it.
        let tc = weft::spawn_local(lock.clone().lock_owned());
        assert!(tb.cancel());
        drop(mine);
        weft::yield_now().await;

        assert!(lock.locked());
        let tb_ref = tb.task_ref();
        wait_done(&tb_ref).await;
        assert!(tb_ref.cancelled());

        // C got the lock B was handed.
        let guard = tc.await.unwrap();
        assert!(lock.locked());
        drop(guard);
        assert!(!lock.locked());
    });
}

// LockTests.test_release_no_waiters
#[test]
fn release_with_no_waiters_unlocks() {
    on_one_loop(|| async {
        let lock = Mutex::new(());
        let guard = lock.lock().await;
        assert!(lock.locked());
        drop(guard);
        assert!(!lock.locked());
    });
}

// LockTests.test_context_manager
#[test]
fn the_guard_holds_the_lock_for_its_scope() {
    on_one_loop(|| async {
        let lock = Mutex::new(0);
        assert!(!lock.locked());
        {
            let mut guard = lock.lock().await;
            assert!(lock.locked());
            *guard += 1;
        }
        assert!(!lock.locked());
        assert_eq!(lock.into_inner(), 1);
    });
}

// ----- weft's own rules -----

/// Fairness (issue 14, rule 3): a task that releases and re-acquires at once
/// queues behind the waiter already there instead of barging past it.
#[test]
fn releasing_and_relocking_at_once_does_not_starve_a_waiter() {
    on_one_loop(|| async {
        let lock = Arc::new(Mutex::new(()));
        let order = Log::new();
        let mine = lock.clone().lock_owned().await;
        let waiter = acquirer(&lock, &order, 1);
        weft::yield_now().await; // the waiter parks
        drop(mine);
        // Re-acquire at once, before the waiter has run: must wait for it.
        assert!(
            lock.try_lock().is_err(),
            "the lock was handed to the waiter"
        );
        let (l, o) = (lock.clone(), order.clone());
        let me_again = weft::spawn_local(async move {
            let g = l.lock_owned().await;
            o.push(2);
            g
        });
        let mut waiter = waiter;
        wait_until("the waiter to take the lock", || order.len() == 1).await;
        release_held_by(&mut waiter);
        drop(me_again.await.unwrap());
        assert_eq!(order.snapshot(), [1, 2]);
        assert!(!lock.locked());
    });
}

/// Plain threads take part: `lock_blocking` waits in line with the tasks.
#[test]
fn a_plain_thread_and_a_task_share_the_lock() {
    on_one_loop(|| async {
        let lock = Arc::new(Mutex::new(0u32));
        let mine = lock.clone().lock_owned().await;
        let l = lock.clone();
        let thread = std::thread::spawn(move || {
            let mut guard = l.lock_blocking();
            *guard += 1;
        });
        yield_times(3).await;
        assert_eq!(*mine, 0, "the thread got in while the task held the lock");
        drop(mine);
        common::sleep_until_true("the thread to finish", || thread.is_finished()).await;
        thread.join().unwrap();
        assert_eq!(*lock.lock().await, 1);
    });
}

/// A task group that aborts a child waiting for the lock (a sibling failed)
/// leaves no waiter behind: the lock is free once its holder lets go.
#[test]
fn a_task_group_aborting_a_child_that_waits_for_the_lock_loses_nothing() {
    on_one_loop(|| async {
        let lock = Arc::new(Mutex::new(()));
        let held = lock.clone().lock_owned().await;
        let l = lock.clone();
        let err = weft::task_group(|tg| async move {
            tg.spawn(async move {
                let _guard = l.lock().await;
            })
            .unwrap()
            .detach();
            tg.spawn(async {
                weft::yield_now().await;
                if std::hint::black_box(true) {
                    panic!("a sibling fails");
                }
            })
            .unwrap()
            .detach();
            Ok(())
        })
        .await
        .unwrap_err();
        assert!(err.errors()[0].is_panic());
        drop(held);
        assert!(!lock.locked(), "the aborted child's waiter took the lock");
    });
}
