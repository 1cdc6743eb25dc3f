//! Context variables (issue 16, section 3; PEP 567): `ContextVar` get / set /
//! reset and its token errors, `Context::run`, `copy_context`, and the
//! propagation asyncio pins: every spawn path runs the task in a copy of the
//! spawner's context, `spawn_with_context`, `TaskRef::context`, callbacks
//! (`call_soon`, `call_later`, `call_at`, `call_soon_threadsafe`, done
//! callbacks) in the context current at registration, blocking jobs and
//! `run_coroutine_threadsafe` in the submitting thread's. Ported CPython cases
//! name their origin above them.
//!
//! Not ported: test_context.py's repr-recursion, subclassing and TypeError
//! cases (Rust's types rule them out), test_context_run_7 (entering a context
//! that is already entered: `Context::run` takes `&mut self`, so that does not
//! compile; the `compile_fail` doc test on `Context::run` pins it), the
//! context-manager cases (Python 3.14's `with ctx:`), and the HAMT cases.

mod common;

use common::{block_on, wait_until, watchdog, DropCounter, DropGuard, Log};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;
use weft::contextvars::{copy_context, Context, ContextVar};
use weft::{DoneCallback, Promise, TaskRef};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ----- CPython: test_context.py ContextTest -----

// CPython: test_context.py ContextTest.test_context_var_new_1
#[test]
fn context_var_new_1() {
    let c: ContextVar<u8> = ContextVar::new("aaa");
    assert_eq!(c.name(), "aaa");
    // Two variables of one name are distinct keys.
    let d: ContextVar<u8> = ContextVar::new("aaa");
    let mut ctx = Context::new();
    ctx.run(|| c.set(1));
    assert!(ctx.contains(&c));
    assert!(!ctx.contains(&d));
}

// CPython: test_context.py ContextTest.test_context_var_repr_1
#[test]
fn context_var_repr_1() {
    let c = ContextVar::new("a");
    assert!(format!("{c:?}").contains("\"a\""), "{c:?}");
    let mut ctx = Context::new();
    let t = ctx.run(|| c.set(1));
    assert!(format!("{t:?}").contains("\"a\""), "{t:?}");
    assert!(format!("{t:?}").contains("used: false"), "{t:?}");
    ctx.run(|| c.reset(&t)).unwrap();
    assert!(format!("{t:?}").contains("used: true"), "{t:?}");
}

// CPython: test_context.py ContextTest.test_token_repr_1
#[test]
fn token_repr_1() {
    let c = ContextVar::new("a");
    let tok = Context::new().run(|| c.set(1));
    assert_eq!(format!("{tok:?}"), "Token { var: \"a\", used: false }");
    assert_eq!(tok.var_name(), "a");
}

// CPython: test_context.py ContextTest.test_context_new_1
#[test]
fn context_new_1() {
    let ctx = Context::new();
    assert!(ctx.is_empty());
    assert_eq!(ctx.len(), 0);
    assert_eq!(ctx, Context::default());
}

// CPython: test_context.py ContextTest.test_context_get_context_1
#[test]
fn context_get_context_1() {
    let ctx: Context = copy_context();
    assert_eq!(ctx.names().count(), ctx.len());
}

// CPython: test_context.py ContextTest.test_context_run_2
#[test]
fn context_run_2() {
    let mut ctx = Context::new();
    let args = vec![11];
    let out = ctx.run(move || {
        let mut args = args;
        args.push(42);
        args
    });
    assert_eq!(out, [11, 42]);
}

// CPython: test_context.py ContextTest.test_context_run_3
#[test]
fn context_run_3() {
    let mut ctx = Context::new();
    let err = catch_unwind(AssertUnwindSafe(|| ctx.run(|| panic!("division by zero"))));
    assert!(err.is_err());
    // The thread's context was restored on the way out.
    let v: ContextVar<u8> = ContextVar::new("v");
    let tok = v.set(1);
    v.reset(&tok).unwrap();
}

