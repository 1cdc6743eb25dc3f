//! TCP on the reactor (`weft::net::{TcpListener, TcpStream}`), over loopback:
//! many concurrent echo connections with no leaked registrations, resets,
//! vanishing clients, refused / in-use addresses, half-close, data and FIN in
//! one readiness edge, urgent data, split halves, `incoming()`, the cooperative
//! budget of always-ready reads, and sockets made outside a runtime.
//!
//! Every test runs under the common watchdog, so a broken runtime fails the test
//! instead of hanging the suite.

mod common;

use common::{block_on, io_sources, pattern, spin_until, wait_until, watchdog};
use futures_util::{AsyncReadExt, AsyncWriteExt, StreamExt};
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};
use weft::net::{TcpListener, TcpStream};
use weft::{Handle, Promise};

const LOCALHOST: &str = "127.0.0.1:0";

/// The soft `RLIMIT_NOFILE` of this process, from /proc (the tests crate has no
/// libc); `None` where it cannot be read or is unlimited.
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

// ----- many concurrent connections -----

/// 1,000 clients through one listener, each echoing its own 4 KiB pattern, every
/// byte checked. All 1,000 connections (2,000 sockets plus the listener) are held
/// open at once, which `io_sources` confirms; after everything is dropped it is
/// back where it started.
///
/// That needs about 2,000 file descriptors (the sandbox's soft limit is 20,000).
/// Should the limit be lower, the clients go in waves, each as large as the
/// limit allows, and only a wave's connections are open at once.
#[test]
fn thousand_concurrent_echo_connections_through_one_listener() {
    const CLIENTS: usize = 1_000;
    const LEN: usize = 4 * 1024;
    // Room for the other tests of this binary, which run on parallel threads.
    const SPARE_FDS: usize = 256;
    // Clients connect in bursts, each once the previous one is accepted, so
    // the accept queue never holds more than the listen backlog std's bind
    // uses (128): overflowing it drops handshakes, which the kernel retries
    // only after its 1 s SYN timeout (a burst of all 1,000 works, but takes
    // seconds). Connections stay open across bursts, so all 1,000 are still
    // open at once.
    const CONNECT_BURST: usize = 100;
    let wave = match open_files_limit() {
        Some(limit) => ((limit.saturating_sub(SPARE_FDS)) / 2).clamp(1, CLIENTS),
        None => CLIENTS,
    };
    let started = Instant::now();
    let max_open = block_on(4, move |_| async move {
        let baseline = io_sources();
        let listener = TcpListener::bind(LOCALHOST).unwrap();
        let addr = listener.local_addr().unwrap();
        assert_eq!(io_sources(), baseline + 1);

        // The server: accepts exactly CLIENTS connections, one echo task each.
        // An echo task reads its client's 4 KiB, writes it back, then reads
        // until the client closes (Ok(0)).
        let accepted = Arc::new(AtomicUsize::new(0));
        let acc = accepted.clone();
        let server = weft::spawn(async move {
            let mut conns = Vec::with_capacity(CLIENTS);
            for _ in 0..CLIENTS {
                let (mut conn, peer) = listener.accept().await.unwrap();
                acc.fetch_add(1, Ordering::SeqCst);
                assert_eq!(conn.peer_addr().unwrap(), peer);
                conns.push(weft::spawn(async move {
                    let mut buf = vec![0; LEN];
                    conn.read_exact(&mut buf).await.unwrap();
                    conn.write_all(&buf).await.unwrap();
                    let mut rest = [0; 16];
                    assert_eq!(conn.read(&mut rest).await.unwrap(), 0, "client sent extra");
                }));
            }
            // The listener is dropped here, before the echo tasks end.
            conns
        });

        let echoed = Arc::new(AtomicUsize::new(0));
        let mut clients = Vec::with_capacity(CLIENTS);
        let mut max_open = 0;
        for first in (0..CLIENTS).step_by(wave) {
            let last = (first + wave).min(CLIENTS);
            // Clients hold their connection open until the gate opens.
            let gate = Promise::<()>::new();
            let mut this_wave = Vec::with_capacity(last - first);
            for i in first..last {
                if i > first && i % CONNECT_BURST == 0 {
                    wait_until("the previous burst of clients to be accepted", || {
                        accepted.load(Ordering::SeqCst) == i
                    })
                    .await;
                }
                let (gate, echoed) = (gate.clone(), echoed.clone());
                this_wave.push(weft::spawn(async move {
                    let mut conn = TcpStream::connect(addr).await.unwrap();
                    let data = pattern(i, LEN);
                    conn.write_all(&data).await.unwrap();
                    let mut back = vec![0; LEN];
                    conn.read_exact(&mut back).await.unwrap();
                    assert!(
                        back == data,
                        "connection {i}: echo differs from what was sent"
                    );
                    echoed.fetch_add(1, Ordering::SeqCst);
                    gate.await.unwrap();
                    // Dropping `conn` closes it: the echo task reads Ok(0).
                }));
            }
            wait_until("every client of the wave to get its echo", || {
                echoed.load(Ordering::SeqCst) == last
            })
            .await;
            // Every connection of the wave is open now: both ends registered.
            // (Server ends of earlier waves may still be closing.)
            let open = io_sources() - baseline;
            assert!(
                open >= 2 * (last - first) && open <= 2 * CLIENTS + 1,
                "{open} sockets registered with {} connections open",
                last - first
            );
            max_open = max_open.max(open);
            if wave == CLIENTS {
                // The server accepted its last client, so its listener is gone
                // or about to go; both ends of all 1,000 connections are open.
                assert!(
                    open == 2 * CLIENTS || open == 2 * CLIENTS + 1,
                    "{open} sockets registered with 1,000 connections open"
                );
            }
            gate.set_result(()).unwrap();
            clients.extend(this_wave);
        }
        for client in clients {
            client.await.unwrap();
        }
        for conn in server.await.unwrap() {
            conn.await.unwrap();
        }
        assert_eq!(echoed.load(Ordering::SeqCst), CLIENTS);
        // Every socket, the listener included, is deregistered.
        assert_eq!(io_sources(), baseline, "leaked reactor registrations");
        max_open
    });
    eprintln!(
        "1,000 echo connections in waves of {wave} ({max_open} sockets open at the peak) took {:?}",
        started.elapsed()
    );
}

