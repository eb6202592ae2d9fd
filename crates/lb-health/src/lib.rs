//! Active health checks for lb: TCP, TLS, HTTP/1.1, HTTP/2 and gRPC probes that a hostile
//! backend cannot stall.
//!
//! lb-health sits above lb-core: each probe implements lb-core's [`HealthCheck`] trait, and a
//! [`LoadBalancer`](lb_core::LoadBalancer) (or a shared [`HealthRegistry`](lb_core::HealthRegistry))
//! runs it on a schedule. Every probe enforces its own timeouts and a deadline for the whole
//! probe, caps the bytes it reads, and fails with a typed [`ProbeError`] whose
//! [`kind`](ProbeError::kind) says why (refused, timeout, TLS, status, body, protocol, ...).
//!
//! | probe | healthy when |
//! | --- | --- |
//! | [`TcpHealthCheck`] | a connection opens (and, optionally, a verified TLS handshake completes) |
//! | [`HttpHealthCheck`] | an HTTP/1.1, h2c or HTTPS (ALPN h2 or http/1.1) request gets an accepted status, headers and body |
//! | [`GrpcHealthCheck`] | `grpc.health.v1.Health/Check` answers `SERVING` |
//!
//! TLS goes through rustls, configured by [`TlsConfig`]: certificates are verified against the
//! Mozilla roots or your own, client certificates are supported, and turning verification off
//! takes a method named [`TlsConfig::dangerous_accept_any_certificate`].
//!
//! ```no_run
//! use std::time::Duration;
//! use lb_core::LoadBalancer;
//! use lb_health::TcpHealthCheck;
//! # struct First;
//! # struct FirstIter(std::ops::Range<usize>);
//! # impl lb_core::BackendIter for FirstIter { fn next(&mut self) -> Option<usize> { self.0.next() } }
//! # impl lb_core::BackendSelection for First {
//! #     type Config = ();
//! #     type Iter<'a> = FirstIter;
//! #     fn build(b: &[lb_core::Backend], _: &()) -> Result<Self, lb_core::BoxError> { Ok(First) }
//! #     fn iter(&self, _: &[u8]) -> FirstIter { FirstIter(0..0) }
//! # }
//! # async fn demo() {
//! let mut lb = LoadBalancer::<First>::try_from_iter(["10.0.0.1:80", "10.0.0.2:80"]).unwrap();
//! // Healthy after 2 good probes in a row, unhealthy after 3 failures in a row.
//! lb.set_health_check(Box::new(TcpHealthCheck::new().with_thresholds(2, 3)));
//! // Or: an HTTPS request to /healthz that must answer 200 with "ok" in its body.
//! let http = lb_health::HttpHealthCheck::new("api.internal", true)
//!     .unwrap()
//!     .with_path("/healthz")
//!     .unwrap()
//!     .with_body_contains("ok");
//! # let _ = http;
//! lb.health_check_frequency = Some(Duration::from_secs(1));
//! let service = std::sync::Arc::new(lb).spawn();
//! service.ready().await;
//! # }
//! ```
//!
//! # Feature flags
//!
//! - `ring` (default): TLS probes use rustls' `ring` crypto provider.
//! - `aws-lc-rs`: TLS probes use rustls' `aws-lc-rs` provider instead (it wins when both are
//!   on). With neither, TLS probes use the process-default provider if the application
//!   installed one, and fail to build with [`ConfigError::NoCryptoProvider`] otherwise.
//!
//! lb-health never asks rustls to pick a provider from its crate features, so it keeps working
//! when other crates in the build enable other providers.

mod budget;
mod callback;
mod connect;
mod error;
mod grpc;
mod http_check;
mod pool;
mod tcp;
mod tls;
mod transport;

pub use error::{ConfigError, Phase, ProbeError, ProbeErrorKind};
pub use grpc::GrpcHealthCheck;
pub use http_check::{DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_HEADER_BYTES, HttpHealthCheck};
pub use lb_core::HealthCheck;
pub use tcp::TcpHealthCheck;
pub use tls::{TlsConfig, crypto_provider};
pub use transport::HttpProtocol;

/// Re-exported so that users name the same rustls types (root stores, certificates, keys).
pub use rustls;
