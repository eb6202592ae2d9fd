//! Metrics through the [`metrics`] facade (feature `metrics`): whatever exporter the application
//! installs (Prometheus, OpenTelemetry, statsd) receives them.
//!
//! Nothing is recorded until a load balancer is given a name with
//! [`LoadBalancer::set_metrics`](crate::LoadBalancer::set_metrics). Every handle is registered
//! off the request path: the load balancer's when it is named, a backend's when it joins a
//! published set (or when the load balancer is named, for the backends already there). A request
//! then costs one load of the backend's handles and an update of each, and never allocates.
//! The names and labels are listed in the table of `docs/observing.md`.

mod backend;
mod names;

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Label, SharedString};

pub(crate) use backend::BackendMetrics;
pub use names::*;

/// How many backends of one load balancer get a `backend` label of their own by default; the
/// rest share the label [`OTHER_BACKENDS`].
pub const DEFAULT_BACKEND_LABEL_LIMIT: usize = 100;

/// The `backend` label of the backends past the label limit of their load balancer: their
/// counts are added together under it.
pub const OTHER_BACKENDS: &str = "other";

/// The metrics settings of one load balancer: its name (the `lb` label of every series it
/// records) and the most backends that get a `backend` label of their own.
///
/// Each labelled backend is a few series per metric in the exporter, so a load balancer over
/// thousands of backends would make thousands of series: past the limit (by default
/// [`DEFAULT_BACKEND_LABEL_LIMIT`]), backends that join share the label [`OTHER_BACKENDS`]. A
/// backend that leaves the set gives its place back to the next one that joins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metrics {
    name: String,
    backend_label_limit: usize,
}

impl Metrics {
    /// Metrics labelled `lb="<name>"`.
    pub fn new(name: impl Into<String>) -> Self {
        Metrics {
            name: name.into(),
            backend_label_limit: DEFAULT_BACKEND_LABEL_LIMIT,
        }
    }

    /// Sets the most backends that get a `backend` label of their own (0: every backend is
    /// counted under [`OTHER_BACKENDS`]).
    pub fn backend_label_limit(mut self, limit: usize) -> Self {
        self.backend_label_limit = limit;
        self
    }

    /// The load balancer's name, its `lb` label.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The most backends with a `backend` label of their own.
    pub fn label_limit(&self) -> usize {
        self.backend_label_limit
    }
}

/// A load balancer's metrics were named already ([`LoadBalancer::set_metrics`](crate::LoadBalancer::set_metrics)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsAlreadyNamed {
    /// The name it has.
    pub name: String,
}

impl std::fmt::Display for MetricsAlreadyNamed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the load balancer's metrics are already named `{}`",
            self.name
        )
    }
}

impl std::error::Error for MetricsAlreadyNamed {}

/// The handles of one load balancer, and the registration of its backends' handles.
pub(crate) struct LbMetrics {
    name: SharedString,
    limit: usize,
    /// Backends holding a label of their own now (a `BackendMetrics` gives its place back when
    /// dropped).
    labelled: Arc<AtomicUsize>,
    other: OnceLock<BackendMetrics>,
    pub(crate) panic: Gauge,
    pub(crate) panic_entries: Counter,
    pub(crate) updates: Counter,
    // Counted by the async side's discovery only.
    #[cfg_attr(not(feature = "runtime"), allow(dead_code))]
    pub(crate) discovery_errors: Counter,
    pub(crate) build_errors: Counter,
    pub(crate) discovery_seconds: Histogram,
    pub(crate) build_seconds: Histogram,
    pub(crate) backends: Gauge,
}

impl LbMetrics {
    /// Describes every metric to the recorder and registers the load balancer's handles.
    pub(crate) fn new(settings: &Metrics) -> Self {
        names::describe();
        let name = SharedString::from(settings.name.clone());
        let labels = [Label::new("lb", name.clone())];
        LbMetrics {
            limit: settings.backend_label_limit,
            labelled: Arc::new(AtomicUsize::new(0)),
            other: OnceLock::new(),
            panic: metrics::gauge!(PANIC_MODE, labels.to_vec()),
            panic_entries: metrics::counter!(PANIC_ENTRIES, labels.to_vec()),
            updates: metrics::counter!(UPDATES, labels.to_vec()),
            discovery_errors: metrics::counter!(DISCOVERY_ERRORS, labels.to_vec()),
            build_errors: metrics::counter!(BUILD_ERRORS, labels.to_vec()),
            discovery_seconds: metrics::histogram!(DISCOVERY_DURATION, labels.to_vec()),
            build_seconds: metrics::histogram!(BUILD_DURATION, labels.to_vec()),
            backends: metrics::gauge!(BACKENDS, labels.to_vec()),
            name,
        }
    }

    /// The handles of a backend that joins: its own while the label limit allows, else the
    /// shared ones of [`OTHER_BACKENDS`].
    pub(crate) fn backend(&self, address: &crate::Address) -> BackendMetrics {
        let claimed = self
            .labelled
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .is_ok();
        if claimed {
            return BackendMetrics::new(
                self.name.clone(),
                SharedString::from(address.to_string()),
                Some(Arc::clone(&self.labelled)),
            );
        }
        self.other
            .get_or_init(|| {
                BackendMetrics::new(
                    self.name.clone(),
                    SharedString::const_str(OTHER_BACKENDS),
                    None,
                )
            })
            .clone()
    }

    /// The load balancer's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Records a published update: its build (and discovery, when one ran) and the set's size.
    pub(crate) fn published(&self, discovery: Option<Duration>, build: Duration, size: usize) {
        self.updates.increment(1);
        if let Some(d) = discovery {
            self.discovery_seconds.record(d.as_secs_f64());
        }
        self.build_seconds.record(build.as_secs_f64());
        self.backends.set(size as f64);
    }

    /// Records a change of panic mode.
    pub(crate) fn panic_changed(&self, panic: bool) {
        if panic {
            self.panic_entries.increment(1);
        }
        self.panic.set(if panic { 1.0 } else { 0.0 });
    }
}

impl std::fmt::Debug for LbMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LbMetrics")
            .field("name", &self.name)
            .field("limit", &self.limit)
            .field("labelled", &self.labelled.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}
