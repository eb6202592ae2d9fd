//! [`BackendSet`]: one generation of backends with their runtime state, as a dense slice.

use std::cmp::Ordering as Cmp;
use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::address::Address;
use crate::backend::Backend;
use crate::change::Changes;
use crate::discovery::{Delta, Discovered};
use crate::health::{Registrar, Source};
use crate::pool::{MAX_LEVELS, Pool};
use crate::state::{BackendState, Enablement};
use crate::topology::same_place;

/// Whether two backends of the same address select alike: the same weight and the same place in
/// the topology.
fn same_attributes(a: &Backend, b: &Backend) -> bool {
    a.weight == b.weight && same_place(a, b)
}

static GENERATION: AtomicU64 = AtomicU64::new(0);

/// `states` with each `None` at an index of `fresh` replaced by a new state whose health comes
/// from the source listed with it, in its enablement.
///
/// The new states are made here, one after another, once every shared health cell exists,
/// rather than each right after its cell: the walk of `select` reads one word of each candidate's state, and
/// states allocated together lie together, in set order, so a walk over many backends touches
/// fewer cache lines and pages than states interleaved with their cells.
fn with_fresh_states(
    mut states: Vec<Option<Arc<BackendState>>>,
    fresh: Vec<(usize, Source, Enablement)>,
    pool: &Arc<Pool>,
) -> Box<[Arc<BackendState>]> {
    for (i, source, enablement) in fresh {
        if let Some(slot) = states.get_mut(i) {
            *slot = Some(BackendState::new(source, enablement, pool));
        }
    }
    debug_assert!(
        states.iter().all(Option::is_some),
        "every new backend has a state"
    );
    states.into_iter().flatten().collect()
}

/// One generation of a load balancer's backends: sorted by address, without duplicates, each
/// with its [`BackendState`] at the same index.
///
/// It dereferences to `[Backend]`. A set never changes once built; an update builds a new one
/// and carries the state of every backend that stays. Looking an address up is a binary search
/// (the set keeps no hash index: a new generation is a merge of two sorted lists, a pass that
/// hashes nothing).
pub struct BackendSet {
    backends: Box<[Backend]>,
    states: Box<[Arc<BackendState>]>,
    generation: u64,
}

/// `list` sorted by address with the first of equal addresses kept; logs what it dropped.
fn sorted_unique(mut list: Vec<Backend>, what: &str) -> Vec<Backend> {
    // A stable sort keeps the first of equal addresses first, and dedup keeps it.
    list.sort_by(|a, b| a.addr.cmp(&b.addr));
    let before = list.len();
    list.dedup_by(|later, first| later.addr == first.addr);
    if list.len() != before {
        tracing::warn!(
            duplicates = before - list.len(),
            "{what} listed duplicate addresses; the first occurrence of each was kept"
        );
    }
    list
}

