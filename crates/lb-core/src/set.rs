//! [`BackendSet`]: one generation of backends with their runtime state, as a dense slice.

use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::address::Address;
use crate::backend::Backend;
use crate::discovery::Discovered;
use crate::health::HealthRegistry;
use crate::pool::Pool;
use crate::state::{BackendState, Enablement};

static GENERATION: AtomicU64 = AtomicU64::new(0);

/// One generation of a load balancer's backends: sorted by address, without duplicates, each
/// with its [`BackendState`] at the same index.
///
/// It dereferences to `[Backend]`. A set never changes once built; an update builds a new one
/// and carries the state of every backend that stays.
pub struct BackendSet {
    backends: Box<[Backend]>,
    states: Box<[Arc<BackendState>]>,
    index: HashMap<Address, usize>,
    generation: u64,
}

impl BackendSet {
    pub(crate) fn empty() -> Self {
        BackendSet {
            backends: Box::new([]),
            states: Box::new([]),
            index: HashMap::new(),
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Builds the next generation from a discovery answer, carrying the state of backends that
    /// stay (by address) and registering new ones with `registry`.
    pub(crate) fn next(
        discovered: &Discovered,
        previous: &BackendSet,
        registry: &HealthRegistry,
        pool: &Arc<Pool>,
    ) -> Self {
        let mut backends = discovered.backends.clone();
        // A stable sort keeps the first of equal addresses first, and dedup keeps it.
        backends.sort_by(|a, b| a.addr.cmp(&b.addr));
        let before = backends.len();
        backends.dedup_by(|later, first| later.addr == first.addr);
        if backends.len() != before {
            tracing::warn!(
                duplicates = before - backends.len(),
                "discovery returned duplicate addresses; the first occurrence of each was kept"
            );
        }
        let states: Box<[Arc<BackendState>]> = backends
            .iter()
            .map(|b| match previous.state_of(&b.addr) {
                Some(state) => Arc::clone(state),
                None => BackendState::watching(&registry.cell_for(b), Enablement::Enabled, pool),
            })
            .collect();
        let index = index_of(&backends);
        BackendSet {
            backends: backends.into_boxed_slice(),
            states,
            index,
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Applies a discovery answer's enablement opinions to this set's states. Done when the set
    /// is published, under the publishing lock, so that an answer that loses the race to a newer
    /// one never overwrites the newer one's opinions.
    pub(crate) fn apply_enablement(&self, discovered: &Discovered) {
        for (addr, enablement) in &discovered.enablement {
            if let Some(state) = self.state_of(addr) {
                state.set_enablement(*enablement);
            }
        }
    }

    /// The same backends with fresh states from `registry`, keeping each one's enablement. Used
    /// when a load balancer's health configuration changes before it serves.
    /// With `fresh`, every backend gets a new health cell in the registry's current initial
    /// health (a private registry whose configuration changed); otherwise cells are shared by key.
    pub(crate) fn reregister(
        &self,
        registry: &HealthRegistry,
        fresh: bool,
        pool: &Arc<Pool>,
    ) -> Self {
        let states = self
            .backends
            .iter()
            .zip(self.states.iter())
            .map(|(b, old)| {
                let cell = if fresh {
                    registry.fresh_cell_for(b)
                } else {
                    registry.cell_for(b)
                };
                BackendState::watching(&cell, old.enablement(), pool)
            })
            .collect();
        BackendSet {
            backends: self.backends.clone(),
            states,
            index: self.index.clone(),
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The backends, sorted by address.
    pub fn backends(&self) -> &[Backend] {
        &self.backends
    }

    /// The states, at the same indices as the backends.
    pub fn states(&self) -> &[Arc<BackendState>] {
        &self.states
    }

    /// The state of the backend at `index`.
    pub fn state(&self, index: usize) -> Option<&Arc<BackendState>> {
        self.states.get(index)
    }

    /// The index of the backend at `addr`.
    pub fn index_of(&self, addr: &Address) -> Option<usize> {
        self.index.get(addr).copied()
    }

    /// The state of the backend at `addr`.
    pub fn state_of(&self, addr: &Address) -> Option<&Arc<BackendState>> {
        self.index_of(addr).and_then(|i| self.states.get(i))
    }

    /// Whether a backend with this address is in the set.
    pub fn contains(&self, addr: &Address) -> bool {
        self.index.contains_key(addr)
    }

    /// A number unique to this set among all sets of the process, increasing with each new set.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Gives the pool this set's weights: each backend's state counts its weight (at least 1) in
    /// the active tier or, for a standby, the standby tier; states of `previous` that are not in
    /// this set count nothing; and backends new to the set start ramping when slow start is on
    /// (`ramp`). Done when the set is published, under the publishing lock.
    pub(crate) fn publish_weights(&self, previous: Option<&BackendSet>, ramp: bool) {
        // Weight 0 is a standby when some backend has a positive weight; all zero are equals.
        let has_active = self.backends.iter().any(|b| b.weight > 0);
        for (backend, state) in self.backends.iter().zip(self.states.iter()) {
            let new = previous.is_some_and(|p| {
                !p.state_of(&backend.addr)
                    .is_some_and(|old| Arc::ptr_eq(old, state))
            });
            let standby = has_active && backend.weight == 0;
            state.publish(backend.weight.max(1), standby, ramp && new);
        }
        if let Some(previous) = previous {
            for (backend, state) in previous.backends.iter().zip(previous.states.iter()) {
                if !self
                    .state_of(&backend.addr)
                    .is_some_and(|s| Arc::ptr_eq(s, state))
                {
                    state.publish(0, false, false);
                }
            }
        }
    }

    /// Whether `other` has the same backends with the same weights.
    pub(crate) fn same_backends(&self, other: &[Backend]) -> bool {
        self.backends.len() == other.len()
            && self
                .backends
                .iter()
                .zip(other)
                .all(|(a, b)| a.addr == b.addr && a.weight == b.weight)
    }
}

fn index_of(backends: &[Backend]) -> HashMap<Address, usize> {
    backends
        .iter()
        .enumerate()
        .map(|(i, b)| (b.addr.clone(), i))
        .collect()
}

impl Deref for BackendSet {
    type Target = [Backend];
    fn deref(&self) -> &[Backend] {
        &self.backends
    }
}

impl fmt::Debug for BackendSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendSet")
            .field("generation", &self.generation)
            .field("backends", &self.backends)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str, w: u32) -> Backend {
        Backend::new_with_weight(s, w).unwrap()
    }

    #[test]
    fn sorts_dedups_keeping_the_first_and_carries_state_by_address() {
        let reg = HealthRegistry::new();
        let pool = Arc::new(Pool::default());
        let first = BackendSet::next(
            &Discovered::new([b("10.0.0.2:1", 1), b("10.0.0.1:1", 7), b("10.0.0.1:1", 9)]),
            &BackendSet::empty(),
            &reg,
            &pool,
        );
        let addrs: Vec<String> = first.iter().map(|b| b.addr.to_string()).collect();
        assert_eq!(addrs, ["10.0.0.1:1", "10.0.0.2:1"]);
        assert_eq!(first[0].weight, 7, "the first duplicate wins");
        first.states()[1].set_enablement(Enablement::Draining);
        let second = BackendSet::next(
            &Discovered::new([b("10.0.0.2:1", 50), b("10.0.0.3:1", 1)]),
            &first,
            &reg,
            &pool,
        );
        assert!(Arc::ptr_eq(&first.states()[1], &second.states()[0]));
        assert_eq!(second[0].weight, 50);
        assert_eq!(second.states()[0].enablement(), Enablement::Draining);
        assert_eq!(second.states()[1].enablement(), Enablement::Enabled);
        assert!(second.generation() > first.generation());
        assert!(!second.contains(&"10.0.0.1:1".parse().unwrap()));
    }

    #[test]
    fn discovery_enablement_overrides_only_the_backends_it_names() {
        let reg = HealthRegistry::new();
        let pool = Arc::new(Pool::default());
        let d = Discovered::new([b("10.0.0.1:1", 1), b("10.0.0.2:1", 1)])
            .with_enablement("10.0.0.2:1".parse().unwrap(), Enablement::Disabled)
            .with_enablement("10.9.9.9:1".parse().unwrap(), Enablement::Disabled);
        let set = BackendSet::next(&d, &BackendSet::empty(), &reg, &pool);
        assert!(set.states()[1].is_ready(), "opinions wait for publication");
        set.apply_enablement(&d);
        assert!(set.states()[0].is_ready());
        assert!(!set.states()[1].is_ready());
        assert_eq!(set.len(), 2);
    }
}
