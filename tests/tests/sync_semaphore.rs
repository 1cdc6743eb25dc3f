//! `weft::sync::Semaphore` and `BoundedSemaphore`: the port of CPython's
//! Lib/test/test_asyncio/test_locks.py, class `SemaphoreTests`, one test per
//! case (its CPython name in the comment above it), plus weft's own rules.
//!
//! Each scenario runs as a task pinned to one loop ([`on_one_loop`]) and spawns
//! its tasks there (`spawn_local`), so they run in asyncio's order and
//! `weft::yield_now()` plays `await asyncio.sleep(0)`. asyncio's
//! `await sem.acquire()` (a permit that stays taken) is `acquire().await`
//! followed by `forget()`; `sem.release()` is `release()` (one permit back).
//!
//! asyncio's checks of its private `_waiters` and `_value` become checks of
//! `available_permits()`, `locked()` (which is true while anyone is queued)
//! and of which tasks are done.
//!
//! Not ported, and why:
//! - `test_repr`: Python's `repr`; weft's `Debug` output is not an interface.
//! - `test_semaphore`: "a Semaphore cannot be awaited" is a Python `TypeError`;
//!   in Rust a `Semaphore` is not a future, which the compiler checks.
//! - `test_semaphore_value`: a negative initial value is a `ValueError` in
//!   Python; weft's count is a `usize`, so it cannot be written.
//!
//! Deviations (docs/asyncio.md, "Deviations in the sync primitives"): a
//! release hands its permit to the first waiter at once, so
//! `available_permits()` and `locked()` count it as taken from then on, and a
//! task that finds free permits with no one queued takes them without waiting
//! for waiters that were already handed theirs but have not resumed yet
//! (asyncio makes it queue behind them). `test_acquire_fifo_order_2` and `_4`
//! pin what weft does instead.

mod common;

use common::{on_one_loop, wait_done, Log};
use std::sync::Arc;
use std::time::Duration;
use weft::sync::{BoundedSemaphore, Semaphore};
use weft::Task;

/// asyncio's `await sem.acquire()` in a task: takes a permit and keeps it
/// (forgets the guard), then records `tag`.
fn acquirer(sem: &Arc<Semaphore>, log: &Log<u32>, tag: u32) -> Task<bool> {
    let (sem, log) = (sem.clone(), log.clone());
    weft::spawn_local(async move {
        sem.acquire().await.forget();
        log.push(tag);
        true
    })
}

/// A task that takes a permit and keeps it (nothing recorded).
fn taker(sem: &Arc<Semaphore>) -> Task<()> {
    let sem = sem.clone();
    weft::spawn_local(async move { sem.acquire().await.forget() })
}

// SemaphoreTests.test_initial_value_zero
#[test]
fn a_semaphore_of_zero_starts_locked() {
    let sem = Semaphore::new(0);
    assert!(sem.locked());
    assert_eq!(sem.available_permits(), 0);
}

// SemaphoreTests.test_acquire
#[test]
fn acquire_takes_permits_then_queues_waiters() {
    on_one_loop(|| async {
        let sem = Arc::new(Semaphore::new(3));
        let result = Log::new();
        sem.acquire().await.forget();
        sem.acquire().await.forget();
        assert!(!sem.locked());

        let t1 = acquirer(&sem, &result, 1);
        let t2 = acquirer(&sem, &result, 2);
        let t3 = acquirer(&sem, &result, 3);
        weft::yield_now().await;
        assert_eq!(result.snapshot(), [1]);
        assert!(sem.locked());
        assert!(!t2.done() && !t3.done(), "two waiters");
        assert_eq!(sem.available_permits(), 0);

        let t4 = acquirer(&sem, &result, 4);
        sem.release();
        sem.release();
        assert_eq!(sem.available_permits(), 0, "both permits handed to waiters");

        weft::yield_now().await;
        assert_eq!(sem.available_permits(), 0);
        assert_eq!(result.len(), 3);
        assert!(sem.locked());

        assert!(t1.done());
        let race = [t2.task_ref(), t3.task_ref(), t4.task_ref()];
        let done = race.iter().filter(|t| t.done()).count();
        assert_eq!(done, 2);
        // weft serves waiters in FIFO order: the two are t2 and t3.
        assert_eq!(result.snapshot(), [1, 2, 3]);

        // Clean up: the last waiter gets the next permit.
        sem.release();
        assert!(t1.await.unwrap());
        for t in [t2, t3, t4] {
            assert!(t.await.unwrap());
        }
        assert_eq!(sem.available_permits(), 0);
    });
}

