//! HTTP connections for probes: TCP (or Unix), optional TLS with ALPN, then an HTTP/1.1 or
//! HTTP/2 client connection with capped header sizes, driven by a task that dies with it.

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use lb_core::Address;
use tokio::task::AbortHandle;

use crate::budget::Budget;
use crate::connect::{self, TlsTarget};
use crate::error::{Phase, ProbeError};

/// Which HTTP version a probe speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HttpProtocol {
    /// HTTP/1.1, over TLS or not.
    Http1,
    /// HTTP/2: with prior knowledge (h2c) over plain TCP; over TLS, the server must choose `h2`
    /// by ALPN.
    Http2,
    /// Over TLS, offer `h2` and `http/1.1` by ALPN and speak what the server chooses; over plain
    /// TCP, HTTP/1.1. The default.
    #[default]
    Negotiate,
}

/// The smallest read buffer hyper's HTTP/1.1 client accepts.
const MIN_H1_BUFFER: usize = 8192;

/// How probe connections are opened (the probe's timeouts and caps are given to
/// [`Transport::open`], as the probe's public fields hold them).
#[derive(Clone, Debug)]
pub(crate) struct Transport {
    pub(crate) tls: Option<TlsTarget>,
    pub(crate) protocol: HttpProtocol,
}

/// The version a connection ended up speaking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wire {
    H1,
    H2,
}

impl Wire {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Wire::H1 => "http/1.1",
            Wire::H2 => "http/2",
        }
    }
}

enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// One open HTTP connection. Dropping it stops its driver task, which closes the socket.
pub(crate) struct Conn {
    sender: Sender,
    driver: AbortHandle,
    pub(crate) wire: Wire,
    /// The TLS server name sent and verified, for error messages (empty without TLS).
    server_name: String,
    header_limit: usize,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("wire", &self.wire).finish()
    }
}

impl Transport {
    /// Opens a connection to `addr` under `budget`, each handshake within `connect_timeout`,
    /// reading at most `max_header_bytes` of any response head.
    pub(crate) async fn open(
        &self,
        addr: &Address,
        budget: &Budget,
        connect_timeout: Duration,
        max_header_bytes: usize,
    ) -> Result<Conn, ProbeError> {
        let usage = connect::TcpUse {
            exchanges: true,
            abortive_close: false,
        };
        let io = connect::connect(addr, budget, connect_timeout, usage).await?;
        let (io, wire, server_name) = match &self.tls {
            Some(tls) => {
                let secured = connect::handshake(io, tls, addr, budget, connect_timeout).await?;
                let wire = match (self.protocol, secured.alpn.as_deref()) {
                    (HttpProtocol::Http1, _) => Wire::H1,
                    (HttpProtocol::Negotiate, Some(b"h2")) => Wire::H2,
                    (HttpProtocol::Negotiate, _) => Wire::H1,
                    (HttpProtocol::Http2, Some(b"h2")) => Wire::H2,
                    (HttpProtocol::Http2, other) => {
                        let chosen = other.map_or_else(
                            || "no protocol".to_owned(),
                            |p| format!("{:?}", String::from_utf8_lossy(p)),
                        );
                        return Err(ProbeError::Protocol {
                            target: budget.target.clone(),
                            protocol: "http/2",
                            source: format!("alpn: the server chose {chosen}, not h2").into(),
                        });
                    }
                };
                (secured.io, wire, secured.server_name)
            }
            None => {
                let wire = match self.protocol {
                    HttpProtocol::Http2 => Wire::H2,
                    HttpProtocol::Http1 | HttpProtocol::Negotiate => Wire::H1,
                };
                (io, wire, String::new())
            }
        };
        let io = TokioIo::new(io);
        let (sender, driver) = match wire {
            Wire::H1 => {
                let (sender, conn) = http1::Builder::new()
                    .max_header_size(max_header_bytes)
                    .max_buf_size(max_header_bytes.max(MIN_H1_BUFFER))
                    .handshake(io)
                    .await
                    .map_err(|e| {
                        classify(&budget.target, wire, &server_name, max_header_bytes, e)
                    })?;
                let driver = tokio::spawn(async move {
                    let _ = conn.await;
                });
                (Sender::H1(sender), driver.abort_handle())
            }
            Wire::H2 => {
                let header_cap = u32::try_from(max_header_bytes).unwrap_or(u32::MAX);
                let handshake = async {
                    http2::Builder::new(TokioExecutor::new())
                        .max_header_list_size(header_cap)
                        // A small receive window bounds what an endless body can push at us
                        // before we stop reading.
                        .initial_stream_window_size(64 * 1024)
                        .initial_connection_window_size(128 * 1024)
                        .max_concurrent_reset_streams(16)
                        .handshake(io)
                        .await
                        .map_err(|e| {
                            classify(&budget.target, wire, &server_name, max_header_bytes, e)
                        })
                };
                let (sender, conn) = budget
                    .step(Phase::Handshake, connect_timeout, handshake)
                    .await?;
                let driver = tokio::spawn(async move {
                    let _ = conn.await;
                });
                (Sender::H2(sender), driver.abort_handle())
            }
        };
        Ok(Conn {
            sender,
            driver,
            wire,
            server_name,
            header_limit: max_header_bytes,
        })
    }
}

