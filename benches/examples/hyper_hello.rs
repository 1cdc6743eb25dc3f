//! hyper's hello world on weft or on tokio, the same service through
//! hyper-util's `auto` builder on each, for a load generator such as wrk
//! (`benches/http_compare.sh` drives it):
//!
//! ```sh
//! cargo build --release -p weft-benches --example hyper_hello
//! target/release/examples/hyper_hello weft 2 127.0.0.1:8081 &
//! wrk -t2 -c64 -d10s http://127.0.0.1:8081/
//! ```
//!
//! Arguments: the runtime (`weft` or `tokio`), the worker count (both get the
//! same), the address (default 127.0.0.1:8081). weft serves through
//! `weft::hyper::serve`; tokio through the loop hyper-util's own examples
//! write (accept, `TCP_NODELAY`, one task per connection, `TokioIo`,
//! `TokioExecutor`, `TokioTimer`), with the same header-read timeout. It
//! prints `listening on ADDR` once it accepts, and serves until killed.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::time::Duration;

const BODY: &[u8] = b"Hello, world!";

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(BODY))))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let runtime = args.next().unwrap_or_else(|| "weft".into());
    let workers: usize = args.next().map_or(2, |s| s.parse().expect("worker count"));
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8081".into());
    match runtime.as_str() {
        "weft" => on_weft(workers, &addr),
        "tokio" => on_tokio(workers, &addr),
        other => panic!("unknown runtime {other:?}: weft or tokio"),
    }
}

fn on_weft(workers: usize, addr: &str) {
    let rt = weft::Builder::new()
        .workers(workers)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let listener = weft::net::TcpListener::bind(addr).expect("bind");
        println!("listening on {}", listener.local_addr().expect("addr"));
        let svc = hyper::service::service_fn(hello);
        match weft::hyper::serve(listener, svc).run().await {}
    });
}

fn on_tokio(workers: usize, addr: &str) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        println!("listening on {}", listener.local_addr().expect("addr"));
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30));
        builder.http2().timer(TokioTimer::new());
        let builder = std::sync::Arc::new(builder);
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    eprintln!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let builder = builder.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(hello);
                let _ = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
}
