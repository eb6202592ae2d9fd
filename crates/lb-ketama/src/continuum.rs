//! The ring: building it and looking keys up.

use std::fmt;
use std::net::SocketAddr;

use crate::bucket::Bucket;
use crate::build::{self, Index, IndexKind};
use crate::builder::Builder;
use crate::chunked::Chunked;
use crate::crc::hash;
use crate::error::Error;
use crate::index::SlotIndex;
use crate::iter::{BucketIterator, NodeIterator};
use crate::packed::Packed;
use crate::plan::{self, Overflow};
use crate::version::{MAX_POINTS, Version};

/// V1 indexes 1 to 2 points per slot of its lookup table while the table stays within 1 MiB (rings
/// of up to 2^18 points), and 2 to 4 beyond, where a table twice as large would cost more to build
/// than it saves per lookup. V2 indexes 4 to 8: it trades a little speed for a smaller table and one
/// more implied hash bit.
const V1_PER_SLOT_LOG2_SMALL: u32 = 0;
const V1_SMALL_RING: usize = 1 << 18;
const V1_PER_SLOT_LOG2: u32 = 1;
const V2_PER_SLOT_LOG2: u32 = 2;

/// A ketama consistent-hash ring, identical to the one nginx builds for
/// `upstream { hash $key consistent; }`.
///
/// Build it once from a slice of [`Bucket`]s, share it (it is immutable, `Send` and `Sync`), and look
/// keys up without locking or allocating. Bucket indices are positions in that slice.
#[derive(Clone)]
pub struct Continuum {
    version: Version,
    /// The options it was built with, for the builds [`Continuum::with_changes`] falls back to.
    pub(crate) options: Builder,
    index: SlotIndex,
    pub(crate) points: Points,
    /// The socket address of each bucket, if it has one.
    pub(crate) addrs: Box<[Option<SocketAddr>]>,
    /// Whether any bucket that has points has a socket address, so that `node_iter` can stop at once
    /// on a ring of Unix sockets.
    pub(crate) socket_points: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum Points {
    /// V1, flat: `hash << 32 | bucket` per point; comparing a point with `hash << 32` compares
    /// hashes.
    Wide(Box<[u64]>),
    /// V1, chunked: see [`Chunked`].
    Chunked(Chunked),
    /// V2: see [`Packed`].
    Packed(Packed),
}

impl Default for Continuum {
    /// An empty ring: every lookup returns `None`.
    fn default() -> Self {
        Self::new(&[])
    }
}

impl Continuum {
    /// Builds nginx's ring ([`Version::V1`]) over `buckets`.
    ///
    /// Never panics. A ring of more than [`MAX_POINTS`] points is built with the weights scaled down
    /// in proportion (each weighted bucket keeps at least one point) so that it fits; use
    /// [`try_new`](Self::try_new) to get an error instead.
    ///
    /// ```
    /// use lb_ketama::{Bucket, Continuum};
    /// let ring = Continuum::new(&[
    ///     Bucket::new("127.0.0.1:7777".parse().unwrap(), 1),
    ///     Bucket::new("127.0.0.1:7778".parse().unwrap(), 1),
    /// ]);
    /// // The same answer nginx gives for `hash $request_uri consistent;` over these two servers.
    /// assert_eq!(ring.node(b"/some/path"), Some("127.0.0.1:7778".parse().unwrap()));
    /// ```
    pub fn new(buckets: &[Bucket]) -> Self {
        Self::new_with_version(buckets, Version::V1)
    }

    /// Builds a ring of the given [`Version`] over `buckets`. Never panics: over [`MAX_POINTS`] the
    /// weights are scaled down as in [`new`](Self::new), and `V2 { point_multiple: 0 }` gives an
    /// empty ring.
    pub fn new_with_version(buckets: &[Bucket], version: Version) -> Self {
        Self::builder().version(version).build(buckets)
    }

    /// Builds nginx's ring over `buckets`, or says why it cannot: more than [`MAX_POINTS`] points
    /// ([`Error::TooManyPoints`], naming the heaviest bucket) or more buckets than a 32-bit index
    /// ([`Error::TooManyBuckets`]).
    ///
    /// ```
    /// use lb_ketama::{Bucket, Continuum, Error};
    /// let huge = [Bucket::new("10.0.0.1:80".parse().unwrap(), u32::MAX)];
    /// let err = Continuum::try_new(&huge).unwrap_err();
    /// assert!(matches!(err, Error::TooManyPoints { bucket: 0, .. }));
    /// ```
    pub fn try_new(buckets: &[Bucket]) -> Result<Self, Error> {
        Self::try_new_with_version(buckets, Version::V1)
    }

    /// Like [`try_new`](Self::try_new) for any [`Version`]; `V2 { point_multiple: 0 }` is
    /// [`Error::ZeroPointMultiple`].
    pub fn try_new_with_version(buckets: &[Bucket], version: Version) -> Result<Self, Error> {
        Self::builder().version(version).try_build(buckets)
    }

