//! TCP, UDP and Unix domain sockets on the runtime's reactor.
//!
//! Sockets are non-blocking and registered once with the runtime's selector
//! (edge-triggered; see the reactor's design notes in `reactor/mod.rs`).
//! Streams implement futures-io's `AsyncRead` / `AsyncWrite`, so codecs and
//! servers written against those traits work unchanged. Every failure is an
//! `io::Error`; creating a socket outside a weft runtime is an `Other` error.
//! Dropping a socket deregisters it from the reactor and closes it.
//!
//! Unix sockets ([`UnixListener`], [`UnixStream`], [`UnixDatagram`]; their
//! halves, incoming stream and peer credentials in [`unix`]) take paths, or
//! std's `std::os::unix::net::SocketAddr` for Linux's abstract names; a path
//! too long and a socket file already there are errors of their own, and no
//! socket file is ever removed for you (see [`unix`]).
//!
//! Files: `poll_io.rs` (a socket registered with the reactor), `stream.rs`
//! (what the TCP and Unix byte streams share: reads and writes, split
//! halves), `datagram.rs` (what the UDP and Unix datagram sockets share),
//! `tcp.rs`, `udp.rs`, `unix.rs`.
//!
//! Addresses of TCP and UDP are std's `ToSocketAddrs`: a literal address never blocks, but a
//! host name given to `connect`, `bind` or `send_to` is resolved by the system
//! resolver on the calling thread. Resolve names with [`lookup_host`] first to
//! keep the loop's thread free.

mod datagram;
mod poll_io;
mod stream;
mod tcp;
mod udp;
#[cfg(unix)]
pub mod unix;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

pub use tcp::{
    Incoming, OwnedReadHalf, OwnedWriteHalf, ReadHalf, TcpListener, TcpStream, WriteHalf,
};
pub use udp::UdpSocket;

pub(crate) use poll_io::PollIo;
#[cfg(unix)]
pub use unix::{UnixDatagram, UnixListener, UnixStream};

/// Pending connections a listener queues before the kernel drops new ones
/// (std uses 128, which a burst of clients overflows).
const LISTEN_BACKLOG: i32 = 1024;

/// Resolves `host` (anything std's `ToSocketAddrs` takes: `"example.com:80"`,
/// `("example.com", 80)`, a `SocketAddr`, ...) on the runtime's blocking pool
/// (see [`spawn_blocking`](crate::spawn_blocking)), so the loop's thread never
/// waits on the system resolver (asyncio's `loop.getaddrinfo`). Fails with the
/// resolver's error, or an `Other` error outside a weft runtime or once it has
/// shut down.
///
/// ```
/// use weft::net::{lookup_host, TcpListener, TcpStream};
///
/// weft::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let port = listener.local_addr().unwrap().port();
///     let addrs = lookup_host(("127.0.0.1", port)).await.unwrap();
///     let stream = TcpStream::connect(&addrs[..]).await.unwrap();
///     assert_eq!(stream.peer_addr().unwrap().port(), port);
/// });
/// ```
pub async fn lookup_host<A>(host: A) -> io::Result<Vec<SocketAddr>>
where
    A: ToSocketAddrs + Send + 'static,
{
    let handle = crate::Handle::try_current().ok_or_else(crate::driver::outside_runtime)?;
    handle
        .spawn_blocking(move || host.to_socket_addrs().map(Iterator::collect))
        .await
        .map_err(io::Error::other)?
}
