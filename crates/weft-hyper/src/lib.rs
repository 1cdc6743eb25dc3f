//! # weft-hyper
//!
//! hyper 1.x (and axum on top of it) on weft, with no glue in the user's
//! program; the facade re-exports it as `weft::hyper` (feature `hyper`).
//!
//! - [`WeftExecutor`]: hyper's `Executor`, spawning weft tasks;
//! - [`WeftTimer`]: hyper's `Timer`, on weft's timers (the header-read
//!   timeout and keep-alive need one);
//! - [`WeftIo`]: weft's futures-io streams as hyper's `Read` / `Write`;
//! - [`serve`]: a [`Listener`] and a hyper or tower service in, HTTP/1 and
//!   HTTP/2 out (hyper-util's `auto` builder), with a per-connection
//!   [`Handshake`] step (TLS) and graceful shutdown ([`Shutdown`]);
//! - [`client`]: hyper's client connections over a weft `TcpStream`.
//!
//! ```
//! use std::convert::Infallible;
//!
//! weft::run(async {
//!     let listener = weft::net::TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     let svc = hyper::service::service_fn(|_req: hyper::Request<hyper::body::Incoming>| async {
//!         Ok::<_, Infallible>(hyper::Response::new(String::from("hello")))
//!     });
//!     let stop = std::sync::Arc::new(weft::sync::Event::new());
//!     let server = weft::spawn({
//!         let stop = stop.clone();
//!         async move { weft::hyper::serve(listener, svc).with_graceful_shutdown(async move { stop.wait().await }).await }
//!     });
//!
//!     let stream = weft::net::TcpStream::connect(addr).await.unwrap();
//!     let mut client = weft::hyper::client::http1(stream).await.unwrap();
//!     let req = hyper::Request::get("/").body(String::new()).unwrap();
//!     let resp = client.send_request(req).await.unwrap();
//!     assert_eq!(resp.status(), 200);
//!     drop(client);
//!
//!     stop.set();
//!     server.await.unwrap();
//! });
//! ```

#![warn(missing_docs)]

pub mod client;
mod io;
mod listener;
mod rt;
pub mod server;

pub use io::WeftIo;
pub use listener::Listener;
pub use rt::{WeftExecutor, WeftTimer};
pub use server::{serve, Handshake, Plain, Serve, Shutdown};

/// hyper-util's adapter from a tower `Service` (an axum `Router`) to a hyper
/// one, for [`serve`]; re-exported so an axum program needs no direct
/// hyper-util dependency.
///
/// ```
/// let router: axum::Router = axum::Router::new();
/// let _svc = weft::hyper::TowerToHyperService::new(router);
/// ```
pub use hyper_util::service::TowerToHyperService;
