//! The compact point storage of [`Version::V2`](crate::Version::V2).
//!
//! A point's slot in the [`SlotIndex`](crate::index::SlotIndex) already fixes the top bits of its
//! hash, so only the low `hash_bits` are stored, next to the point's bucket in `rank_bits` bits. The
//! two are packed into one `width`-bit entry (`rank << hash_bits | low hash`), entries back to back
//! in a byte array. Reading one is a single unaligned 8-byte load, a shift and a mask; the array has
//! 8 bytes of padding so that load never runs off the end.
//!
//! The "rank" of a bucket is its index among the buckets that have points. When every bucket has
//! points it is the bucket index itself and no table is kept; otherwise `rank_to_bucket` maps it
//! back, so buckets of weight 0 do not widen the entries.
//!
//! A large ring is packed on several threads, each writing a run of a multiple of 64 entries: a
//! whole number of 8-byte words.

use crate::workers;

/// Bit-packed points: see the module docs.
#[derive(Clone, Debug)]
pub(crate) struct Packed {
    bytes: Box<[u8]>,
    len: usize,
    width: u32,
    hash_bits: u32,
    mask: u64,
    rank_to_bucket: Option<Box<[u32]>>,
}

/// Writes the entries of `points` back to back, little-endian, from the start of `out`, which has
/// room for them.
fn pack(points: &[u64], out: &mut [u8], rank_of: Option<&[u32]>, hash_bits: u32, width: u32) {
    let low_mask = (1u64 << hash_bits) - 1;
    // A little-endian bit writer: entries accumulate in `acc` and leave it 8 bytes at a time.
    let (mut acc, mut held, mut at) = (0u128, 0u32, 0usize);
    for &k in points {
        let (h, b) = ((k >> 32) as u32, k as u32);
        let rank = rank_of.map_or(b, |r| r[b as usize]);
        let entry = (u64::from(rank) << hash_bits) | (u64::from(h) & low_mask);
        acc |= u128::from(entry) << held;
        held += width;
        if held >= 64 {
            out[at..at + 8].copy_from_slice(&(acc as u64).to_le_bytes());
            at += 8;
            acc >>= 64;
            held -= 64;
        }
    }
    let tail = held.div_ceil(8) as usize;
    out[at..at + tail].copy_from_slice(&(acc as u64).to_le_bytes()[..tail]);
}

/// Bits needed to write every value below `n`.
fn bits_for(n: u64) -> u32 {
    u64::BITS - n.saturating_sub(1).leading_zeros()
}

impl Packed {
    /// [`with_owners`](Self::with_owners), finding the owners itself, on one thread.
    #[cfg(test)]
    pub(crate) fn new(points: &[u64], bucket_count: usize, hash_bits: u32) -> Self {
        let mut owners = vec![false; bucket_count];
        for &k in points {
            owners[k as u32 as usize] = true;
        }
        Self::with_owners(points, &owners, hash_bits, 1)
    }

    /// Packs sorted `hash << 32 | bucket` points, each hash keeping its low `hash_bits` bits and each
    /// bucket becoming a rank, on up to `threads` threads. `owners[b]` says whether bucket `b` owns
    /// one of `points`; there is one entry per bucket the ring was built from.
    pub(crate) fn with_owners(
        points: &[u64],
        owners: &[bool],
        hash_bits: u32,
        threads: usize,
    ) -> Self {
        // Ranks of the buckets that own points, in bucket order.
        let ranked = owners.iter().filter(|&&o| o).count();
        let (rank_of, rank_to_bucket) = if ranked == owners.len() {
            (None, None)
        } else {
            let mut rank_of = vec![0u32; owners.len()];
            let mut table = Vec::with_capacity(ranked);
            for (b, _) in owners.iter().enumerate().filter(|(_, o)| **o) {
                rank_of[b] = table.len() as u32;
                table.push(b as u32);
            }
            (Some(rank_of), Some(table.into_boxed_slice()))
        };
        let rank_bits = bits_for(ranked as u64);
        let width = hash_bits + rank_bits;
        // hash_bits <= 32 and rank_bits <= 27 for at most 2^26 points of which the index implies at
        // least (log2(points) - 2) top bits: width stays far below the 57 bits one load can read.
        debug_assert!(width <= 57, "entry width {width}");
        // Padding at the end, so that reading the last entry's 8-byte window stays in bounds.
        let mut bytes = vec![0u8; (points.len() * width as usize).div_ceil(8) + 8];
        // Each job packs a run of a multiple of 64 entries, which fills whole 8-byte words: the
        // runs' bytes are disjoint and every run but the last ends exactly at the next one's start.
        let run = points
            .len()
            .div_ceil(threads.max(1))
            .next_multiple_of(64)
            .max(64);
        let run_bytes = run * width as usize / 8;
        let jobs: Vec<(&[u64], &mut [u8])> = points
            .chunks(run)
            .zip(bytes.chunks_mut(run_bytes.max(1)))
            .collect();
        let rank_of = rank_of.as_deref();
        workers::run(threads, jobs, |(points, out)| {
            pack(points, out, rank_of, hash_bits, width)
        });
        Self {
            bytes: bytes.into_boxed_slice(),
            len: points.len(),
            width,
            hash_bits,
            mask: if width == 64 {
                u64::MAX
            } else {
                (1u64 << width) - 1
            },
            rank_to_bucket,
        }
    }

