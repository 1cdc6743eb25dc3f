//! The exception handler (asyncio's `loop.set_exception_handler` /
//! `call_exception_handler` / `default_exception_handler`):
//! `Builder::exception_handler`, `Handle::set_exception_handler`,
//! `Handle::call_exception_handler`, `weft::default_exception_handler`, and
//! what reaches them: a panicking callback, a task error never retrieved, a
//! promise error never retrieved. Cases from CPython's test_base_events.py,
//! test_futures.py and test_tasks.py. (`test_set_exc_handler_invalid`, a
//! handler that is not callable, cannot be written in Rust.)

mod common;

use common::{watchdog, TraceLog};
use std::sync::Arc;
use std::time::Duration;
use tracing::Level;
use weft::{Builder, DoneCallback, ExceptionContext, Handle, Promise, Runtime, TaskError, TaskRef};

/// What a handler received, per call.
#[derive(Clone, Default)]
struct Seen(Arc<parking_lot::Mutex<Vec<ExceptionContext>>>);

impl Seen {
    fn handler(&self) -> impl Fn(&Handle, &ExceptionContext) + Send + Sync + 'static {
        let seen = self.clone();
        move |_, ctx| seen.0.lock().push(ctx.clone())
    }

    fn messages(&self) -> Vec<String> {
        self.0.lock().iter().map(|c| c.message.clone()).collect()
    }

    fn take(&self) -> Vec<ExceptionContext> {
        std::mem::take(&mut *self.0.lock())
    }

    /// Waits (bounded) until `n` contexts arrived.
    fn wait_for(&self, n: usize) {
        common::spin_until("the exception handler to be called", || {
            self.0.lock().len() >= n
        });
    }
}

fn failing(message: &'static str) -> TaskError {
    TaskError::failed(std::io::Error::other(message))
}

/// A runtime with one worker whose handler records into `seen`.
fn runtime_with(seen: &Seen) -> Runtime {
    Builder::new()
        .workers(1)
        .exception_handler(seen.handler())
        .build()
        .unwrap()
}

// ----- callbacks -----

// CPython: test_base_events.py BaseEventLoopTests.test_set_exc_handler_custom
#[test]
fn test_set_exc_handler_custom() {
    watchdog(|| {
        let seen = Seen::default();
        let rt = runtime_with(&seen);
        let run_loop = || {
            rt.block_on(async {
                weft::call_soon(|| panic!("zero_error"));
                weft::yield_now().await;
            })
        };
        run_loop();
        let got = seen.take();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].message, "a call_soon callback panicked");
        let err = got[0].error.as_ref().unwrap();
        assert!(
            err.is_panic() && err.to_string().contains("zero_error"),
            "{err}"
        );
        // The handler receives the runtime's handle.
        let h = Seen::default();
        let same = Arc::new(parking_lot::Mutex::new(None));
        let s = same.clone();
        let hh = h.handler();
        rt.handle()
            .set_exception_handler(Some(move |handle: &Handle, ctx: &ExceptionContext| {
                *s.lock() = Some(handle.metrics().workers);
                hh(handle, ctx)
            }));
        run_loop();
        assert_eq!(h.messages(), ["a call_soon callback panicked"]);
        assert_eq!(*same.lock(), Some(1));
        // `None` restores the default, which logs.
        rt.handle()
            .set_exception_handler(None::<fn(&Handle, &ExceptionContext)>);
        let trace = TraceLog::new();
        {
            let _g = trace.install();
            run_loop();
        }
        trace.assert_has(
            Level::ERROR,
            &["a call_soon callback panicked", "zero_error"],
        );
        assert!(seen.take().is_empty());
        assert_eq!(h.take().len(), 1, "the replaced handler is not called");
    });
}

// CPython: test_base_events.py BaseEventLoopTests.test_default_exc_handler_callback
// (call_soon and call_later, with the default handler: logged at error level)
#[test]
fn test_default_exc_handler_callback() {
    watchdog(|| {
        let trace = TraceLog::new();
        let _g = trace.install();
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            weft::call_soon(|| panic!("zero from call_soon"));
            weft::yield_now().await;
        });
        trace.assert_has(
            Level::ERROR,
            &["a call_soon callback panicked", "zero from call_soon"],
        );
        // A call_later callback runs on the loop it was scheduled on: this
        // `block_on` loop, whose thread records.
        rt.block_on(async {
            weft::call_later(Duration::from_millis(1), || panic!("zero from call_later"));
            weft::sleep(Duration::from_millis(20)).await;
        });
        trace.assert_has(Level::ERROR, &["panicked", "zero from call_later"]);
    });
}

