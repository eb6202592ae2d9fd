//! Why a probe failed ([`ProbeError`], classified by [`ProbeErrorKind`]) and why a probe could
//! not be built ([`ConfigError`]).

use std::fmt;
use std::io;
use std::time::Duration;

use lb_core::BoxError;

/// The class of a probe failure, for metrics and decisions; [`ProbeError`] carries the details.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProbeErrorKind {
    /// The backend refused the connection (nothing listens there).
    Refused,
    /// Connecting failed for another reason (unreachable network, no route, bad socket).
    Connect,
    /// A step of the probe, or the whole probe, ran out of time.
    Timeout,
    /// The TLS handshake failed: untrusted or wrong-name certificate, no common protocol, or
    /// the connection broke during the handshake.
    Tls,
    /// The backend answered with a status (HTTP status or `grpc-status`) the probe does not
    /// accept, or the validator rejected the answer.
    Status,
    /// The response body failed the body check or exceeded the byte cap.
    Body,
    /// The backend broke the protocol: garbage bytes, oversized headers, a malformed frame.
    Protocol,
    /// The backend reset or closed the connection before the answer was complete.
    Reset,
    /// The gRPC health service answered, but not with `SERVING`.
    NotServing,
}

impl fmt::Display for ProbeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProbeErrorKind::Refused => "refused",
            ProbeErrorKind::Connect => "connect",
            ProbeErrorKind::Timeout => "timeout",
            ProbeErrorKind::Tls => "tls",
            ProbeErrorKind::Status => "status",
            ProbeErrorKind::Body => "body",
            ProbeErrorKind::Protocol => "protocol",
            ProbeErrorKind::Reset => "reset",
            ProbeErrorKind::NotServing => "not serving",
        })
    }
}

/// The step of a probe that ran out of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Opening the TCP (or Unix) connection.
    Connect,
    /// The TLS handshake.
    TlsHandshake,
    /// The HTTP/2 connection preface and settings exchange.
    Handshake,
    /// Waiting for the response head (status line and headers).
    Response,
    /// Reading the response body or trailers.
    Body,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Connect => "connect",
            Phase::TlsHandshake => "tls handshake",
            Phase::Handshake => "http/2 handshake",
            Phase::Response => "waiting for the response",
            Phase::Body => "reading the body",
        })
    }
}

/// Why a probe of one backend failed. Every message names the probed address; causes are left
/// to [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// See [`ProbeErrorKind::Refused`].
    #[error("connection to {target} refused")]
    Refused {
        /// The probed address.
        target: String,
        /// The socket error.
        #[source]
        source: io::Error,
    },
    /// See [`ProbeErrorKind::Connect`].
    #[error("connecting to {target} failed")]
    Connect {
        /// The probed address.
        target: String,
        /// The socket error.
        #[source]
        source: io::Error,
    },
    /// See [`ProbeErrorKind::Timeout`].
    #[error("{phase} of {target} timed out after {after:?}")]
    Timeout {
        /// The probed address.
        target: String,
        /// The step that ran out of time.
        phase: Phase,
        /// The time that step had (its own timeout, or what was left of the probe's deadline).
        after: Duration,
    },
    /// See [`ProbeErrorKind::Tls`].
    #[error("tls handshake with {target} (server name {server_name}) failed")]
    Tls {
        /// The probed address.
        target: String,
        /// The server name sent and verified.
        server_name: String,
        /// The TLS or socket error.
        #[source]
        source: io::Error,
    },
    /// The backend answered an HTTP status the probe does not accept.
    #[error("{target} answered http status {status}, expected {expected}")]
    Status {
        /// The probed address.
        target: String,
        /// The status received.
        status: u16,
        /// The accepted statuses.
        expected: String,
    },
    /// The validator rejected the response head.
    #[error("{target} answered http status {status}, rejected: {reason}")]
    Rejected {
        /// The probed address.
        target: String,
        /// The status received.
        status: u16,
        /// What the validator said.
        reason: String,
    },
    /// The body was longer than the probe reads.
    #[error("response body from {target} exceeds {limit} bytes")]
    BodyTooLong {
        /// The probed address.
        target: String,
        /// The byte cap.
        limit: usize,
    },
    /// The body failed the body check.
    #[error("response body from {target} failed the check: {reason}")]
    BodyMismatch {
        /// The probed address.
        target: String,
        /// What was expected.
        reason: String,
    },
    /// The response head was larger than the probe accepts.
    #[error("response headers from {target} exceed {limit} bytes")]
    HeadersTooLarge {
        /// The probed address.
        target: String,
        /// The byte cap.
        limit: usize,
    },
    /// See [`ProbeErrorKind::Protocol`].
    #[error("{target} broke the {protocol} protocol")]
    Protocol {
        /// The probed address.
        target: String,
        /// `http/1.1`, `http/2` or `grpc`.
        protocol: &'static str,
        /// What went wrong.
        #[source]
        source: BoxError,
    },
    /// See [`ProbeErrorKind::Reset`].
    #[error("{target} closed the connection before the answer was complete")]
    Reset {
        /// The probed address.
        target: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// The gRPC call ended with a non-zero `grpc-status`.
    #[error("grpc health check of {target} failed with grpc-status {code}{}", message_suffix(.message))]
    GrpcStatus {
        /// The probed address.
        target: String,
        /// The `grpc-status` code.
        code: u32,
        /// The `grpc-message`, if any (at most 256 bytes of it).
        message: Option<String>,
    },
    /// See [`ProbeErrorKind::NotServing`].
    #[error("grpc health of {target}{} is {status}", service_suffix(.service))]
    NotServing {
        /// The probed address.
        target: String,
        /// The service asked about (`""` = the whole server).
        service: String,
        /// The status answered: `NOT_SERVING`, `SERVICE_UNKNOWN`, `UNKNOWN` or a number.
        status: String,
    },
}