    /// A [`Builder`] for a ring with options: its version, and how many threads building a large
    /// ring may use.
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn empty(version: Version) -> Self {
        Self {
            version,
            options: Builder::new().version(version),
            index: SlotIndex::empty(),
            points: Points::Wide(Box::new([])),
            addrs: Box::new([]),
            socket_points: false,
        }
    }

    /// Builds the ring with `options`.
    pub(crate) fn build(
        buckets: &[Bucket],
        options: &Builder,
        overflow: Overflow,
    ) -> Result<Self, Error> {
        let version = options.version_of();
        let max_threads = options.max_threads_of();
        let multiple = version.point_multiple();
        if multiple == 0 {
            return match overflow {
                Overflow::Fail => Err(Error::ZeroPointMultiple),
                Overflow::Scale => Ok(Self::empty(version)),
            };
        }
        let plan = plan::plan(buckets, multiple, MAX_POINTS, overflow)?;
        let per_slot = if plan.total <= V1_SMALL_RING {
            V1_PER_SLOT_LOG2_SMALL
        } else {
            V1_PER_SLOT_LOG2
        };
        let chunked =
            version == Version::V1 && plan.total > 0 && options.layout_of().chunked(plan.total);
        let kind = if chunked {
            IndexKind::Chunks
        } else {
            IndexKind::Slots
        };
        let sorted = build::build(buckets, &plan, per_slot, kind, max_threads);
        let addrs: Box<[Option<SocketAddr>]> = buckets.iter().map(Bucket::addr).collect();
        let socket_points = plan
            .counts
            .iter()
            .zip(addrs.iter())
            .any(|(&c, a)| c > 0 && a.is_some());
        let (index, points) = match (version, sorted.index) {
            (_, Index::Chunks { table, chunk_shift }) => {
                let chunked = Chunked::from_build(
                    buckets.len(),
                    &plan,
                    table,
                    chunk_shift,
                    sorted.points,
                    sorted.dropped,
                    sorted.prefixes,
                );
                (SlotIndex::empty(), Points::Chunked(chunked))
            }
            (Version::V1, Index::Slots(index)) => {
                (index, Points::Wide(sorted.points.into_boxed_slice()))
            }
            (Version::V2 { .. }, Index::Slots(index)) => {
                let bits = crate::index::index_bits(sorted.points.len(), V2_PER_SLOT_LOG2);
                let index = index.coarsen(bits);
                // A bucket owns a point unless every one of its points lost a tie.
                let mut left = plan.counts.clone();
                for &b in &sorted.dropped {
                    if let Some(c) = left.get_mut(b as u32 as usize) {
                        *c = c.saturating_sub(1);
                    }
                }
                let mut owners: Vec<bool> = left.iter().map(|&c| c > 0).collect();
                owners.resize(buckets.len(), false);
                let packed =
                    Packed::with_owners(&sorted.points, &owners, index.low_bits(), sorted.threads);
                (index, Points::Packed(packed))
            }
        };
        Ok(Self {
            version,
            options: *options,
            index,
            points,
            addrs,
            socket_points,
        })
    }

    /// A ring with this one's version and options and other points.
    pub(crate) fn with_points(
        &self,
        points: Points,
        addrs: Box<[Option<SocketAddr>]>,
        socket_points: bool,
    ) -> Self {
        Self {
            version: self.version,
            options: self.options,
            index: SlotIndex::empty(),
            points,
            addrs,
            socket_points,
        }
    }

    /// The version this ring was built with.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The number of points on the ring (after duplicate hashes are dropped).
    pub fn len(&self) -> usize {
        match &self.points {
            Points::Wide(points) => points.len(),
            Points::Chunked(c) => c.len,
            Points::Packed(p) => p.len(),
        }
    }

    /// Whether the ring has no point: no bucket, or only buckets of weight 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of buckets the ring was built from, including those of weight 0.
    pub fn bucket_count(&self) -> usize {
        self.addrs.len()
    }

    /// The heap memory this ring holds, in bytes: points, lookup table and the per-bucket addresses.
    pub fn heap_size(&self) -> usize {
        let points = match &self.points {
            Points::Wide(points) => std::mem::size_of_val(&**points),
            Points::Chunked(c) => c.heap_size(),
            Points::Packed(p) => p.heap_size(),
        };
        points + self.index.heap_size() + std::mem::size_of_val(&*self.addrs)
    }

    /// The position of the point `key` maps to: the first point whose hash is `>=` the key's CRC32,
    /// or point 0 past the last one. 0 on an empty ring.
    #[inline]
    pub fn node_idx(&self, key: &[u8]) -> usize {
        self.node_idx_by_hash(hash(key))
    }

    /// [`node_idx`](Self::node_idx) for a key whose CRC32 ([`hash`]) is already known.
    #[inline]
    pub fn node_idx_by_hash(&self, hash: u32) -> usize {
        let (lo, hi) = self.index.range(hash);
        let pos = match &self.points {
            Points::Wide(points) => {
                let key = u64::from(hash) << 32;
                crate::index::first_not_below(lo, hi, |i| points.get(i).is_some_and(|&p| p < key))
            }
            Points::Chunked(c) => c.find(hash).1,
            Points::Packed(p) => {
                let low = (u64::from(hash) & ((1u64 << self.index.low_bits()) - 1)) as u32;
                p.search(lo, hi, low)
            }
        };
        if pos >= self.len() { 0 } else { pos }
    }

