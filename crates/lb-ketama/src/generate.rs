//! Generating the points of a run of buckets, straight into partitions by their top hash bits.
//!
//! A point is the key `hash << 32 | bucket`. The top 8 bits of the hash pick one of 256
//! partitions: few enough for the generating loop's writes to stay in a few hundred sequential
//! streams, many enough for a partition of a large ring (a few thousand points) to sort in cache.

use std::ops::Range;

use crate::bucket::Bucket;
use crate::crc::PointChain;

/// The number of top hash bits that choose a point's partition.
pub(crate) const PARTITION_BITS: u32 = 8;
/// The number of partitions.
pub(crate) const PARTITIONS: usize = 1 << PARTITION_BITS;

/// The partition of a key.
#[inline(always)]
pub(crate) fn partition_of(key: u64) -> usize {
    (key >> (64 - PARTITION_BITS)) as usize
}

/// Chains generated side by side: their table lookups overlap instead of waiting on each other.
const LANES: usize = 4;

/// The points of one bucket that has some: its index, its hash chain and how many points it gets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Chain {
    id: u64,
    prefix: u32,
    chain: PointChain,
    count: u32,
}

/// The chains of the buckets with points among `buckets`, whose indices start at `first` and whose
/// point counts are `counts`.
fn chains(buckets: &[Bucket], counts: &[u32], first: usize) -> Vec<Chain> {
    let mut scratch = String::new();
    buckets
        .iter()
        .zip(counts)
        .enumerate()
        .filter(|(_, (_, c))| **c > 0)
        .map(|(i, (b, &count))| {
            let prefix = b.prefix_hash(&mut scratch);
            Chain {
                id: (first + i) as u64,
                prefix,
                chain: PointChain::new(prefix),
                count,
            }
        })
        .collect()
}

/// Splits the buckets into `parts` runs in order, of about `total / parts` points each (a bucket's
/// chain is never split; a run may be empty), as ranges of bucket indices.
pub(crate) fn split(counts: &[u32], total: usize, parts: usize) -> Vec<Range<usize>> {
    let mut runs = Vec::with_capacity(parts);
    let (mut start, mut end, mut done) = (0usize, 0usize, 0usize);
    for part in 1..parts {
        let target = total / parts * part;
        while end < counts.len() && done < target {
            done += counts[end] as usize;
            end += 1;
        }
        runs.push(start..end);
        start = end;
    }
    runs.push(start..counts.len());
    runs
}

/// Room for the points of one partition when `points` points spread over the partitions: uniform
/// hashes put `points / 256` in each, give or take its square root, and a margin of 6 square roots
/// overflows about once in 10^9 partitions.
pub(crate) fn room_for(points: usize) -> usize {
    let expect = points / PARTITIONS;
    expect + 6 * (expect as f64).sqrt() as usize + 16
}

/// What [`generate`] wrote: `fill[p]` points at the start of region `p`, and the points that found
/// their region full, in any order.
#[derive(Debug)]
pub(crate) struct Generated {
    pub(crate) fill: Vec<usize>,
    pub(crate) spill: Vec<u64>,
    /// `crc32(HOST "\0" PORT)` of each bucket of the run (0 for a bucket without points).
    pub(crate) prefixes: Vec<u32>,
}