// ----- resets and vanishing peers -----

/// The client writes, the server reads part of it, then the client closes with
/// SO_LINGER=0 (a RST). The server's reads end in `ConnectionReset` (or Ok(0),
/// which some kernels report), and a write after that fails.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn peer_reset_mid_stream_is_an_error_not_a_panic() {
    let listener = TcpListener::bind(LOCALHOST).unwrap();
    let addr = listener.local_addr().unwrap();
    // A plain blocking client: connecting to a listening loopback socket
    // completes in the kernel, without waiting for accept.
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    client.write_all(&pattern(7, 1024)).unwrap();
    let (mut conn, _) = listener.accept().await.unwrap();
    let mut first = [0; 512];
    conn.read_exact(&mut first).await.unwrap();
    assert_eq!(&first[..], &pattern(7, 1024)[..512]);

    socket2::SockRef::from(&client)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(client); // sends RST

    // Whatever is still queued may come first; then the reset.
    let mut buf = [0; 4096];
    let mut extra = 0;
    let end = loop {
        match conn.read(&mut buf).await {
            Ok(0) => break Ok(0),
            Ok(n) => {
                extra += n;
                assert!(extra <= 512, "read more than the client sent");
            }
            Err(e) => break Err(e),
        }
    };
    eprintln!("read after the reset: {end:?}, after {extra} more bytes");
    match &end {
        Ok(0) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        other => panic!("read after a reset gave {other:?}"),
    }
    // Writing to a reset connection fails (at once, or once the peer's RST
    // for the first segment has come back).
    let mut write_err = None;
    for _ in 0..50 {
        match conn.write(b"are you there?").await {
            Ok(_) => weft::sleep(Duration::from_millis(10)).await,
            Err(e) => {
                write_err = Some(e);
                break;
            }
        }
    }
    let e = write_err.expect("writes to a reset connection kept succeeding");
    assert!(
        matches!(
            e.kind(),
            io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::NotConnected
        ),
        "unexpected write error {e:?}"
    );
    // Reading again does not hang or panic either.
    let again = conn.read(&mut buf).await;
    assert!(
        matches!(&again, Ok(0)) || again.is_err(),
        "read after the error gave {again:?}"
    );
}

