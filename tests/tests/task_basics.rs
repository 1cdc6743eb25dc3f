//! Task basics: lifecycle, names and ids, `Debug`, `result()` / `exception()`,
//! panics, awaiting oneself, `current_task()` / `all_tasks()`, dropping and
//! detaching handles, and done callbacks (ASYNCIO.md, "Task" and the callback
//! lines of "Promise", which apply to tasks as well).
//!
//! Determinism: where a test needs a task that has been spawned but not yet run,
//! it spawns it from inside a task on a one-worker runtime. The new task goes to
//! that worker's queue and cannot run until the spawning task yields.

mod common;

use common::{block_on, wait_done, wait_until, DropCounter, Flag, Log, TraceLog};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;
use weft::{DoneCallback, Promise, Task, TaskError, TaskRef};

/// A value computed by panicking, so the task's output type stays `u32`.
fn explode(message: String) -> u32 {
    panic!("{message}")
}

// ----- lifecycle -----

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn new_task_is_not_done_until_the_loop_polls_it() {
    weft::spawn(async {
        let ran = Flag::new();
        let r = ran.clone();
        let t = weft::spawn(async move {
            r.set();
            5
        });
        // The only worker is busy running us: the new task cannot have run.
        assert!(!t.done());
        assert!(!t.cancelled());
        std::thread::sleep(Duration::from_millis(20));
        assert!(!t.done(), "a task completed without being polled");
        assert!(!ran.get(), "a task body ran synchronously inside spawn");
        assert_eq!(t.await.unwrap(), 5);
        assert!(ran.get());
    })
    .await
    .unwrap();
}

#[test]
fn new_task_spawned_from_outside_is_not_done_while_workers_are_busy() {
    common::watchdog(|| {
        let rt = common::runtime(1);
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        // Occupy the only worker (blocking it on purpose).
        let blocker = rt.spawn(async move {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        });
        started_rx.recv().unwrap();
        let t = rt.spawn(async { 1 });
        std::thread::sleep(Duration::from_millis(20));
        assert!(!t.done());
        release_tx.send(()).unwrap();
        assert_eq!(rt.block_on(t).unwrap(), 1);
        rt.block_on(blocker).unwrap();
    });
}

// ----- names and ids -----

#[test]
fn default_names_come_from_one_global_counter() {
    common::watchdog(|| {
        let rt1 = common::runtime(1);
        let rt2 = common::runtime(1);
        let a = rt1.spawn(async {});
        let b = rt2.spawn(async {});
        let c = rt1.handle().spawn(async {});
        // One counter for the whole process, whatever the runtime.
        assert!(a.id() < b.id(), "{a:?} {b:?}");
        assert!(b.id() < c.id(), "{b:?} {c:?}");
        for t in [&a, &b, &c] {
            assert_eq!(t.name(), format!("Task-{}", t.id()));
            assert_eq!(t.id().to_string(), t.id().as_u64().to_string());
        }
        // Local tasks draw from the same counter.
        let local_id = rt1.block_on(async {
            let d = weft::spawn_local(async {});
            let id = d.id();
            assert_eq!(d.name(), format!("Task-{id}"));
            d.await.unwrap();
            id
        });
        assert!(local_id > c.id());
        for t in [a, b, c] {
            common::spin_until("task done", || t.done());
        }
    });
}

