//! [`GrpcHealthCheck`]: the standard `grpc.health.v1.Health/Check` call over HTTP/2 (h2c or
//! TLS); `SERVING` is healthy, anything else is not.

mod wire;

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::uri::{Authority, PathAndQuery};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use lb_core::{Address, Backend, BoxError, HealthCheck};

use crate::budget::Budget;
use crate::callback::StatusCallback;
use crate::connect;
use crate::error::{ConfigError, Phase, ProbeError};
use crate::http_check::{DEFAULT_MAX_HEADER_BYTES, request};
use crate::pool::{Exchange, Pool};
use crate::tls::TlsConfig;
use crate::transport::{Conn, HttpProtocol, Transport};

const PATH: &str = "/grpc.health.v1.Health/Check";
const MAX_SERVICE_LEN: usize = 1024;

/// Asks the backend's gRPC health service about the whole server (`""`) or one service.
///
/// ```no_run
/// use lb_health::{GrpcHealthCheck, TlsConfig};
/// # fn demo() -> Result<(), lb_health::ConfigError> {
/// let plain = GrpcHealthCheck::new("")?; // h2c, the whole server
/// let tls = GrpcHealthCheck::new("payments.v1.Ledger")?
///     .with_authority("ledger.internal")?
///     .with_tls(TlsConfig::new())?;
/// # let _ = (plain, tls); Ok(()) }
/// ```
///
/// Healthy means HTTP status 200, `grpc-status` 0 and a `HealthCheckResponse` saying
/// `SERVING`. A non-zero `grpc-status` fails with [`ProbeErrorKind::Status`], another serving
/// status with [`ProbeErrorKind::NotServing`], no answer in time with
/// [`ProbeErrorKind::Timeout`]. At most 1 KiB of response messages is read.
///
/// [`ProbeErrorKind::Status`]: crate::ProbeErrorKind::Status
/// [`ProbeErrorKind::NotServing`]: crate::ProbeErrorKind::NotServing
/// [`ProbeErrorKind::Timeout`]: crate::ProbeErrorKind::Timeout
#[derive(Clone)]
pub struct GrpcHealthCheck {
    /// Consecutive successes that flip an unhealthy backend to healthy (0 counts as 1).
    /// Default: 1.
    pub consecutive_success: usize,
    /// Consecutive failures that flip a healthy backend to unhealthy (0 counts as 1).
    /// Default: 1.
    pub consecutive_failure: usize,
    /// Keep the HTTP/2 connection open between probes (a clone of the probe keeps its own).
    /// Default: off (every probe connects).
    pub reuse_connection: bool,
    /// Probe this port instead of the backend's.
    pub port_override: Option<u16>,
    /// The time allowed to open the connection, and again for each handshake (TLS, HTTP/2).
    /// Default: 1 s.
    pub connect_timeout: Duration,
    /// The time allowed for the response head, and again for the message and trailers.
    /// Default: 1 s.
    pub read_timeout: Duration,
    /// The time allowed for the whole probe; also sent as `grpc-timeout`. Default: 3 s.
    pub deadline: Duration,
    /// The most response header bytes read. Default: [`DEFAULT_MAX_HEADER_BYTES`].
    pub max_header_bytes: usize,
    service: String,
    request_body: Bytes,
    authority: Option<Authority>,
    tls: Option<TlsConfig>,
    transport: Transport,
    pool: Pool,
    callback: Option<StatusCallback>,
}

impl GrpcHealthCheck {
    /// Checks `service` (`""`: the whole server) over h2c, with the probed address as
    /// `:authority`.
    pub fn new(service: &str) -> Result<Self, ConfigError> {
        if service.len() > MAX_SERVICE_LEN {
            return Err(ConfigError::ServiceName { len: service.len() });
        }
        Ok(GrpcHealthCheck {
            consecutive_success: 1,
            consecutive_failure: 1,
            reuse_connection: false,
            port_override: None,
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            deadline: Duration::from_secs(3),
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            service: service.to_owned(),
            request_body: Bytes::from(wire::encode_request(service)),
            authority: None,
            tls: None,
            transport: Transport {
                tls: None,
                protocol: HttpProtocol::Http2,
            },
            pool: Pool::default(),
            callback: None,
        })
    }

