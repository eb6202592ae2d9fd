//! Building a ring: the points of every bucket, sorted, de-duplicated and indexed.
//!
//! Points are `hash << 32 | bucket` keys. They are generated four chains at a time straight into 256
//! partitions by their top 8 hash bits, and each partition is then radix-sorted in cache
//! ([`PartitionSorter`]): no comparison sort over the whole ring, and no second ring-sized buffer.
//! Of points with equal hashes the one with the lowest bucket index is kept: the order nginx gets from
//! glibc's stable `qsort` over its servers in configuration order. Counting the points kept per slot
//! along the way gives the lookup table ([`SlotIndex`]).

use crate::bucket::Bucket;
use crate::crc::PointChain;
use crate::index::{SlotIndex, index_bits};
use crate::plan::Plan;
use crate::radix::{PartitionSorter, prefix_sum};

/// The sorted, de-duplicated points of a ring, each as `hash << 32 | bucket`, and the lookup table
/// over them.
#[derive(Debug)]
pub(crate) struct Sorted {
    pub(crate) points: Vec<u64>,
    pub(crate) index: SlotIndex,
}

/// The top 8 hash bits split the points into 256 partitions while they are generated: few enough
/// for the generating loop's writes to stay in a few hundred sequential streams, many enough for a
/// partition of a large ring (a few thousand points) to sort in cache.
const PARTITION_BITS: u32 = 8;
const PARTITIONS: usize = 1 << PARTITION_BITS;

/// The partition of a key.
#[inline(always)]
fn partition_of(key: u64) -> usize {
    (key >> (64 - PARTITION_BITS)) as usize
}

/// Chains generated side by side: their table lookups overlap instead of waiting on each other.
const LANES: usize = 4;

/// Generates, sorts and de-duplicates the points of `plan`, indexing `2^per_slot_log2` to
/// `2^(per_slot_log2 + 1)` points per slot.
///
/// One buffer holds the points from start to end. Generation writes each point into its partition's
/// region of the buffer (sized for the expected count plus a wide margin; the rare excess goes to a
/// spill list). Each partition is then sorted in a small scratch array and written back,
/// de-duplicated, to the front of the buffer: the points kept so far never outnumber the regions
/// already read, so this overwrites nothing still needed.
pub(crate) fn build(buckets: &[Bucket], plan: &Plan, per_slot_log2: u32) -> Sorted {
    build_with_room(buckets, plan, per_slot_log2, None)
}

/// [`build`] with the room of each partition's region forced, so tests can make points spill.
fn build_with_room(
    buckets: &[Bucket],
    plan: &Plan,
    per_slot_log2: u32,
    room: Option<usize>,
) -> Sorted {
    if plan.total == 0 {
        return Sorted {
            points: Vec::new(),
            index: SlotIndex::empty(),
        };
    }
    let bits = index_bits(plan.total, per_slot_log2);
    let Generated {
        mut buf,
        regions,
        mut spill,
    } = generate(buckets, plan, room);
    spill.sort_unstable();
    // With a spill, a partition may hold more points than its region: write to a separate buffer.
    let mut separate = if spill.is_empty() {
        None
    } else {
        Some(Vec::with_capacity(plan.total))
    };

    let mut sorter = PartitionSorter::default();
    // Points kept per index slot, turned into slot starts by a prefix sum at the end.
    let mut starts = vec![0u32; (1usize << bits) + 1];
    let slot_shift = 32 - bits;
    let slot_of = |key: u64| ((key >> 32) >> slot_shift) as usize;
    let mut w = 0usize;
    for (p, region) in regions.iter().enumerate() {
        let lo = spill.partition_point(|&k| partition_of(k) < p);
        let hi = spill.partition_point(|&k| partition_of(k) <= p);
        let sorted = sorter.sort(&buf[region.clone()], &spill[lo..hi]);
        let out = separate.as_mut().unwrap_or(&mut buf);
        // Only a separate buffer grows here: `buf` already spans every region.
        if out.len() < w + sorted.len() {
            out.resize(w + sorted.len(), 0);
        }
        // Keep the first point of each hash; of equal hashes keep the lowest bucket, the smallest key.
        // Partitions hold disjoint hashes, so the comparison starts afresh with each.
        let mut last = u64::MAX;
        for &key in sorted {
            if key >> 32 != last {
                last = key >> 32;
                out[w] = key;
                w += 1;
                starts[slot_of(key) + 1] += 1;
            } else if key < out[w - 1] {
                out[w - 1] = key;
            }
        }
    }
    let mut points = separate.unwrap_or(buf);
    points.truncate(w);
    prefix_sum(&mut starts);
    Sorted {
        points,
        index: SlotIndex::new(starts.into_boxed_slice(), bits),
    }
}

