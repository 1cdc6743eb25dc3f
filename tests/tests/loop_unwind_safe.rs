//! `Runtime` and `Handle` are `UnwindSafe` and `RefUnwindSafe` (as tokio's
//! are), and stay `Send + Sync`: a closure given to `catch_unwind` captures
//! them without `AssertUnwindSafe`, and the runtime serves on after the
//! panic it caught (under the common watchdog).

mod common;

use common::watchdog;
use std::panic::{catch_unwind, RefUnwindSafe, UnwindSafe};

fn unwind_safe_and_thread_safe<T: UnwindSafe + RefUnwindSafe + Send + Sync>() {}

#[test]
fn runtime_and_handle_are_unwind_safe_and_thread_safe() {
    unwind_safe_and_thread_safe::<weft::Runtime>();
    unwind_safe_and_thread_safe::<weft::Handle>();
    unwind_safe_and_thread_safe::<&weft::Runtime>();
    unwind_safe_and_thread_safe::<&weft::Handle>();
}

#[test]
fn runtime_serves_after_a_caught_block_on_panic() {
    watchdog(|| {
        let rt = weft::Builder::new().workers(2).build().unwrap();
        let handle = rt.handle().clone();
        // No AssertUnwindSafe: `&Runtime` and `Handle` are captured as they are.
        let payload = catch_unwind(|| {
            rt.block_on(async {
                let t = handle.spawn(async { 1 });
                assert_eq!(t.await.unwrap(), 1);
                panic!("bench body failed");
            })
        })
        .unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"bench body failed"));
        let h = handle.clone();
        let out = catch_unwind(move || h.block_on(h.spawn(async { 2 })).unwrap()).unwrap();
        assert_eq!(out, 2);
        assert_eq!(rt.block_on(rt.spawn(async { 3 })).unwrap(), 3);
        // Nothing leaked: every task finished (a finished task leaves the
        // registry right after it wakes its awaiter, so allow a moment).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while handle.metrics().live_tasks != 0 && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert_eq!(handle.metrics().live_tasks, 0);
    });
}
