//! A queue's awaits are cancellation points like any other (issue 14, "Works
//! with the rest of weft"): `catch_cancel`, `wait_for`, timeout scopes and
//! `task_group` around `get`, `put` and `join` cancel the wait, lose no item
//! and leave no waiter behind.

mod common;

use common::{ms, spawn_started, wait_until};
use weft::queue::Queue;
use weft::TaskError;

/// `catch_cancel` around a waiting `get`: the cancellation arrives as
/// `Err(Cancelled)`, the get is gone (a later item stays in the queue), and
/// the task carries on and gets that item.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn catch_cancel_around_get_then_carry_on() {
    let q = Queue::new(0);
    let q1 = q.clone();
    let task = spawn_started!("the getter to wait", {
        let first = weft::catch_cancel(q1.get()).await;
        assert!(first.is_err(), "{first:?}");
        // Cleanup may await; then the task goes on.
        wait_until("the item after the cancellation", || !q1.empty()).await;
        q1.get().await
    });
    task.cancel();
    wait_until("the cancellation to land", || {
        !format!("{q:?}").contains("getters: 1")
    })
    .await;
    q.put(5).await.unwrap();
    assert_eq!(task.await.unwrap(), Ok(5));
    assert!(q.empty());
}

/// `catch_cancel` around a waiting `put` on a full queue: the item was not
/// inserted, and the place freed later goes to the next putter.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn catch_cancel_around_put_inserts_nothing() {
    let q = Queue::new(1);
    q.put(1).await.unwrap();
    let q1 = q.clone();
    let task = spawn_started!("the putter to wait", {
        weft::catch_cancel(q1.put(2)).await.is_err()
    });
    task.cancel();
    assert!(task.await.unwrap(), "the put was not cancelled");
    assert_eq!(q.get().await, Ok(1));
    assert!(q.empty());
    q.put(3).await.unwrap();
    assert_eq!(q.get().await, Ok(3));
}

/// `wait_for` and a timeout scope around `get`, `put` and `join`: each times
/// out, and the queue is exactly as before.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn wait_for_and_timeout_around_get_put_and_join() {
    let q = Queue::new(1);
    let q1 = q.clone();
    let got = weft::wait_for(weft::spawn(async move { q1.get().await }), Some(ms(10))).await;
    assert!(matches!(got, Err(TaskError::TimedOut(_))), "{got:?}");

    q.put(1).await.unwrap();
    let full = weft::timeout(ms(10)).run(q.put(2)).await;
    assert!(full.is_err(), "{full:?}");
    let joined = weft::timeout(ms(10)).run(q.join()).await;
    assert!(joined.is_err(), "join returned with an item pending");

    let repr = format!("{q:?}");
    assert!(
        repr.contains("getters: 0") && repr.contains("putters: 0"),
        "{repr}"
    );
    assert_eq!(q.get().await, Ok(1));
    assert!(q.empty());
    q.task_done().unwrap();
    q.join().await;
}

/// A task group of consumers aborted by a failing child: the consumers
/// waiting in `get` are cancelled, and every item put before stays in the
/// queue or was got (none lost).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn task_group_abort_cancels_waiting_consumers_without_losing_items() {
    let q = Queue::new(0);
    let got = common::Log::new();
    let (q1, g1) = (q.clone(), got.clone());
    let out = weft::spawn(async move {
        weft::task_group(|tg| async move {
            for _ in 0..3 {
                let (q, g) = (q1.clone(), g1.clone());
                tg.spawn(async move {
                    loop {
                        let item = q.get().await.unwrap();
                        g.push(item);
                    }
                })
                .unwrap()
                .detach();
            }
            for i in 0..10 {
                q1.put(i).await.unwrap();
            }
            tg.spawn(async {
                weft::sleep(ms(20)).await;
                panic!("a failing child aborts the group");
            })
            .unwrap()
            .detach();
            Ok(())
        })
        .await
    })
    .await
    .unwrap();
    assert!(out.is_err(), "the group should fail");
    let mut seen = got.snapshot();
    while let Ok(item) = q.get_nowait() {
        seen.push(item);
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
    let repr = format!("{q:?}");
    assert!(repr.contains("getters: 0"), "{repr}");
}
