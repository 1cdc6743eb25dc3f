//! Seeing inside a running program: `tracing` spans per task, a task dump
//! and the runtime's metrics, together.
//!
//! ```sh
//! cargo run --example observe
//! RUST_LOG=info,weft::task=trace,weft::runtime=trace cargo run --example observe
//! ```
//!
//! The second adds the runtime's own events (spawns, task ends, parks,
//! steals). The program installs `tracing-subscriber`'s fmt subscriber with
//! an env filter that, unless `RUST_LOG` says otherwise, shows INFO events
//! and the task spans (level TRACE, target `weft::task`), then runs a small
//! service of named tasks:
//!
//! - `server` starts two `consumer-N` tasks on a queue, awaits a `producer`
//!   task that queues four jobs, then gathers two `fetch-KEY` tasks;
//! - each `fetch-KEY` awaits a `query-KEY` task, which waits for a promise
//!   (the "database") that the main thread settles only after the dump;
//! - the consumers handle the jobs, then wait on the empty queue until the
//!   server shuts it down.
//!
//! Every `tracing::info!` inside a task carries the task's span, so a line
//! names the task (`task.name`), its id (`task.id`) and its spawn site
//! (`loc.file`, `loc.line`, `loc.col`):
//!
//! ```text
//! 2026-12-06T11:38:47.152221Z  INFO weft-worker-0 task{task.id=6 loc.file="crates/weft/examples/observe.rs" loc.line=182 loc.col=16 task.name="query-users"}: observe: waiting for the database key="users"
//! ```
//!
//! (`task.name` comes last: the span is made at spawn, and the name is
//! recorded on it when the task names itself.) While the queries and the
//! consumers wait, the main thread (a plain thread, not a worker) prints
//! `Handle::dump()`: the await graph as a tree, from `server` through the
//! gather and each `fetch-KEY` down to the promise its query waits for, and
//! the consumers on the queue:
//!
//! ```text
//! == task dump
//! 7 tasks
//! └── (T) server #1 waiting at crates/weft/examples/observe.rs:109 age 4ms polls 2 worker 0
//!     └── gather
//!         ├── (T) fetch-users #5 waiting at crates/weft/examples/observe.rs:147 age 4ms polls 1 worker 0
//!         │   └── (T) query-users #6 waiting at crates/weft/examples/observe.rs:182 age 4ms polls 1 worker 0
//!         │       └── promise
//!         └── (T) fetch-orders #7 waiting at crates/weft/examples/observe.rs:147 age 4ms polls 1 worker 0
//!             └── (T) query-orders #8 waiting at crates/weft/examples/observe.rs:182 age 4ms polls 1 worker 0
//!                 └── promise
//! └── (T) consumer-0 #2 waiting at crates/weft/examples/observe.rs:141 age 4ms polls 2 worker 0
//!     └── queue get
//! └── (T) consumer-1 #3 waiting at crates/weft/examples/observe.rs:141 age 4ms polls 2 worker 0
//!     └── queue get
//! ```
//!
//! Then it settles the promise, waits for `server`, and prints the
//! `RuntimeMetrics`: runtime-wide figures, each worker's, and the poll-time
//! histogram (kept because the runtime was built with
//! `Builder::enable_poll_time_histogram`). Every task has ended by then.
//!
//! ```text
//! == runtime metrics
//! live tasks 0, spawned 8, injection queue 0, timers fired 0, io events 0
//! worker 0: polls 18, busy 775.11µs, stole 7 in 7 steals, stolen from 0, parks 10, local queue 0
//! worker 1: polls 2, busy 1.110295ms, stole 0 in 0 steals, stolen from 7, parks 3, local queue 0
//! poll times, 20 polls:
//!   2.048µs to 4.096µs: 1
//!   4.096µs to 8.192µs: 2
//!   8.192µs to 16.384µs: 5
//!   ...
//! ```
//!
//! Python's asyncio offers the same views as `asyncio.print_call_graph()` /
//! `python -m asyncio pstree PID` (the dump) and debug-mode logging; see
//! docs/asyncio.md.

use std::time::{Duration, Instant};
use tracing_subscriber::EnvFilter;
use weft::queue::Queue;
use weft::{PollTimeHistogram, Promise, RuntimeMetrics, TaskDump, TaskState};

/// The filter when `RUST_LOG` is unset: INFO events, and the task spans
/// (TRACE, target `weft::task`) that the events inside tasks carry.
const DEFAULT_FILTER: &str = "info,weft::task=trace";

/// Jobs the producer queues.
const JOBS: u32 = 4;

/// The keys the server fetches, one `fetch-KEY` and `query-KEY` task each.
const KEYS: [&str; 2] = ["users", "orders"];

/// Live tasks while the queries wait: server, two consumers, and a fetch
/// and a query per key (the producer has ended).
const PARKED_TASKS: usize = 3 + 2 * KEYS.len();