    /// Sends `authority` as `:authority` (and, with TLS and no explicit server name, as the
    /// server name). Call it before [`GrpcHealthCheck::with_tls`].
    pub fn with_authority(mut self, authority: &str) -> Result<Self, ConfigError> {
        self.authority = Some(request::parse_host(authority)?);
        Ok(self)
    }

    /// Speaks TLS with `tls`, offering only `h2` by ALPN.
    pub fn with_tls(mut self, tls: TlsConfig) -> Result<Self, ConfigError> {
        let host = self.authority.as_ref().map(request::tls_name);
        self.transport.tls = Some(tls.target(&[b"h2"], host)?);
        self.tls = Some(tls);
        Ok(self)
    }

    /// Sets [`GrpcHealthCheck::reuse_connection`].
    pub fn with_reuse_connection(mut self, reuse: bool) -> Self {
        self.reuse_connection = reuse;
        self
    }

    /// Sets [`GrpcHealthCheck::port_override`].
    pub fn with_port_override(mut self, port: u16) -> Self {
        self.port_override = Some(port);
        self
    }

    /// Sets the connect, read and whole-probe timeouts.
    pub fn with_timeouts(mut self, connect: Duration, read: Duration, deadline: Duration) -> Self {
        self.connect_timeout = connect;
        self.read_timeout = read;
        self.deadline = deadline;
        self
    }

    /// Sets both thresholds.
    pub fn with_thresholds(mut self, success: usize, failure: usize) -> Self {
        self.consecutive_success = success;
        self.consecutive_failure = failure;
        self
    }

    /// Calls `callback(backend, healthy)` after each flip of a backend's health.
    pub fn on_status_change(
        mut self,
        callback: impl Fn(&Backend, bool) + Send + Sync + 'static,
    ) -> Self {
        self.callback = Some(StatusCallback::new(callback));
        self
    }

    /// The service asked about.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Probes `target` once: [`HealthCheck::check`] with the typed error.
    pub async fn probe(&self, target: &Backend) -> Result<(), ProbeError> {
        let addr = connect::probe_address(target, self.port_override);
        let budget = Budget::new(addr.to_string(), self.deadline);
        self.pool
            .exchange(self, &addr, &budget, self.reuse_connection)
            .await
    }

    fn request(&self, addr: &Address, budget: &Budget) -> Request<Full<Bytes>> {
        let authority = match &self.authority {
            Some(authority) => authority.clone(),
            None => request::address_authority(addr),
        };
        let tls = self.transport.tls.is_some();
        let mut req = Request::new(Full::new(self.request_body.clone()));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = request::absolute_uri(tls, authority, PathAndQuery::from_static(PATH));
        let headers = req.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(request::USER_AGENT),
        );
        // grpc-timeout is at most 8 digits; milliseconds cover 27 hours.
        let millis = budget.left().as_millis().clamp(1, 99_999_999);
        if let Ok(v) = HeaderValue::try_from(format!("{millis}m")) {
            headers.insert("grpc-timeout", v);
        }
        req
    }
}

impl Exchange for GrpcHealthCheck {
    async fn open(&self, addr: &Address, budget: &Budget) -> Result<Conn, ProbeError> {
        let (timeout, cap) = (self.connect_timeout, self.max_header_bytes);
        self.transport.open(addr, budget, timeout, cap).await
    }