    /// The number of points.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The packed entry of the point at `pos`; 0 past the end (callers stay in range).
    #[inline(always)]
    fn entry(&self, pos: usize) -> u64 {
        let bit = pos * self.width as usize;
        let word = self.bytes.get(bit / 8..).and_then(|s| s.first_chunk::<8>());
        word.map_or(0, |w| (u64::from_le_bytes(*w) >> (bit % 8)) & self.mask)
    }

    /// The low hash bits of the point at `pos`.
    #[inline(always)]
    pub(crate) fn low_hash(&self, pos: usize) -> u32 {
        (self.entry(pos) & ((1u64 << self.hash_bits) - 1)) as u32
    }

    /// The bucket index of the point at `pos`.
    #[inline(always)]
    pub(crate) fn bucket(&self, pos: usize) -> usize {
        let rank = (self.entry(pos) >> self.hash_bits) as usize;
        match &self.rank_to_bucket {
            None => rank,
            Some(table) => table.get(rank).map_or(rank, |&b| b as usize),
        }
    }

    /// The first position in `lo..hi` whose low hash bits are `>= low`, or `hi`.
    #[inline(always)]
    pub(crate) fn search(&self, lo: usize, hi: usize, low: u32) -> usize {
        let mut i = lo;
        while i < hi && self.low_hash(i) < low {
            i += 1;
        }
        i
    }

    /// Heap bytes held.
    pub(crate) fn heap_size(&self) -> usize {
        self.bytes.len()
            + self
                .rank_to_bucket
                .as_ref()
                .map_or(0, |t| std::mem::size_of_val(&**t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_for_counts() {
        assert_eq!(bits_for(0), 0);
        assert_eq!(bits_for(1), 0);
        assert_eq!(bits_for(2), 1);
        assert_eq!(bits_for(10_000), 14);
        assert_eq!(bits_for(65_537), 17);
    }

    #[test]
    fn round_trips_entries_of_every_width() {
        // 70,001 buckets that all own a point: ranks are bucket indices, 17 bits wide.
        let n = 70_001usize;
        let hashes: Vec<u32> = (0..n as u32)
            .map(|i| i.wrapping_mul(2_654_435_761))
            .collect();
        let buckets: Vec<u32> = (0..n as u32).map(|i| (i * 7) % n as u32).collect();
        for hash_bits in [6u32, 13, 20, 32] {
            let points: Vec<u64> = hashes
                .iter()
                .zip(&buckets)
                .map(|(&h, &b)| (u64::from(h) << 32) | u64::from(b))
                .collect();
            let p = Packed::new(&points, n, hash_bits);
            assert_eq!(p.width, hash_bits + 17);
            assert!(p.rank_to_bucket.is_none());
            let low = |h: u32| (u64::from(h) & ((1u64 << hash_bits) - 1)) as u32;
            for i in 0..n {
                assert_eq!(
                    p.low_hash(i),
                    low(hashes[i]),
                    "hash_bits {hash_bits} pos {i}"
                );
                assert_eq!(
                    p.bucket(i),
                    buckets[i] as usize,
                    "hash_bits {hash_bits} pos {i}"
                );
            }
        }
    }

    #[test]
    fn packing_on_threads_writes_the_same_bytes() {
        // 70,001 points over 5,000 buckets of which every third owns none: ranks and odd widths.
        let points: Vec<u64> = (0..70_001u64)
            .map(|i| (i.wrapping_mul(2_654_435_761) & 0xffff_ffff) << 32 | (i % 1_667 * 3))
            .collect();
        let owners: Vec<bool> = (0..5_000).map(|b| b % 3 == 0).collect();
        for hash_bits in [9u32, 13, 31] {
            let one = Packed::with_owners(&points, &owners, hash_bits, 1);
            assert!(one.rank_to_bucket.is_some());
            for threads in [2, 3, 7, 64] {
                let many = Packed::with_owners(&points, &owners, hash_bits, threads);
                assert_eq!(
                    many.bytes, one.bytes,
                    "hash_bits {hash_bits}, {threads} threads"
                );
            }
            for i in (0..points.len()).step_by(997) {
                assert_eq!(one.bucket(i), (points[i] as u32) as usize, "pos {i}");
            }
        }
    }

    #[test]
    fn buckets_without_points_do_not_widen_entries() {
        // Bucket 1,000,000 of 1,000,001 owns every point; only one bucket has a rank.
        let p = Packed::new(&[5 << 32 | 1_000_000, 9 << 32 | 1_000_000], 1_000_001, 8);
        assert_eq!(p.width, 8);
        assert_eq!(p.bucket(0), 1_000_000);
        assert_eq!(p.bucket(1), 1_000_000);
        assert_eq!(p.search(0, 2, 6), 1);
        assert_eq!(p.search(0, 2, 10), 2);
    }
}
