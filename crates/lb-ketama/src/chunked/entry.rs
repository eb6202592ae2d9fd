//! One entry of the chunk table: where a chunk's points are and how they fall into its sub-slots.
//!
//! An entry is two words. The first holds the chunk's *rank* (the position of its first point in
//! the ring, 32 bits) and its *location* (32 bits: the buffer above [`OFF_BITS`], the offset of its
//! first point in that buffer below). The second holds, in byte `j`, how many of the chunk's points
//! fall in sub-slots `0..=j`, counting at most to [`LONG`]: byte 7 is the chunk's length, and a
//! length of [`LONG`] means "that many or more", for which a lookup searches the whole chunk.

/// A chunk table entry: see the module docs.
pub(crate) type Entry = [u64; 2];

/// Sub-slots per chunk, as a power of two.
pub(crate) const SUBS_LOG2: u32 = 3;
/// Sub-slots per chunk.
pub(crate) const SUBS: usize = 1 << SUBS_LOG2;
/// Bits of a location that hold the offset; the bits above hold the buffer.
pub(crate) const OFF_BITS: u32 = 27;
const OFF_MASK: u64 = (1 << OFF_BITS) - 1;
/// The most buffers a ring spreads its points over: the base and 31 more, numbered by the 5
/// location bits above the offset.
pub(crate) const MAX_BUFFERS: usize = 1 << (32 - OFF_BITS);
/// A chunk of this many points or more is *long*: its sub-slot counts saturate here, and lookups
/// search the whole chunk.
pub(crate) const LONG: usize = 255;

/// An entry for a chunk of rank `rank` whose points are at `off` in buffer `buf`, with sub-slot
/// ends `ends` (see [`ends_of`]).
#[inline]
pub(crate) fn entry(rank: usize, buf: usize, off: usize, ends: u64) -> Entry {
    debug_assert!(off as u64 <= OFF_MASK && buf < MAX_BUFFERS && rank <= u32::MAX as usize);
    let loc = ((buf as u64) << OFF_BITS) | (off as u64 & OFF_MASK);
    [(rank as u64 & 0xffff_ffff) | (loc << 32), ends]
}

/// The rank of an entry's chunk: the position of its first point.
#[inline(always)]
pub(crate) fn rank(e: &Entry) -> usize {
    e[0] as u32 as usize
}

/// The buffer and offset of an entry's first point.
#[inline(always)]
pub(crate) fn loc(e: &Entry) -> (usize, usize) {
    let loc = e[0] >> 32;
    ((loc >> OFF_BITS) as usize, (loc & OFF_MASK) as usize)
}

/// The entry with its rank moved by `by` (which keeps it in `0..2^32`).
#[inline(always)]
pub(crate) fn shifted(e: &Entry, by: i64) -> Entry {
    let rank = (e[0] as u32).wrapping_add(by as u32);
    [(e[0] & !0xffff_ffff) | u64::from(rank), e[1]]
}

/// The entry moved to `off` in buffer `buf`.
#[inline]
pub(crate) fn moved(e: &Entry, buf: usize, off: usize) -> Entry {
    entry(rank(e), buf, off, e[1])
}

/// The sub-slot points `lo..hi` of sub-slot `sub` (`0..SUBS`), relative to the chunk's first
/// point. Meaningful for a chunk that is not long.
#[inline(always)]
pub(crate) fn sub_range(e: &Entry, sub: u32) -> (usize, usize) {
    let ends = e[1];
    let lo = ((ends << 8) >> (8 * sub)) & 0xff;
    let hi = (ends >> (8 * sub)) & 0xff;
    (lo as usize, hi as usize)
}

/// The length byte: the chunk's length, or [`LONG`] for a long chunk.
#[inline(always)]
pub(crate) fn short_len(e: &Entry) -> usize {
    (e[1] >> 56) as usize
}

/// The sub-slot ends of a chunk whose sub-slots hold `counts[j]` points each.
pub(crate) fn ends_from_counts(counts: &[u32; SUBS]) -> u64 {
    let mut ends = 0u64;
    let mut total = 0usize;
    for (j, &c) in counts.iter().enumerate() {
        total += c as usize;
        ends |= (total.min(LONG) as u64) << (8 * j);
    }
    ends
}

/// The sub-slot ends of a chunk holding `points` (sorted `hash << 32 | bucket` keys), whose
/// sub-slot is `(hash >> sub_shift) % SUBS`.
pub(crate) fn ends_of(points: &[u64], sub_shift: u32) -> u64 {
    let mut counts = [0u32; SUBS];
    for &p in points {
        counts[sub_of((p >> 32) as u32, sub_shift)] += 1;
    }
    ends_from_counts(&counts)
}

/// The sub-slot of a hash.
#[inline(always)]
pub(crate) fn sub_of(hash: u32, sub_shift: u32) -> usize {
    ((u64::from(hash) >> sub_shift) as usize) & (SUBS - 1)
}

/// Writes the entries of consecutive chunks while their points are written in hash order, one
/// after the other from position 0: how a build indexes the points it sorts.
#[derive(Debug)]
pub(crate) struct ChunkWriter<'a> {
    entries: &'a mut [Entry],
    /// The chunk of `entries[0]`.
    first: usize,
    chunk_shift: u32,
    sub_shift: u32,
    /// The chunk being counted, as an index into `entries`.
    cur: usize,
    /// The position of its first point.
    start: usize,
    counts: [u32; SUBS],
}

