//! An axum application served by weft through hyper, HTTP/1 and HTTP/2.
//!
//! ```text
//! cargo run --release --example http_server [ADDR]     # default 127.0.0.1:8080
//! curl http://127.0.0.1:8080/                          # Hello, world!
//! curl http://127.0.0.1:8080/json                      # {"message":..,"runtime":"weft"}
//! curl 'http://127.0.0.1:8080/sleep?ms=100'            # a weft timer
//! curl 'http://127.0.0.1:8080/work?n=1000000'          # to_thread work
//! curl 'http://127.0.0.1:8080/sleep?ms=5000'           # 504: past the 2 s deadline
//! wrk -t2 -c64 -d10s http://127.0.0.1:8080/
//! ```
//!
//! Routes are in `http_app/mod.rs`. The server prints the address it
//! listens on, stops accepting on Ctrl-C or SIGTERM, gives in-flight
//! requests a grace period, prints what the shutdown did and exits 0.

mod http_app;

use std::process::ExitCode;
use std::time::Duration;
use weft::hyper::{serve, TowerToHyperService};

/// How long in-flight requests get after the stop signal.
const GRACE: Duration = Duration::from_secs(5);

#[weft::main]
async fn main() -> ExitCode {
    let (listener, stop) = match http_app::listen("http_server", "127.0.0.1:8080") {
        Ok(ready) => ready,
        Err(code) => return code,
    };
    match listener.local_addr() {
        Ok(local) => println!("listening on http://{local}"),
        Err(e) => eprintln!("http_server: local address unknown: {e}"),
    }
    let app = TowerToHyperService::new(http_app::router(http_app::REQUEST_DEADLINE));
    let report = serve(listener, app)
        .grace_period(GRACE)
        .with_graceful_shutdown(stop)
        .await;
    http_app::print_report(report);
    ExitCode::SUCCESS
}
