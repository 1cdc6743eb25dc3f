//! UDP on the reactor (`weft::net::UdpSocket`), over loopback: lock-step echo
//! round trips, connected sockets, senders' addresses, truncation, sockets made
//! outside a runtime, and deregistration on drop.
//!
//! Every test runs under the common watchdog, so a broken runtime fails the test
//! instead of hanging the suite.

mod common;

use common::{block_on, io_sources, watchdog};
use std::io;
use weft::net::UdpSocket;

const LOCALHOST: &str = "127.0.0.1:0";

/// Datagram `i`: 1 to 1,200 bytes, its content derived from `i`.
fn datagram(i: usize) -> Vec<u8> {
    let len = 1 + (i * 37) % 1200;
    (0..len)
        .map(|j| (i * 7 + j * 13 + (j >> 3)) as u8)
        .collect()
}

/// 1,000 datagrams, each echoed back by a second socket running in its own
/// task, in lock-step (one in flight at a time, so loopback never drops one);
/// every echo's content, length and sender are checked.
#[test]
fn thousand_datagrams_echo_in_lock_step() {
    const ROUNDS: usize = 1_000;
    block_on(2, |_| async {
        let client = UdpSocket::bind(LOCALHOST).unwrap();
        let echo = UdpSocket::bind(LOCALHOST).unwrap();
        let (client_addr, echo_addr) = (client.local_addr().unwrap(), echo.local_addr().unwrap());
        let server = weft::spawn(async move {
            let mut buf = vec![0; 2048];
            for _ in 0..ROUNDS {
                let (n, from) = echo.recv_from(&mut buf).await.unwrap();
                assert_eq!(from, client_addr, "datagram from a stranger");
                assert_eq!(echo.send_to(&buf[..n], from).await.unwrap(), n);
            }
        });
        let mut buf = vec![0; 2048];
        for i in 0..ROUNDS {
            let out = datagram(i);
            assert_eq!(client.send_to(&out, echo_addr).await.unwrap(), out.len());
            let (n, from) = client.recv_from(&mut buf).await.unwrap();
            assert_eq!(from, echo_addr);
            assert!(buf[..n] == out[..], "round {i}: the echo differs");
        }
        server.await.unwrap();
    });
}

/// `connect` sets the default peer for `send` / `recv` and filters what `recv`
/// sees; `recv_from` on an unconnected socket names each sender; a datagram
/// longer than the buffer is truncated to the buffer's length.
#[test]
fn connected_sockets_senders_and_truncation() {
    block_on(2, |_| async {
        let a = UdpSocket::bind(LOCALHOST).unwrap();
        let b = UdpSocket::bind(LOCALHOST).unwrap();
        let stranger = UdpSocket::bind(LOCALHOST).unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let stranger_addr = stranger.local_addr().unwrap();

        let err = a.peer_addr().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotConnected, "{err:?}");
        a.connect(b_addr).unwrap();
        b.connect(a_addr).unwrap();
        assert_eq!(a.peer_addr().unwrap(), b_addr);
        assert_eq!(b.peer_addr().unwrap(), a_addr);

        // `send` / `recv` between the connected pair, both ways.
        assert_eq!(a.send(b"hello b").await.unwrap(), 7);
        let mut buf = [0; 64];
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello b");
        assert_eq!(b.send(b"hello a").await.unwrap(), 7);
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello a");

        // A connected socket drops datagrams from anyone but its peer: the
        // stranger's, sent first, never shows up.
        stranger.send_to(b"intruder", a_addr).await.unwrap();
        b.send(b"from b").await.unwrap();
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"from b"[..], b_addr));

        // recv_from on an unconnected socket reports each sender.
        let open = UdpSocket::bind(LOCALHOST).unwrap();
        let open_addr = open.local_addr().unwrap();
        stranger.send_to(b"one", open_addr).await.unwrap();
        let (n, from) = open.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"one"[..], stranger_addr));
        // (`a` is connected to `b`, but sends to others with send_to.)
        a.send_to(b"two", open_addr).await.unwrap();
        let (n, from) = open.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"two"[..], a_addr));

        // Truncation: the rest of the datagram is discarded, not delivered
        // later; the length reported is the buffer's (Linux, no MSG_TRUNC).
        let long: Vec<u8> = (0..100u8).collect();
        stranger.send_to(&long, open_addr).await.unwrap();
        stranger.send_to(b"next", open_addr).await.unwrap();
        let mut small = [0; 10];
        let (n, from) = open.recv_from(&mut small).await.unwrap();
        assert_eq!(n, small.len());
        assert_eq!(&small[..], &long[..10]);
        assert_eq!(from, stranger_addr);
        let (n, _) = open.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"next", "the truncated tail was delivered");
        // Same through a connected socket's recv.
        a.send(&long).await.unwrap();
        let n = b.recv(&mut small).await.unwrap();
        assert_eq!((n, &small[..]), (10, &long[..10]));

        // An empty datagram is a datagram.
        a.send(b"").await.unwrap();
        assert_eq!(b.recv(&mut buf).await.unwrap(), 0);
    });
}

/// Each socket is one reactor registration while it lives, and none after it
/// is dropped, whether or not a task was waiting on it.
#[test]
fn dropping_sockets_deregisters_them() {
    block_on(2, |_| async {
        let baseline = io_sources();
        let sockets: Vec<UdpSocket> = (0..20)
            .map(|_| UdpSocket::bind(LOCALHOST).unwrap())
            .collect();
        assert_eq!(io_sources(), baseline + 20);
        drop(sockets);
        assert_eq!(io_sources(), baseline);

        // A socket whose receiving task was cancelled mid-wait.
        let lonely = UdpSocket::bind(LOCALHOST).unwrap();
        assert_eq!(io_sources(), baseline + 1);
        let waiter = weft::spawn(async move {
            let mut buf = [0; 8];
            lonely.recv_from(&mut buf).await
        });
        weft::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiter.done(), "recv_from finished with no datagram sent");
        waiter.cancel();
        assert!(waiter.await.is_err());
        assert_eq!(io_sources(), baseline);

        // A socket that delivered its datagram inside a finished task.
        let rx = UdpSocket::bind(LOCALHOST).unwrap();
        let rx_addr = rx.local_addr().unwrap();
        let receiver = weft::spawn(async move {
            let mut buf = [0; 8];
            rx.recv_from(&mut buf).await.unwrap().0
        });
        let tx = UdpSocket::bind(LOCALHOST).unwrap();
        tx.send_to(b"bye", rx_addr).await.unwrap();
        assert_eq!(receiver.await.unwrap(), 3);
        assert_eq!(io_sources(), baseline + 1);
        drop(tx);
        assert_eq!(io_sources(), baseline);
    });
}

/// Outside a weft runtime, binding is an `Other` error, never a panic.
#[test]
fn binding_outside_a_runtime_is_an_other_error() {
    watchdog(|| {
        let err = UdpSocket::bind(LOCALHOST).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Other, "{err:?}");
        let err = UdpSocket::from_std(std::net::UdpSocket::bind(LOCALHOST).unwrap()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Other, "{err:?}");
    });
}
