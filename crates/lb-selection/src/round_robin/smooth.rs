//! nginx's smooth weighted round robin, computed once as a table.
//!
//! nginx (`ngx_http_upstream_get_peer` in `ngx_http_upstream_round_robin.c`) keeps a *current
//! weight* per peer. Each turn it adds every peer's weight to its current weight, picks the peer
//! with the largest current weight (the first in list order on a tie) and subtracts the total
//! weight from the winner. With weights 5, 1, 1 that gives `a a b a c a a`, and the sequence
//! repeats every `Σ w` turns.
//!
//! Simulating it naively costs O(n) per turn. Peers of equal weight, though, are always picked in
//! list order one after the other (their current weights differ by multiples of the total), so a
//! *class* of `m` peers of weight `w` that have had `p` picks between them has its best peer at
//! position `p mod m`, with current weight `(t + 1)·w − S·⌊p / m⌋`. Simulating classes costs
//! O(number of distinct weights) per turn instead.

/// The sequence of nginx's smooth weighted round robin over `weights` (all positive), as indices
/// into `weights`, for one full period of `Σ weights` turns. The caller bounds the period and the
/// work (`period × distinct weights`).
pub(crate) fn smooth_sequence(weights: &[u64]) -> Vec<u32> {
    struct Class {
        weight: i128,
        /// Member indices, ascending (list order).
        members: Vec<u32>,
        /// `p mod m`: the member whose turn it is.
        next: usize,
        /// `S·⌊p / m⌋`, kept as it changes rather than divided out every turn (two integer
        /// divisions per class per turn were most of a large table's build).
        rounds_times_total: i128,
    }
    let mut classes: Vec<Class> = Vec::new();
    let mut by_weight: Vec<(u64, u32)> = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| (w, i as u32))
        .collect();
    by_weight.sort_unstable();
    for (w, i) in by_weight {
        match classes.last_mut() {
            Some(c) if c.weight == i128::from(w) => c.members.push(i),
            _ => classes.push(Class {
                weight: i128::from(w),
                members: vec![i],
                next: 0,
                rounds_times_total: 0,
            }),
        }
    }
    let total: u64 = weights.iter().sum();
    let s = i128::from(total);
    let mut out = Vec::with_capacity(total as usize);
    for t in 0..total {
        let mut best: Option<(i128, u32, usize)> = None;
        let turn = i128::from(t + 1);
        for (ci, c) in classes.iter().enumerate() {
            let member = c.members[c.next];
            let current = turn * c.weight - c.rounds_times_total;
            let better = match best {
                None => true,
                Some((bc, bm, _)) => current > bc || (current == bc && member < bm),
            };
            if better {
                best = Some((current, member, ci));
            }
        }
        // `total > 0` means there is at least one class, so `best` is set.
        if let Some((_, member, ci)) = best {
            let c = &mut classes[ci];
            c.next += 1;
            if c.next == c.members.len() {
                c.next = 0;
                c.rounds_times_total += s;
            }
            out.push(member);
        }
    }
    out
}

/// Whether `weights` holds at most `limit` distinct values. It stops at the first value over
/// the limit, so it costs at most `weights.len() x (limit + 1)` comparisons, and no sort: the
/// caller asks with the limit its table's work allows, which is small when the set is large.
pub(crate) fn distinct_at_most(weights: &[u64], limit: usize) -> bool {
    let mut seen: Vec<u64> = Vec::new();
    for &w in weights {
        if !seen.contains(&w) {
            if seen.len() == limit {
                return false;
            }
            seen.push(w);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn distinct_at_most_counts_values_not_entries() {
        assert!(distinct_at_most(&[], 0));
        assert!(!distinct_at_most(&[3], 0));
        assert!(distinct_at_most(&[3, 3, 3], 1));
        assert!(distinct_at_most(&[1, 2, 1, 2, 3], 3));
        assert!(!distinct_at_most(&[1, 2, 1, 2, 3], 2));
        assert!(!distinct_at_most(&[5, 4, 3, 2, 1, 1, 1], 4));
    }

    /// nginx's loop, literally: O(n) per turn.
    fn nginx(weights: &[u64], turns: usize) -> Vec<u32> {
        let total: i64 = weights.iter().map(|&w| w as i64).sum();
        let mut current = vec![0i64; weights.len()];
        let mut out = Vec::new();
        for _ in 0..turns {
            let mut best = 0;
            for i in 0..weights.len() {
                current[i] += weights[i] as i64;
                if current[i] > current[best] {
                    best = i;
                }
            }
            current[best] -= total;
            out.push(best as u32);
        }
        out
    }

    #[test]
    fn five_one_one_interleaves() {
        assert_eq!(smooth_sequence(&[5, 1, 1]), [0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn equal_weights_go_in_list_order() {
        assert_eq!(smooth_sequence(&[1, 1, 1, 1]), [0, 1, 2, 3]);
        assert_eq!(smooth_sequence(&[2, 2]), [0, 1, 0, 1]);
    }

    #[test]
    fn classes_interleave_with_each_other() {
        assert_eq!(smooth_sequence(&[1, 3, 1, 3]), nginx(&[1, 3, 1, 3], 8));
    }

    proptest! {
        #[test]
        fn matches_nginx_turn_for_turn(weights in prop::collection::vec(prop_oneof![1u64..4, 1u64..30], 1..12)) {
            let total: u64 = weights.iter().sum();
            prop_assert_eq!(smooth_sequence(&weights), nginx(&weights, total as usize));
            // One period later nginx is back where it started (every current weight is 0 again).
            let two = nginx(&weights, 2 * total as usize);
            prop_assert_eq!(&two[..total as usize], &two[total as usize..]);
        }
    }
}
