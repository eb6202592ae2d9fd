//! [`Random`]: weighted random choice in O(1) per pick with Walker's alias method.

use std::fmt;

use lb_core::{Backend, BackendIter, BackendSelection, BoxError};

use crate::alias::AliasTable;
use crate::candidates::{Candidates, DRAWS, Draw};
use crate::layout::Layout;
use crate::rng;

/// Weighted random: each pick is backend `i` with probability `w[i] / Σ w`.
///
/// A pick is one random number from a per-thread generator (wyrand, seeded once per thread from
/// the operating system), one multiplication and one table read: Walker's *alias method*, built
/// exactly with integer arithmetic (Vose's construction), so each backend's probability is its
/// weight share to within 2⁻³² whatever the weights. Memory is 16 bytes per backend; there is no
/// lock and no allocation per pick.
///
/// After the first pick come up to 8 more random draws (skipping backends already offered),
/// then every other backend from a random position.
///
/// **Weights.** Weight 0 is a standby: its probability is 0, and it is offered only after every
/// positive-weight backend. When every weight is 0 the backends are equally likely.
///
/// ```
/// use lb_core::{Backend, LoadBalancer};
/// use lb_selection::Random;
///
/// let lb = LoadBalancer::<Random>::try_from_iter([
///     Backend::new_with_weight("10.0.0.1:80", 9).unwrap(),
///     Backend::new_with_weight("10.0.0.2:80", 0).unwrap(), // standby
/// ])
/// .unwrap();
/// for _ in 0..100 {
///     assert_eq!(lb.select(b"").unwrap().addr.to_string(), "10.0.0.1:80");
/// }
/// ```
pub struct Random {
    layout: Layout,
    table: AliasTable,
}

impl Random {
    /// Bytes of heap memory held by this selector.
    pub fn heap_bytes(&self) -> usize {
        self.layout.heap_bytes() + self.table.heap_bytes()
    }

    /// The backends' order and weights as this selector sees them.
    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Whether there is no backend to pick.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// One weighted draw from the random number `r`; the selector must not be empty.
    #[inline]
    pub(crate) fn pick(&self, r: u64) -> usize {
        self.table.pick(r)
    }
}

impl BackendSelection for Random {
    type Config = ();
    type Iter<'a> = RandomIter<'a>;

    const HONOURS_SLOW_START: bool = true;

    fn build(backends: &[Backend], _config: &()) -> Result<Self, BoxError> {
        let layout = Layout::new(backends)?;
        let table = AliasTable::new(&layout, backends);
        Ok(Random { layout, table })
    }

    #[inline]
    fn iter(&self, _key: &[u8]) -> RandomIter<'_> {
        let first = if self.table.is_empty() {
            None
        } else {
            Some(self.pick(rng::next_u64()))
        };
        self.candidates_after(first)
    }
}

impl Random {
    /// The candidate order that starts with `first` (`None` only for an empty selector) and goes
    /// on as a random pick does.
    #[inline]
    pub(crate) fn candidates_after(&self, first: Option<usize>) -> RandomIter<'_> {
        RandomIter {
            inner: Candidates::new(
                first,
                Redraw { sel: self },
                DRAWS as u8,
                self.layout.order(),
                self.layout.active(),
            ),
        }
    }
}

impl fmt::Debug for Random {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Random")
            .field("backends", &self.layout.len())
            .finish()
    }
}

/// Fallback draws of [`Random`]: more random picks.
struct Redraw<'a> {
    sel: &'a Random,
}

impl Draw for Redraw<'_> {
    fn draw(&mut self) -> usize {
        self.sel.pick(rng::next_u64())
    }

    fn scan_seed(&self) -> u64 {
        rng::next_u64()
    }
}

/// The candidates of a [`Random`] selector for one pick.
pub struct RandomIter<'a> {
    inner: Candidates<'a, Redraw<'a>>,
}

impl BackendIter for RandomIter<'_> {
    #[inline]
    fn next(&mut self) -> Option<usize> {
        self.inner.next()
    }
}

impl fmt::Debug for RandomIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RandomIter").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
