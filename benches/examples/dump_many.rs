//! How long a task dump of many live tasks takes, and what it costs the
//! workers meanwhile (issue 17, section 1):
//!
//! ```sh
//! cargo build --release -p weft-benches --example dump_many
//! target/release/examples/dump_many 100000 2 6
//! ```
//!
//! Arguments: `N` live tasks (default 100 000), each parked on one promise
//! (so each has an await edge to read), the number of workers (default 2),
//! and the number of rounds (default 6). One busy task per worker yields in
//! a loop and counts its polls.
//!
//! Each round has two windows of half a second: one with no dump, one while
//! a plain thread takes dumps back to back; the rounds alternate which comes
//! first, so a machine whose load drifts weighs on both alike. The program
//! prints each round's polls per second without and with dumps and their
//! ratio, the same per second of CPU time the workers got (the process's
//! CPU time less the dumping thread's: a drop there is the dump slowing
//! each poll, not taking the workers' CPU), the median ratios, and the
//! dumps' wall time and CPU time (the dumping thread's own, which other
//! processes on a busy machine do not inflate). On a machine with fewer cores than workers + 1, the dumping
//! thread takes CPU time from the workers: run it with fewer workers than
//! cores to see what the dump itself costs them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft_benches::{process_cpu_time, thread_cpu_time};

/// One window of a round.
const WINDOW: Duration = Duration::from_millis(500);

/// What one window measured of the busy tasks: their polls per second of
/// wall time, and per second of CPU time the workers got.
#[derive(Clone, Copy)]
struct Throughput {
    per_s: f64,
    per_cpu_s: f64,
}

/// The middle value (the upper one of an even count).
fn median<T: Copy + PartialOrd>(values: &mut [T]) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    values[values.len() / 2]
}

/// The busy tasks' throughput over a window with no dump (the workers are
/// the only threads of the process using CPU time).
fn quiet_window(polls: &AtomicU64) -> Throughput {
    let (start, cpu, before) = (
        Instant::now(),
        process_cpu_time(),
        polls.load(Ordering::Relaxed),
    );
    std::thread::sleep(WINDOW);
    let done = (polls.load(Ordering::Relaxed) - before) as f64;
    Throughput {
        per_s: done / start.elapsed().as_secs_f64(),
        per_cpu_s: done / (process_cpu_time() - cpu).as_secs_f64(),
    }
}

/// What a window of back-to-back dumps measured.
struct Dumping {
    busy: Throughput,
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
    listed: usize,
}

/// The busy tasks' throughput over a window while this thread takes dumps
/// back to back (the workers' CPU time is the process's less this
/// thread's), and each dump's wall and CPU time.
fn dumping_window(handle: &weft::Handle, polls: &AtomicU64, n: usize) -> Dumping {
    let (start, cpu, mine, before) = (
        Instant::now(),
        process_cpu_time(),
        thread_cpu_time(),
        polls.load(Ordering::Relaxed),
    );
    let mut out = Dumping {
        busy: Throughput {
            per_s: 0.0,
            per_cpu_s: 0.0,
        },
        wall: Vec::new(),
        cpu: Vec::new(),
        listed: 0,
    };
    while start.elapsed() < WINDOW {
        let (t, c) = (Instant::now(), thread_cpu_time());
        let dump = handle.dump();
        out.wall.push(t.elapsed());
        out.cpu.push(thread_cpu_time() - c);
        out.listed = dump.tasks.len();
        assert!(dump.tasks.iter().filter(|t| t.awaiting.is_some()).count() >= n);
    }
    let done = (polls.load(Ordering::Relaxed) - before) as f64;
    let workers_cpu = (process_cpu_time() - cpu).saturating_sub(thread_cpu_time() - mine);
    out.busy = Throughput {
        per_s: done / start.elapsed().as_secs_f64(),
        per_cpu_s: done / workers_cpu.as_secs_f64(),
    };
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(100_000, |s| s.parse().expect("N"));
    let workers: usize = args.next().map_or(2, |s| s.parse().expect("workers"));
    let rounds: usize = args.next().map_or(6, |s| s.parse().expect("rounds"));
    let rt = weft::Builder::new()
        .workers(workers)
        .build()
        .expect("runtime");
    let gate = weft::Promise::<()>::new();
    let parked: Vec<_> = (0..n)
        .map(|_| {
            let gate = gate.clone();
            rt.spawn(async move { gate.wait().await.expect("settled") })
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let polls = Arc::new(AtomicU64::new(0));
    let busy: Vec<_> = (0..workers)
        .map(|_| {
            let (stop, polls) = (stop.clone(), polls.clone());
            rt.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    polls.fetch_add(1, Ordering::Relaxed);
                    weft::yield_now().await;
                }
            })
        })
        .collect();
    // Every parked task has had its first poll (its edge is recorded).
    while parked.iter().any(|t| t.awaiting().is_none()) {
        std::thread::sleep(Duration::from_millis(10));
    }

    let handle = rt.handle().clone();
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    let (mut ratios, mut cpu_ratios) = (Vec::new(), Vec::new());
    let mut listed = 0;
    println!(
        "round: busy tasks' polls per second without dumps, while dumping, ratio; \
         the same per second of the workers' CPU time"
    );
    for round in 0..rounds {
        let (quiet, dumping) = if round % 2 == 0 {
            let quiet = quiet_window(&polls);
            (quiet, dumping_window(&handle, &polls, n))
        } else {
            let dumping = dumping_window(&handle, &polls, n);
            (quiet_window(&polls), dumping)
        };
        let ratio = dumping.busy.per_s / quiet.per_s;
        let cpu_ratio = dumping.busy.per_cpu_s / quiet.per_cpu_s;
        println!(
            "{round}: {:.0}, {:.0}, {:.1}%; {:.0}, {:.0}, {:.1}% ({} dumps)",
            quiet.per_s,
            dumping.busy.per_s,
            100.0 * ratio,
            quiet.per_cpu_s,
            dumping.busy.per_cpu_s,
            100.0 * cpu_ratio,
            dumping.wall.len()
        );
        ratios.push(ratio);
        cpu_ratios.push(cpu_ratio);
        wall.extend(dumping.wall);
        cpu.extend(dumping.cpu);
        listed = dumping.listed;
    }
    println!("{n} parked tasks, {workers} workers, {listed} tasks listed per dump");
    let longest = *wall.iter().max().expect("a dump");
    let mean = |v: &[Duration]| v.iter().sum::<Duration>() / v.len() as u32;
    println!(
        "dump wall time: {} dumps, median {:.2?}, mean {:.2?}, longest {longest:.2?}",
        wall.len(),
        median(&mut wall.clone()),
        mean(&wall)
    );
    println!(
        "dump CPU time (the dumping thread's): median {:.2?}, mean {:.2?}",
        median(&mut cpu.clone()),
        mean(&cpu)
    );
    println!(
        "median ratio of the busy tasks' polls while dumping to without: {:.1}% per second, \
         {:.1}% per second of the workers' CPU time",
        100.0 * median(&mut ratios),
        100.0 * median(&mut cpu_ratios)
    );

    stop.store(true, Ordering::Relaxed);
    gate.set_result(()).expect("not settled yet");
    for t in busy {
        rt.block_on(t).expect("busy task");
    }
    for t in parked {
        rt.block_on(t).expect("parked task");
    }
}
