//! What changed from one backend set to the next: found by the merge that builds the next set,
//! and offered to strategies ([`SetChange`]) so that they can update a selector in proportion to
//! the change instead of building it again.

use crate::backend::Backend;

/// The changes a set merge found, owned; [`Changes::view`] lends them to a strategy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    pub(crate) removed: Vec<usize>,
    pub(crate) added: Vec<usize>,
    pub(crate) changed: Vec<usize>,
}

impl Changes {
    pub(crate) fn view<'a>(&'a self, previous: &'a [Backend]) -> SetChange<'a> {
        SetChange {
            previous,
            removed: &self.removed,
            added: &self.added,
            changed: &self.changed,
        }
    }
}

/// How the next backend set differs from the one a selector was built over, for
/// [`BackendSelection::apply_change`](crate::BackendSelection::apply_change). Both sets are
/// sorted by address; every list is ascending.
///
/// ```
/// use lb_core::{Backend, SetChange};
/// let old: Vec<Backend> = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]
///     .iter()
///     .map(|a| Backend::new(a).unwrap())
///     .collect();
/// // 10.0.0.2 left and 10.0.0.4 joined: the new set is .1, .3, .4.
/// let change = SetChange::new(&old, &[1], &[2], &[]);
/// assert_eq!(change.kept().collect::<Vec<_>>(), [(0, 0), (2, 1)]);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct SetChange<'a> {
    previous: &'a [Backend],
    removed: &'a [usize],
    added: &'a [usize],
    changed: &'a [usize],
}

impl<'a> SetChange<'a> {
    /// A change from `previous`: the indices (into `previous`) of the backends that left, the
    /// indices (into the new set) of those that joined, and the indices (into the new set) of
    /// those that stayed with a new weight or new attributes.
    pub fn new(
        previous: &'a [Backend],
        removed: &'a [usize],
        added: &'a [usize],
        changed: &'a [usize],
    ) -> Self {
        SetChange {
            previous,
            removed,
            added,
            changed,
        }
    }

    /// The set the selector was built over.
    pub fn previous(&self) -> &'a [Backend] {
        self.previous
    }

    /// Indices into [`SetChange::previous`] of the backends that left, ascending.
    pub fn removed(&self) -> &'a [usize] {
        self.removed
    }

    /// Indices into the new set of the backends that joined, ascending.
    pub fn added(&self) -> &'a [usize] {
        self.added
    }

    /// Indices into the new set of the backends that stayed with a new weight or new attributes
    /// (a strategy may treat each as removed and added again), ascending.
    pub fn changed(&self) -> &'a [usize] {
        self.changed
    }

    /// How many backends left, joined or changed.
    pub fn len(&self) -> usize {
        self.removed.len() + self.added.len() + self.changed.len()
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every backend that stayed, as (index in the previous set, index in the new set), in
    /// order: a pass over the previous set.
    pub fn kept(&self) -> impl Iterator<Item = (usize, usize)> + 'a {
        let (removed, added) = (self.removed, self.added);
        let mut r = 0;
        let mut a = 0;
        let mut new = 0;
        (0..self.previous.len()).filter_map(move |old| {
            if removed.get(r) == Some(&old) {
                r += 1;
                return None;
            }
            // Backends that joined before this one take the new indices before it.
            while added.get(a) == Some(&new) {
                a += 1;
                new += 1;
            }
            let pair = (old, new);
            new += 1;
            Some(pair)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n: u16) -> Vec<Backend> {
        (1..=n)
            .map(|i| Backend::from(std::net::SocketAddr::from(([10, 0, 0, 1], i))))
            .collect()
    }

    #[test]
    fn kept_pairs_skip_the_removed_and_make_room_for_the_added() {
        let old = set(5);
        // Old 0..5; remove 1 and 3; add at new 0 and new 3: new = [A, o0, o2, B, o4].
        let change = SetChange::new(&old, &[1, 3], &[0, 3], &[]);
        assert_eq!(change.kept().collect::<Vec<_>>(), [(0, 1), (2, 2), (4, 4)]);
        assert_eq!(change.len(), 4);
        let none = SetChange::new(&old, &[], &[], &[]);
        assert!(none.is_empty());
        assert_eq!(none.kept().count(), 5);
        // Everything replaced.
        let all = SetChange::new(&old, &[0, 1, 2, 3, 4], &[0, 1], &[]);
        assert_eq!(all.kept().count(), 0);
    }
}
