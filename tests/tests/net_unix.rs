//! Unix domain sockets on the reactor (`weft::net::{UnixListener, UnixStream,
//! UnixDatagram}`): echo over a path and over an abstract name, split halves,
//! peer credentials, datagrams (bound, unbound, pairs, connected), the two
//! errors of their own (a path too long, a socket file already there), a
//! listener's file left behind on drop, a full backlog, many clients with
//! every socket accounted for, and sockets made outside a runtime.
//!
//! Every test runs under the common watchdog, so a broken runtime fails the test
//! instead of hanging the suite. Socket files live in the temporary directory,
//! named by test and process, and are removed by [`SocketPath`]'s drop.

mod common;

use common::{block_on, io_sources, wait_until, watchdog};
use futures_util::{AsyncReadExt, AsyncWriteExt, StreamExt};
use std::io::ErrorKind;
use std::net::Shutdown;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use weft::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use weft::net::{UnixDatagram, UnixListener, UnixStream};

/// A socket path unique to this test and process, removed (if there) when
/// dropped, so a failed test leaves nothing behind for the next run.
struct SocketPath(PathBuf);

impl SocketPath {
    fn new(name: &str) -> SocketPath {
        let path = std::env::temp_dir().join(format!("weft-{}-{name}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        SocketPath(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for SocketPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// How many sockets of this network namespace are bound to `path`
/// (/proc/net/unix): a listener and every connection it accepted. Other
/// tests bind other paths, so the count is this test's alone.
fn sockets_bound_to(path: &Path) -> usize {
    let table = std::fs::read_to_string("/proc/net/unix").expect("read /proc/net/unix");
    let path = path.to_str().unwrap();
    table
        .lines()
        .skip(1)
        .filter(|l| l.split_whitespace().nth(7) == Some(path))
        .count()
}

/// This process's real uid and gid, from /proc (the tests crate has no libc
/// for getuid).
fn our_uid_gid() -> (u32, u32) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> u32 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (field("Uid:"), field("Gid:"))
}

/// Accepts one connection and echoes what it reads until end of stream.
async fn echo_once(listener: UnixListener) {
    let (mut conn, _) = listener.accept().await.unwrap();
    let mut buf = [0; 1024];
    loop {
        let n = conn.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        conn.write_all(&buf[..n]).await.unwrap();
    }
}

/// Writes `msg`, closes the write half, reads the echo to the end.
async fn round_trip(mut client: UnixStream, msg: &[u8]) -> Vec<u8> {
    client.write_all(msg).await.unwrap();
    client.close().await.unwrap();
    let mut back = Vec::new();
    client.read_to_end(&mut back).await.unwrap();
    back
}

// ----- streams -----

#[test]
fn echo_over_a_path() {
    block_on(2, |_| async {
        let sock = SocketPath::new("echo");
        let listener = UnixListener::bind(sock.path()).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_pathname(),
            Some(sock.path())
        );
        let server = weft::spawn(echo_once(listener));
        let client = UnixStream::connect(sock.path()).await.unwrap();
        assert_eq!(client.peer_addr().unwrap().as_pathname(), Some(sock.path()));
        assert!(client.local_addr().unwrap().is_unnamed());
        let msg: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(round_trip(client, &msg).await, msg);
        server.await.unwrap();
    });
}

#[cfg(target_os = "linux")]
#[test]
fn echo_over_an_abstract_name() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;
    block_on(2, |_| async {
        let name = format!("weft-test-abstract-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixListener::bind_addr(&addr).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_abstract_name(),
            Some(name.as_bytes())
        );
        // No file appears: the name lives in the kernel.
        assert!(!Path::new(&name).exists());
        let server = weft::spawn(echo_once(listener));
        let client = UnixStream::connect_addr(&addr).await.unwrap();
        assert_eq!(round_trip(client, b"abstract").await, b"abstract");
        server.await.unwrap();
        // The listener is gone, and so is its name.
        let err = UnixStream::connect_addr(&addr).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    });
}

/// Owned halves in two tasks: one writes 1,000 numbered lines while the
/// other reads the echo; then the halves reunite and the stream still works.
#[test]
fn owned_halves_in_two_tasks_then_reunite() {
    block_on(2, |_| async {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let server = weft::spawn(async move {
            let (mut r, mut w) = theirs.split();
            futures_util::io::copy(&mut r, &mut w).await.unwrap();
        });
        let (mut read, mut write) = ours.into_split();
        let expected: Vec<u8> = (0..1000)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        let sent = expected.clone();
        let writer = weft::spawn(async move {
            for line in sent.chunks(7) {
                write.write_all(line).await.unwrap();
            }
            write
        });
        let reader = weft::spawn(async move {
            let mut got = vec![0; expected.len()];
            read.read_exact(&mut got).await.unwrap();
            assert!(got == expected, "echo differs from what was written");
            read
        });
        let write: OwnedWriteHalf = writer.await.unwrap();
        let read: OwnedReadHalf = reader.await.unwrap();
        let mut stream = read.reunite(write).unwrap();
        stream.write_all(b"after").await.unwrap();
        let mut buf = [0; 5];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"after");
        drop(stream);
        server.await.unwrap();
    });
}