// SemaphoreTests.test_acquire_cancel
#[test]
fn a_cancelled_acquire_leaves_no_waiter_behind() {
    on_one_loop(|| async {
        let sem = Arc::new(Semaphore::new(1));
        sem.acquire().await.forget();

        let acquire = taker(&sem);
        weft::yield_now().await; // it parks in acquire()
        assert!(acquire.cancel());
        assert!(acquire.await.unwrap_err().is_cancelled());

        // Nobody is queued: a released permit stays available.
        sem.release();
        assert_eq!(sem.available_permits(), 1);
        assert!(!sem.locked());
    });
}

// SemaphoreTests.test_acquire_cancel_before_awoken
#[test]
fn waiters_cancelled_before_they_run_pass_the_permit_down_the_queue() {
    on_one_loop(|| async {
        let sem = Arc::new(Semaphore::new(0));
        let t1 = taker(&sem);
        let t2 = taker(&sem);
        let t3 = taker(&sem);
        let t4 = taker(&sem);
        weft::yield_now().await;

        assert!(t1.cancel());
        assert!(t2.cancel());
        sem.release();

        weft::yield_now().await;
        weft::yield_now().await;
        let (r3, r4) = (t3.task_ref(), t4.task_ref());
        wait_done(&r3).await;
        let num_done = [&r3, &r4].iter().filter(|t| t.done()).count();
        assert_eq!(num_done, 1);
        assert!(r3.done() && !r3.cancelled());
        assert!(!r4.done());

        assert!(t1.await.unwrap_err().is_cancelled());
        assert!(t2.await.unwrap_err().is_cancelled());
        t3.await.unwrap();
        assert!(t4.cancel());
        assert!(t4.await.unwrap_err().is_cancelled());
        assert_eq!(sem.available_permits(), 0, "the permit went to t3 only");
    });
}

// SemaphoreTests.test_acquire_hang
#[test]
fn a_cancelled_first_waiter_does_not_hang_the_second() {
    on_one_loop(|| async {
        let sem = Arc::new(Semaphore::new(0));
        let t1 = taker(&sem);
        let t2 = taker(&sem);
        weft::yield_now().await;

        assert!(t1.cancel());
        sem.release();
        weft::yield_now().await;
        weft::yield_now().await;
        assert!(sem.locked());
        let r2 = t2.task_ref();
        wait_done(&r2).await;
        t2.await.unwrap();
        assert!(t1.await.unwrap_err().is_cancelled());
    });
}

// SemaphoreTests.test_acquire_no_hang
#[test]
fn a_waiter_cancelled_after_the_hand_off_gives_the_permit_back() {
    on_one_loop(|| async {
        let sem = Arc::new(Semaphore::new(1));
        let t2_slot: Arc<parking_lot::Mutex<Option<weft::TaskRef>>> = Default::default();

        let (s, slot) = (sem.clone(), t2_slot.clone());
        let t1 = weft::spawn_local(async move {
            {
                let _permit = s.acquire().await;
                weft::yield_now().await;
            }
            let t2 = slot.lock().clone().expect("t2 exists");
            t2.cancel();
        });
        let s = sem.clone();
        let t2 = weft::spawn_local(async move {
            let _permit = s.acquire().await;
            panic!("t2 must not get the permit after it was cancelled");
        });
        *t2_slot.lock() = Some(t2.task_ref());

        let (r1, r2) = weft::gather_settled!(t1, t2).await;
        assert!(r1.is_ok());
        assert!(r2.unwrap_err().is_cancelled());

        let permit = weft::timeout(Duration::from_secs(1))
            .run(sem.acquire())
            .await
            .expect("the permit was lost");
        drop(permit);
        assert_eq!(sem.available_permits(), 1);
    });
}

