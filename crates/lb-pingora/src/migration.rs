//! From pingora-load-balancing to lb in a pingora proxy, side by side.
//!
//! Each step shows the code a pingora-load-balancing 0.9 user has today, then the lb code that
//! replaces it. Both are doctests of this crate, compiled and run against pingora-load-balancing
//! 0.9.1 and lb. `docs/migrating-from-pingora.md` in lb's repository lists every difference of
//! behaviour between the two; this page is about the code.
//!
//! | | pingora-load-balancing | lb + lb-pingora |
//! | --- | --- | --- |
//! | dependencies | `pingora-load-balancing` | `lb` (features `selection`, `health`), `lb-pingora` |
//! | the load balancer | `LoadBalancer::<RoundRobin>::try_from_iter(..)?` | the same, from `lb` |
//! | its health check | `set_health_check(TcpHealthCheck::new())` | `set_health_check(Box::new(TcpHealthCheck::new()))` |
//! | the background service | `background_service("hc", lb)` (pingora's) | `lb_pingora::background_service("hc", lb)` |
//! | picking | `select(key, 256)` → `Option<Backend>` | `select(key)` → `Option<Pick>` |
//! | the peer | `HttpPeer::new(backend, tls, sni)` | `lb_pingora::http_peer(&pick)?` (TLS from [`UpstreamTls`](crate::UpstreamTls)), or `HttpPeer::new` on `pick.addr` |
//! | the outcome | — | `report_status` / `report_error` from the proxy's phases |
//!
//! # 1. The load balancer and its health check
//!
//! pingora-load-balancing:
//!
//! ```
//! use std::time::Duration;
//! use pingora_load_balancing::LoadBalancer;
//! use pingora_load_balancing::health_check::TcpHealthCheck;
//! use pingora_load_balancing::selection::RoundRobin;
//!
//! let mut upstreams =
//!     LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:8001", "127.0.0.1:8002"])?;
//! upstreams.set_health_check(TcpHealthCheck::new());
//! upstreams.health_check_frequency = Some(Duration::from_secs(1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! lb (the same names; the probe is boxed by the caller, and the address list is parsed, never
//! resolved):
//!
//! ```
//! use std::time::Duration;
//! use lb::{LoadBalancer, RoundRobin, TcpHealthCheck};
//!
//! let mut upstreams =
//!     LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:8001", "127.0.0.1:8002"])?;
//! upstreams.set_health_check(Box::new(TcpHealthCheck::new()));
//! upstreams.health_check_frequency = Some(Duration::from_secs(1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # 2. The background service
//!
//! pingora-load-balancing implements pingora's `BackgroundService` for its `LoadBalancer`:
//!
//! ```
//! use pingora_core::server::Server;
//! use pingora_core::services::background::background_service;
//! use pingora_load_balancing::LoadBalancer;
//! use pingora_load_balancing::selection::RoundRobin;
//!
//! let mut server = Server::new(None)?;
//! let upstreams = LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:8001"])?;
//! let background = background_service("health check", upstreams);
//! let upstreams = background.task(); // Arc<LoadBalancer<RoundRobin>>
//! server.add_service(background);
//! # drop(upstreams);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! lb: [`lb_pingora::background_service`](crate::background_service) wraps the load balancer in
//! a [`LoadBalancerService`](crate::LoadBalancerService), which dereferences to it:
//!
//! ```
//! use lb::{LoadBalancer, RoundRobin};
//! use pingora_core::server::Server;
//!
//! let mut server = Server::new(None)?;
//! let upstreams = LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:8001"])?;
//! let background = lb_pingora::background_service("health check", upstreams);
//! let upstreams = background.task(); // Arc<LoadBalancerService<RoundRobin>>
//! server.add_service(background);
//! # drop(upstreams);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # 3. Picking a backend in `upstream_peer`
//!
//! pingora-load-balancing returns a clone of the `Backend`, which is a `ToSocketAddrs`:
//!
//! ```
//! use std::sync::Arc;
//! use async_trait::async_trait;
//! use pingora_core::upstreams::peer::HttpPeer;
//! use pingora_core::{Error, ErrorType, Result};
//! use pingora_load_balancing::LoadBalancer;
//! use pingora_load_balancing::selection::RoundRobin;
//! use pingora_proxy::{ProxyHttp, Session};
//!
//! pub struct Lb(Arc<LoadBalancer<RoundRobin>>);
//!
//! #[async_trait]
//! impl ProxyHttp for Lb {
//!     type CTX = ();
//!     fn new_ctx(&self) -> Self::CTX {}
//!
//!     async fn upstream_peer(&self, _: &mut Session, _: &mut ()) -> Result<Box<HttpPeer>> {
//!         let upstream = self.0.select(b"", 256).ok_or_else(|| {
//!             Error::explain(ErrorType::HTTPStatus(503), "no backend is ready")
//!         })?;
//!         Ok(Box::new(HttpPeer::new(upstream, false, String::new())))
//!     }
//! }
//! ```
//!
//! lb returns a [`Pick`](lb_core::Pick), the request's handle; [`http_peer`](crate::http_peer) makes
//! its peer (with TLS when the backend has an [`UpstreamTls`](crate::UpstreamTls)). The context
//! keeps the pick as an [`Attempt`](crate::Attempt) until the request's outcome is known (step 4):
//!
//! ```
//! use std::sync::Arc;
//! use async_trait::async_trait;
//! use lb::RoundRobin;
//! use lb_pingora::{Attempt, LoadBalancerService};
//! use pingora_core::upstreams::peer::HttpPeer;
//! use pingora_core::{Error, ErrorType, Result};
//! use pingora_proxy::{ProxyHttp, Session};
//!
//! pub struct Lb(Arc<LoadBalancerService<RoundRobin>>);
//!
//! #[async_trait]
//! impl ProxyHttp for Lb {
//!     type CTX = Option<Attempt<RoundRobin>>;
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
//! }
//! ```
//!
//! With `type CTX = ()` and a dropped pick (`lb_pingora::http_peer(&pick)` without an
//! `Attempt`), the lb version is a change of imports; every request then ends as *cancelled*,
//! which is correct but gives passive health and load-aware strategies nothing to learn from.
//!
//! # 4. Reporting the outcome (new)
//!
//! pingora-load-balancing has no way to hear how a request went. With lb, three phases end the
//! attempt: the upstream's response status (5xx is a failure), a failed connection, and any other
//! error of the upstream; an error of the client or of the proxy itself ends it as cancelled.
//!
//! ```
//! # use std::sync::Arc;
//! use async_trait::async_trait;
//! use lb::RoundRobin;
//! use lb_pingora::{Attempt, LoadBalancerService, report_error, report_status};
//! use pingora_core::upstreams::peer::HttpPeer;
//! use pingora_core::{Error, Result};
//! use pingora_http::ResponseHeader;
//! use pingora_proxy::{ProxyHttp, Session};
//!
//! # pub struct Lb(Arc<LoadBalancerService<RoundRobin>>);
//! #[async_trait]
//! impl ProxyHttp for Lb {
//!     type CTX = Option<Attempt<RoundRobin>>;
//! #   fn new_ctx(&self) -> Self::CTX { None }
//! #   async fn upstream_peer(&self, _: &mut Session, ctx: &mut Self::CTX) -> Result<Box<HttpPeer>> {
//! #       let pick = self.0.select(b"").ok_or_else(|| Error::new(pingora_core::ErrorType::ConnectNoRoute))?;
//! #       Ok(Box::new(ctx.insert(Attempt::new(pick)).http_peer()?))
//! #   }
//!     // new_ctx and upstream_peer as in step 3.
//!
//!     async fn upstream_response_filter(
//!         &self,
//!         _: &mut Session,
//!         response: &mut ResponseHeader,
//!         ctx: &mut Self::CTX,
//!     ) -> Result<()> {
//!         report_status(ctx, response.status.as_u16());
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
//!         report_error(ctx, &e);
//!         e
//!     }
//!
//!     async fn logging(&self, _: &mut Session, e: Option<&Error>, ctx: &mut Self::CTX) {
//!         if let Some(e) = e {
//!             report_error(ctx, e);
//!         }
//!     }
//! }
//! ```
//!
//! Turn on passive health to have failing backends ejected from these reports
//! (`lb.set_passive_health(Some(PassiveHealth::default()))`), or pick with a load-aware strategy
//! (`LeastRequest`, `PeakEwma`) that reads the requests in flight and the latencies they report.
//! To retry a failed connection on another backend, mark the error retryable in
//! `fail_to_connect` (`e.set_retry(true)`, bounded by a count kept in the context):
//! pingora then calls `upstream_peer` again, which picks anew.