// CPython: test_context.py ContextTest.test_context_run_4
#[test]
fn context_run_4() {
    let mut ctx1 = Context::new();
    let mut ctx2 = Context::new();
    let var = ContextVar::new("var");
    let returned = ctx1.run(|| {
        assert_eq!(var.get(), None);
        var.set("spam");
        ctx2.run(|| assert_eq!(var.get(), None));
        assert_eq!(var.get(), Some("spam"));
        let cur = copy_context();
        assert_eq!(cur.len(), 1);
        assert_eq!(cur.get(&var), Some("spam"));
        cur
    });
    assert_eq!(ctx1, returned);
    assert_eq!(returned.get(&var), Some("spam"));
    assert!(returned.contains(&var));
}

// CPython: test_context.py ContextTest.test_context_run_5
#[test]
fn context_run_5() {
    let mut ctx = Context::new();
    let var = ContextVar::new("var");
    let err = catch_unwind(AssertUnwindSafe(|| {
        ctx.run(|| {
            assert_eq!(var.get(), None);
            var.set("spam");
            panic!("division by zero");
        })
    }));
    assert!(err.is_err());
    assert_eq!(var.get(), None);
}

// CPython: test_context.py ContextTest.test_context_run_6
// (`ctx` is borrowed by its own `run`, so the live view inside is
// `copy_context()`.)
#[test]
fn context_run_6() {
    let mut ctx = Context::new();
    let c = ContextVar::with_default("a", 0);
    ctx.run(|| {
        assert_eq!(c.get(), Some(0));
        assert_eq!(copy_context().get(&c), None);
        c.set(42);
        assert_eq!(c.get(), Some(42));
        assert_eq!(copy_context().get(&c), Some(42));
    });
    assert_eq!(ctx.get(&c), Some(42));
}

// CPython: test_context.py ContextTest.test_context_getset_1
#[test]
fn context_getset_1() {
    Context::new().run(|| {
        let c = ContextVar::new("c");
        assert_eq!(c.get(), None);

        let t0 = c.set("42");
        assert_eq!(c.get(), Some("42"));
        assert_eq!(t0.old_value(), None); // Token.MISSING

        let t = c.set("spam");
        assert_eq!(c.get(), Some("spam"));
        assert_eq!(t.old_value(), Some("42"));
        c.reset(&t).unwrap();
        assert_eq!(c.get(), Some("42"));

        c.set("spam2");
        let err = c.reset(&t).unwrap_err();
        assert!(err.is_used(), "{err}");
        assert_eq!(err.to_string(), "token has already been used");
        assert_eq!(c.get(), Some("spam2"));

        let ctx1 = copy_context();
        assert!(ctx1.contains(&c));

        c.reset(&t0).unwrap();
        assert!(c.reset(&t0).unwrap_err().is_used());
        assert_eq!(c.get(), None);

        assert!(ctx1.contains(&c));
        assert_eq!(ctx1.get(&c), Some("spam2"));
        assert_eq!(ctx1.len(), 1);
        assert_eq!(ctx1.names().collect::<Vec<_>>(), ["c"]);

        let ctx2 = copy_context();
        assert!(!ctx2.contains(&c));
        assert_eq!(ctx2.get(&c), None);
        assert_eq!(ctx2.len(), 0);
        assert_eq!(ctx2.names().count(), 0);
    });
}

// CPython: test_context.py ContextTest.test_context_getset_2
#[test]
fn context_getset_2() {
    Context::new().run(|| {
        let v1 = ContextVar::new("v1");
        let v2 = ContextVar::new("v2");
        let t1 = v1.set(42);
        let err = v2.reset(&t1).unwrap_err();
        assert!(err.is_wrong_var(), "{err}");
        assert_eq!(
            err.to_string(),
            "token was created by a different context var"
        );
        // A refused token is still usable.
        v1.reset(&t1).unwrap();
        assert_eq!(v1.get(), None);
    });
}

