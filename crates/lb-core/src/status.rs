//! [`Status`]: a plain copy of a load balancer's state for people and dashboards
//! ([`LoadBalancer::status`](crate::LoadBalancer::status)); `Serialize` with the `serde` feature.

use crate::Backend;
use crate::load_balancer::UpdateStats;
use crate::state::{BackendState, Enablement};

/// A load balancer at one moment: its backends and its updates. Every number is a copy, taken
/// without stopping requests (so counts of different backends may be a few requests apart).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Status {
    /// The backends of the published set, in address order.
    pub backends: Vec<BackendStatus>,
    /// Backends that may be picked now.
    pub ready: usize,
    /// Update counters, panic mode and weights ([`LoadBalancer::stats`](crate::LoadBalancer::stats)).
    pub stats: UpdateStats,
    /// How long the discovery call of the last published update took, in seconds (`None` before
    /// the first update, and 0 for a set applied without discovery).
    pub last_discovery_seconds: Option<f64>,
    /// How long building the last published set and its selectors took, in seconds.
    pub last_build_seconds: Option<f64>,
}

/// One backend at one moment.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct BackendStatus {
    /// The backend's address.
    pub address: String,
    /// Its weight (0: a standby).
    pub weight: u32,
    /// Its administrative state.
    pub enablement: Enablement,
    /// Whether its health is good.
    pub healthy: bool,
    /// Why its last failed probe failed, if one failed.
    pub last_probe_error: Option<String>,
    /// Whether `select` may pick it now (healthy, enabled, not ejected).
    pub ready: bool,
    /// Whether an outcome policy keeps it out now.
    pub ejected: bool,
    /// How long its current ejection still lasts, in seconds.
    pub ejection_ends_in_seconds: Option<f64>,
    /// Times an outcome policy ejected it.
    pub ejections: u64,
    /// Requests in flight (counted while the load balancer tracks load).
    pub in_flight: u64,
    /// The peak-EWMA latency estimate as of its last reported request, in seconds.
    pub latency_seconds: Option<f64>,
    /// Requests reported.
    pub requests: u64,
    /// Requests reported failed.
    pub failures: u64,
    /// The share of successes in the last complete outcome window, or in the current one when
    /// none is complete; `None` when neither saw a request.
    pub success_rate: Option<f64>,
}

impl BackendStatus {
    pub(crate) fn of(backend: &Backend, state: &BackendState) -> Self {
        let last = state.last_window();
        let window = if last.requests() > 0 {
            last
        } else {
            state.current_window()
        };
        BackendStatus {
            address: backend.addr.to_string(),
            weight: backend.weight,
            enablement: state.enablement(),
            healthy: state.is_healthy(),
            last_probe_error: state.last_error().map(|e| e.to_string()),
            ready: state.is_ready(),
            ejected: state.is_ejected(),
            ejection_ends_in_seconds: state.ejection_remaining().map(|d| d.as_secs_f64()),
            ejections: state.ejections(),
            in_flight: state.in_flight(),
            latency_seconds: state.latency_estimate().map(|d| d.as_secs_f64()),
            requests: state.requests(),
            failures: state.failures(),
            success_rate: window.success_rate(),
        }
    }
}
