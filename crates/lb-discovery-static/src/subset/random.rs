//! [`RandomSubset`]: random subsetting by rendezvous hashing (gRPC's A68 draft).

use std::hash::{BuildHasher, RandomState};

use lb_core::Backend;

use super::error::SubsetError;
use super::order::{distinct, hash_order, owned_by_address};
use super::policy::SubsetPolicy;

/// Random subsetting for clients without stable ids: the `subset_size` backends whose addresses
/// hash lowest under this client's seed (rendezvous hashing, as gRPC's A68 draft specifies it).
///
/// Each client draws its own seed, so subsets are independent and the load per backend is only
/// even on average (see the [module docs](super)); in exchange no client needs an id, and a
/// backend added or removed changes at most one backend of any client's subset.
///
/// ```
/// use lb_core::Backend;
/// use lb_discovery_static::RandomSubset;
///
/// let backends: Vec<Backend> = (1..=30)
///     .map(|i| Backend::new(&format!("10.0.0.{i}:80")).unwrap())
///     .collect();
/// let subset = RandomSubset::new(5).unwrap(); // a fresh random seed
/// let mine = subset.select(&backends);
/// assert_eq!(mine.len(), 5);
/// // Removing a backend this client does not hold changes nothing for it.
/// let other = backends.iter().find(|b| !mine.contains(b)).unwrap();
/// let fewer: Vec<Backend> = backends.iter().filter(|b| *b != other).cloned().collect();
/// assert_eq!(subset.select(&fewer), mine);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RandomSubset {
    seed: u64,
    subset_size: usize,
}

impl RandomSubset {
    /// Keeps `subset_size` backends, with a seed drawn at random (from the standard library's
    /// randomly keyed hasher). Error: a `subset_size` of 0.
    pub fn new(subset_size: usize) -> Result<Self, SubsetError> {
        Self::with_seed(RandomState::new().hash_one(subset_size), subset_size)
    }

    /// Keeps `subset_size` backends, with this seed: a client that restarts with the same seed
    /// keeps the same subset. Error: a `subset_size` of 0.
    pub fn with_seed(seed: u64, subset_size: usize) -> Result<Self, SubsetError> {
        if subset_size == 0 {
            return Err(SubsetError::SubsetSizeZero);
        }
        Ok(RandomSubset { seed, subset_size })
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// How many backends the client keeps.
    pub fn subset_size(&self) -> usize {
        self.subset_size
    }

    /// This client's subset of `backends`, sorted by address: all of them (one per address)
    /// when there are `subset_size` or fewer, else the `subset_size` whose xxHash64 of the
    /// address (seeded with [`seed`](Self::seed)) is lowest. Backends are kept as they are;
    /// weights do not affect membership.
    pub fn select(&self, backends: &[Backend]) -> Vec<Backend> {
        let backends = distinct(backends);
        if backends.len() <= self.subset_size {
            return owned_by_address(backends);
        }
        owned_by_address(
            hash_order(&backends, self.seed)
                .into_iter()
                .take(self.subset_size),
        )
    }
}

impl SubsetPolicy for RandomSubset {
    fn select(&self, backends: &[Backend]) -> Vec<Backend> {
        RandomSubset::select(self, backends)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use twox_hash::XxHash64;

    fn backends(n: usize) -> Vec<Backend> {
        (1..=n)
            .map(|i| Backend::new(&format!("10.2.0.{i}:80")).unwrap())
            .collect()
    }

    #[test]
    fn a_zero_subset_size_is_refused() {
        assert_eq!(RandomSubset::new(0), Err(SubsetError::SubsetSizeZero));
        assert_eq!(
            RandomSubset::with_seed(1, 0),
            Err(SubsetError::SubsetSizeZero)
        );
        assert_eq!(
            SubsetError::SubsetSizeZero.to_string(),
            "subset size 0: each client needs at least one backend"
        );
    }

    #[test]
    fn keeps_the_lowest_hashes_as_a68_specifies() {
        let all = backends(40);
        let seed = 0x5eed;
        let mut by_hash: Vec<(u64, String)> = all
            .iter()
            .map(|b| {
                let text = b.addr.to_string();
                (XxHash64::oneshot(seed, text.as_bytes()), text)
            })
            .collect();
        by_hash.sort();
        let mut want: Vec<String> = by_hash.into_iter().take(6).map(|(_, a)| a).collect();
        want.sort_by_key(|a| a.parse::<lb_core::Address>().unwrap());
        let got: Vec<String> = RandomSubset::with_seed(seed, 6)
            .unwrap()
            .select(&all)
            .iter()
            .map(|b| b.addr.to_string())
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn fresh_seeds_differ_and_few_backends_are_all_kept() {
        let a = RandomSubset::new(3).unwrap();
        let b = RandomSubset::new(3).unwrap();
        assert_ne!(a.seed(), b.seed());
        assert!(a.select(&[]).is_empty());
        assert_eq!(a.select(&backends(3)), backends(3));
    }
}