// SemaphoreTests.test_release_not_acquired
#[test]
fn releasing_a_bounded_semaphore_past_its_initial_value_is_an_error() {
    let sem = BoundedSemaphore::new(1);
    let err = sem.release().unwrap_err();
    assert!(!err.to_string().is_empty());
    assert_eq!(err.to_string(), err.to_string().to_lowercase());
    // It stays usable.
    assert_eq!(sem.available_permits(), 1);
    let permit = sem.try_acquire().unwrap();
    assert!(sem.locked());
    permit.forget();
    sem.release().unwrap();
    assert!(sem.release().is_err());
    assert_eq!(sem.available_permits(), 1);
}

// SemaphoreTests.test_release_no_waiters
#[test]
fn release_with_no_waiters_unlocks() {
    on_one_loop(|| async {
        let sem = Semaphore::new(1);
        sem.acquire().await.forget();
        assert!(sem.locked());
        sem.release();
        assert!(!sem.locked());
    });
}

// SemaphoreTests.test_acquire_fifo_order
#[test]
fn tasks_take_turns_in_fifo_order() {
    on_one_loop(|| async {
        let sem = Arc::new(Semaphore::new(1));
        let result = Log::new();
        let coro = |tag: &'static str| {
            let (sem, result) = (sem.clone(), result.clone());
            async move {
                for round in 1..=2 {
                    sem.acquire().await.forget();
                    result.push(format!("{tag}_{round}"));
                    weft::sleep(Duration::from_millis(10)).await;
                    sem.release();
                }
            }
        };
        // asyncio's TaskGroup here only waits for the three.
        let tasks = ["c1", "c2", "c3"].map(|tag| weft::spawn_local(coro(tag)));
        weft::gather(tasks).await.unwrap();
        assert_eq!(
            result.snapshot(),
            ["c1_1", "c2_1", "c3_1", "c1_2", "c2_2", "c3_2"]
        );
    });
}

// SemaphoreTests.test_acquire_fifo_order_2 (a deviation: see the header)
#[test]
fn a_release_and_reacquire_without_awaiting_does_not_wait_for_a_waiter_already_served() {
    on_one_loop(|| async {
        let sem = Arc::new(Semaphore::new(1));
        let result = Log::new();
        let t1 = acquirer(&sem, &result, 1);
        let (s, r) = (sem.clone(), result.clone());
        let t2 = weft::spawn_local(async move {
            s.acquire().await.forget();
            r.push(2);
            s.release();
            s.acquire().await.forget();
            r.push(4);
            true
        });
        let t3 = acquirer(&sem, &result, 3);
        weft::yield_now().await;

        sem.release();
        sem.release();
        for t in [t1, t2, t3] {
            assert!(t.await.unwrap());
        }
        // asyncio: [1, 2, 3, 4] (t2's second acquire queues behind t3, whose
        // wake-up is pending). weft handed t3 its permit with the release, so
        // t2's free permit is its own and it goes on: nobody is starved.
        assert_eq!(result.snapshot(), [1, 2, 4, 3]);
        assert_eq!(sem.available_permits(), 0);
    });
}

// SemaphoreTests.test_acquire_fifo_order_3
#[test]
fn a_cancelled_waiter_is_skipped_and_the_rest_keep_their_order() {
    on_one_loop(|| async {
        let sem = Arc::new(Semaphore::new(0));
        let result = Log::new();
        let t1 = acquirer(&sem, &result, 1);
        let t2 = acquirer(&sem, &result, 2);
        let t3 = acquirer(&sem, &result, 3);
        weft::yield_now().await;

        assert!(t1.cancel());
        weft::yield_now().await;

        sem.release();
        sem.release();
        let outcomes = weft::gather_settled([t1, t2, t3]).await;
        assert!(outcomes[0].as_ref().unwrap_err().is_cancelled());
        assert!(outcomes[1].is_ok() && outcomes[2].is_ok());
        assert_eq!(result.snapshot(), [2, 3]);
    });
}

