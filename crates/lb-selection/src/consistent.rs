//! [`Consistent`]: nginx's ketama consistent hashing, backed by lb-ketama.

use std::fmt;

use lb_core::{Address, Backend, BackendIter, BackendSelection, BoxError, SetChange};
use lb_ketama::{Bucket, BucketIterator, Builder, Changes, Continuum, Version};

use crate::arith::GOLDEN;
use crate::candidates::{Candidates, Draw};
use crate::error::SelectionError;
use crate::layout::Layout;

/// How many ring points after the key's point the candidate order walks (like nginx, which
/// tries 20 points before giving up on the ring) before scanning the remaining backends.
const RING_WALK: u8 = 32;

/// Options of [`Consistent`], spelled as pingora's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KetamaConfig {
    /// Points per unit of weight. `None` (the default) is nginx's ring, 160 points per unit
    /// ([`Version::V1`]); `Some(m)` builds a compact [`Version::V2`] ring with `m` points per unit
    /// (`Some(160)` maps keys exactly as `None`). `Some(0)` is a build error.
    pub point_multiple: Option<u32>,
}

impl KetamaConfig {
    fn version(&self) -> Version {
        match self.point_multiple {
            None => Version::V1,
            Some(point_multiple) => Version::V2 { point_multiple },
        }
    }
}

/// Consistent hashing on a ketama ring **identical to nginx's `hash $key consistent`**: a key
/// maps to the same backend as in nginx with the same servers and weights, and removing one
/// backend moves only the keys it had.
///
/// Each backend is a ring bucket named as nginx names the server (`10.0.0.1:80`,
/// `[2001:db8::1]:80`, `unix:/run/app.sock`) with its weight, 160 points per unit of weight.
/// Unix-socket backends are on the ring (pingora drops them). First picks equal pingora's
/// `KetamaHashing` on IPv4 sets; on sets with IPv6 backends they follow nginx, which pingora does
/// not (it hashes IPv6 hosts without their brackets): see lb-ketama.
///
/// After the first pick, the candidates walk the ring onwards (up to 32 points, skipping
/// backends already offered, at most 8 of them), so a down backend's keys go where they would go
/// if it were removed; then every other backend.
///
/// **Weights.** Weight 0 is a standby: no points, so never the first pick, and offered only after
/// every positive-weight backend. When every weight is 0 they are treated as equal.
///
/// **Updates.** A change of a few backends ([`LoadBalancer::apply_delta`](lb_core::LoadBalancer),
/// or a whole set that differs in a few) inserts and removes their points in the ring instead of
/// building it again, when the ring is large enough to be stored in chunks
/// ([`lb_ketama::Layout::Auto`]): the result is the ring a build gives, point for point.
///
/// **Size.** The ring has `160 × Σ weights` points (about 10 bytes each; `point_multiple` makes a
/// compact ring of about 5 bytes per point). A ring of more than [`lb_ketama::MAX_POINTS`] points
/// (a total weight of 419,430 at 160 points per unit) is a build error naming the heaviest
/// backend, so memory stays bounded whatever the weights; the load balancer keeps its previous
/// set. Lower the weights, or fewer points per unit with `point_multiple`, to fit.
///
/// ```
/// use lb_core::LoadBalancer;
/// use lb_selection::Consistent;
///
/// let lb = LoadBalancer::<Consistent>::try_from_iter(["10.0.0.1:80", "10.0.0.2:80", "unix:/run/c.sock"])
///     .unwrap();
/// let first = lb.select(b"user-42").unwrap().addr.clone();
/// assert_eq!(lb.select(b"user-42").unwrap().addr, first);
/// ```
pub struct Consistent {
    layout: Layout,
    ring: Continuum,
}

/// pingora's name for [`Consistent`].
pub type KetamaHashing = Consistent;

impl Consistent {
    /// The ring.
    pub fn ring(&self) -> &Continuum {
        &self.ring
    }

    /// Bytes of heap memory held by this selector.
    pub fn heap_bytes(&self) -> usize {
        self.layout.heap_bytes() + self.ring.heap_size()
    }
}