pub(crate) fn main() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_thread_names(true)
        .init();

    let rt = weft::Builder::new()
        .workers(2)
        .thread_name("weft-worker")
        .enable_poll_time_histogram()
        .build()
        .expect("a runtime");
    let database = Promise::<()>::new();
    let server = rt.spawn(server(database.clone()));

    let dump = wait_until_parked(rt.handle(), Duration::from_secs(10));
    println!("== task dump");
    print!("{dump}");

    database.set_result(()).expect("settled only here");
    let fetched = rt.block_on(server).expect("server ends well");
    println!("== server fetched {fetched} bytes");

    println!("== runtime metrics");
    print_metrics(&rt.handle().metrics());
}

/// Names the task running this code: its span records the name, so every
/// line it logs from now on shows it. (Set from inside: a name set by the
/// spawner can come after the task's first lines, since a worker may run
/// the task at once.)
fn name_this_task(name: String) {
    weft::current_task()
        .expect("called inside a task")
        .set_name(name);
}

/// Starts the consumers, awaits the producer, gathers the fetches, then
/// shuts the queue down and awaits the consumers. Returns the bytes
/// fetched.
async fn server(database: Promise<()>) -> usize {
    name_this_task("server".to_string());
    tracing::info!("starting");
    let jobs = Queue::<u32>::new(0);
    let consumers: Vec<_> = (0..2)
        .map(|i| weft::spawn(consumer(i, jobs.clone())))
        .collect();
    weft::spawn(producer(jobs.clone()))
        .await
        .expect("producer ends well");

    let fetches = KEYS.map(|key| weft::spawn(fetch(key, database.clone())));
    let sizes = weft::gather(fetches).await.expect("fetches end well");
    tracing::info!(?sizes, "gathered");

    jobs.shutdown(false);
    let handled = weft::gather(consumers).await.expect("consumers end well");
    tracing::info!(?handled, "consumers done");
    sizes.iter().sum()
}

/// Handles jobs until the queue is shut down; returns how many it handled.
async fn consumer(i: u32, jobs: Queue<u32>) -> u32 {
    name_this_task(format!("consumer-{i}"));
    let mut handled = 0;
    while let Ok(job) = jobs.get().await {
        tracing::info!(job, "handled");
        handled += 1;
    }
    tracing::info!(handled, "queue shut down");
    handled
}

/// Queues the jobs.
async fn producer(jobs: Queue<u32>) {
    name_this_task("producer".to_string());
    for job in 1..=JOBS {
        jobs.put(job).await.expect("the queue is open");
    }
    tracing::info!(jobs = JOBS, "queued");
}

/// Awaits a query task for `key`; returns its size.
async fn fetch(key: &'static str, database: Promise<()>) -> usize {
    name_this_task(format!("fetch-{key}"));
    tracing::info!(key, "fetching");
    let size = weft::spawn(query(key, database))
        .await
        .expect("query ends well");
    tracing::info!(key, size, "fetched");
    size
}

/// Waits for the database, then answers.
async fn query(key: &'static str, database: Promise<()>) -> usize {
    name_this_task(format!("query-{key}"));
    tracing::info!(key, "waiting for the database");
    database.wait().await.expect("the database answers");
    100 * key.len()
}

/// Takes dumps until every live task is suspended on something (the
/// dump as data: states and await edges), and returns that dump.
fn wait_until_parked(handle: &weft::Handle, limit: Duration) -> TaskDump {
    let deadline = Instant::now() + limit;
    loop {
        let dump = handle.dump();
        let parked = dump
            .tasks
            .iter()
            .all(|t| t.state == TaskState::Waiting && t.awaiting.is_some());
        if parked && dump.tasks.len() == PARKED_TASKS {
            return dump;
        }
        assert!(
            Instant::now() < deadline,
            "tasks did not park in {limit:?}:\n{dump}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Prints the runtime-wide figures, each worker's, and the poll-time
/// histogram's non-empty buckets.
fn print_metrics(m: &RuntimeMetrics) {
    println!(
        "live tasks {}, spawned {}, injection queue {}, timers fired {}, io events {}",
        m.live_tasks,
        m.spawned,
        m.injection_queue_depth,
        m.timer_fire_count,
        m.io_driver_ready_count
    );
    for (i, w) in m.per_worker.iter().enumerate() {
        println!(
            "worker {i}: polls {}, busy {:?}, stole {} in {} steals, stolen from {}, parks {}, local queue {}",
            w.poll_count,
            w.total_busy_duration,
            w.steal_count,
            w.steal_operations,
            w.stolen_count,
            w.park_count,
            w.local_queue_depth
        );
    }
    let h = &m.poll_time_histogram;
    println!("poll times, {} polls:", h.total());
    for (i, &count) in h.buckets().iter().enumerate() {
        let Some(range) = PollTimeHistogram::bucket_range(i) else {
            break;
        };
        if count == 0 {
            continue;
        }
        if range.end == Duration::MAX {
            println!("  {:?} or more: {count}", range.start);
        } else {
            println!("  {:?} to {:?}: {count}", range.start, range.end);
        }
    }
}