// CPython: test_base_events.py BaseEventLoopTests.test_set_exc_handler_broken
#[test]
fn test_set_exc_handler_broken() {
    watchdog(|| {
        let trace = TraceLog::new();
        let _g = trace.install();
        let rt = Builder::new()
            .workers(1)
            .exception_handler(|_, _| panic!("spam"))
            .build()
            .unwrap();
        rt.block_on(async {
            weft::call_soon(|| panic!("zero_error"));
            weft::yield_now().await;
            // The loop goes on after the handler's panic.
            weft::yield_now().await;
        });
        trace.assert_has(
            Level::ERROR,
            &["Unhandled error in exception handler", "spam", "zero_error"],
        );
        // And so does the runtime.
        assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
    });
}

// CPython: test_base_events.py BaseEventLoopTests.test_default_exc_handler_broken
// (the part Rust has: a handler falls back on the default one)
#[test]
fn test_default_exc_handler_broken() {
    watchdog(|| {
        let trace = TraceLog::new();
        let _g = trace.install();
        let rt = Builder::new()
            .exception_handler(|_, ctx| {
                weft::default_exception_handler(&ExceptionContext::new(format!(
                    "custom: {}",
                    ctx.message
                )))
            })
            .build()
            .unwrap();
        rt.handle()
            .call_exception_handler(ExceptionContext::new("from the caller"));
        trace.assert_has(Level::ERROR, &["custom: from the caller"]);
    });
}

// CPython: test_base_events.py BaseEventLoopTests.test_set_exc_handler_custom
// (`loop.call_exception_handler(context)` called directly: the handler gets
// the context as given)
#[test]
fn call_exception_handler_passes_the_context_through() {
    watchdog(|| {
        let seen = Seen::default();
        let rt = runtime_with(&seen);
        let t = rt.spawn(async {});
        let task = t.task_ref();
        rt.block_on(t).unwrap();
        rt.handle().call_exception_handler(
            ExceptionContext::new("protocol error")
                .with_error(failing("bad frame"))
                .with_task(task.clone()),
        );
        let got = seen.take();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].message, "protocol error");
        assert_eq!(got[0].task.as_ref(), Some(&task));
        assert!(got[0].error.as_ref().unwrap().is_failed());
        let text = got[0].to_string();
        assert!(
            text.starts_with("protocol error\nerror: task failed: bad frame\ntask: "),
            "{text}"
        );
    });
}

// ----- tasks: "Task exception was never retrieved" -----

// CPython: test_base_events.py BaseEventLoopTests.test_default_exc_handler_coro
// (a task that failed, its handle dropped without looking: logged)
#[test]
fn test_default_exc_handler_coro() {
    watchdog(|| {
        let trace = TraceLog::new();
        let _g = trace.install();
        let rt = Runtime::new().unwrap();
        let handle = rt.handle().clone();
        let t = rt.spawn(async {
            weft::sleep(Duration::from_millis(10)).await;
            panic!("zero_error_coro")
        });
        t.add_done_callback(DoneCallback::new(move |_: &TaskRef| handle.stop()));
        rt.run_forever();
        // Dropped here, on this (recording) thread, its error unread.
        drop(t);
        trace.assert_has(
            Level::ERROR,
            &["Task exception was never retrieved", "zero_error_coro"],
        );
    });
}

// CPython: test_tasks.py BaseTaskTests.test_exception_traceback / asyncio's
// Task.__del__ (a detached task that fails: reported when it ends, with
// the task in the context)
#[test]
fn detached_task_error_is_reported_when_it_ends() {
    watchdog(|| {
        let seen = Seen::default();
        let rt = runtime_with(&seen);
        let t = rt.spawn(async { panic!("detached and failing") });
        let task = t.task_ref();
        t.detach();
        seen.wait_for(1);
        let got = seen.take();
        assert_eq!(got[0].message, "Task exception was never retrieved");
        assert_eq!(got[0].task.as_ref(), Some(&task));
        let err = got[0].error.as_ref().unwrap();
        assert!(err.to_string().contains("detached and failing"), "{err}");
    });
}

