//! [`Subset`]: deterministic subsetting (Google's SRE book, chapter 20) with hash-ordered rounds.

use lb_core::Backend;

use super::error::SubsetError;
use super::order::{distinct, hash_order, owned_by_address};
use super::policy::SubsetPolicy;

/// Deterministic subsetting for clients with stable ids `0..client_count`: every backend gets
/// the same number of clients when the counts divide evenly (see the [module docs](super) for
/// the algorithm, its churn and its remainder).
///
/// ```
/// use lb_core::Backend;
/// use lb_discovery_static::Subset;
///
/// let backends: Vec<Backend> = (1..=30)
///     .map(|i| Backend::new(&format!("10.0.0.{i}:80")).unwrap())
///     .collect();
/// let subset = Subset::new(7, 100, 5).unwrap(); // client 7 of 100, 5 backends each
/// let mine = subset.select(&backends);
/// assert_eq!(mine.len(), 5);
/// // The same on every machine, whatever the order the source listed the backends in.
/// let reversed: Vec<Backend> = backends.iter().rev().cloned().collect();
/// assert_eq!(subset.select(&reversed), mine);
///
/// assert!(Subset::new(100, 100, 5).is_err()); // ids are 0..100
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Subset {
    client_id: u64,
    client_count: u64,
    subset_size: usize,
}

impl Subset {
    /// Client `client_id` of the id space `0..client_count`, keeping `subset_size` backends.
    ///
    /// `client_count` is the number of clients, or the size of a stable id space in which some
    /// ids may be unused (a StatefulSet's ordinals, a job's task indices): the subsets depend
    /// only on the client's id, and the balance is exact when the ids in use fill whole rounds
    /// (see the [module docs](super)). Errors: a `subset_size` of 0, a `client_id` not below
    /// `client_count`.
    pub fn new(client_id: u64, client_count: u64, subset_size: usize) -> Result<Self, SubsetError> {
        if subset_size == 0 {
            return Err(SubsetError::SubsetSizeZero);
        }
        if client_id >= client_count {
            return Err(SubsetError::ClientIdOutOfRange {
                client_id,
                client_count,
            });
        }
        Ok(Subset {
            client_id,
            client_count,
            subset_size,
        })
    }

    /// This client's id.
    pub fn client_id(&self) -> u64 {
        self.client_id
    }

    /// The size of the id space.
    pub fn client_count(&self) -> u64 {
        self.client_count
    }

    /// How many backends the client keeps.
    pub fn subset_size(&self) -> usize {
        self.subset_size
    }

    /// How many clients share one round's order when the source lists `backends` distinct
    /// backends: `backends / subset_size` rounded to the nearest whole number (halves up), at
    /// least 1. Its changes are where the subsets move wholesale (see the [module docs](super)).
    pub fn subset_count(&self, backends: usize) -> usize {
        let k = self.subset_size;
        let rounded_up = backends % k >= k - k / 2;
        (backends / k + usize::from(rounded_up)).max(1)
    }

    /// This client's subset of `backends`, sorted by address: all of them (one per address)
    /// when there are `subset_size` or fewer, else exactly `subset_size` distinct ones. Backends
    /// are kept as they are (weights, extensions); weights do not affect membership.
    pub fn select(&self, backends: &[Backend]) -> Vec<Backend> {
        let backends = distinct(backends);
        let (n, k) = (backends.len(), self.subset_size);
        if n <= k {
            return owned_by_address(backends);
        }
        let subset_count = self.subset_count(n);
        // `subset_count` ≤ n, which is a length, so it fits in a u64 and the slot in a usize.
        let clients_per_round = subset_count as u64;
        let round = self.client_id / clients_per_round;
        let slot = (self.client_id % clients_per_round) as usize;
        let order = hash_order(&backends, round);
        // slot < subset_count ≤ n / k + 1/2, so the window starts before n - k/2 and wraps past
        // the end by less than k/2 < n positions: its k positions are distinct.
        let start = slot * k;
        owned_by_address((start..start + k).map(|position| order[position % n]))
    }
}

