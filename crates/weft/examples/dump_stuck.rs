//! A deliberately stuck chain of tasks and its dump: `main` awaits
//! `handler`, which awaits `query`, which awaits a promise nobody settles.
//! The dump shows the chain from the outermost awaiter down to the promise,
//! which is where to look.
//!
//! ```sh
//! cargo run --example dump_stuck
//! ```
//!
//! Prints something like:
//!
//! ```text
//! 3 tasks
//! └── (T) main #3 waiting at crates/weft/examples/dump_stuck.rs:36 age 52ms polls 1 worker 0
//!     └── (T) handler #2 waiting at crates/weft/examples/dump_stuck.rs:34 age 52ms polls 1 worker 0
//!         └── (T) query #1 waiting at crates/weft/examples/dump_stuck.rs:28 age 52ms polls 1 worker 0
//!             └── promise
//! ```
//!
//! `TaskRef::awaiting` answers the same question for one task, and
//! `weft::Builder::dump_on_signal` prints this on `kill -USR1 <pid>`.

use std::time::Duration;

fn main() {
    let rt = weft::Builder::new().workers(2).build().expect("a runtime");
    let never = weft::Promise::<u32>::new();
    let query = rt.spawn({
        let never = never.clone();
        async move { never.wait().await }
    });
    query.set_name("query");
    let query_id = query.id();
    let handler = rt.spawn(query);
    handler.set_name("handler");
    let main_task = rt.spawn(handler);
    main_task.set_name("main");
    std::thread::sleep(Duration::from_millis(50));

    print!("{}", rt.handle().dump());
    println!("main awaits: {:?}", main_task.awaiting());
    let dump = rt.handle().dump();
    let query = dump.get(query_id).expect("query is live");
    println!("query awaits: {:?}", query.awaiting);

    // Unstick it: cancelling `main` cancels the chain down to the promise.
    main_task.cancel();
    let ended = rt.block_on(main_task);
    println!("main ended: {ended:?}");
}
