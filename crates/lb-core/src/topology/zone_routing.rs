//! [`ZoneRouting`]: the settings of zone-aware routing.

use std::sync::Arc;

use super::Zone;

/// Envoy's default `min_cluster_size` for zone-aware routing.
pub(crate) const DEFAULT_MIN_READY_BACKENDS: u64 = 6;

/// Zone-aware routing (Envoy's, with Kubernetes topology hints): keep requests in the caller's
/// zone while that zone's backends can take the caller zone's share of the traffic.
///
/// # The arithmetic
///
/// Within each priority level, two shares are compared per zone, in hundredths of a percent as
/// Envoy does: the zone's share of the level's ready weight (*upstream*) and its share of the
/// callers ([`CallerShares`]). When the local zone's upstream share is at least its caller share,
/// every request stays in the local zone. Otherwise `upstream / caller` of them stay (a local
/// zone with 10 % of the ready weight for 20 % of the callers keeps 50 %), and the rest go to
/// the other zones in proportion to their residual capacity, `upstream − caller` where that is
/// positive (callers 40/40/20 % and ready weight 25/50/25 % keep 62.5 % local and send the rest
/// 2:1 to the second and third zones). The result keeps every backend's load even while
/// keeping as much traffic local as that allows. Envoy counts hosts; lb weighs backends by their
/// weights (equal weights: the same figures).
///
/// Zone routing steps aside within a level (its zones then take traffic in proportion to their
/// ready weight) when the level is in panic mode, when it has fewer than
/// [`ZoneRouting::min_ready_backends`] ready backends, or when its backends are all in one
/// zone. Backends without a [`Zone`] form a zone of their own that is never local.
///
/// # Kubernetes hints
///
/// When [`ZoneRouting::honour_hints`] is on (the default), every backend carries
/// [`ZoneHints`](super::ZoneHints) and at least one is hinted for the local zone, the hints
/// decide instead, as kube-proxy does: the backends hinted for the local zone take every request
/// while any of them is ready, and the others only when none is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ZoneRouting {
    /// The caller's zone.
    pub local_zone: Zone,
    /// Below this many ready backends in a level, zone routing steps aside there. Default 6
    /// (Envoy's `min_cluster_size`).
    pub min_ready_backends: u64,
    /// How the callers are spread over zones. Default: evenly.
    pub caller_shares: CallerShares,
    /// Whether Kubernetes topology hints are honoured when every backend has them. Default on.
    pub honour_hints: bool,
}

impl ZoneRouting {
    /// Zone routing for a caller in `local_zone`, with the defaults.
    ///
    /// ```
    /// use lb_core::{CallerShares, ZoneRouting};
    /// let routing = ZoneRouting::new("eu-west-1a")
    ///     .with_caller_shares(CallerShares::weighted([("eu-west-1a", 3), ("eu-west-1b", 1)]));
    /// assert_eq!(routing.min_ready_backends, 6);
    /// ```
    pub fn new(local_zone: impl Into<Arc<str>>) -> Self {
        ZoneRouting {
            local_zone: Zone::new(local_zone),
            min_ready_backends: DEFAULT_MIN_READY_BACKENDS,
            caller_shares: CallerShares::Even,
            honour_hints: true,
        }
    }

    /// Sets the minimum of ready backends in a level for zone routing to apply there.
    pub fn with_min_ready_backends(mut self, min: u64) -> Self {
        self.min_ready_backends = min;
        self
    }

    /// Sets how the callers are spread over zones.
    pub fn with_caller_shares(mut self, shares: CallerShares) -> Self {
        self.caller_shares = shares;
        self
    }

    /// Sets whether Kubernetes topology hints are honoured.
    pub fn with_hints(mut self, honour: bool) -> Self {
        self.honour_hints = honour;
        self
    }
}

/// How the callers (the load balancers sending the traffic, one per client process) are spread
/// over zones: Envoy reads it from its local cluster's membership; lb is told.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallerShares {
    /// The callers are spread evenly over the zones of the level's backends and the local zone:
    /// each gets the same share. The right assumption for a service whose clients are
    /// deployed like it, one per zone alike.
    #[default]
    Even,
    /// Relative shares per zone (for example the number of client instances in each); zones not
    /// listed have no callers.
    Weighted(Box<[(Zone, u64)]>),
}

impl CallerShares {
    /// Relative shares per zone.
    pub fn weighted<I, Z>(shares: I) -> Self
    where
        I: IntoIterator<Item = (Z, u64)>,
        Z: Into<Arc<str>>,
    {
        CallerShares::Weighted(
            shares
                .into_iter()
                .map(|(z, share)| (Zone::new(z), share))
                .collect(),
        )
    }

    /// The callers' relative share in `zone` (`None`: backends with no zone).
    pub(crate) fn share(&self, zone: Option<&str>) -> u64 {
        match (self, zone) {
            (_, None) => 0,
            (CallerShares::Even, Some(_)) => 1,
            (CallerShares::Weighted(shares), Some(zone)) => shares
                .iter()
                .filter(|(z, _)| z.as_str() == zone)
                .map(|(_, s)| *s)
                .sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_looked_up_by_zone() {
        let even = CallerShares::Even;
        assert_eq!((even.share(Some("a")), even.share(None)), (1, 0));
        let w = CallerShares::weighted([("a", 3), ("b", 1)]);
        assert_eq!(
            (w.share(Some("a")), w.share(Some("b")), w.share(Some("c"))),
            (3, 1, 0)
        );
    }
}
