//! Fine-grained load balancing for Rust proxies, gateways and service clients: find backends
//! (static lists, DNS, Kubernetes), keep unhealthy ones out, and pick one per request in
//! nanoseconds.
//!
//! `lb` is the umbrella crate: it re-exports the lb crates as modules, each behind a cargo
//! feature, and the everyday types at the root and in [`prelude`]. Depend on the individual
//! crates instead when you want the smallest dependency tree.
//!
//! # Feature flags
//!
//! - `runtime` (default): the async side of lb-core (discovery and health-check traits,
//!   `update()`, the background service), on tokio.
//! - `selection` (default): strategies, in [`selection`].
//! - `ketama`: the nginx-compatible hash ring on its own, in [`ketama`].
//! - `maglev`: the Envoy-compatible Maglev table on its own, in [`maglev`].
//! - `health`: active health checks, in [`health`], with rustls' `ring` provider;
//!   `health-aws-lc-rs` uses `aws-lc-rs` instead.
//! - `discovery-static`, `discovery-dns`, `discovery-k8s`: discovery sources (and, with
//!   `discovery-static`, the subsetting adapter), in [`discovery`].
//!   `discovery-k8s` gives kube rustls' `ring` provider; `discovery-k8s-aws-lc-rs` uses
//!   `aws-lc-rs`. A binary using it picks its Kubernetes API version with a `k8s-openapi`
//!   feature (such as `v1_33`), as with kube.
//! - `tower`: lb in tower, hyper and tonic stacks, in [`tower`]: a balancing `Service` and
//!   `Layer` that reports every request's outcome, retries on another backend, and a
//!   `tower::discover` adapter.
//! - `metrics`: metrics through the `metrics` facade for load balancers named with
//!   `LoadBalancer::set_metrics`, in [`metrics`] (names in `docs/observing.md`).
//! - `serde`: `Serialize` for [`Status`] (`LoadBalancer::status()`).
//! - `status`: a status page any hyper or axum server can mount (`lb::tower::status`), with
//!   `tower`; `prometheus` adds `/metrics` through `metrics-exporter-prometheus`.
//! - `full`: all of the above.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use lb_core as core;

#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use lb_core::metrics;

#[cfg(feature = "selection")]
#[cfg_attr(docsrs, doc(cfg(feature = "selection")))]
pub use lb_selection as selection;

#[cfg(feature = "ketama")]
#[cfg_attr(docsrs, doc(cfg(feature = "ketama")))]
pub use lb_ketama as ketama;

#[cfg(feature = "maglev")]
#[cfg_attr(docsrs, doc(cfg(feature = "maglev")))]
pub use lb_maglev as maglev;

#[cfg(feature = "health")]
#[cfg_attr(docsrs, doc(cfg(feature = "health")))]
pub use lb_health as health;

#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use lb_tower as tower;

/// Discovery sources.
pub mod discovery {
    #[cfg(feature = "discovery-static")]
    #[cfg_attr(docsrs, doc(cfg(feature = "discovery-static")))]
    pub use lb_discovery_static as static_list;
    #[cfg(feature = "discovery-static")]
    #[cfg_attr(docsrs, doc(cfg(feature = "discovery-static")))]
    pub use lb_discovery_static::Static;
    #[cfg(feature = "discovery-static")]
    #[cfg_attr(docsrs, doc(cfg(feature = "discovery-static")))]
    pub use lb_discovery_static::{RandomSubset, Subset, SubsetDiscovery, SubsetPolicy};

    #[cfg(feature = "discovery-dns")]
    #[cfg_attr(docsrs, doc(cfg(feature = "discovery-dns")))]
    pub use lb_discovery_dns as dns;

    #[cfg(feature = "discovery-k8s")]
    #[cfg_attr(docsrs, doc(cfg(feature = "discovery-k8s")))]
    pub use lb_discovery_k8s as k8s;

    pub use lb_core::Discovered;
    #[cfg(feature = "runtime")]
    pub use lb_core::{ChangeNotifier, ChangeSubscription, Discovery, ServiceDiscovery};
}

pub use lb_core::BackendStatus;
pub use lb_core::{
    Address, Backend, BackendIter, BackendSelection, BackendSet, BackendState, Backends, Backoff,
    BoxError, CallerShares, Discovered, Enablement, Extensions, FailurePercentageEjection,
    HealthRegistry, InitialHealth, LoadBalancer, LoadBalancerGroup, LoadSignals, Outcome,
    PassiveHealth, Pick, Priority, SlowStart, States, Status, SuccessRateEjection, UpdateStats,
    UpdateTimings, Zone, ZoneHints, ZoneRouting,
};
#[cfg(feature = "runtime")]
pub use lb_core::{HealthCheck, HealthSchedule, ServiceDiscovery, ServiceHandle};

#[cfg(feature = "selection")]
#[cfg_attr(docsrs, doc(cfg(feature = "selection")))]
pub use lb_selection::{
    Bounded, BoundedConfig, Consistent, FnvHash, Jump, KetamaConfig, KetamaHashing,
    LeastConnections, LeastRequest, LeastRequestConfig, Maglev, MaglevConfig, PeakEwma, Random,
    Rendezvous, RoundRobin, Weighted,
};

#[cfg(feature = "health")]
#[cfg_attr(docsrs, doc(cfg(feature = "health")))]
pub use lb_health::TcpHealthCheck;

/// The everyday types, for `use lb::prelude::*`.
pub mod prelude {
    pub use lb_core::{
        Backend, BackendSelection, Backends, BoxError, Discovered, Enablement, LoadBalancer,
        Outcome, PassiveHealth, Pick, SlowStart,
    };
    #[cfg(feature = "runtime")]
    pub use lb_core::{HealthCheck, ServiceDiscovery};
    #[cfg(feature = "selection")]
    pub use lb_selection::{
        Bounded, Consistent, FnvHash, Jump, LeastRequest, Maglev, PeakEwma, Random, Rendezvous,
        RoundRobin,
    };
}

/// The README's examples, compiled and run as doctests when every feature is on.
#[cfg(all(doctest, feature = "full"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