#[test]
fn halves_of_different_streams_do_not_reunite() {
    block_on(1, |_| async {
        let (a, _a2) = UnixStream::pair().unwrap();
        let (b, _b2) = UnixStream::pair().unwrap();
        let (ra, _wa) = a.into_split();
        let (_rb, wb) = b.into_split();
        let (ra, wb) = ra.reunite(wb).unwrap_err();
        assert!(!std::ptr::eq(ra.as_stream(), wb.as_stream()));
    });
}

/// Borrowed halves read and write at once within one task.
#[test]
fn borrowed_halves_in_one_task() {
    block_on(1, |_| async {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut r, mut w) = a.split();
        let peer = async {
            let mut b = &b;
            let mut buf = [0; 3];
            b.read_exact(&mut buf).await.unwrap();
            b.write_all(&buf).await.unwrap();
        };
        let us = async {
            w.write_all(b"abc").await.unwrap();
            let mut back = [0; 3];
            r.read_exact(&mut back).await.unwrap();
            back
        };
        let ((), back) = futures_util::future::join(peer, us).await;
        assert_eq!(&back, b"abc");
    });
}

/// Both ends of an accepted connection, and of a pair, see this process's
/// uid, gid and pid.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn peer_cred_is_our_uid_gid_and_pid() {
    block_on(2, |_| async {
        let (uid, gid) = our_uid_gid();
        let pid = Some(std::process::id() as i32);
        let sock = SocketPath::new("cred");
        let listener = UnixListener::bind(sock.path()).unwrap();
        let client = UnixStream::connect(sock.path()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        for stream in [&client, &server] {
            let cred = stream.peer_cred().unwrap();
            assert_eq!((cred.uid(), cred.gid(), cred.pid()), (uid, gid, pid));
        }
        let (a, _b) = UnixStream::pair().unwrap();
        assert_eq!(a.peer_cred().unwrap().pid(), pid);
    });
}

#[test]
fn shutdown_write_is_end_of_stream_for_the_peer() {
    block_on(1, |_| async {
        let (a, mut b) = UnixStream::pair().unwrap();
        (&a).write_all(b"last").await.unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"last");
        // b can still write to a.
        b.write_all(b"reply").await.unwrap();
        let mut buf = [0; 5];
        (&a).read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"reply");
    });
}

/// 200 clients, 20 at a time, each with its own message; afterwards every
/// socket is gone: the reactor's registrations are back at their baseline and
/// no socket is bound to the path any more (the kernel's table, so a
/// descriptor leaked outside the reactor would show too).
#[test]
fn many_clients_leave_no_socket_behind() {
    const CLIENTS: usize = 200;
    const AT_ONCE: usize = 20;
    block_on(4, |_| async {
        let sock = SocketPath::new("many");
        let baseline = io_sources();
        let listener = UnixListener::bind(sock.path()).unwrap();
        assert_eq!(sockets_bound_to(sock.path()), 1);
        let served = Arc::new(AtomicUsize::new(0));
        let s = served.clone();
        let server = weft::spawn(async move {
            let mut incoming = listener.incoming();
            let mut conns = Vec::new();
            for _ in 0..CLIENTS {
                let mut conn = incoming.next().await.unwrap().unwrap();
                let s = s.clone();
                conns.push(weft::spawn(async move {
                    let mut msg = Vec::new();
                    conn.read_to_end(&mut msg).await.unwrap();
                    conn.write_all(&msg).await.unwrap();
                    s.fetch_add(1, Ordering::SeqCst);
                }));
            }
            for c in conns {
                c.await.unwrap();
            }
            // The listener drops here.
        });
        for wave in (0..CLIENTS).step_by(AT_ONCE) {
            let clients: Vec<_> = (wave..wave + AT_ONCE)
                .map(|i| {
                    let path = sock.path().to_owned();
                    weft::spawn(async move {
                        let client = UnixStream::connect(&path).await.unwrap();
                        let msg = format!("client {i}").into_bytes();
                        assert_eq!(round_trip(client, &msg).await, msg);
                    })
                })
                .collect();
            for c in clients {
                c.await.unwrap();
            }
        }
        server.await.unwrap();
        assert_eq!(served.load(Ordering::SeqCst), CLIENTS);
        assert_eq!(io_sources(), baseline, "leaked reactor registrations");
        assert_eq!(sockets_bound_to(sock.path()), 0, "leaked server sockets");
    });
}