/// The points as generated: partition `p` in `buf[regions[p]]`, the excess of full regions in
/// `spill`.
struct Generated {
    buf: Vec<u64>,
    regions: Vec<std::ops::Range<usize>>,
    spill: Vec<u64>,
}

/// Every point as `hash << 32 | bucket`, split by partition. Within a partition the order is
/// arbitrary: the sort orders whole keys, bucket included.
fn generate(buckets: &[Bucket], plan: &Plan, room: Option<usize>) -> Generated {
    // Uniform hashes put `total / 256` points in each partition, give or take its square root: a
    // margin of 6 square roots overflows about once in 10^9 partitions.
    let expect = plan.total / PARTITIONS;
    let room = room.unwrap_or(expect + 6 * (expect as f64).sqrt() as usize + 16);
    let mut buf = vec![0u64; room * PARTITIONS];
    let mut cursor = [0usize; PARTITIONS];
    let mut end = [0usize; PARTITIONS];
    for p in 0..PARTITIONS {
        cursor[p] = p * room;
        end[p] = (p + 1) * room;
    }
    let mut spill = Vec::new();
    let mut push = |key: u64| {
        let p = partition_of(key);
        let c = cursor[p];
        if c < end[p] {
            buf[c] = key;
            cursor[p] = c + 1;
        } else {
            spill.push(key);
        }
    };

    let mut scratch = String::new();
    let weighted: Vec<(u64, PointChain, u32)> = buckets
        .iter()
        .zip(&plan.counts)
        .enumerate()
        .filter(|(_, (_, c))| **c > 0)
        .map(|(i, (b, &c))| (i as u64, PointChain::new(b.prefix_hash(&mut scratch)), c))
        .collect();
    let mut groups = weighted.chunks_exact(LANES);
    for group in &mut groups {
        let mut lanes = [PointChain::new(0); LANES];
        let mut left = [0u32; LANES];
        let mut ids = [0u64; LANES];
        for (l, (id, chain, count)) in group.iter().enumerate() {
            lanes[l] = *chain;
            left[l] = *count;
            ids[l] = *id;
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
    for (id, chain, count) in groups.remainder() {
        let mut chain = *chain;
        for _ in 0..*count {
            let h = chain.step();
            push((u64::from(h) << 32) | id);
        }
    }
    let regions = cursor
        .iter()
        .enumerate()
        .map(|(p, &c)| p * room..c)
        .collect();
    Generated {
        buf,
        regions,
        spill,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Overflow, plan};

    #[test]
    fn build_sorts_dedups_and_indexes() {
        // Two buckets with the same name: every point ties, and bucket 0 keeps all of them.
        let buckets = [
            Bucket::named("x:1", 2),
            Bucket::named("x:1", 1),
            Bucket::named("y:1", 1),
        ];
        let p = plan(&buckets, 160, 1 << 26, Overflow::Fail).unwrap();
        let s = build(&buckets, &p, 1);
        let hash = |k: &u64| (k >> 32) as u32;
        let owner = |k: &u64| *k as u32;
        assert_eq!(
            s.points.len(),
            480,
            "the 160 points of bucket 1 duplicate bucket 0's"
        );
        assert!(s.points.windows(2).all(|w| hash(&w[0]) < hash(&w[1])));
        assert_eq!(s.points.iter().filter(|k| owner(k) == 1).count(), 0);
        assert_eq!(s.points.iter().filter(|k| owner(k) == 2).count(), 160);
        for (pos, k) in s.points.iter().enumerate() {
            let (lo, hi) = s.index.range(hash(k));
            assert!((lo..hi).contains(&pos));
        }
    }

    #[test]
    fn points_that_overflow_their_region_spill_and_still_sort() {
        let buckets: Vec<Bucket> = (0..300)
            .map(|i| Bucket::named(format!("10.0.{}.{}:80", i / 200, i % 200), 1 + i % 3))
            .collect();
        let p = plan(&buckets, 160, 1 << 26, Overflow::Fail).unwrap();
        let normal = build(&buckets, &p, 1);
        // About 370 points per partition: sorted by radix, not by comparison.
        for room in [0, 1, 3, 200, 360] {
            let spilled = build_with_room(&buckets, &p, 1, Some(room));
            assert_eq!(spilled.points, normal.points, "room {room}");
            for (pos, k) in spilled.points.iter().enumerate() {
                let (lo, hi) = spilled.index.range((k >> 32) as u32);
                assert!((lo..hi).contains(&pos), "room {room}");
            }
        }
    }
}
