//! The I/O workloads' shared pieces (`benches/benches/io.rs`,
//! `examples/echo.rs` and `examples/timer_storm.rs`): timer operations per
//! runtime ([`IoRt`]), the transports ([`Net`]: TCP and Unix sockets per
//! runtime) and their streams' reads and writes ([`EchoStream`]), the echo
//! workload itself (one iteration: [`CONNS`] connections x [`ROUND_TRIPS`]
//! round trips of [`MSG`] bytes, each checked) and the timer storm (one
//! iteration: [`TIMERS`] sleepers, [`timer_delays`]).

use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{run_in_task, AsyncExecutor, Rt, Tokio, Weft};

// ---------------------------------------------------------------------------
// Network and timer operations per runtime
// ---------------------------------------------------------------------------

/// What the I/O workloads need beyond [`Rt`], besides a transport ([`Net`]).
pub trait IoRt: Rt {
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
pub trait EchoStream: Send + 'static {
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
pub trait Net: 'static {
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
pub struct Tcp<R>(PhantomData<R>);

/// Unix domain stream sockets (a socket file) on runtime `R`.
pub struct Unix<R>(PhantomData<R>);

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

pub const CONNS: usize = 50;
pub const ROUND_TRIPS: usize = 1_000;
pub const MSG: usize = 64;
/// The server reads up to this much per call and writes it all back.
pub const SERVER_BUF: usize = 4096;

/// One server connection: echo everything until end of stream.
pub async fn serve<S: EchoStream>(mut stream: S) {
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
pub async fn client<S: EchoStream>(mut stream: S, conn: usize) -> S {
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
pub fn echo_setup<N: Net>(rt: &N::Rt, addr: N::Addr) -> Vec<N::Stream> {
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
pub fn echo_iter<R: Rt, S: EchoStream>(rt: &R, conns: &mut Vec<S>) {
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

/// A directory of its own for the Unix echo's socket files, removed with
/// everything in it when dropped.
pub struct SocketDir(pub PathBuf);

impl SocketDir {
    /// Makes the directory: `weft-bench-unix-<pid>` under the temp directory
    /// (a short path, well within a socket address's limit).
    pub fn create() -> SocketDir {
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

// ---------------------------------------------------------------------------
// Timer storm
// ---------------------------------------------------------------------------

/// Sleepers in one storm.
pub const TIMERS: usize = 100_000;
/// Longest timer-storm sleep, in microseconds (delays are uniform in
/// `0..=MAX_DELAY_US`).
pub const MAX_DELAY_US: u64 = 20_000;

/// The timer storm's `n` delays: a fixed xorshift64* sequence, the same for
/// every runtime and run.
pub fn timer_delays(n: usize) -> Vec<Duration> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32;
            Duration::from_micros(r % (MAX_DELAY_US + 1))
        })
        .collect()
}

/// One storm: from a task on `rt`, spawn a task per delay, each sleeping it,
/// and await them all (checked: every one ran, and the longest sleep bounds
/// the storm).
pub async fn timer_storm_iter<R: IoRt>(rt: &R, delays: &Arc<[Duration]>) {
    let ctx = rt.ctx();
    let n = delays.len();
    let longest = delays.iter().copied().max().unwrap_or_default();
    let delays = delays.clone();
    let start = Instant::now();
    let done = rt
        .spawn_remote(async move {
            let mut handles = Vec::with_capacity(delays.len());
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
    assert_eq!(done, n);
    assert!(start.elapsed() >= longest, "the sleeps slept");
}
