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
//! `benches/src/lib.rs`); this file adds the timer operations ([`IoRt`]),
//! the transports ([`Net`]: TCP and Unix sockets per runtime) and their
//! streams' reads and writes ([`EchoStream`]). async-executor's runner
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

use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use weft_benches::{run_in_task, workers, AsyncExecutor, Rt, Tokio, Weft};

// ---------------------------------------------------------------------------
// Network and timer operations per runtime
// ---------------------------------------------------------------------------

/// What the I/O workloads need beyond [`Rt`], besides a transport ([`Net`]).
trait IoRt: Rt {
    /// The runtime as the I/O benches run it.
    fn build_io(workers: usize) -> Self {
        Self::build(workers)
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send;
}

impl IoRt for Weft {
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        weft::sleep(d)
    }
}

impl IoRt for Tokio {
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(d)
    }
}

impl IoRt for AsyncExecutor {
    fn build_io(workers: usize) -> Self {
        AsyncExecutor::build_driving_io(workers)
    }

    async fn sleep(d: Duration) {
        async_io::Timer::after(d).await;
    }
}

/// A connected byte stream, as the echo uses it. Called from tasks running
/// on the stream's runtime.
trait EchoStream: Send + 'static {
    /// Reads what is there, up to `buf.len()` bytes (0: end of stream).
    fn read<'a>(
        &'a mut self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;
    fn read_exact<'a>(
        &'a mut self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
    fn write_all<'a>(
        &'a mut self,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
}

/// [`EchoStream`] for futures-io streams, through the extension traits of
/// the crate `$ext` (`futures_util` or `futures_lite`).
macro_rules! futures_io_echo_stream {
    ($ext:ident: $($ty:ty),+ $(,)?) => {$(
        impl EchoStream for $ty {
            fn read<'a>(
                &'a mut self,
                buf: &'a mut [u8],
            ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
                $ext::AsyncReadExt::read(self, buf)
            }

            fn read_exact<'a>(
                &'a mut self,
                buf: &'a mut [u8],
            ) -> impl Future<Output = io::Result<()>> + Send + 'a {
                $ext::AsyncReadExt::read_exact(self, buf)
            }

            fn write_all<'a>(
                &'a mut self,
                buf: &'a [u8],
            ) -> impl Future<Output = io::Result<()>> + Send + 'a {
                $ext::AsyncWriteExt::write_all(self, buf)
            }
        }
    )+};
}

futures_io_echo_stream!(futures_util: weft::net::TcpStream, weft::net::UnixStream);
futures_io_echo_stream!(futures_lite: async_io::Async<std::net::TcpStream>);

/// [`EchoStream`] for tokio's streams.
macro_rules! tokio_echo_stream {
    ($($ty:ty),+ $(,)?) => {$(
        impl EchoStream for $ty {
            fn read<'a>(
                &'a mut self,
                buf: &'a mut [u8],
            ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
                tokio::io::AsyncReadExt::read(self, buf)
            }

            async fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
                tokio::io::AsyncReadExt::read_exact(self, buf)
                    .await
                    .map(drop)
            }

            fn write_all<'a>(
                &'a mut self,
                buf: &'a [u8],
            ) -> impl Future<Output = io::Result<()>> + Send + 'a {
                tokio::io::AsyncWriteExt::write_all(self, buf)
            }
        }
    )+};
}

tokio_echo_stream!(tokio::net::TcpStream, tokio::net::UnixStream);

/// A stream transport on the runtime [`Net::Rt`]: listen, accept, connect.
/// Called from tasks running on that runtime.
trait Net: 'static {
    type Rt: IoRt;
    type Listener: Send + Sync + 'static;
    type Stream: EchoStream;
    /// Where a listener binds, and where a bound one is connected to.
    type Addr: Clone + Send + 'static;

    fn bind(addr: Self::Addr) -> impl Future<Output = io::Result<Self::Listener>> + Send;
    /// The bound address (for TCP, the port that port 0 got).
    fn local_addr(listener: &Self::Listener) -> Self::Addr;
    fn accept(
        listener: &Self::Listener,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send + '_;
    fn connect(addr: Self::Addr) -> impl Future<Output = io::Result<Self::Stream>> + Send;
    /// `TCP_NODELAY` where the transport has it (Unix sockets have no Nagle
    /// to turn off).
    fn set_nodelay(stream: &Self::Stream) -> io::Result<()>;
}

/// TCP over loopback on runtime `R`.
struct Tcp<R>(PhantomData<R>);

/// Unix domain stream sockets (a socket file) on runtime `R`.
struct Unix<R>(PhantomData<R>);

