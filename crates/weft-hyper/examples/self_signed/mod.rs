//! TLS for the `https_server` example (and the TLS integration tests, which
//! include this file): a self-signed certificate made at start by rcgen, a
//! rustls server configuration presenting it and a client configuration
//! trusting it and nothing else, both on rustls's `ring` provider named
//! explicitly (so what cargo's feature unification enables elsewhere cannot
//! change the provider).
#![allow(dead_code)] // The example uses the server half, the tests both.

use std::sync::Arc;

use futures_rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use futures_rustls::rustls::crypto::{ring, CryptoProvider};
use futures_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use futures_rustls::{TlsAcceptor, TlsConnector};

/// The name the certificate is for, and the name clients ask for. The
/// certificate also names `127.0.0.1`.
pub(crate) const SERVER_NAME: &str = "localhost";

/// ALPN protocols for a server that speaks HTTP/2 and HTTP/1.1, preferring
/// HTTP/2 (weft-hyper's `auto` builder then sees the client's HTTP/2 preface).
pub(crate) const HTTP_ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];

/// A freshly generated self-signed certificate and its key.
pub(crate) struct Identity {
    cert: CertificateDer<'static>,
    cert_pem: String,
    key: PrivatePkcs8KeyDer<'static>,
}

impl Identity {
    /// A new self-signed certificate for [`SERVER_NAME`] and `127.0.0.1`.
    pub(crate) fn generate() -> Identity {
        let names = vec![SERVER_NAME.to_owned(), "127.0.0.1".to_owned()];
        let certified = rcgen::generate_simple_self_signed(names)
            .expect("rcgen makes a self-signed certificate");
        Identity {
            cert: certified.cert.der().clone(),
            cert_pem: certified.cert.pem(),
            key: PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()),
        }
    }

    /// The certificate in PEM, for a client to trust (`curl --cacert`).
    pub(crate) fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A server configuration presenting this certificate, offering the
    /// `alpn` protocols in order (empty: no ALPN).
    pub(crate) fn server_config(&self, alpn: &[&[u8]]) -> Arc<ServerConfig> {
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![self.cert.clone()],
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )
            .expect("rustls accepts rcgen's certificate and key");
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }

    /// An acceptor for [`server_config`](Self::server_config) with `alpn`.
    pub(crate) fn acceptor(&self, alpn: &[&[u8]]) -> TlsAcceptor {
        TlsAcceptor::from(self.server_config(alpn))
    }

    /// A client configuration that trusts this certificate and nothing else,
    /// offering the `alpn` protocols in order.
    pub(crate) fn client_config(&self, alpn: &[&[u8]]) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots
            .add(self.cert.clone())
            .expect("rustls accepts rcgen's certificate as a root");
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }

    /// A connector for [`client_config`](Self::client_config) with `alpn`.
    pub(crate) fn connector(&self, alpn: &[&[u8]]) -> TlsConnector {
        TlsConnector::from(self.client_config(alpn))
    }
}

/// rustls's `ring` provider. rustls 0.23.48 marks it deprecated because ring
/// has no post-quantum key exchange (X25519MLKEM768 needs aws-lc-rs); weft
/// stays on ring so that nothing needs cmake and aws-lc's C build
/// (docs/dependencies.md), and keys are exchanged over X25519 or the NIST
/// curves instead.
#[allow(deprecated)]
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// The name clients connect to, as rustls wants it.
pub(crate) fn server_name() -> ServerName<'static> {
    ServerName::try_from(SERVER_NAME).expect("localhost is a valid DNS name")
}
