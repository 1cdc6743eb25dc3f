//! Task dumps and the await graph (issue 17, sections 1 and 2):
//! `Handle::dump`, `TaskRef::awaiting`, the tree `TaskDump` draws, and
//! `Builder::dump_on_signal_to_file`.
//!
//! The dumps are taken from plain threads while workers run, as an
//! operator's would be: the listing never shows a task twice, never reads a
//! freed one, and the borrow a dump takes to read a suspended task never
//! loses the wake-up that comes meanwhile.

mod common;

use common::{ms, watchdog, FOREVER};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::{AwaitEdge, Promise, TaskDump, TaskId, TaskInfo, TaskState};

/// Dumps from a plain thread until `ready` accepts one (at most 5 s).
fn dump_until(handle: &weft::Handle, ready: impl Fn(&TaskDump) -> bool) -> TaskDump {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let dump = handle.dump();
        if ready(&dump) {
            return dump;
        }
        assert!(Instant::now() < deadline, "no dump was ready:\n{dump}");
        std::thread::sleep(ms(1));
    }
}

fn info(dump: &TaskDump, id: TaskId) -> &TaskInfo {
    dump.get(id)
        .unwrap_or_else(|| panic!("task {id} not in the dump:\n{dump}"))
}

#[test]
fn a_dump_lists_spawned_tasks_with_their_fields() {
    watchdog(|| {
        let rt = common::runtime(2);
        let promise = Promise::<u32>::new();
        let line = line!() + 4;
        let waiters: Vec<_> = (0..3)
            .map(|i| {
                let p = promise.clone();
                let t = rt.spawn(async move { p.wait().await.unwrap() + i });
                t.set_name(format!("waiter-{i}"));
                t
            })
            .collect();
        let sleeper = rt.spawn(weft::sleep(FOREVER));
        let handle = rt.handle().clone();
        let ids: Vec<TaskId> = waiters.iter().map(|t| t.id()).collect();
        let sleeper_id = sleeper.id();
        // Ready once every waiter records its await and the sleeper has
        // finished its first step (a dump taken during that step shows it
        // running, which is right, but not what this test looks at).
        let dump = std::thread::spawn(move || {
            dump_until(&handle, |d| {
                ids.iter()
                    .all(|&id| d.get(id).is_some_and(|i| i.awaiting.is_some()))
                    && d.get(sleeper_id)
                        .is_some_and(|i| i.state == TaskState::Waiting)
            })
        })
        .join()
        .unwrap();
        for (i, t) in waiters.iter().enumerate() {
            let info = info(&dump, t.id());
            assert_eq!(info.name, format!("waiter-{i}"));
            assert_eq!(info.state, TaskState::Waiting);
            assert_eq!(info.spawned_at.file, file!());
            assert_eq!(info.spawned_at.line, line);
            assert_eq!(info.polls, 1, "{info:?}");
            assert!(info.last_worker.is_some_and(|w| w < 2), "{info:?}");
            assert!(info.age < Duration::from_secs(10), "{info:?}");
            assert_eq!(info.poll_time, None);
            assert_eq!(info.cancelling, 0);
            match &info.awaiting {
                Some(AwaitEdge::Target(d)) => assert_eq!(d.kind, "promise"),
                other => panic!("{other:?}"),
            }
        }
        // A timer is nothing weft records: waiting, no edge.
        let s = info(&dump, sleeper.id());
        assert_eq!((s.state, &s.awaiting), (TaskState::Waiting, &None));
        // Listed once each, in id order, and nothing else but these four.
        let ids: Vec<TaskId> = dump.tasks.iter().map(|t| t.id).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(ids, sorted);
        assert_eq!(ids.len(), 4, "{dump}");
        // The tree: one line per task, with its name and state.
        let text = dump.to_string();
        assert!(text.starts_with("4 tasks\n"), "{text}");
        for t in &waiters {
            let line = text
                .lines()
                .find(|l| l.contains(&format!("{} #{} ", t.name(), t.id())))
                .unwrap_or_else(|| panic!("{text}"));
            assert!(line.contains("waiting"), "{line}");
        }
        assert_eq!(text.matches("promise").count(), 3, "{text}");
        // Settled: every waiter runs on and leaves the registry.
        promise.set_result(10).unwrap();
        let outs: Vec<u32> = waiters
            .into_iter()
            .map(|t| rt.block_on(t).unwrap())
            .collect();
        assert_eq!(outs, [10, 11, 12]);
        sleeper.cancel();
        let dump = dump_until(rt.handle(), |d| d.tasks.is_empty());
        assert_eq!(dump.to_string(), "0 tasks\n");
    });
}

