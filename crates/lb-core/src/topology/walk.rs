//! The walk of `select` over a divided set: the routing table names the partition to start in;
//! the partition's strategy picks within it; when nothing there can be picked, the walk goes on
//! through the other partitions of the level, then the other levels, in order.

use std::ops::Range;

use super::Partitions;
use crate::backend::Backend;
use crate::pool::routing_mix;
use crate::rng;
use crate::selection::{BackendSelection, States};
use crate::snapshot::{Snapshot, Walk, Within, candidate_budget};

/// A 64-bit hash of a request key, so that a hashing strategy's key keeps its level and zone as
/// it keeps its backend: eight bytes per multiplication, then the splitmix64 finaliser. Not the
/// strategy's hash (the backend within the partition is the strategy's to choose).
#[inline]
fn key_hash(key: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = (key.len() as u64).wrapping_mul(K);
    let mut chunks = key.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(K)
            .rotate_left(29);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut word = [0u8; 8];
        word[..tail.len()].copy_from_slice(tail);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(K)
            .rotate_left(29);
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

/// Where a walk starts: a partition, its level's partition range, and whether the level is in
/// panic mode.
struct Start {
    part: usize,
    level: Range<usize>,
    panic: bool,
}

impl<S: BackendSelection> Snapshot<S> {
    /// Where a walk over `partitions` starts: the routing table's draw, or the first partition
    /// while the table is of another generation.
    #[inline]
    fn route_start(&self, partitions: &Partitions<S>, key: &[u8]) -> Start {
        let draw = if S::USES_KEY {
            key_hash(key)
        } else {
            rng::random_u64()
        };
        let routing = self.policies.pool.routing();
        match routing.route(partitions.generation, &partitions.levels, draw) {
            Some(r) if r.part < partitions.parts.len() => Start {
                part: r.part,
                level: r.first..r.end,
                panic: r.panic,
            },
            _ => {
                let end = partitions
                    .levels
                    .first()
                    .map_or(1, |&(_, end)| usize::from(end));
                Start {
                    part: 0,
                    level: 0..end,
                    panic: routing.level_panic(0),
                }
            }
        }
    }

    /// [`Snapshot::first_ready`] over a divided set: the routed partition here, the rest out of line.
    #[inline(never)]
    pub(crate) fn walk_partitioned(
        &self,
        partitions: &Partitions<S>,
        selector_index: usize,
        key: &[u8],
    ) -> Walk {
        let start = self.route_start(partitions, key);
        let Some(part) = partitions.parts.get(start.part) else {
            return Walk::Ended(None);
        };
        let Some(selector) = part.selectors.get(selector_index) else {
            return Walk::Ended(None);
        };
        let pool = &self.policies.pool;
        let view = States::of_slice(&part.states, &self.signals, pool);
        let within = Within {
            panic: Some(start.panic),
            member: &|i| part.member(i),
        };
        let first = self.walk_in(selector, view, key, within);
        match first {
            Walk::Ready(i) => match part.member(i) {
                Some(index) => {
                    if partitions.zone_routed() {
                        pool.count_route(part.is_local());
                    }
                    Walk::Ready(index)
                }
                None => Walk::Ended(None),
            },
            Walk::Ended(fallback) => {
                let fallback = fallback.and_then(|i| part.member(i));
                self.walk_rest(partitions, selector_index, key, start, fallback)
            }
            Walk::OverBudget(fallback) => Walk::OverBudget(fallback.and_then(|i| part.member(i))),
        }
    }

    /// The rest of [`Snapshot::walk_partitioned`]: the partition drawn had nothing to pick; the
    /// other partitions of its level, then the other levels, in order.
    #[cold]
    #[inline(never)]
    fn walk_rest(
        &self,
        partitions: &Partitions<S>,
        selector_index: usize,
        key: &[u8],
        start: Start,
        mut last_resort: Option<usize>,
    ) -> Walk {
        let pool = &self.policies.pool;
        for p in visit_order(start.part, start.level, partitions.parts.len()).skip(1) {
            let part = &partitions.parts[p];
            let Some(selector) = part.selectors.get(selector_index) else {
                return Walk::Ended(None);
            };
            let view = States::of_slice(&part.states, &self.signals, pool);
            let panic = pool.routing().level_panic(usize::from(part.key.level));
            let within = Within {
                panic: Some(panic),
                member: &|i| part.member(i),
            };
            match self.walk_in(selector, view, key, within) {
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
        let start = self.route_start(partitions, key);
        let mut left = max_iterations;
        for p in visit_order(start.part, start.level, partitions.parts.len()) {
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
        // Length counts: a key and the same key padded with zeros differ.
        assert_ne!(key_hash(b"ab"), key_hash(b"ab\0"));
        assert_ne!(key_hash(b""), key_hash(b"\0\0\0\0\0\0\0\0"));
        // The high and low halves (the level and the zone draws) are both spread: 16-byte
        // keys differing in one byte land in every one of 8 buckets of either half.
        let mut high = [0u32; 8];
        let mut low = [0u32; 8];
        for i in 0..4096u32 {
            let mut key = [7u8; 16];
            key[..4].copy_from_slice(&i.to_le_bytes());
            let h = key_hash(&key);
            high[(h >> 61) as usize] += 1;
            low[((h & 0xffff_ffff) >> 29) as usize] += 1;
        }
        for counts in [high, low] {
            assert!(
                counts.iter().all(|&c| (400..624).contains(&c)),
                "{counts:?}"
            );
        }
    }
}
