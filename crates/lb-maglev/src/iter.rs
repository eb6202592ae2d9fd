//! [`Candidates`]: the entries for a key in Envoy's retry order.

use crate::table::Table;

/// The entries for one key, best first, in the order Envoy's Maglev picks them on retries: the
/// key's own slot (attempt 0), then for attempt `a` the slot of `hash ^ (2^64 − a)` (Envoy's
/// `hash ^= ~0ULL - attempt + 1`), a rehash that lands anywhere in the table, so the entries that
/// follow are drawn in proportion to their slots.
///
/// The sequence is endless and may repeat entries (attempts are independent draws): take as many
/// as you need, and skip repeats if they matter. It is empty when the table is.
///
/// ```
/// use lb_maglev::{Entry, Table};
///
/// let table = Table::new(&[Entry::named("a", 1), Entry::named("b", 1), Entry::named("c", 1)]).unwrap();
/// let order: Vec<usize> = table.candidates(b"user-7").take(5).collect();
/// assert_eq!(order[0], table.get(b"user-7").unwrap());
/// assert!(order.iter().all(|&i| i < 3));
/// ```
#[derive(Clone, Debug)]
pub struct Candidates<'a> {
    table: &'a Table,
    hash: u64,
    attempt: u64,
}

impl<'a> Candidates<'a> {
    pub(crate) fn new(table: &'a Table, hash: u64) -> Self {
        Candidates {
            table,
            hash,
            attempt: 0,
        }
    }

    /// The attempt the next call to `next` returns (0 for the key's own slot).
    pub fn attempt(&self) -> u64 {
        self.attempt
    }
}

impl Iterator for Candidates<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        // `attempt.wrapping_neg()` is Envoy's `~0ULL - attempt + 1`, and 0 for attempt 0.
        let hash = self.hash ^ self.attempt.wrapping_neg();
        self.attempt = self.attempt.wrapping_add(1);
        self.table.get_by_hash(hash)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.table.is_empty() {
            (0, Some(0))
        } else {
            (usize::MAX, None)
        }
    }
}
