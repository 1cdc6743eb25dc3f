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

/// Regression: a `call_later` callback (and the driver, through the cycle
/// driver -> timer waker -> loop -> parker -> driver) outlived its runtime,
/// so a channel sender it captured was never dropped and a thread waiting on
/// the receiver hung. Dropping the runtime now drops pending timers.
#[test]
fn dropping_the_runtime_drops_pending_call_later_callbacks() {
    let rt = weft::Builder::new().workers(2).build().unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    rt.block_on(async move {
        let h = weft::call_later(Duration::from_secs(3600), move || drop(tx));
        assert!(!h.cancelled());
    });
    drop(rt);
    let start = Instant::now();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)),
        Err(mpsc::RecvTimeoutError::Disconnected),
        "the callback (and its sender) should be dropped with the runtime"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

/// Regression: a thread in `block_on`, waiting on a timer or a socket, hung
/// forever when another thread dropped the runtime (nothing turned the driver
/// any more). Now the shutdown wakes it: the sleep ends and the read fails.
#[test]
fn waits_in_block_on_end_when_another_thread_drops_the_runtime() {
    use futures_util::AsyncReadExt;
    let rt = weft::Builder::new().workers(2).build().unwrap();
    let handle = rt.handle().clone();
    let (ready_tx, ready_rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        handle.block_on(async move {
            let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let mut client = weft::net::TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            ready_tx.send(()).unwrap();
            let slept = async {
                weft::sleep(Duration::from_secs(3600)).await;
            };
            let mut buf = [0u8; 8];
            let read = client.read(&mut buf);
            let (_, read) = futures_util::future::join(slept, read).await;
            read
        })
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    drop(rt);
    let start = Instant::now();
    while !waiter.is_finished() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "block_on still waiting after the runtime was dropped"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let err = waiter.join().unwrap().expect_err("the read cannot succeed");
    assert_eq!(err.kind(), std::io::ErrorKind::Other, "{err}");
}
