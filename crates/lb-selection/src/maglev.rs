//! [`Maglev`]: Maglev consistent hashing, backed by lb-maglev.

use std::fmt;

use lb_core::{Address, Backend, BackendIter, BackendSelection, BoxError};
use lb_maglev::{Entry, KeyMapping, Table};

use crate::arith::GOLDEN;
use crate::candidates::{Candidates, Draw};
use crate::error::SelectionError;
use crate::layout::Layout;

/// How many of Envoy's retry attempts the candidate order draws (at most 8 distinct backends)
/// before scanning the remaining backends.
const RETRIES: u8 = 24;

/// Options of [`Maglev`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MaglevConfig {
    /// The table size, a prime of at most [`lb_maglev::MAX_TABLE_SIZE`]. `None` (the default)
    /// is [`lb_maglev::default_size`]: Envoy's 65,537, doubled until there are at least 100 slots
    /// per backend, up to 5,000,011 (it changes only at a few backend counts, where nearly every
    /// key moves). Set it to keep one size while the set grows and shrinks (a table
    /// of another size maps almost every key elsewhere), or to match an Envoy cluster's
    /// `table_size`.
    pub table_size: Option<u64>,
    /// How keys map to slots: [`KeyMapping::Fast`] (the default: XXH3 and a multiplication), or
    /// [`KeyMapping::Envoy`] (xxHash64 and a remainder) so that a key maps to the backend Envoy's
    /// `MAGLEV` picks for a request whose hash policy hashes the same bytes. The table is Envoy's
    /// either way.
    pub key_mapping: KeyMapping,
}

impl Default for MaglevConfig {
    fn default() -> Self {
        MaglevConfig {
            table_size: None,
            key_mapping: KeyMapping::Fast,
        }
    }
}

/// Maglev consistent hashing (Google's NSDI 2016 load balancer; **Envoy's `MAGLEV`**): a lookup
/// table of a prime number of slots, filled by the backends in turns.
///
/// A key is hashed (XXH3) and maps to one slot: a pick is a hash, a multiplication and one load,
/// whatever the number of backends, from a table of about 100 small indices per backend. Shares
/// are within about 1% of the weights (each backend holds its weighted share of slots to within a
/// slot or so). The table is lb-maglev's, filled exactly as Envoy fills it: with the same hosts
/// (named `10.0.0.1:80`, `[2001:db8::1]:80`, or a Unix socket's path), weights and table size,
/// and with [`MaglevConfig::key_mapping`] set to [`KeyMapping::Envoy`], a key maps to the backend
/// Envoy's `MAGLEV` picks for a request whose hash policy hashes the same bytes.
///
/// **Disruption.** When a backend leaves, its keys move, and some other keys too: Maglev favours
/// balance over minimal disruption, more so with fewer slots per backend (see lb-maglev and the
/// bench report). Where moving only the leaving backend's keys matters most, use [`Rendezvous`]
/// or [`Consistent`].
///
/// **Order after the first pick**: Envoy's retry attempts (a rehash of the key per attempt, each
/// landing on a backend in proportion to its slots), at most 8 distinct backends, then every
/// other backend once, standbys last.
///
/// **Weights.** Weight 0 is a standby: no slot, never the first pick while a positive-weight
/// backend exists, offered after every one of them. When every weight is 0 they are treated as
/// equal. Weights up to `u32::MAX` work; a backend whose share is below one slot may get none.
///
/// ```
/// use lb_core::LoadBalancer;
/// use lb_selection::Maglev;
///
/// let lb = LoadBalancer::<Maglev>::try_from_iter(["10.0.0.1:80", "10.0.0.2:80", "unix:/run/c.sock"])
///     .unwrap();
/// let first = lb.select(b"user-42").unwrap().addr.clone();
/// assert_eq!(lb.select(b"user-42").unwrap().addr, first);
/// ```
///
/// [`Rendezvous`]: crate::Rendezvous
/// [`Consistent`]: crate::Consistent
pub struct Maglev {
    layout: Layout,
    table: Table,
    key_mapping: KeyMapping,
}

impl Maglev {
    /// The lookup table.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Bytes of heap memory held by this selector.
    pub fn heap_bytes(&self) -> usize {
        self.layout.heap_bytes() + self.table.heap_size()
    }
}

/// The table entry of a backend, named as Envoy names the host.
fn entry(backend: &Backend, weight: u32) -> Entry {
    match &backend.addr {
        Address::Inet(addr) => Entry::new(*addr, weight),
        Address::Unix(path) => Entry::unix(path, weight),
    }
}

impl BackendSelection for Maglev {
    type Config = MaglevConfig;
    type Iter<'a> = MaglevIter<'a>;

    /// The key picks the backend; with priority levels or zones it picks those too.
    const USES_KEY: bool = true;

    fn build(backends: &[Backend], config: &MaglevConfig) -> Result<Self, BoxError> {
        let layout = Layout::new(backends)?;
        let entries: Vec<Entry> = backends
            .iter()
            .map(|b| entry(b, layout.weight(b)))
            .collect();
        let table = match config.table_size {
            None => Table::new(&entries),
            Some(size) => Table::with_size(&entries, size),
        }
        .map_err(SelectionError::Maglev)?;
        Ok(Maglev {
            layout,
            table,
            key_mapping: config.key_mapping,
        })
    }

    #[inline]
    fn iter(&self, key: &[u8]) -> MaglevIter<'_> {
        let mapping = self.key_mapping;
        let hash = mapping.hash(key);
        // A set with a backend has an active one, which holds slots (the heaviest backend
        // takes one in every round of the fill).
        let first = self.table.get_by_hash_with(hash, mapping);
        MaglevIter {
            inner: Candidates::new(
                first,
                Retries {
                    table: &self.table,
                    mapping,
                    hash,
                    attempt: 1,
                },
                RETRIES,
                self.layout.order(),
                self.layout.active(),
            ),
        }
    }
}

impl fmt::Debug for Maglev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Maglev")
            .field("backends", &self.layout.len())
            .field("table", &self.table)
            .finish()
    }
}

/// Fallback draws of [`Maglev`]: Envoy's retry attempts.
struct Retries<'a> {
    table: &'a Table,
    mapping: KeyMapping,
    hash: u64,
    attempt: u64,
}

impl Draw for Retries<'_> {
    fn draw(&mut self) -> usize {
        // Envoy's `hash ^= ~0ULL - attempt + 1`; `usize::MAX` (an empty table) is skipped.
        let hash = self.hash ^ self.attempt.wrapping_neg();
        self.attempt += 1;
        self.table
            .get_by_hash_with(hash, self.mapping)
            .unwrap_or(usize::MAX)
    }

    fn scan_seed(&self) -> u64 {
        self.hash.wrapping_mul(GOLDEN)
    }
}

/// The candidates of a [`Maglev`] selector for one key.
pub struct MaglevIter<'a> {
    inner: Candidates<'a, Retries<'a>>,
}

impl BackendIter for MaglevIter<'_> {
    #[inline]
    fn next(&mut self) -> Option<usize> {
        self.inner.next()
    }
}

impl fmt::Debug for MaglevIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaglevIter").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
