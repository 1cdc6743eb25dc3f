//! A task dump of a live server, taken from a plain thread: a TCP echo
//! server on loopback with three connected clients, each client and each
//! connection a task, and the dump printed while they are all waiting.
//!
//! ```sh
//! cargo run --example dump_server
//! ```
//!
//! The dump (`Handle::dump`) is the server's await graph as
//! `python -m asyncio pstree` draws one: the roots are the tasks nobody
//! awaits (the accept loop, the supervisor gathering the clients), and
//! under each task what it awaits. A connection task waiting for its
//! socket shows no edge: sockets are not await targets.

use futures_util::{AsyncReadExt, AsyncWriteExt};
use std::io;
use std::time::Duration;
use weft::net::{TcpListener, TcpStream};

async fn echo(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = [0; 1024];
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        conn.write_all(&buf[..n]).await?;
    }
}

/// Connects, has one line echoed, then waits for `go` before closing.
async fn client(addr: std::net::SocketAddr, go: weft::Promise<()>) -> io::Result<()> {
    let mut conn = TcpStream::connect(addr).await?;
    conn.write_all(b"hello\n").await?;
    let mut line = [0; 6];
    conn.read_exact(&mut line).await?;
    assert_eq!(&line, b"hello\n");
    go.wait().await.expect("settled with a value");
    Ok(())
}

fn main() -> io::Result<()> {
    let rt = weft::Builder::new().workers(2).build()?;
    let listener = rt.block_on(async { TcpListener::bind("127.0.0.1:0") })?;
    let addr = listener.local_addr()?;
    let server = rt.spawn(async move {
        loop {
            match listener.accept().await {
                Ok((conn, _)) => {
                    let t = weft::spawn(echo(conn));
                    t.set_name("connection");
                    t.detach();
                }
                Err(e) => return e,
            }
        }
    });
    server.set_name("accept loop");
    let go = weft::Promise::new();
    let clients = rt.spawn({
        let go = go.clone();
        async move {
            let tasks: Vec<_> = (0..3)
                .map(|i| {
                    let t = weft::spawn(client(addr, go.clone()));
                    t.set_name(format!("client-{i}"));
                    t
                })
                .collect();
            weft::gather(tasks).await
        }
    });
    clients.set_name("clients");
    // Give the clients time to connect and have their line echoed.
    std::thread::sleep(Duration::from_millis(200));

    // A plain thread asks the runtime what its tasks are doing.
    let handle = rt.handle().clone();
    let dump = std::thread::spawn(move || handle.dump())
        .join()
        .expect("dump thread");
    println!("{dump}");

    go.set_result(()).expect("not settled yet");
    rt.block_on(clients)
        .expect("clients ran")
        .expect("every client echoed");
    server.cancel();
    Ok(())
}
