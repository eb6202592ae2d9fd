//! [`Jump`]: Lamping and Veach's jump consistent hash.

use std::fmt;

use lb_core::{Backend, BackendIter, BackendSelection, BoxError};

use crate::arith::GOLDEN;
use crate::candidates::{Candidates, DRAWS, Draw};
use crate::layout::Layout;

/// Lamping and Veach's jump consistent hash ("A Fast, Minimal Memory, Consistent Hash
/// Algorithm", 2014): the bucket in `0..buckets` of a 64-bit key.
///
/// This is the paper's listing, exactly (the tests compare it with the listing compiled as C on
/// 12,000 vectors). Growing from `n` to `n + 1` buckets moves a key only onto the new bucket, and
/// each of `n` buckets gets 1/n of the keys. It takes about ln(n) steps, each with a
/// floating-point division. The paper's listing takes a signed 32-bit count; this takes any
/// `u32`, and 0 buckets gives 0.
///
/// ```
/// use lb_selection::jump_bucket;
///
/// // Vectors of the reference implementation.
/// assert_eq!(jump_bucket(0, 60), 0);
/// assert_eq!(jump_bucket(1, 60), 55);
/// assert_eq!(jump_bucket(2, 60), 46);
/// ```
pub fn jump_bucket(key: u64, buckets: u32) -> u32 {
    let mut key = key;
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        // The listing's `(b + 1) * (double(1LL << 31) / double((key >> 33) + 1))`, truncated.
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    // `b` is in `0..buckets` once the loop ran; it did not only for 0 buckets.
    b.max(0) as u32
}

/// How [`Jump`] turns a request key into the 64-bit key of the paper.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JumpKey {
    /// The key's XXH3 hash (64 bits, seed 0, [`lb_maglev::KeyMapping::Fast`]), whatever its length.
    #[default]
    Hashed,
    /// An 8-byte key is the 64-bit key itself, little-endian (`shard_key.to_le_bytes()`), so
    /// that shard numbers agree with other jump implementations given the same `u64`; keys of
    /// other lengths are hashed as with [`JumpKey::Hashed`].
    LittleEndianU64,
}

/// Jump consistent hash over the backends in address order: bucket `i` is the `i`-th backend of
/// positive weight. For sharded stores whose shards are numbered `0..n` and only grow or shrink
/// at the end: adding a backend that sorts after the others moves only the keys it takes (1/(n+1)
/// of them), and removing the last moves only its own.
///
/// **Removing a backend from the middle** renumbers every backend after it, which moves far
/// more keys than the ring or table strategies (about half of them, on average over the removed
/// position). Use [`Consistent`](crate::Consistent), [`Maglev`](crate::Maglev) or
/// [`Rendezvous`](crate::Rendezvous) when any backend may leave.
///
/// **Weights**: jump has none; every backend of positive weight gets an equal share. Weight 0 is
/// a standby: not a bucket (so it renumbers nothing), offered only after every positive-weight
/// backend. When every weight is 0 they are all buckets.
///
/// **Order after the first pick**: jumps of rehashes of the key (each an equal draw over the
/// buckets), at most 8 distinct backends, then every other backend once, standbys last.
///
/// **Cost**: no memory beyond the candidate order (4 bytes per backend); a pick takes about
/// ln(N) steps of a multiplication and a division.
///
/// ```
/// use lb_core::LoadBalancer;
/// use lb_selection::{Jump, JumpKey, jump_bucket};
///
/// let shards = ["10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"];
/// let lb = LoadBalancer::<Jump>::try_from_iter(shards).unwrap();
/// let key = lb_maglev::KeyMapping::Fast.hash(b"user-42");
/// let pick = lb.select(b"user-42").unwrap();
/// assert_eq!(pick.index(), jump_bucket(key, 3) as usize);
/// ```
pub struct Jump {
    layout: Layout,
    key: JumpKey,
}

impl Jump {
    /// Heap bytes held by the selector.
    pub fn heap_bytes(&self) -> usize {
        self.layout.heap_bytes()
    }

    fn key(&self, key: &[u8]) -> u64 {
        match (self.key, <[u8; 8]>::try_from(key)) {
            (JumpKey::LittleEndianU64, Ok(bytes)) => u64::from_le_bytes(bytes),
            _ => lb_maglev::KeyMapping::Fast.hash(key),
        }
    }

    fn bucket(&self, key: u64) -> usize {
        // The active count fits in u32: `Layout::new` refuses larger sets.
        let bucket = jump_bucket(key, self.layout.active() as u32) as usize;
        self.layout.active_index(bucket)
    }
}

impl BackendSelection for Jump {
    type Config = JumpKey;
    type Iter<'a> = JumpIter<'a>;

    /// The key picks the backend; with priority levels or zones it picks those too.
    const USES_KEY: bool = true;

    fn build(backends: &[Backend], config: &JumpKey) -> Result<Self, BoxError> {
        Ok(Jump {
            layout: Layout::new(backends)?,
            key: *config,
        })
    }

    #[inline]
    fn iter(&self, key: &[u8]) -> JumpIter<'_> {
        let key = self.key(key);
        let first = (self.layout.active() > 0).then(|| self.bucket(key));
        JumpIter {
            inner: Candidates::new(
                first,
                Rehash {
                    selector: self,
                    key,
                    attempt: 0,
                },
                // Draws may repeat; a few more than the distinct ones wanted.
                2 * DRAWS as u8,
                self.layout.order(),
                self.layout.active(),
            ),
        }
    }
}

impl fmt::Debug for Jump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jump")
            .field("backends", &self.layout.len())
            .field("key", &self.key)
            .finish()
    }
}

/// Fallback draws of [`Jump`]: the jump of a rehash of the key per attempt.
struct Rehash<'a> {
    selector: &'a Jump,
    key: u64,
    attempt: u64,
}

impl Draw for Rehash<'_> {
    fn draw(&mut self) -> usize {
        self.attempt += 1;
        let rehash = (self.key ^ self.attempt.wrapping_mul(GOLDEN)).wrapping_mul(GOLDEN);
        self.selector.bucket(rehash ^ (rehash >> 29))
    }

    fn scan_seed(&self) -> u64 {
        self.key.wrapping_mul(GOLDEN)
    }
}

/// The candidates of a [`Jump`] selector for one key.
pub struct JumpIter<'a> {
    inner: Candidates<'a, Rehash<'a>>,
}

impl BackendIter for JumpIter<'_> {
    #[inline]
    fn next(&mut self) -> Option<usize> {
        self.inner.next()
    }
}

impl fmt::Debug for JumpIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JumpIter").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
