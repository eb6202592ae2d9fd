//! lb inside a pingora server: the load balancer as a pingora background service, pingora peers
//! from lb's picks, and the outcome of each proxied request reported back to lb.
//!
//! It sits between lb-core (the [`LoadBalancer`](lb_core::LoadBalancer) and its request lifecycle,
//! the [`Pick`](lb_core::Pick)) and pingora 0.9 (the `Server`, `ProxyHttp`, `HttpPeer`), and
//! replaces pingora-load-balancing in a pingora proxy: [`background_service`] runs discovery and
//! health checks under the `Server` and stops them at its shutdown, [`http_peer`] and
//! [`basic_peer`] turn a pick into a peer (TLS and server name from the backend's
//! [`UpstreamTls`] extension), and [`Attempt`], [`report_status`] and [`report_error`] end each
//! request's pick with its outcome and latency, which feeds lb's passive health and load-aware
//! strategies (pingora-load-balancing has no feedback path).
//!
//! The [`migration`] page shows a pingora-load-balancing proxy and its lb version side by side.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use async_trait::async_trait;
//! use lb::{LoadBalancer, PassiveHealth, RoundRobin, TcpHealthCheck};
//! use lb_pingora::{Attempt, LoadBalancerService, report_error, report_status};
//! use pingora_core::server::Server;
//! use pingora_core::upstreams::peer::HttpPeer;
//! use pingora_core::{Error, ErrorType, Result};
//! use pingora_http::ResponseHeader;
//! use pingora_proxy::{ProxyHttp, Session, http_proxy_service};
//!
//! struct Proxy(Arc<LoadBalancerService<RoundRobin>>);
//!
//! #[async_trait]
//! impl ProxyHttp for Proxy {
//!     /// The request's attempt on its backend, from `upstream_peer` to its outcome.
//!     type CTX = Option<Attempt<RoundRobin>>;
//!
//!     fn new_ctx(&self) -> Self::CTX {
//!         None
//!     }
//!
//!     async fn upstream_peer(&self, _: &mut Session, ctx: &mut Self::CTX) -> Result<Box<HttpPeer>> {
//!         let pick = self.0.select(b"").ok_or_else(|| {
//!             Error::explain(ErrorType::HTTPStatus(503), "no backend is ready")
//!         })?;
//!         let attempt = ctx.insert(Attempt::new(pick));
//!         Ok(Box::new(attempt.http_peer()?))
//!     }
//!
//!     async fn upstream_response_filter(
//!         &self,
//!         _: &mut Session,
//!         response: &mut ResponseHeader,
//!         ctx: &mut Self::CTX,
//!     ) -> Result<()> {
//!         report_status(ctx, response.status.as_u16()); // 5xx is a failure
//!         Ok(())
//!     }
//!
//!     fn fail_to_connect(
//!         &self,
//!         _: &mut Session,
//!         _: &HttpPeer,
//!         ctx: &mut Self::CTX,
//!         e: Box<Error>,
//!     ) -> Box<Error> {
//!         report_error(ctx, &e); // the upstream's errors are failures
//!         e
//!     }
//!
//!     async fn logging(&self, _: &mut Session, e: Option<&Error>, ctx: &mut Self::CTX) {
//!         if let Some(e) = e {
//!             report_error(ctx, e);
//!         }
//!     }
//! }
//!
//! fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
//!     let mut server = Server::new(None)?;
//!     server.bootstrap();
//!
//!     let mut lb = LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:8001", "127.0.0.1:8002"])?;
//!     lb.set_health_check(Box::new(TcpHealthCheck::new()));
//!     lb.health_check_frequency = Some(Duration::from_secs(1));
//!     lb.set_passive_health(Some(PassiveHealth::default()));
//!
//!     let background = lb_pingora::background_service("load balancer", lb);
//!     let mut proxy = http_proxy_service(&server.configuration, Proxy(background.task()));
//!     proxy.add_tcp("127.0.0.1:6188");
//!
//!     let lb_service = server.add_service(background);
//!     // The proxy starts once the load balancer has published its first set.
//!     server.add_service(proxy).add_dependency(&lb_service);
//!     server.run_forever();
//! }
//! ```
//!
//! `examples/reverse_proxy.rs` is that proxy over three local backends, with a `--demo` mode that
//! sends traffic, stops a backend and prints where the requests went.
//!
//! This crate is its own cargo workspace, outside lb's, so that lb's workspace never builds
//! pingora. Building it needs what pingora-core's build needs: cmake and a C compiler (for
//! zlib-ng and zstd). Its TLS is rustls (pingora-core's `rustls` feature): no openssl.
//!
//! # Feature flags
//!
//! None.

mod error;
pub mod migration;
mod peer;
mod report;
mod service;

pub use error::PeerError;
pub use peer::{UpstreamTls, basic_peer, http_peer, socket_addr};
pub use report::{Attempt, error_outcome, report_error, report_status, status_outcome};
pub use service::{LoadBalancerService, background_service};
