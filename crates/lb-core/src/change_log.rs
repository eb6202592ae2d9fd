//! [`ChangeLog`]: a discovery source's numbered record of its recent changes, from which it
//! answers the load balancer's question "what changed since answer N?".

use std::collections::{BTreeMap, VecDeque};

use crate::address::Address;
use crate::backend::Backend;
use crate::discovery::{Answer, Delta, Discovered};
use crate::state::Enablement;

/// One change a source records.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Change {
    /// A backend joined, or its weight or metadata changed.
    Upsert(Backend),
    /// The backend at this address left.
    Remove(Address),
    /// The source's opinion of a backend's enablement (a Kubernetes endpoint that starts
    /// terminating, say).
    Enablement(Address, Enablement),
}

impl Change {
    fn addr(&self) -> &Address {
        match self {
            Change::Upsert(b) => &b.addr,
            Change::Remove(a) | Change::Enablement(a, _) => a,
        }
    }
}

/// The default number of changes a [`ChangeLog`] keeps.
pub const DEFAULT_CHANGE_LOG_CAPACITY: usize = 4096;

/// A numbered record of a discovery source's recent changes, for
/// `ServiceDiscovery::discover_changes`.
///
/// Each [`ChangeLog::commit`] of one or more changes makes a new version. Asked for the changes
/// since version `n`, the log answers [`Answer::Unchanged`] when `n` is the current version,
/// [`Answer::Delta`] when it still holds every change after `n` (the last change of each
/// address wins), and `None` otherwise (the source then answers its whole set with
/// [`Answer::Full`] and the current version). It keeps at most its capacity of changes,
/// forgetting the oldest first; [`ChangeLog::reset`] forgets them all.
///
/// ```
/// use lb_core::{Answer, Backend, Change, ChangeLog};
/// let mut log = ChangeLog::default();
/// log.commit([Change::Upsert(Backend::new("10.0.0.1:80").unwrap())]);
/// let v = log.version();
/// log.commit([Change::Remove("10.0.0.1:80".parse().unwrap())]);
/// match log.since(Some(v)) {
///     Some(Answer::Delta { delta, version }) => {
///         assert_eq!(delta.remove.len(), 1);
///         assert_eq!(version, log.version());
///     }
///     other => panic!("{other:?}"),
/// }
/// assert!(matches!(log.since(Some(log.version())), Some(Answer::Unchanged)));
/// assert!(log.since(None).is_none(), "no number: the whole set");
/// ```
#[derive(Clone, Debug)]
pub struct ChangeLog {
    version: u64,
    /// The oldest version the log can answer changes since.
    floor: u64,
    changes: VecDeque<(u64, Change)>,
    capacity: usize,
}

impl Default for ChangeLog {
    fn default() -> Self {
        ChangeLog::with_capacity(DEFAULT_CHANGE_LOG_CAPACITY)
    }
}

impl ChangeLog {
    /// A log that keeps at most `capacity` changes (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        ChangeLog {
            version: 1,
            floor: 1,
            changes: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// The current version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Records `changes` as one new version (nothing when empty); returns the version.
    pub fn commit(&mut self, changes: impl IntoIterator<Item = Change>) -> u64 {
        let mut changes = changes.into_iter().peekable();
        if changes.peek().is_none() {
            return self.version;
        }
        self.version += 1;
        for change in changes {
            self.changes.push_back((self.version, change));
        }
        while self.changes.len() > self.capacity {
            if let Some((v, _)) = self.changes.pop_front() {
                // Changes of version `v` may be partly gone: only answers after it are whole.
                self.floor = self.floor.max(v);
            }
        }
        self.version
    }

    /// Forgets every change and starts a new version: questions about earlier versions get the
    /// whole set (for a change too large to record, or a source that lost track).
    pub fn reset(&mut self) -> u64 {
        self.changes.clear();
        self.version += 1;
        self.floor = self.version;
        self.version
    }

