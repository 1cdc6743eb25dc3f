//! `weft::sync::RwLock`: Rust-only (asyncio has no reader-writer lock), so
//! there is nothing to port; these pin issue 14's rules for it: readers share,
//! a writer excludes everyone, waiters are served in FIFO order and a queued
//! writer holds back later readers (write-preferring), a cancelled waiter
//! leaves or passes its wake-up on, and the owned guards move into tasks.
//!
//! Scenarios run as tasks pinned to one loop ([`on_one_loop`], `spawn_local`),
//! so `weft::yield_now()` lets every ready task run once, in FIFO order.

mod common;

use common::{on_one_loop, wait_done, Log};
use std::sync::Arc;
use weft::sync::RwLock;
use weft::Task;

/// A task that takes a read lock, records `tag`, and holds the lock until
/// `release` is set.
fn reader(
    lock: &Arc<RwLock<u32>>,
    log: &Log<&'static str>,
    tag: &'static str,
    release: &weft::Promise<()>,
) -> Task<()> {
    let (lock, log, release) = (lock.clone(), log.clone(), release.clone());
    weft::spawn_local(async move {
        let _guard = lock.read().await;
        log.push(tag);
        release.await.unwrap();
    })
}

/// As [`reader`], with a write lock.
fn writer(
    lock: &Arc<RwLock<u32>>,
    log: &Log<&'static str>,
    tag: &'static str,
    release: &weft::Promise<()>,
) -> Task<()> {
    let (lock, log, release) = (lock.clone(), log.clone(), release.clone());
    weft::spawn_local(async move {
        let mut guard = lock.write().await;
        *guard += 1;
        log.push(tag);
        release.await.unwrap();
    })
}

#[test]
fn readers_share_and_a_writer_excludes() {
    on_one_loop(|| async {
        let lock = Arc::new(RwLock::new(0));
        let r1 = lock.read().await;
        let r2 = lock.try_read().expect("readers share");
        assert_eq!(*r1 + *r2, 0);
        assert!(lock.try_write().is_err(), "a writer while readers hold it");
        drop((r1, r2));
        let mut w = lock.try_write().expect("free again");
        *w = 7;
        assert!(lock.try_read().is_err(), "a reader while a writer holds it");
        drop(w);
        assert_eq!(*lock.read().await, 7);
    });
}

#[test]
fn a_queued_writer_holds_back_later_readers() {
    on_one_loop(|| async {
        let lock = Arc::new(RwLock::new(0));
        let log = Log::new();
        let (first, second, third) = (
            weft::Promise::new(),
            weft::Promise::new(),
            weft::Promise::new(),
        );
        let r1 = reader(&lock, &log, "r1", &first);
        weft::yield_now().await;
        let w = writer(&lock, &log, "w", &second);
        weft::yield_now().await;
        let r2 = reader(&lock, &log, "r2", &third);
        weft::yield_now().await;
        // r2 could share with r1, but the writer queued first.
        assert_eq!(log.snapshot(), ["r1"]);
        assert!(
            lock.try_read().is_err(),
            "write-preferring: no reader barges"
        );

        first.set_result(()).unwrap();
        r1.await.unwrap();
        common::wait_until("the writer to get in", || log.len() == 2).await;
        assert_eq!(log.snapshot(), ["r1", "w"]);
        second.set_result(()).unwrap();
        third.set_result(()).unwrap();
        w.await.unwrap();
        r2.await.unwrap();
        assert_eq!(log.snapshot(), ["r1", "w", "r2"]);
        assert_eq!(*lock.read().await, 1);
    });
}

#[test]
fn waiters_are_served_in_fifo_order_readers_together() {
    on_one_loop(|| async {
        let lock = Arc::new(RwLock::new(0));
        let log = Log::new();
        let go = weft::Promise::new();
        let held = lock.clone().write_owned().await;
        let tasks = vec![
            reader(&lock, &log, "r1", &go),
            reader(&lock, &log, "r2", &go),
            writer(&lock, &log, "w1", &go),
            reader(&lock, &log, "r3", &go),
        ];
        weft::yield_now().await;
        drop(held);
        // r1 and r2 get in together; w1 waits for both; r3 for w1.
        common::wait_until("both readers to get in", || log.len() == 2).await;
        common::yield_times(3).await;
        assert_eq!(log.snapshot(), ["r1", "r2"]);
        go.set_result(()).unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(log.snapshot(), ["r1", "r2", "w1", "r3"]);
    });
}

/// A read lock held, and queued behind it a writer, then a reader (both go
/// on, and record their tags, as soon as they get the lock).
struct Queued {
    lock: Arc<RwLock<u32>>,
    log: Log<&'static str>,
    held: weft::sync::OwnedRwLockReadGuard<u32>,
    w: Task<()>,
    r: Task<()>,
}

async fn writer_then_reader_queued() -> Queued {
    let lock = Arc::new(RwLock::new(0));
    let log = Log::new();
    let go = weft::Promise::new();
    go.set_result(()).unwrap();
    let held = lock.clone().read_owned().await;
    let w = writer(&lock, &log, "w", &go);
    weft::yield_now().await;
    let r = reader(&lock, &log, "r", &go);
    weft::yield_now().await;
    Queued {
        lock,
        log,
        held,
        w,
        r,
    }
}

#[test]
fn a_writer_cancelled_after_it_was_handed_the_lock_passes_it_on() {
    on_one_loop(|| async {
        let Queued {
            lock,
            log,
            held,
            w,
            r,
        } = writer_then_reader_queued().await;
        // Hand the lock to the writer and cancel it before it runs.
        assert!(w.cancel());
        drop(held);
        let w_ref = w.task_ref();
        wait_done(&w_ref).await;
        assert!(w_ref.cancelled());
        r.await.unwrap();
        assert_eq!(log.snapshot(), ["r"]);
        assert!(lock.try_write().is_ok(), "the lock was left held");
    });
}

#[test]
fn a_cancelled_waiting_writer_lets_the_readers_behind_it_in() {
    on_one_loop(|| async {
        let Queued {
            lock,
            log,
            held,
            w,
            r,
        } = writer_then_reader_queued().await;
        assert!(log.snapshot().is_empty());
        // The writer gives up while a reader still holds the lock: the reader
        // behind it may now share with the holder.
        assert!(w.cancel());
        r.await.unwrap();
        assert_eq!(log.snapshot(), ["r"]);
        drop(held);
        assert!(lock.try_write().is_ok());
    });
}

#[test]
fn owned_guards_move_into_tasks() {
    on_one_loop(|| async {
        let lock = Arc::new(RwLock::new(String::new()));
        let mut w = lock.clone().write_owned().await;
        w.push_str("written");
        weft::spawn_local(async move { drop(w) }).await.unwrap();
        let r = lock.clone().read_owned().await;
        let len = weft::spawn_local(async move { r.len() }).await.unwrap();
        assert_eq!(len, "written".len());
        assert!(lock.try_write().is_ok());
    });
}