// CPython: test_futures.py BaseFutureTests.test_tb_logger_exception_retrieved
// (for tasks: awaiting, result() and exception() each retrieve the error)
#[test]
fn retrieved_task_errors_are_not_reported() {
    watchdog(|| {
        let seen = Seen::default();
        let rt = runtime_with(&seen);
        let boom = || async { panic!("retrieved") };
        rt.block_on(async {
            // Awaited.
            assert!(weft::spawn(boom()).await.unwrap_err().is_panic());
            // result().
            let mut t = weft::spawn(boom());
            while !t.done() {
                weft::yield_now().await;
            }
            assert!(t.result().unwrap().is_err());
            drop(t);
            // exception(), then dropped with the output unread.
            let t = weft::spawn(boom());
            while !t.done() {
                weft::yield_now().await;
            }
            assert!(t.exception().unwrap().is_some());
            drop(t);
        });
        // A failure reported now would be one of these three.
        rt.handle()
            .call_exception_handler(ExceptionContext::new("marker"));
        assert_eq!(seen.messages(), ["marker"]);
    });
}

// CPython: test_futures.py BaseFutureTests.test_tb_logger_not_called_after_cancel
// and test_tb_logger_result_unretrieved (a cancellation or a value is never
// reported)
#[test]
fn cancelled_or_successful_tasks_are_not_reported() {
    watchdog(|| {
        let seen = Seen::default();
        let rt = runtime_with(&seen);
        rt.block_on(async {
            let t = weft::spawn(std::future::pending::<()>());
            t.cancel();
            let r = t.task_ref();
            drop(t);
            let v = weft::spawn(async { 5 });
            let vr = v.task_ref();
            drop(v);
            while !r.done() || !vr.done() {
                weft::yield_now().await;
            }
        });
        rt.handle()
            .call_exception_handler(ExceptionContext::new("marker"));
        assert_eq!(seen.messages(), ["marker"]);
    });
}

// ----- promises: "Future exception was never retrieved" -----

// CPython: test_futures.py BaseFutureTests.test_tb_logger_exception_unretrieved
#[test]
fn test_tb_logger_exception_unretrieved() {
    watchdog(|| {
        let seen = Seen::default();
        let rt = runtime_with(&seen);
        rt.block_on(async {
            let p = Promise::<u8>::new();
            p.set_exception(failing("never read")).unwrap();
            drop(p);
        });
        let got = seen.take();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].message, "Future exception was never retrieved");
        assert!(got[0]
            .error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("never read"));
        assert!(got[0].future.unwrap().contains("Promise<u8>"));
        // Outside any loop: the default handler logs.
        let trace = TraceLog::new();
        let _g = trace.install();
        let p = Promise::<u8>::new();
        p.set_exception(failing("never read either")).unwrap();
        drop(p);
        trace.assert_has(
            Level::ERROR,
            &["Future exception was never retrieved", "never read either"],
        );
    });
}

// CPython: test_futures.py BaseFutureTests.test_tb_logger_exception_retrieved
#[test]
fn test_tb_logger_exception_retrieved() {
    watchdog(|| {
        let seen = Seen::default();
        let rt = runtime_with(&seen);
        rt.block_on(async {
            let p = Promise::<u8>::new();
            p.set_exception(failing("read")).unwrap();
            assert!(p.exception().unwrap().is_some());
            drop(p);
        });
        rt.handle()
            .call_exception_handler(ExceptionContext::new("marker"));
        assert_eq!(seen.messages(), ["marker"]);
    });
}

// CPython: test_futures.py BaseFutureTests.test_tb_logger_exception_result_retrieved
// (result(), or awaiting, retrieves it too; only the last handle's drop counts)
#[test]
fn test_tb_logger_exception_result_retrieved() {
    watchdog(|| {
        let seen = Seen::default();
        let rt = runtime_with(&seen);
        rt.block_on(async {
            let p = Promise::<u8>::new();
            p.set_exception(failing("read by result")).unwrap();
            assert!(p.result().unwrap().is_err());
            drop(p);
            let p = Promise::<u8>::new();
            let clone = p.clone();
            p.set_exception(failing("awaited")).unwrap();
            drop(p); // not the last handle: nothing yet
            assert!(clone.await.is_err());
        });
        rt.handle()
            .call_exception_handler(ExceptionContext::new("marker"));
        assert_eq!(seen.messages(), ["marker"]);
    });
}