/// Clients connect and vanish without sending anything: every per-connection
/// read ends with Ok(0), the accept loop is unharmed and serves a client that
/// does talk afterwards, and no registration leaks.
#[test]
fn clients_that_vanish_do_not_wedge_the_server() {
    const VANISHING: usize = 64;
    block_on(2, |_| async {
        let baseline = io_sources();
        let listener = Arc::new(TcpListener::bind(LOCALHOST).unwrap());
        let addr = listener.local_addr().unwrap();
        let eofs = Arc::new(AtomicUsize::new(0));
        let l = listener.clone();
        let e = eofs.clone();
        let server = weft::spawn(async move {
            let mut conns = Vec::new();
            // The vanishing ones, then one that says "ping".
            for _ in 0..=VANISHING {
                let (mut conn, _) = l.accept().await.unwrap();
                let e = e.clone();
                conns.push(weft::spawn(async move {
                    let mut buf = [0; 4];
                    match conn.read(&mut buf).await.unwrap() {
                        0 => {
                            e.fetch_add(1, Ordering::SeqCst);
                        }
                        n => {
                            conn.read_exact(&mut buf[n..]).await.unwrap();
                            assert_eq!(&buf, b"ping");
                            conn.write_all(b"pong").await.unwrap();
                        }
                    }
                }));
            }
            conns
        });

        // Half of them through weft, half plain blocking sockets.
        for i in 0..VANISHING {
            if i % 2 == 0 {
                drop(TcpStream::connect(addr).await.unwrap());
            } else {
                drop(std::net::TcpStream::connect(addr).unwrap());
            }
        }
        wait_until("every vanished client's read to end", || {
            eofs.load(Ordering::SeqCst) == VANISHING
        })
        .await;

        let mut talker = TcpStream::connect(addr).await.unwrap();
        talker.write_all(b"ping").await.unwrap();
        let mut reply = [0; 4];
        talker.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"pong");
        drop(talker);

        for conn in server.await.unwrap() {
            conn.await.unwrap();
        }
        assert_eq!(eofs.load(Ordering::SeqCst), VANISHING);
        assert_eq!(io_sources(), baseline + 1, "only the listener is left");
        drop(listener);
        assert_eq!(io_sources(), baseline);
    });
}

// ----- connect / bind errors -----

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn connecting_to_a_closed_port_is_refused() {
    let baseline = io_sources();
    let addr = {
        let std_listener = std::net::TcpListener::bind(LOCALHOST).unwrap();
        std_listener.local_addr().unwrap()
    }; // dropped: nothing listens there now
    let err = TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err:?}");
    // The failed attempt's socket is deregistered.
    assert_eq!(io_sources(), baseline);
}

#[weft::test(workers = 1, time_limit = common::WATCHDOG)]
async fn binding_an_address_in_use_fails_with_addr_in_use() {
    let baseline = io_sources();
    let first = TcpListener::bind(LOCALHOST).unwrap();
    let addr = first.local_addr().unwrap();
    let err = TcpListener::bind(addr).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err:?}");
    // Also against a listener weft did not make.
    let std_listener = std::net::TcpListener::bind(LOCALHOST).unwrap();
    let err = TcpListener::bind(std_listener.local_addr().unwrap()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err:?}");
    assert_eq!(io_sources(), baseline + 1);
    drop(first);
    // Free again once the first listener is gone.
    let again = TcpListener::bind(addr).unwrap();
    assert_eq!(again.local_addr().unwrap(), addr);
}

// ----- half-close -----