impl Net for Tcp<Weft> {
    type Rt = Weft;
    type Listener = weft::net::TcpListener;
    type Stream = weft::net::TcpStream;
    type Addr = SocketAddr;

    async fn bind(addr: SocketAddr) -> io::Result<Self::Listener> {
        weft::net::TcpListener::bind(addr)
    }

    fn local_addr(listener: &Self::Listener) -> SocketAddr {
        listener.local_addr().expect("weft local_addr")
    }

    async fn accept(listener: &Self::Listener) -> io::Result<Self::Stream> {
        listener.accept().await.map(|(s, _)| s)
    }

    async fn connect(addr: SocketAddr) -> io::Result<Self::Stream> {
        weft::net::TcpStream::connect(addr).await
    }

    fn set_nodelay(stream: &Self::Stream) -> io::Result<()> {
        stream.set_nodelay(true)
    }
}

impl Net for Tcp<Tokio> {
    type Rt = Tokio;
    type Listener = tokio::net::TcpListener;
    type Stream = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn bind(addr: SocketAddr) -> io::Result<Self::Listener> {
        tokio::net::TcpListener::bind(addr).await
    }

    fn local_addr(listener: &Self::Listener) -> SocketAddr {
        listener.local_addr().expect("tokio local_addr")
    }

    async fn accept(listener: &Self::Listener) -> io::Result<Self::Stream> {
        listener.accept().await.map(|(s, _)| s)
    }

    async fn connect(addr: SocketAddr) -> io::Result<Self::Stream> {
        tokio::net::TcpStream::connect(addr).await
    }

    fn set_nodelay(stream: &Self::Stream) -> io::Result<()> {
        stream.set_nodelay(true)
    }
}

impl Net for Tcp<AsyncExecutor> {
    type Rt = AsyncExecutor;
    type Listener = async_io::Async<std::net::TcpListener>;
    type Stream = async_io::Async<std::net::TcpStream>;
    type Addr = SocketAddr;

    async fn bind(addr: SocketAddr) -> io::Result<Self::Listener> {
        async_io::Async::<std::net::TcpListener>::bind(addr)
    }

    fn local_addr(listener: &Self::Listener) -> SocketAddr {
        listener
            .get_ref()
            .local_addr()
            .expect("async-io local_addr")
    }

    async fn accept(listener: &Self::Listener) -> io::Result<Self::Stream> {
        listener.accept().await.map(|(s, _)| s)
    }

    async fn connect(addr: SocketAddr) -> io::Result<Self::Stream> {
        async_io::Async::<std::net::TcpStream>::connect(addr).await
    }

    fn set_nodelay(stream: &Self::Stream) -> io::Result<()> {
        stream.get_ref().set_nodelay(true)
    }
}

impl Net for Unix<Weft> {
    type Rt = Weft;
    type Listener = weft::net::UnixListener;
    type Stream = weft::net::UnixStream;
    type Addr = PathBuf;

    async fn bind(path: PathBuf) -> io::Result<Self::Listener> {
        weft::net::UnixListener::bind(path)
    }

    fn local_addr(listener: &Self::Listener) -> PathBuf {
        let addr = listener.local_addr().expect("weft local_addr");
        addr.as_pathname().expect("bound to a path").to_owned()
    }

    async fn accept(listener: &Self::Listener) -> io::Result<Self::Stream> {
        listener.accept().await.map(|(s, _)| s)
    }

    async fn connect(path: PathBuf) -> io::Result<Self::Stream> {
        weft::net::UnixStream::connect(path).await
    }

    fn set_nodelay(_: &Self::Stream) -> io::Result<()> {
        Ok(())
    }
}

impl Net for Unix<Tokio> {
    type Rt = Tokio;
    type Listener = tokio::net::UnixListener;
    type Stream = tokio::net::UnixStream;
    type Addr = PathBuf;

    async fn bind(path: PathBuf) -> io::Result<Self::Listener> {
        tokio::net::UnixListener::bind(path)
    }

    fn local_addr(listener: &Self::Listener) -> PathBuf {
        let addr = listener.local_addr().expect("tokio local_addr");
        addr.as_pathname().expect("bound to a path").to_owned()
    }

    async fn accept(listener: &Self::Listener) -> io::Result<Self::Stream> {
        listener.accept().await.map(|(s, _)| s)
    }

    async fn connect(path: PathBuf) -> io::Result<Self::Stream> {
        tokio::net::UnixStream::connect(path).await
    }

