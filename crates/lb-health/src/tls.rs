//! [`TlsConfig`]: how TLS probes verify backends and present themselves, on one rustls crypto
//! provider chosen at build time.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::connect::TlsTarget;
use crate::error::ConfigError;

/// The crypto provider every TLS probe uses: `aws-lc-rs` when that feature is on, else `ring`
/// (the default feature), else the process default if the application installed one.
///
/// lb-health never relies on rustls picking a provider from its crate features, so it works
/// however many providers the dependency graph compiles in.
pub fn crypto_provider() -> Result<Arc<CryptoProvider>, ConfigError> {
    #[cfg(feature = "aws-lc-rs")]
    {
        Ok(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
    }
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    {
        Ok(Arc::new(rustls::crypto::ring::default_provider()))
    }
    #[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
    {
        CryptoProvider::get_default()
            .cloned()
            .ok_or(ConfigError::NoCryptoProvider)
    }
}

/// TLS settings of a probe: trusted roots, an optional client certificate, an optional server
/// name, and certificate verification (on unless turned off by
/// [`TlsConfig::dangerous_accept_any_certificate`]).
///
/// ```
/// use lb_health::TlsConfig;
/// // The public web roots (the default), and an explicit name to send and verify.
/// let tls = TlsConfig::new().with_server_name("api.internal");
/// # let _ = tls;
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    roots: Option<Arc<RootCertStore>>,
    client_auth: Option<Arc<ClientAuth>>,
    server_name: Option<String>,
    verify: bool,
}

struct ClientAuth {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsConfig {
    /// Verifies certificates against the Mozilla roots shipped in `webpki-roots`, sends the
    /// probe's host (or the backend's IP address) as the server name, and presents no client
    /// certificate.
    pub fn new() -> Self {
        TlsConfig {
            roots: None,
            client_auth: None,
            server_name: None,
            verify: true,
        }
    }

    /// Trusts exactly `roots` instead of the Mozilla roots (a private CA, for instance).
    pub fn with_root_certificates(mut self, roots: RootCertStore) -> Self {
        self.roots = Some(Arc::new(roots));
        self
    }

    /// Trusts exactly one root certificate (DER) instead of the Mozilla roots.
    pub fn with_root_certificate(self, root: CertificateDer<'static>) -> Result<Self, ConfigError> {
        let mut roots = RootCertStore::empty();
        roots
            .add(root)
            .map_err(|source| ConfigError::Tls { source })?;
        Ok(self.with_root_certificates(roots))
    }

    /// Presents `chain` (leaf first) and proves possession of `key`: mutual TLS.
    pub fn with_client_auth(
        mut self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Self {
        self.client_auth = Some(Arc::new(ClientAuth { chain, key }));
        self
    }

    /// Sends and verifies `name` instead of the probe's host or the backend's IP address.
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Accepts any certificate, trusted or not, for any name. The handshake still checks
    /// that the server holds the certificate's key, but an attacker on the path can answer in
    /// the backend's place: use it only for backends you reach over a network you trust.
    pub fn dangerous_accept_any_certificate(mut self) -> Self {
        self.verify = false;
        self
    }

    /// Whether certificates are verified (the default).
    pub fn verifies_certificates(&self) -> bool {
        self.verify
    }

    /// The explicit server name, if one was set.
    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// Builds the rustls config for a probe that offers `alpn` and, when this config has no
    /// explicit server name, sends `default_name` (for example the `Host`, without port), or
    /// else the backend's IP address at probe time.
    pub(crate) fn target(
        &self,
        alpn: &[&[u8]],
        default_name: Option<&str>,
    ) -> Result<TlsTarget, ConfigError> {
        let provider = crypto_provider()?;
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|source| ConfigError::Tls { source })?;
        let builder = if self.verify {
            let roots = match &self.roots {
                Some(roots) => Arc::clone(roots),
                None => Arc::new(RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                }),
            };
            builder.with_root_certificates(roots)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        };
        let mut config = match &self.client_auth {
            Some(auth) => builder
                .with_client_auth_cert(auth.chain.clone(), auth.key.clone_key())
                .map_err(|source| ConfigError::Tls { source })?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let server_name = match self.server_name.as_deref().or(default_name) {
            Some(name) => Some(ServerName::try_from(name.to_owned()).map_err(|_| {
                ConfigError::ServerName {
                    name: name.to_owned(),
                }
            })?),
            None => None,
        };
        Ok(TlsTarget {
            config: Arc::new(config),
            server_name,
        })
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field(
                "roots",
                &match &self.roots {
                    Some(r) => format!("{} custom", r.len()),
                    None => "webpki-roots".to_owned(),
                },
            )
            .field("client_auth", &self.client_auth.is_some())
            .field("server_name", &self.server_name)
            .field("verify", &self.verify)
            .finish()
    }
}

/// The verifier behind [`TlsConfig::dangerous_accept_any_certificate`]: every certificate is
/// accepted, but handshake signatures are still checked with the provider's algorithms.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated_and_verification_is_on_by_default() {
        let tls = TlsConfig::new();
        assert!(tls.verifies_certificates());
        let t = tls.target(&[b"h2"], Some("example.com")).unwrap();
        assert_eq!(t.config.alpn_protocols, vec![b"h2".to_vec()]);
        assert!(matches!(t.server_name, Some(ServerName::DnsName(_))));
        let ip = tls.target(&[], Some("127.0.0.1")).unwrap();
        assert!(matches!(ip.server_name, Some(ServerName::IpAddress(_))));
        assert!(tls.target(&[], None).unwrap().server_name.is_none());
        let bad = TlsConfig::new()
            .with_server_name("not a name!")
            .target(&[], None);
        assert!(matches!(bad, Err(ConfigError::ServerName { name }) if name == "not a name!"));
        assert!(
            !TlsConfig::new()
                .dangerous_accept_any_certificate()
                .verifies_certificates()
        );
    }

    #[test]
    fn a_garbage_root_certificate_is_a_typed_error() {
        let e = TlsConfig::new()
            .with_root_certificate(CertificateDer::from(vec![1, 2, 3]))
            .unwrap_err();
        assert!(e.to_string().starts_with("invalid tls settings"), "{e}");
    }
}