/// After the peer shuts down its write half, reads return Ok(0), every time;
/// after our own `shutdown(Write)`, writes fail with an io::Error (BrokenPipe on
/// Linux) while reading still works.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn half_close_reads_end_of_stream_and_writes_after_shutdown_fail() {
    let listener = TcpListener::bind(LOCALHOST).unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) =
        futures_util::future::join(TcpStream::connect(addr), listener.accept()).await;
    let mut client = client.unwrap();
    let (mut server, peer) = accepted.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(server.local_addr().unwrap(), addr);
    assert_eq!(client.peer_addr().unwrap(), addr);
    assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());

    client.set_nodelay(true).unwrap();
    assert!(client.nodelay().unwrap());
    client.set_nodelay(false).unwrap();
    assert!(!client.nodelay().unwrap());

    client.write_all(b"last words").await.unwrap();
    client.shutdown(Shutdown::Write).unwrap();

    let mut got = Vec::new();
    server.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"last words");
    let mut buf = [0; 8];
    for _ in 0..5 {
        assert_eq!(server.read(&mut buf).await.unwrap(), 0);
    }

    // Our write half is shut: writing fails, without a panic or SIGPIPE.
    let err = client.write(b"more").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err:?}");
    let err = client.write_all(b"more").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err:?}");
    // Closing an already shut-down write half is fine.
    client.close().await.unwrap();

    // The other direction still works.
    server.write_all(b"reply").await.unwrap();
    server.close().await.unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply, b"reply");
    assert_eq!(client.read(&mut buf).await.unwrap(), 0);
}

/// The peer's data and its FIN (shut down, or closed) are both queued before
/// the accepted socket is registered, so they arrive as one readiness edge.
/// Reads that come back short (which may forget the read readiness) must
/// still see the end of stream: no read may wait for an edge that never
/// comes. Buffers smaller than the data make the last data read the short
/// one; larger buffers make the first one short.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn data_and_fin_in_one_edge_still_reach_end_of_stream() {
    let listener = TcpListener::bind(LOCALHOST).unwrap();
    let addr = listener.local_addr().unwrap();
    for (round, (len, buf_len, close)) in [
        (1, 4096, false),
        (64, 4096, true),
        (100, 64, false),
        (3000, 1024, true),
        (128, 64, false),
    ]
    .into_iter()
    .enumerate()
    {
        let sent = pattern(round, len);
        // A plain blocking std socket: everything is in the server's
        // receive queue before weft sees the connection.
        let mut peer = std::net::TcpStream::connect(addr).unwrap();
        peer.write_all(&sent).unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        // Closed, or only shut down for writing (kept open meanwhile).
        let _peer = (!close).then_some(peer);
        let (mut conn, _) = listener.accept().await.unwrap();
        let reader = weft::spawn(async move {
            let mut got = Vec::new();
            let mut buf = vec![0; buf_len];
            loop {
                match conn.read(&mut buf).await.unwrap() {
                    0 => break,
                    n => got.extend_from_slice(&buf[..n]),
                }
            }
            assert_eq!(conn.read(&mut buf).await.unwrap(), 0, "end of stream again");
            got
        });
        let got = weft::wait_for(reader, Some(Duration::from_secs(10)))
            .await
            .unwrap_or_else(|e| panic!("round {round}: the reader waited for ever: {e}"));
        assert_eq!(got, sent, "round {round}");
    }
}

/// Urgent data: a read stops at the urgent mark, so it comes back short with
/// more to read; that must not leave the reader waiting for an edge that
/// never comes (the Linux selector registers `EPOLLPRI` for this). The peer
/// stays open, so the end of stream cannot rescue the read.
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_read_cut_short_by_urgent_data_still_gets_the_rest() {
    let listener = TcpListener::bind(LOCALHOST).unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = socket2::Socket::from(std::net::TcpStream::connect(addr).unwrap());
    assert_eq!(peer.send(b"abc").unwrap(), 3);
    assert_eq!(peer.send_out_of_band(b"!").unwrap(), 1);
    assert_eq!(peer.send(b"def").unwrap(), 3);
    // Everything is queued before the accepted socket is registered.
    std::thread::sleep(Duration::from_millis(20));
    let (mut conn, _) = listener.accept().await.unwrap();
    let reader = weft::spawn(async move {
        let mut got = Vec::new();
        let mut buf = [0; 64];
        while got.len() < 6 {
            let n = conn.read(&mut buf).await.unwrap();
            assert_ne!(n, 0, "the peer is still open");
            got.extend_from_slice(&buf[..n]);
        }
        got
    });
    let got = weft::wait_for(reader, Some(Duration::from_secs(10)))
        .await
        .expect("the reader waited for ever after the urgent mark");
    // The urgent byte is out of band (SO_OOBINLINE is off).
    assert_eq!(got, b"abcdef");
    drop(peer);
}

