//! [`UdpSocket`].

use super::datagram::datagram_io;
use super::poll_io::PollIo;
use crate::reactor::Direction;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::task::{Context, Poll};

/// A UDP socket registered with the runtime's reactor. Dropping it
/// deregisters and closes it.
///
/// One task at a time should receive, and one send: each direction remembers
/// only the latest waiter.
///
/// ```
/// use weft::net::UdpSocket;
///
/// weft::run(async {
///     let a = UdpSocket::bind("127.0.0.1:0").unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").unwrap();
///     a.send_to(b"ping", b.local_addr().unwrap()).await.unwrap();
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await.unwrap();
///     assert_eq!(&buf[..n], b"ping");
///     assert_eq!(from, a.local_addr().unwrap());
/// });
/// ```
pub struct UdpSocket {
    io: PollIo<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr` (port 0 picks a free port). Must be called inside a
    /// weft runtime (else an `Other` error).
    ///
    /// ```
    /// weft::run(async {
    ///     let socket = weft::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     assert_ne!(socket.local_addr().unwrap().port(), 0);
    /// });
    /// assert!(weft::net::UdpSocket::bind("127.0.0.1:0").is_err(), "outside a runtime");
    /// ```
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        UdpSocket::from_std(std::net::UdpSocket::bind(addr)?)
    }

    /// Wraps a socket made elsewhere (it is set non-blocking).
    ///
    /// ```
    /// weft::run(async {
    ///     let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let addr = std_socket.local_addr().unwrap();
    ///     let socket = weft::net::UdpSocket::from_std(std_socket).unwrap();
    ///     assert_eq!(socket.local_addr().unwrap(), addr);
    /// });
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            io: PollIo::new(socket)?,
        })
    }

    /// Sets the default peer for [`send`](Self::send) and filters
    /// [`recv`](Self::recv) to it. Does not block.
    ///
    /// ```
    /// use weft::net::UdpSocket;
    ///
    /// weft::run(async {
    ///     let (a, b) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
    ///     a.connect(b.local_addr().unwrap()).unwrap();
    ///     b.connect(a.local_addr().unwrap()).unwrap();
    ///     a.send(b"hi").await.unwrap();
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.recv(&mut buf).await.unwrap(), 2);
    ///     assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    /// });
    /// ```
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        self.io.get().connect(addr)
    }

    /// Sends one datagram to `addr`; returns the bytes sent. A literal
    /// address never blocks; a host name is resolved by the system resolver
    /// on this thread, on every call (resolve it once with
    /// [`lookup_host`](super::lookup_host) and pass the `SocketAddr`).
    ///
    /// ```
    /// use weft::net::UdpSocket;
    ///
    /// weft::run(async {
    ///     let (a, b) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
    ///     assert_eq!(a.send_to(b"four", b.local_addr().unwrap()).await.unwrap(), 4);
    ///     let mut buf = [0; 8];
    ///     let (n, from) = b.recv_from(&mut buf).await.unwrap();
    ///     assert_eq!((&buf[..n], from), (&b"four"[..], a.local_addr().unwrap()));
    /// });
    /// ```
    pub async fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to send to"))?;
        poll_fn(|cx| self.poll_send_to(cx, buf, addr)).await
    }

    /// Polls [`send_to`](Self::send_to).
    ///
    /// ```
    /// use weft::net::UdpSocket;
    ///
    /// weft::run(async {
    ///     let (a, b) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
    ///     let to = b.local_addr().unwrap();
    ///     let sent = std::future::poll_fn(|cx| a.poll_send_to(cx, b"x", to)).await.unwrap();
    ///     assert_eq!(sent, 1);
    /// });
    /// ```
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        addr: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io
            .poll_io(Direction::Write, cx, |s| s.send_to(buf, addr))
    }
}

datagram_io!(
    UdpSocket,
    SocketAddr,
    r#"
```
use std::future::poll_fn;
use weft::net::UdpSocket;

weft::run(async {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.connect(b.local_addr().unwrap()).unwrap();
    b.connect(a.local_addr().unwrap()).unwrap();
    assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    a.send(b"ping").await.unwrap();
    let mut buf = [0; 8];
    let n = b.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"ping");
    // The poll forms, for futures written by hand.
    poll_fn(|cx| b.poll_send(cx, b"pong")).await.unwrap();
    let n = poll_fn(|cx| a.poll_recv(cx, &mut buf)).await.unwrap();
    assert_eq!(&buf[..n], b"pong");
});
```
"#,
    r#"
```
use std::future::poll_fn;
use weft::net::UdpSocket;

weft::run(async {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (from_a, to_b) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    assert!(to_b.ip().is_loopback() && to_b.port() != 0);
    a.send_to(b"one", to_b).await.unwrap();
    a.send_to(b"two", to_b).await.unwrap();
    let mut buf = [0; 8];
    let (n, from) = b.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"one"[..], from_a));
    // The poll form, for futures written by hand.
    let (n, from) = poll_fn(|cx| b.poll_recv_from(cx, &mut buf)).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"two"[..], from_a));
});
```
"#
);

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UdpSocket").field(self.io.get()).finish()
    }
}
