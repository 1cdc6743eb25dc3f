//! [`TcpListener`] and [`TcpStream`].

use super::poll_io::PollIo;
use super::stream::stream_halves;
use super::LISTEN_BACKLOG;
use crate::reactor::Direction;
use futures_util::Stream;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
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
    ///
    /// ```
    /// weft::run(async {
    ///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     assert_ne!(listener.local_addr().unwrap().port(), 0, "a free port was picked");
    /// });
    /// ```
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
    ///
    /// ```
    /// weft::run(async {
    ///     let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = std_listener.local_addr().unwrap();
    ///     let listener = weft::net::TcpListener::from_std(std_listener).unwrap();
    ///     let client = weft::spawn(weft::net::TcpStream::connect(addr));
    ///     let (_conn, _) = listener.accept().await.unwrap();
    ///     client.await.unwrap().unwrap();
    /// });
    /// ```
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
    ///
    /// ```
    /// weft::run(async {
    ///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let client = weft::spawn(weft::net::TcpStream::connect(addr));
    ///     let (conn, peer) = listener.accept().await.unwrap();
    ///     let client = client.await.unwrap().unwrap();
    ///     assert_eq!(peer, client.local_addr().unwrap());
    ///     assert_eq!(conn.peer_addr().unwrap(), peer);
    /// });
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection (see [`accept`](Self::accept)).
    ///
    /// ```
    /// weft::run(async {
    ///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let client = weft::spawn(weft::net::TcpStream::connect(listener.local_addr().unwrap()));
    ///     let (_conn, _peer) = std::future::poll_fn(|cx| listener.poll_accept(cx)).await.unwrap();
    ///     client.await.unwrap().unwrap();
    /// });
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (stream, peer) =
            std::task::ready!(self.io.poll_io(Direction::Read, cx, |l| l.accept()))?;
        Poll::Ready(TcpStream::from_std(stream).map(|s| (s, peer)))
    }

    /// The stream of incoming connections (`accept` in a loop). It never
    /// ends; errors (such as running out of file descriptors) are items.
    ///
    /// ```
    /// use futures_util::StreamExt;
    ///
    /// weft::run(async {
    ///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let clients = weft::spawn(async move {
    ///         let a = weft::net::TcpStream::connect(addr).await.unwrap();
    ///         let b = weft::net::TcpStream::connect(addr).await.unwrap();
    ///         (a, b)
    ///     });
    ///     let accepted: Vec<_> = listener.incoming().take(2).collect().await;
    ///     assert!(accepted.iter().all(|conn| conn.is_ok()));
    ///     clients.await.unwrap();
    /// });
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address this listener is bound to.
    ///
    /// ```
    /// weft::run(async {
    ///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     assert!(listener.local_addr().unwrap().ip().is_loopback());
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }
}

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
///
/// ```
/// use futures_util::StreamExt;
///
/// weft::run(async {
///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let client = weft::spawn(weft::net::TcpStream::connect(listener.local_addr().unwrap()));
///     let mut incoming: weft::net::Incoming<'_> = listener.incoming();
///     let conn: weft::net::TcpStream = incoming.next().await.unwrap().unwrap();
///     let client = client.await.unwrap().unwrap();
///     assert_eq!(conn.peer_addr().unwrap(), client.local_addr().unwrap());
/// });
/// ```
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
///
/// ```
/// use futures_util::{AsyncReadExt, AsyncWriteExt};
///
/// weft::run(async {
///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let a = weft::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
///     let (b, _) = listener.accept().await.unwrap();
///     let (mut a, mut b) = (a, b);
///     a.write_all(b"hello").await.unwrap();
///     let mut buf = [0; 5];
///     b.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"hello");
/// });
/// ```
pub struct TcpStream {
    io: PollIo<std::net::TcpStream>,
}

