//! What the HTTP tests (`http_*.rs`) share: a GET over a fresh hyper client
//! connection on weft, and the runtime's tasks and sockets to come back to.
//! Included by those files only (`#[path = "common/http.rs"] mod http;`).

use crate::common::{io_sources, sleep_until_true};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use std::net::SocketAddr;
use weft::net::TcpStream;

pub fn live_tasks() -> usize {
    weft::Handle::current().metrics().live_tasks
}

/// What the runtime holds before a test starts serving.
pub struct Baseline {
    tasks: usize,
    sockets: usize,
}

impl Baseline {
    pub fn now() -> Baseline {
        Baseline {
            tasks: live_tasks(),
            sockets: io_sources(),
        }
    }

    /// Waits until every task and socket the test made is gone.
    pub async fn back(&self) {
        sleep_until_true("live tasks back to the baseline", || {
            live_tasks() == self.tasks
        })
        .await;
        sleep_until_true("sockets back to the baseline", || {
            io_sources() == self.sockets
        })
        .await;
    }
}

/// Sends GET `path` on a new HTTP/1 connection over `stream`: the response
/// head, or hyper's error when the connection ends without one.
pub async fn send<T>(stream: T, path: &str) -> hyper::Result<Response<Incoming>>
where
    T: futures_util::AsyncRead + futures_util::AsyncWrite + Send + Unpin + 'static,
{
    let mut sender = weft::hyper::client::http1(stream).await?;
    let req = Request::get(path)
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    sender.send_request(req).await
}

/// GET `path` on a new HTTP/1 connection: status and body.
pub async fn get(addr: SocketAddr, path: &str) -> (StatusCode, String) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let resp = send(stream, path).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}
