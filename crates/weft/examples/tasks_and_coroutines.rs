//! The example programs of the Python documentation's "Tasks and coroutines"
//! (asyncio, 19.5.3), with weft:
//!
//! 1. Hello World coroutine (19.5.3.1.1).
//! 2. Coroutine displaying the current date every second for 5 seconds, with
//!    `sleep` (19.5.3.1.2).
//! 3. The same with a callback that re-arms itself with `call_later`, and
//!    stops the loop at the end (the "display the current date with
//!    call_later()" example it refers to).
//! 4. Chain coroutines (19.5.3.1.3): `print_sum` awaits `compute`.
//! 5. Future with `run_until_complete()` (19.5.3.4.1): a task sets a
//!    [`weft::Promise`]'s result; the loop runs until the promise is done.
//! 6. Future with `run_forever()` (19.5.3.4.2): the promise's done callback
//!    prints the result and stops the loop.
//! 7. Parallel execution of tasks (19.5.3.5.1): three factorials, gathered.
//!
//! The Python programs, in order:
//!
//! ```python
//! async def hello_world():
//!     print("Hello World!")
//!
//! asyncio.run(hello_world())
//! ```
//!
//! ```python
//! async def display_date():
//!     loop = asyncio.get_running_loop()
//!     end_time = loop.time() + 5.0
//!     while True:
//!         print(datetime.datetime.now())
//!         if (loop.time() + 1.0) >= end_time:
//!             break
//!         await asyncio.sleep(1)
//!
//! asyncio.run(display_date())
//! ```
//!
//! ```python
//! def display_date(end_time, loop):
//!     print(datetime.datetime.now())
//!     if (loop.time() + 1.0) < end_time:
//!         loop.call_later(1, display_date, end_time, loop)
//!     else:
//!         loop.stop()
//!
//! loop = asyncio.get_event_loop()
//! end_time = loop.time() + 5.0
//! loop.call_soon(display_date, end_time, loop)
//! try:
//!     loop.run_forever()
//! finally:
//!     loop.close()
//! ```
//!
//! ```python
//! async def compute(x, y):
//!     print("Compute %s + %s ..." % (x, y))
//!     await asyncio.sleep(1.0)
//!     return x + y
//!
//! async def print_sum(x, y):
//!     result = await compute(x, y)
//!     print("%s + %s = %s" % (x, y, result))
//!
//! loop = asyncio.get_event_loop()
//! loop.run_until_complete(print_sum(1, 2))
//! loop.close()
//! ```
//!
//! ```python
//! async def slow_operation(future):
//!     await asyncio.sleep(1)
//!     future.set_result('Future is done!')
//!
//! loop = asyncio.get_event_loop()
//! future = asyncio.Future()
//! asyncio.ensure_future(slow_operation(future))
//! loop.run_until_complete(future)
//! print(future.result())
//! loop.close()
//! ```
//!
//! ```python
//! def got_result(future):
//!     print(future.result())
//!     loop.stop()
//!
//! loop = asyncio.get_event_loop()
//! future = asyncio.Future()
//! asyncio.ensure_future(slow_operation(future))
//! future.add_done_callback(got_result)
//! try:
//!     loop.run_forever()
//! finally:
//!     loop.close()
//! ```
//!
//! ```python
//! async def factorial(name, number):
//!     f = 1
//!     for i in range(2, number+1):
//!         print("Task %s: Compute factorial(%s)..." % (name, i))
//!         await asyncio.sleep(1)
//!         f *= i
//!     print("Task %s: factorial(%s) = %s" % (name, number, f))
//!
//! loop = asyncio.get_event_loop()
//! loop.run_until_complete(asyncio.gather(
//!     factorial("A", 2),
//!     factorial("B", 3),
//!     factorial("C", 4),
//! ))
//! loop.close()
//! ```
//!
//! Output: `Hello World!`; five dates a second apart (twice); `Compute 1 + 2
//! ...` then `1 + 2 = 3`; `Future is done!` (twice); and
//!
//! ```text
//! Task A: Compute factorial(2)...
//! Task B: Compute factorial(2)...
//! Task C: Compute factorial(2)...
//! Task A: factorial(2) = 2
//! Task B: Compute factorial(3)...
//! Task C: Compute factorial(3)...
//! Task B: factorial(3) = 6
//! Task C: Compute factorial(4)...
//! Task C: factorial(4) = 24
//! ```
//!
//! `asyncio.run` is [`weft::run`]; `loop = get_event_loop()` is a
//! [`weft::Runtime`], `run_until_complete` its `block_on`, `run_forever` /
//! `stop` its own, and `loop.close()` dropping it. The runtimes that run
//! several tasks side by side have one worker, asyncio's one thread, so the
//! tasks interleave in the same order on every run. `datetime.now()` prints
//! local time; std has no time zones, so this prints UTC, in the same format.
//!
//! tests/tests/seeds_examples.rs runs this program (with shorter seconds) and
//! compares its output with the Python one.
//!
//! ```text
//! cargo run --example tasks_and_coroutines
//! ```