#[test]
fn a_stuck_chain_shows_as_a_chain() {
    watchdog(|| {
        let rt = common::runtime(2);
        let promise = Promise::<()>::new();
        let p = promise.clone();
        let c = rt.spawn(async move { p.wait().await });
        c.set_name("C");
        let c_id = c.id();
        let b = rt.spawn(c);
        b.set_name("B");
        let b_id = b.id();
        let a = rt.spawn(b);
        a.set_name("A");
        let dump = dump_until(rt.handle(), |d| {
            [a.id(), b_id, c_id]
                .iter()
                .all(|&id| d.get(id).is_some_and(|i| i.awaiting.is_some()))
        });
        assert_eq!(info(&dump, a.id()).awaiting, Some(AwaitEdge::Task(b_id)));
        assert_eq!(info(&dump, b_id).awaiting, Some(AwaitEdge::Task(c_id)));
        assert!(matches!(
            &info(&dump, c_id).awaiting,
            Some(AwaitEdge::Target(d)) if d.kind == "promise"
        ));
        assert_eq!(a.awaiting(), Some(AwaitEdge::Task(b_id)));
        // The tree reads from the outermost awaiter down to the promise.
        let text = dump.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[1].starts_with("└── (T) A #"), "{text}");
        assert!(lines[2].starts_with("    └── (T) B #"), "{text}");
        assert!(lines[3].starts_with("        └── (T) C #"), "{text}");
        assert_eq!(lines[4], "            └── promise", "{text}");
        promise.set_result(()).unwrap();
        rt.block_on(a).unwrap().unwrap().unwrap().unwrap();
    });
}

#[test]
fn a_running_task_shows_running_with_no_edge() {
    watchdog(|| {
        let rt = common::runtime(2);
        let started = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let spinner = rt.spawn({
            let (started, stop) = (started.clone(), stop.clone());
            async move {
                started.store(true, Ordering::SeqCst);
                while !stop.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
            }
        });
        while !started.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        let dump = rt.handle().dump();
        let info = info(&dump, spinner.id());
        assert_eq!(info.state, TaskState::Running);
        assert_eq!(info.awaiting, None);
        assert_eq!(spinner.awaiting(), None);
        assert!(dump.to_string().contains("running"));
        stop.store(true, Ordering::SeqCst);
        let id = spinner.id();
        let r = spinner.task_ref();
        rt.block_on(spinner).unwrap();
        // Done: a dump no longer lists it; `awaiting` says nothing.
        assert!(rt.handle().dump().get(id).is_none());
        assert_eq!(TaskInfo::of(&r).state, TaskState::Done);
        assert_eq!(r.awaiting(), None);
    });
}

#[test]
fn dumps_while_tasks_start_and_end_list_each_task_once() {
    watchdog(|| {
        let rt = common::runtime(2);
        let stop = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicUsize::new(0));
        // Two spawners (one per worker) keep starting short tasks that
        // await each other and yield.
        let spawners: Vec<_> = (0..2)
            .map(|_| {
                let (stop, finished) = (stop.clone(), finished.clone());
                rt.spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        let inner = weft::spawn(weft::sleep(ms(2)));
                        let finished = finished.clone();
                        weft::spawn(async move {
                            inner.await.unwrap();
                            finished.fetch_add(1, Ordering::SeqCst);
                        })
                        .detach();
                        weft::sleep(Duration::from_micros(50)).await;
                    }
                })
            })
            .collect();
        let handle = rt.handle().clone();
        let done = finished.clone();
        let dumps = std::thread::spawn(move || {
            let mut seen_edges = 0;
            // At least 300 dumps, and on until some inner task has finished
            // (on a loaded machine 300 dumps can all come before the first
            // 2 ms sleep ends); the watchdog bounds it.
            for round in 0.. {
                if round >= 300 && done.load(Ordering::SeqCst) > 0 && seen_edges > 0 {
                    break;
                }
                let dump = handle.dump();
                let mut ids = HashSet::new();
                for t in &dump.tasks {
                    assert!(ids.insert(t.id), "task {} twice:\n{dump}", t.id);
                    seen_edges += usize::from(t.awaiting.is_some());
                }
                let _ = dump.to_string();
            }
            seen_edges
        });
        let seen_edges = dumps.join().unwrap();
        stop.store(true, Ordering::SeqCst);
        for s in spawners {
            rt.block_on(s).unwrap();
        }
        assert!(finished.load(Ordering::SeqCst) > 0);
        assert!(seen_edges > 0, "no dump saw a task awaiting another");
        drop(rt);
    });
}

