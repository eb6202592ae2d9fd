//! [`DnsMonitor`] and [`DnsStats`]: watching a discovery source that a load balancer owns.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use lb_core::{Backend, ChangeSubscription};

use crate::discovery::Shared;
use crate::error::DnsError;

/// Counters of a DNS discovery source. Every failure is counted here and logged with `tracing`.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct DnsStats {
    /// Refreshes done (successful or not).
    pub refreshes: u64,
    /// Times the answer changed (the load balancer was notified). The first answer counts.
    pub changes: u64,
    /// Refreshes that failed without an answer (SERVFAIL, REFUSED, timeout, unreachable
    /// nameserver, bad response, refresh deadline), or in which some SRV target lookups failed.
    /// The last good set (or target) was kept.
    pub failures: u64,
    /// Negative answers: NXDOMAIN, no records, no SRV target resolving.
    pub negative_answers: u64,
    /// Times the negative grace period ran out and an empty set was published.
    pub emptied: u64,
    /// Records left out of answers: unusable addresses (`0.0.0.0`, `::`, multicast,
    /// broadcast), SRV records with port 0 or target `.`, duplicates, and records beyond
    /// [`max_records`](crate::DnsDiscoveryBuilder::max_records).
    pub dropped_records: u64,
    /// SRV targets whose lookup failed or found no address.
    pub unresolved_targets: u64,
    /// The last error (a failure, a negative answer, or a failed SRV target).
    pub last_error: Option<DnsError>,
    /// The wait chosen after the last refresh: the TTL clamped to the refresh bounds, a retry
    /// backoff, or the rest of the negative grace period.
    pub refresh_interval: Option<Duration>,
}

/// A handle on a [`DnsDiscovery`](crate::DnsDiscovery), usable after the source was moved into
/// a load balancer. Cheap to clone.
///
/// Holding a monitor does not keep the refresh task running: it stops when the source is
/// dropped, and the monitor then shows the last state.
#[derive(Clone)]
pub struct DnsMonitor {
    shared: Arc<Shared>,
}

impl DnsMonitor {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        DnsMonitor { shared }
    }

    /// The name being followed, as given (or the IP address of a literal).
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// A copy of the counters.
    pub fn stats(&self) -> DnsStats {
        self.shared.state().stats.clone()
    }

    /// The current answer, sorted by address; `None` before the first answer.
    pub fn backends(&self) -> Option<Vec<Backend>> {
        self.shared
            .state()
            .current
            .as_ref()
            .map(|(_, discovered)| discovered.backends.clone())
    }

    /// A subscription that fires when the answer changes (the signal the load balancer gets).
    pub fn subscribe(&self) -> ChangeSubscription {
        self.shared.notifier.subscribe()
    }

    /// Waits until at least `count` refreshes have been done. It waits forever if the refresh
    /// task never runs (the source was never asked, or was dropped): wrap it in a timeout.
    pub async fn wait_for_refreshes(&self, count: u64) {
        let mut rx = self.shared.refreshes.subscribe();
        // The sender lives in `shared`, which this monitor keeps alive: the channel stays open.
        let _ = rx.wait_for(|n| *n >= count).await;
    }
}

impl fmt::Debug for DnsMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsMonitor")
            .field("name", &self.shared.name)
            .field("stats", &self.stats())
            .finish()
    }
}