#[test]
fn task_ids_are_unique_across_threads() {
    let ids = block_on(2, |_| async {
        let spawners: Vec<Task<Vec<u64>>> = (0..4)
            .map(|_| {
                weft::spawn(async {
                    let mut ids = Vec::new();
                    for _ in 0..250 {
                        let t = weft::spawn(async {});
                        ids.push(t.id().as_u64());
                        t.await.unwrap();
                    }
                    ids
                })
            })
            .collect();
        let mut all = Vec::new();
        for s in spawners {
            let ids = s.await.unwrap();
            // Increasing as seen from each spawner.
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "ids not increasing: {ids:?}"
            );
            all.extend(ids);
        }
        all
    });
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "duplicate task ids");
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn set_name_takes_any_string() {
    let gate = Promise::<()>::new();
    let g = gate.clone();
    let t = weft::spawn(async move {
        g.await.unwrap();
        weft::current_task().unwrap().name()
    });
    t.set_name("");
    assert_eq!(t.name(), "");
    let odd = "wörker \"α\" 🚀\n\ttab";
    t.set_name(odd);
    assert_eq!(t.name(), odd);
    // Visible through every handle, and from inside the task.
    let r: TaskRef = t.task_ref();
    assert_eq!(r.name(), odd);
    r.set_name(String::from("renamed"));
    assert_eq!(t.name(), "renamed");
    gate.set_result(()).unwrap();
    let t_ref = t.task_ref();
    assert_eq!(t.await.unwrap(), "renamed");
    // Renaming a finished task is allowed too.
    t_ref.set_name("after");
    assert_eq!(t_ref.name(), "after");
    assert!(format!("{t_ref:?}").contains("name: \"after\""));

    // From inside, the task can rename itself.
    let t = weft::spawn(async {
        weft::current_task().unwrap().set_name("self-named");
    });
    let r = t.task_ref();
    t.await.unwrap();
    assert_eq!(r.name(), "self-named");
}

// ----- Debug -----

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn debug_shows_id_name_and_state() {
    weft::spawn(async {
        let expect = |id: u64, name: &str, state: &str| {
            format!("Task {{ id: {id}, name: {name:?}, state: {state} }}")
        };
        let gate = Promise::<()>::new();
        let reached = Flag::new();
        let (g, r) = (gate.clone(), reached.clone());
        let t = weft::spawn(async move {
            let me = weft::current_task().unwrap();
            let running = format!("{me:?}");
            r.set();
            g.await.unwrap();
            running
        });
        let id = t.id().as_u64();
        let default_name = format!("Task-{id}");
        // Spawned, not yet polled.
        assert_eq!(format!("{t:?}"), expect(id, &default_name, "pending"));
        // Polled once, now waiting: pending again.
        wait_until("the task to reach its await", || reached.get()).await;
        assert_eq!(format!("{t:?}"), expect(id, &default_name, "pending"));
        // TaskRef and Task<T> print the same.
        assert_eq!(format!("{:?}", t.task_ref()), format!("{t:?}"));
        gate.set_result(()).unwrap();
        let r = t.task_ref();
        let running = t.await.unwrap();
        assert_eq!(running, expect(id, &default_name, "running"));
        assert_eq!(format!("{r:?}"), expect(id, &default_name, "done"));
        // Names are printed escaped.
        r.set_name("my \"task\"");
        assert_eq!(
            format!("{r:?}"),
            format!("Task {{ id: {id}, name: \"my \\\"task\\\"\", state: done }}")
        );

        // A cancelled task. While the request waits for delivery it reads
        // "cancelling", as asyncio's repr does.
        let c = weft::spawn(std::future::pending::<()>());
        c.cancel();
        let cid = c.id().as_u64();
        assert_eq!(
            format!("{c:?}"),
            expect(cid, &format!("Task-{cid}"), "cancelling")
        );
        let cr = c.task_ref();
        assert!(c.await.unwrap_err().is_cancelled());
        assert_eq!(
            format!("{cr:?}"),
            expect(cid, &format!("Task-{cid}"), "cancelled")
        );

        // A task that panicked is done (not cancelled).
        let p = weft::spawn(async { explode("debug".into()) });
        let pr = p.task_ref();
        assert!(p.await.unwrap_err().is_panic());
        let pid = pr.id().as_u64();
        assert_eq!(
            format!("{pr:?}"),
            expect(pid, &format!("Task-{pid}"), "done")
        );
    })
    .await
    .unwrap();
}