// ----- name lookup -----

/// `lookup_host` resolves on the blocking pool (a name, a pair, a literal),
/// and its results connect; bad input is an `InvalidInput` error, and outside
/// a runtime it is an `Other` error, never a panic.
#[test]
fn lookup_host_resolves_off_the_loop_and_reports_bad_input() {
    block_on(2, |_| async {
        let listener = TcpListener::bind(LOCALHOST).unwrap();
        let port = listener.local_addr().unwrap().port();

        let named = weft::net::lookup_host(format!("localhost:{port}"))
            .await
            .unwrap();
        assert!(!named.is_empty());
        assert!(named
            .iter()
            .all(|a| a.port() == port && a.ip().is_loopback()));

        let pair = weft::net::lookup_host(("127.0.0.1", port)).await.unwrap();
        assert_eq!(pair, [listener.local_addr().unwrap()]);
        let (client, accepted) =
            futures_util::future::join(TcpStream::connect(&pair[..]), listener.accept()).await;
        assert_eq!(client.unwrap().peer_addr().unwrap(), pair[0]);
        accepted.unwrap();

        let err = weft::net::lookup_host("no port here").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err:?}");
    });
    let err = futures_util::FutureExt::now_or_never(weft::net::lookup_host("127.0.0.1:1"))
        .expect("fails at once")
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Other, "{err:?}");
}

// ----- split -----

/// Echoes everything it reads on one accepted connection, then closes its
/// write half.
async fn echo_one(listener: TcpListener) {
    let (conn, _) = listener.accept().await.unwrap();
    let n = futures_util::io::copy(&conn, &mut &conn).await.unwrap();
    assert!(n > 0);
    (&conn).close().await.unwrap();
}

/// Owned halves in two tasks: one writes 1 MiB while the other reads the echo
/// (neither could finish alone: the buffers are far smaller than 1 MiB), then
/// `reunite` gives back a working stream.
#[test]
fn owned_halves_read_and_write_from_different_tasks_and_reunite() {
    const LEN: usize = 1 << 20;
    block_on(2, |_| async {
        let baseline = io_sources();
        let listener = TcpListener::bind(LOCALHOST).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = weft::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            // Echo, then answer one last message after the reunite.
            let (mut r, mut w) = conn.into_split();
            let mut buf = vec![0; 64 * 1024];
            let mut total = 0;
            while total < LEN {
                let n = r.read(&mut buf).await.unwrap();
                assert!(n > 0, "client closed early");
                w.write_all(&buf[..n]).await.unwrap();
                total += n;
            }
            let mut conn = r.reunite(w).unwrap();
            let mut tail = [0; 5];
            conn.read_exact(&mut tail).await.unwrap();
            assert_eq!(&tail, b"again");
            conn.write_all(b"AGAIN").await.unwrap();
        });

        let client = TcpStream::connect(addr).await.unwrap();
        let (mut r, mut w) = client.into_split();
        let data = Arc::new(pattern(99, LEN));
        let d = data.clone();
        let writer = weft::spawn(async move {
            for chunk in d.chunks(8 * 1024) {
                w.write_all(chunk).await.unwrap();
            }
            w
        });
        let reader = weft::spawn(async move {
            let mut back = vec![0; LEN];
            r.read_exact(&mut back).await.unwrap();
            (r, back)
        });
        let w = writer.await.unwrap();
        let (r, back) = reader.await.unwrap();
        assert!(back == *data, "echo through the owned halves differs");

        assert_eq!(r.as_stream().peer_addr().unwrap(), addr);
        assert_eq!(
            w.as_stream().local_addr().unwrap(),
            r.as_stream().local_addr().unwrap()
        );
        let mut client = r.reunite(w).expect("halves of one stream reunite");
        client.write_all(b"again").await.unwrap();
        let mut reply = [0; 5];
        client.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"AGAIN");
        server.await.unwrap();
        drop(client);
        assert_eq!(io_sources(), baseline);
    });
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn reuniting_halves_of_different_streams_gives_them_back() {
    let baseline = io_sources();
    let listener = TcpListener::bind(LOCALHOST).unwrap();
    let addr = listener.local_addr().unwrap();
    let a = TcpStream::connect(addr).await.unwrap();
    let (a_srv, _) = listener.accept().await.unwrap();
    let b = TcpStream::connect(addr).await.unwrap();
    let (b_srv, _) = listener.accept().await.unwrap();
    let (a_local, b_local) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let (ar, aw) = a.into_split();
    let (br, bw) = b.into_split();

    let (ar, bw) = match ar.reunite(bw) {
        Ok(_) => panic!("halves of different streams reunited"),
        Err(halves) => halves,
    };
    let (br, aw) = br.reunite(aw).expect_err("mismatched halves are refused");
    // Nothing was closed: all four halves still work...
    assert_eq!(ar.as_stream().local_addr().unwrap(), a_local);
    assert_eq!(bw.as_stream().local_addr().unwrap(), b_local);
    assert_eq!(io_sources(), baseline + 5);
    // ...and the right pairs still reunite.
    let mut a = ar.reunite(aw).expect("a's halves");
    let mut b = br.reunite(bw).expect("b's halves");
    assert_eq!(a.local_addr().unwrap(), a_local);
    assert_eq!(b.local_addr().unwrap(), b_local);
    for (stream, mut srv, msg) in [(&mut a, a_srv, b"to-a"), (&mut b, b_srv, b"to-b")] {
        srv.write_all(msg).await.unwrap();
        let mut got = [0; 4];
        stream.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, msg);
    }
    drop((a, b, listener));
    assert_eq!(io_sources(), baseline);
}

