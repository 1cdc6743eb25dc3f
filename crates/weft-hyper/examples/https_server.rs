//! The HTTPS twin of `http_server`: the same axum routes (`http_app/mod.rs`)
//! over TLS, HTTP/2 or HTTP/1.1 as the client's ALPN asks. TLS is rustls (the
//! `ring` provider) through futures-rustls, straight on weft's `TcpStream`,
//! which is a futures-io stream: no adapter. A self-signed certificate for
//! `localhost` and `127.0.0.1` is made at start (`self_signed/mod.rs`) and
//! written to the temporary directory, for clients to trust.
//!
//! ```text
//! cargo run --release --example https_server [ADDR]    # default 127.0.0.1:8443
//! # it prints the certificate's path, e.g. /tmp/weft-https-server-8443.pem:
//! curl --cacert /tmp/weft-https-server-8443.pem https://localhost:8443/
//! curl --cacert /tmp/weft-https-server-8443.pem https://localhost:8443/json
//! curl --cacert /tmp/weft-https-server-8443.pem --http1.1 https://localhost:8443/
//! wrk -t2 -c64 -d10s https://127.0.0.1:8443/          # wrk does not check certificates
//! ```
//!
//! The TLS handshake is the serve helper's per-connection step: it runs in
//! each connection's own task, under the helper's handshake timeout, never
//! in the accept loop, so a client that sends garbage or stalls halfway
//! through its hello costs only its own task. Like `http_server`, it stops
//! accepting on Ctrl-C or SIGTERM, gives requests in flight a grace period
//! and exits 0; it removes the certificate file on the way out.

mod http_app;
mod self_signed;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use weft::hyper::{serve, TowerToHyperService};

/// How long in-flight requests get after the stop signal.
const GRACE: Duration = Duration::from_secs(5);

/// How long a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[weft::main]
async fn main() -> ExitCode {
    let (listener, stop) = match http_app::listen("https_server", "127.0.0.1:8443") {
        Ok(ready) => ready,
        Err(code) => return code,
    };
    let port = match listener.local_addr() {
        Ok(local) => local.port(),
        Err(e) => {
            eprintln!("https_server: local address unknown: {e}");
            return ExitCode::FAILURE;
        }
    };
    let identity = self_signed::Identity::generate();
    let cert_path: PathBuf = std::env::temp_dir().join(format!("weft-https-server-{port}.pem"));
    if let Err(e) = std::fs::write(&cert_path, identity.cert_pem()) {
        eprintln!("https_server: cannot write {}: {e}", cert_path.display());
        return ExitCode::FAILURE;
    }
    println!("listening on https://localhost:{port}");
    println!("certificate: {}", cert_path.display());
    println!(
        "try: curl --cacert {} https://localhost:{port}/",
        cert_path.display()
    );

    let acceptor = identity.acceptor(self_signed::HTTP_ALPN);
    let app = TowerToHyperService::new(http_app::router(http_app::REQUEST_DEADLINE));
    let report = serve(listener, app)
        .handshake(move |tcp| acceptor.accept(tcp))
        .handshake_timeout(HANDSHAKE_TIMEOUT)
        .grace_period(GRACE)
        .with_graceful_shutdown(stop)
        .await;
    http_app::print_report(report);
    if let Err(e) = std::fs::remove_file(&cert_path) {
        eprintln!("https_server: cannot remove {}: {e}", cert_path.display());
    }
    ExitCode::SUCCESS
}
