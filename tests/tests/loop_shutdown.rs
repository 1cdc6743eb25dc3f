//! Shutdown from awkward places: inside one of the runtime's own tasks, and
//! with destructors that spawn while pinned tasks are being shut down.

use std::future::pending;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct CountDrop(Arc<AtomicUsize>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Regression: dropping the runtime from one of its own tasks used to shut
/// tasks down on that thread while other workers were still running them (a
/// future polled while being dropped), and could leave a task never completed.
#[test]
fn dropping_the_runtime_inside_its_own_task_cancels_every_other_task() {
    const TASKS: usize = 64;
    for _ in 0..20 {
        let rt = weft::Builder::new().workers(2).build().unwrap();
        let dropped = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for i in 0..TASKS {
            let guard = CountDrop(dropped.clone());
            handles.push(rt.spawn(async move {
                let _guard = guard;
                // Half of them keep waking themselves, so some are queued (and
                // some mid-poll) when the runtime goes away.
                if i % 2 == 0 {
                    loop {
                        weft::yield_now().await;
                    }
                } else {
                    pending::<()>().await;
                }
            }));
        }
        let handle = rt.handle().clone();
        let slot = Arc::new(Mutex::new(Some(rt)));
        let (tx, rx) = mpsc::channel();
        let in_task = slot.clone();
        let dropper = handle.spawn(async move {
            weft::yield_now().await;
            let rt = in_task.lock().unwrap().take();
            drop(rt);
            tx.send(()).unwrap();
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the runtime drop returned");
        let deadline = Instant::now() + Duration::from_secs(10);
        while dropped.load(Ordering::SeqCst) < TASKS {
            assert!(
                Instant::now() < deadline,
                "some task's future was never dropped"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        for h in &handles {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !h.done() {
                assert!(Instant::now() < deadline, "a task never completed");
                std::thread::sleep(Duration::from_millis(1));
            }
            assert!(h.cancelled());
        }
        drop(dropper);
    }
}

struct SpawnOnDrop(Arc<AtomicUsize>);

impl Drop for SpawnOnDrop {
    fn drop(&mut self) {
        let dropped = self.0.clone();
        let guard = CountDrop(dropped);
        weft::spawn_local(async move {
            let _guard = guard;
            pending::<()>().await;
        })
        .detach();
    }
}

/// Regression: a pinned task whose destructor spawns another pinned task while
/// `block_on` shuts its loop down used to leak that task (and make `weft::run`
/// wait out its whole grace period).
#[test]
fn a_destructor_spawning_during_pinned_shutdown_leaks_nothing() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    let start = Instant::now();
    weft::run(async move {
        weft::spawn_local(async move {
            let _spawns = SpawnOnDrop(d);
            pending::<()>().await;
        })
        .detach();
        weft::yield_now().await;
    });
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "run waited out its grace"
    );
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the task spawned in Drop leaked"
    );
}
