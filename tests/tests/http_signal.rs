//! The `http_server` example's shutdown: the process sends itself SIGTERM
//! while a request is in flight; the server stops accepting, lets the request
//! finish, and returns its report. In a file of its own: signal handlers are
//! process-wide, and this test binary is its own process.

mod common;

// Each test file uses part of the example's module.
#[allow(dead_code)]
#[path = "../../crates/weft-hyper/examples/http_app/mod.rs"]
mod http_app;

use bytes::Bytes;
use common::{block_on, io_sources, ms, sleep_until_true};
use http_body_util::{BodyExt, Empty};
use hyper::{Request, StatusCode};
use std::time::Instant;
use weft::hyper::{serve, TowerToHyperService};
use weft::net::{TcpListener, TcpStream};

#[test]
fn sigterm_stops_accepting_and_lets_the_request_in_flight_finish() {
    block_on(2, |_| async {
        let handle = weft::Handle::current();
        let (tasks, sockets) = (handle.metrics().live_tasks, io_sources());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = http_app::stop_signal().unwrap();
        let app = TowerToHyperService::new(http_app::router(http_app::REQUEST_DEADLINE));
        let server = weft::spawn(
            serve(listener, app)
                .grace_period(ms(5000))
                .with_graceful_shutdown(async move {
                    assert_eq!(stop.await, "SIGTERM");
                }),
        );

        let in_flight = weft::spawn(async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            let mut sender = weft::hyper::client::http1(stream).await.unwrap();
            let req = Request::get("/sleep?ms=300")
                .header("host", "localhost")
                .body(Empty::<Bytes>::new())
                .unwrap();
            let resp = sender.send_request(req).await.unwrap();
            let status = resp.status();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (status, body)
        });
        weft::sleep(ms(100)).await; // the request is being handled

        let sent = Instant::now();
        // SAFETY: kill(2) with our own pid; `stop_signal` listens to SIGTERM
        // already, so the signal is handled, not fatal.
        let rc = unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
        assert_eq!(rc, 0);

        let report = server.await.unwrap();
        assert_eq!((report.finished(), report.cut_off()), (1, 0));
        assert!(sent.elapsed() < ms(3000));
        let (status, body) = in_flight.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&body[..], b"slept 300 ms\n");

        let refused = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
        sleep_until_true("live tasks back to the baseline", || {
            weft::Handle::current().metrics().live_tasks == tasks
        })
        .await;
        sleep_until_true("sockets back to the baseline", || io_sources() == sockets).await;
    });
}