    /// The answer to "what changed since version `since`": `None` when the log cannot tell (no
    /// number, a number it never gave, or one older than what it keeps).
    pub fn since(&self, since: Option<u64>) -> Option<Answer> {
        let since = since?;
        if since == self.version {
            return Some(Answer::Unchanged);
        }
        if since < self.floor || since > self.version {
            return None;
        }
        // The last change of each address, in order of address.
        let mut last: BTreeMap<&Address, (Option<&Change>, Option<Enablement>)> = BTreeMap::new();
        for (_, change) in self.changes.iter().filter(|(v, _)| *v > since) {
            let entry = last.entry(change.addr()).or_default();
            match change {
                Change::Enablement(_, e) => entry.1 = Some(*e),
                Change::Remove(_) => *entry = (Some(change), None),
                Change::Upsert(_) => entry.0 = Some(change),
            }
        }
        let mut delta = Delta::new();
        for (addr, (membership, enablement)) in last {
            match membership {
                Some(Change::Upsert(b)) => delta.upsert.push(b.clone()),
                Some(Change::Remove(a)) => delta.remove.push(a.clone()),
                _ => {}
            }
            if let Some(e) = enablement {
                delta.enablement.insert(addr.clone(), e);
            }
        }
        Some(Answer::Delta {
            delta,
            version: self.version,
        })
    }

    /// [`ChangeLog::since`], or the whole set `full` makes, with the current version.
    pub fn answer(&self, since: Option<u64>, full: impl FnOnce() -> Discovered) -> Answer {
        self.since(since).unwrap_or_else(|| Answer::Full {
            set: full(),
            version: Some(self.version),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(port: u16, weight: u32) -> Backend {
        Backend::from(std::net::SocketAddr::from(([10, 0, 0, 1], port))).with_weight(weight)
    }

    fn delta(answer: Option<Answer>) -> Delta {
        match answer {
            Some(Answer::Delta { delta, .. }) => delta,
            other => panic!("not a delta: {other:?}"),
        }
    }

    #[test]
    fn the_last_change_of_each_address_wins() {
        let mut log = ChangeLog::default();
        let v0 = log.version();
        log.commit([Change::Upsert(b(1, 1)), Change::Upsert(b(2, 1))]);
        let v1 = log.version();
        log.commit([Change::Remove(b(1, 1).addr), Change::Upsert(b(2, 5))]);
        log.commit([
            Change::Upsert(b(1, 3)),
            Change::Enablement(b(2, 0).addr, Enablement::Draining),
        ]);
        let d = delta(log.since(Some(v0)));
        assert_eq!(d.upsert, [b(1, 3), b(2, 5)]);
        assert!(d.remove.is_empty());
        assert_eq!(d.enablement.get(&b(2, 0).addr), Some(&Enablement::Draining));
        let d = delta(log.since(Some(v1)));
        assert_eq!(
            d.upsert.iter().map(|b| b.weight).collect::<Vec<_>>(),
            [3, 5]
        );
        // Removed last: a removal, and no enablement for it.
        log.commit([Change::Remove(b(2, 0).addr)]);
        let d = delta(log.since(Some(v1)));
        assert_eq!(d.remove, [b(2, 0).addr]);
        assert!(d.enablement.is_empty());
        assert_eq!(
            log.commit([]),
            log.version(),
            "an empty commit is no version"
        );
    }

    #[test]
    fn questions_it_cannot_answer_get_none() {
        let mut log = ChangeLog::with_capacity(3);
        let v0 = log.version();
        assert!(log.since(None).is_none());
        assert!(log.since(Some(v0 + 9)).is_none(), "a number it never gave");
        for port in 1..=4 {
            log.commit([Change::Upsert(b(port, 1))]);
        }
        // Four changes, three kept: the first (version v0 + 1) is gone, so the changes since
        // v0 cannot be told; those since v0 + 1 still can.
        assert!(log.since(Some(v0)).is_none());
        assert_eq!(
            delta(log.since(Some(v0 + 1))).upsert,
            [b(2, 1), b(3, 1), b(4, 1)]
        );
        assert_eq!(delta(log.since(Some(v0 + 2))).upsert, [b(3, 1), b(4, 1)]);
        let v = log.reset();
        assert!(log.since(Some(v - 1)).is_none());
        assert!(matches!(log.since(Some(v)), Some(Answer::Unchanged)));
        let full = log.answer(None, || Discovered::new([b(9, 1)]));
        assert!(matches!(full, Answer::Full { version: Some(x), .. } if x == v));
    }
}