/// A listener with a backlog of 1 that accepts nothing yet: the kernel
/// refuses the further non-blocking connects (EAGAIN), which must wait and
/// retry, not fail and not block the thread. Once the listener accepts,
/// every client gets through.
#[test]
fn connects_beyond_a_full_backlog_wait_and_retry() {
    const CLIENTS: usize = 6;
    block_on(1, |_| async {
        let sock = SocketPath::new("backlog");
        let raw = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
        raw.bind(&socket2::SockAddr::unix(sock.path()).unwrap())
            .unwrap();
        raw.listen(1).unwrap();
        let listener = UnixListener::from_std(std::os::fd::OwnedFd::from(raw).into()).unwrap();
        let connected = Arc::new(AtomicUsize::new(0));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (path, connected) = (sock.path().to_owned(), connected.clone());
                weft::spawn(async move {
                    let s = UnixStream::connect(&path).await.unwrap();
                    connected.fetch_add(1, Ordering::SeqCst);
                    s
                })
            })
            .collect();
        // With one worker, this sleep lets every client try; at most the
        // backlog's worth (plus one, on Linux) get in.
        weft::sleep(common::ms(50)).await;
        let early = connected.load(Ordering::SeqCst);
        assert!(early < CLIENTS, "{early} connects went past a backlog of 1");
        let mut accepted = Vec::new();
        for _ in 0..CLIENTS {
            accepted.push(listener.accept().await.unwrap().0);
        }
        for c in clients {
            c.await.unwrap();
        }
        assert_eq!(connected.load(Ordering::SeqCst), CLIENTS);
    });
}

// ----- datagrams -----

#[test]
fn datagrams_between_bound_sockets_carry_the_sender() {
    block_on(2, |_| async {
        let (a_path, b_path) = (SocketPath::new("dgram-a"), SocketPath::new("dgram-b"));
        let a = UnixDatagram::bind(a_path.path()).unwrap();
        let b = UnixDatagram::bind(b_path.path()).unwrap();
        for i in 0..50u8 {
            let msg = vec![i; 1 + i as usize * 13];
            assert_eq!(a.send_to(&msg, b_path.path()).await.unwrap(), msg.len());
            let mut buf = [0; 1024];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &msg[..]);
            assert_eq!(from.as_pathname(), Some(a_path.path()));
        }
        // A datagram longer than the buffer is truncated.
        a.send_to(&[7; 100], b_path.path()).await.unwrap();
        let mut small = [0; 10];
        assert_eq!(b.recv(&mut small).await.unwrap(), 10);
        // Connected: send / recv, and peer_addr.
        a.connect(b_path.path()).unwrap();
        assert_eq!(a.peer_addr().unwrap().as_pathname(), Some(b_path.path()));
        a.send(b"connected").await.unwrap();
        let mut buf = [0; 16];
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"connected");
    });
}

#[test]
fn datagram_pair_and_unbound_sender() {
    block_on(2, |_| async {
        let baseline = io_sources();
        let (a, b) = UnixDatagram::pair().unwrap();
        assert_eq!(io_sources(), baseline + 2);
        // A receiver on another task, a burst of 100 datagrams, in order.
        let receiver = weft::spawn(async move {
            let mut buf = [0; 8];
            for i in 0..100u32 {
                let n = b.recv(&mut buf).await.unwrap();
                assert_eq!(&buf[..n], &i.to_le_bytes());
            }
        });
        for i in 0..100u32 {
            a.send(&i.to_le_bytes()).await.unwrap();
        }
        receiver.await.unwrap();
        drop(a);
        assert_eq!(io_sources(), baseline);

        let sock = SocketPath::new("dgram-unbound");
        let server = UnixDatagram::bind(sock.path()).unwrap();
        let client = UnixDatagram::unbound().unwrap();
        client.send_to(b"anon", sock.path()).await.unwrap();
        let mut buf = [0; 8];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"anon");
        assert!(from.is_unnamed());
    });
}

#[cfg(target_os = "linux")]
#[test]
fn datagram_over_an_abstract_name() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;
    block_on(1, |_| async {
        let name = format!("weft-test-dgram-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let server = UnixDatagram::bind_addr(&addr).unwrap();
        let client = UnixDatagram::unbound().unwrap();
        client.connect_addr(&addr).unwrap();
        client.send(b"hello").await.unwrap();
        let mut buf = [0; 8];
        let n = server.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
    });
}

// ----- errors -----