/// Borrowed halves (and `&TcpStream`) read and write at once within one task.
#[test]
fn borrowed_halves_read_and_write_concurrently_in_one_task() {
    const LEN: usize = 512 * 1024;
    block_on(2, |_| async {
        let listener = TcpListener::bind(LOCALHOST).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = weft::spawn(echo_one(listener));
        let stream = TcpStream::connect(addr).await.unwrap();
        let data = pattern(3, LEN);

        let (mut r, mut w) = stream.split();
        let write = async {
            w.write_all(&data).await.unwrap();
            // Closing the write half shuts it down: the echo server sees EOF.
            w.close().await.unwrap();
        };
        let read = async {
            let mut back = Vec::new();
            r.read_to_end(&mut back).await.unwrap();
            back
        };
        let ((), back) = futures_util::future::join(write, read).await;
        assert!(back == data, "echo through the borrowed halves differs");
        server.await.unwrap();

        // `&TcpStream` implements both traits too.
        let listener = TcpListener::bind(LOCALHOST).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = weft::spawn(echo_one(listener));
        let stream = TcpStream::connect(addr).await.unwrap();
        let write = async {
            let mut w = &stream;
            w.write_all(&data).await.unwrap();
            w.close().await.unwrap();
        };
        let read = async {
            let mut r = &stream;
            let mut back = Vec::new();
            r.read_to_end(&mut back).await.unwrap();
            back
        };
        let ((), back) = futures_util::future::join(write, read).await;
        assert!(back == data, "echo through &TcpStream differs");
        server.await.unwrap();
    });
}

// ----- incoming() -----

#[test]
fn incoming_yields_each_accepted_connection() {
    const N: usize = 5;
    block_on(2, |_| async {
        let baseline = io_sources();
        let listener = TcpListener::bind(LOCALHOST).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = weft::spawn(async move {
            let mut peers = Vec::new();
            let mut incoming = listener.incoming().take(N);
            while let Some(conn) = incoming.next().await {
                let mut conn = conn.unwrap();
                let mut byte = [0; 1];
                conn.read_exact(&mut byte).await.unwrap();
                conn.write_all(&[byte[0] + 100]).await.unwrap();
                peers.push(conn.peer_addr().unwrap());
            }
            peers
        });
        let mut locals = Vec::new();
        for i in 0..N as u8 {
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(&[i]).await.unwrap();
            let mut byte = [0; 1];
            c.read_exact(&mut byte).await.unwrap();
            assert_eq!(byte[0], i + 100);
            locals.push(c.local_addr().unwrap());
        }
        assert_eq!(server.await.unwrap(), locals);
        assert_eq!(io_sources(), baseline);
    });
}

// ----- cooperative budget -----