impl BackendSet {
    pub(crate) fn empty() -> Self {
        BackendSet {
            backends: Box::new([]),
            states: Box::new([]),
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Builds the next generation from a discovery answer, carrying the state of backends that
    /// stay (by address) and registering new ones with `registrar`: a sort of the answer (one
    /// pass when it comes sorted), then one merge with the previous set, which also finds what
    /// changed.
    pub(crate) fn next(
        discovered: &Discovered,
        previous: &BackendSet,
        registrar: Registrar<'_>,
        pool: &Arc<Pool>,
    ) -> (Self, Changes) {
        let backends = sorted_unique(discovered.backends.clone(), "discovery");
        let mut states = Vec::with_capacity(backends.len());
        let mut fresh = Vec::new();
        let mut changes = Changes::default();
        let mut o = 0;
        let old = &previous.backends;
        for (i, b) in backends.iter().enumerate() {
            while o < old.len() && old[o].addr < b.addr {
                changes.removed.push(o);
                o += 1;
            }
            if o < old.len() && old[o].addr == b.addr {
                if !same_attributes(&old[o], b) {
                    changes.changed.push(i);
                }
                states.push(Some(Arc::clone(&previous.states[o])));
                o += 1;
            } else {
                changes.added.push(i);
                fresh.push((i, registrar.source(b, false), Enablement::Enabled));
                states.push(None);
            }
        }
        changes.removed.extend(o..old.len());
        let set = BackendSet {
            backends: backends.into_boxed_slice(),
            states: with_fresh_states(states, fresh, pool),
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
        };
        (set, changes)
    }

    /// Builds the next generation by applying `delta` to `previous`: removals, then additions
    /// and changes (by address). The delta is sorted, each of its addresses is found by binary
    /// search, and the runs of unchanged backends between them are copied whole with their
    /// states: time in proportion to the change (times the log of the set) plus a copy of the
    /// set's dense arrays; nothing of the unchanged part is compared, sorted or hashed.
    pub(crate) fn apply(
        delta: &Delta,
        previous: &BackendSet,
        registrar: Registrar<'_>,
        pool: &Arc<Pool>,
    ) -> (Self, Changes) {
        let upsert = sorted_unique(delta.upsert.clone(), "a discovery delta");
        let mut remove: Vec<&Address> = delta.remove.iter().collect();
        remove.sort_unstable();
        remove.dedup();
        let len = previous.len() + upsert.len();
        let (mut backends, mut states) = (Vec::with_capacity(len), Vec::with_capacity(len));
        let mut changes = Changes::default();
        // `previous[..cursor]` is copied or dealt with.
        let mut cursor = 0;
        let mut upserts = upsert.into_iter().peekable();
        let mut removals = remove.into_iter().peekable();
        loop {
            // The next address the delta names, in address order; a backend both removed and
            // listed again stays, as listed.
            let upsert_first = match (upserts.peek(), removals.peek()) {
                (Some(u), Some(r)) => u.addr <= **r,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let addr = if upsert_first {
                upserts.peek().map(|u| &u.addr)
            } else {
                removals.peek().copied()
            };
            let Some(addr) = addr else { break };
            let tail = &previous.backends[cursor..];
            let at = cursor + tail.partition_point(|b| b.addr < *addr);
            let found = previous.backends.get(at).is_some_and(|b| b.addr == *addr);
            backends.extend_from_slice(&previous.backends[cursor..at]);
            states.extend_from_slice(&previous.states[cursor..at]);
            cursor = at;
            if upsert_first {
                let Some(b) = upserts.next() else { break };
                removals.next_if(|r| **r == b.addr);
                if found {
                    if !same_attributes(&previous.backends[at], &b) {
                        changes.changed.push(backends.len());
                    }
                    states.push(Arc::clone(&previous.states[at]));
                    cursor = at + 1;
                } else {
                    changes.added.push(backends.len());
                    states.push(BackendState::new(
                        registrar.source(&b, false),
                        Enablement::Enabled,
                        pool,
                    ));
                }
                backends.push(b);
            } else {
                removals.next();
                if found {
                    changes.removed.push(at);
                    cursor = at + 1;
                }
            }
        }
        backends.extend_from_slice(&previous.backends[cursor..]);
        states.extend_from_slice(&previous.states[cursor..]);
        let set = BackendSet {
            backends: backends.into_boxed_slice(),
            states: states.into_boxed_slice(),
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
        };
        (set, changes)
    }

    /// Applies a discovery answer's enablement opinions to this set's states. Done when the set
    /// is published, under the publishing lock, so that an answer that loses the race to a newer
    /// one never overwrites the newer one's opinions.
    pub(crate) fn apply_enablement(&self, opinions: &HashMap<Address, Enablement>) {
        for (addr, enablement) in opinions {
            if let Some(state) = self.state_of(addr) {
                state.set_enablement(*enablement);
            }
        }
    }

    /// The same backends with fresh states from `registrar`, keeping each one's enablement. Used
    /// when a load balancer's health configuration changes before it serves.
    /// With `fresh`, every backend gets new health in the registry's current initial health (a
    /// private registry whose configuration changed); otherwise cells are shared by key.
    pub(crate) fn reregister(
        &self,
        registrar: Registrar<'_>,
        fresh: bool,
        pool: &Arc<Pool>,
    ) -> Self {
        let cells = self
            .backends
            .iter()
            .zip(self.states.iter())
            .enumerate()
            .map(|(i, (b, old))| (i, registrar.source(b, fresh), old.enablement()))
            .collect();
        BackendSet {
            backends: self.backends.clone(),
            states: with_fresh_states(vec![None; self.len()], cells, pool),
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

    /// The index of the backend at `addr` (a binary search).
    pub fn index_of(&self, addr: &Address) -> Option<usize> {
        self.backends.binary_search_by(|b| b.addr.cmp(addr)).ok()
    }

    /// The state of the backend at `addr`.
    pub fn state_of(&self, addr: &Address) -> Option<&Arc<BackendState>> {
        self.index_of(addr).and_then(|i| self.states.get(i))
    }

    /// Whether a backend with this address is in the set.
    pub fn contains(&self, addr: &Address) -> bool {
        self.index_of(addr).is_some()
    }

    /// A number unique to this set among all sets of the process, increasing with each new set.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether some backend has a positive weight (then weight 0 is a standby). Stops at the
    /// first: one look in the usual case.
    pub(crate) fn has_active(&self) -> bool {
        self.backends.iter().any(|b| b.weight > 0)
    }

    /// [`BackendSet::publish_weights`] for a set that is not divided, after `previous`, which
    /// was not either and had the same standby rule, given what `changes` says differs: only
    /// the states of backends that joined or changed, and of those that left, are written.
    pub(crate) fn publish_changes(&self, previous: &BackendSet, changes: &Changes, ramp: bool) {
        let has_active = self.has_active();
        for &o in &changes.removed {
            if let Some(state) = previous.states.get(o) {
                state.publish(0, false, 0, false);
            }
        }
        let publish = |i: usize, new: bool| {
            if let (Some(b), Some(state)) = (self.backends.get(i), self.states.get(i)) {
                let standby = has_active && b.weight == 0;
                #[cfg(feature = "metrics")]
                state.register_metrics(&b.addr);
                state.publish(b.weight.max(1), standby, 0, ramp && new);
            }
        };
        for &i in &changes.added {
            publish(i, true);
        }
        for &i in &changes.changed {
            publish(i, false);
        }
    }

    /// Gives the pool this set's weights: each backend's state counts its weight (at least 1) in
    /// its partition (`part_of[i]`, 0 when the set is not divided), in the active tier or, for a
    /// standby, the standby tier; states of `previous` that are not in this set count nothing;
    /// and backends new to the set start ramping when slow start is on (`ramp`). Weight 0 is a
    /// standby when some backend of the same priority level (`levels[partition]`) has a
    /// positive weight. Done when the set is published, under the publishing lock: one merge of
    /// the two sorted sets.
    pub(crate) fn publish_weights(
        &self,
        previous: Option<&BackendSet>,
        ramp: bool,
        part_of: &[u8],
        levels: &[u8],
    ) {
        let partition = |i: usize| part_of.get(i).copied().unwrap_or(0);
        let level = |i: usize| {
            let l = levels.get(usize::from(partition(i))).copied().unwrap_or(0);
            usize::from(l).min(MAX_LEVELS - 1)
        };
        // Weight 0 is a standby when some backend of its level has a positive weight; all zero
        // are equals.
        let mut has_active = [false; MAX_LEVELS];
        for (i, b) in self.backends.iter().enumerate() {
            has_active[level(i)] |= b.weight > 0;
        }
        let old = previous.map_or(&[][..], |p| &p.states[..]);
        let old_backends = previous.map_or(&[][..], |p| &p.backends[..]);
        let mut o = 0;
        for (i, (backend, state)) in self.backends.iter().zip(self.states.iter()).enumerate() {
            let mut same = false;
            while o < old.len() {
                match old_backends[o].addr.cmp(&backend.addr) {
                    // Sorts before this backend: it left the set.
                    Cmp::Less => {
                        old[o].publish(0, false, 0, false);
                        o += 1;
                    }
                    Cmp::Equal => {
                        same = Arc::ptr_eq(&old[o], state);
                        if !same {
                            old[o].publish(0, false, 0, false);
                        }
                        o += 1;
                        break;
                    }
                    Cmp::Greater => break,
                }
            }
            let standby = has_active[level(i)] && backend.weight == 0;
            let new = previous.is_some() && !same;
            #[cfg(feature = "metrics")]
            state.register_metrics(&backend.addr);
            state.publish(backend.weight.max(1), standby, partition(i), ramp && new);
        }
        for gone in &old[o..] {
            gone.publish(0, false, 0, false);
        }
    }
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
    use crate::health::HealthRegistry;

    fn b(s: &str, w: u32) -> Backend {
        Backend::new_with_weight(s, w).unwrap()
    }

    #[test]
    fn sorts_dedups_keeping_the_first_and_carries_state_by_address() {
        let registry = HealthRegistry::new();
        let reg = Registrar::new(&registry, true);
        let pool = Arc::new(Pool::default());
        let (first, changes) = BackendSet::next(
            &Discovered::new([b("10.0.0.2:1", 1), b("10.0.0.1:1", 7), b("10.0.0.1:1", 9)]),
            &BackendSet::empty(),
            reg,
            &pool,
        );
        assert_eq!(changes.added, [0, 1]);
        let addrs: Vec<String> = first.iter().map(|b| b.addr.to_string()).collect();
        assert_eq!(addrs, ["10.0.0.1:1", "10.0.0.2:1"]);
        assert_eq!(first[0].weight, 7, "the first duplicate wins");
        first.states()[1].set_enablement(Enablement::Draining);
        let (second, changes) = BackendSet::next(
            &Discovered::new([b("10.0.0.2:1", 50), b("10.0.0.3:1", 1)]),
            &first,
            reg,
            &pool,
        );
        // .1 left (old index 0), .2 changed weight (new index 0), .3 joined (new index 1).
        assert_eq!(
            (changes.removed, changes.changed, changes.added),
            (vec![0], vec![0], vec![1])
        );
        assert!(Arc::ptr_eq(&first.states()[1], &second.states()[0]));
        assert_eq!(second[0].weight, 50);
        assert_eq!(second.states()[0].enablement(), Enablement::Draining);
        assert_eq!(second.states()[1].enablement(), Enablement::Enabled);
        assert!(second.generation() > first.generation());
        assert!(!second.contains(&"10.0.0.1:1".parse().unwrap()));
    }

    #[test]
    fn a_delta_records_what_it_changed_by_index() {
        let registry = HealthRegistry::new();
        let reg = Registrar::new(&registry, true);
        let pool = Arc::new(Pool::default());
        let (set, _) = BackendSet::next(
            &Discovered::new((1..=5).map(|i| b(&format!("10.0.0.{i}:1"), 1))),
            &BackendSet::empty(),
            reg,
            &pool,
        );
        let delta = Delta::new()
            .with_removal("10.0.0.2:1".parse().unwrap())
            .with_upsert(b("10.0.0.0:1", 1))
            .with_upsert(b("10.0.0.4:1", 3))
            .with_upsert(b("10.0.0.5:1", 1))
            .with_upsert(b("10.0.0.9:1", 1));
        let (next, changes) = BackendSet::apply(&delta, &set, reg, &pool);
        let addrs: Vec<String> = next.iter().map(|b| b.addr.to_string()).collect();
        assert_eq!(
            addrs,
            [
                "10.0.0.0:1",
                "10.0.0.1:1",
                "10.0.0.3:1",
                "10.0.0.4:1",
                "10.0.0.5:1",
                "10.0.0.9:1"
            ]
        );
        // .5 upserted unchanged is no change; .4's new weight is.
        assert_eq!(
            (changes.removed, changes.added, changes.changed),
            (vec![1], vec![0, 5], vec![3])
        );
    }

    #[test]
    fn discovery_enablement_overrides_only_the_backends_it_names() {
        let registry = HealthRegistry::new();
        let reg = Registrar::new(&registry, true);
        let pool = Arc::new(Pool::default());
        let d = Discovered::new([b("10.0.0.1:1", 1), b("10.0.0.2:1", 1)])
            .with_enablement("10.0.0.2:1".parse().unwrap(), Enablement::Disabled)
            .with_enablement("10.9.9.9:1".parse().unwrap(), Enablement::Disabled);
        let (set, _) = BackendSet::next(&d, &BackendSet::empty(), reg, &pool);
        assert!(set.states()[1].is_ready(), "opinions wait for publication");
        set.apply_enablement(&d.enablement);
        assert!(set.states()[0].is_ready());
        assert!(!set.states()[1].is_ready());
        assert_eq!(set.len(), 2);
    }
}
