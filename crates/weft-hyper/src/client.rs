//! hyper's client connections over weft streams: [`http1`] and [`http2`]
//! hand back hyper's `SendRequest` and drive the connection in a detached
//! weft task, which ends when the `SendRequest` (and every clone of it) is
//! dropped or the server closes the connection.
//!
//! This is hyper's low-level client (one connection, no pool, no DNS): the
//! building block for a pooled client, and what tests and proxies use.

use crate::io::WeftIo;
use crate::rt::{WeftExecutor, WeftTimer};
use futures_io::{AsyncRead, AsyncWrite};
use hyper::body::Body;
use hyper::client::conn::{http1 as h1, http2 as h2};
use std::error::Error as StdError;

/// An HTTP/1 client connection over `stream` (a weft `TcpStream`, or a TLS
/// stream over one): sends requests with the returned `SendRequest`, one at
/// a time. The connection is driven by a detached weft task.
///
/// ```
/// use http_body_util::{BodyExt, Empty};
/// use std::convert::Infallible;
///
/// weft::run(async {
///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     let svc = hyper::service::service_fn(|_req: hyper::Request<hyper::body::Incoming>| async {
///         Ok::<_, Infallible>(hyper::Response::new(String::from("pong")))
///     });
///     weft::spawn(weft::hyper::serve(listener, svc).run()).detach();
///
///     let stream = weft::net::TcpStream::connect(addr).await.unwrap();
///     let mut sender = weft::hyper::client::http1(stream).await.unwrap();
///     let req = hyper::Request::get("/ping").body(Empty::<bytes::Bytes>::new()).unwrap();
///     let resp = sender.send_request(req).await.unwrap();
///     let body = resp.into_body().collect().await.unwrap().to_bytes();
///     assert_eq!(&body[..], b"pong");
/// });
/// ```
pub async fn http1<T, B>(stream: T) -> hyper::Result<h1::SendRequest<B>>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let (sender, conn) = h1::Builder::new().handshake(WeftIo::new(stream)).await?;
    weft_loop::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "weft-hyper: client connection ended with an error");
        }
    })
    .detach();
    Ok(sender)
}

/// An HTTP/2 client connection over `stream` (prior knowledge: no
/// upgrade, no ALPN; over TLS, negotiate `h2` first): the returned
/// `SendRequest` is cheap to clone and sends requests concurrently. The
/// connection is driven by a detached weft task.
///
/// ```
/// use http_body_util::Empty;
/// use std::convert::Infallible;
///
/// weft::run(async {
///     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     let svc = hyper::service::service_fn(|req: hyper::Request<_>| async move {
///         Ok::<_, Infallible>(hyper::Response::new(format!("{:?}", req.version())))
///     });
///     weft::spawn(weft::hyper::serve(listener, svc).run()).detach();
///
///     let stream = weft::net::TcpStream::connect(addr).await.unwrap();
///     let mut sender = weft::hyper::client::http2(stream).await.unwrap();
///     let req = hyper::Request::get("http://localhost/").body(Empty::<bytes::Bytes>::new()).unwrap();
///     let resp = sender.send_request(req).await.unwrap();
///     assert_eq!(resp.version(), hyper::Version::HTTP_2);
/// });
/// ```
pub async fn http2<T, B>(stream: T) -> hyper::Result<h2::SendRequest<B>>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let (sender, conn) = h2::Builder::new(WeftExecutor::new())
        .timer(WeftTimer::new())
        .handshake(WeftIo::new(stream))
        .await?;
    weft_loop::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "weft-hyper: client connection ended with an error");
        }
    })
    .detach();
    Ok(sender)
}