/// The ring bucket of a backend, named as nginx names the server.
fn bucket(backend: &Backend, weight: u32) -> Bucket {
    match &backend.addr {
        Address::Inet(addr) => Bucket::new(*addr, weight),
        Address::Unix(path) => Bucket::unix(path.clone(), weight),
    }
}

/// The ring buckets of `backends`, weighted as `layout` says.
fn buckets(backends: &[Backend], layout: &Layout) -> Vec<Bucket> {
    backends
        .iter()
        .map(|b| bucket(b, layout.weight(b)))
        .collect()
}

impl Consistent {
    /// Builds a selector whose ring `ring` builds (its version, layout and threads).
    fn build_with(backends: &[Backend], ring: &Builder) -> Result<Self, BoxError> {
        let layout = Layout::new(backends)?;
        let ring = ring
            .try_build(&buckets(backends, &layout))
            .map_err(SelectionError::Ring)?;
        Ok(Consistent { layout, ring })
    }
}

impl BackendSelection for Consistent {
    type Config = KetamaConfig;
    type Iter<'a> = ConsistentIter<'a>;

    /// The key picks the backend; with priority levels or zones it picks those too.
    const USES_KEY: bool = true;

    fn build(backends: &[Backend], config: &KetamaConfig) -> Result<Self, BoxError> {
        Self::build_with(backends, &Continuum::builder().version(config.version()))
    }

    /// The ring updated in place ([`Continuum::with_changes`]): the points of the backends that
    /// left or joined, and the last points of those whose weight changed, are removed or
    /// inserted. The ring falls back to a build itself when that is cheaper or needed (a small
    /// or compact ring, a large change, every weight 0 before or after).
    fn apply_change(
        &self,
        backends: &[Backend],
        change: &SetChange<'_>,
        config: &KetamaConfig,
    ) -> Option<Result<Self, BoxError>> {
        if config.version() != self.ring.version() {
            return None;
        }
        let layout = match Layout::new(backends) {
            Ok(layout) => layout,
            Err(e) => return Some(Err(e.into())),
        };
        let changes = Changes::new(change.removed(), change.added());
        let ring = self
            .ring
            .with_changes(&buckets(backends, &layout), &changes)
            .map_err(|e| SelectionError::Ring(e).into());
        Some(ring.map(|ring| Consistent { layout, ring }))
    }

    #[inline]
    fn iter(&self, key: &[u8]) -> ConsistentIter<'_> {
        // One CRC32 of the key serves the ring lookup and the scan start.
        let hash = lb_ketama::hash(key);
        let mut walk = self.ring.bucket_iter_by_hash(hash);
        let first = walk.next();
        let seed = u64::from(hash);
        ConsistentIter {
            inner: Candidates::new(
                first,
                RingWalk { walk, seed },
                RING_WALK,
                self.layout.order(),
                self.layout.active(),
            ),
        }
    }
}

impl fmt::Debug for Consistent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consistent")
            .field("backends", &self.layout.len())
            .field("ring", &self.ring)
            .finish()
    }
}

/// Fallback draws of [`Consistent`]: the next points of the ring.
struct RingWalk<'a> {
    walk: BucketIterator<'a>,
    seed: u64,
}

impl Draw for RingWalk<'_> {
    fn draw(&mut self) -> usize {
        // The ring is not empty when the iterator has a first pick; `usize::MAX` is out of range
        // and skipped.
        self.walk.next().unwrap_or(usize::MAX)
    }

    fn scan_seed(&self) -> u64 {
        // Spread the key's 32-bit hash over 64 bits for the scan start.
        self.seed.wrapping_mul(GOLDEN)
    }
}

/// The candidates of a [`Consistent`] selector for one key.
pub struct ConsistentIter<'a> {
    inner: Candidates<'a, RingWalk<'a>>,
}

impl BackendIter for ConsistentIter<'_> {
    #[inline]
    fn next(&mut self) -> Option<usize> {
        self.inner.next()
    }
}

impl fmt::Debug for ConsistentIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsistentIter").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