/// Tasks spawned from a plain thread all complete on the workers, so most
/// leave the registry from away (`registry.rs`: an index left on the
/// spawner's shard, reclaimed later; a worker whose home is that shard
/// removes its own) and are freed at once. Dumps, task lists
/// and counts read meanwhile from another thread must list each task once,
/// never read a freed one (the sanitizer step would catch it), and count
/// only tasks not yet done: after each round, none.
#[test]
fn readers_while_tasks_leave_from_away_count_only_live_tasks() {
    watchdog(|| {
        let rt = common::runtime(2);
        let handle = rt.handle().clone();
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let stop = stop.clone();
            let handle = handle.clone();
            std::thread::spawn(move || {
                let mut reads = 0usize;
                while !stop.load(Ordering::SeqCst) || reads < 100 {
                    let dump = handle.dump();
                    let mut ids = HashSet::new();
                    for t in &dump.tasks {
                        assert!(ids.insert(t.id), "task {} twice:\n{dump}", t.id);
                    }
                    assert!(dump.tasks.len() <= 500, "{} in a dump", dump.tasks.len());
                    let listed = handle.all_tasks().len();
                    let live = handle.metrics().live_tasks;
                    assert!(listed <= 500 && live <= 500, "{listed} listed, {live} live");
                    reads += 1;
                }
                reads
            })
        };
        for round in 0..40u64 {
            let tasks: Vec<_> = (0..500u64)
                .map(|i| rt.spawn(async move { i * round }))
                .collect();
            let sum: u64 = tasks.into_iter().map(|t| rt.block_on(t).unwrap()).sum();
            assert_eq!(sum, 499 * 500 / 2 * round);
            assert_eq!(handle.metrics().live_tasks, 0, "round {round}");
            assert!(handle.all_tasks().is_empty(), "round {round}");
        }
        stop.store(true, Ordering::SeqCst);
        assert!(reader.join().unwrap() >= 100);
        assert_eq!(handle.metrics().spawned, 40 * 500);
        drop(rt);
    });
}

