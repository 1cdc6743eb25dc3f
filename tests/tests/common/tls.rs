//! Bad TLS clients for the tests that serve TLS (net_tls, http_tls): half a
//! ClientHello to stall on, and the checks of what such a client gets back.
//! Pulled in with `#[path = "common/tls.rs"] mod tls;`, so the test binaries
//! that do not speak TLS do not compile it.
#![allow(dead_code)]

use futures_rustls::pki_types::ServerName;
use futures_rustls::rustls::{ClientConfig, ClientConnection};
use futures_util::{AsyncReadExt, AsyncWriteExt};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::net::TcpStream;

/// The first half of the ClientHello rustls would send with `config` to
/// `name`: a client that sends it and stalls is in the middle of its
/// handshake.
pub fn half_a_client_hello(config: Arc<ClientConfig>, name: ServerName<'static>) -> Vec<u8> {
    let mut hello = Vec::new();
    let mut conn = ClientConnection::new(config, name).expect("a client connection");
    conn.write_tls(&mut hello).expect("rustls writes its hello");
    assert!(
        hello.len() > 100,
        "short ClientHello: {} bytes",
        hello.len()
    );
    hello.truncate(hello.len() / 2);
    hello
}

/// Reads what the server sends a client that stalled mid-handshake at
/// `started`, and checks that the server closed the connection without a
/// word once `timeout` had passed (and not long after).
pub async fn assert_cut_by_timeout(mut staller: TcpStream, started: Instant, timeout: Duration) {
    let mut rest = Vec::new();
    staller.read_to_end(&mut rest).await.unwrap();
    let waited = started.elapsed();
    assert!(
        rest.is_empty(),
        "the server answered half a hello: {rest:?}"
    );
    assert!(
        waited >= timeout,
        "cut after {waited:?}, before the {timeout:?} timeout"
    );
    assert!(
        waited < timeout + Duration::from_secs(13),
        "cut only after {waited:?}"
    );
}

/// Connects to `addr` and sends an HTTP request instead of a ClientHello;
/// returns everything the server sent before it closed the connection.
pub async fn plain_http_to(addr: SocketAddr) -> Vec<u8> {
    let mut raw = TcpStream::connect(addr).await.unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    raw.read_to_end(&mut reply).await.unwrap();
    reply
}

/// Checks that `reply`, all a server sent before closing, begins with one
/// TLS record carrying a fatal alert: content type 21, then (after the
/// version and length) the alert's level, 2.
pub fn assert_fatal_alert(reply: &[u8]) {
    assert!(reply.len() >= 7, "no alert before the close: {reply:?}");
    assert_eq!(
        (reply[0], reply[5]),
        (21, 2),
        "not a fatal alert: {reply:?}"
    );
}
