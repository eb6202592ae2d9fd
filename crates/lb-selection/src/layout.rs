//! [`Layout`]: which backends are active (positive weight) and which are standby (weight 0), and
//! the order in which every strategy falls back to them.

use lb_core::Backend;

use crate::error::SelectionError;

/// The most backends a selector indexes: indices are stored as `u32` to halve the memory of
/// every table.
pub(crate) const MAX_BACKENDS: usize = u32::MAX as usize;

/// The backends of one set as the strategies see them: which are active, which are standby, and
/// the order the shared fallback ([`Candidates`](crate::kit::Candidates)) visits them in.
///
/// *Active* backends are those of positive weight; *standby* ones have weight 0 and come after
/// every active one in any candidate order. When every weight is 0 the backends are treated as
/// equals of weight 1, so all are active. 4 bytes per backend.
///
/// ```
/// use lb_core::Backend;
/// use lb_selection::kit::Layout;
///
/// let backends: Vec<Backend> = [("10.0.0.1:80", 0), ("10.0.0.2:80", 3), ("10.0.0.3:80", 1)]
///     .iter()
///     .map(|(a, w)| Backend::new_with_weight(a, *w).unwrap())
///     .collect();
/// let layout = Layout::new(&backends).unwrap();
/// assert_eq!(layout.order(), [1, 2, 0], "active backends first, then the standby");
/// assert_eq!(layout.active(), 2);
/// ```
#[derive(Debug)]
pub struct Layout {
    /// Backend indices: the active ones in ascending order, then the standby ones in ascending
    /// order. Every index of the set appears exactly once.
    order: Box<[u32]>,
    /// How many of `order` are active.
    active: usize,
    /// Whether every weight was 0 (then every backend is active with weight 1).
    all_zero: bool,
}

impl Layout {
    /// The layout of `backends`; an error only for more than `u32::MAX` backends.
    pub fn new(backends: &[Backend]) -> Result<Self, SelectionError> {
        if backends.len() > MAX_BACKENDS {
            return Err(SelectionError::TooManyBackends {
                count: backends.len(),
                max: MAX_BACKENDS,
            });
        }
        let all_zero = backends.iter().all(|b| b.weight == 0);
        let is_active = |b: &Backend| all_zero || b.weight > 0;
        // The casts are in range: the length was checked against `MAX_BACKENDS` above.
        let mut order: Vec<u32> = Vec::with_capacity(backends.len());
        order.extend(
            (0..backends.len())
                .filter(|&i| is_active(&backends[i]))
                .map(|i| i as u32),
        );
        let active = order.len();
        order.extend(
            (0..backends.len())
                .filter(|&i| !is_active(&backends[i]))
                .map(|i| i as u32),
        );
        Ok(Layout {
            order: order.into_boxed_slice(),
            active,
            all_zero,
        })
    }

    /// Every backend index, active ones first.
    #[inline]
    pub fn order(&self) -> &[u32] {
        &self.order
    }

    /// The number of backends.
    #[inline]
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether the set is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The number of active backends (the first ones of [`Layout::order`]).
    #[inline]
    pub fn active(&self) -> usize {
        self.active
    }

    /// The backend index of the `k`-th active backend.
    #[inline]
    pub fn active_index(&self, k: usize) -> usize {
        // With no standby backend the order is the identity (every index, ascending): the
        // common case answers without reading the table.
        if self.active == self.order.len() && k < self.active {
            k
        } else {
            self.order[k] as usize
        }
    }

    /// The weight a strategy gives `backend` of this set: its own, or 1 when every weight is 0.
    #[inline]
    pub fn weight(&self, backend: &Backend) -> u32 {
        if self.all_zero { 1 } else { backend.weight }
    }

    /// The effective weights ([`Layout::weight`]) of the active backends, in [`Layout::order`].
    pub fn active_weights<'a>(&'a self, backends: &'a [Backend]) -> impl Iterator<Item = u64> + 'a {
        self.order[..self.active]
            .iter()
            .map(move |&i| u64::from(self.weight(&backends[i as usize])))
    }

    /// Bytes of heap memory held.
    pub fn heap_bytes(&self) -> usize {
        self.order.len() * std::mem::size_of::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::backends as set;

    #[test]
    fn active_backends_come_first_then_standby() {
        let b = set(&[0, 3, 0, 1]);
        let l = Layout::new(&b).unwrap();
        assert_eq!(l.order(), &[1, 3, 0, 2]);
        assert_eq!(l.active(), 2);
        assert_eq!(l.active_weights(&b).collect::<Vec<_>>(), [3, 1]);
        assert_eq!(l.weight(&b[0]), 0, "a standby keeps weight 0");
    }

    #[test]
    fn active_index_reads_the_order_with_standbys_and_is_the_identity_without() {
        let with_standbys = Layout::new(&set(&[0, 3, 0, 1])).unwrap();
        let got: Vec<usize> = (0..2).map(|k| with_standbys.active_index(k)).collect();
        assert_eq!(got, [1, 3]);
        for weights in [&[2, 3, 1, 1][..], &[0, 0, 0]] {
            let layout = Layout::new(&set(weights)).unwrap();
            for k in 0..layout.active() {
                assert_eq!(layout.active_index(k), layout.order()[k] as usize);
                assert_eq!(layout.active_index(k), k);
            }
        }
    }

    #[test]
    fn all_zero_weights_are_equal_weights() {
        let b = set(&[0, 0, 0]);
        let l = Layout::new(&b).unwrap();
        assert_eq!(l.order(), &[0, 1, 2]);
        assert_eq!(l.active(), 3);
        assert_eq!(l.active_weights(&b).collect::<Vec<_>>(), [1, 1, 1]);
        assert_eq!(l.weight(&b[2]), 1);
    }

    #[test]
    fn empty_set_is_empty() {
        let l = Layout::new(&[]).unwrap();
        assert!(l.is_empty());
        assert_eq!(l.active(), 0);
    }
}
