//! pingora peers from lb backends: [`http_peer`], [`basic_peer`], and [`UpstreamTls`], the
//! extension that says a backend speaks TLS and under which server name.

use std::sync::Arc;

use lb_core::{Address, Backend};
use pingora_core::protocols::l4::socket::SocketAddr;
use pingora_core::upstreams::peer::{BasicPeer, HttpPeer, PeerOptions, Scheme};

use crate::error::PeerError;

/// TLS to a backend, put in its [extensions](lb_core::Extensions) by whoever builds the backend
/// (the application, or a discovery source it wraps): [`http_peer`] and [`basic_peer`] then
/// connect with TLS and send this server name (SNI), and pingora verifies the backend's
/// certificate against it. A backend without it is connected to in plain text.
///
/// The server name is required: pingora skips certificate verification altogether when a TLS
/// peer has no server name, so a TLS backend without one would be unverified by accident. To turn
/// verification off, say so by name on the peer (`peer.options.verify_cert = false`).
///
/// ```
/// use lb_core::Backend;
/// use lb_pingora::{UpstreamTls, http_peer};
///
/// let backend = Backend::new("10.0.0.1:443")?.with_ext(UpstreamTls::new("api.example.com")?);
/// let peer = http_peer(&backend)?;
/// assert!(peer.is_tls());
/// assert_eq!(peer.sni, "api.example.com");
///
/// let plain = http_peer(&Backend::new("10.0.0.2:80")?)?;
/// assert!(!plain.is_tls());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamTls {
    sni: Arc<str>,
}

impl UpstreamTls {
    /// TLS with `sni` as the server name; an empty name is an error (see the type docs).
    pub fn new(sni: impl Into<String>) -> Result<Self, PeerError> {
        let sni = sni.into();
        if sni.is_empty() {
            return Err(PeerError::EmptySni);
        }
        if let Some(bad) = sni.chars().find(|c| c.is_control() || c.is_whitespace()) {
            return Err(PeerError::InvalidSni { sni, bad });
        }
        Ok(UpstreamTls { sni: sni.into() })
    }

    /// The server name sent to the backend and checked against its certificate.
    pub fn sni(&self) -> &str {
        &self.sni
    }
}

/// The pingora address of an lb address.
///
/// An IP address converts as it is. A Unix socket path fails only when the operating system
/// rejects it (a path parsed by [`Address::parse`] never is; one built directly as
/// `Address::Unix` may be).
pub fn socket_addr(addr: &Address) -> Result<SocketAddr, PeerError> {
    match addr {
        Address::Inet(inet) => Ok(SocketAddr::Inet(*inet)),
        Address::Unix(path) => std::os::unix::net::SocketAddr::from_pathname(path)
            .map(SocketAddr::Unix)
            .map_err(|source| PeerError::UnixPath {
                path: path.display().to_string(),
                source,
            }),
    }
}

/// The [`HttpPeer`] that reaches `backend`: its address, and TLS with the server name of its
/// [`UpstreamTls`] extension when it has one. Pass a [`Pick`](lb_core::Pick) as `&pick` (it
/// dereferences to its backend). The peer has pingora's default options; set timeouts, ALPN or a
/// CA on `peer.options` afterwards.
///
/// ```
/// use lb_core::Backend;
/// let peer = lb_pingora::http_peer(&Backend::new("unix:/run/app.sock")?)?;
/// assert_eq!(
///     peer._address.as_unix().and_then(|a| a.as_pathname()),
///     Some(std::path::Path::new("/run/app.sock")),
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn http_peer(backend: &Backend) -> Result<HttpPeer, PeerError> {
    let sni = backend
        .ext
        .get::<UpstreamTls>()
        .map(|tls| tls.sni().to_owned());
    // What `HttpPeer::new` builds, without its unwrapped address resolution and for Unix paths
    // that are not UTF-8 too.
    Ok(HttpPeer {
        _address: socket_addr(&backend.addr)?,
        scheme: Scheme::from_tls_bool(sni.is_some()),
        sni: sni.unwrap_or_default(),
        proxy: None,
        client_cert_key: None,
        group_key: 0,
        options: PeerOptions::new(),
    })
}

/// The [`BasicPeer`] (a pingora L4 peer: a TCP or Unix stream, for `TransportConnector` users)
/// that reaches `backend`, with TLS and its server name from the [`UpstreamTls`] extension.
///
/// ```
/// use lb_core::Backend;
/// use lb_pingora::{UpstreamTls, basic_peer};
/// use pingora_core::upstreams::peer::Peer;
///
/// let backend = Backend::new("[::1]:8443")?.with_ext(UpstreamTls::new("db.internal")?);
/// let peer = basic_peer(&backend)?;
/// assert!(peer.tls());
/// assert_eq!(peer.sni(), "db.internal");
/// assert_eq!(peer.address().to_string(), "[::1]:8443");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn basic_peer(backend: &Backend) -> Result<BasicPeer, PeerError> {
    Ok(BasicPeer {
        _address: socket_addr(&backend.addr)?,
        // A `BasicPeer` speaks TLS exactly when its server name is not empty.
        sni: backend
            .ext
            .get::<UpstreamTls>()
            .map(|tls| tls.sni().to_owned())
            .unwrap_or_default(),
        options: PeerOptions::new(),
    })
}