// CPython: test_context.py ContextTest.test_context_getset_3
#[test]
fn context_getset_3() {
    let c = ContextVar::with_default("c", 42);
    let mut ctx = Context::new();
    ctx.run(|| {
        assert_eq!(c.get(), Some(42));
        assert_eq!(copy_context().get(&c), None);
        assert!(!copy_context().contains(&c));
        assert_eq!(copy_context().names().count(), 0);

        let t = c.set(1);
        assert_eq!(copy_context().names().collect::<Vec<_>>(), ["c"]);
        assert_eq!(copy_context().get(&c), Some(1));

        c.reset(&t).unwrap();
        assert_eq!(copy_context().names().count(), 0);
        assert_eq!(copy_context().get(&c), None);
    });
    assert!(ctx.is_empty());
}

// CPython: test_context.py ContextTest.test_context_getset_4
#[test]
fn context_getset_4() {
    let c = ContextVar::with_default("c", 42);
    let mut ctx = Context::new();
    let tok = ctx.run(|| c.set(1));
    let err = c.reset(&tok).unwrap_err();
    assert!(err.is_wrong_context(), "{err}");
    assert_eq!(err.to_string(), "token was created in a different context");
    assert!(!tok.is_used());
    // Back in the context that made it, it works.
    ctx.run(|| c.reset(&tok)).unwrap();
    assert_eq!(ctx.get(&c), None);
}

// CPython: test_context.py ContextTest.test_context_getset_5
#[test]
fn context_getset_5() {
    Context::new().run(|| {
        let c = ContextVar::with_default("c", vec![42]);
        c.set(vec![]);
        copy_context().run(|| {
            c.set(vec![]);
            let mut v = c.get().unwrap();
            v.push(42);
            c.set(v);
            assert_eq!(c.get(), Some(vec![42]));
        });
        assert_eq!(c.get(), Some(vec![]));
    });
}

// CPython: test_context.py ContextTest.test_context_copy_1
#[test]
fn context_copy_1() {
    let mut ctx1 = Context::new();
    let c = ContextVar::with_default("c", 42);
    ctx1.run(|| {
        c.set(10);
        let mut ctx2 = copy_context(); // ctx1.copy(), while ctx1 is entered
        assert_eq!(ctx2.get(&c), Some(10));

        c.set(20);
        assert_eq!(copy_context().get(&c), Some(20));
        assert_eq!(ctx2.get(&c), Some(10));

        ctx2.run(|| {
            assert_eq!(c.get(), Some(10));
            c.set(30);
            assert_eq!(c.get(), Some(30));
        });
        assert_eq!(copy_context().get(&c), Some(20));
        assert_eq!(ctx2.get(&c), Some(30));
    });
    // `Clone` is `ctx.copy()`: independent afterwards.
    let mut ctx3 = ctx1.clone();
    assert_eq!(ctx3, ctx1);
    ctx3.run(|| c.set(40));
    assert_eq!(ctx1.get(&c), Some(20));
    assert_ne!(ctx3, ctx1);
}

// CPython: test_context.py ContextTest.test_context_threads_1
#[test]
fn context_threads_1() {
    static CVAR: ContextVar<usize> = ContextVar::new("cvar");
    watchdog(|| {
        let threads: Vec<_> = (0..10)
            .map(|num| {
                std::thread::spawn(move || {
                    for i in 0..10 {
                        CVAR.set(num + i);
                        std::thread::sleep(Duration::from_micros(
                            ((num * 7 + i * 13) % 20) as u64 * 100,
                        ));
                        assert_eq!(CVAR.get(), Some(num + i));
                    }
                    num
                })
            })
            .collect();
        let results: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(results, (0..10).collect::<Vec<_>>());
    });
}

// ----- CPython: test_tasks.py BaseTaskTests -----