#[test]
fn a_task_woken_while_a_dump_reads_it_still_runs() {
    watchdog(|| {
        const TASKS: usize = 100;
        const ROUNDS: usize = 30;
        let rt = common::runtime(2);
        // Each task waits ROUNDS times for a promise it leaves in its slot; a
        // plain thread settles whatever it finds there, while another dumps
        // in a loop: settles (wake-ups) keep racing the dumps' borrows.
        let slots: Arc<Vec<parking_lot::Mutex<Option<Promise<usize>>>>> =
            Arc::new((0..TASKS).map(|_| parking_lot::Mutex::new(None)).collect());
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| {
                let slots = slots.clone();
                rt.spawn(async move {
                    let mut sum = 0;
                    for _ in 0..ROUNDS {
                        let p = Promise::new();
                        *slots[i].lock() = Some(p.clone());
                        sum += p.wait().await.unwrap();
                    }
                    sum
                })
            })
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        // The settler starts once a dump has seen a task awaiting its promise
        // (they all wait for their first until then), so the dumps are known
        // to read such tasks whatever the threads' timing; the races follow.
        let seen = Arc::new(AtomicBool::new(false));
        let dumper = {
            let (handle, stop, seen) = (rt.handle().clone(), stop.clone(), seen.clone());
            std::thread::spawn(move || {
                let mut edges = 0;
                while !stop.load(Ordering::SeqCst) {
                    edges += handle
                        .dump()
                        .tasks
                        .iter()
                        .filter(|t| t.awaiting.is_some())
                        .count();
                    if edges > 0 {
                        seen.store(true, Ordering::SeqCst);
                    }
                }
                edges
            })
        };
        let settler = {
            let (slots, stop) = (slots.clone(), stop.clone());
            std::thread::spawn(move || {
                while !seen.load(Ordering::SeqCst) {
                    std::thread::yield_now();
                }
                while !stop.load(Ordering::SeqCst) {
                    for slot in slots.iter() {
                        if let Some(p) = slot.lock().take() {
                            p.set_result(1).unwrap();
                        }
                    }
                    std::thread::yield_now();
                }
            })
        };
        let sums: Vec<usize> = tasks.into_iter().map(|t| rt.block_on(t).unwrap()).collect();
        stop.store(true, Ordering::SeqCst);
        settler.join().unwrap();
        let edges = dumper.join().unwrap();
        assert_eq!(sums, vec![ROUNDS; TASKS]);
        assert!(edges > 0, "no dump saw a task awaiting its promise");
        assert_eq!(rt.handle().dump().tasks.len(), 0);
    });
}

#[test]
fn a_signal_writes_a_dump_to_the_file() {
    watchdog(|| {
        let path = std::env::temp_dir().join(format!("weft-obs-dump-{}.txt", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let rt = weft::Builder::new()
            .workers(2)
            .dump_on_signal_to_file(weft::signal::SignalKind::user_defined1(), &path)
            .build()
            .unwrap();
        let stuck = rt.spawn(weft::sleep(FOREVER));
        stuck.set_name("stuck-one");
        // SAFETY: kill(2) with our own pid; `build` registered the handler.
        assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) }, 0);
        let deadline = Instant::now() + Duration::from_secs(10);
        let text = loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.ends_with("\n\n") {
                break text;
            }
            assert!(Instant::now() < deadline, "no dump written: {text:?}");
            std::thread::sleep(ms(5));
        };
        let _ = std::fs::remove_file(&path);
        assert!(
            text.starts_with(&format!(
                "weft task dump of process {}\n",
                std::process::id()
            )),
            "{text}"
        );
        assert!(text.contains("(T) stuck-one #"), "{text}");
        // The listener itself is a task, running while it writes.
        assert!(text.contains("(T) weft-dump-on-signal #"), "{text}");
        stuck.cancel();
    });
}

#[test]
fn serde_writes_the_dump_as_data() {
    weft::run(async {
        let p = Promise::<()>::new();
        let waiter = weft::spawn({
            let p = p.clone();
            async move { p.wait().await }
        });
        weft::sleep(ms(10)).await;
        let dump = weft::Handle::current().dump();
        let json = serde_json::to_value(&dump).unwrap();
        let task = &json["tasks"][0];
        assert_eq!(task["id"], waiter.id().as_u64());
        assert_eq!(task["state"], "waiting");
        assert_eq!(task["awaiting"]["target"]["kind"], "promise");
        assert_eq!(task["spawned_at"]["file"], file!());
        p.set_result(()).unwrap();
        waiter.await.unwrap().unwrap();
    });
}

/// The kind of target task `id` awaits in a dump, and the tasks it watches.
fn target_of(dump: &TaskDump, id: TaskId) -> Option<(&'static str, Vec<TaskId>)> {
    match &dump.get(id)?.awaiting {
        Some(AwaitEdge::Target(d)) => Some((d.kind, d.tasks.clone())),
        _ => None,
    }
}

