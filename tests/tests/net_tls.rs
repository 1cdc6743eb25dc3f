//! TLS on weft's sockets: futures-rustls runs directly on `weft::net::TcpStream`
//! (a futures-io stream), a rustls client on weft talking to a rustls server on
//! weft over loopback, with a self-signed certificate made at the start.
//!
//! The server is written the way a real one should be: the accept loop only
//! accepts; each connection's task runs the TLS handshake under a
//! `weft::timeout` scope and then echoes. So a client that sends garbage gets
//! rustls's error (and its alert) on its own connection, and a client that
//! stalls in the middle of its ClientHello is cut when the handshake timeout
//! fires, while the server goes on accepting and serving everyone else. Each
//! test ends with the server stopped and the runtime's registered sockets and
//! live tasks back where they started.

mod common;
#[path = "../../crates/weft-hyper/examples/self_signed/mod.rs"]
mod self_signed;
#[path = "common/tls.rs"]
mod tls;

use common::{block_on, io_sources, live_tasks, pattern, sleep_until_true, Log};
use futures_rustls::rustls;
use futures_rustls::TlsAcceptor;
use futures_util::{AsyncReadExt, AsyncWriteExt};
use self_signed::Identity;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::net::{TcpListener, TcpStream};
use weft::Task;

/// What the server saw, connection by connection.
struct Stats {
    accepted: AtomicUsize,
    handshakes: AtomicUsize,
    timeouts: AtomicUsize,
    /// Each failed handshake's rustls error (see [`rustls_error`]).
    tls_errors: Log<rustls::Error>,
    /// Connections whose echo ran to the client's close_notify.
    echoed: AtomicUsize,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            accepted: AtomicUsize::new(0),
            handshakes: AtomicUsize::new(0),
            timeouts: AtomicUsize::new(0),
            tls_errors: Log::new(),
            echoed: AtomicUsize::new(0),
        }
    }
}

impl Stats {
    fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }
}

/// A TLS echo server on weft, and what is needed to prove it cleaned up.
struct Server {
    addr: SocketAddr,
    stats: Arc<Stats>,
    accept_loop: Task<()>,
    baseline_sources: usize,
    baseline_tasks: usize,
}