// CPython: test_tasks.py BaseTaskTests.test_context_1
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn task_context_1() {
    static CVAR: ContextVar<&str> = ContextVar::with_default("cvar", "nope");
    let main = weft::spawn(async {
        assert_eq!(CVAR.get(), Some("nope"));
        let subtask = weft::spawn(async {
            weft::sleep(ms(10)).await;
            assert_eq!(CVAR.get(), Some("nope"));
            CVAR.set("something else");
        });
        CVAR.set("yes");
        assert_eq!(CVAR.get(), Some("yes"));
        subtask.await.unwrap();
        assert_eq!(CVAR.get(), Some("yes"));
    });
    main.await.unwrap();
    assert_eq!(CVAR.get(), Some("nope"));
}

// CPython: test_tasks.py BaseTaskTests.test_context_2
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn task_context_2() {
    static CVAR: ContextVar<String> = ContextVar::with_default("cvar", String::new());
    let main = weft::spawn(async {
        // This change must not pollute the context of the main task.
        let on_done = DoneCallback::new(|_: &Promise<()>| {
            CVAR.set("something else".into());
        });
        assert_eq!(CVAR.get().unwrap(), "");
        for j in 0..2 {
            let fut = Promise::new();
            fut.add_done_callback(on_done.clone());
            CVAR.set(format!("yes{j}"));
            let setter = fut.clone();
            weft::call_soon(move || setter.set_result(()).unwrap());
            fut.await.unwrap();
            assert_eq!(CVAR.get().unwrap(), format!("yes{j}"));
            for i in 0..3 {
                // The task passed its context to add_done_callback.
                CVAR.set(format!("yes{i}-{j}"));
                weft::sleep(ms(1)).await;
                assert_eq!(CVAR.get().unwrap(), format!("yes{i}-{j}"));
            }
        }
    });
    main.await.unwrap();
    assert_eq!(CVAR.get().unwrap(), "");
}

// CPython: test_tasks.py BaseTaskTests.test_context_3
// Run 100 tasks in parallel, each modifying the variable; four workers, so
// they also move between threads.
#[weft::test(workers = 4, time_limit = common::WATCHDOG)]
async fn task_context_3() {
    static CVAR: ContextVar<i64> = ContextVar::with_default("cvar", -1);
    let tasks: Vec<_> = (0..100)
        .map(|t| {
            weft::spawn(async move {
                let num = (t * 7) % 11;
                for i in 0..10 {
                    CVAR.set(num + i);
                    weft::sleep(Duration::from_micros(((t * 31 + i * 17) % 50) as u64 * 100)).await;
                    assert_eq!(CVAR.get(), Some(num + i));
                }
            })
        })
        .collect();
    weft::gather(tasks).await.unwrap();
    assert_eq!(CVAR.get(), Some(-1));
}

async fn set_after_yield(var: &'static ContextVar<i32>, val: i32) {
    weft::sleep(Duration::ZERO).await;
    var.set(val);
}

// CPython: test_tasks.py BaseTaskTests.test_context_4
// The context given to `spawn_with_context` is a value here: what the task
// sets is read through `task.context()` (asyncio mutates the `ctx` object),
// and the second task starts in the first one's.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn task_context_4() {
    static CVAR: ContextVar<i32> = ContextVar::new("cvar");
    let mut ret = Vec::new();
    let ctx = copy_context();
    ret.push(ctx.get(&CVAR));
    let t1 = weft::spawn_with_context(ctx, set_after_yield(&CVAR, 1));
    let r1: TaskRef = (*t1).clone();
    t1.await.unwrap();
    let ctx = r1.context();
    ret.push(ctx.get(&CVAR));
    let t2 = weft::spawn_with_context(ctx, set_after_yield(&CVAR, 2));
    let r2: TaskRef = (*t2).clone();
    t2.await.unwrap();
    ret.push(r2.context().get(&CVAR));
    assert_eq!(ret, [None, Some(1), Some(2)]);
    assert_eq!(CVAR.get(), None);
}

