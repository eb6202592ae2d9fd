//! [`HttpHealthCheck`]: an HTTP/1.1, h2c or HTTPS (ALPN h2 or http/1.1) request whose status,
//! headers and body decide the backend's health.

mod expect;
pub(crate) mod request;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::uri::PathAndQuery;
use http::{HeaderMap, Method, StatusCode};
use lb_core::{Address, Backend, BoxError, HealthCheck};

use crate::budget::Budget;
use crate::callback::StatusCallback;
use crate::connect;
use crate::error::{ConfigError, ProbeError};
use crate::pool::{Exchange, Pool};
use crate::tls::TlsConfig;
use crate::transport::{Conn, HttpProtocol, Transport};

use expect::{BodyCheck, HeadCheck};

/// The default cap on response header bytes (status line included).
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
/// The default cap on response body bytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Sends one request per probe and judges the answer: by default, healthy means status 200 and
/// a body that ends within [`HttpHealthCheck::max_body_bytes`].
///
/// ```no_run
/// use lb_health::HttpHealthCheck;
/// # fn demo() -> Result<(), lb_health::ConfigError> {
/// let check = HttpHealthCheck::new("api.internal", true)? // HTTPS, h2 or http/1.1 by ALPN
///     .with_path("/healthz")?
///     .with_header("x-probe", "lb")?
///     .expect_status([200, 204])
///     .with_body_contains("ok")
///     .with_port_override(8443);
/// # let _ = check; Ok(()) }
/// ```
///
/// Every probe runs under [`HttpHealthCheck::deadline`], gives the TCP connect and each
/// handshake (TLS, HTTP/2) at most [`HttpHealthCheck::connect_timeout`], and waits at most
/// [`HttpHealthCheck::read_timeout`] for the response head and again for the body. It reads at
/// most [`HttpHealthCheck::max_header_bytes`] of headers and
/// [`HttpHealthCheck::max_body_bytes`] of body, so a backend cannot stall a pass or grow memory.
#[derive(Clone)]
pub struct HttpHealthCheck {
    /// Consecutive successes that flip an unhealthy backend to healthy (0 counts as 1).
    /// Default: 1.
    pub consecutive_success: usize,
    /// Consecutive failures that flip a healthy backend to unhealthy (0 counts as 1).
    /// Default: 1.
    pub consecutive_failure: usize,
    /// Keep the connection open between probes (a clone of the probe keeps its own). Off (the
    /// default), every probe pays the full TCP (and TLS) handshake, which also catches firewall
    /// and L4 problems.
    pub reuse_connection: bool,
    /// Probe this port instead of the backend's.
    pub port_override: Option<u16>,
    /// The time allowed to open the connection, and again for each handshake (TLS, HTTP/2).
    /// Default: 1 s.
    pub connect_timeout: Duration,
    /// The time allowed for the response head, and again for the body. Default: 1 s.
    pub read_timeout: Duration,
    /// The time allowed for the whole probe. Default: 3 s.
    pub deadline: Duration,
    /// The most response header bytes read (HTTP/1.1: status line and headers; HTTP/2: the
    /// decoded header list). Default: [`DEFAULT_MAX_HEADER_BYTES`].
    pub max_header_bytes: usize,
    /// The most body bytes read; a longer body fails the probe. Default:
    /// [`DEFAULT_MAX_BODY_BYTES`].
    pub max_body_bytes: usize,
    request: request::Template,
    tls: Option<TlsConfig>,
    transport: Transport,
    head: HeadCheck,
    body: Option<BodyCheck>,
    pool: Pool,
    callback: Option<StatusCallback>,
}

impl HttpHealthCheck {
    /// `GET /` with `Host: host`, over HTTPS when `tls` (verified against the Mozilla roots,
    /// `h2` or `http/1.1` by ALPN) and HTTP/1.1 otherwise. An empty `host` sends the probed
    /// address instead.
    pub fn new(host: &str, tls: bool) -> Result<Self, ConfigError> {
        let host = if host.is_empty() {
            None
        } else {
            Some(request::parse_host(host)?)
        };
        let check = HttpHealthCheck {
            consecutive_success: 1,
            consecutive_failure: 1,
            reuse_connection: false,
            port_override: None,
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            deadline: Duration::from_secs(3),
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request: request::Template::new(host),
            tls: None,
            transport: Transport {
                tls: None,
                protocol: HttpProtocol::Negotiate,
            },
            head: HeadCheck::default(),
            body: None,
            pool: Pool::default(),
            callback: None,
        };
        if tls {
            check.with_tls(TlsConfig::new())
        } else {
            Ok(check)
        }
    }

    /// HTTP/2 with prior knowledge over plain TCP (h2c), `GET /` with `:authority` `host`.
    pub fn h2c(host: &str) -> Result<Self, ConfigError> {
        Ok(Self::new(host, false)?.with_protocol(HttpProtocol::Http2))
    }

    /// Speaks HTTPS with `tls`. The server name sent and verified is the one in `tls`, else the
    /// host (without port), else the backend's IP address.
    pub fn with_tls(mut self, tls: TlsConfig) -> Result<Self, ConfigError> {
        let host = self.request.host.as_ref().map(request::tls_name);
        self.transport.tls = Some(tls.target(alpn(self.transport.protocol), host)?);
        self.tls = Some(tls);
        Ok(self)
    }

    /// Sets the HTTP version (see [`HttpProtocol`]).
    pub fn with_protocol(mut self, protocol: HttpProtocol) -> Self {
        self.transport.protocol = protocol;
        if let Some(tls) = &mut self.transport.tls {
            let mut config = (*tls.config).clone();
            config.alpn_protocols = alpn(protocol).iter().map(|p| p.to_vec()).collect();
            tls.config = Arc::new(config);
        }
        self
    }

