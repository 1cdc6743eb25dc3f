//! [`TcpListener`] and [`TcpStream`].

use super::poll_io::PollIo;
use crate::reactor::Direction;
use futures_io::{AsyncRead, AsyncWrite};
use futures_util::Stream;
use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A TCP socket listening for connections, registered with the runtime's
/// reactor. Dropping it deregisters and closes it.
///
/// ```
/// use futures_util::{AsyncReadExt, AsyncWriteExt};
/// use weft::net::{TcpListener, TcpStream};
///
/// weft::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     let server = weft::spawn(async move {
///         let (mut conn, _peer) = listener.accept().await.unwrap();
///         let mut buf = [0; 5];
///         conn.read_exact(&mut buf).await.unwrap();
///         conn.write_all(&buf).await.unwrap();
///     });
///     let mut client = TcpStream::connect(addr).await.unwrap();
///     client.write_all(b"hello").await.unwrap();
///     let mut echo = [0; 5];
///     client.read_exact(&mut echo).await.unwrap();
///     assert_eq!(&echo, b"hello");
///     server.await.unwrap();
/// });
/// ```
pub struct TcpListener {
    io: PollIo<std::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (the first address it resolves to that can be bound)
    /// and starts listening with a backlog of 1,024 pending connections
    /// (`SO_REUSEADDR` set, as std does). Port 0 picks a free port; see
    /// [`local_addr`](Self::local_addr). For other socket options build the
    /// listener yourself and pass it to [`from_std`](Self::from_std).
    ///
    /// A literal address never blocks; a host name is resolved by the system
    /// resolver on this thread (use [`lookup_host`](super::lookup_host) to
    /// keep the loop free). Must be called inside a weft runtime (else an
    /// `Other` error).
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let mut last = None;
        for addr in addr.to_socket_addrs()? {
            match listen_on(addr) {
                Ok(l) => return TcpListener::from_std(l),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no address to bind to")
        }))
    }

    /// Wraps a listener made elsewhere (it is set non-blocking).
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener {
            io: PollIo::new(listener)?,
        })
    }

    /// Waits for a connection: the stream and the peer's address.
    ///
    /// One task at a time should accept: the listener remembers only the
    /// latest waiter (for several acceptors, have one accept and hand the
    /// streams out).
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection (see [`accept`](Self::accept)).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (stream, peer) =
            std::task::ready!(self.io.poll_io(Direction::Read, cx, |l| l.accept()))?;
        Poll::Ready(TcpStream::from_std(stream).map(|s| (s, peer)))
    }

    /// The stream of incoming connections (`accept` in a loop). It never
    /// ends; errors (such as running out of file descriptors) are items.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }
}

/// Pending connections a listener queues before the kernel drops new ones
/// (std uses 128, which a burst of clients overflows).
const LISTEN_BACKLOG: i32 = 1024;

/// A fresh TCP socket for `addr`'s family (close-on-exec).
fn tcp_socket(addr: SocketAddr) -> io::Result<socket2::Socket> {
    socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM.cloexec(),
        Some(socket2::Protocol::TCP),
    )
}

fn listen_on(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = tcp_socket(addr)?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TcpListener").field(self.io.get()).finish()
    }
}

/// The stream of [`TcpListener::incoming`].
#[must_use = "streams do nothing unless polled"]
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener
            .poll_accept(cx)
            .map(|r| Some(r.map(|(s, _)| s)))
    }
}

/// A TCP connection, registered with the runtime's reactor. It implements
/// futures-io's `AsyncRead` / `AsyncWrite` (use `futures_util`'s
/// `AsyncReadExt` / `AsyncWriteExt`, or any codec built on them), as does
/// `&TcpStream`, so one task may read while another writes.
///
/// One task at a time should read, and one write: each direction remembers
/// only the latest waiter. Dropping the stream deregisters and closes it.
/// Errors are `io::Error`s (refused, reset by peer, ...), never panics.
pub struct TcpStream {
    io: PollIo<std::net::TcpStream>,
}

