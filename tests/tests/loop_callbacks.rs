//! Loop callbacks (ASYNCIO.md, "Loop": call_soon, call_later / call_at, time()):
//! FIFO order and cancellation, the one-iteration rule, never-early delayed
//! callbacks in due-time order with ties in scheduling order, cancellation
//! removing the timer, the loop clock, panicking callbacks, `LoopHandle` from
//! other threads, and `call_soon` outside a loop.

mod common;

use common::{
    block_on, panic_message, runtime, sleep_until_true, spin_until, wait_until, watchdog,
    DropCounter, Flag, Log, TraceLog,
};
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::ThreadId;
use std::time::{Duration, Instant};
use weft::{CallbackHandle, LoopHandle};

fn pending_timers() -> usize {
    weft::Handle::current().metrics().pending_timers
}

// ----- call_soon -----

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn call_soon_runs_in_fifo_order_and_cancel_skips() {
    // `!Send` callbacks are fine: they run on this thread.
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut handles = Vec::new();
    for i in 0..10 {
        let log = log.clone();
        handles.push(weft::call_soon(move || log.borrow_mut().push(i)));
    }
    handles[3].cancel();
    handles[7].cancel();
    handles[7].cancel(); // idempotent
                         // Dropping a handle does not cancel.
    let l = log.clone();
    drop(weft::call_soon(move || l.borrow_mut().push(10)));
    for (i, h) in handles.iter().enumerate() {
        assert_eq!(h.cancelled(), i == 3 || i == 7, "handle {i}: {h:?}");
    }
    assert!(
        log.borrow().is_empty(),
        "call_soon ran a callback synchronously"
    );
    weft::yield_now().await;
    assert_eq!(*log.borrow(), [0, 1, 2, 4, 5, 6, 8, 9, 10]);
    // Cancelling one that already ran changes nothing but the flag.
    handles[0].cancel();
    assert!(handles[0].cancelled());
    weft::yield_now().await;
    assert_eq!(log.borrow().len(), 9);

    // FIFO at volume.
    log.borrow_mut().clear();
    for i in 0..1000 {
        let log = log.clone();
        weft::call_soon(move || log.borrow_mut().push(i));
    }
    weft::yield_now().await;
    assert_eq!(*log.borrow(), (0..1000).collect::<Vec<_>>());

    // A callback cancelling a later one of the same iteration: it is
    // skipped (the flag is checked when its turn comes).
    log.borrow_mut().clear();
    let later: Rc<RefCell<Option<CallbackHandle>>> = Rc::default();
    let (l, victim) = (log.clone(), later.clone());
    weft::call_soon(move || {
        l.borrow_mut().push(1);
        victim.borrow().as_ref().unwrap().cancel();
    });
    let l = log.clone();
    *later.borrow_mut() = Some(weft::call_soon(move || l.borrow_mut().push(2)));
    let l = log.clone();
    weft::call_soon(move || l.borrow_mut().push(3));
    weft::yield_now().await;
    assert_eq!(*log.borrow(), [1, 3]);

    // Cancelled from another thread before its turn.
    log.borrow_mut().clear();
    let l = log.clone();
    let h = weft::call_soon(move || l.borrow_mut().push(99));
    let h2 = h.clone();
    std::thread::spawn(move || h2.cancel()).join().unwrap();
    assert!(h.cancelled());
    weft::yield_now().await;
    assert!(log.borrow().is_empty());
}

#[test]
fn call_soon_on_a_worker_runs_there_in_order() {
    block_on(2, |h| {
        let root = h.spawn(async {
            let log = Log::new();
            let me = std::thread::current().id();
            let mut handles = Vec::new();
            for i in 0..100 {
                let log = log.clone();
                handles.push(weft::call_soon(move || {
                    log.push((i, std::thread::current().id()))
                }));
            }
            handles[50].cancel();
            wait_until("99 callbacks", || log.len() == 99).await;
            (me, log.snapshot())
        });
        async move {
            let (me, ran) = root.await.unwrap();
            let order: Vec<i32> = ran.iter().map(|&(i, _)| i).collect();
            let expected: Vec<i32> = (0..100).filter(|&i| i != 50).collect();
            assert_eq!(order, expected);
            assert!(
                ran.iter().all(|&(_, t)| t == me),
                "a callback ran off the worker that queued it"
            );
        }
    });
}

