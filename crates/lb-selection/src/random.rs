//! [`Random`]: weighted random choice in O(1) per pick with Walker's alias method.

use std::fmt;

use lb_core::{Backend, BackendIter, BackendSelection, BoxError};

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
    columns: Box<[Column]>,
}

/// One column of the alias table: `own` with probability `threshold / 2^32`, else `alias`.
/// Both are backend indices. Full columns have `alias == own`.
#[derive(Clone, Copy, Debug, Default)]
#[repr(align(16))]
struct Column {
    own: u32,
    alias: u32,
    threshold: u32,
}

impl Random {
    /// Bytes of heap memory held by this selector.
    pub fn heap_bytes(&self) -> usize {
        self.layout.heap_bytes() + self.columns.len() * std::mem::size_of::<Column>()
    }

    /// One weighted draw from a random number. The set is not empty.
    /// The backends' order and weights as this selector sees them.
    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Whether there is no backend to pick.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// One weighted draw from the random number `r`; the selector must not be empty.
    #[inline]
    pub(crate) fn pick(&self, r: u64) -> usize {
        // The high half chooses the column (multiply-shift onto 0..len), the low half the coin:
        // independent bits, no division.
        let col = (((r >> 32) * self.columns.len() as u64) >> 32) as usize;
        let c = self.columns[col];
        if (r as u32) < c.threshold {
            c.own as usize
        } else {
            c.alias as usize
        }
    }
}

/// Vose's alias table over the active backends' weights, in exact integer arithmetic.
///
/// Scale each weight by the number of columns `n`, so the average column holds exactly `W`
/// (the total weight). Columns under `W` ("small") are topped up from one over `W` ("large"),
/// which becomes the small column's alias. The sum of the remaining columns is always `W` times
/// their number, so when one list runs out every column left is exactly full: no rounding
/// leftovers, and a weight-0 column is never left as its own alias.
fn alias_table(layout: &Layout, weights: &[u64]) -> Box<[Column]> {
    let n = weights.len();
    if n == 0 {
        return Box::new([]);
    }
    let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    let mut mass: Vec<u128> = weights.iter().map(|&w| u128::from(w) * n as u128).collect();
    let mut columns = vec![Column::default(); n];
    let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&k| mass[k] < total);
    while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
        small.pop();
        // mass[s] < total, so the threshold is below 2^32.
        let threshold = ((mass[s] << 32) / total) as u32;
        columns[s] = Column {
            own: layout.active_index(s) as u32,
            alias: layout.active_index(l) as u32,
            // A positive weight keeps a positive chance even if it rounds to 0 (it cannot with
            // weights of at most 2^32 - 1, but the guarantee costs nothing).
            threshold: if weights[s] > 0 { threshold.max(1) } else { 0 },
        };
        mass[l] -= total - mass[s];
        if mass[l] < total {
            large.pop();
            small.push(l);
        }
    }
    // Whatever is left is exactly full (see above).
    for k in small.into_iter().chain(large) {
        let own = layout.active_index(k) as u32;
        columns[k] = Column {
            own,
            alias: own,
            threshold: u32::MAX,
        };
    }
    columns.into_boxed_slice()
}

impl BackendSelection for Random {
    type Config = ();
    type Iter<'a> = RandomIter<'a>;

    fn build(backends: &[Backend], _config: &()) -> Result<Self, BoxError> {
        let layout = Layout::new(backends)?;
        let weights: Vec<u64> = layout.active_weights(backends).collect();
        let columns = alias_table(&layout, &weights);
        Ok(Random { layout, columns })
    }

    #[inline]
    fn iter(&self, _key: &[u8]) -> RandomIter<'_> {
        let first = if self.columns.is_empty() {
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
