//! The raw-socket floor: a tiny HTTP/1.1 server on weft's sockets alone,
//! answering every request with "Hello, world!". It shows what the sockets
//! cost with no HTTP library in the way; a real server uses hyper or axum
//! through `weft::hyper` (`crates/weft-hyper/examples/http_server.rs`).
//!
//! It understands keep-alive and pipelined requests (it reads request heads
//! up to the blank line and ignores bodies, so it is for GETs only).
//!
//! ```sh
//! cargo run --release --example hello_http             # listens on 127.0.0.1:8080
//! curl -i http://127.0.0.1:8080/
//! wrk -t2 -c100 -d10s http://127.0.0.1:8080/          # where wrk is installed
//! ```

use futures_util::{AsyncReadExt, AsyncWriteExt};
use std::io;
use weft::net::{TcpListener, TcpStream};

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\n\
Content-Type: text/plain\r\n\
Content-Length: 14\r\n\
\r\n\
Hello, world!\n";

/// Serves one connection: answers each complete request head in the buffer.
async fn serve(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0; 4096];
    loop {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut replies = Vec::new();
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            replies.extend_from_slice(RESPONSE);
        }
        if buf.len() > 64 * 1024 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too long",
            ));
        }
        conn.write_all(&replies).await?;
    }
}

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    weft::run(async move {
        let listener = TcpListener::bind(&addr)?;
        println!("hello_http listening on http://{}/", listener.local_addr()?);
        loop {
            let (conn, _peer) = listener.accept().await?;
            conn.set_nodelay(true)?;
            weft::spawn(async move {
                if let Err(e) = serve(conn).await {
                    eprintln!("connection error: {e}");
                }
            })
            .detach();
        }
    })
}