    /// Sets the request method. Default: `GET`.
    pub fn with_method(mut self, method: Method) -> Self {
        self.request.method = method;
        self
    }

    /// Sets the request path (and query). Default: `/`.
    pub fn with_path(mut self, path: &str) -> Result<Self, ConfigError> {
        let invalid = || ConfigError::Path {
            path: path.to_owned(),
        };
        if !path.starts_with('/') {
            return Err(invalid());
        }
        self.request.path = PathAndQuery::try_from(path).map_err(|_| invalid())?;
        Ok(self)
    }

    /// Adds a request header. `Host` is set by [`HttpHealthCheck::new`]; a `Host` or
    /// `User-Agent` given here replaces the probe's own instead of adding a second (over HTTP/2
    /// the host given to `new` is sent as `:authority` and a `Host` given here is dropped).
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Self, ConfigError> {
        let invalid = || ConfigError::Header {
            name: name.to_owned(),
        };
        let name = HeaderName::try_from(name).map_err(|_| invalid())?;
        let value = HeaderValue::try_from(value).map_err(|_| invalid())?;
        self.request.headers.append(name, value);
        Ok(self)
    }

    /// Accepts exactly these statuses (replacing the default 200).
    pub fn expect_status(mut self, statuses: impl IntoIterator<Item = u16>) -> Self {
        self.head = HeadCheck::Statuses(statuses.into_iter().map(|s| s..=s).collect());
        self
    }

    /// Accepts any status in `range` (for example `200..=399`).
    pub fn expect_status_range(mut self, range: std::ops::RangeInclusive<u16>) -> Self {
        self.head = HeadCheck::Statuses(vec![range]);
        self
    }

    /// Lets `validator` judge the status and headers instead of the status set; its `Err`
    /// text is the failure's reason.
    pub fn with_validator(
        mut self,
        validator: impl Fn(StatusCode, &HeaderMap) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.head = HeadCheck::validator(validator);
        self
    }

    /// Requires the body to contain `needle`.
    pub fn with_body_contains(mut self, needle: impl Into<Bytes>) -> Self {
        self.body = Some(BodyCheck::Contains(needle.into()));
        self
    }

    /// Requires `predicate` to accept the whole body (at most
    /// [`HttpHealthCheck::max_body_bytes`] of it).
    pub fn with_body_predicate(
        mut self,
        predicate: impl Fn(&[u8]) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.body = Some(BodyCheck::predicate(predicate));
        self
    }

    /// Sets [`HttpHealthCheck::reuse_connection`].
    pub fn with_reuse_connection(mut self, reuse: bool) -> Self {
        self.reuse_connection = reuse;
        self
    }

    /// Sets [`HttpHealthCheck::port_override`].
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

    /// Sets the header and body byte caps.
    pub fn with_limits(mut self, max_header_bytes: usize, max_body_bytes: usize) -> Self {
        self.max_header_bytes = max_header_bytes;
        self.max_body_bytes = max_body_bytes;
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

    /// The TLS settings, when the probe speaks HTTPS.
    pub fn tls(&self) -> Option<&TlsConfig> {
        self.tls.as_ref()
    }

    /// Probes `target` once: [`HealthCheck::check`] with the typed error.
    pub async fn probe(&self, target: &Backend) -> Result<(), ProbeError> {
        let addr = connect::probe_address(target, self.port_override);
        let budget = Budget::new(addr.to_string(), self.deadline);
        self.pool
            .exchange(self, &addr, &budget, self.reuse_connection)
            .await
    }
}

impl Exchange for HttpHealthCheck {
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
        let req = self.request.build(
            conn.wire,
            self.transport.tls.is_some(),
            addr,
            !self.reuse_connection,
        );
        let target = budget.target.as_str();
        let response = budget
            .step(
                crate::Phase::Response,
                self.read_timeout,
                conn.send(target, req),
            )
            .await?;
        let (parts, body) = response.into_parts();
        self.head.check(target, parts.status, &parts.headers)?;
        let mut reader = expect::BodyReader::new(self.body.as_ref(), self.max_body_bytes);
        let read = async {
            let mut body = body;
            while let Some(frame) = http_body_util::BodyExt::frame(&mut body).await {
                let frame = frame.map_err(|e| conn.error(target, e))?;
                if let Some(data) = frame.data_ref() {
                    reader.push(target, data)?;
                }
            }
            Ok(())
        };
        budget
            .step(crate::Phase::Body, self.read_timeout, read)
            .await?;
        reader.finish(target)
    }
}

fn alpn(protocol: HttpProtocol) -> &'static [&'static [u8]] {
    match protocol {
        HttpProtocol::Http1 => &[b"http/1.1"],
        HttpProtocol::Http2 => &[b"h2"],
        HttpProtocol::Negotiate => &[b"h2", b"http/1.1"],
    }
}

#[lb_core::async_trait]
impl HealthCheck for HttpHealthCheck {
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
            "https"
        } else {
            "http"
        };
        let host = match &self.request.host {
            Some(h) => h.to_string(),
            None => addr.to_string(),
        };
        format!(
            "{} {scheme}://{host}{} via {addr}",
            self.request.method, self.request.path
        )
    }
}

impl fmt::Debug for HttpHealthCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpHealthCheck")
            .field("request", &self.request)
            .field("protocol", &self.transport.protocol)
            .field("tls", &self.tls)
            .field("head", &self.head)
            .field("body", &self.body)
            .field("reuse_connection", &self.reuse_connection)
            .field("port_override", &self.port_override)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("deadline", &self.deadline)
            .field("max_header_bytes", &self.max_header_bytes)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("consecutive_success", &self.consecutive_success)
            .field("consecutive_failure", &self.consecutive_failure)
            .finish()
    }
}
