//! Topology: priority levels and zone-aware routing.
//!
//! A backend's place in the fleet is told by two extensions a discovery source (or the
//! application) puts on it: [`Priority`] (DNS SRV priorities, a failover site) and [`Zone`] (the
//! Kubernetes zone, a data centre), with [`ZoneHints`] for Kubernetes topology hints. The load
//! balancer divides its set by them into *partitions*, builds one selector per partition, and
//! per request first chooses a partition (Envoy's arithmetic: the priority load between levels,
//! zone-aware routing within a level), then lets the strategy pick inside it. Any strategy works
//! unchanged: topology only decides which backends it picks among.
//!
//! # Priority levels
//!
//! Levels are Envoy's: the distinct priority values, lowest first, are levels 0, 1, 2…
//! (values beyond the eighth distinct one share the last level; a backend without [`Priority`]
//! is priority 0). A level's *availability* is its ready share of weight times the
//! overprovisioning factor (default 1.4,
//! [`LoadBalancer::set_overprovisioning_factor`](crate::LoadBalancer::set_overprovisioning_factor)),
//! capped at 100 %. Level 0 takes all traffic while its availability is 100 %, that is while at
//! least 1/1.4 ≈ 71.4 % of its weight is ready; below that, the levels after it take the
//! shortfall in order, each as far as its own availability goes (Envoy's priority load: level 0
//! at 50 % ready takes 70 % of requests and level 1 the other 30 %). When the levels' total
//! availability is under 100 %, the loads are scaled up to sum to 100 %. Weight 0 keeps its
//! standby meaning inside a level.
//!
//! The panic threshold ([`LoadBalancer::set_panic_threshold`](crate::LoadBalancer::set_panic_threshold))
//! applies per level, as in Envoy: only when the levels together are short of 100 %
//! availability is a level whose ready share is under the threshold in panic mode (its traffic
//! goes to all its enabled backends). When every level is in panic, traffic is split between
//! levels by enabled weight.
//!
//! # Zone-aware routing
//!
//! Off until [`LoadBalancer::set_zone_routing`](crate::LoadBalancer::set_zone_routing) names
//! the caller's zone. Then each level is divided by zone, and requests stay in the local zone
//! while it has ready capacity for its callers' share of traffic; otherwise the residual goes to
//! the other zones in proportion to their spare capacity (Envoy's zone-aware routing; see
//! [`ZoneRouting`] for the arithmetic, the callers' shares and when it steps aside). When every
//! backend carries [`ZoneHints`] and some are hinted for the local zone, Kubernetes' own rule
//! applies instead: the hinted backends take all traffic while any of them is ready.
//! [`UpdateStats`](crate::UpdateStats) counts requests routed within and across zones.

mod divide;
mod partitions;
mod walk;
mod zone_routing;

use std::fmt;
use std::sync::Arc;

pub(crate) use divide::divide;
pub(crate) use partitions::Partitions;
pub use zone_routing::{CallerShares, ZoneRouting};

/// A backend's priority, as a backend extension: lower values are preferred (0 is the highest
/// priority, as in Envoy and DNS SRV). See the [module docs](self) for how levels share
/// traffic.
///
/// ```
/// use lb_core::{Backend, Priority};
/// let backup = Backend::new("10.0.9.1:80").unwrap().with_ext(Priority(1));
/// assert_eq!(backup.ext.get::<Priority>(), Some(&Priority(1)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(pub u32);

/// The zone (locality) a backend runs in, as a backend extension: for example the Kubernetes
/// `topology.kubernetes.io/zone` of its node.
///
/// ```
/// use lb_core::{Backend, Zone};
/// let b = Backend::new("10.0.0.1:80").unwrap().with_ext(Zone::new("eu-west-1a"));
/// assert_eq!(b.ext.get::<Zone>().map(Zone::as_str), Some("eu-west-1a"));
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Zone(Arc<str>);

impl Zone {
    /// The zone named `name`.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Zone(name.into())
    }

    /// The zone's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The zones a backend should serve (Kubernetes EndpointSlice `hints.forZones`), as a backend
/// extension. Honoured only when every backend of the set has hints, as Kubernetes does.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ZoneHints(Box<[Zone]>);

impl ZoneHints {
    /// Hints for these zones.
    pub fn new<I, Z>(zones: I) -> Self
    where
        I: IntoIterator<Item = Z>,
        Z: Into<Arc<str>>,
    {
        ZoneHints(zones.into_iter().map(Zone::new).collect())
    }

    /// The zones hinted.
    pub fn zones(&self) -> &[Zone] {
        &self.0
    }

    /// Whether `zone` is among them.
    pub fn contains(&self, zone: &str) -> bool {
        self.0.iter().any(|z| z.as_str() == zone)
    }
}

/// The topology attributes of a backend, compared to decide whether a new set can keep the
/// previous set's partitions.
pub(crate) fn same_place(a: &crate::Backend, b: &crate::Backend) -> bool {
    a.ext.get::<Priority>() == b.ext.get::<Priority>()
        && a.ext.get::<Zone>() == b.ext.get::<Zone>()
        && a.ext.get::<ZoneHints>() == b.ext.get::<ZoneHints>()
}
