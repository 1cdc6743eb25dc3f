//! A TCP echo server: every connection gets its own task, which writes back
//! whatever it reads until the peer closes.
//!
//! ```sh
//! cargo run --release --example echo_server            # listens on 127.0.0.1:7878
//! cargo run --release --example echo_server -- 0.0.0.0:9000
//! ```
//!
//! Try it with `nc 127.0.0.1 7878` (type a line, see it come back).
//!
//! `#[weft::main]` runs `main` on a weft runtime, as `weft::run` would.

use futures_util::{AsyncReadExt, AsyncWriteExt};
use std::io;
use weft::net::{TcpListener, TcpStream};

async fn echo(mut conn: TcpStream) -> io::Result<u64> {
    let mut buf = vec![0; 16 * 1024];
    let mut total = 0;
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        conn.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

#[weft::main]
async fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7878".into());
    let listener = TcpListener::bind(&addr)?;
    println!("echo server listening on {}", listener.local_addr()?);
    loop {
        let (conn, peer) = listener.accept().await?;
        conn.set_nodelay(true)?;
        weft::spawn(async move {
            match echo(conn).await {
                Ok(n) => println!("{peer}: closed after echoing {n} bytes"),
                Err(e) => println!("{peer}: {e}"),
            }
        })
        .detach();
    }
}
