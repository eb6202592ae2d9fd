//! How well a hashing strategy spreads keys, and how many keys move when the set changes: the
//! quality tables of the report. These are counts over fixed keys, not timings.
//!
//! - **Balance** is the largest backend share over the mean share, `max(count) / mean(count)`,
//!   with every backend of weight 1: 1.0 is perfect, 1.25 means the busiest backend gets 25 %
//!   more keys than its fair share.
//! - **Disruption** is the fraction of keys whose first pick changes when one backend is removed
//!   (or one is added). The ideal is the removed backend's share, 1/N (or the new backend's share,
//!   1/(N+1)): only the keys that must move, move.
//!
//! Picks are compared by backend *identity* (its address), not by index: removing a backend
//! shifts the indices of the ones after it.

use lb_core::{Backend, BackendIter, BackendSelection, BoxError};

use crate::sets::{backend, text_key};

/// The port of the backends of the quality sets.
const PORT: u16 = 80;

/// `max(counts) / mean(counts)`: 1.0 when every count is equal. An empty slice or all-zero
/// counts give 0.0 (no keys, no imbalance to speak of).
pub fn max_over_mean(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let max = counts.iter().copied().max().unwrap_or(0);
    max as f64 * counts.len() as f64 / total as f64
}

/// The fraction of positions where `before` and `after` differ; slices of different lengths
/// compare over the shorter one. Empty input gives 0.0.
pub fn moved_fraction(before: &[u32], after: &[u32]) -> f64 {
    let n = before.len().min(after.len());
    if n == 0 {
        return 0.0;
    }
    let moved = before.iter().zip(after).filter(|(a, b)| a != b).count();
    moved as f64 / n as f64
}

/// The first pick of `selector` for each key, as an id: `ids[index]` of the backend picked.
/// A key with no pick (an empty set) gets `u32::MAX`.
pub fn first_picks<S: BackendSelection>(
    selector: &S,
    ids: &[u32],
    keys: impl Iterator<Item = Vec<u8>>,
) -> Vec<u32> {
    keys.map(|key| {
        selector
            .iter(&key)
            .next()
            .and_then(|index| ids.get(index).copied())
            .unwrap_or(u32::MAX)
    })
    .collect()
}

/// How many keys each of `n` backends gets: `counts[id]` for the ids of [`first_picks`].
pub fn counts(picks: &[u32], n: usize) -> Vec<u64> {
    let mut counts = vec![0u64; n];
    for &pick in picks {
        if let Some(count) = counts.get_mut(pick as usize) {
            *count += 1;
        }
    }
    counts
}

/// The balance and disruption figures of one strategy at one size.
#[derive(Debug, Clone, PartialEq)]
pub struct Quality {
    /// Backends in the set.
    pub n: usize,
    /// Keys looked up.
    pub keys: u64,
    /// [`max_over_mean`] of the keys per backend.
    pub max_over_mean: f64,
    /// Mean fraction of keys moved when one backend is removed, over the removals tried.
    pub moved_on_remove: f64,
    /// Fraction of keys moved when one backend is added.
    pub moved_on_add: f64,
}

impl Quality {
    /// The ideal [`Quality::moved_on_remove`] with equal weights: 1/N.
    pub fn ideal_remove(&self) -> f64 {
        1.0 / self.n as f64
    }

    /// The ideal [`Quality::moved_on_add`] with equal weights: 1/(N+1).
    pub fn ideal_add(&self) -> f64 {
        1.0 / (self.n as f64 + 1.0)
    }
}

/// Measures strategy `S` over `n` backends of weight 1 and the keys [`text_key`]`(0..keys)`:
/// balance on the full set; disruption as the mean over `removals` evenly spaced removals (at
/// least one) and one addition of a backend after the last.
pub fn measure<S: BackendSelection>(
    config: &S::Config,
    n: usize,
    keys: u64,
    removals: usize,
) -> Result<Quality, BoxError> {
    let key_iter = || (0..keys).map(|i| text_key(i).into_bytes());
    let full: Vec<Backend> = (0..n).map(|i| backend(i, PORT, 1)).collect();
    let ids: Vec<u32> = (0..n as u32).collect();
    let base = first_picks(&S::build(&full, config)?, &ids, key_iter());
    let max_over_mean = max_over_mean(&counts(&base, n));

    let removals = removals.clamp(1, n.max(1));
    let mut moved = 0.0;
    for r in 0..removals {
        let gone = r * n / removals;
        let (set, ids): (Vec<Backend>, Vec<u32>) = full
            .iter()
            .zip(&ids)
            .filter(|(_, id)| **id as usize != gone)
            .map(|(b, id)| (b.clone(), *id))
            .unzip();
        let after = first_picks(&S::build(&set, config)?, &ids, key_iter());
        moved += moved_fraction(&base, &after);
    }

    let mut grown = full.clone();
    grown.push(backend(n, PORT, 1));
    let grown_ids: Vec<u32> = (0..=n as u32).collect();
    let after = first_picks(&S::build(&grown, config)?, &grown_ids, key_iter());

    Ok(Quality {
        n,
        keys,
        max_over_mean,
        moved_on_remove: moved / removals as f64,
        moved_on_add: moved_fraction(&base, &after),
    })
}

