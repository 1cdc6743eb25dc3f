//! TLS for the tests that need it (net_tls, http_tls): a self-signed
//! certificate for `localhost` made by rcgen, a rustls server configuration
//! serving it and a client configuration trusting only it, both on the `ring`
//! provider named explicitly (so the tests do not depend on which providers
//! cargo's feature unification happens to enable).
//!
//! Pulled in with `#[path = "common/tls.rs"] mod tls;`, so the test binaries
//! that do not speak TLS do not compile it.
#![allow(dead_code)]

use std::sync::Arc;

use futures_rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use futures_rustls::rustls::crypto::{ring, CryptoProvider};
use futures_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use futures_rustls::{TlsAcceptor, TlsConnector};

/// The name the certificate is for, and the name clients ask for.
pub const SERVER_NAME: &str = "localhost";

/// A freshly generated self-signed certificate and its key.
pub struct Identity {
    pub cert: CertificateDer<'static>,
    pub key: PrivatePkcs8KeyDer<'static>,
}

impl Identity {
    /// A new self-signed certificate for [`SERVER_NAME`].
    pub fn generate() -> Identity {
        let certified = rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_owned()])
            .expect("rcgen makes a self-signed certificate");
        Identity {
            cert: certified.cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()),
        }
    }

    /// A server configuration presenting this certificate, with `alpn`
    /// protocols offered in order (empty: no ALPN).
    pub fn server_config(&self, alpn: &[&[u8]]) -> Arc<ServerConfig> {
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

    /// An acceptor for [`server_config`](Self::server_config) without ALPN.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.server_config(&[]))
    }

    /// A client configuration that trusts this certificate and nothing else.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots
            .add(self.cert.clone())
            .expect("rustls accepts rcgen's certificate as a root");
        client_config_with(roots, alpn)
    }

    /// A connector for [`client_config`](Self::client_config) without ALPN.
    pub fn connector(&self) -> TlsConnector {
        TlsConnector::from(self.client_config(&[]))
    }
}

/// A client configuration trusting `roots`, offering `alpn`.
pub fn client_config_with(roots: RootCertStore, alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// rustls's `ring` provider. rustls 0.23.48 marks it deprecated because ring
/// has no post-quantum key exchange (X25519MLKEM768 needs aws-lc-rs); weft
/// stays on ring so that nothing needs cmake and aws-lc's C build
/// (docs/dependencies.md), and keys are exchanged over X25519 or the NIST
/// curves instead.
#[allow(deprecated)]
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// The name clients connect to, as rustls wants it.
pub fn server_name() -> ServerName<'static> {
    ServerName::try_from(SERVER_NAME).expect("localhost is a valid DNS name")
}
