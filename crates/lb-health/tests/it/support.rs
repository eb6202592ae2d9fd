//! Test peers: a CA made at test time, TLS server configs, listeners that stop with the test's
//! runtime, and a minimal selection strategy for load balancers.

use std::net::SocketAddr;
use std::sync::Arc;

use lb_core::{Backend, BackendIter, BackendSelection, BoxError};
use lb_health::rustls::{self, RootCertStore, ServerConfig};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

/// A certificate authority generated for one test.
pub(crate) struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate chain and its key.
pub(crate) struct Identity {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
}

impl Pki {
    pub(crate) fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Pki { ca }
    }

    pub(crate) fn root(&self) -> CertificateDer<'static> {
        self.ca.der().clone()
    }

    pub(crate) fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.root()).unwrap();
        roots
    }

    /// A leaf certificate for `names` (DNS names or IP addresses), signed by this CA.
    pub(crate) fn leaf(&self, names: &[&str]) -> Identity {
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        Identity {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }

    /// A server config for `names` offering `alpn`; with `client_ca`, client certificates
    /// signed by it are required.
    pub(crate) fn server_config(
        &self,
        names: &[&str],
        alpn: &[&[u8]],
        client_ca: Option<&Pki>,
    ) -> Arc<ServerConfig> {
        let id = self.leaf(names);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match client_ca {
            Some(ca) => builder.with_client_cert_verifier(
                rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(ca.roots()),
                    provider,
                )
                .build()
                .unwrap(),
            ),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_single_cert(id.chain, id.key).unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }
}

pub(crate) async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// An address on loopback where nothing listens.
pub(crate) async fn closed_port() -> SocketAddr {
    let (listener, addr) = listener().await;
    drop(listener);
    addr
}

/// A TCP server that accepts and holds every connection until the peer closes it.
pub(crate) async fn accept_and_hold() -> SocketAddr {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut sink = tokio::io::sink();
                let _ = tokio::io::copy(&mut stream, &mut sink).await;
            });
        }
    });
    addr
}

/// A TLS server that completes handshakes with `config` and then holds the connection.
pub(crate) async fn tls_accept_and_hold(config: Arc<ServerConfig>) -> SocketAddr {
    let (listener, addr) = listener().await;
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let mut sink = tokio::io::sink();
                    let _ = tokio::io::copy(&mut tls, &mut sink).await;
                }
            });
        }
    });
    addr
}

pub(crate) fn backend(addr: SocketAddr) -> Backend {
    Backend::from(addr)
}

/// Backends in address order: enough to build a load balancer in tests.
pub(crate) struct InOrder(usize);
pub(crate) struct InOrderIter(std::ops::Range<usize>);

impl BackendIter for InOrderIter {
    fn next(&mut self) -> Option<usize> {
        self.0.next()
    }
}

impl BackendSelection for InOrder {
    type Config = ();
    type Iter<'a> = InOrderIter;
    fn build(backends: &[Backend], _: &()) -> Result<Self, BoxError> {
        Ok(InOrder(backends.len()))
    }
    fn iter(&self, _key: &[u8]) -> InOrderIter {
        InOrderIter(0..self.0)
    }
}

/// An error and its sources on one line, as lb-core keeps it.
pub(crate) use lb_core::error_chain;