impl TcpStream {
    /// Opens a connection to `addr`, trying each address it resolves to in
    /// turn; the error is the last address's. The connect itself never
    /// blocks the thread, nor does a literal address; a host name is resolved
    /// by the system resolver on this thread (use
    /// [`lookup_host`](super::lookup_host) to keep the loop free).
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut last = None;
        for addr in addr.to_socket_addrs()? {
            match TcpStream::connect_addr(addr).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no address to connect to")
        }))
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        let socket = tcp_socket(addr)?;
        socket.set_nonblocking(true)?;
        match socket.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        let stream = TcpStream {
            io: PollIo::new(std::net::TcpStream::from(socket))?,
        };
        // Writable means the handshake finished, one way or the other.
        poll_fn(|cx| {
            stream
                .io
                .poll_io(Direction::Write, cx, |s| match s.take_error()? {
                    Some(e) => Err(e),
                    None => match s.peer_addr() {
                        Ok(_) => Ok(()),
                        Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                            Err(io::ErrorKind::WouldBlock.into())
                        }
                        Err(e) => Err(e),
                    },
                })
        })
        .await?;
        Ok(stream)
    }

    /// Wraps a connected stream made elsewhere (it is set non-blocking).
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Ok(TcpStream {
            io: PollIo::new(stream)?,
        })
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Sets `TCP_NODELAY` (turns Nagle's algorithm off when true).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get().nodelay()
    }

    /// Shuts down the read half, the write half (the peer reads end of
    /// stream), or both. It does not block.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get().shutdown(how)
    }

    /// Borrowed halves, for reading and writing from two places at once
    /// within one task (`futures_util::join!`, `select!`).
    pub fn split(&self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (ReadHalf { stream: self }, WriteHalf { stream: self })
    }

    /// Owned halves that can move to different tasks. The socket closes when
    /// both are dropped; [`reunite`](OwnedReadHalf::reunite) puts them back.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let stream = Arc::new(self);
        (
            OwnedReadHalf {
                stream: stream.clone(),
            },
            OwnedWriteHalf { stream },
        )
    }

    fn poll_read_priv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let len = buf.len();
        self.io.poll_read_stream(cx, len, |mut s| s.read(buf))
    }

    fn poll_read_vectored_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        // Not `poll_read_stream`: `readv` takes at most IOV_MAX buffers (std
        // passes no more), so a read short of their total size does not prove
        // the socket drained.
        self.io
            .poll_io(Direction::Read, cx, |mut s| s.read_vectored(bufs))
    }

    fn poll_write_priv(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.poll_io(Direction::Write, cx, |mut s| s.write(buf))
    }

    fn poll_write_vectored_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.io
            .poll_io(Direction::Write, cx, |mut s| s.write_vectored(bufs))
    }

    fn poll_close_priv(&self) -> Poll<io::Result<()>> {
        match self.shutdown(Shutdown::Write) {
            // Already shut down or reset: closing is done either way.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
            r => Poll::Ready(r),
        }
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TcpStream").field(self.io.get()).finish()
    }
}

/// The reading half of [`TcpStream::split`].
#[derive(Debug)]
pub struct ReadHalf<'a> {
    stream: &'a TcpStream,
}

/// The writing half of [`TcpStream::split`]. Closing it shuts down the
/// stream's write half.
#[derive(Debug)]
pub struct WriteHalf<'a> {
    stream: &'a TcpStream,
}

/// The reading half of [`TcpStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf {
    stream: Arc<TcpStream>,
}

/// The writing half of [`TcpStream::into_split`]. Closing it shuts down the
/// stream's write half; dropping it does not (the read half keeps the socket
/// open).
#[derive(Debug)]
pub struct OwnedWriteHalf {
    stream: Arc<TcpStream>,
}

impl OwnedReadHalf {
    /// Joins the halves of one stream again; gives them back if they are
    /// from different streams.
    #[allow(clippy::result_large_err)]
    pub fn reunite(
        self,
        write: OwnedWriteHalf,
    ) -> Result<TcpStream, (OwnedReadHalf, OwnedWriteHalf)> {
        if !Arc::ptr_eq(&self.stream, &write.stream) {
            return Err((self, write));
        }
        drop(write);
        Ok(Arc::into_inner(self.stream).expect("the two halves held the only references"))
    }

    /// The stream both halves share.
    pub fn as_stream(&self) -> &TcpStream {
        &self.stream
    }
}

impl OwnedWriteHalf {
    /// The stream both halves share.
    pub fn as_stream(&self) -> &TcpStream {
        &self.stream
    }
}

/// futures-io's `AsyncRead` for each `type => |self| the TcpStream`.
macro_rules! impl_async_read {
    ($($ty:ty => |$s:ident| $stream:expr),* $(,)?) => {$(
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let $s = &*self;
                $stream.poll_read_priv(cx, buf)
            }

            fn poll_read_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [IoSliceMut<'_>],
            ) -> Poll<io::Result<usize>> {
                let $s = &*self;
                $stream.poll_read_vectored_priv(cx, bufs)
            }
        }
    )*};
}

/// futures-io's `AsyncWrite` for each `type => |self| the TcpStream`. Writes
/// are unbuffered (flush does nothing); close shuts down the write half.
macro_rules! impl_async_write {
    ($($ty:ty => |$s:ident| $stream:expr),* $(,)?) => {$(
        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let $s = &*self;
                $stream.poll_write_priv(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                let $s = &*self;
                $stream.poll_write_vectored_priv(cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let $s = &*self;
                $stream.poll_close_priv()
            }
        }
    )*};
}

impl_async_read!(
    TcpStream => |s| s,
    &TcpStream => |s| s,
    ReadHalf<'_> => |s| s.stream,
    OwnedReadHalf => |s| s.stream,
);
impl_async_write!(
    TcpStream => |s| s,
    &TcpStream => |s| s,
    WriteHalf<'_> => |s| s.stream,
    OwnedWriteHalf => |s| s.stream,
);