/// Writes every point of `buckets` (whose indices start at `first`, and whose point counts are
/// `counts`) into `regions[partition]` (one region per partition), in any order within a partition;
/// a point whose region is full goes to the spill list.
pub(crate) fn generate(
    buckets: &[Bucket],
    counts: &[u32],
    first: usize,
    regions: &mut [&mut [u64]],
) -> Generated {
    debug_assert_eq!(regions.len(), PARTITIONS);
    let chains = chains(buckets, counts, first);
    let mut prefixes = vec![0u32; buckets.len()];
    for c in &chains {
        if let Some(p) = prefixes.get_mut(c.id as usize - first) {
            *p = c.prefix;
        }
    }
    let mut fill = vec![0usize; PARTITIONS];
    let mut spill = Vec::new();
    let mut push = |key: u64| {
        let p = partition_of(key);
        // `regions` and `fill` have one entry per partition, and `p` is a partition.
        let at = fill[p];
        match regions[p].get_mut(at) {
            Some(slot) => {
                *slot = key;
                fill[p] = at + 1;
            }
            None => spill.push(key),
        }
    };
    let mut groups = chains.chunks_exact(LANES);
    for group in &mut groups {
        let mut lanes = [PointChain::new(0); LANES];
        let mut left = [0u32; LANES];
        let mut ids = [0u64; LANES];
        for (l, c) in group.iter().enumerate() {
            lanes[l] = c.chain;
            left[l] = c.count;
            ids[l] = c.id;
        }
        // All lanes step together for as long as the shortest lasts, then each finishes alone.
        let common = left.iter().copied().min().unwrap_or(0);
        for _ in 0..common {
            for l in 0..LANES {
                let h = lanes[l].step();
                push((u64::from(h) << 32) | ids[l]);
            }
        }
        for l in 0..LANES {
            for _ in common..left[l] {
                let h = lanes[l].step();
                push((u64::from(h) << 32) | ids[l]);
            }
        }
    }
    for c in groups.remainder() {
        let mut chain = c.chain;
        for _ in 0..c.count {
            let h = chain.step();
            push((u64::from(h) << 32) | c.id);
        }
    }
    Generated {
        fill,
        spill,
        prefixes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Overflow, plan};

    fn ring(weights: &[u32]) -> (Vec<Bucket>, crate::plan::Plan) {
        let buckets: Vec<Bucket> = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| Bucket::named(format!("10.0.{}.{}:80", i / 200, i % 200), w))
            .collect();
        let p = plan(&buckets, 160, 1 << 26, Overflow::Fail).unwrap();
        (buckets, p)
    }

    #[test]
    fn runs_split_the_points_evenly_and_in_order() {
        let (buckets, p) = ring(&[1, 0, 3, 1, 1, 2, 0, 1, 1, 1, 5, 1]);
        let c = chains(&buckets[2..], &p.counts[2..], 2);
        assert_eq!(c.len(), 9, "weight 0 makes no chain");
        assert_eq!(c[0].id, 2);
        for parts in 1..=4 {
            let runs = split(&p.counts, p.total, parts);
            assert_eq!(runs.len(), parts);
            assert_eq!(runs[0].start, 0);
            assert_eq!(runs[parts - 1].end, buckets.len());
            for (run, next) in runs.iter().zip(&runs[1..]) {
                assert_eq!(run.end, next.start);
            }
            for run in &runs {
                let points: usize = p.counts[run.clone()].iter().map(|&c| c as usize).sum();
                // Never more than one share plus the bucket that crossed the line (5 * 160).
                assert!(points <= p.total / parts + 800, "{parts} parts: {points}");
            }
        }
        assert_eq!(split(&[], 0, 3), [0..0, 0..0, 0..0]);
    }

    #[test]
    fn every_point_lands_in_its_partition_or_the_spill() {
        let (buckets, p) = ring(&[1, 2, 1, 3, 1, 1, 1]);
        for room in [0usize, 2, 5, 100] {
            let mut buf = vec![0u64; room * PARTITIONS];
            let mut regions: Vec<&mut [u64]> = buf.chunks_mut(room.max(1)).collect();
            regions.resize_with(PARTITIONS, Default::default);
            let g = generate(&buckets, &p.counts, 0, &mut regions);
            let mut all: Vec<u64> = g.spill.clone();
            for (part, (region, &fill)) in regions.iter().zip(&g.fill).enumerate() {
                assert!(region[..fill].iter().all(|&k| partition_of(k) == part));
                all.extend_from_slice(&region[..fill]);
            }
            assert_eq!(all.len(), p.total, "room {room}");
            all.sort_unstable();
            let mut want = Vec::new();
            for (i, b) in buckets.iter().enumerate() {
                let mut chain = PointChain::new(b.prefix_hash(&mut String::new()));
                for _ in 0..p.counts[i] {
                    want.push((u64::from(chain.step()) << 32) | i as u64);
                }
            }
            want.sort_unstable();
            assert_eq!(all, want, "room {room}");
        }
    }
}
