//! TLS handshakes per second: weft with futures-rustls against tokio
//! (multi-thread) with tokio-rustls, in one run, with the same worker count
//! (`WEFT_BENCH_WORKERS`, default `available_parallelism`), the same rustls
//! build (the `ring` provider), the same self-signed certificate and the
//! same client and server configurations.
//!
//! * `tls_handshake`: a TLS server on the runtime, whose accept loop only
//!   accepts and hands each connection to its own task; that task runs the
//!   handshake, reads one byte, writes it back and closes (close_notify, then
//!   the socket). One iteration is [`CLIENTS`] client tasks, each making
//!   [`HANDSHAKES`] connections one after another: connect, full handshake,
//!   one byte there and back (so both ends have finished their handshake),
//!   read to the server's close. The listener and the accept loop are set up
//!   once per runtime, outside the timed loop. Both ends set `TCP_NODELAY`
//!   (as weft's hyper listener does): a handshake is several small writes
//!   in a row, which Nagle's algorithm would hold back for the peer's
//!   delayed ACK.
//!
//! Every handshake is a full one: the client keeps no sessions (rustls would
//! otherwise resume with a pre-shared key, which skips the certificate and
//! the signature that make a handshake cost what it does). The server closes
//! first, so the connections' TIME_WAIT is on the server's side and the
//! client's ephemeral ports are not used up over a run.
//!
//! async-executor is not measured here: it would run futures-rustls exactly
//! as weft does, so it would compare executors, which the other benches do.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use weft_benches::{run_in_task, workers, Rt, Tokio, Weft};

/// Client tasks per iteration, all at once.
const CLIENTS: usize = 4;
/// Sequential handshakes of each client task per iteration.
const HANDSHAKES: usize = 16;

/// The byte each connection sends and gets back.
const PING: u8 = 0x5a;

// ---------------------------------------------------------------------------
// The certificate and the configurations, shared by both runtimes
// ---------------------------------------------------------------------------

/// One self-signed certificate for `localhost`, and the rustls server and
/// client configurations built on it, on the `ring` provider.
#[derive(Clone)]
struct Configs {
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
}

impl Configs {
    fn generate() -> Configs {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("rcgen makes a self-signed certificate");
        let cert: CertificateDer<'static> = certified.cert.der().clone();
        let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
        let server = ServerConfig::builder_with_provider(ring_provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], PrivateKeyDer::Pkcs8(key))
            .expect("rustls accepts rcgen's certificate and key");
        let mut roots = RootCertStore::empty();
        roots.add(cert).expect("a root rustls accepts");
        let mut client = ClientConfig::builder_with_provider(ring_provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.resumption = Resumption::disabled();
        Configs {
            server: Arc::new(server),
            client: Arc::new(client),
        }
    }
}

/// rustls's `ring` provider, named explicitly. (rustls 0.23.48 deprecates
/// it for lacking post-quantum key exchange; the workspace stays on ring, see
/// docs/dependencies.md.)
#[allow(deprecated)]
fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_name() -> ServerName<'static> {
    ServerName::try_from("localhost").expect("a valid DNS name")
}

// ---------------------------------------------------------------------------
// The server and the client handshake per runtime
// ---------------------------------------------------------------------------

/// What the handshake bench needs beyond [`Rt`]. Both functions run in tasks
/// on the runtime.
trait TlsRt: Rt {
    /// Binds a loopback listener and spawns the server on it; returns its
    /// address. The server runs until the runtime is dropped.
    fn start_server(
        ctx: &Self::Ctx,
        config: Arc<ServerConfig>,
    ) -> impl Future<Output = SocketAddr> + Send;

    /// One connection: connect, handshake, one byte there and back, read to
    /// the server's close.
    fn handshake(
        addr: SocketAddr,
        config: Arc<ClientConfig>,
    ) -> impl Future<Output = io::Result<()>> + Send;
}

/// The loopback address with a port the kernel picks.
fn any_port() -> SocketAddr {
    (Ipv4Addr::LOCALHOST, 0).into()
}