// ----- one iteration runs only the callbacks ready at its start -----

#[test]
fn a_callback_queued_by_a_callback_waits_for_the_next_iteration() {
    // A queues B; the task queued at the same time as A runs in between.
    let order = block_on(1, |_| async {
        let log = Log::new();
        let l = log.clone();
        weft::call_soon(move || {
            l.push("A");
            let l = l.clone();
            weft::call_soon(move || l.push("B"));
        });
        let l = log.clone();
        let task = weft::spawn_local(async move { l.push("task") });
        task.await.unwrap();
        wait_until("B", || log.len() == 3).await;
        log.snapshot()
    });
    assert_eq!(order, ["A", "task", "B"]);
}

/// Queues a callback that logs "C" and queues itself again, until `stop`.
fn requeue(log: Log<String>, stop: Flag) {
    weft::call_soon(move || {
        if stop.get() {
            return;
        }
        log.push("C".to_owned());
        requeue(log, stop);
    });
}

async fn stepping_task(log: Log<String>, stop: Flag) {
    for i in 0..5 {
        log.push(format!("T{i}"));
        weft::yield_now().await;
    }
    stop.set();
}

#[test]
fn a_self_requeueing_callback_runs_once_per_iteration_and_cannot_starve_tasks() {
    watchdog(|| {
        // block_on loop: one FIFO of callbacks and task steps, as asyncio's
        // (which prints this very order): the task was queued before the
        // callback, so its first step runs first.
        let on_block_on = block_on(1, |_| async {
            let (log, stop) = (Log::new(), Flag::new());
            let task = weft::spawn_local(stepping_task(log.clone(), stop.clone()));
            requeue(log.clone(), stop.clone());
            task.await.unwrap();
            log.snapshot()
        });
        assert_eq!(
            on_block_on,
            ["T0", "C", "T1", "C", "T2", "C", "T3", "C", "T4", "C"]
        );

        // A worker: the same one FIFO.
        let on_worker = block_on(1, |h| {
            let root = h.spawn(async {
                let (log, stop) = (Log::new(), Flag::new());
                requeue(log.clone(), stop.clone());
                stepping_task(log.clone(), stop).await;
                log.snapshot()
            });
            async move { root.await.unwrap() }
        });
        assert_eq!(
            on_worker,
            ["T0", "C", "T1", "C", "T2", "C", "T3", "C", "T4", "C"]
        );
    });
}

// ----- call_later / call_at -----

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn call_later_and_call_at_never_run_early_and_run_in_due_order() {
    let log = Log::<(&str, Instant, Instant)>::new();
    let record = |name: &'static str, due: Instant| {
        let log = log.clone();
        move || log.push((name, due, Instant::now()))
    };
    let now = Instant::now();
    // Scheduled in the reverse of their due order, 40 ms apart.
    weft::call_later(
        Duration::from_millis(120),
        record("120", now + Duration::from_millis(120)),
    );
    weft::call_later(
        Duration::from_millis(80),
        record("80", now + Duration::from_millis(80)),
    );
    let at = weft::loop_time() + Duration::from_millis(40);
    weft::call_at(at, record("40", at));
    weft::call_later(
        Duration::from_millis(1),
        record("1", now + Duration::from_millis(1)),
    );
    sleep_until_true("four callbacks", || log.len() == 4).await;
    let ran = log.snapshot();
    let names: Vec<&str> = ran.iter().map(|r| r.0).collect();
    assert_eq!(names, ["1", "40", "80", "120"]);
    for (name, due, at) in ran {
        assert!(at >= due, "{name} ran {:?} early", due - at);
        assert!(
            at - due < Duration::from_secs(2),
            "{name} ran {:?} late",
            at - due
        );
    }

    // Many delays around the timer tick, each measured from just before
    // its call.
    let early = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    for i in 0..400u64 {
        let d = Duration::from_micros((i * 7919) % 30_000);
        let (early, done) = (early.clone(), done.clone());
        let start = Instant::now();
        let cb = move || {
            if start.elapsed() < d {
                early.fetch_add(1, Ordering::SeqCst);
            }
            done.fetch_add(1, Ordering::SeqCst);
        };
        if i % 2 == 0 {
            weft::call_later(d, cb);
        } else {
            weft::call_at(start + d, cb);
        }
    }
    sleep_until_true("400 delayed callbacks", || {
        done.load(Ordering::SeqCst) == 400
    })
    .await;
    assert_eq!(
        early.load(Ordering::SeqCst),
        0,
        "delayed callbacks ran early"
    );
    assert_eq!(pending_timers(), 0);
}