/// A path one byte past what `sun_path` holds is refused before any system
/// call, by every call that takes a path, with the same clear error.
#[test]
fn a_path_too_long_is_invalid_input_everywhere() {
    block_on(1, |_| async {
        let long = std::env::temp_dir().join("p".repeat(120));
        let check = |err: std::io::Error| {
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
            assert!(err.to_string().contains("path too long"), "{err}");
        };
        check(UnixListener::bind(&long).unwrap_err());
        check(UnixStream::connect(&long).await.unwrap_err());
        check(UnixDatagram::bind(&long).unwrap_err());
        let d = UnixDatagram::unbound().unwrap();
        check(d.connect(&long).unwrap_err());
        check(d.send_to(b"x", &long).await.unwrap_err());
        assert!(!long.exists());
        // 107 bytes (the most Linux takes) is still a valid path length: the
        // limit is exactly sun_path's.
        let dir = std::env::temp_dir();
        let fill = 107 - dir.as_os_str().len() - 1;
        let edge = SocketPath(dir.join("e".repeat(fill)));
        assert_eq!(edge.path().as_os_str().len(), 107);
        UnixListener::bind(edge.path()).unwrap();
        let over = dir.join("e".repeat(fill + 1));
        check(UnixListener::bind(&over).unwrap_err());
    });
}

/// Binding where a socket file exists is `AddrInUse` naming the path, the
/// file is not removed (the first listener still serves), and dropping a
/// listener leaves its file behind. A stale file refuses connections.
#[test]
fn an_existing_socket_file_is_addr_in_use_and_never_removed() {
    block_on(2, |_| async {
        let sock = SocketPath::new("in-use");
        let first = UnixListener::bind(sock.path()).unwrap();
        let err = UnixListener::bind(sock.path()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
        assert!(
            err.to_string().contains(sock.path().to_str().unwrap()),
            "{err}"
        );
        let err = UnixDatagram::bind(sock.path()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
        assert!(
            err.to_string().contains(sock.path().to_str().unwrap()),
            "{err}"
        );
        // The first listener still serves.
        let server = weft::spawn(echo_once(first));
        let client = UnixStream::connect(sock.path()).await.unwrap();
        assert_eq!(round_trip(client, b"still here").await, b"still here");
        server.await.unwrap();
        // The listener is dropped; its file stays, and refuses connections.
        let meta = std::fs::metadata(sock.path()).unwrap();
        assert!(meta.file_type().is_socket());
        let err = UnixStream::connect(sock.path()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        assert_eq!(
            UnixListener::bind(sock.path()).unwrap_err().kind(),
            ErrorKind::AddrInUse
        );
        // No file at all: NotFound.
        let missing = SocketPath::new("missing");
        let err = UnixStream::connect(missing.path()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    });
}

#[cfg(target_os = "linux")]
#[test]
fn an_abstract_name_in_use_is_addr_in_use_naming_it() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;
    block_on(1, |_| async {
        let name = format!("weft-test-in-use-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let _first = UnixListener::bind_addr(&addr).unwrap();
        let err = UnixListener::bind_addr(&addr).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
        assert!(err.to_string().contains(&name), "{err}");
    });
}

#[test]
fn sockets_made_outside_a_runtime_are_other_errors() {
    watchdog(|| {
        let sock = SocketPath::new("outside");
        let err = UnixListener::bind(sock.path()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Other);
        let err = UnixDatagram::bind(sock.path()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Other);
        // Neither left a socket file behind.
        assert!(!sock.path().exists());
        assert_eq!(UnixStream::pair().unwrap_err().kind(), ErrorKind::Other);
        assert_eq!(UnixDatagram::pair().unwrap_err().kind(), ErrorKind::Other);
        assert_eq!(
            UnixDatagram::unbound().unwrap_err().kind(),
            ErrorKind::Other
        );
    });
}

/// An accept loop keeps serving after a client vanishes before it is read.
#[test]
fn a_vanishing_client_does_not_stop_the_accept_loop() {
    block_on(2, |_| async {
        let sock = SocketPath::new("vanish");
        let listener = UnixListener::bind(sock.path()).unwrap();
        let served = Arc::new(AtomicUsize::new(0));
        let s = served.clone();
        let server = weft::spawn(async move {
            for _ in 0..2 {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut buf = Vec::new();
                // The vanished client's stream ends at once.
                conn.read_to_end(&mut buf).await.unwrap();
                let _ = conn.write_all(&buf).await;
                s.fetch_add(1, Ordering::SeqCst);
            }
        });
        drop(UnixStream::connect(sock.path()).await.unwrap());
        wait_until("the vanished client to be served", || {
            served.load(Ordering::SeqCst) == 1
        })
        .await;
        let client = UnixStream::connect(sock.path()).await.unwrap();
        assert_eq!(round_trip(client, b"next").await, b"next");
        server.await.unwrap();
    });
}
