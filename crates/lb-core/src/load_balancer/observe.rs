//! Observing a load balancer: [`LoadBalancer::status`], and its metrics
//! ([`LoadBalancer::set_metrics`], feature `metrics`).

use super::LoadBalancer;
use crate::selection::BackendSelection;
use crate::status::{BackendStatus, Status};

impl<S: BackendSelection> LoadBalancer<S> {
    /// A plain copy of the load balancer's state: each backend of the published set (address,
    /// weight, enablement, health and the last probe error, ejection and its end, requests in
    /// flight, latency estimate, recent success rate) and the update counters and timings.
    /// It reads each backend's state once and allocates the copy: meant for status pages and
    /// dashboards, not the request path.
    pub fn status(&self) -> Status {
        let snapshot = self.cell.load();
        let set = &snapshot.set;
        let backends: Vec<BackendStatus> = set
            .backends()
            .iter()
            .zip(set.states())
            .map(|(b, s)| BackendStatus::of(b, s))
            .collect();
        let timings = self.last_update_timing();
        Status {
            ready: backends.iter().filter(|b| b.ready).count(),
            backends,
            stats: self.stats(),
            last_discovery_seconds: timings.map(|t| t.discovery_duration.as_secs_f64()),
            last_build_seconds: timings.map(|t| t.build_duration.as_secs_f64()),
        }
    }

    /// Records this load balancer's metrics through the [`metrics`] facade, labelled
    /// `lb="<name>"` (see [`Metrics`](crate::metrics::Metrics) and the table in
    /// `docs/observing.md`). Call it after installing the exporter's recorder: handles are
    /// registered now for the load balancer and its current backends, and later for each
    /// backend that joins. A load balancer is named once; a second call is an error that names
    /// the first name.
    #[cfg(feature = "metrics")]
    pub fn set_metrics(
        &self,
        metrics: crate::metrics::Metrics,
    ) -> Result<(), crate::metrics::MetricsAlreadyNamed> {
        use std::sync::Arc;
        let pool = &self.policies.pool;
        if let Some(m) = pool.metrics() {
            return Err(crate::metrics::MetricsAlreadyNamed {
                name: m.name().to_owned(),
            });
        }
        let lb = Arc::new(crate::metrics::LbMetrics::new(&metrics));
        if !pool.set_metrics(Arc::clone(&lb)) {
            let name = pool
                .metrics()
                .map(|m| m.name().to_owned())
                .unwrap_or_default();
            return Err(crate::metrics::MetricsAlreadyNamed { name });
        }
        // Only this call got past `set_metrics` above, so this `set` cannot fail.
        let _ = self.updates.metrics.set(Arc::clone(&lb));
        let snapshot = self.cell.load();
        for (backend, state) in snapshot.set.iter().zip(snapshot.set.states()) {
            state.register_metrics(&backend.addr);
        }
        lb.backends.set(snapshot.set.len() as f64);
        lb.panic.set(if pool.in_panic() { 1.0 } else { 0.0 });
        Ok(())
    }
}
