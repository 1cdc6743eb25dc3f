//! What the datagram sockets (UDP, Unix) share: [`datagram_io!`], which
//! gives a socket type its receive, connected send / receive and address
//! methods, so `UdpSocket` and `UnixDatagram` behave alike by construction.
//! Sending to an address differs (a resolved `SocketAddr`, or a path) and
//! stays with each type.

/// For a datagram socket type `$socket` with a field `io: PollIo<T>`, `T`
/// having std's `recv_from`, `send`, `recv`, `local_addr` and `peer_addr`
/// with addresses of type `$addr`, defined in the calling module: the async
/// and poll forms of `recv_from`, `send` and `recv`, and the two addresses.
/// `$connected` is a doc example of the connected `send` / `recv` (async and
/// poll forms) and `peer_addr`; `$unconnected` one of `recv_from` (both
/// forms) and `local_addr`.
macro_rules! datagram_io {
    ($socket:ident, $addr:ty, $connected:literal, $unconnected:literal) => {
        impl $socket {
            /// Receives one datagram: its length and sender. A datagram
            /// longer than `buf` is truncated.
            #[doc = $unconnected]
            pub async fn recv_from(&self, buf: &mut [u8]) -> ::std::io::Result<(usize, $addr)> {
                ::std::future::poll_fn(|cx| self.poll_recv_from(cx, buf)).await
            }

            /// Polls [`recv_from`](Self::recv_from).
            #[doc = $unconnected]
            pub fn poll_recv_from(
                &self,
                cx: &mut ::std::task::Context<'_>,
                buf: &mut [u8],
            ) -> ::std::task::Poll<::std::io::Result<(usize, $addr)>> {
                self.io
                    .poll_io($crate::reactor::Direction::Read, cx, |s| s.recv_from(buf))
            }

            /// Sends one datagram to the connected peer.
            #[doc = $connected]
            pub async fn send(&self, buf: &[u8]) -> ::std::io::Result<usize> {
                ::std::future::poll_fn(|cx| self.poll_send(cx, buf)).await
            }

            /// Polls [`send`](Self::send).
            #[doc = $connected]
            pub fn poll_send(
                &self,
                cx: &mut ::std::task::Context<'_>,
                buf: &[u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                self.io
                    .poll_io($crate::reactor::Direction::Write, cx, |s| s.send(buf))
            }

            /// Receives one datagram from the connected peer.
            #[doc = $connected]
            pub async fn recv(&self, buf: &mut [u8]) -> ::std::io::Result<usize> {
                ::std::future::poll_fn(|cx| self.poll_recv(cx, buf)).await
            }

            /// Polls [`recv`](Self::recv).
            #[doc = $connected]
            pub fn poll_recv(
                &self,
                cx: &mut ::std::task::Context<'_>,
                buf: &mut [u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                self.io
                    .poll_io($crate::reactor::Direction::Read, cx, |s| s.recv(buf))
            }

            /// The local address.
            #[doc = $unconnected]
            pub fn local_addr(&self) -> ::std::io::Result<$addr> {
                self.io.get().local_addr()
            }

            /// The connected peer's address (an error if not connected).
            #[doc = $connected]
            pub fn peer_addr(&self) -> ::std::io::Result<$addr> {
                self.io.get().peer_addr()
            }
        }
    };
}

pub(crate) use datagram_io;
