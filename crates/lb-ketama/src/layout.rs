//! How a [`Version::V1`](crate::Version::V1) ring stores its points: [`Layout`].

/// From this many points on, [`Layout::Auto`] builds a chunked ring: 2^20 (1,048,576), a total
/// weight of 6,554 at 160 points per unit. Smaller rings build in a few milliseconds at most,
/// which is what an update of a flat ring costs.
pub const CHUNKED_MIN_POINTS: usize = 1 << 20;

/// How a [`Version::V1`](crate::Version::V1) ring stores its points, chosen with
/// [`Builder::layout`](crate::Builder::layout). Both map every key to the same bucket; they
/// differ in what a lookup and an update ([`Continuum::with_changes`](crate::Continuum::with_changes))
/// cost. [`Version::V2`](crate::Version::V2) rings have their own compact layout, which an update
/// builds afresh.
///
/// - **Flat**: one array of points in hash order and a lookup table on the top bits of the hash.
///   The fastest lookups; an update builds the ring again.
/// - **Chunked**: the hash space is cut into chunks of about 8 to 32 points, each stored apart,
///   and the lookup table says where each chunk is. An update writes only the chunks its points
///   fall in and shares the others with the ring it came from, so it costs what it changes plus
///   a copy of the lookup table (about a byte per point), not a build. A lookup reads where the
///   chunk is and maps the point's stable bucket id to the bucket's index: a few nanoseconds more
///   than flat on a small ring, about the same on a ring of millions of points, where the smaller
///   table misses the cache less. Positions ([`Continuum::point_bucket`](crate::Continuum::point_bucket),
///   [`Continuum::get_addr`](crate::Continuum::get_addr)) are found by a binary search of the
///   chunk table: iterate from a key or a hash instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Layout {
    /// Chunked from [`CHUNKED_MIN_POINTS`] points on, flat below: the default.
    #[default]
    Auto,
    /// Always flat.
    Flat,
    /// Always chunked.
    Chunked,
}

impl Layout {
    /// Whether a ring of `points` points is chunked.
    pub(crate) fn chunked(self, points: usize) -> bool {
        match self {
            Layout::Auto => points >= CHUNKED_MIN_POINTS,
            Layout::Flat => false,
            Layout::Chunked => true,
        }
    }
}
