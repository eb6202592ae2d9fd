//! [`Partitions`]: one selector per partition of a divided set, built together with the set's
//! other selectors and published in the same snapshot.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::divide::{Division, PartKey};
use crate::backend::Backend;
use crate::error::BoxError;
use crate::pool::Layout;
use crate::selection::BackendSelection;
use crate::set::BackendSet;
use crate::state::BackendState;

/// Numbers each division, so that a routing table computed for one is never applied to
/// another's partitions.
static GENERATION: AtomicU64 = AtomicU64::new(1);

/// A divided set's partitions, each with its members, their states and one selector per
/// configuration of the load balancer.
pub(crate) struct Partitions<S> {
    pub(crate) generation: u64,
    pub(crate) parts: Box<[Partition<S>]>,
    /// Each level's partition range.
    pub(crate) levels: Box<[(u8, u8)]>,
    /// Each backend's partition, by index into the set.
    pub(crate) part_of: Box<[u8]>,
    /// What the pool routes by.
    pub(crate) layout: Layout,
    /// The generation of the set whose states `parts` hold.
    states_of: u64,
}

pub(crate) struct Partition<S> {
    pub(crate) key: PartKey,
    /// Indices into the set, ascending.
    pub(crate) members: Box<[u32]>,
    /// The members' states, in the same order: what the partition's strategy reads.
    pub(crate) states: Box<[Arc<BackendState>]>,
    pub(crate) selectors: Box<[Arc<S>]>,
}

impl<S> Partition<S> {
    /// Whether this is the caller's zone.
    #[inline]
    pub(crate) fn is_local(&self) -> bool {
        !self.key.remote && self.key.zone.is_some()
    }

    /// The set index of the partition's `i`-th member.
    #[inline]
    pub(crate) fn member(&self, i: usize) -> Option<usize> {
        self.members.get(i).map(|&m| m as usize)
    }
}

fn gather(set: &BackendSet, members: &[u32]) -> Box<[Arc<BackendState>]> {
    let states = set.states();
    members
        .iter()
        .filter_map(|&i| states.get(i as usize).map(Arc::clone))
        .collect()
}

impl<S: BackendSelection> Partitions<S> {
    /// Builds a selector per partition of `division` and per configuration, from the previous
    /// build's partition of the same identity when there is one.
    pub(crate) fn build(
        previous: Option<&Partitions<S>>,
        set: &BackendSet,
        configs: &[S::Config],
        division: Division,
    ) -> Result<Self, BoxError> {
        let Division {
            part_of,
            members,
            keys,
            mut layout,
        } = division;
        let backends = set.backends();
        let mut parts = Vec::with_capacity(keys.len());
        for (key, members) in keys.into_iter().zip(members) {
            let subset: Vec<Backend> = members
                .iter()
                .filter_map(|&i| backends.get(i as usize).cloned())
                .collect();
            let before = previous.and_then(|p| p.parts.iter().find(|q| q.key == key));
            let selectors = configs
                .iter()
                .enumerate()
                .map(|(c, config)| {
                    match before.and_then(|b| b.selectors.get(c)) {
                        Some(prev) => prev.rebuild(&subset, config),
                        None => S::build(&subset, config),
                    }
                    .map(Arc::new)
                })
                .collect::<Result<Box<[_]>, _>>()?;
            parts.push(Partition {
                key,
                states: gather(set, &members),
                members: members.into_boxed_slice(),
                selectors,
            });
        }
        let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
        layout.generation = generation;
        Ok(Partitions {
            generation,
            levels: layout.levels.iter().map(|l| (l.first, l.end)).collect(),
            parts: parts.into_boxed_slice(),
            part_of,
            layout,
            states_of: set.generation(),
        })
    }
}

impl<S> Partitions<S> {
    /// These partitions over `set`, a set with the same backends in the same order: the same
    /// selectors, with `set`'s states.
    pub(crate) fn for_set(self: &Arc<Self>, set: &BackendSet) -> Arc<Self> {
        if set.generation() == self.states_of {
            return Arc::clone(self);
        }
        Arc::new(Partitions {
            generation: self.generation,
            parts: self
                .parts
                .iter()
                .map(|p| Partition {
                    key: p.key.clone(),
                    members: p.members.clone(),
                    states: gather(set, &p.members),
                    selectors: p.selectors.clone(),
                })
                .collect(),
            levels: self.levels.clone(),
            part_of: self.part_of.clone(),
            layout: self.layout.clone(),
            states_of: set.generation(),
        })
    }

    /// Whether zone-aware routing divides the set (then requests are counted as local or
    /// cross-zone).
    pub(crate) fn zone_routed(&self) -> bool {
        self.layout.zones.is_some()
    }

    /// The level of each partition.
    pub(crate) fn level_of_parts(&self) -> Vec<u8> {
        self.parts.iter().map(|p| p.key.level).collect()
    }
}
