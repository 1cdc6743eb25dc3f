//! The host's cost of moving one cache line between two CPUs and back: two
//! threads, pinned to CPUs `A` and `B` (default 0 and 1), pass a counter
//! through one atomic word, each spinning until the other has written it;
//! every round prints the mean nanoseconds per round trip (two transfers of
//! the line), and the last line their median.
//!
//! ```sh
//! cargo build --release -p weft-benches --example core_to_core
//! target/release/examples/core_to_core            # 5 rounds, CPUs 0 and 1
//! target/release/examples/core_to_core 20 0 1
//! ```
//!
//! Why it is here: on the shared 2-vCPU machine the probe reads about
//! 60-110 ns a round trip usually and 380-510 ns in spells of seconds, and
//! in those spells the rows whose tasks hand work between the two workers
//! slow down, weft's by 2.6-3.4x and tokio's by 1.4-1.9x in the ones
//! measured (docs/benchmarks.md, issue 14 "Against the bar"). Run it
//! before and after a measurement (`benches/gated.py` does, around every
//! bench function); a run during which it reads several times its usual
//! figure measured the host, not the code.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Round trips per round: about 13-100 ms a round.
const TRIPS: u64 = 200_000;

/// The word the two threads pass, alone on its cache line (and the next:
/// adjacent-line prefetch).
#[repr(align(128))]
struct Line(AtomicU64);

/// Pins the calling thread to `cpu`; false if the OS refused or there is
/// no such CPU.
fn pin(cpu: usize) -> bool {
    if cpu >= libc::CPU_SETSIZE as usize {
        return false;
    }
    // SAFETY: `set` is a plain bit set owned by this frame; zeroed is its
    // empty value, CPU_SET writes inside it (`cpu` is below CPU_SETSIZE,
    // its size in bits), and sched_setaffinity only reads `size_of` bytes
    // of it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// Pins the calling thread to `cpu`, or ends the program: unpinned, both
/// spinning threads may share one CPU and every round trip waits for a
/// thread switch.
fn pin_or_exit(cpu: usize) {
    if !pin(cpu) {
        eprintln!("core_to_core: cannot pin a thread to CPU {cpu}");
        std::process::exit(2);
    }
}

/// One round: mean ns per round trip.
///
/// Every access is Relaxed: a round trip is the one word's own coherence
/// (each side waits until it reads the value the other wrote), and nothing
/// else is published through it.
fn round(a: usize, b: usize) -> f64 {
    let line = Line(AtomicU64::new(0));
    let word = &line.0;
    std::thread::scope(|s| {
        s.spawn(|| {
            pin_or_exit(b);
            for i in 0..TRIPS {
                while word.load(Ordering::Relaxed) != 2 * i + 1 {
                    std::hint::spin_loop();
                }
                word.store(2 * i + 2, Ordering::Relaxed);
            }
        });
        pin_or_exit(a);
        let start = Instant::now();
        for i in 0..TRIPS {
            word.store(2 * i + 1, Ordering::Relaxed);
            while word.load(Ordering::Relaxed) != 2 * i + 2 {
                std::hint::spin_loop();
            }
        }
        start.elapsed().as_secs_f64() * 1e9 / TRIPS as f64
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut number = |default: usize| {
        args.next()
            .map_or(default, |s| s.parse().expect("a number"))
    };
    let rounds = number(5).max(1);
    let (a, b) = (number(0), number(1));
    if a == b {
        eprintln!("core_to_core: two different CPUs, please (both are {a})");
        std::process::exit(2);
    }
    let mut each: Vec<f64> = (0..rounds)
        .map(|_| {
            let ns = round(a, b);
            println!("{ns:.0} ns per round trip");
            ns
        })
        .collect();
    each.sort_by(f64::total_cmp);
    println!("median {:.0} ns (CPUs {a} and {b})", each[each.len() / 2]);
}