mod pymotw;

use pymotw::seconds;
use std::time::{SystemTime, UNIX_EPOCH};
use weft::{DoneCallback, Handle, Promise, Runtime};

/// Runs the seven programs (the test of the examples calls it too).
pub(crate) fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== Example: Hello World coroutine");
    weft::run(hello_world());

    println!("\n== Example: Coroutine displaying the current date");
    weft::run(display_date());

    println!("\n== Example: Display the current date with call_later()");
    display_date_call_later()?;

    println!("\n== Example: Chain coroutines");
    chain_coroutines()?;

    println!("\n== Example: Future with run_until_complete()");
    future_run_until_complete()?;

    println!("\n== Example: Future with run_forever()");
    future_run_forever()?;

    println!("\n== Example: Parallel execution of tasks");
    parallel_factorials()?;
    Ok(())
}

async fn hello_world() {
    println!("Hello World!");
}

/// `str(datetime.datetime.now())`, `2018-06-12 15:32:01.123456`, in UTC (the
/// microseconds left out when they are zero, as Python's `str` does).
fn now() -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since_epoch.as_secs();
    let (days, day_secs) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let micros = match since_epoch.subsec_micros() {
        0 => String::new(),
        us => format!(".{us:06}"),
    };
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}{micros}",
        day_secs / 3600,
        day_secs / 60 % 60,
        day_secs % 60,
    )
}

/// Prints the date every second until 5 seconds have passed.
async fn display_date() {
    let end_time = weft::loop_time() + seconds(5.0);
    loop {
        println!("{}", now());
        if weft::loop_time() + seconds(1.0) >= end_time {
            break;
        }
        weft::sleep(seconds(1.0)).await;
    }
}

/// The callback of the `call_later` variant: prints the date, then re-arms
/// itself a second later, or stops the loop.
fn display_date_callback(end_time: std::time::Instant, handle: Handle) {
    println!("{}", now());
    if weft::loop_time() + seconds(1.0) < end_time {
        weft::call_later(seconds(1.0), move || {
            display_date_callback(end_time, handle)
        });
    } else {
        handle.stop();
    }
}

fn display_date_call_later() -> std::io::Result<()> {
    let rt = Runtime::new()?;
    let end_time = weft::loop_time() + seconds(5.0);
    // `loop.call_soon(display_date, end_time, loop)`: weft's `call_soon`
    // schedules on the loop it is called from, and this thread runs none yet,
    // so a task on the runtime makes the first call; the callback re-arms
    // itself with `call_later` on the loop it runs on.
    let handle = rt.handle().clone();
    rt.spawn(async move { display_date_callback(end_time, handle) })
        .detach();
    // Blocks until `stop()`.
    rt.run_forever();
    Ok(())
}

async fn compute(x: i32, y: i32) -> i32 {
    println!("Compute {x} + {y} ...");
    weft::sleep(seconds(1.0)).await;
    x + y
}

async fn print_sum(x: i32, y: i32) {
    let result = compute(x, y).await;
    println!("{x} + {y} = {result}");
}

fn chain_coroutines() -> std::io::Result<()> {
    let rt = Runtime::new()?;
    rt.block_on(print_sum(1, 2));
    Ok(())
}

async fn slow_operation(future: Promise<&'static str>) {
    weft::sleep(seconds(1.0)).await;
    future.set_result("Future is done!").unwrap();
}

fn future_run_until_complete() -> Result<(), Box<dyn std::error::Error>> {
    let rt = Runtime::new()?;
    let future = Promise::new();
    // `asyncio.ensure_future(slow_operation(future))` before the loop runs:
    // the task waits for it. weft's runtime runs it from now on.
    rt.spawn(slow_operation(future.clone())).detach();
    rt.block_on(future.wait())?;
    println!("{}", future.result()??);
    Ok(())
}

fn future_run_forever() -> std::io::Result<()> {
    let rt = Runtime::new()?;
    let future = Promise::new();
    rt.spawn(slow_operation(future.clone())).detach();
    let handle = rt.handle().clone();
    // def got_result(future): print(future.result()); loop.stop()
    future.add_done_callback(DoneCallback::once(move |future: &Promise<&str>| {
        match future.result() {
            Ok(Ok(result)) => println!("{result}"),
            other => println!("no result: {other:?}"),
        }
        handle.stop();
    }));
    rt.run_forever();
    Ok(())
}

async fn factorial(name: &'static str, number: u64) {
    let mut f = 1;
    for i in 2..=number {
        println!("Task {name}: Compute factorial({i})...");
        weft::sleep(seconds(1.0)).await;
        f *= i;
    }
    println!("Task {name}: factorial({number}) = {f}");
}

fn parallel_factorials() -> Result<(), Box<dyn std::error::Error>> {
    let rt = pymotw::one_thread()?;
    // `gather!` spawns its arguments (as asyncio's wraps coroutines in tasks),
    // in order, on the one worker.
    rt.block_on(async {
        weft::gather!(factorial("A", 2), factorial("B", 3), factorial("C", 4)).await
    })?;
    Ok(())
}