// CPython: test_tasks.py BaseTaskTests.test_context_5 (test_context_4 through
// asyncio.create_task; weft has one spawn with a context, so this one runs it
// from a task rather than from the main future)
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn task_context_5() {
    static CVAR: ContextVar<i32> = ContextVar::new("cvar");
    let main = weft::spawn(async {
        let mut ret = Vec::new();
        let ctx = copy_context();
        ret.push(ctx.get(&CVAR));
        let t1 = weft::spawn_with_context(ctx.clone(), set_after_yield(&CVAR, 1));
        let r1: TaskRef = (*t1).clone();
        t1.await.unwrap();
        ret.push(r1.context().get(&CVAR));
        let t2 = weft::spawn_with_context(r1.context(), set_after_yield(&CVAR, 2));
        let r2: TaskRef = (*t2).clone();
        t2.await.unwrap();
        ret.push(r2.context().get(&CVAR));
        // The value given in stays as it was.
        assert_eq!(ctx.get(&CVAR), None);
        ret
    });
    assert_eq!(main.await.unwrap(), [None, Some(1), Some(2)]);
}

// CPython: test_tasks.py BaseTaskTests.test_context_6 (through
// loop.create_task: `Handle::spawn` inside `Context::run`, from a plain thread)
#[test]
fn task_context_6() {
    static CVAR: ContextVar<i32> = ContextVar::new("cvar");
    watchdog(|| {
        let rt = common::runtime(2);
        let handle = rt.handle().clone();
        let mut ret = Vec::new();
        let mut ctx = copy_context();
        ret.push(ctx.get(&CVAR));
        let t1 = ctx.run(|| handle.spawn(set_after_yield(&CVAR, 1)));
        let r1: TaskRef = (*t1).clone();
        rt.block_on(t1).unwrap();
        let mut ctx = r1.context();
        ret.push(ctx.get(&CVAR));
        let t2 = ctx.run(|| handle.spawn(set_after_yield(&CVAR, 2)));
        let r2: TaskRef = (*t2).clone();
        rt.block_on(t2).unwrap();
        ret.push(r2.context().get(&CVAR));
        assert_eq!(ret, [None, Some(1), Some(2)]);
        assert_eq!(CVAR.get(), None);
    });
}

// CPython: test_tasks.py BaseTaskTests.test_get_context
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn task_get_context() {
    static CVAR: ContextVar<u8> = ContextVar::new("cvar");
    let mut context = copy_context();
    context.run(|| CVAR.set(5));
    let task = weft::spawn_with_context(context.clone(), async {});
    let handle: TaskRef = (*task).clone();
    task.await.unwrap();
    assert_eq!(handle.context(), context);
}

// ----- CPython: test_threads.py, test_asyncio/test_context.py -----

// CPython: test_threads.py ToThreadTests.test_to_thread_contextvars
#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn to_thread_contextvars() {
    static TEST_CTX: ContextVar<&str> = ContextVar::new("test_ctx");
    TEST_CTX.set("parrot");
    let result = weft::to_thread(|| TEST_CTX.get()).await.unwrap();
    assert_eq!(result, Some("parrot"));
    // And `spawn_blocking`, whose job's own sets stay in its copy.
    let seen = weft::spawn_blocking(|| {
        let seen = TEST_CTX.get();
        TEST_CTX.set("dead parrot");
        seen
    })
    .await
    .unwrap();
    assert_eq!(seen, Some("parrot"));
    assert_eq!(TEST_CTX.get(), Some("parrot"));
    // The pool thread's own context was left as it was: a job from a caller
    // with nothing set sees nothing.
    let mut fresh = Context::new();
    let empty =
        fresh.run(|| weft::spawn(async { weft::to_thread(|| TEST_CTX.get()).await.unwrap() }));
    assert_eq!(empty.await.unwrap(), None);
}