/// Schedules `n` `call_at`s on the current loop, due at random whole
/// milliseconds 200-260 ms ahead (so many share an instant); returns the
/// order they ran in and the order expected: by due time, ties in scheduling
/// order.
async fn run_call_ats(n: usize) -> (Vec<usize>, Vec<usize>) {
    let log = Log::new();
    let base = weft::loop_time() + Duration::from_millis(200);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut due = Vec::with_capacity(n);
    let lp = LoopHandle::current();
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let when = base + Duration::from_millis(x % 60);
        due.push((when, i));
        let log = log.clone();
        lp.call_at(when, move || log.push(i));
    }
    assert!(
        weft::loop_time() < base,
        "scheduling took over 200 ms: the machine is too slow for this check"
    );
    sleep_until_true("every call_at", || log.len() == n).await;
    due.sort_by_key(|&(when, i)| (when, i));
    (log.snapshot(), due.into_iter().map(|(_, i)| i).collect())
}

#[test]
fn call_at_runs_by_due_time_with_ties_in_scheduling_order() {
    block_on(2, |h| {
        let on_worker = h.spawn(run_call_ats(1000));
        async move {
            // A hundred at the very same instant.
            let log = Log::new();
            let when = weft::loop_time() + Duration::from_millis(20);
            for i in 0..100 {
                let log = log.clone();
                weft::call_at(when, move || log.push(i));
            }
            sleep_until_true("the 100 ties", || log.len() == 100).await;
            assert_eq!(log.snapshot(), (0..100).collect::<Vec<_>>());
            assert!(weft::loop_time() >= when);

            // Mixed due times with many ties, on this block_on loop and on a
            // worker's loop.
            let (ran, expected) = run_call_ats(1000).await;
            assert_eq!(ran, expected, "block_on loop");
            let (ran, expected) = on_worker.await.unwrap();
            assert_eq!(ran, expected, "worker loop");
        }
    });
}

