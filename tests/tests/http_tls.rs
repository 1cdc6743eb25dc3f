//! HTTPS on weft: the `https_server` example's setup (the `http_server`
//! routes, `weft::hyper::serve` with futures-rustls's accept as the
//! per-connection handshake step, a self-signed certificate made at the
//! start) talked to by hyper clients over futures-rustls on weft that trust
//! the generated certificate, HTTP/1.1 and HTTP/2 chosen by ALPN. Bad input:
//! a client sending garbage instead of a ClientHello gets rustls's alert, and
//! a client stalling mid-handshake is cut by the serve helper's handshake
//! timeout while others are served. Every test ends with the server shut
//! down gracefully and the runtime's live tasks and sockets back where they
//! started.

mod common;

// The example's shutdown signal is not used here.
#[allow(dead_code)]
#[path = "../../crates/weft-hyper/examples/http_app/mod.rs"]
mod http_app;
#[path = "../../crates/weft-hyper/examples/self_signed/mod.rs"]
mod self_signed;
#[path = "common/tls.rs"]
mod tls;

use bytes::Bytes;
use common::{block_on, io_sources, live_tasks, sleep_until_true};
use futures_rustls::client::TlsStream;
use futures_util::AsyncWriteExt;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, StatusCode, Version};
use self_signed::{Identity, HTTP_ALPN};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::hyper::{serve, Shutdown, TowerToHyperService};
use weft::net::{TcpListener, TcpStream};
use weft::sync::Event;
use weft::Task;

/// The HTTPS server of the example, on a loopback port, and the runtime's
/// counts from before it started.
struct HttpsServer {
    addr: SocketAddr,
    stop: Arc<Event>,
    task: Task<Shutdown>,
    baseline_tasks: usize,
    baseline_sources: usize,
}

impl HttpsServer {
    /// Serves the example's routes over TLS with `identity`'s certificate,
    /// offering HTTP/2 and HTTP/1.1, the handshake bounded by
    /// `handshake_timeout`; stopped by [`shut_down`](Self::shut_down).
    fn start(identity: &Identity, handshake_timeout: Duration) -> HttpsServer {
        let (baseline_tasks, baseline_sources) = (live_tasks(), io_sources());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = identity.acceptor(HTTP_ALPN);
        let app = TowerToHyperService::new(http_app::router(http_app::REQUEST_DEADLINE));
        let server = serve(listener, app)
            .handshake(move |tcp| acceptor.accept(tcp))
            .handshake_timeout(handshake_timeout);
        let stop = Arc::new(Event::new());
        let task = weft::spawn({
            let stop = stop.clone();
            server.with_graceful_shutdown(async move { stop.wait().await })
        });
        HttpsServer {
            addr,
            stop,
            task,
            baseline_tasks,
            baseline_sources,
        }
    }

    /// Shuts the server down gracefully and waits until every task and
    /// socket it (and the test's clients) made is gone.
    async fn shut_down(self) -> Shutdown {
        self.stop.set();
        let report = self.task.await.unwrap();
        let (tasks, sources) = (self.baseline_tasks, self.baseline_sources);
        sleep_until_true("live tasks and sockets back to the baseline", || {
            live_tasks() == tasks && io_sources() == sources
        })
        .await;
        report
    }
}

/// A TLS connection to `addr` trusting `identity`, offering `alpn`.
async fn tls_connect(
    addr: SocketAddr,
    identity: &Identity,
    alpn: &[&[u8]],
) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    identity
        .connector(alpn)
        .connect(self_signed::server_name(), tcp)
        .await
        .expect("TLS handshake with the HTTPS server")
}