// CPython: test_asyncio/test_context.py DecimalContextTest.test_asyncio_task_decimal_context
// (a per-task precision, as decimal's context is a context variable)
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn asyncio_task_decimal_context() {
    static PREC: ContextVar<usize> = ContextVar::with_default("prec", 28);
    async fn fractions(t: u64, precision: usize, x: f64, y: f64) -> (String, String) {
        PREC.set(precision);
        let p = PREC.get().unwrap();
        let a = format!("{:.*}", p, x / y);
        weft::sleep(ms(t)).await;
        let p = PREC.get().unwrap();
        let b = format!("{:.*}", p, x / (y * y));
        (a, b)
    }
    let (r1, r2) = weft::gather!(fractions(10, 3, 1.0, 3.0), fractions(20, 6, 1.0, 3.0))
        .await
        .unwrap();
    assert_eq!(r1, ("0.333".to_string(), "0.111".to_string()));
    assert_eq!(r2, ("0.333333".to_string(), "0.111111".to_string()));
    assert_eq!(PREC.get(), Some(28));
}

// ----- propagation through every spawn path -----

static PATH: ContextVar<&str> = ContextVar::new("path");

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn every_spawn_path_copies_the_spawners_context() {
    PATH.set("spawner");
    let spawned = weft::spawn(async { PATH.get() });
    let local = weft::spawn_local(async { PATH.get() });
    let handle = weft::Handle::current().spawn(async { PATH.get() });
    let ensured = weft::ensure_future!(async { PATH.get() });
    let (g1, g2) = weft::gather!(async { PATH.get() }, async { PATH.get() })
        .await
        .unwrap();
    let group = weft::task_group(|tg| async move {
        let a = tg.spawn(async { PATH.get() }).unwrap();
        a.await
    })
    .await
    .unwrap();
    // The copy is taken at spawn time: a later set in the spawner is not seen.
    let later = weft::spawn(async {
        weft::sleep(ms(5)).await;
        PATH.get()
    });
    PATH.set("changed after spawn");
    for (what, seen) in [
        ("spawn", spawned.await.unwrap()),
        ("spawn_local", local.await.unwrap()),
        ("Handle::spawn", handle.await.unwrap()),
        ("ensure_future!", ensured.await.unwrap()),
        ("gather! 1", g1),
        ("gather! 2", g2),
        ("TaskGroup::spawn", group),
        ("spawn, then a set", later.await.unwrap()),
    ] {
        assert_eq!(seen, Some("spawner"), "{what}");
    }
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_tasks_sets_stay_in_its_context() {
    static V: ContextVar<u32> = ContextVar::with_default("v", 0);
    V.set(1);
    let (a, b) = weft::gather!(
        async {
            V.set(10);
            weft::sleep(ms(5)).await;
            V.get()
        },
        async {
            weft::sleep(ms(1)).await;
            let seen = V.get();
            V.set(20);
            weft::sleep(ms(5)).await;
            (seen, V.get())
        }
    )
    .await
    .unwrap();
    assert_eq!(a, Some(10));
    assert_eq!(b, (Some(1), Some(20)));
    assert_eq!(V.get(), Some(1));
    // A child's children inherit the child's value.
    let nested = weft::spawn(async {
        V.set(2);
        weft::spawn(async { V.get() }).await.unwrap()
    });
    assert_eq!(nested.await.unwrap(), Some(2));
}

#[test]
fn run_coroutine_threadsafe_takes_the_submitting_threads_context() {
    static V: ContextVar<&str> = ContextVar::new("v");
    watchdog(|| {
        let rt = common::runtime(2);
        let handle = rt.handle().clone();
        let out = std::thread::spawn(move || {
            V.set("submitter");
            let fut = weft::run_coroutine_threadsafe(async { V.get() }, &handle);
            fut.result(Some(Duration::from_secs(10))).unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(out, Some("submitter"));
        // A loop's handle too.
        // A worker's loop (a `block_on` loop ends with its `block_on`).
        let lp = rt
            .block_on(async { weft::spawn(async { weft::LoopHandle::current() }).await })
            .unwrap();
        let out = std::thread::spawn(move || {
            V.set("to a loop");
            let fut = weft::run_coroutine_threadsafe(async { V.get() }, &lp);
            fut.result(Some(Duration::from_secs(10))).unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(out, Some("to a loop"));
    });
}

#[test]
fn the_main_future_runs_in_a_copy_of_the_callers_context() {
    static V: ContextVar<&str> = ContextVar::new("v");
    watchdog(|| {
        V.set("caller");
        let seen = weft::run(async {
            let seen = V.get();
            V.set("main");
            let child = weft::spawn(async { V.get() }).await.unwrap();
            (seen, child, V.get())
        });
        assert_eq!(seen, (Some("caller"), Some("main"), Some("main")));
        assert_eq!(V.get(), Some("caller"));
    });
}

// ----- task.context() -----

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn task_context_follows_the_tasks_sets() {
    static V: ContextVar<u32> = ContextVar::new("v");
    V.set(1);
    let go = Promise::new();
    let gate = go.clone();
    let task = weft::spawn(async move {
        V.set(2);
        gate.wait().await.unwrap();
        V.set(3);
    });
    let handle: TaskRef = (*task).clone();
    assert_eq!(handle.context().get(&V), Some(1), "copied at spawn");
    wait_until("the task to set and suspend", || {
        handle.context().get(&V) == Some(2)
    })
    .await;
    go.set_result(()).unwrap();
    task.await.unwrap();
    assert_eq!(handle.context().get(&V), Some(3));
    assert_eq!(V.get(), Some(1));
}

// ----- callbacks -----

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn call_soon_later_at_and_threadsafe_run_in_the_registering_context() {
    static V: ContextVar<&str> = ContextVar::with_default("v", "default");
    let log = Log::new();
    V.set("registered");
    let l = log.clone();
    weft::call_soon(move || {
        l.push(("call_soon", V.get()));
        V.set("set by a callback");
    });
    let l = log.clone();
    weft::call_later(ms(1), move || l.push(("call_later", V.get())));
    let l = log.clone();
    weft::call_at(weft::loop_time() + ms(1), move || {
        l.push(("call_at", V.get()))
    });
    let lp = weft::LoopHandle::current();
    let l = log.clone();
    std::thread::spawn(move || {
        V.set("other thread");
        lp.call_soon_threadsafe(move || l.push(("call_soon_threadsafe", V.get())));
    })
    .join()
    .unwrap();
    V.set("changed after registering");
    wait_until("four callbacks", || log.len() == 4).await;
    let mut got = log.snapshot();
    got.sort();
    assert_eq!(
        got,
        [
            ("call_at", Some("registered")),
            ("call_later", Some("registered")),
            ("call_soon", Some("registered")),
            ("call_soon_threadsafe", Some("other thread")),
        ]
    );
    assert_eq!(V.get(), Some("changed after registering"));
    // Registered with nothing set: runs with nothing set, even on a loop
    // whose main future has values.
    let l = log.clone();
    let mut empty = Context::new();
    empty.run(|| weft::call_soon(move || l.push(("empty", V.get()))));
    wait_until("the fifth callback", || log.len() == 5).await;
    assert_eq!(log.snapshot()[4], ("empty", Some("default")));
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn done_callbacks_run_in_the_registering_context() {
    static V: ContextVar<&str> = ContextVar::with_default("v", "default");
    let log = Log::new();
    V.set("registrar");
    let task = weft::spawn(async {
        V.set("the task itself");
        weft::sleep(ms(2)).await;
    });
    let t = log.clone();
    let cb = DoneCallback::new(move |_: &TaskRef| t.push(("task", V.get())));
    task.add_done_callback(cb.clone());
    // The callback's identity is kept for removal.
    task.add_done_callback(cb.clone());
    assert_eq!(task.remove_done_callback(&cb), 2);
    task.add_done_callback(cb);
    let promise = Promise::new();
    let t = log.clone();
    promise.add_done_callback(DoneCallback::new(move |_: &Promise<()>| {
        t.push(("promise", V.get()))
    }));
    let blocking = weft::spawn_blocking(|| ());
    let t = log.clone();
    blocking.add_done_callback(move |_| t.push(("concurrent future", V.get())));
    V.set("changed");
    promise.set_result(()).unwrap();
    task.await.unwrap();
    // Registered after completion: scheduled at once, same rule.
    let done = weft::spawn(async {});
    let done_ref: TaskRef = (*done).clone();
    done.await.unwrap();
    let t = log.clone();
    done_ref.add_done_callback(DoneCallback::new(move |_: &TaskRef| {
        t.push(("completed task", V.get()))
    }));
    wait_until("four done callbacks", || log.len() == 4).await;
    let mut got = log.snapshot();
    got.sort();
    assert_eq!(
        got,
        [
            ("completed task", Some("changed")),
            ("concurrent future", Some("registrar")),
            ("promise", Some("registrar")),
            ("task", Some("registrar")),
        ]
    );
}

// ----- token errors across tasks and threads -----

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_token_belongs_to_the_context_that_made_it() {
    static V: ContextVar<u8> = ContextVar::new("v");
    let token = std::sync::Arc::new(V.set(1));
    // Another task (even one that inherited the value) cannot use it.
    let t = token.clone();
    let err = weft::spawn(async move { V.reset(&t) }).await.unwrap();
    assert!(err.unwrap_err().is_wrong_context());
    // Nor another thread.
    let t = token.clone();
    let err = std::thread::spawn(move || V.reset(&t)).join().unwrap();
    assert!(err.unwrap_err().is_wrong_context());
    // A task's own token works across its awaits, on any worker.
    let ok = weft::spawn(async {
        let token = V.set(2);
        weft::sleep(ms(2)).await;
        V.reset(&token).map(|()| V.get())
    });
    assert_eq!(ok.await.unwrap(), Ok(Some(1)));
    V.reset(&token).unwrap();
    assert_eq!(V.get(), None);
    assert!(V.reset(&token).unwrap_err().is_used());
}

// ----- nothing leaks -----

#[test]
fn values_are_dropped_with_the_last_context_holding_them() {
    static V: ContextVar<std::sync::Arc<DropGuard>> = ContextVar::new("v");
    let drops = DropCounter::new();
    let d = drops.clone();
    let (live, drops) = block_on(2, move |_| async move {
        let mut ctx = Context::new();
        ctx.run(|| V.set(std::sync::Arc::new(d.guard())));
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                weft::spawn_with_context(ctx.clone(), async move {
                    if i % 2 == 0 {
                        let mine = V.get().unwrap();
                        V.set(mine); // a new version holding the same value
                    }
                    weft::sleep(ms(1)).await;
                })
            })
            .collect();
        weft::gather(tasks).await.unwrap();
        assert_eq!(d.get(), 0, "still held by `ctx`");
        drop(ctx);
        (common::live_tasks(), d)
    });
    assert_eq!(live, 0);
    assert_eq!(drops.get(), 1);
}

#[test]
fn context_run_restores_the_outer_context_and_drops_nothing_early() {
    let v: ContextVar<u32> = ContextVar::new("v");
    v.set(1);
    let mut ctx = copy_context();
    let inner = ctx.run(|| {
        v.set(2);
        let mut nested = Context::new();
        nested.run(|| {
            assert_eq!(v.get(), None);
            v.set(3);
        });
        assert_eq!(nested.get(&v), Some(3));
        v.get()
    });
    assert_eq!(inner, Some(2));
    assert_eq!(v.get(), Some(1));
    assert_eq!(ctx.get(&v), Some(2));
}