    async fn exchange(
        &self,
        conn: &mut Conn,
        addr: &Address,
        budget: &Budget,
    ) -> Result<(), ProbeError> {
        let target = budget.target.as_str();
        let request = self.request(addr, budget);
        let response = budget
            .step(
                Phase::Response,
                self.read_timeout,
                conn.send(target, request),
            )
            .await?;
        let (parts, mut body) = response.into_parts();
        let protocol_error = |why: String| ProbeError::Protocol {
            target: target.to_owned(),
            protocol: "grpc",
            source: why.into(),
        };
        if parts.status != StatusCode::OK {
            return Err(ProbeError::Status {
                target: target.to_owned(),
                status: parts.status.as_u16(),
                expected: "200".to_owned(),
            });
        }
        // Trailers-only: the status comes in the headers and there is no message.
        if let Some(code) = grpc_status(target, &parts.headers)?
            && code != 0
        {
            return Err(status_error(target, code, &parts.headers));
        }
        let is_grpc = parts
            .headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
        if !is_grpc {
            return Err(protocol_error(format!(
                "content-type is {:?}, not application/grpc",
                parts.headers.get(header::CONTENT_TYPE)
            )));
        }
        let mut message = Vec::new();
        let mut trailers = None;
        let read = async {
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| conn.error(target, e))?;
                match frame.into_data() {
                    Ok(data) => {
                        if message.len() + data.len() > wire::MAX_RESPONSE_BYTES {
                            return Err(ProbeError::BodyTooLong {
                                target: target.to_owned(),
                                limit: wire::MAX_RESPONSE_BYTES,
                            });
                        }
                        message.extend_from_slice(&data);
                    }
                    Err(frame) => {
                        if let Ok(t) = frame.into_trailers() {
                            trailers = Some(t);
                        }
                    }
                }
            }
            Ok(())
        };
        budget.step(Phase::Body, self.read_timeout, read).await?;
        let trailers = trailers.unwrap_or_default();
        let code = match grpc_status(target, &trailers)? {
            Some(code) => code,
            None => match grpc_status(target, &parts.headers)? {
                Some(code) => code,
                None => return Err(protocol_error("the response has no grpc-status".into())),
            },
        };
        if code != 0 {
            return Err(status_error(target, code, &trailers));
        }
        let status = wire::decode_response(&message).map_err(protocol_error)?;
        if status == wire::SERVING {
            Ok(())
        } else {
            Err(ProbeError::NotServing {
                target: target.to_owned(),
                service: self.service.clone(),
                status: wire::status_name(status),
            })
        }
    }
}

fn grpc_status(target: &str, headers: &HeaderMap) -> Result<Option<u32>, ProbeError> {
    match headers.get("grpc-status") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
            .map(Some)
            .ok_or_else(|| ProbeError::Protocol {
                target: target.to_owned(),
                protocol: "grpc",
                source: format!("grpc-status {v:?} is not a number").into(),
            }),
    }
}

fn status_error(target: &str, code: u32, headers: &HeaderMap) -> ProbeError {
    ProbeError::GrpcStatus {
        target: target.to_owned(),
        code,
        message: headers
            .get("grpc-message")
            .map(|m| wire::decode_message(m.as_bytes())),
    }
}

#[lb_core::async_trait]
impl HealthCheck for GrpcHealthCheck {
    async fn check(&self, target: &Backend) -> Result<(), BoxError> {
        Ok(self.probe(target).await?)
    }

    async fn health_status_change(&self, target: &Backend, healthy: bool) {
        if let Some(callback) = &self.callback {
            callback.call(target, healthy);
        }
    }

    fn health_threshold(&self, success: bool) -> usize {
        if success {
            self.consecutive_success
        } else {
            self.consecutive_failure
        }
    }

    fn backend_summary(&self, target: &Backend) -> String {
        let addr = connect::probe_address(target, self.port_override);
        let scheme = if self.transport.tls.is_some() {
            "grpcs"
        } else {
            "grpc"
        };
        format!("{scheme} health of {:?} via {addr}", self.service)
    }
}

impl fmt::Debug for GrpcHealthCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcHealthCheck")
            .field("service", &self.service)
            .field("authority", &self.authority)
            .field("tls", &self.tls)
            .field("reuse_connection", &self.reuse_connection)
            .field("port_override", &self.port_override)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("deadline", &self.deadline)
            .field("max_header_bytes", &self.max_header_bytes)
            .field("consecutive_success", &self.consecutive_success)
            .field("consecutive_failure", &self.consecutive_failure)
            .finish()
    }
}