    /// The socket address of the bucket `key` maps to; `None` on an empty ring or when that bucket
    /// has no socket address (a Unix socket or a host name: use [`bucket_idx`](Self::bucket_idx)).
    #[inline]
    pub fn node(&self, key: &[u8]) -> Option<SocketAddr> {
        self.bucket_addr(self.bucket_idx(key)?).copied()
    }

    /// The index (in the slice the ring was built from) of the bucket `key` maps to; `None` on an
    /// empty ring. Works for every kind of bucket.
    #[inline]
    pub fn bucket_idx(&self, key: &[u8]) -> Option<usize> {
        self.point_bucket(self.node_idx(key))
    }

    /// The bucket index of the point at position `idx`, or `None` past the end.
    #[inline]
    pub fn point_bucket(&self, idx: usize) -> Option<usize> {
        match &self.points {
            Points::Wide(points) => points.get(idx).map(|&p| p as u32 as usize),
            Points::Chunked(c) => c.point_at(idx).map(|p| c.index_of(p)),
            Points::Packed(p) => (idx < p.len()).then(|| p.bucket(idx)),
        }
    }

    /// The hash of the point at position `idx`, or `None` past the end. Points are in increasing hash
    /// order.
    pub fn point_hash(&self, idx: usize) -> Option<u32> {
        match &self.points {
            Points::Wide(points) => points.get(idx).map(|&p| (p >> 32) as u32),
            Points::Chunked(c) => c.point_at(idx).map(|p| (p >> 32) as u32),
            Points::Packed(p) => (idx < p.len()).then(|| self.index.hash_at(idx, p.low_hash(idx))),
        }
    }

    /// The socket address of bucket `bucket` (see [`Bucket::addr`]), or `None`.
    #[inline]
    pub fn bucket_addr(&self, bucket: usize) -> Option<&SocketAddr> {
        self.addrs.get(bucket)?.as_ref()
    }

    /// The socket addresses of the points from `key`'s point onwards, wrapping around the ring
    /// forever: the failover order. Points of buckets without a socket address are skipped; the
    /// iterator is empty when no point has one. Consecutive items may repeat a bucket.
    pub fn node_iter(&self, key: &[u8]) -> NodeIterator<'_> {
        NodeIterator::new(self, self.node_idx(key))
    }

    /// The bucket indices of the points from `key`'s point onwards, wrapping around the ring forever
    /// (empty on an empty ring). Allocation-free; `take(ring.len())` visits every point once.
    pub fn bucket_iter(&self, key: &[u8]) -> BucketIterator<'_> {
        BucketIterator::new(self, self.node_idx(key))
    }

    /// [`bucket_iter`](Self::bucket_iter) from point position `idx` (e.g. from
    /// [`node_idx_by_hash`](Self::node_idx_by_hash)); empty if `idx` is past the end. On a chunked
    /// ring ([`Layout`](crate::Layout)) finding a position's point takes a binary search of the chunk table: from
    /// a key's hash, [`bucket_iter_by_hash`](Self::bucket_iter_by_hash) is faster.
    pub fn bucket_iter_at(&self, idx: usize) -> BucketIterator<'_> {
        BucketIterator::new(self, idx)
    }

    /// [`bucket_iter`](Self::bucket_iter) for a key whose CRC32 ([`hash`]) is already known: the
    /// same as `bucket_iter_at(node_idx_by_hash(hash))`, and the fastest way to the bucket a key
    /// maps to and the failover order after it.
    #[inline]
    pub fn bucket_iter_by_hash(&self, hash: u32) -> BucketIterator<'_> {
        BucketIterator::from_hash(self, hash)
    }

    /// The socket address of the point at `*idx`, moving `*idx` to the next point (wrapping). Returns
    /// `None` without moving when `*idx` is past the end; returns `None` but still moves when that
    /// point's bucket has no socket address.
    #[inline]
    pub fn get_addr(&self, idx: &mut usize) -> Option<&SocketAddr> {
        let bucket = self.point_bucket(*idx)?;
        *idx = self.next_idx(*idx);
        self.bucket_addr(bucket)
    }

    /// The position after `idx`, wrapping to 0 (no division on the hot path).
    #[inline]
    pub(crate) fn next_idx(&self, idx: usize) -> usize {
        if idx + 1 >= self.len() { 0 } else { idx + 1 }
    }

    pub(crate) fn has_socket_points(&self) -> bool {
        self.socket_points
    }
}

impl fmt::Debug for Continuum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Continuum")
            .field("version", &self.version)
            .field("points", &self.len())
            .field("buckets", &self.bucket_count())
            .field("heap_size", &self.heap_size())
            .finish()
    }
}
