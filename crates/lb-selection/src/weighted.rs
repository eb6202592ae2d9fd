//! [`Weighted`]: hash the key, pick by weight. [`FnvHash`] keeps pingora's key affinity.

use std::fmt;
use std::hash::Hasher;
use std::marker::PhantomData;

use fnv::FnvHasher;
use lb_core::{Backend, BackendIter, BackendSelection, BoxError};

use crate::arith::{FastMod, GOLDEN, fastrange};
use crate::candidates::{Candidates, DRAWS, Draw};
use crate::cdf::Cdf;
use crate::layout::Layout;

/// Weighted hashing: the key's hash, taken modulo the total weight, falls on one backend's share
/// of the cumulative weight line.
///
/// With `H` = [`FnvHasher`] ([`FnvHash`]) the first pick is **the same as
/// pingora-load-balancing 0.9.1's `FNVHash`** for every set on which pingora does not panic, so
/// keys keep their backend when migrating. The formula, for backends in address order with
/// weights `w[0..n]` and `W = Σ w`:
///
/// ```text
/// h     = H::default(); h.write(key); h.finish()      // no length prefix
/// first = the backend k with w[0] + … + w[k-1] <= h % W < w[0] + … + w[k]
/// ```
///
/// pingora expands this into an array of `W` entries (a weight of 10,000 on 1,000 backends is
/// ten million entries, and it panics past 65,536 backends); lb finds the same backend with a
/// prefix-sum line and a guide table: O(number of backends) memory and O(1) expected time.
///
/// After the first pick, the candidates are up to 8 rehashes (`h = H(h.to_le_bytes())`, as
/// pingora's fallback does, but then picked by weight) skipping backends already offered, then
/// every remaining backend (see the crate docs). Every backend is offered once.
///
/// **Weights.** Weight 0 is a standby: it owns no part of the line, so it is never the first
/// pick (as in pingora) and is offered only after every positive-weight backend. When every
/// weight is 0, lb treats them as equal (pingora panics dividing by zero).
///
/// ```
/// use lb_core::{Backend, LoadBalancer};
/// use lb_selection::FnvHash;
///
/// let lb = LoadBalancer::<FnvHash>::try_from_iter([
///     Backend::new_with_weight("10.0.0.1:80", 1).unwrap(),
///     Backend::new_with_weight("10.0.0.2:80", 3).unwrap(),
/// ])
/// .unwrap();
/// let a = lb.select(b"user-42").unwrap().addr.clone();
/// assert_eq!(lb.select(b"user-42").unwrap().addr, a, "the same key, the same backend");
/// ```
pub struct Weighted<H = FnvHasher> {
    layout: Layout,
    cdf: Cdf,
    modulo: FastMod,
    hasher: PhantomData<fn() -> H>,
}

/// FNV-1a hashing on weighted backends; first picks identical to pingora's `FNVHash`.
pub type FnvHash = Weighted<FnvHasher>;

/// pingora's name for [`FnvHash`], kept so that migrating code compiles (with a warning that
/// names the new one).
#[deprecated(note = "use `FnvHash`")]
pub type FNVHash = Weighted<FnvHasher>;

/// pingora's historical spelling of [`FnvHash`].
#[deprecated(note = "use `FnvHash`")]
pub type FVNHash = Weighted<FnvHasher>;

#[inline]
fn hash<H: Hasher + Default>(bytes: &[u8]) -> u64 {
    let mut h = H::default();
    h.write(bytes);
    h.finish()
}

impl<H> Weighted<H> {
    /// Bytes of heap memory held by this selector.
    pub fn heap_bytes(&self) -> usize {
        self.layout.heap_bytes() + self.cdf.heap_bytes()
    }
}

impl<H: Hasher + Default + 'static> BackendSelection for Weighted<H> {
    type Config = ();
    type Iter<'a> = WeightedIter<'a, H>;

    /// The key picks the backend; with priority levels or zones it picks those too.
    const USES_KEY: bool = true;

    fn build(backends: &[Backend], _config: &()) -> Result<Self, BoxError> {
        let layout = Layout::new(backends)?;
        // Every backend on the line, in index order (weight 0 owns no point): `locate` answers
        // the backend index itself, one dependent load fewer than going through the layout.
        // Prefix sums in index order over the active backends are pingora's expanded array.
        let cdf = Cdf::new(backends.iter().map(|b| u64::from(layout.weight(b))));
        let modulo = FastMod::new(cdf.total());
        Ok(Weighted {
            layout,
            cdf,
            modulo,
            hasher: PhantomData,
        })
    }

    #[inline]
    fn iter(&self, key: &[u8]) -> WeightedIter<'_, H> {
        let h = hash::<H>(key);
        let first = if self.layout.is_empty() {
            None
        } else {
            Some(self.cdf.locate(self.modulo.rem(h)))
        };
        WeightedIter {
            inner: Candidates::new(
                first,
                Rehash {
                    sel: self,
                    hash: h,
                    seed: h,
                },
                DRAWS as u8,
                self.layout.order(),
                self.layout.active(),
            ),
        }
    }
}

impl<H> fmt::Debug for Weighted<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Weighted")
            .field("hasher", &std::any::type_name::<H>())
            .field("backends", &self.layout.len())
            .field("total_weight", &self.cdf.total())
            .finish()
    }
}

/// Fallback draws of [`Weighted`]: rehash the previous hash, pick by weight.
struct Rehash<'a, H> {
    sel: &'a Weighted<H>,
    hash: u64,
    seed: u64,
}

impl<H: Hasher + Default> Draw for Rehash<'_, H> {
    fn draw(&mut self) -> usize {
        self.hash = hash::<H>(&self.hash.to_le_bytes());
        let p = fastrange(self.hash, self.sel.cdf.total());
        self.sel.cdf.locate(p)
    }

    fn scan_seed(&self) -> u64 {
        // The high bits of a hash spread well; mix so that the scan start is not the first pick.
        self.seed.rotate_left(32) ^ GOLDEN
    }
}

/// The candidates of a [`Weighted`] selector for one key.
pub struct WeightedIter<'a, H> {
    inner: Candidates<'a, Rehash<'a, H>>,
}

impl<H: Hasher + Default> BackendIter for WeightedIter<'_, H> {
    #[inline]
    fn next(&mut self) -> Option<usize> {
        self.inner.next()
    }
}

impl<H> fmt::Debug for WeightedIter<'_, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeightedIter").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