impl Conn {
    /// Sends `request` and waits for the response head (the caller bounds the wait).
    pub(crate) async fn send(
        &mut self,
        target: &str,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, ProbeError> {
        let result = match &mut self.sender {
            Sender::H1(s) => match s.ready().await {
                Ok(()) => s.send_request(request).await,
                Err(e) => Err(e),
            },
            Sender::H2(s) => match s.ready().await {
                Ok(()) => s.send_request(request).await,
                Err(e) => Err(e),
            },
        };
        result.map_err(|e| self.error(target, e))
    }

    /// Classifies a hyper error met on this connection.
    pub(crate) fn error(&self, target: &str, e: hyper::Error) -> ProbeError {
        classify(target, self.wire, &self.server_name, self.header_limit, e)
    }

    /// Whether another request can be sent on this connection now.
    pub(crate) fn is_reusable(&self) -> bool {
        match &self.sender {
            Sender::H1(s) => s.is_ready(),
            Sender::H2(s) => !s.is_closed(),
        }
    }
}

/// Maps a hyper error to the probe failure it means.
fn classify(
    target: &str,
    wire: Wire,
    server_name: &str,
    header_limit: usize,
    e: hyper::Error,
) -> ProbeError {
    let target = target.to_owned();
    if let Some(source) = find_tls_error(&e, !server_name.is_empty()) {
        return ProbeError::Tls {
            target,
            server_name: server_name.to_owned(),
            source,
        };
    }
    // hyper only exposes `is_parse_too_large` with its server feature, which a client does not
    // need; its message for that case ("message head is too large") is the stable signal.
    if e.is_parse() && e.to_string().contains("too large") {
        return ProbeError::HeadersTooLarge {
            target,
            limit: header_limit,
        };
    }
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() || is_reset(&e) {
        return ProbeError::Reset {
            target,
            source: Box::new(e),
        };
    }
    ProbeError::Protocol {
        target,
        protocol: wire.name(),
        source: Box::new(e),
    }
}

/// A TLS failure anywhere in the chain (an alert after the handshake, for instance a server
/// rejecting our client certificate under TLS 1.3), as an I/O error holding it.
///
/// h2 (and hyper after it) keeps only the kind and text of I/O errors, so over TLS any
/// `InvalidData` I/O error (which is how tokio-rustls reports every TLS error; plain sockets
/// never produce it) counts as a TLS failure too.
fn find_tls_error(e: &(dyn StdError + 'static), over_tls: bool) -> Option<io::Error> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(io::Error::new(io::ErrorKind::InvalidData, tls.clone()));
        }
        if let Some(io) = err.downcast_ref::<io::Error>()
            && let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Some(io::Error::new(io::ErrorKind::InvalidData, tls.clone()));
        }
        if over_tls
            && let Some(io) = err
                .downcast_ref::<io::Error>()
                .or_else(|| err.downcast_ref::<h2::Error>().and_then(h2::Error::get_io))
            && io.kind() == io::ErrorKind::InvalidData
        {
            return Some(io::Error::new(io.kind(), io.to_string()));
        }
        cur = err.source();
    }
    None
}

/// Whether the chain holds a connection reset or an early end of stream, from the socket or
/// from the peer's HTTP/2 RST_STREAM or GOAWAY.
fn is_reset(e: &(dyn StdError + 'static)) -> bool {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>()
            && matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
            )
        {
            return true;
        }
        if let Some(h2) = err.downcast_ref::<h2::Error>()
            && (h2.is_io() || (h2.is_remote() && (h2.is_reset() || h2.is_go_away())))
        {
            return true;
        }
        cur = err.source();
    }
    false
}
