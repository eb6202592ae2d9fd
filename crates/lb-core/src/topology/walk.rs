//! The walk of `select` over a divided set: the routing table names the partition to start in;
//! the partition's strategy picks within it; when nothing there can be picked, the walk goes on
//! through the other partitions of the level, then the other levels, in order.

use std::ops::Range;

use super::Partitions;
use crate::backend::Backend;
use crate::pool::routing_mix;
use crate::rng;
use crate::selection::{BackendSelection, States};
use crate::snapshot::{Snapshot, Walk, candidate_budget};

/// A 64-bit hash of a request key (FNV-1a, finalised), so that a hashing strategy's key keeps
/// its level and zone as it keeps its backend.
#[inline]
fn key_hash(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    routing_mix(h)
}

/// The partitions in the order a walk visits them: `start`, the rest of its level, then the
/// other levels' partitions in order. No allocation.
fn visit_order(start: usize, level: Range<usize>, count: usize) -> impl Iterator<Item = usize> {
    let rest_of_level = level.clone().filter(move |&p| p != start);
    let other_levels = (0..count).filter(move |p| !level.contains(p));
    std::iter::once(start)
        .chain(rest_of_level)
        .chain(other_levels)
}

impl<S: BackendSelection> Snapshot<S> {
    /// Where a walk over `partitions` starts, with its level's partition range.
    #[inline]
    fn route_start(&self, partitions: &Partitions<S>, key: &[u8]) -> (usize, Range<usize>) {
        let draw = if S::USES_KEY {
            key_hash(key)
        } else {
            rng::random_u64()
        };
        let routing = self.policies.pool.routing();
        let start = routing
            .route(partitions.generation, &partitions.levels, draw)
            .map_or(0, |r| r.part)
            .min(partitions.parts.len().saturating_sub(1));
        let level = partitions
            .levels
            .iter()
            .map(|&(first, end)| usize::from(first)..usize::from(end))
            .find(|r| r.contains(&start))
            .unwrap_or(start..start + 1);
        (start, level)
    }

    /// [`Snapshot::walk`] over a divided set.
    #[inline(never)]
    pub(crate) fn walk_partitioned(
        &self,
        partitions: &Partitions<S>,
        selector_index: usize,
        key: &[u8],
    ) -> Walk {
        let pool = &self.policies.pool;
        let (start, level) = self.route_start(partitions, key);
        let mut last_resort = None;
        for p in visit_order(start, level, partitions.parts.len()) {
            let part = &partitions.parts[p];
            let Some(selector) = part.selectors.get(selector_index) else {
                return Walk::Ended(None);
            };
            let view = States::of_slice(&part.states, &self.signals, pool);
            let panic = pool.routing().level_panic(usize::from(part.key.level));
            match self.walk_in(selector, view, key, Some(panic)) {
                Walk::Ready(i) => {
                    let Some(index) = part.member(i) else {
                        continue;
                    };
                    if partitions.zone_routed() {
                        pool.count_route(part.is_local());
                    }
                    return Walk::Ready(index);
                }
                Walk::Ended(fallback) => {
                    last_resort = last_resort.or(fallback.and_then(|i| part.member(i)));
                }
                Walk::OverBudget(fallback) => {
                    return Walk::OverBudget(fallback.and_then(|i| part.member(i)).or(last_resort));
                }
            }
        }
        Walk::Ended(last_resort)
    }

    /// [`Snapshot::first_accepted`] over a divided set: the partitions in walk order, at most
    /// `max_iterations` candidates in all.
    pub(crate) fn accepted_partitioned<F>(
        &self,
        partitions: &Partitions<S>,
        selector_index: usize,
        key: &[u8],
        max_iterations: usize,
        mut accept: F,
    ) -> Option<usize>
    where
        F: FnMut(&Backend, bool) -> bool,
    {
        let pool = &self.policies.pool;
        let backends = self.set.backends();
        let (start, level) = self.route_start(partitions, key);
        let mut left = max_iterations;
        for p in visit_order(start, level, partitions.parts.len()) {
            let part = &partitions.parts[p];
            let selector = part.selectors.get(selector_index)?;
            let view = States::of_slice(&part.states, &self.signals, pool);
            let mut candidates = selector.iter_with_states(key, view);
            let mut budget = candidate_budget(part.members.len());
            while left > 0 && budget > 0 {
                left -= 1;
                budget -= 1;
                let Some(i) = crate::selection::BackendIter::next(&mut candidates) else {
                    break;
                };
                let (Some(index), Some(state)) = (part.member(i), view.get(i)) else {
                    continue;
                };
                let Some(backend) = backends.get(index) else {
                    continue;
                };
                if accept(backend, state.is_ready()) {
                    return Some(index);
                }
            }
            if left == 0 {
                return None;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_visits_every_partition_once_starting_in_the_routed_one() {
        let order: Vec<_> = visit_order(4, 3..6, 8).collect();
        assert_eq!(order, [4, 3, 5, 0, 1, 2, 6, 7]);
        let order: Vec<_> = visit_order(0, 0..1, 3).collect();
        assert_eq!(order, [0, 1, 2]);
    }

    #[test]
    fn keys_hash_apart_and_stably() {
        assert_eq!(key_hash(b"user-1"), key_hash(b"user-1"));
        assert_ne!(key_hash(b"user-1"), key_hash(b"user-2"));
    }
}
