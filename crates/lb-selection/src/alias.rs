//! [`AliasTable`]: a weighted random draw in O(1) with Walker's alias method, the draw behind
//! [`Random`](crate::Random) and [`LeastRequest`](crate::LeastRequest), public as part of the
//! strategy kit.

use lb_core::Backend;

use crate::layout::Layout;

/// A weighted random draw over a set's active backends in O(1): one random number, one
/// multiplication and one table read give backend `i` with probability `w[i] / Σ w` (to within
/// 2⁻³² whatever the weights). Standby backends (weight 0) are never drawn; when every weight
/// is 0 the backends are equally likely. 16 bytes per active backend.
///
/// It is Walker's *alias method*, built exactly with integer arithmetic (Vose's construction).
///
/// ```
/// use lb_core::Backend;
/// use lb_selection::kit::{AliasTable, Layout, random_u64};
///
/// let backends = [
///     Backend::new_with_weight("10.0.0.1:80", 3).unwrap(),
///     Backend::new_with_weight("10.0.0.2:80", 0).unwrap(), // standby: never drawn
/// ];
/// let layout = Layout::new(&backends).unwrap();
/// let table = AliasTable::new(&layout, &backends);
/// assert!((0..100).all(|_| table.pick(random_u64()) == 0));
/// ```
pub struct AliasTable {
    columns: Box<[Column]>,
}

/// One column of the alias table: `own` with probability `threshold / 2^32`, else `alias`.
/// Both are backend indices. Full columns have `alias == own`.
#[derive(Clone, Copy, Debug, Default)]
#[repr(align(16))]
pub(crate) struct Column {
    pub(crate) own: u32,
    pub(crate) alias: u32,
    pub(crate) threshold: u32,
}

impl AliasTable {
    /// The table over the active backends of `layout` (built from `backends`).
    pub fn new(layout: &Layout, backends: &[Backend]) -> Self {
        let weights: Vec<u64> = layout.active_weights(backends).collect();
        AliasTable {
            columns: alias_table(layout, &weights),
        }
    }

    /// Whether there is nothing to draw (no backend).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// One weighted draw from the random number `r`: a backend index. The table must not be
    /// empty ([`AliasTable::is_empty`]); an empty table answers 0.
    #[inline]
    pub fn pick(&self, r: u64) -> usize {
        // The high half chooses the column (multiply-shift onto 0..len), the low half the coin:
        // independent bits, no division.
        let col = (((r >> 32) * self.columns.len() as u64) >> 32) as usize;
        let Some(c) = self.columns.get(col) else {
            return 0;
        };
        // The coin decides by a mask, not a branch: it is a fair coin in half the columns, so a
        // branch would be mispredicted on a large share of picks.
        let to_alias = u32::from((r as u32) >= c.threshold).wrapping_neg();
        (c.own ^ ((c.own ^ c.alias) & to_alias)) as usize
    }

    /// Bytes of heap memory held.
    pub fn heap_bytes(&self) -> usize {
        self.columns.len() * std::mem::size_of::<Column>()
    }

    #[cfg(test)]
    pub(crate) fn columns(&self) -> &[Column] {
        &self.columns
    }
}

impl std::fmt::Debug for AliasTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AliasTable")
            .field("columns", &self.columns.len())
            .finish()
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
    // A total of at most 2^32 - 1 (any set of usual weights) keeps every mass, and the
    // threshold's shifted mass, within 64 bits: the table is built in u64, with hardware
    // division, instead of u128 and its division in software.
    match u64::try_from(total) {
        Ok(t) if t <= u64::from(u32::MAX) => fill::<u64>(layout, weights, t),
        _ => fill::<u128>(layout, weights, total),
    }
}

/// The integer type the construction runs in: u64 when the total weight is below 2^32, u128
/// otherwise.
trait Mass:
    Copy
    + Ord
    + From<u64>
    + std::ops::Sub<Output = Self>
    + std::ops::SubAssign
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Shl<u32, Output = Self>
{
    /// What [`Mass::ratio`] needs of `total`, computed once per table.
    type Divisor: Copy;

    fn divisor(total: Self) -> Self::Divisor;

    /// `floor(mass x 2^32 / total)`, exactly, for `mass < total`.
    fn ratio(mass: Self, total: Self, divisor: Self::Divisor) -> u32;
}

impl Mass for u64 {
    /// `floor((2^64 - 1) / total)`: a multiplication and a correction stand for the division.
    type Divisor = u64;

    fn divisor(total: u64) -> u64 {
        u64::MAX / total.max(1)
    }

    fn ratio(mass: u64, total: u64, reciprocal: u64) -> u32 {
        // mass < total < 2^32: the estimate is at most 2 below the quotient (it drops under
        // 1/2^32 per unit of mass), and every product below fits in 64 bits.
        let mut q = ((u128::from(mass) * u128::from(reciprocal)) >> 32) as u64;
        let scaled = mass << 32;
        while scaled - q * total >= total {
            q += 1;
        }
        q as u32
    }
}

impl Mass for u128 {
    type Divisor = ();

    fn divisor(_total: u128) {}

    fn ratio(mass: u128, total: u128, (): ()) -> u32 {
        ((mass << 32) / total) as u32
    }
}

/// Vose's construction in `M`; `total` is the sum of `weights`, and `total x weights.len()`
/// and `total << 32` fit in `M`.
fn fill<M: Mass>(layout: &Layout, weights: &[u64], total: M) -> Box<[Column]> {
    let n = weights.len();
    let count = M::from(n as u64);
    let mut mass: Vec<M> = weights.iter().map(|&w| M::from(w) * count).collect();
    let mut columns = vec![Column::default(); n];
    let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&k| mass[k] < total);
    let divisor = M::divisor(total);
    while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
        small.pop();
        // mass[s] < total, so the threshold is below 2^32.
        let threshold = M::ratio(mass[s], total, divisor);
        columns[s] = Column {
            own: layout.active_index(s) as u32,
            alias: layout.active_index(l) as u32,
            // A positive weight keeps a positive chance even if it rounds to 0 (it cannot with
            // weights of at most 2^32 - 1, but the guarantee costs nothing).
            threshold: if weights[s] > 0 { threshold.max(1) } else { 0 },
        };
        let spare = total - mass[s];
        mass[l] -= spare;
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

#[cfg(test)]
mod ratio_tests {
    use super::Mass;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_u64_ratio_is_the_exact_quotient(total in 1u64..=u64::from(u32::MAX), frac in 0.0f64..1.0) {
            let mass = ((total as f64 * frac) as u64).min(total - 1);
            let exact = ((u128::from(mass) << 32) / u128::from(total)) as u32;
            prop_assert_eq!(u64::ratio(mass, total, u64::divisor(total)), exact);
        }
    }

    #[test]
    fn the_u64_ratio_at_the_edges() {
        for (mass, total) in [
            (0, 1),
            (0, 7),
            (6, 7),
            (u64::from(u32::MAX) - 1, u64::from(u32::MAX)),
            (1, u64::from(u32::MAX)),
        ] {
            let exact = ((u128::from(mass) << 32) / u128::from(total)) as u32;
            assert_eq!(
                u64::ratio(mass, total, u64::divisor(total)),
                exact,
                "{mass}/{total}"
            );
        }
    }
}