#[test]
fn combinators_show_as_described_targets_over_their_children() {
    watchdog(|| {
        let rt = common::runtime(2);
        // One promise each: cancelling a task awaiting a promise cancels
        // the promise (asyncio's `_fut_waiter.cancel()`).
        let promises = parking_lot::Mutex::new(Vec::new());
        let child = |name: &str| {
            let p = Promise::<()>::new();
            promises.lock().push(p.clone());
            let t = rt.spawn(async move { p.wait().await.unwrap() });
            t.set_name(name);
            t
        };
        let (g1, g2) = (child("g1"), child("g2"));
        let ids = vec![g1.id(), g2.id()];
        let gatherer = rt.spawn(weft::gather([g1, g2]));
        gatherer.set_name("gatherer");
        let w = child("w");
        let w_id = w.id();
        let waiter = rt.spawn(weft::wait([w]));
        let ac = child("ac");
        let ac_id = ac.id();
        let completer = rt.spawn(async move {
            let mut s = weft::as_completed([ac]);
            s.next().await
        });
        let wf = child("wf");
        let wf_id = wf.id();
        let wait_forer = rt.spawn(weft::wait_for(wf, Some(FOREVER)));
        let scoped = rt.spawn(async { weft::timeout(FOREVER).run(weft::sleep(FOREVER)).await });
        let p = Promise::<()>::new();
        promises.lock().push(p.clone());
        let grouped = rt.spawn(async move {
            weft::task_group(move |g| {
                let p = p.clone();
                async move {
                    g.spawn(async move { p.wait().await.unwrap() })
                        .unwrap()
                        .detach();
                    Ok(())
                }
            })
            .await
        });
        let all = [
            gatherer.id(),
            waiter.id(),
            completer.id(),
            wait_forer.id(),
            scoped.id(),
            grouped.id(),
        ];
        let dump = dump_until(rt.handle(), |d| {
            all.iter().all(|&id| target_of(d, id).is_some())
        });
        assert_eq!(
            target_of(&dump, gatherer.id()),
            Some(("gather", ids.clone()))
        );
        assert_eq!(target_of(&dump, waiter.id()), Some(("wait", vec![w_id])));
        assert_eq!(
            target_of(&dump, completer.id()),
            Some(("as_completed", vec![ac_id]))
        );
        assert_eq!(
            target_of(&dump, wait_forer.id()),
            Some(("wait_for", vec![wf_id]))
        );
        assert_eq!(
            target_of(&dump, scoped.id()),
            Some(("timeout scope", vec![]))
        );
        let (kind, group_children) = target_of(&dump, grouped.id()).unwrap();
        assert_eq!((kind, group_children.len()), ("task group", 1));
        // The tree: the children hang under the gather, not as roots.
        let text = dump.to_string();
        let at = text
            .find("(T) gatherer #")
            .unwrap_or_else(|| panic!("{text}"));
        let below: Vec<&str> = text[at..].lines().take(6).collect();
        assert_eq!(below[1], "    └── gather", "{text}");
        assert!(below[2].starts_with("        ├── (T) g1 #"), "{text}");
        assert_eq!(below[3], "        │   └── promise", "{text}");
        assert!(below[4].starts_with("        └── (T) g2 #"), "{text}");
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("└── (T) g1") || l.starts_with("├── (T) g1")),
            "{text}"
        );
        // Cancelling the gatherer still cancels its children (the described
        // target's cancel does nothing; the gather's own rule applies).
        gatherer.cancel();
        let out = rt.block_on(gatherer).unwrap_err();
        assert!(out.is_cancelled());
        let dump = rt.handle().dump();
        assert!(ids.iter().all(|&id| dump.get(id).is_none()), "{dump}");
        for p in promises.lock().iter() {
            let _ = p.set_result(()); // g1's and g2's were cancelled
        }
        scoped.cancel();
        let _ = rt.block_on(waiter).unwrap();
        rt.block_on(completer).unwrap();
        rt.block_on(wait_forer).unwrap().unwrap();
        rt.block_on(grouped).unwrap().unwrap();
        let _ = rt.block_on(scoped);
    });
}