impl TcpStream {
    /// Opens a connection to `addr`, trying each address it resolves to in
    /// turn; the error is the last address's. The connect itself never
    /// blocks the thread, nor does a literal address; a host name is resolved
    /// by the system resolver on this thread (use
    /// [`lookup_host`](super::lookup_host) to keep the loop free).
    ///
    /// ```
    /// weft::run(async {
    ///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let stream = weft::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     assert_eq!(stream.peer_addr().unwrap(), listener.local_addr().unwrap());
    /// });
    /// ```
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
    ///
    /// ```
    /// weft::run(async {
    ///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let std_stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    ///     let stream = weft::net::TcpStream::from_std(std_stream).unwrap();
    ///     let (conn, _) = listener.accept().await.unwrap();
    ///     assert_eq!(conn.peer_addr().unwrap(), stream.local_addr().unwrap());
    /// });
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Ok(TcpStream {
            io: PollIo::new(stream)?,
        })
    }

    /// The remote address.
    ///
    /// ```
    /// weft::run(async {
    ///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let a = weft::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (b, _) = listener.accept().await.unwrap();
    ///     assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    /// });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// The local address.
    ///
    /// ```
    /// weft::run(async {
    ///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let a = weft::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (b, _) = listener.accept().await.unwrap();
    ///     assert_eq!(a.local_addr().unwrap(), b.peer_addr().unwrap());
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Sets `TCP_NODELAY` (turns Nagle's algorithm off when true).
    ///
    /// ```
    /// weft::run(async {
    ///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let a = weft::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (b, _) = listener.accept().await.unwrap();
    ///     a.set_nodelay(true).unwrap();
    ///     assert!(a.nodelay().unwrap());
    ///     drop(b);
    /// });
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// ```
    /// weft::run(async {
    ///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let a = weft::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (b, _) = listener.accept().await.unwrap();
    ///     b.set_nodelay(false).unwrap();
    ///     assert!(!b.nodelay().unwrap());
    ///     drop(a);
    /// });
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get().nodelay()
    }

    /// Shuts down the read half, the write half (the peer reads end of
    /// stream), or both. It does not block.
    ///
    /// ```
    /// use futures_util::AsyncReadExt;
    /// use std::net::Shutdown;
    ///
    /// weft::run(async {
    ///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let a = weft::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (b, _) = listener.accept().await.unwrap();
    ///     a.shutdown(Shutdown::Write).unwrap();
    ///     let mut b = b;
    ///     let mut rest = Vec::new();
    ///     b.read_to_end(&mut rest).await.unwrap(); // the end of the stream
    ///     assert!(rest.is_empty());
    /// });
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get().shutdown(how)
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TcpStream").field(self.io.get()).finish()
    }
}

stream_halves!(
    TcpStream,
    r#"
```
use futures_util::{AsyncReadExt, AsyncWriteExt};
use weft::net::{TcpListener, TcpStream};

weft::run(async {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let echo = weft::spawn(async move {
        let (conn, _) = listener.accept().await.unwrap();
        let (mut read, mut write) = conn.into_split();
        let mut buf = [0; 4];
        read.read_exact(&mut buf).await.unwrap();
        write.write_all(&buf).await.unwrap();
        read.reunite(write).unwrap()
    });
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"ping").await.unwrap();
    let mut back = [0; 4];
    client.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"ping");
    echo.await.unwrap();
});
```
"#,
    r#"    let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = weft::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (b, _) = listener.accept().await.unwrap();
"#,
    r#"
```
use futures_util::AsyncWriteExt;
use std::future::poll_fn;
use std::mem::MaybeUninit;
use weft::net::{TcpListener, TcpStream};

weft::run(async {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    client.write_all(b"hello").await.unwrap();
    drop(client);

    let mut buf = [MaybeUninit::<u8>::uninit(); 64];
    let mut got = Vec::new();
    loop {
        let n = poll_fn(|cx| server.poll_read_uninit(cx, &mut buf)).await.unwrap();
        if n == 0 {
            break; // end of stream
        }
        // SAFETY: `poll_read_uninit` initialised the first `n` bytes.
        got.extend(buf[..n].iter().map(|b| unsafe { b.assume_init() }));
    }
    assert_eq!(got, b"hello");
});
```
"#
);
