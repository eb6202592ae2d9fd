//! [`TcpHealthCheck`]: a backend is healthy when it accepts a connection (and, optionally,
//! completes a TLS handshake) in time.

use std::fmt;
use std::time::Duration;

use lb_core::{Backend, BoxError, HealthCheck};
use tokio::io::AsyncWriteExt;

use crate::budget::Budget;
use crate::callback::StatusCallback;
use crate::connect::{self, TlsTarget};
use crate::error::{ConfigError, Phase, ProbeError};
use crate::tls::TlsConfig;

/// Connects to the backend within a timeout; with TLS ([`TcpHealthCheck::new_tls`]), also
/// completes a verified handshake.
///
/// ```no_run
/// use lb_core::{Backend, HealthCheck};
/// use lb_health::TcpHealthCheck;
/// # async fn demo() {
/// let check = TcpHealthCheck::new().with_port_override(9000);
/// let result = check.check(&Backend::new("10.0.0.7:80").unwrap()).await; // probes 10.0.0.7:9000
/// # let _ = result;
/// # }
/// ```
#[derive(Clone)]
pub struct TcpHealthCheck {
    /// Consecutive successes that flip an unhealthy backend to healthy (0 counts as 1).
    /// Default: 1.
    pub consecutive_success: usize,
    /// Consecutive failures that flip a healthy backend to unhealthy (0 counts as 1).
    /// Default: 1.
    pub consecutive_failure: usize,
    /// The time allowed to open the connection, and again for the TLS handshake (with TLS).
    /// Default: 1 s.
    pub connect_timeout: Duration,
    /// The time allowed for the whole probe, TLS handshake included. Default: 2 s.
    pub deadline: Duration,
    /// Probe this port instead of the backend's (a health port beside the service port).
    pub port_override: Option<u16>,
    /// Close plain TCP probes with a reset (`SO_LINGER` 0) instead of a FIN, so that no
    /// TIME_WAIT entry is left on either host. Default: on. TLS probes always close politely.
    pub abortive_close: bool,
    tls: Option<TlsTarget>,
    callback: Option<StatusCallback>,
}

impl Default for TcpHealthCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl TcpHealthCheck {
    /// A plain TCP connect probe with the default timeouts and thresholds of 1.
    pub fn new() -> Self {
        TcpHealthCheck {
            consecutive_success: 1,
            consecutive_failure: 1,
            connect_timeout: Duration::from_secs(1),
            deadline: Duration::from_secs(2),
            port_override: None,
            abortive_close: true,
            tls: None,
            callback: None,
        }
    }

    /// A probe that also completes a TLS handshake, sending and verifying `sni` against the
    /// Mozilla roots. Use [`TcpHealthCheck::with_tls`] for other roots or a client certificate.
    pub fn new_tls(sni: &str) -> Result<Self, ConfigError> {
        Self::new().with_tls(TlsConfig::new().with_server_name(sni))
    }

    /// Completes a TLS handshake with `tls` after connecting. Without a server name in `tls`,
    /// the backend's IP address is sent and verified.
    pub fn with_tls(mut self, tls: TlsConfig) -> Result<Self, ConfigError> {
        self.tls = Some(tls.target(&[], None)?);
        Ok(self)
    }

    /// Sets [`TcpHealthCheck::port_override`].
    pub fn with_port_override(mut self, port: u16) -> Self {
        self.port_override = Some(port);
        self
    }

    /// Sets [`TcpHealthCheck::connect_timeout`].
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`TcpHealthCheck::deadline`].
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
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

    /// Probes `target` once: [`HealthCheck::check`] with the typed error, whose
    /// [`kind`](ProbeError::kind) says why the probe failed (refused, timeout, TLS, ...).
    pub async fn probe(&self, target: &Backend) -> Result<(), ProbeError> {
        let addr = connect::probe_address(target, self.port_override);
        let budget = Budget::new(addr.to_string(), self.deadline);
        // A plain connect probe has nothing to say after the handshake: closing it with a reset
        // leaves no TIME_WAIT on either host, which matters when thousands of probes per
        // second reuse the same address pairs (as HAProxy's checks do). TLS probes close
        // politely with close_notify instead.
        let usage = connect::TcpUse {
            exchanges: self.tls.is_some(),
            abortive_close: self.tls.is_none() && self.abortive_close,
        };
        let io = connect::connect(&addr, &budget, self.connect_timeout, usage).await?;
        if let Some(tls) = &self.tls {
            let mut io = connect::handshake(io, tls, &addr, &budget, self.connect_timeout)
                .await?
                .io;
            // Say goodbye properly (close_notify), but never wait on the backend for it.
            let _ = budget
                .step(Phase::TlsHandshake, self.connect_timeout, async {
                    let _ = io.shutdown().await;
                    Ok(())
                })
                .await;
        }
        Ok(())
    }
}

#[lb_core::async_trait]
impl HealthCheck for TcpHealthCheck {
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
        match &self.tls {
            Some(_) => format!("tls connect to {addr}"),
            None => format!("tcp connect to {addr}"),
        }
    }
}

impl fmt::Debug for TcpHealthCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpHealthCheck")
            .field("consecutive_success", &self.consecutive_success)
            .field("consecutive_failure", &self.consecutive_failure)
            .field("connect_timeout", &self.connect_timeout)
            .field("deadline", &self.deadline)
            .field("port_override", &self.port_override)
            .field("abortive_close", &self.abortive_close)
            .field("tls", &self.tls.as_ref().map(|t| &t.server_name))
            .field("callback", &self.callback.is_some())
            .finish()
    }
}