#[test]
fn locks_and_queues_show_as_described_targets() {
    watchdog(|| {
        let rt = common::runtime(2);
        let mutex = Arc::new(weft::sync::Mutex::new(0));
        let sem = Arc::new(weft::sync::Semaphore::new(0));
        let queue = weft::queue::Queue::<u32>::new(0);
        let guard = rt.block_on(mutex.lock());
        let locker = rt.spawn({
            let mutex = mutex.clone();
            async move { *mutex.lock().await += 1 }
        });
        let acquirer = rt.spawn({
            let sem = sem.clone();
            async move { sem.acquire().await.forget() }
        });
        let getter = rt.spawn({
            let q = queue.clone();
            async move { q.get().await.unwrap() }
        });
        let event = Arc::new(weft::sync::Event::new());
        let event_waiter = rt.spawn({
            let event = event.clone();
            async move { event.wait().await }
        });
        let barrier = Arc::new(weft::sync::Barrier::new(2).unwrap());
        let arriver = rt.spawn({
            let barrier = barrier.clone();
            async move { barrier.wait().await.unwrap() }
        });
        let ids = [
            locker.id(),
            acquirer.id(),
            getter.id(),
            event_waiter.id(),
            arriver.id(),
        ];
        let dump = dump_until(rt.handle(), |d| {
            ids.iter().all(|&id| target_of(d, id).is_some())
        });
        assert_eq!(target_of(&dump, event_waiter.id()), Some(("event", vec![])));
        assert_eq!(target_of(&dump, arriver.id()), Some(("barrier", vec![])));
        event.set();
        rt.block_on(barrier.wait()).unwrap();
        rt.block_on(event_waiter).unwrap();
        rt.block_on(arriver).unwrap();
        assert_eq!(target_of(&dump, locker.id()), Some(("lock", vec![])));
        assert_eq!(target_of(&dump, acquirer.id()), Some(("semaphore", vec![])));
        assert_eq!(target_of(&dump, getter.id()), Some(("queue get", vec![])));
        drop(guard);
        sem.add_permits(1);
        rt.block_on(queue.put(7)).unwrap();
        rt.block_on(locker).unwrap();
        rt.block_on(acquirer).unwrap();
        assert_eq!(rt.block_on(getter).unwrap(), 7);
        assert_eq!(*rt.block_on(mutex.lock()), 1);
    });
}

/// Lock waits share one `static` target per kind (`DescribedWait::pending_static`):
/// a wait that completed forgets it at once, so its future, dropped later
/// while another lock wait of the task pends, does not clear that one's
/// record.
#[test]
fn a_finished_lock_wait_dropped_later_leaves_the_next_wait_shown() {
    use std::future::Future;
    watchdog(|| {
        let rt = common::runtime(2);
        let (first, second) = (
            Arc::new(weft::sync::Mutex::new(())),
            Arc::new(weft::sync::Mutex::new(())),
        );
        let first_guard = rt.block_on(first.lock());
        let second_guard = rt.block_on(second.lock());
        let dropped = Arc::new(AtomicBool::new(false));
        let task = rt.spawn({
            let (first, second, dropped) = (first.clone(), second.clone(), dropped.clone());
            async move {
                let mut first_wait = Some(Box::pin(first.lock()));
                // Pends (its target recorded), then completes: kept undropped.
                drop(first_wait.as_mut().unwrap().await);
                let mut second_wait = std::pin::pin!(second.lock());
                std::future::poll_fn(|cx| {
                    let r = second_wait.as_mut().poll(cx);
                    if r.is_pending() && first_wait.take().is_some() {
                        dropped.store(true, Ordering::SeqCst);
                    }
                    r.map(drop)
                })
                .await
            }
        });
        dump_until(rt.handle(), |d| target_of(d, task.id()).is_some());
        drop(first_guard);
        let dump = dump_until(rt.handle(), |d| {
            dropped.load(Ordering::SeqCst) && target_of(d, task.id()).is_some()
        });
        assert_eq!(target_of(&dump, task.id()), Some(("lock", vec![])));
        drop(second_guard);
        rt.block_on(task).unwrap();
    });
}