// SemaphoreTests.test_acquire_fifo_order_4 (a deviation: see the header)
#[test]
fn releases_hand_permits_to_queued_waiters_and_newcomers_take_the_rest() {
    on_one_loop(|| async {
        let sem = Arc::new(Semaphore::new(0));
        let result = Log::new();
        let t4: Arc<parking_lot::Mutex<Option<Task<bool>>>> = Default::default();

        let (s, r, slot) = (sem.clone(), result.clone(), t4.clone());
        let t1 = weft::spawn_local(async move {
            assert_eq!(s.available_permits(), 0);
            s.acquire().await.forget();
            assert_eq!(s.available_permits(), 0);
            let r4 = r.clone();
            *slot.lock() = Some(weft::spawn_local(async move {
                r4.push(4);
                true
            }));
            r.push(1);
            true
        });
        let (s, r) = (sem.clone(), result.clone());
        let t2 = weft::spawn_local(async move {
            // One permit each for t1, t2 and t3.
            s.release();
            s.release();
            s.release();
            // The first went to t1 (queued) with the release itself.
            assert_eq!(s.available_permits(), 2);
            // asyncio: locked, since t1 has not resumed. weft: t1 owns its
            // permit already; two are free.
            assert!(!s.locked());
            s.acquire().await.forget();
            r.push(2);
            true
        });
        let (s, r) = (sem.clone(), result.clone());
        let t3 = weft::spawn_local(async move {
            s.acquire().await.forget();
            assert!(s.locked());
            r.push(3);
            true
        });

        weft::yield_now().await;
        // asyncio: 2 permits and 3 queued waiters here. weft: t1 was handed
        // its permit, t2 and t3 took theirs without queueing.
        assert_eq!(sem.available_permits(), 0);
        weft::yield_now().await;

        for t in [t1, t2, t3] {
            assert!(t.await.unwrap());
        }
        let t4 = t4.lock().take().expect("t1 spawned t4");
        assert!(t4.await.unwrap());
        // asyncio: [1, 2, 3, 4].
        assert_eq!(result.snapshot(), [2, 3, 1, 4]);
    });
}

// ----- weft's own rules -----

/// A permit dropped gives its unit back; `forget` keeps it taken;
/// `add_permits` adds several (asyncio's repeated `release()`).
#[test]
fn permits_return_on_drop_and_forget_keeps_them() {
    let sem = Semaphore::new(2);
    let a = sem.try_acquire().unwrap();
    let b = sem.try_acquire().unwrap();
    assert!(sem.locked());
    assert!(sem.try_acquire().is_err());
    drop(a);
    assert_eq!(sem.available_permits(), 1);
    b.forget();
    assert_eq!(sem.available_permits(), 1);
    sem.add_permits(2);
    assert_eq!(sem.available_permits(), 3);
}

/// An owned permit moves into a spawned task and returns its unit when that
/// task drops it.
#[test]
fn an_owned_permit_moves_into_a_task() {
    on_one_loop(|| async {
        let sem = Arc::new(Semaphore::new(1));
        let permit = sem.clone().acquire_owned().await;
        assert!(sem.locked());
        weft::spawn_local(async move { drop(permit) })
            .await
            .unwrap();
        assert_eq!(sem.available_permits(), 1);
    });
}

/// Every await is a cancellation point the rest of weft handles (issue 14,
/// rule 4): a timeout scope, `wait_for` and `catch_cancel` around `acquire`
/// give up without losing a permit or leaving a waiter queued.
#[test]
fn timeouts_and_catch_cancel_around_acquire_lose_nothing() {
    on_one_loop(|| async {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire().unwrap();

        let out = weft::timeout(Duration::from_millis(5))
            .run(sem.acquire())
            .await;
        assert!(out.is_err(), "acquired a permit that is held");

        let s = sem.clone();
        let t = weft::spawn_local(async move { s.acquire_owned().await });
        let err = weft::wait_for(t, Some(Duration::from_millis(5)))
            .await
            .unwrap_err();
        assert!(err.is_timeout());

        let s = sem.clone();
        let t = weft::spawn_local(async move {
            match weft::catch_cancel(s.acquire()).await {
                Ok(_) => unreachable!("the permit is held"),
                Err(_cancelled) => s.available_permits(),
            }
        });
        weft::yield_now().await; // it parks in acquire()
        assert!(t.cancel());
        assert_eq!(t.await.unwrap(), 0);

        drop(held);
        assert_eq!(sem.available_permits(), 1, "a permit was lost");
        assert!(!sem.locked(), "a waiter was left queued");
    });
}
