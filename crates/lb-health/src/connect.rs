//! Opening a connection to a backend: TCP (or a Unix socket), then optionally TLS, each step
//! under the probe's [`Budget`].

use std::io;
use std::sync::Arc;
use std::time::Duration;

use lb_core::{Address, Backend};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::budget::Budget;
use crate::error::{Phase, ProbeError};

/// A byte stream to a backend, whatever carries it.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A boxed [`Io`]; probes are not a hot path, and one type keeps the HTTP code simple.
pub(crate) type BoxIo = Box<dyn Io>;

/// The address a probe of `backend` connects to: its own, with the port replaced when
/// `port_override` is set (Unix sockets have no port and keep their path).
pub(crate) fn probe_address(backend: &Backend, port_override: Option<u16>) -> Address {
    match port_override {
        Some(port) => backend.addr.with_port(port),
        None => backend.addr.clone(),
    }
}

/// TLS settings resolved for one probe: the rustls config and the name to send and verify
/// (`None`: the backend's IP address).
#[derive(Clone, Debug)]
pub(crate) struct TlsTarget {
    pub(crate) config: Arc<ClientConfig>,
    pub(crate) server_name: Option<ServerName<'static>>,
}

fn classify_connect(target: &str, e: io::Error, budget: &Budget, after: Duration) -> ProbeError {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ProbeError::Refused {
            target: target.to_owned(),
            source: e,
        },
        io::ErrorKind::TimedOut => budget.timeout(Phase::Connect, after),
        _ => ProbeError::Connect {
            target: target.to_owned(),
            source: e,
        },
    }
}

/// How a probe uses the TCP connection it opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TcpUse {
    /// It sends a request (or a TLS handshake) and waits for the answer: Nagle's algorithm
    /// would only delay it, so it is turned off. A plain connect probe sends nothing and skips
    /// the system call.
    pub(crate) exchanges: bool,
    /// Closing it sends a reset instead of a FIN, so that neither side keeps it in TIME_WAIT.
    pub(crate) abortive_close: bool,
}

/// Opens a TCP or Unix connection to `addr` within `connect_timeout` (and the budget), set up
/// for `usage`.
pub(crate) async fn connect(
    addr: &Address,
    budget: &Budget,
    connect_timeout: Duration,
    usage: TcpUse,
) -> Result<BoxIo, ProbeError> {
    let after = connect_timeout.min(budget.left());
    budget
        .step(Phase::Connect, connect_timeout, async {
            match addr {
                Address::Inet(sa) => {
                    let stream = tokio::net::TcpStream::connect(sa)
                        .await
                        .map_err(|e| classify_connect(&budget.target, e, budget, after))?;
                    // Failing to set either option is harmless, so the errors are ignored.
                    if usage.exchanges {
                        let _ = stream.set_nodelay(true);
                    }
                    if usage.abortive_close {
                        // A zero linger never blocks: the close just sends RST.
                        // (socket2, because tokio's own setter is newer than our minimum tokio.)
                        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                    }
                    Ok(Box::new(stream) as BoxIo)
                }
                #[cfg(unix)]
                Address::Unix(path) => {
                    let stream = tokio::net::UnixStream::connect(path)
                        .await
                        .map_err(|e| classify_connect(&budget.target, e, budget, after))?;
                    Ok(Box::new(stream) as BoxIo)
                }
                #[cfg(not(unix))]
                Address::Unix(_) => Err(ProbeError::Connect {
                    target: budget.target.clone(),
                    source: io::Error::new(
                        io::ErrorKind::Unsupported,
                        "unix sockets are not supported on this platform",
                    ),
                }),
            }
        })
        .await
}

/// A completed TLS handshake.
pub(crate) struct Handshake {
    /// The encrypted stream.
    pub(crate) io: BoxIo,
    /// The ALPN protocol the server chose.
    pub(crate) alpn: Option<Vec<u8>>,
    /// The server name sent and verified (the backend's IP address when no name was set).
    pub(crate) server_name: String,
}

/// Runs the TLS handshake over `io` within `timeout` (and the budget).
pub(crate) async fn handshake(
    io: BoxIo,
    tls: &TlsTarget,
    addr: &Address,
    budget: &Budget,
    timeout: Duration,
) -> Result<Handshake, ProbeError> {
    let server_name = match (&tls.server_name, addr) {
        (Some(name), _) => name.clone(),
        (None, Address::Inet(sa)) => ServerName::IpAddress(sa.ip().into()),
        (None, Address::Unix(_)) => {
            return Err(ProbeError::Tls {
                target: budget.target.clone(),
                server_name: String::new(),
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a unix socket has no address to verify: set a tls server name",
                ),
            });
        }
    };
    let name = server_name_text(&server_name);
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(&tls.config));
    budget
        .step(Phase::TlsHandshake, timeout, async {
            let stream =
                connector
                    .connect(server_name, io)
                    .await
                    .map_err(|source| ProbeError::Tls {
                        target: budget.target.clone(),
                        server_name: name.clone(),
                        source,
                    })?;
            let alpn = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
            Ok(Handshake {
                io: Box::new(stream),
                alpn,
                server_name: name.clone(),
            })
        })
        .await
}

fn server_name_text(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(d) => d.as_ref().to_owned(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}
