//! [`Listener`]: what the serve helper accepts connections from.

use futures_io::{AsyncRead, AsyncWrite};
use std::fmt;
use std::io;
use std::task::{Context, Poll};
use weft_loop::net::{TcpListener, TcpStream};
#[cfg(unix)]
use weft_loop::net::{UnixListener, UnixStream};

/// A source of connections for [`serve`](crate::serve): weft's
/// [`TcpListener`] (with `TCP_NODELAY` set on each accepted stream), weft's
/// `UnixListener`, or any other listener whose streams speak futures-io.
///
/// Implement it for your own listener (a Unix socket, a listener handed over
/// by systemd) by forwarding to its `poll_accept`:
///
/// ```
/// use std::io;
/// use std::task::{Context, Poll};
/// use weft::net::{TcpListener, TcpStream};
///
/// /// Accepts only from loopback addresses.
/// #[derive(Debug)]
/// struct LoopbackOnly(TcpListener);
///
/// impl weft::hyper::Listener for LoopbackOnly {
///     type Io = TcpStream;
///     type Addr = std::net::SocketAddr;
///
///     fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, Self::Addr)>> {
///         loop {
///             match self.0.poll_accept(cx) {
///                 Poll::Ready(Ok((_, addr))) if !addr.ip().is_loopback() => continue,
///                 other => return other,
///             }
///         }
///     }
///
///     fn local_addr(&self) -> io::Result<Self::Addr> {
///         self.0.local_addr()
///     }
/// }
///
/// weft::run(async {
///     let l = LoopbackOnly(TcpListener::bind("127.0.0.1:0").unwrap());
///     assert!(weft::hyper::Listener::local_addr(&l).unwrap().ip().is_loopback());
/// });
/// ```
pub trait Listener: Send + 'static {
    /// The stream of one accepted connection.
    type Io: AsyncRead + AsyncWrite + Send + Unpin + 'static;
    /// The peer's address, as the listener reports it.
    type Addr: fmt::Debug + Send + 'static;

    /// Accepts the next connection, or says why it could not. The serve
    /// helper logs every error and goes on accepting (after a pause for
    /// errors that are not about one connection, such as running out of file
    /// descriptors).
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(Self::Io, Self::Addr)>>;

    /// The address the listener is bound to.
    fn local_addr(&self) -> io::Result<Self::Addr>;
}

impl Listener for TcpListener {
    type Io = TcpStream;
    type Addr = std::net::SocketAddr;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, Self::Addr)>> {
        match TcpListener::poll_accept(self, cx) {
            Poll::Ready(Ok((stream, addr))) => {
                // Responses are written whole; Nagle would only delay the
                // last segment of each.
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(peer = %addr, error = %e, "weft-hyper: could not set TCP_NODELAY");
                }
                Poll::Ready(Ok((stream, addr)))
            }
            other => other,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        TcpListener::local_addr(self)
    }
}

/// Serving behind a local proxy: the same service over a Unix socket.
///
/// ```
/// use weft::net::UnixListener;
///
/// weft::run(async {
///     let path = std::env::temp_dir().join(format!("weft-hyper-doc-{}.sock", std::process::id()));
///     let _ = std::fs::remove_file(&path);
///     let listener = UnixListener::bind(&path).unwrap();
///     let addr = weft::hyper::Listener::local_addr(&listener).unwrap();
///     assert_eq!(addr.as_pathname(), Some(path.as_path()));
///     std::fs::remove_file(&path).unwrap();
/// });
/// ```
#[cfg(unix)]
impl Listener for UnixListener {
    type Io = UnixStream;
    type Addr = std::os::unix::net::SocketAddr;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, Self::Addr)>> {
        UnixListener::poll_accept(self, cx)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        UnixListener::local_addr(self)
    }
}
