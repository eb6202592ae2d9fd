//! The merged view of a Service's EndpointSlices, kept incrementally: for each address, the
//! slices that hold it, ranked, so that a slice's change costs what the change costs and yields
//! the changes of the merged set.
//!
//! The rule is the one the source has always published: an address in several slices (as
//! happens for a moment while the controller moves an endpoint between slices) appears once,
//! with the most available of its states (enabled, then draining, then disabled) and the
//! metadata from that slice; on a tie, the slice whose name sorts first wins, and within one
//! slice the first of its entries.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use lb_core::{Address, Change};

use crate::slice::Entry;

/// One slice's entries: for each of its addresses, the slice's most available entry (its first
/// on a tie), sorted by address.
#[derive(Debug)]
pub(crate) struct Slice {
    entries: Vec<Entry>,
    /// The entries the slice had before its duplicates were merged: what the limits count.
    len: usize,
}

impl Slice {
    pub(crate) fn new(mut entries: Vec<Entry>) -> Self {
        let len = entries.len();
        // Stable: among equal (address, rank), the slice's order is kept, so the first stays.
        entries.sort_by_key(|e| (e.addr, e.rank()));
        entries.dedup_by_key(|e| e.addr);
        Slice { entries, len }
    }

    fn get(&self, addr: &SocketAddr) -> Option<&Entry> {
        let at = self.entries.binary_search_by(|e| e.addr.cmp(addr)).ok()?;
        self.entries.get(at)
    }
}

/// Slices by name, and the number of backends they hold together (before merging).
#[derive(Debug, Default)]
pub(crate) struct Slices {
    by_name: BTreeMap<Arc<str>, Slice>,
    /// The sum of the slices' `len`.
    backends: usize,
}

impl Slices {
    /// How many slices there are.
    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
    }

    /// How many backends the slices hold together, before an address in several is merged.
    pub(crate) fn backends(&self) -> usize {
        self.backends
    }

    /// The backends slice `name` holds, `None` when there is no such slice.
    pub(crate) fn held_by(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).map(|s| s.len)
    }

    /// Adds or replaces slice `name`.
    pub(crate) fn insert(&mut self, name: Arc<str>, slice: Slice) {
        self.backends = self.backends.saturating_add(slice.len);
        if let Some(old) = self.by_name.insert(name, slice) {
            self.backends = self.backends.saturating_sub(old.len);
        }
    }

    fn remove(&mut self, name: &str) -> Option<(Arc<str>, Slice)> {
        let removed = self.by_name.remove_entry(name)?;
        self.backends = self.backends.saturating_sub(removed.1.len);
        Some(removed)
    }

    fn entry(&self, name: &str, addr: &SocketAddr) -> Option<&Entry> {
        self.by_name.get(name)?.get(addr)
    }
}

/// A slice holding an address: the rank of its entry there, and the slice's name. A sorted list
/// of them puts the winner first.
type Holder = (u8, Arc<str>);

/// The slices of the view, and for every address of the merged set the slices holding it.
#[derive(Debug, Default)]
pub(crate) struct Merged {
    slices: Slices,
    /// Sorted per address: the first holder's entry is the merged set's. Every address held by
    /// a slice is here, and no other.
    holders: HashMap<SocketAddr, Vec<Holder>>,
}

impl Merged {
    pub(crate) fn slices(&self) -> &Slices {
        &self.slices
    }

    /// Adds or replaces slice `name`, pushing the changes of the merged set to `changes`: only
    /// the addresses whose entry in this slice differs from before are looked at.
    pub(crate) fn put(&mut self, name: Arc<str>, slice: Slice, changes: &mut Vec<Change>) {
        let old = self
            .slices
            .by_name
            .get(&*name)
            .map_or(&[][..], |s| &s.entries);
        // `name`'s own entries are taken from `old` and `slice`, never looked up in `slices`.
        diff(
            &self.slices,
            &mut self.holders,
            &name,
            old,
            &slice.entries,
            changes,
        );
        self.slices.insert(name, slice);
    }

    /// Removes slice `name`, pushing the changes of the merged set to `changes`.
    pub(crate) fn remove(&mut self, name: &str, changes: &mut Vec<Change>) {
        if let Some((name, old)) = self.slices.remove(name) {
            diff(
                &self.slices,
                &mut self.holders,
                &name,
                &old.entries,
                &[],
                changes,
            );
        }
    }

    /// Replaces every slice with `slices` (a completed list), pushing the changes of the merged
    /// set to `changes`: one pass over the new view and one over the old.
    pub(crate) fn replace(&mut self, slices: Slices, changes: &mut Vec<Change>) {
        let mut holders: HashMap<SocketAddr, Vec<Holder>> = HashMap::with_capacity(slices.backends);
        for (name, slice) in &slices.by_name {
            for e in &slice.entries {
                holders
                    .entry(e.addr)
                    .or_insert_with(|| Vec::with_capacity(1))
                    .push((e.rank(), Arc::clone(name)));
            }
        }
        for held in holders.values_mut() {
            // Each slice holds an address once, so no two holders are equal.
            held.sort_unstable();
        }
        for (addr, held) in &holders {
            let before = self
                .holders
                .get(addr)
                .and_then(|old| first(&self.slices, old, addr));
            emit(*addr, before, first(&slices, held, addr), changes);
        }
        for (addr, held) in &self.holders {
            if !holders.contains_key(addr) {
                emit(*addr, first(&self.slices, held, addr), None, changes);
            }
        }
        *self = Merged { slices, holders };
    }

