//! The `http_server` example's shutdown: the process sends itself SIGTERM
//! while a request is in flight; the server stops accepting, lets the request
//! finish, and returns its report. In a file of its own: signal handlers are
//! process-wide, and this test binary is its own process.

mod common;
#[path = "common/http.rs"]
mod http;

// Each test file uses part of the example's module.
#[allow(dead_code)]
#[path = "../../crates/weft-hyper/examples/http_app/mod.rs"]
mod http_app;

use common::ms;
use http::{get, Baseline};
use hyper::StatusCode;
use std::time::Instant;
use weft::hyper::{serve, TowerToHyperService};
use weft::net::{TcpListener, TcpStream};

#[weft::test(workers = 2, time_limit = common::WATCHDOG)]
async fn sigterm_stops_accepting_and_lets_the_request_in_flight_finish() {
    let base = Baseline::now();
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

    let in_flight = weft::spawn(async move { get(addr, "/sleep?ms=300").await });
    weft::sleep(ms(100)).await; // the request is being handled

    let sent = Instant::now();
    // SAFETY: kill(2) with our own pid; `stop_signal` listens to SIGTERM
    // already, so the signal is handled, not fatal.
    let rc = unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    assert_eq!(rc, 0);

    let report = server.await.unwrap();
    assert_eq!((report.finished(), report.cut_off()), (1, 0));
    assert!(sent.elapsed() < ms(3000));
    assert_eq!(
        in_flight.await.unwrap(),
        (StatusCode::OK, "slept 300 ms\n".to_owned())
    );

    let refused = TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    base.back().await;
}