impl SubsetPolicy for Subset {
    fn select(&self, backends: &[Backend]) -> Vec<Backend> {
        Subset::select(self, backends)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backends(n: usize) -> Vec<Backend> {
        (0..n)
            .map(|i| Backend::new(&format!("10.1.{}.{}:80", i / 250, i % 250 + 1)).unwrap())
            .collect()
    }

    #[test]
    fn bad_configurations_are_typed_errors_naming_the_value() {
        assert_eq!(Subset::new(0, 10, 0), Err(SubsetError::SubsetSizeZero));
        let err = Subset::new(10, 10, 3).unwrap_err();
        assert_eq!(
            err,
            SubsetError::ClientIdOutOfRange {
                client_id: 10,
                client_count: 10
            }
        );
        assert_eq!(
            err.to_string(),
            "client id 10 is outside the id space 0..10"
        );
        assert!(
            Subset::new(0, 0, 3).is_err(),
            "an empty id space holds no id"
        );
        assert!(Subset::new(u64::MAX - 1, u64::MAX, usize::MAX).is_ok());
    }

    #[test]
    fn subset_count_rounds_to_the_nearest_whole_number() {
        let s = Subset::new(0, 1, 10).unwrap();
        let counts: Vec<usize> = [0, 1, 10, 14, 15, 20, 294, 295, 300, 304, 305]
            .iter()
            .map(|n| s.subset_count(*n))
            .collect();
        assert_eq!(counts, [1, 1, 1, 1, 2, 2, 29, 30, 30, 30, 31]);
        let odd = Subset::new(0, 1, 3).unwrap();
        assert_eq!([4, 5, 6].map(|n| odd.subset_count(n)), [1, 2, 2]);
        let one = Subset::new(0, 1, 1).unwrap();
        assert_eq!(one.subset_count(7), 7);
        let huge = Subset::new(0, 1, usize::MAX).unwrap();
        assert_eq!(huge.subset_count(usize::MAX - 1), 1);
    }

    #[test]
    fn the_clients_of_one_round_tile_its_order() {
        // 12 backends, 4 per client: 3 clients per round; each round's clients hold every
        // backend exactly once, and the rounds differ.
        let all = backends(12);
        let rounds: Vec<Vec<Vec<Backend>>> = (0..2)
            .map(|round| {
                (0..3)
                    .map(|slot| Subset::new(round * 3 + slot, 6, 4).unwrap().select(&all))
                    .collect()
            })
            .collect();
        for round in &rounds {
            let mut held: Vec<&Backend> = round.iter().flatten().collect();
            held.sort();
            assert_eq!(held, all.iter().collect::<Vec<_>>());
        }
        assert_ne!(rounds[0], rounds[1]);
    }

    #[test]
    fn a_window_past_the_end_wraps_to_the_start_of_the_order() {
        // 9 backends, 4 per client: 9 / 4 = 2.25 rounds to 2, so the two windows cover 8; with
        // 7 backends, 1.75 rounds to 2 and the second window wraps over the first's start.
        for n in [7, 9] {
            let all = backends(n);
            let a = Subset::new(0, 2, 4).unwrap().select(&all);
            let b = Subset::new(1, 2, 4).unwrap().select(&all);
            assert_eq!((a.len(), b.len()), (4, 4));
            let shared = a.iter().filter(|x| b.contains(x)).count();
            assert_eq!(shared, 8 - n.min(8), "n = {n}");
        }
    }

    #[test]
    fn few_backends_are_all_kept_and_none_is_none() {
        let s = Subset::new(3, 5, 10).unwrap();
        assert!(s.select(&[]).is_empty());
        let all = backends(10);
        assert_eq!(s.select(&all), all);
        let mut doubled = all.clone();
        doubled.extend(all.iter().cloned());
        assert_eq!(s.select(&doubled), all, "one per address");
    }
}
