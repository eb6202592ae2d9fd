//! The lookup table on the top bits of the hash that turns a key's search over the whole ring into a
//! scan of a few points.

/// `starts[s]` is the position of the first point whose hash has `s` as its top `bits` bits (or the
/// position after the last point, for a slot with no point and none after it). `starts` has
/// `2^bits + 1` entries and ends with the number of points, so slot `s` is `starts[s]..starts[s + 1]`.
#[derive(Clone, Debug)]
pub(crate) struct SlotIndex {
    starts: Box<[u32]>,
    /// `32 - bits`: a hash's slot is `hash >> shift` (computed in 64 bits, so `bits = 0` works).
    shift: u32,
}

/// How many top bits to index for `points` points so that a slot holds `2^per_slot_log2` to
/// `2^(per_slot_log2 + 1)` points on average.
pub(crate) fn index_bits(points: usize, per_slot_log2: u32) -> u32 {
    if points == 0 {
        return 0;
    }
    (usize::BITS - 1 - points.leading_zeros())
        .saturating_sub(per_slot_log2)
        .min(32)
}

impl SlotIndex {
    /// An index over `bits` top bits. `starts` must have `2^bits + 1` non-decreasing entries.
    pub(crate) fn new(starts: Box<[u32]>, bits: u32) -> Self {
        debug_assert_eq!(starts.len(), (1usize << bits) + 1);
        Self {
            starts,
            shift: 32 - bits,
        }
    }

    /// The index of an empty ring.
    pub(crate) fn empty() -> Self {
        Self {
            starts: Box::new([0, 0]),
            shift: 32,
        }
    }

    /// The number of low hash bits that the slot does not determine.
    pub(crate) fn low_bits(&self) -> u32 {
        self.shift
    }

    /// The positions of the points that share `hash`'s top bits. Every point before the range has a
    /// smaller hash and every point after it a larger one.
    #[inline(always)]
    pub(crate) fn range(&self, hash: u32) -> (usize, usize) {
        let slot = ((hash as u64) >> self.shift) as usize;
        // `slot < 2^bits` because `hash < 2^32`, and `starts` has `2^bits + 1` entries.
        (self.starts[slot] as usize, self.starts[slot + 1] as usize)
    }

    /// The full hash of the point at `pos`, given the low bits stored for it.
    pub(crate) fn hash_at(&self, pos: usize, low: u32) -> u32 {
        // The slot of `pos` is the last one that starts at or before it.
        let slot = self
            .starts
            .partition_point(|&s| s as usize <= pos)
            .saturating_sub(1);
        let high = ((slot as u64) << self.shift) as u32;
        high | low
    }

    /// Heap bytes held.
    pub(crate) fn heap_size(&self) -> usize {
        std::mem::size_of_val(&*self.starts)
    }

    /// The same index over fewer bits: slot `s` of the result covers slots `s << d .. (s + 1) << d`.
    pub(crate) fn coarsen(&self, bits: u32) -> Self {
        let have = 32 - self.shift;
        let bits = bits.min(have);
        let step = 1usize << (have - bits);
        let starts: Box<[u32]> = self.starts.iter().step_by(step).copied().collect();
        Self::new(starts, bits)
    }
}

/// Positions of a slot that [`first_not_below`] counts without a data-dependent branch: a V1
/// slot holds 1 to 4 points.
const WINDOW: usize = 4;

/// The first position in `lo..hi` whose point is not below the hash, or `hi`: the number of
/// positions `below` accepts, given that it accepts a prefix of the slot.
///
/// The first [`WINDOW`] positions are counted without a data-dependent branch: a loop that stops
/// at the first point at or past the hash mispredicts its exit on almost every lookup, a few
/// nanoseconds each time. `below` may be asked about up to [`WINDOW`] positions past `hi` (and
/// past the end of the points); its answer there is ignored.
#[inline(always)]
pub(crate) fn first_not_below(lo: usize, hi: usize, below: impl Fn(usize) -> bool) -> usize {
    let len = hi.saturating_sub(lo);
    let mut count = 0;
    for j in 0..WINDOW {
        count += usize::from((j < len) & below(lo + j));
    }
    if count < WINDOW || len <= WINDOW {
        return lo + count;
    }
    // A long slot (rare): walk the rest.
    let mut i = lo + WINDOW;
    while i < hi && below(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_not_below_counts_the_accepted_prefix_of_any_slot() {
        // Slots shorter than, as long as and longer than the window, at any offset; `below`
        // accepts `cut - lo` positions and, past them, nothing (as a sorted slot does).
        for lo in [0usize, 3, 100] {
            for len in 0..=12 {
                for accepted in 0..=len {
                    let cut = lo + accepted;
                    let got = first_not_below(lo, lo + len, |i| i < cut);
                    assert_eq!(got, cut, "lo {lo}, len {len}, accepted {accepted}");
                }
            }
        }
        // Positions past `hi` may be accepted by `below` (the next slot's points): ignored.
        assert_eq!(first_not_below(5, 7, |_| true), 7);
        assert_eq!(first_not_below(5, 5, |_| true), 5);
    }

    #[test]
    fn bits_follow_the_point_count() {
        assert_eq!(index_bits(0, 1), 0);
        assert_eq!(index_bits(1, 1), 0);
        assert_eq!(index_bits(4, 1), 1);
        assert_eq!(index_bits(1_600_000, 1), 19);
        assert_eq!(index_bits(1_600_000, 2), 18);
    }

    #[test]
    fn ranges_and_hashes_of_a_small_index() {
        // Two bits: slots start at 0x0000_0000, 0x4000_0000, 0x8000_0000, 0xc000_0000.
        let hashes = [0x1000_0000u32, 0x2000_0000, 0x9000_0000, 0xf000_0000];
        let idx = SlotIndex::new(Box::new([0, 2, 2, 3, 4]), 2);
        assert_eq!(idx.range(0x0000_0001), (0, 2));
        assert_eq!(idx.range(0x5000_0000), (2, 2));
        assert_eq!(idx.range(0xffff_ffff), (3, 4));
        for (pos, &h) in hashes.iter().enumerate() {
            assert_eq!(idx.hash_at(pos, h & 0x3fff_ffff), h);
        }
        let one = idx.coarsen(1);
        assert_eq!(one.range(0x1000_0000), (0, 2));
        assert_eq!(one.range(0x8000_0000), (2, 4));
        assert_eq!(one.low_bits(), 31);
    }
}