    /// The merged set, sorted by address.
    #[cfg(test)]
    pub(crate) fn winners(&self) -> Vec<Entry> {
        let mut all: Vec<Entry> = self
            .holders
            .iter()
            .filter_map(|(addr, held)| first(&self.slices, held, addr).cloned())
            .collect();
        all.sort_by_key(|e| e.addr);
        all
    }

    /// The merged set computed from scratch, the way the source did on every event before it
    /// kept the set incrementally: every entry collected, sorted by address and state, and
    /// deduplicated. For comparison benches (`testing`).
    #[cfg(feature = "testing")]
    pub(crate) fn recompute(&self) -> Vec<Entry> {
        let mut all: Vec<Entry> = self
            .slices
            .by_name
            .values()
            .flat_map(|s| &s.entries)
            .cloned()
            .collect();
        // Stable: among equal (address, rank), the slice order (by name) is kept.
        all.sort_by_key(|e| (e.addr, e.rank()));
        all.dedup_by_key(|e| e.addr);
        all
    }
}

/// The entry of the first of `held`.
fn first<'a>(slices: &'a Slices, held: &[Holder], addr: &SocketAddr) -> Option<&'a Entry> {
    slices.entry(&held.first()?.1, addr)
}

/// Slice `name` goes from `old` to `new` (both sorted by address, one entry per address):
/// updates the holders of every address whose entry differs, and pushes the changes of the
/// merged set. `slices` is not asked for `name`'s entries.
fn diff(
    slices: &Slices,
    holders: &mut HashMap<SocketAddr, Vec<Holder>>,
    name: &Arc<str>,
    old: &[Entry],
    new: &[Entry],
    changes: &mut Vec<Change>,
) {
    let (mut old, mut new) = (old.iter().peekable(), new.iter().peekable());
    loop {
        let (o, n) = match (old.peek().copied(), new.peek().copied()) {
            (None, None) => return,
            (Some(o), Some(n)) if o.addr == n.addr => {
                let pair = (old.next(), new.next());
                if o == n {
                    continue;
                }
                pair
            }
            (Some(o), Some(n)) if o.addr > n.addr => (None, new.next()),
            (Some(_), _) => (old.next(), None),
            (None, Some(_)) => (None, new.next()),
        };
        touch(slices, holders, name, o, n, changes);
    }
}

/// Slice `name`'s entry for one address goes from `old` to `new` (not both `None`, not equal).
fn touch(
    slices: &Slices,
    holders: &mut HashMap<SocketAddr, Vec<Holder>>,
    name: &Arc<str>,
    old: Option<&Entry>,
    new: Option<&Entry>,
    changes: &mut Vec<Change>,
) {
    let Some(addr) = old.or(new).map(|e| e.addr) else {
        return;
    };
    let held = holders.entry(addr).or_insert_with(|| Vec::with_capacity(1));
    let before = winner(slices, held, name, old, &addr);
    if old.is_some() {
        held.retain(|(_, holder)| **holder != **name);
    }
    if let Some(new) = new {
        let holder = (new.rank(), Arc::clone(name));
        let at = held.partition_point(|h| *h < holder);
        held.insert(at, holder);
    }
    let after = winner(slices, held, name, new, &addr);
    let gone = held.is_empty();
    emit(addr, before, after, changes);
    if gone {
        holders.remove(&addr);
    }
}

/// The entry of the first of `held`, `own` when that is slice `name`.
fn winner<'a>(
    slices: &'a Slices,
    held: &[Holder],
    name: &str,
    own: Option<&'a Entry>,
    addr: &SocketAddr,
) -> Option<&'a Entry> {
    let (_, first) = held.first()?;
    if **first == *name {
        own
    } else {
        slices.entry(first, addr)
    }
}

/// Pushes what changed at `addr` when its entry in the merged set goes from `before` to `after`:
/// a new address is an upsert and its enablement, a gone one a removal; otherwise an upsert if
/// its metadata changed, and its enablement if that changed.
fn emit(
    addr: SocketAddr,
    before: Option<&Entry>,
    after: Option<&Entry>,
    changes: &mut Vec<Change>,
) {
    match (before, after) {
        (Some(_), None) => changes.push(Change::Remove(Address::Inet(addr))),
        (None, Some(after)) => {
            changes.push(Change::Upsert(after.backend()));
            changes.push(Change::Enablement(Address::Inet(addr), after.enablement));
        }
        (Some(before), Some(after)) => {
            if before.meta != after.meta {
                changes.push(Change::Upsert(after.backend()));
            }
            if before.enablement != after.enablement {
                changes.push(Change::Enablement(Address::Inet(addr), after.enablement));
            }
        }
        (None, None) => {}
    }
}

#[cfg(test)]
mod tests;
