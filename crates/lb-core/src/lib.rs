//! The core of lb: backends, their runtime state, the traits that strategies, probes and
//! discovery sources implement, the request lifecycle, and the [`LoadBalancer`] that ties them
//! together.
//!
//! lb-core sits at the bottom of the lb stack: strategies (`lb-selection`), probes (`lb-health`)
//! and discovery sources (`lb-discovery-*`) build on it, and the `lb` crate re-exports them all.
//! It never depends on any of them.
//!
//! ```
//! use lb_core::{Backend, BackendIter, BackendSelection, BoxError, LoadBalancer, Outcome};
//! use std::time::Duration;
//!
//! /// The simplest strategy: backends in order.
//! struct InOrder(usize);
//! struct InOrderIter(std::ops::Range<usize>);
//! impl BackendIter for InOrderIter {
//!     fn next(&mut self) -> Option<usize> { self.0.next() }
//! }
//! impl BackendSelection for InOrder {
//!     type Config = ();
//!     type Iter<'a> = InOrderIter;
//!     fn build(backends: &[Backend], _: &()) -> Result<Self, BoxError> { Ok(InOrder(backends.len())) }
//!     fn iter(&self, _key: &[u8]) -> InOrderIter { InOrderIter(0..self.0) }
//! }
//!
//! let lb = LoadBalancer::<InOrder>::try_from_iter(["10.0.0.1:80", "10.0.0.2:80"]).unwrap();
//! let first = lb.backends().get_backend()[0].clone();
//! let pick = lb.select(b"").unwrap();
//! assert_eq!(pick.addr, first.addr);
//! pick.report(Outcome::Success, Duration::from_millis(4)); // how the request went
//! lb.backends().set_enable(&first, false); // an operator drains it
//! assert_eq!(lb.select(b"").unwrap().addr.to_string(), "10.0.0.2:80");
//! ```
//!
//! # Feature flags
//!
//! - `runtime` (default): the async side, on tokio (`runtime/`): the [`ServiceDiscovery`] and
//!   [`HealthCheck`] traits, [`LoadBalancer::update`], the background service
//!   ([`LoadBalancer::run`], [`LoadBalancer::spawn`]), health-check passes, and the streams of
//!   health events ([`HealthWatch`]) and published sets ([`Generations`]). Without it, lb-core
//!   depends only on `arc-swap` and `tracing`, and sets are published with
//!   [`LoadBalancer::apply`].
//! - `metrics`: records requests, health, ejections, panic mode and updates through the
//!   [`metrics`](https://docs.rs/metrics) facade, for load balancers named with
//!   `LoadBalancer::set_metrics` (see the `metrics` module; names in `docs/observing.md`).
//! - `serde`: `Serialize` for [`Status`] ([`LoadBalancer::status`]) and what it holds.
//! - `testing`: helpers for the tests of crates built on lb-core (a `tracing` subscriber that
//!   records every event, to prove a path silent).

mod address;
mod backend;
mod backends;
mod backoff;
mod change;
mod change_log;
mod clock;
mod discovery;
mod error;
mod extensions;
mod health;
mod load_balancer;
mod outcome;
mod outlier;
mod passive;
mod pick;
mod policy;
mod pool;
mod rng;
mod selection;
mod selector;
mod set;
mod signals;
mod snapshot;
mod state;
mod status;
pub mod topology;

#[cfg(feature = "runtime")]
mod runtime;
// What the data plane holds of the async side, inert without the `runtime` feature: the one
// place the data plane's code depends on the feature.
#[cfg(not(feature = "runtime"))]
mod hooks;
#[cfg(feature = "runtime")]
use runtime::hooks;

#[cfg(feature = "testing")]
pub mod testing;

#[cfg(feature = "metrics")]
pub mod metrics;

pub use address::{Address, MAX_UNIX_PATH_LEN};
pub use backend::{Backend, IntoBackend};
pub use backends::Backends;
pub use backoff::Backoff;
pub use change::SetChange;
pub use change_log::{Change, ChangeLog, DEFAULT_CHANGE_LOG_CAPACITY};
pub use discovery::{Answer, Delta, Discovered};
pub use error::{AddressError, BoxError, LoadBalancerError, UpdateError, error_chain};
pub use extensions::Extensions;
pub use health::{
    DEFAULT_HEALTH_CHECK_CONCURRENCY, HealthKey, HealthRegistry, HealthStatus, InitialHealth,
};
pub use load_balancer::{
    BLOCKING_BUILD_THRESHOLD, LoadBalancer, LoadBalancerGroup, UpdateStats, UpdateTimings,
};
pub use outcome::Outcome;
pub use outlier::{FailurePercentageEjection, SuccessRateEjection};
pub use passive::PassiveHealth;
pub use pick::{LocalPick, Pick};
pub use pool::SlowStart;
pub use rng::seed_thread_random;
pub use selection::{BackendIter, BackendSelection, SignalTime, States};
pub use selector::Selector;
pub use set::BackendSet;
pub use signals::LoadSignals;
pub use state::{BackendState, Enablement, Window};
pub use status::{BackendStatus, Status};
pub use topology::{CallerShares, Priority, Zone, ZoneHints, ZoneRouting};

#[cfg(feature = "runtime")]
pub use runtime::{
    ChangeNotifier, ChangeSubscription, Discovery, EnablementChanges, Generations, HealthCheck,
    HealthEvent, HealthSchedule, HealthWatch, PassReport, ServiceDiscovery, ServiceHandle,
};

/// Re-exported so that implementors of the async traits use the same macro version.
#[cfg(feature = "runtime")]
pub use async_trait::async_trait;