    fn set_nodelay(_: &Self::Stream) -> io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Echo (TCP and Unix sockets)
// ---------------------------------------------------------------------------

const CONNS: usize = 50;
const ROUND_TRIPS: usize = 1_000;
const MSG: usize = 64;
/// The server reads up to this much per call and writes it all back.
const SERVER_BUF: usize = 4096;

/// One server connection: echo everything until end of stream.
async fn serve<S: EchoStream>(mut stream: S) {
    let mut buf = vec![0u8; SERVER_BUF];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// One client connection's share of an iteration: `ROUND_TRIPS` sequential
/// round trips of `MSG` bytes, each checked. Gives the stream back.
async fn client<S: EchoStream>(mut stream: S, conn: usize) -> S {
    let mut msg = [0u8; MSG];
    let mut echo = [0u8; MSG];
    msg[8..16].copy_from_slice(&(conn as u64).to_le_bytes());
    for round in 0..ROUND_TRIPS {
        msg[..8].copy_from_slice(&(round as u64).to_le_bytes());
        stream.write_all(&msg).await.expect("client write");
        stream.read_exact(&mut echo).await.expect("client read");
        assert!(echo == msg, "connection {conn}, round {round}: wrong echo");
    }
    stream
}

/// Binds the server at `addr`, opens `CONNS` connections to it (nodelay on
/// both ends where the transport has it) and leaves one echo task per
/// accepted connection running. Returns the client ends.
fn echo_setup<N: Net>(rt: &N::Rt, addr: N::Addr) -> Vec<N::Stream> {
    let ctx = rt.ctx();
    run_in_task(rt, async move {
        let listener = N::bind(addr).await.expect("bind");
        let addr = N::local_addr(&listener);
        let server_ctx = ctx.clone();
        let acceptor = N::Rt::spawn(&ctx, async move {
            for _ in 0..CONNS {
                let stream = N::accept(&listener).await.expect("accept");
                N::set_nodelay(&stream).expect("server nodelay");
                N::Rt::spawn_detached(&server_ctx, serve(stream));
            }
            // The listener is dropped here: no connection comes after setup.
        });
        let mut clients = Vec::with_capacity(CONNS);
        for _ in 0..CONNS {
            let stream = N::connect(addr.clone()).await.expect("connect");
            N::set_nodelay(&stream).expect("client nodelay");
            clients.push(stream);
        }
        acceptor.await;
        clients
    })
}

/// One iteration: every connection runs its round trips in its own task.
fn echo_iter<R: Rt, S: EchoStream>(rt: &R, conns: &mut Vec<S>) {
    let ctx = rt.ctx();
    let streams = std::mem::take(conns);
    assert_eq!(
        streams.len(),
        CONNS,
        "connections lost by an earlier iteration"
    );
    *conns = run_in_task(rt, async move {
        let handles: Vec<_> = streams
            .into_iter()
            .enumerate()
            .map(|(i, s)| R::spawn(&ctx, client(s, i)))
            .collect();
        let mut back = Vec::with_capacity(CONNS);
        for h in handles {
            back.push(h.await);
        }
        back
    });
}

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

/// A directory of its own for the Unix echo's socket files, removed with
/// everything in it when dropped.
struct SocketDir(PathBuf);

impl SocketDir {
    fn new() -> SocketDir {
        let dir = std::env::temp_dir().join(format!("weft-bench-unix-{}", std::process::id()));
        // A directory left by an earlier run that died with this pid.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).expect("create the socket directory");
        SocketDir(dir)
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unix_echo(c: &mut Criterion) {
    let dir = SocketDir::new();
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

const TIMERS: usize = 100_000;
/// Longest sleep, in microseconds (delays are uniform in 0..=MAX_DELAY_US).
const MAX_DELAY_US: u64 = 20_000;

/// The delays, a fixed xorshift64* sequence: the same for every runtime and run.
fn delays() -> Arc<[Duration]> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..TIMERS)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32;
            Duration::from_micros(r % (MAX_DELAY_US + 1))
        })
        .collect()
}

/// One iteration: 100 000 tasks, each sleeping its delay; await them all.
/// Awaited on the bench thread, in the runtime's `block_on`.
async fn timer_storm_iter<R: IoRt>(rt: &R, delays: &Arc<[Duration]>) {
    let ctx = rt.ctx();
    let delays = delays.clone();
    let start = Instant::now();
    let done = rt
        .spawn_remote(async move {
            let mut handles = Vec::with_capacity(TIMERS);
            for &d in delays.iter() {
                handles.push(R::spawn(&ctx, async move {
                    R::sleep(d).await;
                    1usize
                }));
            }
            let mut done = 0;
            for h in handles {
                done += h.await;
            }
            done
        })
        .await;
    assert_eq!(done, TIMERS);
    // Cheap check that the sleeps slept: the longest one bounds the iteration.
    assert!(start.elapsed() >= Duration::from_micros(MAX_DELAY_US));
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
