//! I/O and timer benchmarks: weft vs tokio (multi-thread) vs async-executor
//! with async-io, in one run, with the same worker count
//! (`WEFT_BENCH_WORKERS`, default `available_parallelism`).
//!
//! * `tcp_echo`: an echo server and 50 client connections over loopback
//!   (TCP_NODELAY on both ends); one iteration is 50 client tasks, each doing
//!   1 000 sequential round trips of 64 bytes (write 64, read exactly 64,
//!   compare), i.e. 50 000 round trips. The listener, the server's
//!   per-connection tasks and the 50 connections are set up once per runtime,
//!   outside the timed loop, and reused by every iteration, so an iteration
//!   measures round trips only (no connect/accept, no TIME_WAIT build-up).
//!   The server task reads up to 4 KiB per call and writes it all back.
//! * `unix_echo`: `tcp_echo` over Unix domain stream sockets (weft's
//!   `weft::net::UnixStream` against `tokio::net::UnixStream`): the same
//!   connections, round trips, message size and server, the listener bound
//!   to a socket file in a directory of its own under the system's temp
//!   directory, removed with its files when the bench ends.
//! * `timer_storm`: from inside a task, spawn 100 000 tasks, task `i` sleeping
//!   `delays()[i]` (uniform in 0..=20 ms at microsecond resolution, the same
//!   deterministic sequence for every runtime), and await them all.
//!
//! The runtime adapters (`Rt`) are shared with `runtime.rs` (see
//! `benches/src/lib.rs`); the timer operations (`IoRt`), the transports
//! (`Net`: TCP and Unix sockets per runtime), the echo workload and the timer
//! storm are in `benches/src/io.rs`, shared with `examples/echo.rs` and
//! `examples/timer_storm.rs`. async-executor's runner
//! threads sit in `async_io::block_on`, so an idle runner drives async-io's
//! reactor, as `smol` does (weft and tokio likewise turn their reactor on a
//! parked worker).
//!
//! Each runtime is built (and, for the echo, connected) the first time its
//! bench runs, checked with one untimed iteration, and dropped before the
//! next runtime is built; a bench a filter leaves out builds nothing.
//!
//! Bench ids are `<bench>/<runtime>`, as in `runtime.rs`, so
//! `benches/table.py` prints them too.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use weft_benches::io::{
    echo_iter, echo_setup, timer_delays, timer_storm_iter, IoRt, Net, SocketDir, Tcp, Unix, CONNS,
    MAX_DELAY_US, ROUND_TRIPS, TIMERS,
};
use weft_benches::{workers, AsyncExecutor, Rt, Tokio, Weft};

// ---------------------------------------------------------------------------
// Echo (TCP and Unix sockets)
// ---------------------------------------------------------------------------

/// Benchmarks the echo over transport `N` as `group`'s function
/// `<N::Rt>::NAME`, its server bound at `addr`.
fn bench_echo<N: Net>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    addr: N::Addr,
) {
    // Built on the first call of the routine, so a bench left out by a
    // filter costs nothing; criterion calls the routine once per warm-up and
    // sample batch, all of which reuse this runtime and these connections.
    let mut state: Option<(N::Rt, Vec<N::Stream>)> = None;
    group.bench_function(<N::Rt as Rt>::NAME, |b| {
        let (rt, conns) = state.get_or_insert_with(|| {
            let rt = N::Rt::build_io(workers());
            let mut conns = echo_setup::<N>(&rt, addr.clone());
            // Sanity run before timing: a broken runtime fails here, not
            // mid-sample.
            echo_iter(&rt, &mut conns);
            (rt, conns)
        });
        // `b.iter`, not `to_async`: each iteration moves the connections
        // into its task and takes them back (`*conns = ...`), which a
        // `to_async` routine (an `FnMut` whose future cannot keep a mutable
        // borrow of its captures) could only do through a lock taken per
        // iteration, a change to the measured work.
        b.iter(|| echo_iter(rt, conns))
    });
    if let Some((rt, conns)) = state {
        // Closing the clients ends the server tasks (end of stream); then the
        // runtime goes, before the next one is built.
        drop(conns);
        drop(rt);
    }
}

fn tcp_echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("tcp_echo");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements((CONNS * ROUND_TRIPS) as u64));
    let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    bench_echo::<Tcp<Weft>>(&mut group, any_port);
    bench_echo::<Tcp<Tokio>>(&mut group, any_port);
    bench_echo::<Tcp<AsyncExecutor>>(&mut group, any_port);
    group.finish();
}

fn unix_echo(c: &mut Criterion) {
    let dir = SocketDir::create();
    let mut group = c.benchmark_group("unix_echo");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements((CONNS * ROUND_TRIPS) as u64));
    // A socket file per runtime: binding where one exists fails (as it
    // should), and each listener's file outlives its listener.
    bench_echo::<Unix<Weft>>(&mut group, dir.0.join("weft.sock"));
    bench_echo::<Unix<Tokio>>(&mut group, dir.0.join("tokio.sock"));
    group.finish();
    drop(dir);
}

// ---------------------------------------------------------------------------
// Timer storm
// ---------------------------------------------------------------------------

/// The storm's delays ([`timer_delays`]): the same for every runtime and run.
fn delays() -> Arc<[Duration]> {
    timer_delays(TIMERS).into()
}

fn bench_timers<R: IoRt>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    delays: &Arc<[Duration]>,
) {
    // Built lazily, as in `bench_echo`.
    let mut rt: Option<R> = None;
    group.bench_function(R::NAME, |b| {
        let rt = rt.get_or_insert_with(|| {
            let rt = R::build_io(workers());
            rt.block_on(timer_storm_iter(&rt, delays));
            rt
        });
        // criterion's `to_async` on the runtime's own `block_on` (weft's
        // through the facade feature `criterion`), entered once per sample.
        rt.iter_async(b, || timer_storm_iter(rt, delays))
    });
    drop(rt);
}

fn timer_storm(c: &mut Criterion) {
    let delays = delays();
    assert_eq!(
        delays.iter().max(),
        Some(&Duration::from_micros(MAX_DELAY_US)),
        "the sequence reaches the longest delay"
    );
    let mut group = c.benchmark_group("timer_storm");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(TIMERS as u64));
    bench_timers::<Weft>(&mut group, &delays);
    bench_timers::<Tokio>(&mut group, &delays);
    bench_timers::<AsyncExecutor>(&mut group, &delays);
    group.finish();
}

// ---------------------------------------------------------------------------
// Criterion wiring
// ---------------------------------------------------------------------------

fn config() -> Criterion {
    eprintln!(
        "weft-benches io: {} worker thread(s) per runtime",
        workers()
    );
    // Iterations take tens to hundreds of milliseconds: few samples, set
    // here (not per group) so command-line flags still override them.
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
}

criterion_group! {
    name = io;
    config = config();
    targets = tcp_echo, unix_echo, timer_storm
}
criterion_main!(io);
