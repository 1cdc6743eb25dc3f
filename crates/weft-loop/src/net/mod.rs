//! TCP and UDP sockets on the runtime's reactor.
//!
//! Sockets are non-blocking and registered once with the runtime's selector
//! (edge-triggered; see the reactor's design notes in `reactor/mod.rs`).
//! Streams implement futures-io's `AsyncRead` / `AsyncWrite`, so codecs and
//! servers written against those traits work unchanged. Every failure is an
//! `io::Error`; creating a socket outside a weft runtime is an `Other` error.
//! Dropping a socket deregisters it from the reactor and closes it.
//!
//! Addresses are std's `ToSocketAddrs`: a literal address never blocks, but a
//! host name given to `connect`, `bind` or `send_to` is resolved by the system
//! resolver on the calling thread. Resolve names with [`lookup_host`] first to
//! keep the loop's thread free.

mod poll_io;
mod tcp;
mod udp;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

pub use tcp::{
    Incoming, OwnedReadHalf, OwnedWriteHalf, ReadHalf, TcpListener, TcpStream, WriteHalf,
};
pub use udp::UdpSocket;

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