impl<'a> ChunkWriter<'a> {
    /// A writer of `entries`, the entries of chunks `first..first + entries.len()`.
    pub(crate) fn new(entries: &'a mut [Entry], first: usize, chunk_shift: u32) -> Self {
        Self {
            entries,
            first,
            chunk_shift,
            sub_shift: chunk_shift - SUBS_LOG2,
            cur: 0,
            start: 0,
            counts: [0; SUBS],
        }
    }

    /// The point of hash `hash` is written at position `at`: after every point written before.
    #[inline(always)]
    pub(crate) fn point(&mut self, hash: u32, at: usize) {
        let c = ((u64::from(hash) >> self.chunk_shift) as usize).wrapping_sub(self.first);
        if c != self.cur {
            self.close_to(c, at);
        }
        self.counts[sub_of(hash, self.sub_shift)] += 1;
    }

    /// Ends the current chunk and every empty one before chunk `c`, which starts at `at`.
    #[cold]
    fn close_to(&mut self, c: usize, at: usize) {
        let c = c.min(self.entries.len());
        if let Some(e) = self.entries.get_mut(self.cur) {
            *e = entry(self.start, 0, self.start, ends_from_counts(&self.counts));
        }
        for e in self.entries.iter_mut().take(c).skip(self.cur + 1) {
            *e = entry(at, 0, at, 0);
        }
        self.cur = c;
        self.start = at;
        self.counts = [0; SUBS];
    }

    /// Ends the current chunk and every chunk after it, which are empty.
    pub(crate) fn finish(mut self) -> &'a mut [Entry] {
        let n = self.entries.len();
        self.close_to(n, written_or(self.start, &self.counts));
        self.entries
    }
}

/// The position after the current chunk's points.
fn written_or(start: usize, counts: &[u32; SUBS]) -> usize {
    start + counts.iter().map(|&c| c as usize).sum::<usize>()
}

/// Adds `by` to the rank and the offset of every entry (of buffer 0): how a parallel build moves a
/// job's chunks behind the points of the jobs before it.
pub(crate) fn shift_all(entries: &mut [Entry], by: usize) {
    let by = by as u64;
    for e in entries {
        e[0] += by | (by << 32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let e = entry(
            123_456,
            7,
            99_999,
            ends_from_counts(&[1, 0, 2, 0, 0, 3, 0, 1]),
        );
        assert_eq!(rank(&e), 123_456);
        assert_eq!(loc(&e), (7, 99_999));
        assert_eq!(short_len(&e), 7);
        assert_eq!(sub_range(&e, 0), (0, 1));
        assert_eq!(sub_range(&e, 1), (1, 1));
        assert_eq!(sub_range(&e, 2), (1, 3));
        assert_eq!(sub_range(&e, 5), (3, 6));
        assert_eq!(sub_range(&e, 7), (6, 7));
        assert_eq!(rank(&shifted(&e, -23_456)), 100_000);
        assert_eq!(loc(&shifted(&e, 5)), (7, 99_999));
        let m = moved(&e, 31, (1 << OFF_BITS) - 1);
        assert_eq!((rank(&m), loc(&m)), (123_456, (31, (1 << OFF_BITS) - 1)));
        assert_eq!(m[1], e[1]);
    }

    #[test]
    fn long_chunks_saturate() {
        let e = entry(0, 0, 0, ends_from_counts(&[200, 100, 0, 0, 0, 0, 0, 1]));
        assert_eq!(short_len(&e), LONG);
        assert_eq!(sub_range(&e, 0), (0, 200));
        assert_eq!(sub_range(&e, 1), (200, LONG));
    }

    #[test]
    fn the_writer_indexes_points_written_in_order() {
        // 4 chunks of 2^30 hashes each: chunk shift 30, sub-slot shift 27.
        let hashes = [0x4000_0000u32, 0x4800_0001, 0x4800_0002, 0xf000_0000];
        let mut entries = [[u64::MAX; 2]; 4];
        let mut w = ChunkWriter::new(&mut entries, 0, 30);
        for (at, &h) in hashes.iter().enumerate() {
            w.point(h, at);
        }
        w.finish();
        let ranks: Vec<usize> = entries.iter().map(rank).collect();
        assert_eq!(ranks, [0, 0, 3, 3]);
        let lens: Vec<usize> = entries.iter().map(short_len).collect();
        assert_eq!(lens, [0, 3, 0, 1]);
        assert_eq!(sub_range(&entries[1], 0), (0, 1));
        assert_eq!(sub_range(&entries[1], 1), (1, 3));
        assert_eq!(sub_range(&entries[3], 6), (0, 1));
        assert_eq!(loc(&entries[3]), (0, 3));
        shift_all(&mut entries, 10);
        assert_eq!(rank(&entries[3]), 13);
        assert_eq!(loc(&entries[3]), (0, 13));
    }

    #[test]
    fn a_writer_for_a_later_range_of_chunks() {
        let mut entries = [[0u64; 2]; 2];
        let mut w = ChunkWriter::new(&mut entries, 2, 30);
        w.point(0xc000_0001, 0);
        w.finish();
        assert_eq!(entries.iter().map(short_len).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(entries.iter().map(rank).collect::<Vec<_>>(), [0, 0]);
        assert_eq!(ends_of(&[0xc000_0001u64 << 32], 27), entries[1][1]);
    }
}
