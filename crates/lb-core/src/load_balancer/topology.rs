//! Topology settings: zone-aware routing, the overprovisioning factor, and the priority load
//! (see the `topology` module for the semantics).

use std::sync::Arc;

use super::LoadBalancer;
use crate::error::UpdateError;
use crate::selection::BackendSelection;
use crate::snapshot::{Snapshot, place};
use crate::topology::ZoneRouting;

impl<S: BackendSelection> LoadBalancer<S> {
    /// Turns zone-aware routing on for a caller in `routing`'s local zone, or off with `None`
    /// (the default). The current set is divided again by zone and published at once; later
    /// sets are divided as they come. See [`ZoneRouting`] for the arithmetic (Envoy's), the
    /// callers' shares and Kubernetes hints. Requests routed within and across zones are counted
    /// in [`LoadBalancer::stats`].
    ///
    /// Fails only when building the selectors fails (the previous ones stay); the setting is
    /// kept either way and applies to the next update.
    pub fn set_zone_routing(&self, routing: Option<ZoneRouting>) -> Result<(), UpdateError> {
        let _publishing = self.updates().publishing();
        let pool = &self.policies.pool;
        pool.set_zone_routing(routing.clone());
        let current = self.cell.load();
        let selectors = self.build_selectors(&current, &current.set, routing.as_ref(), None)?;
        place(
            &current.set,
            Some(&current.set),
            false,
            Some(&selectors),
            pool,
            None,
        );
        let next = Snapshot {
            selectors: Some(selectors),
            ..current.with_set(Arc::clone(&current.set))
        };
        drop(current);
        self.cell.store(Arc::new(next));
        Ok(())
    }

    /// The zone-aware routing settings, if on.
    pub fn zone_routing(&self) -> Option<ZoneRouting> {
        self.policies.pool.zone_routing().0
    }

    /// Sets the overprovisioning factor of priority levels (Envoy's; default 1.4): a level
    /// with `1 / factor` of its weight ready is taken to serve all of its share. Values below
    /// 0.01 count as 0.01; the factor is kept to two decimals.
    pub fn set_overprovisioning_factor(&self, factor: f64) {
        let percent = if factor.is_finite() {
            (factor * 100.0).round().clamp(1.0, f64::from(u32::MAX)) as u32
        } else {
            1
        };
        self.policies.pool.set_overprovisioning(percent);
    }

    /// The overprovisioning factor.
    pub fn overprovisioning_factor(&self) -> f64 {
        f64::from(self.policies.pool.overprovisioning()) / 100.0
    }

    /// The share of traffic each priority level takes now, in percent, level 0 first (one
    /// level, `[100]`, when backends carry no [`Priority`](crate::Priority)). Envoy's priority
    /// load over the live weights.
    pub fn priority_load(&self) -> Vec<u8> {
        self.policies.pool.priority_loads()
    }
}