// CPython: test_futures.py BaseFutureTests.test_tb_logger_not_called_after_cancel
// and test_tb_logger_result_unretrieved
#[test]
fn test_tb_logger_not_called_after_cancel() {
    watchdog(|| {
        let seen = Seen::default();
        let rt = runtime_with(&seen);
        rt.block_on(async {
            let p = Promise::<u8>::new();
            p.set_exception(failing("then cancelled?")).unwrap();
            assert!(!p.cancel()); // already done: stays failed...
            p.exception().unwrap(); // ...and is read here.
            let c = Promise::<u8>::new();
            c.cancel();
            drop(c);
            let v = Promise::new();
            v.set_result(1u8).unwrap();
            drop(v);
        });
        rt.handle()
            .call_exception_handler(ExceptionContext::new("marker"));
        assert_eq!(seen.messages(), ["marker"]);
    });
}

// CPython: test_tasks.py GatherTestsBase.test_exception_marking (gather
// marks its children's errors retrieved: a child failing after the first
// error was raised is not reported)
#[test]
fn test_exception_marking() {
    watchdog(|| {
        let seen = Seen::default();
        let rt = runtime_with(&seen);
        rt.block_on(async {
            let (a, b) = (Promise::<()>::new(), Promise::<()>::new());
            let inner = |gate: Promise<()>| async move {
                gate.await.unwrap();
                panic!("should not be ignored")
            };
            let (ta, tb) = (weft::spawn(inner(a.clone())), weft::spawn(inner(b.clone())));
            let tb_ref = tb.task_ref();
            let outer = weft::spawn(weft::gather(vec![ta, tb]));
            weft::yield_now().await;
            a.set_result(()).unwrap();
            assert!(outer.await.unwrap().unwrap_err().is_panic());
            b.set_result(()).unwrap();
            while !tb_ref.done() {
                weft::yield_now().await;
            }
            // Its done callbacks (gather's marker) have run by now.
            weft::sleep(Duration::from_millis(10)).await;
        });
        rt.handle()
            .call_exception_handler(ExceptionContext::new("marker"));
        assert_eq!(seen.messages(), ["marker"]);
    });
}

// CPython: futures.py Future.__del__ runs after the done callbacks: a done
// callback of a detached task that reads its error retrieves it
#[test]
fn a_done_callback_that_reads_the_error_retrieves_it() {
    watchdog(|| {
        let seen = Seen::default();
        let rt = runtime_with(&seen);
        let read = Arc::new(parking_lot::Mutex::new(None));
        let r = read.clone();
        let t = rt.spawn(async {
            weft::sleep(Duration::from_millis(5)).await;
            panic!("read by a callback")
        });
        t.add_done_callback(DoneCallback::new(move |task: &TaskRef| {
            *r.lock() = task.exception().unwrap().map(|e| e.to_string());
        }));
        let task = t.task_ref();
        t.detach();
        common::spin_until("the callback", || read.lock().is_some());
        assert!(task.done());
        std::thread::sleep(Duration::from_millis(10));
        rt.handle()
            .call_exception_handler(ExceptionContext::new("marker"));
        assert_eq!(seen.messages(), ["marker"]);
        // Without such a callback, it is reported (after the callbacks ran).
        let t = rt.spawn(async { panic!("not read") });
        t.add_done_callback(DoneCallback::new(|_: &TaskRef| {}));
        t.detach();
        seen.wait_for(2);
        assert_eq!(
            seen.messages(),
            ["marker", "Task exception was never retrieved"]
        );
    });
}

// CPython: tasks.py shield's `_inner_done_callback` ("Mark inner's result as
// retrieved"): the caller of a shield is cancelled, the inner task runs on
// and fails; that error is not reported
#[test]
fn shielded_task_failing_after_the_caller_was_cancelled_is_not_reported() {
    watchdog(|| {
        let seen = Seen::default();
        let rt = runtime_with(&seen);
        rt.block_on(async {
            let gate = Promise::<()>::new();
            let g = gate.clone();
            let inner = weft::spawn(async move {
                g.await.unwrap();
                panic!("after the caller left")
            });
            let inner_ref = inner.task_ref();
            let outer = weft::spawn(weft::shield(inner));
            weft::yield_now().await;
            outer.cancel();
            assert!(outer.await.unwrap_err().is_cancelled());
            gate.set_result(()).unwrap();
            while !inner_ref.done() {
                weft::yield_now().await;
            }
            weft::sleep(Duration::from_millis(10)).await;
        });
        rt.handle()
            .call_exception_handler(ExceptionContext::new("marker"));
        assert_eq!(seen.messages(), ["marker"]);
    });
}