/// The noise floor of [`max_over_mean`]: keys spread over `n` backends by a good 64-bit mix
/// (splitmix64 of the key number), uniformly at random in effect. No strategy can be expected to
/// beat it by much at the same number of keys.
pub fn uniform_baseline(n: usize, keys: u64) -> f64 {
    let n = n.max(1);
    let mut counts = vec![0u64; n];
    for i in 0..keys {
        counts[(splitmix64(i) % n as u64) as usize] += 1;
    }
    max_over_mean(&counts)
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use lb_selection::{Consistent, FnvHash, KetamaConfig};

    use super::*;

    #[test]
    fn max_over_mean_of_known_counts() {
        assert_eq!(max_over_mean(&[5, 5, 5, 5]), 1.0);
        assert_eq!(max_over_mean(&[2, 1, 1, 0]), 2.0);
        assert_eq!(max_over_mean(&[9, 1, 0]), 2.7);
        assert_eq!(max_over_mean(&[]), 0.0);
        assert_eq!(max_over_mean(&[0, 0]), 0.0);
    }

    #[test]
    fn moved_fraction_of_known_picks() {
        assert_eq!(moved_fraction(&[0, 1, 2, 3], &[0, 1, 2, 3]), 0.0);
        assert_eq!(moved_fraction(&[0, 1, 2, 3], &[0, 1, 1, 3]), 0.25);
        assert_eq!(moved_fraction(&[0, 1, 2, 3], &[3, 2, 1, 0]), 1.0);
        assert_eq!(moved_fraction(&[0, 1], &[0, 1, 2]), 0.0);
        assert_eq!(moved_fraction(&[], &[]), 0.0);
    }

    #[test]
    fn counts_ignore_missing_picks() {
        assert_eq!(counts(&[0, 2, 2, u32::MAX], 3), vec![1, 0, 2]);
    }

    /// Picks always the backend with the lowest id, so its balance and disruption are known.
    struct Lowest(usize);
    struct Once(Option<usize>);
    impl BackendIter for Once {
        fn next(&mut self) -> Option<usize> {
            self.0.take()
        }
    }
    impl BackendSelection for Lowest {
        type Config = ();
        type Iter<'a> = Once;
        fn build(backends: &[Backend], _: &()) -> Result<Self, BoxError> {
            Ok(Lowest(backends.len()))
        }
        fn iter(&self, _key: &[u8]) -> Once {
            Once((self.0 > 0).then_some(0))
        }
    }

    #[test]
    fn measure_tracks_identity_across_removals() {
        // Every key on backend 0: balance is N; removing backend 0 (the first of 4 evenly
        // spaced removals) moves every key, the others move none; adding one at the end moves none.
        let q = measure::<Lowest>(&(), 8, 1_000, 4).expect("builds");
        assert_eq!(q.max_over_mean, 8.0);
        assert_eq!(q.moved_on_remove, 0.25);
        assert_eq!(q.moved_on_add, 0.0);
        assert_eq!(q.ideal_remove(), 0.125);
        assert_eq!(q.ideal_add(), 1.0 / 9.0);
    }

    #[test]
    fn consistent_hashing_moves_about_one_nth() {
        let q = measure::<Consistent>(&KetamaConfig::default(), 20, 20_000, 2).expect("builds");
        assert!(q.max_over_mean > 1.0 && q.max_over_mean < 1.5, "{q:?}");
        // Only the removed backend's keys move: close to 1/20 and never far above it.
        assert!((0.02..0.09).contains(&q.moved_on_remove), "{q:?}");
        assert!((0.02..0.09).contains(&q.moved_on_add), "{q:?}");
    }

    #[test]
    fn modulo_hashing_moves_most_keys() {
        let q = measure::<FnvHash>(&(), 20, 20_000, 2).expect("builds");
        assert!(q.moved_on_remove > 0.5, "{q:?}");
        assert!(q.moved_on_add > 0.5, "{q:?}");
    }

    #[test]
    fn uniform_baseline_is_near_one_with_many_keys() {
        let b = uniform_baseline(10, 1_000_000);
        assert!(b > 1.0 && b < 1.01, "{b}");
        assert_eq!(uniform_baseline(1, 10), 1.0);
    }
}
