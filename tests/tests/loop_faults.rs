//! Regression tests for runtime faults found by misuse: a panicking
//! `on_thread_start` hook, and durations too large to add to an `Instant`.

mod common;

use common::{ms, watchdog};
use std::time::Duration;
use weft::Builder;

/// Regression: a panicking `on_thread_start` hook killed every worker while
/// `build()` returned `Ok`, so spawned work hung. Now `build()` fails with an
/// error naming the panic, and the workers it started are stopped.
#[test]
fn on_thread_start_panic_fails_build() {
    watchdog(|| {
        let err = Builder::new()
            .workers(2)
            .on_thread_start(|| panic!("hook exploded"))
            .build()
            .expect_err("build must report the panicking hook");
        assert_eq!(err.kind(), std::io::ErrorKind::Other);
        assert!(err.to_string().contains("hook exploded"), "{err}");
        // A hook that does not panic still builds a working runtime.
        let rt = Builder::new()
            .workers(2)
            .on_thread_start(|| {})
            .build()
            .unwrap();
        assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
    });
}

/// Regression: `shutdown_timeout(Duration::MAX)` panicked (overflow adding
/// the grace to an `Instant`). It now saturates, like every other duration.
#[test]
fn shutdown_timeout_with_duration_max_does_not_panic() {
    watchdog(|| {
        let rt = Builder::new().workers(1).build().unwrap();
        let t = rt.spawn(async {
            weft::sleep(ms(1)).await;
        });
        assert!(rt.shutdown_timeout(Duration::MAX));
        assert!(t.task_ref().done());
    });
}

/// Regression: with `blocking_keep_alive(Duration::MAX)` a pool thread
/// panicked (overflow) when it went idle, after which blocking jobs never ran.
#[test]
fn blocking_keep_alive_duration_max_keeps_the_pool_working() {
    watchdog(|| {
        let rt = Builder::new()
            .workers(1)
            .blocking_keep_alive(Duration::MAX)
            .build()
            .unwrap();
        let h = rt.handle();
        assert_eq!(h.spawn_blocking(|| 1).result(Some(ms(10_000))).unwrap(), 1);
        // Let the pool thread go idle (where the overflow was).
        std::thread::sleep(ms(50));
        assert_eq!(h.spawn_blocking(|| 2).result(Some(ms(10_000))).unwrap(), 2);
    });
}