impl TlsRt for Weft {
    async fn start_server(_: &(), config: Arc<ServerConfig>) -> SocketAddr {
        let listener = weft::net::TcpListener::bind(any_port()).expect("bind loopback");
        let addr = listener.local_addr().expect("weft local_addr");
        let acceptor = futures_rustls::TlsAcceptor::from(config);
        weft::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.expect("accept on loopback");
                tcp.set_nodelay(true).expect("TCP_NODELAY");
                let acceptor = acceptor.clone();
                weft::spawn(async move {
                    use futures_util::{AsyncReadExt, AsyncWriteExt};
                    let mut stream = acceptor.accept(tcp).await.expect("server handshake");
                    let mut byte = [0];
                    stream.read_exact(&mut byte).await.expect("server read");
                    stream.write_all(&byte).await.expect("server write");
                    stream.close().await.expect("server close");
                })
                .detach();
            }
        })
        .detach();
        addr
    }

    async fn handshake(addr: SocketAddr, config: Arc<ClientConfig>) -> io::Result<()> {
        use futures_util::{AsyncReadExt, AsyncWriteExt};
        let tcp = weft::net::TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let connector = futures_rustls::TlsConnector::from(config);
        let mut stream = connector.connect(server_name(), tcp).await?;
        stream.write_all(&[PING]).await?;
        let mut rest = Vec::with_capacity(1);
        stream.read_to_end(&mut rest).await?;
        check_pong(&rest)
    }
}

impl TlsRt for Tokio {
    async fn start_server(_: &(), config: Arc<ServerConfig>) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind(any_port())
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("tokio local_addr");
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.expect("accept on loopback");
                tcp.set_nodelay(true).expect("TCP_NODELAY");
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut stream = acceptor.accept(tcp).await.expect("server handshake");
                    let mut byte = [0];
                    stream.read_exact(&mut byte).await.expect("server read");
                    stream.write_all(&byte).await.expect("server write");
                    stream.shutdown().await.expect("server close");
                });
            }
        });
        addr
    }

    async fn handshake(addr: SocketAddr, config: Arc<ClientConfig>) -> io::Result<()> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let mut stream = connector.connect(server_name(), tcp).await?;
        stream.write_all(&[PING]).await?;
        let mut rest = Vec::with_capacity(1);
        stream.read_to_end(&mut rest).await?;
        check_pong(&rest)
    }
}

/// What a client read after its ping must be exactly the ping.
fn check_pong(got: &[u8]) -> io::Result<()> {
    if got == [PING] {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "expected the ping back, got {got:?}"
        )))
    }
}

// ---------------------------------------------------------------------------
// The bench
// ---------------------------------------------------------------------------

/// One iteration: [`CLIENTS`] tasks, [`HANDSHAKES`] connections each.
fn handshake_iter<R: TlsRt>(rt: &R, addr: SocketAddr, config: &Arc<ClientConfig>) {
    let ctx = rt.ctx();
    let config = config.clone();
    let done = run_in_task(rt, async move {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let config = config.clone();
                R::spawn(&ctx, async move {
                    for _ in 0..HANDSHAKES {
                        R::handshake(addr, config.clone())
                            .await
                            .expect("a TLS handshake over loopback");
                    }
                    HANDSHAKES
                })
            })
            .collect();
        let mut done = 0;
        for client in clients {
            done += client.await;
        }
        done
    });
    assert_eq!(done, CLIENTS * HANDSHAKES);
}

fn bench_handshakes<R: TlsRt>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    configs: &Configs,
) {
    // Built on the first call of the routine, so a bench left out by a
    // filter builds nothing; dropped (with its server) before the next
    // runtime is built.
    let mut state: Option<(R, SocketAddr)> = None;
    group.bench_function(R::NAME, |b| {
        let (rt, addr) = state.get_or_insert_with(|| {
            let rt = R::build(workers());
            let ctx = rt.ctx();
            let server = configs.server.clone();
            let addr = run_in_task(&rt, async move { R::start_server(&ctx, server).await });
            // Sanity run before timing: a broken setup fails here.
            handshake_iter(&rt, addr, &configs.client);
            (rt, addr)
        });
        b.iter(|| handshake_iter(rt, *addr, &configs.client))
    });
    drop(state);
}

fn tls_handshake(c: &mut Criterion) {
    let configs = Configs::generate();
    let mut group = c.benchmark_group("tls_handshake");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements((CLIENTS * HANDSHAKES) as u64));
    bench_handshakes::<Weft>(&mut group, &configs);
    bench_handshakes::<Tokio>(&mut group, &configs);
    group.finish();
}

fn config() -> Criterion {
    eprintln!(
        "weft-benches tls: {} worker thread(s) per runtime",
        workers()
    );
    // An iteration is tens of milliseconds of handshakes; few samples and a
    // short measurement keep the connections of a run in the low thousands.
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = tls;
    config = config();
    targets = tls_handshake
}
criterion_main!(tls);
