//! [`Table`]: the lookup table, and looking keys up.

use std::fmt;

use twox_hash::{XxHash3_64, XxHash64};

use crate::entry::Entry;
use crate::error::Error;
use crate::fastmod::FastMod;
use crate::fill::{Plan, Slot, fill};
use crate::iter::Candidates;
use crate::size::default_size;

/// The hash of a request key: xxHash64 with seed 0, as Envoy hashes a header, cookie or
/// other value its hash policy names ([`KeyMapping::Envoy`]).
#[inline]
pub fn hash(key: &[u8]) -> u64 {
    XxHash64::oneshot(0, key)
}

/// How a request key maps to a slot: which hash, and how the hash picks one of M slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyMapping {
    /// Envoy's: xxHash64 with seed 0 ([`hash`]), then slot `hash mod M`. A key lands in the slot
    /// Envoy's table gives a request whose hash policy hashes the same bytes. [`Table::get`]
    /// uses it.
    Envoy,
    /// XXH3 (64 bits, seed 0), then slot `⌊hash × M / 2^64⌋` (one multiplication): as uniform,
    /// and a few ns faster than [`KeyMapping::Envoy`] on short keys, but keys land in other slots
    /// than in Envoy (the table is the same).
    Fast,
}

impl KeyMapping {
    /// The hash of `key`.
    #[inline]
    pub fn hash(self, key: &[u8]) -> u64 {
        match self {
            KeyMapping::Envoy => XxHash64::oneshot(0, key),
            KeyMapping::Fast => XxHash3_64::oneshot(key),
        }
    }
}

/// A Maglev lookup table: a prime number of slots, each holding the index of an entry.
///
/// Built by Envoy's weighted fill (see the crate docs), so that with the same names, weights
/// and size it is slot for slot Envoy's `MAGLEV` table. A key maps to slot `hash(key) mod M`.
/// Slots hold 1-, 2- or 4-byte indices, the narrowest that numbers every entry.
#[derive(Clone)]
pub struct Table {
    slots: Slots,
    size: u64,
    modulo: FastMod,
    entries: usize,
}

#[derive(Clone)]
enum Slots {
    /// No entry of positive weight: no key maps anywhere.
    Empty,
    Narrow(Box<[u8]>),
    Medium(Box<[u16]>),
    Wide(Box<[u32]>),
}

impl Table {
    /// A table of [`default_size`]`(entries.len())` slots.
    ///
    /// Fails only for more than `u32::MAX` entries.
    pub fn new(entries: &[Entry]) -> Result<Table, Error> {
        Table::with_size(entries, default_size(entries.len()))
    }

    /// A table of `size` slots, which must be a prime no larger than
    /// [`MAX_TABLE_SIZE`](crate::MAX_TABLE_SIZE). Keep the size when entries change: a table of
    /// another size maps almost every key elsewhere.
    pub fn with_size(entries: &[Entry], size: u64) -> Result<Table, Error> {
        Error::check_size(size)?;
        if u32::try_from(entries.len()).is_err() {
            return Err(Error::TooManyEntries {
                entries: entries.len(),
            });
        }
        // Envoy fills in the order of the names (ties here keep the slice's order).
        let mut sorted: Vec<u32> = (0..entries.len() as u32)
            .filter(|&i| entries[i as usize].weight() > 0)
            .collect();
        sorted.sort_by(|&a, &b| entries[a as usize].name().cmp(entries[b as usize].name()));
        let sum: u64 = entries.iter().map(|e| u64::from(e.weight())).sum();
        // Envoy's normalized weights: each weight over the sum, in f64.
        let mut plans: Vec<Plan> = sorted
            .iter()
            .map(|&i| {
                let e = &entries[i as usize];
                Plan::new(i, e.name(), f64::from(e.weight()) / sum as f64, size)
            })
            .collect();
        let max_weight = entries
            .iter()
            .map(|e| f64::from(e.weight()) / sum as f64)
            .fold(0.0, f64::max);
        let slots = if plans.is_empty() {
            Slots::Empty
        } else if entries.len() <= 1 << 8 {
            Slots::Narrow(fill(&mut plans, size, max_weight))
        } else if entries.len() <= 1 << 16 {
            Slots::Medium(fill(&mut plans, size, max_weight))
        } else {
            Slots::Wide(fill(&mut plans, size, max_weight))
        };
        Ok(Table {
            slots,
            size,
            modulo: FastMod::new(size),
            entries: entries.len(),
        })
    }

