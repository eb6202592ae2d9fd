//! What a chunked ring keeps for updates beyond what a lookup needs: each bucket id's name hash
//! and point count, the points that lost a tie, and how many points each buffer still serves.

/// The bookkeeping of a chunked ring; see the module docs.
#[derive(Clone, Debug)]
pub(crate) struct Book {
    /// `crc32(HOST "\0" PORT)` of each bucket id with points (see `Bucket::prefix_hash`).
    pub(crate) prefix: Box<[u32]>,
    /// The points of each bucket id (before ties are resolved).
    pub(crate) count: Box<[u32]>,
    /// The bucket id of each bucket index.
    pub(crate) id_of: Box<[u32]>,
    /// Ids no bucket has, for buckets that join.
    pub(crate) free: Box<[u32]>,
    /// Every point that lost a tie to a point of the same hash, as `hash << 32 | id`, sorted: when
    /// the winner leaves, the best of them takes its place.
    pub(crate) hidden: Box<[u64]>,
    /// The sum of `count`: the points the ring would have without ties.
    pub(crate) planned: u64,
    /// Whether the build scaled the weights down to fit (then `count` is not weight times the
    /// point multiple, and an update builds afresh).
    pub(crate) scaled: bool,
    /// The points of the ring held in each buffer (0, the base, first): the rest of a buffer is
    /// points that chunks written since have replaced.
    pub(crate) live: Box<[u64]>,
}

impl Book {
    /// Heap bytes held.
    pub(crate) fn heap_size(&self) -> usize {
        std::mem::size_of_val(&*self.prefix)
            + std::mem::size_of_val(&*self.count)
            + std::mem::size_of_val(&*self.id_of)
            + std::mem::size_of_val(&*self.free)
            + std::mem::size_of_val(&*self.hidden)
            + std::mem::size_of_val(&*self.live)
    }
}