/// On a one-worker runtime, a task whose reads are always ready must still let
/// another task on that worker run.
///
/// The whole payload is queued in the reader's receive buffer before the reader
/// starts (checked with `peek`), so after its first read (which waits for the
/// reactor's first edge) not one of its ~8,000 small reads can return
/// `WouldBlock`: the only thing that makes the reader yield is the budget spent
/// in `PollIo::poll_io` (`coop::poll_proceed`). Without it the reader finishes
/// in one poll and the counter task does not move at all meanwhile, so this test
/// fails (checked by removing that call).
#[test]
fn always_ready_reads_do_not_starve_another_task_on_one_worker() {
    const PAYLOAD: usize = 32 * 1024; // well inside loopback's default buffers
    const CHUNK: usize = 4;
    block_on(1, |_| async {
        let listener = std::net::TcpListener::bind(LOCALHOST).unwrap();
        let mut writer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (reader_std, _) = listener.accept().unwrap();
        let data = pattern(5, PAYLOAD);
        writer.write_all(&data).unwrap();
        let mut peek = vec![0; PAYLOAD + 1];
        spin_until("the whole payload to reach the receive queue", || {
            reader_std.peek(&mut peek).unwrap() == PAYLOAD
        });

        let ticks = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (ticks.clone(), stop.clone());
        let ticker = weft::spawn(async move {
            while !s.load(Ordering::SeqCst) {
                t.fetch_add(1, Ordering::SeqCst);
                weft::yield_now().await;
            }
        });
        wait_until("the ticker to run", || ticks.load(Ordering::SeqCst) > 0).await;

        let t = ticks.clone();
        let reader = weft::spawn(async move {
            let mut stream = TcpStream::from_std(reader_std).unwrap();
            let mut got = vec![0; CHUNK];
            stream.read_exact(&mut got).await.unwrap();
            let before = t.load(Ordering::SeqCst);
            let mut buf = [0; CHUNK];
            while got.len() < PAYLOAD {
                let n = stream.read(&mut buf).await.unwrap();
                assert!(n > 0, "unexpected end of stream");
                got.extend_from_slice(&buf[..n]);
            }
            let after = t.load(Ordering::SeqCst);
            (got, before, after)
        });
        let (got, before, after) = reader.await.unwrap();
        stop.store(true, Ordering::SeqCst);
        ticker.await.unwrap();
        drop(writer);
        assert!(got == data, "payload corrupted");
        assert!(
            after > before,
            "the ticker did not run once during {} always-ready reads: \
             the reader starved it (counter stayed at {before})",
            PAYLOAD / CHUNK
        );
    });
}

// ----- outside a runtime -----

/// Making a socket outside a weft runtime is an `Other` error, never a panic;
/// `connect` fails on its first poll rather than waiting for a reactor that
/// is not there.
#[test]
fn sockets_made_outside_a_runtime_are_other_errors() {
    watchdog(|| {
        assert!(Handle::try_current().is_none());
        let err = TcpListener::bind(LOCALHOST).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Other, "{err:?}");

        let std_listener = std::net::TcpListener::bind(LOCALHOST).unwrap();
        let addr: SocketAddr = std_listener.local_addr().unwrap();
        let err = match common::poll_once(&mut pin!(TcpStream::connect(addr))) {
            Poll::Ready(Err(e)) => e,
            Poll::Ready(Ok(s)) => panic!("connected outside a runtime: {s:?}"),
            Poll::Pending => panic!("connect outside a runtime is pending forever"),
        };
        assert_eq!(err.kind(), io::ErrorKind::Other, "{err:?}");

        let err =
            TcpListener::from_std(std::net::TcpListener::bind(LOCALHOST).unwrap()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Other, "{err:?}");
        let std_stream = std::net::TcpStream::connect(addr).unwrap();
        let err = TcpStream::from_std(std_stream).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Other, "{err:?}");

        // The same calls work inside one, and fail again once it is gone.
        let rt = common::runtime(1);
        rt.block_on(async {
            let l = TcpListener::bind(LOCALHOST).unwrap();
            let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
            drop((c, l.accept().await.unwrap()));
        });
        drop(rt);
        let err = TcpListener::bind(LOCALHOST).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Other, "{err:?}");
    });
}
