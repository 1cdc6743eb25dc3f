//! Per-task `tracing` spans: an event inside a task carries the task's span
//! (id, name, spawn site), on any worker, also while its cancellation is
//! delivered; tasks get no span when no subscriber wants one; the span
//! closes when the task ends.

mod common;

use common::{spin_until, watchdog, DropCounter};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::ThreadId;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use weft::{Promise, Runtime};

/// One recorded span: its name, target and fields (`name=value ` pairs).
#[derive(Clone, Debug, Default)]
struct SpanRec {
    name: String,
    target: String,
    fields: String,
    /// References the subscriber holds out (`new_span` and `clone_span`
    /// add one, `try_close` takes one): 0 once closed.
    refs: usize,
}

/// One recorded event: its message and the fields of the span current on
/// its thread (by this subscriber's enters and exits), if any.
#[derive(Clone, Debug)]
struct EventRec {
    message: String,
    span: Option<SpanRec>,
    thread: ThreadId,
}

#[derive(Default)]
struct Inner {
    next: AtomicU64,
    spans: Mutex<HashMap<u64, SpanRec>>,
    /// Each thread's stack of entered spans.
    stacks: Mutex<HashMap<ThreadId, Vec<u64>>>,
    events: Mutex<Vec<EventRec>>,
    /// Whether spans of target `weft::task` are enabled.
    task_spans: bool,
}

/// A subscriber that keeps spans and which one is current on each thread.
#[derive(Clone)]
struct SpanLog(Arc<Inner>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl SpanLog {
    fn new(task_spans: bool) -> SpanLog {
        SpanLog(Arc::new(Inner {
            next: AtomicU64::new(1),
            task_spans,
            ..Inner::default()
        }))
    }

    /// Makes this the default subscriber of the calling thread for the rest
    /// of its life (for `Builder::on_thread_start`).
    fn install_for_thread(&self) {
        std::mem::forget(tracing::subscriber::set_default(self.clone()));
    }

    /// A runtime whose workers report to this subscriber.
    fn runtime(&self, workers: usize) -> Runtime {
        let me = self.clone();
        weft::Builder::new()
            .workers(workers)
            .on_thread_start(move || me.install_for_thread())
            .build()
            .expect("build a weft runtime")
    }

    fn events(&self) -> Vec<EventRec> {
        self.0.events.lock().clone()
    }

    fn event(&self, message: &str) -> EventRec {
        self.events()
            .into_iter()
            .find(|e| e.message == message)
            .unwrap_or_else(|| panic!("no event {message:?} in {:?}", self.events()))
    }

    /// The open spans named `task`.
    fn open_task_spans(&self) -> usize {
        self.0
            .spans
            .lock()
            .values()
            .filter(|s| s.name == "task" && s.refs > 0)
            .count()
    }
}

impl Subscriber for SpanLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.0.task_spans || metadata.target() != "weft::task"
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.0.next.fetch_add(1, Ordering::Relaxed);
        let mut fields = String::new();
        span.record(&mut Fields(&mut fields));
        let rec = SpanRec {
            name: span.metadata().name().to_owned(),
            target: span.metadata().target().to_owned(),
            fields,
            refs: 1,
        };
        self.0.spans.lock().insert(id, rec);
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(rec) = self.0.spans.lock().get_mut(&span.into_u64()) {
            values.record(&mut Fields(&mut rec.fields));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut text = String::new();
        event.record(&mut Fields(&mut text));
        let message = text
            .strip_prefix("message=")
            .unwrap_or(&text)
            .trim_end()
            .to_owned();
        let thread = std::thread::current().id();
        let current = self
            .0
            .stacks
            .lock()
            .get(&thread)
            .and_then(|s| s.last().copied());
        let span = current.and_then(|id| self.0.spans.lock().get(&id).cloned());
        self.0.events.lock().push(EventRec {
            message,
            span,
            thread,
        });
    }

    fn enter(&self, span: &Id) {
        let thread = std::thread::current().id();
        self.0
            .stacks
            .lock()
            .entry(thread)
            .or_default()
            .push(span.into_u64());
    }

    fn exit(&self, span: &Id) {
        let thread = std::thread::current().id();
        let mut stacks = self.0.stacks.lock();
        let stack = stacks.entry(thread).or_default();
        assert_eq!(
            stack.pop(),
            Some(span.into_u64()),
            "spans exited out of order"
        );
    }

    fn clone_span(&self, span: &Id) -> Id {
        if let Some(rec) = self.0.spans.lock().get_mut(&span.into_u64()) {
            rec.refs += 1;
        }
        span.clone()
    }

    fn try_close(&self, span: Id) -> bool {
        let mut spans = self.0.spans.lock();
        let rec = spans.get_mut(&span.into_u64()).expect("a known span");
        rec.refs -= 1;
        rec.refs == 0
    }
}

