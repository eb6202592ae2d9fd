//! The handles of one backend in one load balancer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Label, SharedString};

use super::names::*;
use crate::outcome::Outcome;

/// A backend's handles, registered when it joins a published set; recording through them takes
/// no lock and allocates nothing in lb (what the exporter does with a value is its own). The
/// backends past the label limit hold clones of one set of shared handles.
#[derive(Clone)]
pub(crate) struct BackendMetrics {
    pub(crate) picks: Counter,
    requests: Counter,
    failures: Counter,
    cancellations: Counter,
    in_flight: Gauge,
    duration: Histogram,
    health_changes: Counter,
    ejections: Counter,
    readmissions: Counter,
    /// The label count of the load balancer this backend holds a place in (`None` for the
    /// shared handles of the backends past the limit, which are the only ones cloned).
    slot: Option<Arc<AtomicUsize>>,
}

impl BackendMetrics {
    pub(super) fn new(
        lb: SharedString,
        backend: SharedString,
        slot: Option<Arc<AtomicUsize>>,
    ) -> Self {
        let labels = [Label::new("lb", lb), Label::new("backend", backend)];
        BackendMetrics {
            picks: metrics::counter!(PICKS, labels.to_vec()),
            requests: metrics::counter!(REQUESTS, labels.to_vec()),
            failures: metrics::counter!(FAILURES, labels.to_vec()),
            cancellations: metrics::counter!(CANCELLATIONS, labels.to_vec()),
            in_flight: metrics::gauge!(IN_FLIGHT, labels.to_vec()),
            duration: metrics::histogram!(REQUEST_DURATION, labels.to_vec()),
            health_changes: metrics::counter!(HEALTH_CHANGES, labels.to_vec()),
            ejections: metrics::counter!(EJECTIONS, labels.to_vec()),
            readmissions: metrics::counter!(READMISSIONS, labels.to_vec()),
            slot,
        }
    }

    /// A request started counting in flight.
    #[inline]
    pub(crate) fn started(&self) {
        self.in_flight.increment(1.0);
    }

    /// A request counted in flight ended.
    #[inline]
    pub(crate) fn finished(&self) {
        self.in_flight.decrement(1.0);
    }

    /// A request was reported.
    #[inline]
    pub(crate) fn reported(&self, outcome: Outcome, latency: Duration) {
        self.requests.increment(1);
        if outcome == Outcome::Failure {
            self.failures.increment(1);
        }
        self.duration.record(latency.as_secs_f64());
    }

    /// A request counted in flight was dropped without a report.
    #[inline]
    pub(crate) fn cancelled(&self) {
        self.cancellations.increment(1);
    }

    /// The backend's health flipped.
    pub(crate) fn health_changed(&self) {
        self.health_changes.increment(1);
    }

    /// An outcome policy ejected the backend.
    pub(crate) fn ejected(&self) {
        self.ejections.increment(1);
    }

    /// The backend came back from an ejection.
    pub(crate) fn readmitted(&self) {
        self.readmissions.increment(1);
    }
}

impl Drop for BackendMetrics {
    fn drop(&mut self) {
        if let Some(slot) = &self.slot {
            slot.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl std::fmt::Debug for BackendMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendMetrics")
            .field("labelled", &self.slot.is_some())
            .finish_non_exhaustive()
    }
}
