//! `weft::hyper::WeftIo`'s read path, through hyper's own `Read` trait: weft's
//! `TcpStream` and `UnixStream` read straight into hyper's uninitialised
//! buffer (`poll_read_uninit`), any other futures-io stream through the
//! zeroed window. Bytes arrive intact and in order, end of stream reads as
//! nothing filled (again and again), a buffer larger than the data is filled
//! only as far as the data goes, and a whole hyper exchange with a large body
//! works over both paths. (TLS streams take the fallback path in http_tls.rs.)

mod common;
// Only its `Baseline`.
#[allow(dead_code)]
#[path = "common/http.rs"]
mod http;

use bytes::Bytes;
use common::pattern;
use futures_util::io::{AsyncRead, AsyncWrite};
use futures_util::AsyncWriteExt;
use http::Baseline;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::rt::{Read, ReadBuf};
use hyper::{Request, Response};
use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};
use weft::hyper::{serve, WeftIo};
use weft::net::{TcpListener, TcpStream, UnixStream};

/// The fewest bytes the fallback path lends on its first read (its window
/// starts at 1 KiB): weft's own streams must beat it.
const FALLBACK_FIRST_WINDOW: usize = 1024;

/// One `Read::poll_read` into a fresh uninitialised buffer of `cap` bytes:
/// what it filled.
async fn read_once<T: AsyncRead + Unpin + 'static>(io: &mut WeftIo<T>, cap: usize) -> Vec<u8> {
    let mut raw = vec![MaybeUninit::<u8>::uninit(); cap];
    let mut buf = ReadBuf::uninit(&mut raw);
    poll_fn(|cx| Pin::new(&mut *io).poll_read(cx, buf.unfilled()))
        .await
        .unwrap();
    buf.filled().to_vec()
}

/// Reads until end of stream in reads of `cap` bytes; then checks that end
/// of stream stays put.
async fn read_to_end<T: AsyncRead + Unpin + 'static>(io: &mut WeftIo<T>, cap: usize) -> Vec<u8> {
    let mut got = Vec::new();
    loop {
        let chunk = read_once(io, cap).await;
        assert!(chunk.len() <= cap);
        if chunk.is_empty() {
            break;
        }
        got.extend_from_slice(&chunk);
    }
    for _ in 0..3 {
        assert!(
            read_once(io, cap).await.is_empty(),
            "data after end of stream"
        );
    }
    got
}

/// A connected TCP pair: (client, accepted).
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) =
        futures_util::future::join(TcpStream::connect(addr), listener.accept()).await;
    (client.unwrap(), accepted.unwrap().0)
}

/// A futures-io stream that is not one of weft's own types, so `WeftIo`
/// takes its zeroing fallback (as for a TLS stream).
struct Generic(TcpStream);

impl AsyncRead for Generic {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Generic {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

/// Which read path a test expects `WeftIo` to take.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Path {
    /// weft's own stream: hyper's whole spare buffer, uninitialised.
    Uninit,
    /// Any other stream: a zeroed window of 1 KiB to start with.
    Fallback,
}

/// What `client` writes arrives through `io` whole and in order, read
/// through `path`: a short message into a larger buffer, 8 KiB in one read
/// (more than the fallback's first window lends), `len` more bytes in reads
/// of all sizes, then end of stream (the client closes its write half).
async fn reads_whole_and_to_the_end<S, C>(mut io: WeftIo<S>, mut client: C, path: Path, len: usize)
where
    S: AsyncRead + Unpin + 'static,
    C: AsyncWrite + Unpin + Send + 'static,
{
    // Smaller than the buffer: filled only as far as the data goes.
    client.write_all(b"hello").await.unwrap();
    assert_eq!(read_once(&mut io, 4096).await, b"hello");

    // 8 KiB queued (loopback delivers within the write), then one read into
    // 16 KiB: weft's streams are lent all of it, others a 1 KiB window.
    let first = pattern(len, 8 * 1024);
    client.write_all(&first).await.unwrap();
    let chunk = read_once(&mut io, 16 * 1024).await;
    match path {
        Path::Uninit => assert!(chunk.len() > FALLBACK_FIRST_WINDOW, "{}", chunk.len()),
        Path::Fallback => assert!((1..=FALLBACK_FIRST_WINDOW).contains(&chunk.len())),
    }
    let mut got = chunk;

    let rest = pattern(len + 1, len);
    let writer = weft::spawn(async move {
        client.write_all(&rest).await.unwrap();
        client.close().await.unwrap();
        client
    });
    for cap in [1, 7, 100, 4096] {
        got.extend(read_once(&mut io, cap).await);
    }
    got.extend(read_to_end(&mut io, 64 * 1024).await);
    let expected: Vec<u8> = first
        .iter()
        .chain(&pattern(len + 1, len))
        .copied()
        .collect();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "bytes changed on the way");
    drop(writer.await.unwrap());
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_tcp_stream_reads_into_uninitialised_memory_whole_and_to_the_end() {
    let baseline = Baseline::now();
    let (client, server) = tcp_pair().await;
    reads_whole_and_to_the_end(WeftIo::new(server), client, Path::Uninit, 1 << 20).await;
    baseline.back().await;
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_unix_stream_reads_into_uninitialised_memory_whole_and_to_the_end() {
    let baseline = Baseline::now();
    let (client, server) = UnixStream::pair().unwrap();
    reads_whole_and_to_the_end(WeftIo::new(server), client, Path::Uninit, 300_000).await;
    baseline.back().await;
}

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn any_other_stream_reads_through_the_zeroed_window() {
    let baseline = Baseline::now();
    let (client, server) = tcp_pair().await;
    let io = WeftIo::new(Generic(server));
    reads_whole_and_to_the_end(io, client, Path::Fallback, 1 << 20).await;
    baseline.back().await;
}

/// Echoes the request body.
async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let body = req.into_body().collect().await?.to_bytes();
    Ok(Response::new(Full::new(body)))
}

/// A 2 MiB body to `serve` (weft's `TcpStream`: the uninitialised path) and
/// back, from a client over weft's `TcpStream` and over a generic stream (the
/// fallback).
#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn a_large_body_crosses_hyper_both_ways_on_both_read_paths() {
    let baseline = Baseline::now();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = std::sync::Arc::new(weft::sync::Event::new());
    let server = weft::spawn({
        let stop = stop.clone();
        let svc = hyper::service::service_fn(echo);
        async move {
            serve(listener, svc)
                .with_graceful_shutdown(async move { stop.wait().await })
                .await
        }
    });

    for generic in [false, true] {
        let body = Bytes::from(pattern(7 + generic as usize, 2 << 20));
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut sender = if generic {
            weft::hyper::client::http1(Generic(stream)).await.unwrap()
        } else {
            weft::hyper::client::http1(stream).await.unwrap()
        };
        let req = Request::post("/")
            .header("host", "localhost")
            .body(Full::new(body.clone()))
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let back = resp.into_body().collect().await.unwrap().to_bytes();
        assert!(back == body, "the echoed body differs (generic: {generic})");
    }

    stop.set();
    let shutdown = server.await.unwrap();
    assert_eq!(shutdown.cut_off(), 0);
    baseline.back().await;
}