/// tracing caches each callsite's interest; with one dispatcher alive it
/// asks the hitting thread's, so tests that run at once would decide for
/// each other (see `TraceLog::install` in common). A second dispatcher kept
/// for the whole run makes every hit ask the thread's own subscriber.
fn keep_a_second_dispatcher() {
    static SECOND: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
    SECOND.get_or_init(|| tracing::Dispatch::new(SpanLog::new(false)));
}

fn field<'a>(span: &'a SpanRec, name: &str) -> Option<&'a str> {
    let start = span.fields.find(&format!("{name}="))? + name.len() + 1;
    let rest = &span.fields[start..];
    Some(&rest[..rest.find(' ').unwrap_or(rest.len())])
}

#[test]
fn an_event_inside_a_task_carries_the_tasks_span() {
    keep_a_second_dispatcher();
    watchdog(|| {
        let log = SpanLog::new(true);
        let _main = tracing::subscriber::set_default(log.clone());
        let rt = log.runtime(1);
        let (id, line) = rt.block_on(async {
            let gate = Promise::new();
            let g = gate.clone();
            let line = line!() + 1;
            let t = weft::spawn(async move {
                tracing::info!("before the name");
                g.await.unwrap();
                tracing::info!("after the name");
            });
            assert!(!t.span().is_disabled());
            weft::sleep(common::ms(5)).await;
            t.set_name("named-task");
            gate.set_result(()).unwrap();
            let id = t.id();
            t.await.unwrap();
            (id, line)
        });
        let before = log.event("before the name");
        let span = before.span.expect("the event carries a span");
        assert_eq!(span.name, "task");
        assert_eq!(span.target, "weft::task");
        assert_eq!(field(&span, "task.id"), Some(id.to_string().as_str()));
        assert_eq!(field(&span, "task.name"), None, "{span:?}");
        assert!(
            field(&span, "loc.file")
                .unwrap()
                .ends_with("obs_tracing.rs\""),
            "{span:?}"
        );
        assert_eq!(field(&span, "loc.line"), Some(line.to_string().as_str()));
        assert!(field(&span, "loc.col").is_some(), "{span:?}");
        let after = log.event("after the name").span.unwrap();
        assert_eq!(field(&after, "task.id"), Some(id.to_string().as_str()));
        assert_eq!(field(&after, "task.name"), Some("\"named-task\""));
        // Outside any task: no span.
        rt.block_on(async { tracing::info!("outside") });
        assert!(log.event("outside").span.is_none());
    });
}

#[test]
fn spans_of_many_tasks_on_two_workers_are_not_mixed_up() {
    keep_a_second_dispatcher();
    watchdog(|| {
        let log = SpanLog::new(true);
        let _main = tracing::subscriber::set_default(log.clone());
        let rt = log.runtime(2);
        const TASKS: usize = 200;
        const STEPS: usize = 5;
        let ids = rt.block_on(async {
            let tasks: Vec<_> = (0..TASKS)
                .map(|i| {
                    weft::spawn(async move {
                        for step in 0..STEPS {
                            tracing::info!("task {i} step {step}");
                            weft::yield_now().await;
                        }
                        // Some of each on each worker, as best it can.
                        std::thread::yield_now();
                    })
                })
                .collect();
            let mut ids = Vec::new();
            for t in tasks {
                ids.push(t.id());
                t.await.unwrap();
            }
            ids
        });
        let events: Vec<_> = log
            .events()
            .into_iter()
            .filter(|e| e.message.starts_with("task "))
            .collect();
        assert_eq!(events.len(), TASKS * STEPS);
        for e in &events {
            let i: usize = e.message.split(' ').nth(1).unwrap().parse().unwrap();
            let span = e
                .span
                .as_ref()
                .unwrap_or_else(|| panic!("{e:?} has no span"));
            assert_eq!(
                field(span, "task.id"),
                Some(ids[i].to_string().as_str()),
                "{e:?}"
            );
        }
        let threads: std::collections::HashSet<_> = events.iter().map(|e| e.thread).collect();
        assert!(!threads.is_empty() && threads.len() <= 2);
        // Every task's span closed as it ended.
        spin_until("every task span to close", || log.open_task_spans() == 0);
    });
}