/// GET `path` on a new HTTPS connection over HTTP/1.1: status and body.
async fn get_https(addr: SocketAddr, identity: &Identity, path: &str) -> (StatusCode, String) {
    let stream = tls_connect(addr, identity, &[b"http/1.1"]).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let mut sender = weft::hyper::client::http1(stream).await.unwrap();
    let req = Request::get(path)
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.version(), Version::HTTP_11);
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// Every route of the example over HTTPS with HTTP/1.1, then the same
/// connection setup with HTTP/2 negotiated by ALPN carrying concurrent
/// requests on one connection.
#[test]
fn every_route_over_https_on_http1_and_http2() {
    block_on(2, |_| async {
        let id = Identity::generate();
        let server = HttpsServer::start(&id, Duration::from_secs(10));
        let addr = server.addr;

        assert_eq!(
            get_https(addr, &id, "/").await,
            (StatusCode::OK, "Hello, world!\n".to_owned())
        );
        let (status, body) = get_https(addr, &id, "/json").await;
        assert_eq!(status, StatusCode::OK);
        let greeting: http_app::Greeting = serde_json::from_str(&body).unwrap();
        assert_eq!(greeting.runtime, "weft");
        let (status, body) = get_https(addr, &id, "/sleep?ms=20").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "slept 20 ms\n"));
        assert_eq!(
            get_https(addr, &id, "/work?n=1000").await,
            (StatusCode::OK, format!("{:016x}\n", http_app::spin(1000)))
        );

        // HTTP/2: the client offers h2 first, the server picks it, and one
        // connection carries several requests at once.
        let stream = tls_connect(addr, &id, HTTP_ALPN).await;
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let sender = weft::hyper::client::http2(stream).await.unwrap();
        let requests: Vec<_> = (0..4)
            .map(|i| {
                let mut sender = sender.clone();
                weft::spawn(async move {
                    let req = Request::get(format!("https://localhost/sleep?ms={}", 10 * i))
                        .body(Empty::<Bytes>::new())
                        .unwrap();
                    let resp = sender.send_request(req).await.unwrap();
                    assert_eq!(resp.version(), Version::HTTP_2);
                    assert_eq!(resp.status(), StatusCode::OK);
                    let body = resp.into_body().collect().await.unwrap().to_bytes();
                    assert_eq!(body, format!("slept {} ms\n", 10 * i));
                })
            })
            .collect();
        for request in requests {
            request.await.unwrap();
        }
        drop(sender);

        let report = server.shut_down().await;
        assert_eq!(report.cut_off(), 0, "{report:?}");
    });
}

/// A client that speaks plain HTTP to the HTTPS port: rustls answers with a
/// fatal alert and closes, without hyper ever seeing the bytes, and the
/// server goes on serving HTTPS.
#[test]
fn plain_http_instead_of_a_client_hello_gets_a_tls_alert_and_the_server_keeps_serving() {
    block_on(2, |_| async {
        let id = Identity::generate();
        let server = HttpsServer::start(&id, Duration::from_secs(10));

        let reply = tls::plain_http_to(server.addr).await;
        tls::assert_fatal_alert(&reply);
        assert!(
            !reply.starts_with(b"HTTP/"),
            "hyper answered a plain request"
        );

        assert_eq!(
            get_https(server.addr, &id, "/").await,
            (StatusCode::OK, "Hello, world!\n".to_owned())
        );
        let report = server.shut_down().await;
        assert_eq!(report.cut_off(), 0, "{report:?}");
    });
}

/// A client that sends half a ClientHello and stalls is cut by the serve
/// helper's handshake timeout (it sees the end of the stream, no earlier
/// than the timeout); a client that comes while it stalls is served at once,
/// since the handshake runs in the connection's task, not the accept loop.
#[test]
fn a_stalled_tls_handshake_is_cut_by_the_handshake_timeout_while_others_are_served() {
    const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
    block_on(2, |_| async {
        let id = Identity::generate();
        let server = HttpsServer::start(&id, HANDSHAKE_TIMEOUT);

        let half_hello =
            tls::half_a_client_hello(id.client_config(HTTP_ALPN), self_signed::server_name());

        let started = Instant::now();
        let mut staller = TcpStream::connect(server.addr).await.unwrap();
        staller.write_all(&half_hello).await.unwrap();

        assert_eq!(
            get_https(server.addr, &id, "/").await,
            (StatusCode::OK, "Hello, world!\n".to_owned())
        );
        assert!(
            started.elapsed() < HANDSHAKE_TIMEOUT,
            "the second client was served only after {:?}",
            started.elapsed()
        );

        tls::assert_cut_by_timeout(staller, started, HANDSHAKE_TIMEOUT).await;

        let report = server.shut_down().await;
        assert_eq!(report.cut_off(), 0, "{report:?}");
    });
}