/// Regression: a `call_at` whose tick the driver had already reached was
/// handed to its loop at once, while the driver could still be handing over
/// the callbacks of the same instant scheduled earlier (it takes a batch off
/// the wheel under the shard lock and wakes it after releasing the lock), so
/// the late one ran ahead of those it tied with. Now the wheel puts such an
/// entry on the next tick, behind the batch. Here 20 000 callbacks share one
/// instant on a block_on loop (its one worker drives the timers); once the
/// batch has left the wheel (`pending_timers` is 0) this thread schedules one
/// more at the same instant, which must run last.
#[test]
fn a_tie_scheduled_while_the_driver_hands_over_its_batch_still_runs_last() {
    const N: usize = 20_000;
    block_on(1, |h| {
        let h = h.clone();
        async move {
            let mut checked = 0;
            for _ in 0..5 {
                let log = Log::new();
                let when = weft::loop_time() + Duration::from_millis(150);
                for i in 0..N {
                    let l = log.clone();
                    weft::call_at(when, move || l.push(i));
                }
                if weft::loop_time() >= when {
                    continue; // too slow to set up this round: no tie left to check
                }
                // Hold this (the loop's) thread until the batch left the wheel.
                let start = Instant::now();
                while h.metrics().pending_timers != 0 {
                    assert!(start.elapsed() < Duration::from_secs(10), "never fired");
                    std::hint::spin_loop();
                }
                let l = log.clone();
                weft::call_at(when, move || l.push(N));
                sleep_until_true("every tie", || log.len() == N + 1).await;
                let ran = log.snapshot();
                let pos = ran.iter().position(|&i| i == N).unwrap();
                assert_eq!(pos, N, "the last-scheduled tie ran as #{pos} of {}", N + 1);
                assert_eq!(ran, (0..=N).collect::<Vec<_>>());
                checked += 1;
            }
            assert!(checked > 0, "no round could be set up in time");
        }
    });
}

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn cancelling_a_delayed_callback_removes_its_timer_and_it_never_runs() {
    let h = weft::Handle::current();
    let timers = || h.metrics().pending_timers;
    let ran = Flag::new();
    let r = ran.clone();
    let hour = weft::call_later(Duration::from_secs(3600), move || r.set());
    assert_eq!(timers(), 1);
    assert!(!hour.cancelled());
    hour.cancel();
    assert!(hour.cancelled());
    assert_eq!(timers(), 0, "cancel removes the timer at once");

    let r = ran.clone();
    let soon = weft::call_later(Duration::from_millis(10), move || r.set());
    let r = ran.clone();
    let at = weft::call_at(weft::loop_time() + Duration::from_millis(10), move || {
        r.set()
    });
    assert_eq!(timers(), 2);
    soon.cancel();
    // From another thread.
    std::thread::spawn(move || at.cancel()).join().unwrap();
    assert_eq!(timers(), 0);
    weft::sleep(Duration::from_millis(40)).await;
    assert!(!ran.get(), "a cancelled delayed callback ran");

    // Cancelled after its timer fired but before the loop ran it: this
    // thread is held up so the callback waits in the loop's inbox.
    let r = ran.clone();
    let fired = weft::call_later(Duration::from_millis(5), move || r.set());
    let hold = Instant::now();
    while timers() != 0 {
        assert!(
            hold.elapsed() < Duration::from_secs(10),
            "the timer never fired"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    fired.cancel();
    weft::sleep(Duration::from_millis(10)).await;
    assert!(
        !ran.get(),
        "cancelled between firing and running, it still ran"
    );

    // Dropping the handle does not cancel.
    let r = ran.clone();
    drop(weft::call_later(Duration::from_millis(5), move || r.set()));
    sleep_until_true("the dropped handle's callback", || ran.get()).await;
}

// ----- the loop clock -----

#[test]
fn loop_time_is_monotonic_and_is_the_clock_call_at_uses() {
    block_on(2, |_| async {
        let lp = LoopHandle::current();
        let mut last = weft::loop_time();
        for _ in 0..10_000 {
            let before = Instant::now();
            let t = weft::loop_time();
            let h = lp.time();
            let after = Instant::now();
            assert!(t >= last, "loop_time went backwards");
            // The same clock as Instant::now (and so as sleep_until / call_at).
            assert!(before <= t && t <= h && h <= after);
            last = t;
        }

        // A deadline on the loop clock: the callback sees the clock past it.
        let (tx, rx) = mpsc::channel();
        let when = weft::loop_time() + Duration::from_millis(25);
        weft::call_at(when, move || tx.send(weft::loop_time()).unwrap());
        weft::sleep_until(when).await;
        assert!(weft::loop_time() >= when);
        let seen = loop {
            if let Ok(t) = rx.try_recv() {
                break t;
            }
            weft::sleep(Duration::from_millis(2)).await;
        };
        assert!(
            seen >= when,
            "call_at ran {:?} before its time",
            when - seen
        );

        // From another thread, through the handle.
        let t = std::thread::spawn(move || {
            let before = Instant::now();
            let t = lp.time();
            assert!(t >= before && t <= Instant::now());
        });
        t.join().unwrap();
    });
    // Readable outside a loop too.
    let t0 = weft::loop_time();
    assert!(weft::loop_time() >= t0);
}

// ----- panics -----

#[test]
fn a_panicking_callback_is_reported_and_the_loop_goes_on() {
    watchdog(|| {
        // On a block_on loop: its reports land on this thread.
        let trace = TraceLog::new();
        let _guard = trace.install();
        let rt = runtime(1);
        let log = rt.block_on(async {
            let log = Log::new();
            weft::call_soon(|| panic!("boom from call_soon"));
            let l = log.clone();
            weft::call_soon(move || l.push("after the panic"));
            weft::call_later(Duration::from_millis(2), || panic!("boom from call_later"));
            let l = log.clone();
            weft::call_later(Duration::from_millis(5), move || l.push("delayed after"));
            let l = log.clone();
            weft::spawn_local(async move { l.push("task") })
                .await
                .unwrap();
            sleep_until_true("the delayed callback", || log.len() == 3).await;
            let l = log.clone();
            weft::call_soon(move || l.push("later iteration"));
            weft::yield_now().await;
            log.snapshot()
        });
        assert_eq!(
            log,
            [
                "after the panic",
                "task",
                "delayed after",
                "later iteration"
            ]
        );
        for boom in ["boom from call_soon", "boom from call_later"] {
            trace.assert_has(tracing::Level::ERROR, &["callback panicked", boom]);
        }
        drop(rt);

        // On a worker, reported on the worker's thread.
        let trace = TraceLog::new();
        let t = trace.clone();
        let rt = weft::Builder::new()
            .workers(1)
            .on_thread_start(move || t.install_for_thread())
            .build()
            .unwrap();
        let ran = rt
            .block_on(rt.spawn(async {
                let log = Log::new();
                weft::call_soon(|| panic!("boom on a worker"));
                let l = log.clone();
                weft::call_soon(move || l.push("next"));
                weft::yield_now().await;
                wait_until("the next callback", || log.len() == 1).await;
                let task = weft::spawn(async { 7 });
                assert_eq!(task.await.unwrap(), 7);
                log.snapshot()
            }))
            .unwrap();
        assert_eq!(ran, ["next"]);
        trace.assert_has(
            tracing::Level::ERROR,
            &["callback panicked", "boom on a worker"],
        );
    });
}

// ----- LoopHandle from other threads -----

/// 4 plain threads each queue 1000 callbacks on `lp`; returns what ran, in
/// order: (thread, index, the thread it ran on).
fn hammer(lp: &LoopHandle) -> Log<(usize, usize, ThreadId)> {
    let log = Log::new();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (lp, log) = (lp.clone(), log.clone());
            std::thread::spawn(move || {
                for i in 0..1000 {
                    let log = log.clone();
                    lp.call_soon_threadsafe(move || log.push((t, i, std::thread::current().id())));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    log
}

fn check_hammered(ran: &[(usize, usize, ThreadId)], loop_thread: ThreadId) {
    assert_eq!(ran.len(), 4000);
    let mut next = [0usize; 4];
    for &(t, i, on) in ran {
        assert_eq!(
            on, loop_thread,
            "callback ({t}, {i}) ran off the loop's thread"
        );
        assert_eq!(i, next[t], "thread {t}'s callbacks out of order");
        next[t] += 1;
    }
}

#[test]
fn call_soon_threadsafe_from_four_threads_runs_all_on_the_loop_in_order() {
    watchdog(|| {
        let rt = runtime(2);
        // The block_on loop.
        let ran = rt.block_on(async {
            let lp = LoopHandle::current();
            let log = hammer(&lp);
            sleep_until_true("4000 callbacks", || log.len() == 4000).await;
            log.snapshot()
        });
        check_hammered(&ran, std::thread::current().id());

        // A worker's loop, reached from plain threads while it may be parked.
        let (lp, worker) = rt
            .block_on(rt.spawn(async { (LoopHandle::current(), std::thread::current().id()) }))
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let log = hammer(&lp);
        spin_until("4000 callbacks on the worker", || log.len() == 4000);
        check_hammered(&log.snapshot(), worker);
    });
}

#[test]
fn call_later_and_call_at_from_another_thread_run_on_the_loop() {
    watchdog(|| {
        let rt = runtime(2);
        let me = std::thread::current().id();
        let ran = rt.block_on(async {
            let lp = LoopHandle::current();
            let log = Log::new();
            let l = log.clone();
            let remote = std::thread::spawn(move || {
                let start = Instant::now();
                // Due well before the call_laters below, though scheduled after.
                let when = lp.time() + Duration::from_millis(100);
                let mut handles = Vec::new();
                for i in 0..50 {
                    let l = l.clone();
                    let d = Duration::from_millis(200);
                    handles.push(lp.call_later(d, move || {
                        l.push((i, start.elapsed() >= d, std::thread::current().id()))
                    }));
                }
                // Ties from one thread, in its scheduling order.
                for i in 50..100 {
                    let l = l.clone();
                    lp.call_at(when, move || {
                        l.push((i, Instant::now() >= when, std::thread::current().id()))
                    });
                }
                // And one cancelled from here.
                let l = l.clone();
                lp.call_later(Duration::from_millis(10), move || {
                    l.push((999, false, std::thread::current().id()))
                })
                .cancel();
                handles
            });
            let handles = remote.join().unwrap();
            sleep_until_true("100 remote delayed callbacks", || log.len() == 100).await;
            weft::sleep(Duration::from_millis(30)).await;
            assert!(handles.iter().all(|h| !h.cancelled()));
            log.snapshot()
        });
        assert_eq!(ran.len(), 100, "the cancelled one ran: {ran:?}");
        let order: Vec<usize> = ran.iter().map(|r| r.0).collect();
        let expected: Vec<usize> = (50..100).chain(0..50).collect();
        assert_eq!(order, expected, "due-time order, ties in scheduling order");
        assert!(
            ran.iter().all(|r| r.1),
            "a remote delayed callback ran early"
        );
        assert!(ran.iter().all(|r| r.2 == me), "ran off the block_on thread");
    });
}

#[test]
fn callbacks_for_an_ended_loop_are_dropped_unrun() {
    watchdog(|| {
        let rt = runtime(1);
        let lp = rt.block_on(async { LoopHandle::current() });
        let (drops, ran) = (DropCounter::new(), Flag::new());
        let (g, r) = (drops.guard(), ran.clone());
        lp.call_soon_threadsafe(move || {
            let _g = g;
            r.set();
        });
        assert_eq!(
            drops.get(),
            1,
            "the callback was kept for a loop that ended"
        );
        let (g, r) = (drops.guard(), ran.clone());
        lp.call_later(Duration::from_millis(5), move || {
            let _g = g;
            r.set();
        });
        spin_until("the delayed callback to be dropped", || drops.get() == 2);
        assert!(!ran.get());
        assert_eq!(rt.handle().metrics().pending_timers, 0);
    });
}

// ----- outside a loop -----

#[test]
fn call_soon_outside_a_loop_panics_with_a_clear_message() {
    watchdog(|| {
        let msg = |f: &mut dyn FnMut()| {
            let err = catch_unwind(AssertUnwindSafe(f)).expect_err("must panic outside a loop");
            panic_message(&*err)
        };
        let m = msg(&mut || {
            weft::call_soon(|| ());
        });
        assert!(
            m.contains("call_soon") && m.contains("outside a weft loop"),
            "{m}"
        );
        let m = msg(&mut || {
            weft::call_later(Duration::from_millis(1), || ());
        });
        assert!(m.contains("outside a weft loop"), "{m}");
        let m = msg(&mut || {
            weft::call_at(Instant::now(), || ());
        });
        assert!(m.contains("outside a weft loop"), "{m}");
        let m = msg(&mut || {
            LoopHandle::current();
        });
        assert!(m.contains("outside a weft loop"), "{m}");
        assert!(LoopHandle::try_current().is_none());

        // Nor after a block_on has returned on this thread.
        let rt = runtime(1);
        rt.block_on(async {
            weft::call_soon(|| ());
        });
        let m = msg(&mut || {
            weft::call_soon(|| ());
        });
        assert!(m.contains("outside a weft loop"), "{m}");
        // And nothing was registered by the failed calls.
        assert_eq!(rt.handle().metrics().pending_timers, 0);
    });
}