#[test]
fn the_drop_that_delivers_a_cancellation_runs_inside_the_span() {
    keep_a_second_dispatcher();
    watchdog(|| {
        let log = SpanLog::new(true);
        let _main = tracing::subscriber::set_default(log.clone());
        let rt = log.runtime(1);
        struct Finally;
        impl Drop for Finally {
            fn drop(&mut self) {
                tracing::info!("finally");
            }
        }
        let id = rt.block_on(async {
            let started = Promise::new();
            let s = started.clone();
            let t = weft::spawn(async move {
                let _finally = Finally;
                s.set_result(()).unwrap();
                std::future::pending::<()>().await;
            });
            started.clone().await.unwrap();
            t.cancel();
            let id = t.id();
            assert!(t.await.unwrap_err().is_cancelled());
            id
        });
        let span = log.event("finally").span.expect("the drop carries a span");
        assert_eq!(field(&span, "task.id"), Some(id.to_string().as_str()));
        // A task dropped by the runtime's shutdown, too.
        let drops = DropCounter::new();
        let guard = drops.guard();
        let id = rt.block_on(async move {
            let t = weft::spawn(async move {
                let _finally = Finally;
                let _guard = guard;
                std::future::pending::<()>().await;
            });
            weft::sleep(common::ms(5)).await;
            t.id()
        });
        drop(rt);
        assert_eq!(drops.get(), 1);
        let finals: Vec<_> = log
            .events()
            .into_iter()
            .filter(|e| e.message == "finally")
            .collect();
        assert_eq!(finals.len(), 2, "{finals:?}");
        let span = finals[1]
            .span
            .as_ref()
            .expect("the shutdown drop carries a span");
        assert_eq!(field(span, "task.id"), Some(id.to_string().as_str()));
        assert_eq!(log.open_task_spans(), 0);
    });
}

#[test]
fn no_span_when_no_subscriber_wants_one() {
    keep_a_second_dispatcher();
    watchdog(|| {
        // A subscriber that turns `weft::task` off.
        let log = SpanLog::new(false);
        let main = tracing::subscriber::set_default(log.clone());
        let rt = log.runtime(1);
        rt.block_on(async {
            let t = weft::spawn(async { tracing::info!("unspanned") });
            assert!(t.span().is_disabled());
            t.await.unwrap();
        });
        assert!(log.event("unspanned").span.is_none());
        assert_eq!(log.open_task_spans(), 0);
        drop(rt);
        drop(main);
        // No subscriber at all on the spawning thread.
        let rt = common::runtime(1);
        rt.block_on(async {
            let t = weft::spawn(async {});
            assert!(t.span().is_disabled());
            t.await.unwrap();
        });
    });
}

#[test]
fn the_span_is_readable_from_the_handle_until_the_task_ends() {
    keep_a_second_dispatcher();
    watchdog(|| {
        let log = SpanLog::new(true);
        let _main = tracing::subscriber::set_default(log.clone());
        let rt = log.runtime(1);
        rt.block_on(async {
            let gate = Promise::new();
            let g = gate.clone();
            let t = weft::spawn(async move { g.await.unwrap() });
            let span = t.span();
            assert!(!span.is_disabled());
            // Events in the span from outside the task carry it too.
            span.in_scope(|| tracing::info!("from the spawner"));
            drop(span);
            gate.set_result(()).unwrap();
            let task = t.task_ref();
            t.await.unwrap();
            common::sleep_until_true("the span to close", || log.open_task_spans() == 0).await;
            assert!(task.span().is_disabled());
        });
        let span = log.event("from the spawner").span.unwrap();
        assert_eq!(span.name, "task");
    });
}
