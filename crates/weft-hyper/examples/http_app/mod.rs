//! The routes of the `http_server` example (and of its HTTPS twin and the
//! HTTP integration tests, which include this file): an axum `Router` whose
//! handlers await weft timers and run weft `to_thread` work, each request
//! under a weft timeout scope.

use axum::extract::{Query, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::io;
use std::process::ExitCode;
use std::time::Duration;
use weft::net::TcpListener;
use weft::signal::{signal, SignalKind};

/// How long one request may take before it is answered 504.
pub(crate) const REQUEST_DEADLINE: Duration = Duration::from_secs(2);

/// The longest `/sleep?ms=N` the route accepts (400 above it).
const MAX_SLEEP_MS: u64 = 60_000;

/// The most iterations `/work?n=N` runs (400 above it).
const MAX_WORK: u64 = 100_000_000;

/// Listens to Ctrl-C (`SIGINT`) and `SIGTERM` now, and gives the future that
/// resolves, with the signal's name, at the first of them: the server's
/// shutdown signal. Listening starts before the future is first polled, so a
/// signal sent as soon as the server says it listens is not missed.
pub(crate) fn stop_signal() -> io::Result<impl Future<Output = &'static str>> {
    let mut interrupts = signal(SignalKind::interrupt())?;
    let mut terminations = signal(SignalKind::terminate())?;
    Ok(async move {
        let interrupt = std::pin::pin!(interrupts.recv());
        let terminate = std::pin::pin!(terminations.recv());
        match futures_util::future::select(interrupt, terminate).await {
            futures_util::future::Either::Left(_) => "SIGINT",
            futures_util::future::Either::Right(_) => "SIGTERM",
        }
    })
}

/// What both servers do before serving: listen on the address given as the
/// first argument (`default` without one) and on Ctrl-C / SIGTERM
/// ([`stop_signal`]; the future it returns says which came when it resolves).
/// On failure it says why, naming the program `name`, and gives the exit code
/// to return.
pub(crate) fn listen(
    name: &str,
    default: &str,
) -> Result<(TcpListener, impl Future<Output = ()>), ExitCode> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| default.to_owned());
    let listener = TcpListener::bind(&addr).map_err(|e| {
        eprintln!("{name}: cannot listen on {addr}: {e}");
        ExitCode::FAILURE
    })?;
    let stop = stop_signal().map_err(|e| {
        eprintln!("{name}: cannot listen for signals: {e}");
        ExitCode::FAILURE
    })?;
    let stop = async {
        let name = stop.await;
        println!("{name}: no new connections; finishing the requests in flight");
    };
    Ok((listener, stop))
}

/// Prints what the graceful shutdown did.
pub(crate) fn print_report(report: weft::hyper::Shutdown) {
    println!(
        "shut down: {} connections finished, {} cut off",
        report.finished(),
        report.cut_off()
    );
}

/// The application: every route, each request bounded by `deadline`.
pub(crate) fn router(deadline: Duration) -> Router {
    Router::new()
        .route("/", get(hello))
        .route("/json", get(json))
        .route("/sleep", get(sleep))
        .route("/work", get(work))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            with_deadline(deadline, req, next)
        }))
}

/// Runs the rest of the stack under a weft timeout scope: past `deadline`
/// the handler is cancelled and the client gets 504.
async fn with_deadline(deadline: Duration, req: Request, next: Next) -> Response {
    match weft::timeout(deadline).run(next.run(req)).await {
        Ok(response) => response,
        Err(_) => (StatusCode::GATEWAY_TIMEOUT, "deadline exceeded\n").into_response(),
    }
}

/// `GET /`: plain text.
async fn hello() -> &'static str {
    "Hello, world!\n"
}

/// The body of `GET /json`.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Greeting {
    /// Always "Hello, world!".
    pub(crate) message: String,
    /// The runtime serving it.
    pub(crate) runtime: String,
}

/// `GET /json`: a serde-serialised body.
async fn json() -> Json<Greeting> {
    Json(Greeting {
        message: "Hello, world!".to_owned(),
        runtime: "weft".to_owned(),
    })
}

#[derive(Debug, Deserialize)]
struct SleepParams {
    ms: u64,
}

/// `GET /sleep?ms=N`: answers after a weft timer of N milliseconds.
async fn sleep(Query(p): Query<SleepParams>) -> Response {
    if p.ms > MAX_SLEEP_MS {
        return (StatusCode::BAD_REQUEST, "ms too large\n").into_response();
    }
    weft::sleep(Duration::from_millis(p.ms)).await;
    format!("slept {} ms\n", p.ms).into_response()
}

#[derive(Debug, Deserialize)]
struct WorkParams {
    n: Option<u64>,
}

/// `GET /work?n=N`: CPU-bound work (N rounds of a hash) on weft's blocking
/// pool through `to_thread`, so the workers keep serving meanwhile.
async fn work(Query(p): Query<WorkParams>) -> Response {
    let n = p.n.unwrap_or(1_000_000);
    if n > MAX_WORK {
        return (StatusCode::BAD_REQUEST, "n too large\n").into_response();
    }
    match weft::to_thread(move || spin(n)).await {
        Ok(h) => format!("{h:016x}\n").into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// `n` rounds of FNV-1a over a counter: work the optimiser cannot skip.
pub(crate) fn spin(n: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for i in 0..n {
        h ^= i;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
