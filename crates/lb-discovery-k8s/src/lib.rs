//! Kubernetes service discovery for lb: follows a Service through its `discovery.k8s.io/v1`
//! EndpointSlices with a watch, and pushes every change to the load balancer as it happens.
//!
//! lb-discovery-k8s is a discovery source: it implements lb-core's
//! [`ServiceDiscovery`](lb_core::ServiceDiscovery) on top of kube's watcher, beside the static
//! and DNS sources, and is re-exported by the `lb` crate as `lb::discovery::k8s`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use lb_core::{BackendSelection, Backends, LoadBalancer};
//! use lb_discovery_k8s::{EndpointMeta, EndpointSliceDiscovery, Port};
//!
//! /// `S` is any strategy, such as lb-selection's `RoundRobin`.
//! async fn balance<S: BackendSelection>() -> Result<(), lb_core::BoxError> {
//!     // The ambient kubeconfig, or the pod's service account in a cluster.
//!     let discovery = EndpointSliceDiscovery::builder("web")
//!         .namespace("prod")
//!         .port(Port::name("http"))
//!         .build()
//!         .await?;
//!     let lb = Arc::new(LoadBalancer::<S>::from_backends(Backends::new(Box::new(discovery))));
//!     let service = lb.spawn(); // no polling: the watch pushes each change
//!     service.ready().await; // the first list is in
//!     if let Some(backend) = lb.select(b"user-42") {
//!         let zone = backend.ext.get::<EndpointMeta>().and_then(|m| m.zone.as_deref());
//!         println!("{} (zone {zone:?})", backend.addr);
//!     }
//!     Ok(())
//! }
//! ```
//!
//! # What becomes a backend
//!
//! Every address of every endpoint of every slice labelled `kubernetes.io/service-name=<service>`
//! in the namespace, on the selected [`Port`], as an IPv4 or IPv6 socket address (FQDN slices
//! are skipped). Endpoint conditions map onto [`Enablement`](lb_core::Enablement) as the table in
//! [`conditions`] says: ready → enabled, serving and terminating → draining, otherwise disabled.
//! Zone, node, hostname, target Pod and zone hints are kept in the backend's extensions as an
//! [`EndpointMeta`]; the zone and the hints also as lb-core's [`Zone`](lb_core::Zone) and
//! [`ZoneHints`](lb_core::ZoneHints), which zone-aware routing reads
//! ([`LoadBalancer::set_zone_routing`](lb_core::LoadBalancer::set_zone_routing)).
//! [`EndpointSliceDiscovery`] documents the answers before the first list,
//! during an outage, and after the Service is deleted.
//!
//! # Which cluster
//!
//! By default the ambient configuration: the kubeconfig (`$KUBECONFIG`, else `~/.kube/config`,
//! its current context), else the pod's service account. [`Builder::kubeconfig`] and
//! [`Builder::context`] name a file and a context instead, without touching the process
//! environment; [`Builder::config`] takes a `kube::Config` (for example one made from a URL with
//! `kube::Config::new`), and [`Builder::client`] a `kube::Client`. This crate re-exports
//! [`kube`] and [`k8s_openapi`], so those types need not be matched to its versions by hand.
//!
//! # When the API fails
//!
//! Every failed list or watch call shows in [`EndpointSliceDiscovery::status`] as it happens,
//! with the HTTP status and message the API answered (see [`WatchFailure`]), and is retried on
//! [`Builder::backoff`]: the clients this crate builds make no retries of their own beneath it.
//! A `429 Too Many Requests` (or any error answer) with `Retry-After` is waited for, up to the
//! longest backoff. The last good set stays published meanwhile.
//!
//! # Kubernetes version
//!
//! Like every library on `k8s-openapi`, this crate enables no Kubernetes version feature: the
//! application picks one by depending on `k8s-openapi` with, for example,
//! `features = ["v1_33"]` (the oldest API server it supports). EndpointSlice `v1` is in every
//! version k8s-openapi 0.29 supports.
//!
//! # Permissions
//!
//! The watch needs `get`, `list` and `watch` on `endpointslices` in the Service's namespace,
//! nothing else:
//!
//! ```yaml
//! apiVersion: rbac.authorization.k8s.io/v1
//! kind: Role
//! metadata:
//!   name: lb-endpointslice-reader
//!   namespace: prod
//! rules:
//!   - apiGroups: ["discovery.k8s.io"]
//!     resources: ["endpointslices"]
//!     verbs: ["get", "list", "watch"]
//! ---
//! apiVersion: rbac.authorization.k8s.io/v1
//! kind: RoleBinding
//! metadata:
//!   name: lb-endpointslice-reader
//!   namespace: prod
//! subjects:
//!   - kind: ServiceAccount
//!     name: my-proxy
//!     namespace: prod
//! roleRef:
//!   apiGroup: rbac.authorization.k8s.io
//!   kind: Role
//!   name: lb-endpointslice-reader
//! ```
//!
//! # Feature flags
//!
//! - `ring` (default): rustls with the *ring* crypto provider, the workspace's default.
//! - `aws-lc-rs`: rustls with the aws-lc-rs provider instead (preferred when both are on).
//! - `testing`: `testing::Feed`, the source fed watch events by hand (no client, no task), for
//!   tests and benches.
//!
//! With neither, install a rustls `CryptoProvider` yourself before building a client, or
//! [`Builder::build`] returns [`Error::NoCryptoProvider`].
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
pub mod conditions;
mod discovery;
mod error;
mod failure;
mod limits;
mod merged;
mod meta;
mod names;
mod port;
mod retry_after;
mod shared;
mod slice;
mod store;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod watch;

pub use client::{client_with_limits, infer_config};
pub use discovery::{Builder, EndpointSliceDiscovery};
pub use error::Error;
pub use failure::WatchFailure;
pub use limits::Limits;
pub use meta::{EndpointMeta, TargetRef};
pub use port::Port;
pub use shared::WatchStatus;

/// The kube crate this one is built on, so that a `kube::Config` or `kube::Client` passed to
/// [`Builder::config`] or [`Builder::client`] is of the same version without naming it in your
/// manifest.
pub use kube;

/// The k8s-openapi crate this one is built on. Like every library on it, it enables no
/// Kubernetes version: the application still picks one (see "Kubernetes version" above).
pub use k8s_openapi;
