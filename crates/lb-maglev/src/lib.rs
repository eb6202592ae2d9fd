//! Maglev consistent hashing (Eisenbud et al., NSDI 2016) filled as Envoy's `MAGLEV` load
//! balancer fills it: with the same entries, weights and size, the same table, slot for slot.
//!
//! `lb-maglev` stands alone next to `lb-ketama` at the bottom of the lb stack: its only dependency
//! is an xxHash implementation (`twox-hash`: xxHash64, and XXH3 for [`KeyMapping::Fast`]). `lb-selection`'s `Maglev` strategy builds on it;
//! use it directly when all you need is a table.
//!
//! ```
//! use lb_maglev::{Entry, Table};
//!
//! let table = Table::new(&[
//!     Entry::new("10.0.0.1:80".parse().unwrap(), 1),
//!     Entry::new("10.0.0.2:80".parse().unwrap(), 2),
//!     Entry::unix("/run/app.sock", 1),
//!     Entry::named("spare", 0), // weight 0: no slot
//! ])
//! .unwrap();
//!
//! // A key always maps to the same entry (an index into the slice)...
//! let first = table.get(b"session-42").unwrap();
//! assert_eq!(table.get(b"session-42"), Some(first));
//! assert_ne!(first, 3);
//! // ...and the retries go elsewhere in proportion to the weights.
//! let retries: Vec<usize> = table.candidates(b"session-42").skip(1).take(3).collect();
//! assert!(retries.iter().all(|&i| i < 3));
//! // Slots follow the weights.
//! let counts = table.slot_counts();
//! assert!(counts[1] > counts[0] && counts[3] == 0);
//! ```
//!
//! # The table
//!
//! A table has a prime number M of slots, each holding an entry's index. Each entry walks its own
//! permutation of the slots, `(offset + skip × j) mod M` with `offset = xxh64(name, 0) mod M` and
//! `skip = xxh64(name, 1) mod (M − 1) + 1`, and the entries take turns taking the first empty slot
//! of their permutation until the table is full. With equal weights every entry takes a turn in
//! every round; Envoy weighs the rounds so that an entry of a third of the largest weight plays
//! every third round, and this crate does the same, in the same floating-point arithmetic, in
//! the same entry order (sorted by name). A key maps to slot `xxh64(key, 0) mod M`, the slot
//! Envoy's table gives a request whose hash policy hashes that key (a header's value, say).
//! The tests check tables against Envoy's own test vectors. Where matching Envoy key for key
//! does not matter, [`KeyMapping::Fast`] (XXH3 and a multiplication instead of xxHash64 and a
//! remainder) maps short keys a few ns faster into the same table.
//!
//! Entries are named as Envoy names hosts for hashing ([`Entry`]): `10.0.0.1:80`,
//! `[2001:db8::1]:80`, a Unix socket's path, or any name ([`Entry::named`], Envoy's
//! `use_hostname_for_hashing`).
//!
//! **Size.** [`Table::new`] picks [`default_size`]: Envoy's 65,537, doubled (to the next prime
//! above a power of two) until there are at least 100 slots per entry (the paper's advice for
//! shares within about 1% of even), up to Envoy's largest, 5,000,011. The size moves in doublings
//! because a table of another size maps nearly every key elsewhere: it changes only when the
//! number of entries crosses one of a few thresholds ([`default_size`] lists them).
//! [`Table::with_size`] takes any prime up to [`MAX_TABLE_SIZE`]: pass one to keep a single size
//! whatever the number of entries.
//!
//! **Disruption.** When an entry leaves, its slots go to the others, and some other slots change
//! hands too: the fill is a race for slots, and one entry fewer changes who wins some races.
//! Maglev favours balance over minimal disruption (the paper says so), and the fewer slots per
//! entry, the more slots move: `lb-benches`' report measures it. Rendezvous hashing and ketama move
//! only the leaving entry's keys.
//!
//! # Edges
//!
//! - **Weight 0**: the entry gets no slot; no key maps to it. It keeps its index.
//! - **Empty** (no entries, or only weight 0): [`Table::get`] returns `None` and
//!   [`Table::candidates`] is empty.
//! - **More entries than slots**: some entries get no slot (pass a larger size).
//! - **Duplicate names** share a permutation: the one that comes first in the slice takes each
//!   slot both want first.
//! - **Limits**: at most `u32::MAX` entries and [`MAX_TABLE_SIZE`] slots; a size that is not a
//!   prime or is too large is an [`Error`]. Nothing panics on any input, and lookups never
//!   allocate.
//!
//! # Cost
//!
//! A lookup is an xxHash64 of the key, a remainder by M computed with multiplications, and one
//! load from the table. The table holds one index per slot, 1, 2 or 4 bytes (the narrowest that
//! numbers every entry): 100 to 200 slots per entry, so 200 to 400 bytes per entry for up to 65,536
//! entries. A build places each of the M slots once; placing the last slots would cost a probe
//! of most of a permutation each, so the last √M / 2 slots are found directly from each entry's
//! permutation instead (see the `fill` module). `lb-benches` measures both.
//!
//! # Feature flags
//!
//! None: the crate has no optional parts.

mod entry;
mod error;
mod fastmod;
mod fill;
mod iter;
mod size;
mod table;

pub use entry::Entry;
pub use error::Error;
pub use iter::Candidates;
pub use size::{
    DEFAULT_MAX_TABLE_SIZE, DEFAULT_TABLE_SIZE, MAX_TABLE_SIZE, SLOTS_PER_ENTRY, default_size,
    is_prime,
};
pub use table::{KeyMapping, Table, hash};