impl Server {
    /// Binds a loopback listener and spawns the accept loop. Each accepted
    /// connection gets its own task, which runs the handshake under a
    /// `handshake_timeout` scope and then echoes until the client's
    /// close_notify, answered with the server's own.
    fn start(acceptor: TlsAcceptor, handshake_timeout: Duration) -> Server {
        let baseline_sources = io_sources();
        let baseline_tasks = live_tasks();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(Stats::default());
        let st = stats.clone();
        let accept_loop = weft::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.expect("accept on loopback");
                st.accepted.fetch_add(1, Ordering::SeqCst);
                let (acceptor, st) = (acceptor.clone(), st.clone());
                weft::spawn(async move {
                    match weft::timeout(handshake_timeout)
                        .run(acceptor.accept(tcp))
                        .await
                    {
                        Err(_timed_out) => {
                            st.timeouts.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(Err(err)) => st.tls_errors.push(rustls_error(&err)),
                        Ok(Ok(mut stream)) => {
                            st.handshakes.fetch_add(1, Ordering::SeqCst);
                            let mut buf = vec![0; 16 * 1024];
                            loop {
                                let n = stream.read(&mut buf).await.expect("server read");
                                if n == 0 {
                                    break;
                                }
                                stream.write_all(&buf[..n]).await.expect("server write");
                            }
                            stream.close().await.expect("server close_notify");
                            st.echoed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
                .detach();
            }
        });
        Server {
            addr,
            stats,
            accept_loop,
            baseline_sources,
            baseline_tasks,
        }
    }

    /// Stops the accept loop and waits until every connection task has ended
    /// and every socket is deregistered: the runtime's counts are back where
    /// they were before [`start`](Self::start).
    async fn stop(self) {
        self.accept_loop.cancel();
        assert!(self.accept_loop.await.unwrap_err().is_cancelled());
        let (sources, tasks) = (self.baseline_sources, self.baseline_tasks);
        sleep_until_true(
            "the connection tasks to end and their sockets to close",
            || io_sources() == sources && live_tasks() == tasks,
        )
        .await;
    }
}

/// A rustls client on weft: handshakes with `connector`, sends `len` bytes of
/// its own pattern, reads them back, and closes with close_notify, after
/// which the server's close_notify ends the stream.
async fn echo_client(
    addr: SocketAddr,
    connector: futures_rustls::TlsConnector,
    seed: usize,
    len: usize,
) -> io::Result<()> {
    let tcp = TcpStream::connect(addr).await?;
    let mut stream = connector.connect(self_signed::server_name(), tcp).await?;
    let data = pattern(seed, len);
    stream.write_all(&data).await?;
    let mut back = vec![0; len];
    stream.read_exact(&mut back).await?;
    assert!(back == data, "connection {seed} got someone else's bytes");
    stream.close().await?;
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await?;
    assert!(
        rest.is_empty(),
        "the server sent {} extra bytes",
        rest.len()
    );
    Ok(())
}

/// The rustls error futures-rustls reports inside an `InvalidData` I/O
/// error; panics on any other I/O error (a reset, an early end of stream).
fn rustls_error(err: &io::Error) -> rustls::Error {
    assert_eq!(
        err.kind(),
        io::ErrorKind::InvalidData,
        "not a TLS error: {err}"
    );
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .unwrap_or_else(|| panic!("no rustls error inside {err:?}"))
        .clone()
}

// ----- echo -----

/// 16 rustls clients at once, each echoing 64 KiB (several TLS records each
/// way) through a rustls server, all on weft: every byte comes back to the
/// client that sent it, every connection ends with close_notify both ways,
/// and afterwards no task or socket is left.
#[test]
fn rustls_clients_echo_through_a_rustls_server_on_weft() {
    const CLIENTS: usize = 16;
    const LEN: usize = 64 * 1024;
    block_on(2, |_| async {
        let id = Identity::generate();
        let server = Server::start(id.acceptor(&[]), Duration::from_secs(20));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|seed| weft::spawn(echo_client(server.addr, id.connector(&[]), seed, LEN)))
            .collect();
        for client in clients {
            client.await.unwrap().expect("echo over TLS");
        }
        let stats = server.stats.clone();
        sleep_until_true("the server to see every close_notify", || {
            Stats::get(&stats.echoed) == CLIENTS
        })
        .await;
        assert_eq!(Stats::get(&stats.handshakes), CLIENTS);
        assert_eq!(stats.tls_errors.snapshot(), vec![]);
        assert_eq!(Stats::get(&stats.timeouts), 0);
        server.stop().await;
    });
}

// ----- bad input -----

/// A client that sends an HTTP request instead of a ClientHello: rustls
/// rejects the first record, the client gets a fatal alert and the end of
/// the stream, the server records a TLS error for that connection only and
/// goes on serving a real TLS client.
#[test]
fn garbage_instead_of_a_client_hello_gets_a_tls_alert_and_the_server_keeps_serving() {
    block_on(2, |_| async {
        let id = Identity::generate();
        let server = Server::start(id.acceptor(&[]), Duration::from_secs(20));

        let reply = tls::plain_http_to(server.addr).await;
        tls::assert_fatal_alert(&reply);

        let stats = server.stats.clone();
        sleep_until_true("the server to record the failed handshake", || {
            stats.tls_errors.len() == 1
        })
        .await;
        assert_eq!(
            stats.tls_errors.snapshot(),
            vec![rustls::Error::InvalidMessage(
                rustls::InvalidMessage::InvalidContentType
            )]
        );

        echo_client(server.addr, id.connector(&[]), 1, 1024)
            .await
            .expect("a real client after the garbage one");
        assert_eq!(Stats::get(&stats.handshakes), 1);
        server.stop().await;
    });
}

/// A client that sends the first half of a real ClientHello and then
/// stalls: the handshake timeout of its connection's task cuts it (the
/// client sees the end of the stream, no earlier than the timeout), and a
/// second client that connects while the first one stalls is served at once
/// — the stalled handshake does not hold up the accept loop.
#[test]
fn a_client_stalling_mid_handshake_is_cut_by_the_handshake_timeout() {
    const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
    block_on(2, |_| async {
        let id = Identity::generate();
        let server = Server::start(id.acceptor(&[]), HANDSHAKE_TIMEOUT);
        let stats = server.stats.clone();

        let half_hello =
            tls::half_a_client_hello(id.client_config(&[]), self_signed::server_name());
        let started = Instant::now();
        let mut staller = TcpStream::connect(server.addr).await.unwrap();
        staller.write_all(&half_hello).await.unwrap();
        sleep_until_true("the stalled connection to be accepted", || {
            Stats::get(&stats.accepted) == 1
        })
        .await;

        // Served while the staller still holds its connection open.
        echo_client(server.addr, id.connector(&[]), 2, 4096)
            .await
            .expect("a client beside the stalled one");
        assert_eq!(
            Stats::get(&stats.timeouts),
            0,
            "the second client was served only after the stalled one timed out"
        );

        tls::assert_cut_by_timeout(staller, started, HANDSHAKE_TIMEOUT).await;
        // The scope closes the socket (dropping the handshake) before the
        // server's task counts the timeout: the client may see the end first.
        sleep_until_true("the server to count the timeout", || {
            Stats::get(&stats.timeouts) >= 1
        })
        .await;
        assert_eq!(Stats::get(&stats.timeouts), 1);
        assert_eq!(stats.tls_errors.snapshot(), vec![]);
        server.stop().await;
    });
}

/// A client that does not trust the server's certificate (it trusts a
/// different self-signed one) fails its handshake with rustls's
/// certificate error; the server sees the client's alert as a TLS error on
/// that connection and keeps serving.
#[test]
fn a_client_that_does_not_trust_the_certificate_fails_and_the_server_keeps_serving() {
    block_on(2, |_| async {
        let id = Identity::generate();
        let stranger = Identity::generate();
        let server = Server::start(id.acceptor(&[]), Duration::from_secs(20));

        let err = echo_client(server.addr, stranger.connector(&[]), 3, 1024)
            .await
            .expect_err("a handshake against an untrusted certificate");
        // Both certificates name the same subject (rcgen's default), so
        // the check fails at the signature rather than at finding an issuer.
        let err = rustls_error(&err);
        assert!(
            matches!(err, rustls::Error::InvalidCertificate(_)),
            "not a certificate error: {err:?}"
        );

        let stats = server.stats.clone();
        sleep_until_true("the server to record the client's alert", || {
            stats.tls_errors.len() == 1
        })
        .await;
        let errors = stats.tls_errors.snapshot();
        assert!(
            matches!(errors[..], [rustls::Error::AlertReceived(_)]),
            "the server did not get the client's alert: {errors:?}"
        );

        echo_client(server.addr, id.connector(&[]), 4, 1024)
            .await
            .expect("a trusting client after the one that was refused");
        server.stop().await;
    });
}
