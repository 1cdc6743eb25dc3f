//! The two programs of the chapter "AsyncIO Task" (Python: From None to
//! Machine Learning, 15.6) with weft:
//!
//! 1. Example (15.6.2): `main` creates a task for `work()`, awaits it and
//!    prints its result.
//! 2. Example (15.6.3): three tasks sleep 1, 0.5 and 1.5 s; all three start
//!    before any finishes, and they finish in order of their sleeps.
//!
//! ```python
//! async def work():
//!     return 'done'
//!
//! async def main():
//!     task = asyncio.create_task(work())
//!     result = await task
//!     print(result)
//!
//! asyncio.run(main())
//! ```
//!
//! ```python
//! async def a():
//!     print('a: started')
//!     await asyncio.sleep(1)
//!     print('a: finished')
//!     return 'a'
//! # b(): the same with 0.5 s, c(): with 1.5 s
//!
//! async def main():
//!     t1 = asyncio.create_task(a())
//!     t2 = asyncio.create_task(b())
//!     t3 = asyncio.create_task(c())
//!     await t1
//!     await t2
//!     await t3
//!
//! asyncio.run(main())
//! ```
//!
//! Python output:
//!
//! ```text
//! done
//! ```
//!
//! ```text
//! a: started
//! b: started
//! c: started
//! b: finished
//! a: finished
//! c: finished
//! ```
//!
//! `asyncio.run(main())` is [`weft::run`]; `asyncio.create_task` is
//! [`weft::spawn_local`] here: the tasks run on the loop that drives `main`, and
//! start when `main` first awaits, in the order they were created, as in
//! asyncio. tests/tests/seeds_examples.rs runs this program and compares its
//! output with the Python one.
//!
//! ```text
//! cargo run --example asyncio_task
//! ```

mod pymotw;

use pymotw::seconds;
use weft::TaskError;

/// Runs the two programs (the test of the examples calls it too).
pub(crate) fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== Example (15.6.2): create a task, await it");
    weft::run(work_main())?;

    println!("\n== Example (15.6.3): three tasks, three sleeps");
    weft::run(abc_main())?;
    Ok(())
}

async fn work() -> &'static str {
    "done"
}

async fn work_main() -> Result<(), TaskError> {
    let task = weft::spawn_local(work());
    let result = task.await?;
    println!("{result}");
    Ok(())
}

/// `a()`, `b()` and `c()`: the same body with their own name and sleep.
async fn sleeper(name: &'static str, secs: f64) -> &'static str {
    println!("{name}: started");
    weft::sleep(seconds(secs)).await;
    println!("{name}: finished");
    name
}

async fn a() -> &'static str {
    sleeper("a", 1.0).await
}

async fn b() -> &'static str {
    sleeper("b", 0.5).await
}

async fn c() -> &'static str {
    sleeper("c", 1.5).await
}

async fn abc_main() -> Result<(), TaskError> {
    let t1 = weft::spawn_local(a());
    let t2 = weft::spawn_local(b());
    let t3 = weft::spawn_local(c());
    t1.await?;
    t2.await?;
    t3.await?;
    Ok(())
}