// ----- result() / exception() -----

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn result_and_exception_are_invalid_state_while_pending() {
    let gate = Promise::<()>::new();
    let g = gate.clone();
    let mut t = weft::spawn(async move {
        g.await.unwrap();
        String::from("value")
    });
    let err = t.result().unwrap_err();
    assert!(err.is_pending());
    assert_eq!(err.reason(), "result is not ready");
    assert_eq!(err.to_string(), "invalid state: result is not ready");
    let err = t.exception().unwrap_err();
    assert!(err.is_pending());
    // Asking did not disturb the task.
    assert!(!t.done());
    gate.set_result(()).unwrap();
    wait_done(&t).await;

    assert!(
        t.exception().unwrap().is_none(),
        "exception() of a value is None"
    );
    // result() moves the value out, once.
    assert_eq!(t.result().unwrap().unwrap(), "value");
    let again = t.result().unwrap_err();
    assert!(!again.is_pending());
    assert_eq!(again.reason(), "result already taken");
    // exception() does not depend on the value still being there.
    assert!(t.exception().unwrap().is_none());
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn result_and_exception_of_a_failed_task() {
    let mut t = weft::spawn(async { explode("kaput".into()) });
    wait_done(&t).await;
    let e = t
        .exception()
        .unwrap()
        .expect("a panicked task has an exception");
    assert!(e.is_panic());
    // exception() can be asked many times; result() hands the error over once.
    assert!(t.exception().unwrap().unwrap().is_panic());
    let r = t.result().unwrap();
    assert!(r.unwrap_err().is_panic());
    assert!(t.result().is_err());
    assert!(!t.cancelled());
}

#[test]
fn awaiting_a_task_yields_its_value() {
    common::watchdog(|| {
        let rt = common::runtime(2);
        // From block_on.
        let t = rt.spawn(async { vec![1, 2, 3] });
        assert_eq!(rt.block_on(t).unwrap(), vec![1, 2, 3]);
        // From another task, including a task that is already finished.
        let out = rt.block_on(async {
            let inner = weft::spawn(async { String::from("inner") });
            let outer = weft::spawn(async move { inner.await.unwrap() + "+outer" });
            outer.await.unwrap()
        });
        assert_eq!(out, "inner+outer");
        // From a plain thread, through a Handle.
        let handle = rt.handle().clone();
        let plain = std::thread::spawn(move || handle.block_on(handle.spawn(async { 7u8 })));
        assert_eq!(plain.join().unwrap().unwrap(), 7);
    });
}

// ----- panics -----

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn a_panic_is_the_tasks_error_and_the_worker_survives() {
    let worker = weft::spawn(async { std::thread::current().id() })
        .await
        .unwrap();

    // A formatted message (String payload).
    let t = weft::spawn(async { explode(format!("boom {}", 42)) });
    let err = t.await.unwrap_err();
    match &err {
        TaskError::Panicked(p) => assert_eq!(p.message(), "boom 42"),
        other => panic!("expected Panicked, got {other:?}"),
    }
    assert!(err.is_panic() && !err.is_cancelled() && !err.is_failed());
    assert_eq!(err.to_string(), "task panicked: boom 42");

    // A &'static str payload, raised after an await.
    let t = weft::spawn(async {
        weft::yield_now().await;
        if std::hint::black_box(true) {
            panic!("static boom");
        }
        0u32
    });
    let r = t.task_ref();
    match t.await.unwrap_err() {
        TaskError::Panicked(p) => assert_eq!(p.message(), "static boom"),
        other => panic!("expected Panicked, got {other:?}"),
    }
    // exception() reports it too; a panicked task is not "cancelled".
    assert!(r.exception().unwrap().unwrap().is_panic());
    assert!(r.done() && !r.cancelled());

    // The same worker thread keeps running tasks.
    let later: Vec<Task<std::thread::ThreadId>> = (0..100)
        .map(|_| weft::spawn(async { std::thread::current().id() }))
        .collect();
    for t in later {
        assert_eq!(
            t.await.unwrap(),
            worker,
            "the worker thread was replaced or died"
        );
    }
}

// ----- awaiting oneself -----

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_task_awaiting_its_own_handle_gets_an_error_through_a_channel() {
    let (tx, rx) = mpsc::channel::<Task<u32>>();
    let report = Promise::<String>::new();
    let rep = report.clone();
    let t = weft::spawn(async move {
        let me = loop {
            match rx.try_recv() {
                Ok(me) => break me,
                Err(_) => weft::yield_now().await,
            }
        };
        let msg = match me.await {
            Ok(v) => format!("awaiting itself returned a value: {v}"),
            Err(e) => {
                assert!(e.is_failed(), "expected Failed, got {e:?}");
                e.to_string()
            }
        };
        rep.set_result(msg).unwrap();
        1
    });
    let r = t.task_ref();
    tx.send(t).unwrap();
    let msg = report.await.unwrap();
    assert!(msg.contains("cannot await itself"), "{msg}");
    wait_done(&r).await;
    assert!(!r.cancelled());
    assert!(r.exception().unwrap().is_none());
}

#[test]
fn a_task_awaiting_its_own_handle_gets_an_error_through_a_promise() {
    type Slot = Arc<parking_lot::Mutex<Option<Task<u32>>>>;
    block_on(1, |_| async {
        let smuggle = Promise::<Slot>::new();
        let report = Promise::<bool>::new();
        let (s, rep) = (smuggle.clone(), report.clone());
        let t = weft::spawn(async move {
            let slot = s.await.unwrap();
            let me = slot.lock().take().unwrap();
            rep.set_result(me.await.is_err()).unwrap();
            2
        });
        let r = t.task_ref();
        smuggle
            .set_result(Arc::new(parking_lot::Mutex::new(Some(t))))
            .unwrap();
        assert!(
            report.await.unwrap(),
            "awaiting its own handle did not fail"
        );
        wait_done(&r).await;
    });
}

// ----- current_task / all_tasks -----

#[test]
fn current_task_is_the_running_task_inside_and_none_outside() {
    assert!(
        weft::current_task().is_none(),
        "a plain thread has no current task"
    );
    block_on(2, |_| async {
        // block_on drives its future directly, not as a task.
        assert!(weft::current_task().is_none());
        let t = weft::spawn(async {
            let first = weft::current_task().expect("inside a task");
            weft::yield_now().await;
            // Still the same task after an await (possibly on another worker).
            let second = weft::current_task().unwrap();
            assert_eq!(first, second);
            let child = weft::spawn(async { weft::current_task().unwrap().id() });
            let child_id = child.id();
            assert_eq!(child.await.unwrap(), child_id);
            // Back in the parent after awaiting the child.
            assert_eq!(weft::current_task().unwrap(), first);
            first.id()
        });
        let id = t.id();
        let tr = t.task_ref();
        assert_eq!(t.await.unwrap(), id);
        assert!(weft::current_task().is_none());

        // A local task sees itself as well.
        let l = weft::spawn_local(async { weft::current_task().map(|t| t.id()) });
        let lid = l.id();
        assert_eq!(l.await.unwrap(), Some(lid));

        // Done callbacks run on the loop, outside any task.
        let seen = Promise::<Option<u64>>::new();
        let s = seen.clone();
        tr.add_done_callback(DoneCallback::new(move |_: &TaskRef| {
            let _ = s.set_result(weft::current_task().map(|t| t.id().as_u64()));
        }));
        assert_eq!(seen.await.unwrap(), None);
    });
    assert!(weft::current_task().is_none());
}

#[test]
fn all_tasks_lists_a_new_task_at_once_and_not_once_done() {
    assert!(
        weft::all_tasks().is_empty(),
        "outside a runtime all_tasks() is empty"
    );
    block_on(1, |_| async {
        weft::spawn(async {
            let me = weft::current_task().unwrap();
            let listed = |id| weft::all_tasks().iter().any(|t| t.id() == id);
            assert!(listed(me.id()), "the running task is not listed");
            let gate = Promise::<()>::new();
            let g = gate.clone();
            let t = weft::spawn(async move { g.await.unwrap() });
            // Listed before it ever ran.
            assert!(!t.done());
            assert!(listed(t.id()), "a new task is not listed at once");
            weft::yield_now().await;
            assert!(listed(t.id()), "a waiting task is not listed");
            gate.set_result(()).unwrap();
            let id = t.id();
            t.await.unwrap();
            assert!(!listed(id), "a finished task is still listed");
            // Cancelled tasks leave the list too.
            let c = weft::spawn(std::future::pending::<()>());
            let cid = c.id();
            assert!(listed(cid));
            c.cancel();
            assert!(c.await.is_err());
            assert!(!listed(cid));
        })
        .await
        .unwrap();
    });
}

// ----- dropping and detaching -----

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn dropping_a_task_handle_does_not_cancel_it() {
    let gate = Promise::<()>::new();
    let ran = Flag::new();
    let outputs = DropCounter::new();
    let (g, r, out) = (gate.clone(), ran.clone(), outputs.guard());
    let t = weft::spawn(async move {
        g.await.unwrap();
        r.set();
        out // the output: the runtime drops it, since nobody will read it
    });
    let tr = t.task_ref();
    drop(t);
    weft::yield_now().await;
    assert!(!tr.done() && tr.cancelling() == 0);
    gate.set_result(()).unwrap();
    wait_done(&tr).await;
    assert!(ran.get(), "the task did not run to completion");
    assert!(!tr.cancelled());
    assert!(tr.exception().unwrap().is_none());
    wait_until("the unread output to be dropped", || outputs.get() == 1).await;
}

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn dropping_a_handle_before_the_first_poll_does_not_cancel_either() {
    weft::spawn(async {
        let ran = Flag::new();
        let r = ran.clone();
        let t = weft::spawn(async move { r.set() });
        let tr = t.task_ref();
        drop(t);
        wait_done(&tr).await;
        assert!(ran.get());
        assert!(!tr.cancelled());
    })
    .await
    .unwrap();
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn detach_lets_the_task_run_to_completion() {
    let gate = Promise::<()>::new();
    let ran = Flag::new();
    let (g, r) = (gate.clone(), ran.clone());
    let t = weft::spawn(async move {
        g.await.unwrap();
        weft::yield_now().await;
        r.set();
    });
    let tr = t.task_ref();
    t.detach();
    gate.set_result(()).unwrap();
    wait_done(&tr).await;
    assert!(ran.get());
    assert!(!tr.cancelled());
}

// ----- done callbacks -----

fn logging_callback(log: &Log<&'static str>, name: &'static str) -> DoneCallback<TaskRef> {
    let log = log.clone();
    DoneCallback::new(move |t: &TaskRef| {
        assert!(t.done(), "a done callback ran before the task was done");
        log.push(name);
    })
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn done_callbacks_never_run_synchronously() {
    // Added to a finished task: scheduled, not run inside add_done_callback.
    let t = weft::spawn(async { 1 });
    let tr = t.task_ref();
    assert_eq!(t.await.unwrap(), 1);
    let log = Log::new();
    tr.add_done_callback(logging_callback(&log, "late"));
    assert!(
        log.snapshot().is_empty(),
        "a done callback ran synchronously"
    );
    std::thread::sleep(Duration::from_millis(10));
    assert!(
        log.snapshot().is_empty(),
        "a done callback ran without the loop"
    );
    wait_until("the late callback", || log.len() == 1).await;

    // Added to a pending task: nothing runs until it completes.
    let gate = Promise::<()>::new();
    let g = gate.clone();
    let t = weft::spawn(async move { g.await.unwrap() });
    let log = Log::new();
    t.add_done_callback(logging_callback(&log, "early"));
    weft::yield_now().await;
    assert!(log.snapshot().is_empty());
    gate.set_result(()).unwrap();
    t.await.unwrap();
    wait_until("the early callback", || log.len() == 1).await;
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn done_callbacks_run_in_registration_order_each_once() {
    let log = Log::new();
    let gate = Promise::<()>::new();
    let g = gate.clone();
    let t = weft::spawn(async move { g.await.unwrap() });
    let a = logging_callback(&log, "a");
    t.add_done_callback(a.clone());
    t.add_done_callback(logging_callback(&log, "b"));
    t.add_done_callback(logging_callback(&log, "c"));
    t.add_done_callback(a); // a second registration of the same callback
    let received = Promise::<u64>::new();
    let rec = received.clone();
    t.add_done_callback(DoneCallback::new(move |task: &TaskRef| {
        rec.set_result(task.id().as_u64()).unwrap();
    }));
    let tr = t.task_ref();
    gate.set_result(()).unwrap();
    t.await.unwrap();
    // The callback receives the task itself.
    assert_eq!(received.await.unwrap(), tr.id().as_u64());
    wait_until("four callbacks", || log.len() >= 4).await;
    for _ in 0..50 {
        weft::yield_now().await;
    }
    assert_eq!(log.snapshot(), ["a", "b", "c", "a"]);

    // Added after completion: scheduled too, in order, each once.
    let late = Log::new();
    tr.add_done_callback(logging_callback(&late, "x"));
    tr.add_done_callback(logging_callback(&late, "y"));
    tr.add_done_callback(logging_callback(&late, "z"));
    wait_until("late callbacks", || late.len() >= 3).await;
    for _ in 0..50 {
        weft::yield_now().await;
    }
    assert_eq!(late.snapshot(), ["x", "y", "z"]);
    assert_eq!(
        log.snapshot(),
        ["a", "b", "c", "a"],
        "early callbacks ran again"
    );
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn remove_done_callback_removes_every_registration_and_counts_them() {
    let log = Log::new();
    let gate = Promise::<()>::new();
    let g = gate.clone();
    let t = weft::spawn(async move { g.await.unwrap() });
    let a = logging_callback(&log, "a");
    let b = logging_callback(&log, "b");
    let never = logging_callback(&log, "never");
    t.add_done_callback(a.clone());
    t.add_done_callback(b.clone());
    t.add_done_callback(a.clone());
    t.add_done_callback(a.clone());
    assert_eq!(t.remove_done_callback(&a), 3);
    assert_eq!(t.remove_done_callback(&a), 0);
    assert_eq!(t.remove_done_callback(&never), 0);
    // A callback with the same body but another identity is another callback.
    let b_twin = logging_callback(&log, "b");
    assert_eq!(t.remove_done_callback(&b_twin), 0);
    assert!(!a.same_as(&b) && b.same_as(&b.clone()));
    let tr = t.task_ref();
    gate.set_result(()).unwrap();
    t.await.unwrap();
    wait_until("callback b", || log.len() == 1).await;
    for _ in 0..50 {
        weft::yield_now().await;
    }
    assert_eq!(log.snapshot(), ["b"]);
    // After completion the list is empty: nothing left to remove.
    assert_eq!(tr.remove_done_callback(&b), 0);
}

#[test]
fn a_panicking_done_callback_is_reported_and_the_loop_keeps_running() {
    let trace = TraceLog::new();
    let worker_trace = trace.clone();
    let main_trace = trace.clone();
    common::watchdog(move || {
        let rt = weft::Builder::new()
            .workers(1)
            .on_thread_start(move || worker_trace.install_for_thread())
            .build()
            .unwrap();
        let _guard = main_trace.install();
        rt.block_on(async {
            let boom = DoneCallback::new(|_: &TaskRef| panic!("callback exploded"));
            let log = Log::new();

            // Completion on the worker: its loop runs the callbacks.
            let gate = Promise::<()>::new();
            let g = gate.clone();
            let t = weft::spawn(async move { g.await.unwrap() });
            t.add_done_callback(boom.clone());
            t.add_done_callback(logging_callback(&log, "after-panic-1"));
            gate.set_result(()).unwrap();
            t.await.unwrap();
            wait_until("the callback after the panicking one", || log.len() == 1).await;
            // The worker still runs tasks.
            assert_eq!(weft::spawn(async { 3 }).await.unwrap(), 3);

            // Added after completion from block_on: this thread's loop runs them.
            let t = weft::spawn(async {});
            let tr = t.task_ref();
            t.await.unwrap();
            tr.add_done_callback(boom);
            tr.add_done_callback(logging_callback(&log, "after-panic-2"));
            wait_until("the second callback after a panic", || log.len() == 2).await;
            assert_eq!(weft::spawn_local(async { 4 }).await.unwrap(), 4);
            assert_eq!(log.snapshot(), ["after-panic-1", "after-panic-2"]);
        });
    });
    let reports = trace
        .events()
        .into_iter()
        .filter(|e| e.level == tracing::Level::ERROR && e.text.contains("callback exploded"))
        .count();
    assert_eq!(
        reports,
        2,
        "each callback panic must be reported once: {:?}",
        trace.events()
    );
}
