//! lb in the request path of tower, hyper and tonic: a [`Balance`] service that sends each
//! request to a backend a [`LoadBalancer`](lb_core::LoadBalancer) picks and reports how it went,
//! a [`BalanceLayer`], retries on another backend within a budget, and a [`discover`] adapter for
//! tower's and tonic's own balancers.
//!
//! ```no_run
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use hyper_util::{client::legacy::Client, rt::TokioExecutor};
//! use lb_core::{Backend, LoadBalancer, PassiveHealth};
//! use lb_selection::RoundRobin;
//! use lb_tower::{Balance, ToBackend};
//! use tower::ServiceExt;
//!
//! # async fn run() -> Result<(), lb_core::BoxError> {
//! let lb = LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:8001", "127.0.0.1:8002"])?;
//! lb.set_passive_health(Some(PassiveHealth::default())); // 5 failures in a row eject a backend
//! // One hyper client per backend; each request reports its outcome and latency by itself.
//! let client = Balance::new(Arc::new(lb), |backend: &Backend| {
//!     ToBackend::new(backend, Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>())
//! });
//! let request = http::Request::get("/hello").body(Full::new(Bytes::new()))?;
//! let response = client.oneshot(request).await?;
//! # drop(response); Ok(()) }
//! ```
//!
//! lb-tower sits on lb-core (and tower): the strategies (lb-selection), probes (lb-health) and
//! discovery sources (lb-discovery-*) plug into the load balancer it is given. It re-exports
//! nothing of hyper or tonic and depends on neither: [`ToBackend`] and the default classifier
//! work on the `http` types they share.
//!
//! - [`Balance`] keeps one inner service per backend (made by a [`MakeBackendService`], a
//!   closure `Fn(&Backend) -> Service`), drops it when its backend leaves the set or stays
//!   unused, and ends each request's [`Pick`](lb_core::Pick) with the outcome a [`Classify`]
//!   gives, so load-aware strategies and passive health work with no code of yours. Its
//!   `poll_ready`, errors and costs are documented on the type.
//! - Hashing strategies take each request's key from a [`RequestKey`] ([`Header`], [`Path`], a
//!   closure).
//! - Retries ([`BalanceLayer::retry`], off by default) send a failed request that may be
//!   retried ([`RetryRequest`]: [`Idempotent`] or a closure) to a backend it has not tried,
//!   within a [`RetryBudget`] (at most 20 % extra load by default, as linkerd and Envoy define
//!   it).
//! - [`discover`] turns the load balancer's published sets and health into a
//!   `tower::discover` stream of changes.
//!
//! - [`status`] (feature `status`): a status page (`/lb/status`, `/lb/status.json`, and with
//!   `prometheus` `/metrics`) any hyper or axum server can mount.
//!
//! # Feature flags
//!
//! lb-tower needs lb-core's `runtime` (tokio) and tower's `discover` and `retry`. Optional:
//!
//! - `status`: the [`status`] page (adds serde and serde_json, and lb-core's `serde`).
//! - `prometheus`: the page's `/metrics` through `metrics-exporter-prometheus` (adds lb-core's
//!   `metrics`).

mod balance;
mod cache;
mod classify;
mod discover;
mod error;
mod future;
mod http;
mod key;
mod layer;
mod maintain;
mod make;
mod retry;
#[cfg(feature = "status")]
pub mod status;

pub use balance::Balance;
pub use classify::{Classify, DefaultClassify, ErrIsFailure};
pub use discover::{Discover, discover, discover_with};
pub use error::Error;
pub use future::ResponseFuture;
pub use http::ToBackend;
pub use key::{Header, NoKey, Path, RequestKey};
pub use layer::BalanceLayer;
pub use make::{MakeBackendService, TryMakeFn, try_make_fn};
pub use retry::{
    Idempotent, NoRetry, Retries, RetryBudget, RetryBudgetError, RetryRequest, Retryable,
};
