//! TCP and UDP sockets on the runtime's reactor.
//!
//! Sockets are non-blocking and registered once with the runtime's selector
//! (edge-triggered; see the reactor's design notes in `reactor/mod.rs`). Streams
//! implement futures-io's `AsyncRead` / `AsyncWrite`, so codecs and servers
//! written against those traits work unchanged. Every failure is an
//! `io::Error`; creating a socket outside a weft runtime is an `Other` error.
//! Dropping a socket deregisters it from the reactor and closes it.

mod tcp;
mod udp;

pub use tcp::{
    Incoming, OwnedReadHalf, OwnedWriteHalf, ReadHalf, TcpListener, TcpStream, WriteHalf,
};
pub use udp::UdpSocket;