    /// The index of the entry `key` maps to, hashed as Envoy hashes it ([`KeyMapping::Envoy`]);
    /// `None` when no entry has a positive weight.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<usize> {
        self.get_by_hash(hash(key))
    }

    /// The index of the entry in slot `hash mod M`: what Envoy's table returns for a request
    /// whose hash policy gave `hash` ([`KeyMapping::Envoy`]).
    #[inline]
    pub fn get_by_hash(&self, hash: u64) -> Option<usize> {
        self.entry_in(self.modulo.rem(hash) as usize)
    }

    /// The index of the entry `key` maps to by `mapping`.
    #[inline]
    pub fn get_with(&self, key: &[u8], mapping: KeyMapping) -> Option<usize> {
        self.get_by_hash_with(mapping.hash(key), mapping)
    }

    /// The index of the entry a key whose hash is `hash` maps to by `mapping`.
    #[inline]
    pub fn get_by_hash_with(&self, hash: u64, mapping: KeyMapping) -> Option<usize> {
        match mapping {
            KeyMapping::Envoy => self.get_by_hash(hash),
            // Below the size: a 64-bit number times the size, over 2^64.
            KeyMapping::Fast => {
                self.entry_in(((u128::from(hash) * u128::from(self.size)) >> 64) as usize)
            }
        }
    }

    #[inline]
    fn entry_in(&self, slot: usize) -> Option<usize> {
        // Callers pass a slot below the size, which is every table's length.
        match &self.slots {
            Slots::Empty => None,
            Slots::Narrow(t) => t.get(slot).map(|s| s.index()),
            Slots::Medium(t) => t.get(slot).map(|s| s.index()),
            Slots::Wide(t) => t.get(slot).map(|s| s.index()),
        }
    }

    /// The entries for `key` in Envoy's retry order; see [`Candidates`].
    #[inline]
    pub fn candidates(&self, key: &[u8]) -> Candidates<'_> {
        Candidates::new(self, hash(key))
    }

    /// [`Table::candidates`] for a key whose hash is `hash`.
    #[inline]
    pub fn candidates_by_hash(&self, hash: u64) -> Candidates<'_> {
        Candidates::new(self, hash)
    }

    /// The number of slots, M.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The number of entries the table was built from (weight 0 included).
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Whether no key maps anywhere (no entry has a positive weight).
    pub fn is_empty(&self) -> bool {
        matches!(self.slots, Slots::Empty)
    }

    /// How many slots each entry holds, by entry index.
    pub fn slot_counts(&self) -> Vec<u64> {
        fn count<T: Slot>(t: &[T], counts: &mut [u64]) {
            for s in t {
                if let Some(c) = counts.get_mut(s.index()) {
                    *c += 1;
                }
            }
        }
        let mut counts = vec![0; self.entries];
        match &self.slots {
            Slots::Empty => {}
            Slots::Narrow(t) => count(t, &mut counts),
            Slots::Medium(t) => count(t, &mut counts),
            Slots::Wide(t) => count(t, &mut counts),
        }
        counts
    }

    /// Bytes of heap memory the table holds.
    pub fn heap_size(&self) -> usize {
        match &self.slots {
            Slots::Empty => 0,
            Slots::Narrow(t) => t.len(),
            Slots::Medium(t) => t.len() * 2,
            Slots::Wide(t) => t.len() * 4,
        }
    }
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = match self.slots {
            Slots::Empty => 0,
            Slots::Narrow(_) => 1,
            Slots::Medium(_) => 2,
            Slots::Wide(_) => 4,
        };
        f.debug_struct("Table")
            .field("entries", &self.entries)
            .field("size", &self.size)
            .field("bytes_per_slot", &width)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_hashes_are_the_reference_functions() {
        // The reference implementations' values for the empty input, seed 0.
        assert_eq!(hash(b""), 0xef46_db37_51d8_e999);
        assert_eq!(KeyMapping::Envoy.hash(b""), 0xef46_db37_51d8_e999);
        assert_eq!(KeyMapping::Fast.hash(b""), 0x2d06_8005_38d3_94c2);
        assert_ne!(KeyMapping::Fast.hash(b"k"), KeyMapping::Envoy.hash(b"k"));
    }

    #[test]
    fn get_is_envoys_hash_then_the_slot() {
        let table = Table::new(&[Entry::named("a", 1), Entry::named("b", 1)]).unwrap();
        for k in 0..100u32 {
            let key = k.to_le_bytes();
            assert_eq!(table.get(&key), table.get_by_hash(hash(&key)));
            assert_eq!(table.get(&key), table.get_with(&key, KeyMapping::Envoy));
        }
    }

    #[test]
    fn the_fast_mapping_scales_the_hash_onto_the_slots() {
        let entries: Vec<Entry> = (0..7).map(|i| Entry::named([i], 1)).collect();
        let table = Table::with_size(&entries, 7).unwrap();
        let envoy: Vec<_> = (0..7).map(|s| table.get_by_hash(s)).collect();
        // Slot s holds hashes from s × 2^64 / 7 on.
        for s in 0..7u64 {
            let hash = ((u128::from(s) << 64) / 7 + 1) as u64;
            assert_eq!(
                table.get_by_hash_with(hash, KeyMapping::Fast),
                envoy[s as usize]
            );
        }
        assert_eq!(table.get_by_hash_with(u64::MAX, KeyMapping::Fast), envoy[6]);
        assert_eq!(table.get_by_hash_with(0, KeyMapping::Fast), envoy[0]);
    }
}
