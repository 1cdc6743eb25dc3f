//! Living beside tokio (docs/ecosystem.md): what a loopback round trip costs
//! from a weft task through a tokio `TcpStream` under `async_compat::Compat`,
//! against weft's own `TcpStream`, both talking to the same weft echo server.
//!
//! * `compat_round_trip/weft`: a weft task, weft's `TcpStream`.
//! * `compat_round_trip/tokio_under_compat`: a weft task, a
//!   `tokio::net::TcpStream` in `Compat::new(..)` (which gives it the
//!   futures-io traits and enters tokio's context at each poll), running
//!   the same round-trip code. Its readiness comes from async-compat's own
//!   tokio runtime, a current-thread runtime on one extra thread
//!   ("async-compat/tokio-1") that turns tokio's reactor, so every wake-up
//!   crosses from that thread into weft.
//!
//! One iteration spawns one weft task that makes `ROUNDS` round trips of
//! `MSG` bytes on a connection kept across iterations; throughput is per
//! round trip. The bench thread drives the iterations with criterion's
//! `to_async(&runtime)` (facade feature `criterion`). After the tokio arm
//! the CPU time of async-compat's thread is printed (Linux: from
//! `/proc/self/task`), the cost the extra thread adds.

use async_compat::Compat;
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use futures_util::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use weft::net::{TcpListener, TcpStream};
use weft::sync::Mutex;
use weft_benches::workers;

/// Round trips per iteration.
const ROUNDS: usize = 100;
/// Bytes per message.
const MSG: usize = 64;

/// Starts a weft echo server on loopback: one task per connection, echoing
/// until end of stream. Returns its address.
fn echo_server(rt: &weft::Runtime) -> SocketAddr {
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("local addr");
        weft::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                stream.set_nodelay(true).expect("server nodelay");
                weft::spawn(async move {
                    let mut buf = [0u8; MSG];
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if stream.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                })
                .detach();
            }
        })
        .detach();
        addr
    })
}

/// `ROUNDS` round trips on `stream`: the same code for both arms, on the
/// futures-io traits (weft's stream has them; async-compat gives them to
/// tokio's, entering tokio's context at each poll).
async fn rounds<S: AsyncRead + AsyncWrite + Unpin>(stream: Arc<Mutex<S>>) {
    let mut stream = stream.lock().await;
    let msg = [7u8; MSG];
    let mut back = [0u8; MSG];
    for _ in 0..ROUNDS {
        stream.write_all(&msg).await.expect("write");
        stream.read_exact(&mut back).await.expect("read");
        assert_eq!(back, msg);
    }
}

/// CPU time (user + system) of this process's threads named `name`
/// (kernel-truncated to 15 bytes), in clock ticks; `None` off Linux.
fn thread_cpu_ticks(name: &str) -> Option<u64> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    let mut total = 0;
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
        // Fields after the parenthesised name: state is 3rd, utime 14th, stime 15th.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        total += fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    }
    Some(total)
}

fn compat_round_trip(c: &mut Criterion) {
    let rt = weft::Builder::new()
        .workers(workers())
        .thread_name("weft-bench")
        .build()
        .expect("build weft runtime");
    let addr = echo_server(&rt);

    let mut group = c.benchmark_group("compat_round_trip");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(ROUNDS as u64));

    let weft_stream = rt.block_on(async {
        let s = TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).expect("nodelay");
        Arc::new(Mutex::new(s))
    });
    group.bench_function("weft", |b| {
        b.to_async(&rt).iter(|| {
            let s = weft_stream.clone();
            async move { weft::spawn(rounds(s)).await.expect("weft task") }
        })
    });
    drop(weft_stream);

    let tokio_stream = rt.block_on(Compat::new(async {
        let s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).expect("nodelay");
        Arc::new(Mutex::new(Compat::new(s)))
    }));
    let before = thread_cpu_ticks("async-compat/to");
    let iterations = AtomicUsize::new(0);
    group.bench_function("tokio_under_compat", |b| {
        b.to_async(&rt).iter(|| {
            let s = tokio_stream.clone();
            iterations.fetch_add(1, Ordering::Relaxed);
            async move { weft::spawn(rounds(s)).await.expect("compat task") }
        })
    });
    if let (Some(before), Some(after)) = (before, thread_cpu_ticks("async-compat/to")) {
        let rounds = iterations.load(Ordering::Relaxed) * ROUNDS;
        // Clock ticks are 10 ms on Linux (USER_HZ = 100).
        let micros = (after - before) as f64 * 10_000.0;
        eprintln!(
            "async-compat's tokio thread: {:.0} ms of CPU over {rounds} round trips \
             ({:.2} us per round trip)",
            micros / 1000.0,
            micros / rounds.max(1) as f64
        );
    }
    // `Compat` drops the tokio stream inside tokio's context.
    drop(tokio_stream);
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = ecosystem;
    config = config();
    targets = compat_round_trip
}
criterion_main!(ecosystem);