#[test]
fn a_long_chain_draws_without_deep_recursion_or_huge_lines() {
    watchdog(|| {
        // (Far deeper chains overflow a worker's stack when the chain is
        // freed: each task's join waker holds the last reference to its
        // awaiter, whose free drops the next; a runtime issue of its own.)
        const N: usize = 2_000;
        let rt = common::runtime(2);
        let promise = Promise::<()>::new();
        let p = promise.clone();
        let mut last = rt.spawn(async move { p.wait().await.map(|_| 0usize) });
        let first_id = last.id();
        for _ in 1..N {
            let inner = last;
            last = rt.spawn(async move { inner.await.unwrap().map(|d| d + 1) });
        }
        let top = last.id();
        let dump = dump_until(rt.handle(), |d| {
            d.tasks.len() == N && d.tasks.iter().all(|t| t.awaiting.is_some())
        });
        // Drawn on a thread with a small stack: no recursion per level.
        let text = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || dump.to_string())
            .unwrap()
            .join()
            .unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.len(),
            N + 2,
            "a header, one line per task, the promise"
        );
        assert!(lines[1].contains(&format!("#{top} ")), "{}", lines[1]);
        assert!(lines[N].contains(&format!("#{first_id} ")));
        assert!(
            lines[N].contains(&format!("[depth {}]", N - 1)),
            "{}",
            lines[N]
        );
        assert!(
            lines.iter().all(|l| l.len() < 400),
            "a line grew with the depth"
        );
        promise.set_result(()).unwrap();
        assert_eq!(rt.block_on(last).unwrap().unwrap(), N - 1);
    });
}

#[test]
fn poll_time_is_summed_where_the_runtime_times_its_steps() {
    watchdog(|| {
        // Timing on (a threshold no step reaches): every step is timed.
        let rt = weft::Builder::new()
            .workers(2)
            .slow_poll_threshold(FOREVER)
            .build()
            .unwrap();
        let promise = Promise::<()>::new();
        let p = promise.clone();
        let t = rt.spawn(async move {
            for _ in 0..3 {
                std::thread::sleep(ms(2));
                weft::yield_now().await;
            }
            p.wait().await
        });
        // A step's time is added once the step has returned: wait for both.
        let dump = dump_until(rt.handle(), |d| {
            d.get(t.id())
                .is_some_and(|i| i.awaiting.is_some() && i.poll_time.is_some_and(|d| d >= ms(6)))
        });
        let info = info(&dump, t.id());
        assert_eq!(info.polls, 4);
        assert!(info.poll_time.is_some_and(|d| d >= ms(6)), "{info:?}");
        promise.set_result(()).unwrap();
        rt.block_on(t).unwrap().unwrap();
    });
}

#[test]
fn an_eager_first_step_on_a_worker_marks_that_worker() {
    watchdog(|| {
        let rt = common::runtime(1);
        let promise = Promise::<()>::new();
        let p = promise.clone();
        // On the worker: the child's first step runs inside spawn_eager,
        // there, and leaves it waiting on the promise.
        let child = rt
            .block_on(rt.spawn(async move {
                let child = weft::spawn_eager(async move { p.wait().await.unwrap() });
                child.task_ref()
            }))
            .unwrap();
        let info = TaskInfo::of(&child);
        assert_eq!(
            (info.state, info.polls),
            (TaskState::Waiting, 1),
            "{info:?}"
        );
        assert_eq!(info.last_worker, Some(0), "{info:?}");
        promise.set_result(()).unwrap();
    });
}

#[test]
fn a_task_spawned_by_a_worker_that_slept_is_not_aged_by_its_sleep() {
    watchdog(|| {
        const SLEPT: Duration = Duration::from_millis(600);
        let rt = common::runtime(1);
        let wake = Promise::<()>::new();
        let hold = Promise::<()>::new();
        let (w, h) = (wake.clone(), hold.clone());
        let parent = rt.spawn(async move {
            w.wait().await.unwrap();
            // The worker woke from its park just now: the child's spawn
            // time is read then, not before the sleep (`SpawnClock`).
            weft::spawn(async move { h.wait().await.unwrap() }).task_ref()
        });
        // The worker parks with nothing to do for SLEPT.
        std::thread::sleep(SLEPT);
        wake.set_result(()).unwrap();
        let child = rt.block_on(parent).unwrap();
        let info = TaskInfo::of(&child);
        assert!(info.age < SLEPT - ms(100), "{info:?}");
        hold.set_result(()).unwrap();
    });
}