fn message_suffix(message: &Option<String>) -> String {
    match message {
        Some(m) => format!(" ({m})"),
        None => String::new(),
    }
}

fn service_suffix(service: &str) -> String {
    if service.is_empty() {
        String::new()
    } else {
        format!(" service {service:?}")
    }
}

impl ProbeError {
    /// The class of the failure.
    pub fn kind(&self) -> ProbeErrorKind {
        match self {
            ProbeError::Refused { .. } => ProbeErrorKind::Refused,
            ProbeError::Connect { .. } => ProbeErrorKind::Connect,
            ProbeError::Timeout { .. } => ProbeErrorKind::Timeout,
            ProbeError::Tls { .. } => ProbeErrorKind::Tls,
            ProbeError::Status { .. }
            | ProbeError::Rejected { .. }
            | ProbeError::GrpcStatus { .. } => ProbeErrorKind::Status,
            ProbeError::BodyTooLong { .. } | ProbeError::BodyMismatch { .. } => {
                ProbeErrorKind::Body
            }
            ProbeError::HeadersTooLarge { .. } | ProbeError::Protocol { .. } => {
                ProbeErrorKind::Protocol
            }
            ProbeError::Reset { .. } => ProbeErrorKind::Reset,
            ProbeError::NotServing { .. } => ProbeErrorKind::NotServing,
        }
    }

    /// The probed address, as shown in the message.
    pub fn target(&self) -> &str {
        match self {
            ProbeError::Refused { target, .. }
            | ProbeError::Connect { target, .. }
            | ProbeError::Timeout { target, .. }
            | ProbeError::Tls { target, .. }
            | ProbeError::Status { target, .. }
            | ProbeError::Rejected { target, .. }
            | ProbeError::BodyTooLong { target, .. }
            | ProbeError::BodyMismatch { target, .. }
            | ProbeError::HeadersTooLarge { target, .. }
            | ProbeError::Protocol { target, .. }
            | ProbeError::Reset { target, .. }
            | ProbeError::GrpcStatus { target, .. }
            | ProbeError::NotServing { target, .. } => target,
        }
    }

    /// The kind of a boxed error returned by a probe's `check`, if it is a [`ProbeError`].
    pub fn kind_of(error: &(dyn std::error::Error + 'static)) -> Option<ProbeErrorKind> {
        error.downcast_ref::<ProbeError>().map(ProbeError::kind)
    }
}

/// Why a probe could not be built from its settings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The TLS server name is not a valid DNS name or IP address.
    #[error("invalid tls server name {name:?}")]
    ServerName {
        /// The name given.
        name: String,
    },
    /// The `Host` is not a valid authority.
    #[error("invalid host {host:?}")]
    Host {
        /// The host given.
        host: String,
    },
    /// The request path is not a valid URI path (it must start with `/`).
    #[error("invalid request path {path:?}")]
    Path {
        /// The path given.
        path: String,
    },
    /// A header name or value is invalid.
    #[error("invalid header {name:?}")]
    Header {
        /// The header name given.
        name: String,
    },
    /// A gRPC service name is too long (the probe caps it at 1024 bytes).
    #[error("grpc service name of {len} bytes is too long (at most 1024)")]
    ServiceName {
        /// Its length.
        len: usize,
    },
    /// No rustls crypto provider is available.
    #[error(
        "no rustls crypto provider: enable lb-health's `ring` or `aws-lc-rs` feature, or install a process default"
    )]
    NoCryptoProvider,
    /// rustls rejected the TLS settings (a bad client key, an unusable root certificate).
    #[error("invalid tls settings")]
    Tls {
        /// rustls' error.
        #[source]
        source: rustls::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_target_and_kinds_classify() {
        let e = ProbeError::Timeout {
            target: "127.0.0.1:9".into(),
            phase: Phase::Response,
            after: Duration::from_millis(300),
        };
        assert_eq!(
            e.to_string(),
            "waiting for the response of 127.0.0.1:9 timed out after 300ms"
        );
        assert_eq!(e.kind(), ProbeErrorKind::Timeout);
        assert_eq!(e.target(), "127.0.0.1:9");
        let boxed: BoxError = Box::new(e);
        assert_eq!(
            ProbeError::kind_of(boxed.as_ref()),
            Some(ProbeErrorKind::Timeout)
        );
        let not = ProbeError::NotServing {
            target: "10.0.0.1:50051".into(),
            service: "api".into(),
            status: "NOT_SERVING".into(),
        };
        assert_eq!(
            not.to_string(),
            "grpc health of 10.0.0.1:50051 service \"api\" is NOT_SERVING"
        );
        let grpc = ProbeError::GrpcStatus {
            target: "x".into(),
            code: 12,
            message: Some("unimplemented".into()),
        };
        assert_eq!(
            grpc.to_string(),
            "grpc health check of x failed with grpc-status 12 (unimplemented)"
        );
        assert_eq!(grpc.kind(), ProbeErrorKind::Status);
    }
}
