//! Building a ring: how many points each bucket gets, the points themselves, and their order.
//!
//! Points are `hash << 32 | bucket` keys, sorted by two rounds of bucketing on the top bits of the hash
//! (partitions while generating, then sub-slots within each partition, in cache) and finished by an
//! insertion pass that has little left to do; no comparison sort over the whole ring. Ordering whole
//! keys puts equal hashes in bucket order, so when duplicates are dropped the point of the lowest
//! bucket index survives: the order nginx gets from glibc's stable `qsort` over its servers in
//! configuration order. The slot counts kept along the way are the lookup table ([`SlotIndex`]).

use crate::bucket::Bucket;
use crate::crc::PointChain;
use crate::error::Error;
use crate::index::{SlotIndex, index_bits};

/// Points per bucket.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) counts: Vec<u32>,
    pub(crate) total: usize,
}

/// What to do with a ring over the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Overflow {
    /// Return an error.
    Fail,
    /// Scale the weights down to fit: see [`Continuum::new`](crate::Continuum::new).
    Scale,
}

/// The number of points of each bucket: `weight * multiple`, or, over `limit` with
/// [`Overflow::Scale`], `1 + floor(weight * multiple * (limit - n) / total)` for each of the `n`
/// buckets with a non-zero weight, which keeps the proportions and sums to at most `limit`.
pub(crate) fn plan(
    buckets: &[Bucket],
    multiple: u32,
    limit: u64,
    overflow: Overflow,
) -> Result<Plan, Error> {
    // Bucket indices are stored in 32 bits; buckets past that can have no points.
    let usable = buckets.len().min(u32::MAX as usize);
    if usable < buckets.len() && overflow == Overflow::Fail {
        return Err(Error::TooManyBuckets {
            buckets: buckets.len(),
        });
    }
    let wanted = |b: &Bucket| u64::from(b.weight()) * u64::from(multiple);
    let total: u64 = buckets[..usable].iter().map(wanted).sum();
    let mut counts = vec![0u32; usable];
    if total <= limit {
        for (c, b) in counts.iter_mut().zip(buckets) {
            // `wanted(b) <= total <= limit <= u32::MAX`: the limit is far below 2^32.
            *c = wanted(b) as u32;
        }
        return Ok(Plan {
            counts,
            total: total as usize,
        });
    }
    if overflow == Overflow::Fail {
        // The heaviest bucket names the culprit; the first one on a tie.
        let (bucket, heaviest) = buckets[..usable]
            .iter()
            .enumerate()
            .rev()
            .max_by_key(|(_, b)| b.weight())
            .map_or((0, None), |(i, b)| (i, Some(b)));
        return Err(Error::TooManyPoints {
            points: total,
            limit,
            bucket,
            name: heaviest.map_or_else(String::new, |b| b.node().to_string()),
            weight: heaviest.map_or(0, Bucket::weight),
        });
    }
    let nonzero = buckets[..usable].iter().filter(|b| wanted(b) > 0).count() as u64;
    let mut sum = 0u64;
    if nonzero >= limit {
        // More weighted buckets than points: the first `limit` of them get one point each.
        for (c, b) in counts.iter_mut().zip(buckets) {
            if wanted(b) > 0 && sum < limit {
                *c = 1;
                sum += 1;
            }
        }
    } else {
        let budget = u128::from(limit - nonzero);
        for (c, b) in counts.iter_mut().zip(buckets) {
            let w = wanted(b);
            if w > 0 {
                // `w * budget / total < budget <= limit`, so the count fits in 32 bits.
                let scaled = 1 + (u128::from(w) * budget / u128::from(total)) as u64;
                *c = scaled as u32;
                sum += scaled;
            }
        }
    }
    Ok(Plan {
        counts,
        total: sum as usize,
    })
}

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

/// Sorts the points of one partition by hash: a least-significant-digit radix sort on the 24 hash
/// bits below the partition's 8, in three stable passes of 8 bits, with no data-dependent branch.
/// Equal hashes keep their generation order, which is why de-duplication compares buckets.
#[derive(Debug, Default)]
struct PartitionSorter {
    a: Vec<u64>,
    b: Vec<u64>,
}

/// Partitions this small are sorted by comparison: three histograms would cost more.
const SMALL_PARTITION: usize = 64;

impl PartitionSorter {
    fn sort(&mut self, part: &[u64], extra: &[u64]) -> &[u64] {
        let n = part.len() + extra.len();
        if n <= SMALL_PARTITION {
            self.a.clear();
            self.a.extend_from_slice(part);
            self.a.extend_from_slice(extra);
            self.a.sort_unstable();
            return &self.a;
        }
        let digit = |key: u64, d: u32| ((key >> (32 + 8 * d)) & 0xff) as usize;
        let mut counts = [[0u32; 257]; 3];
        for &key in part.iter().chain(extra) {
            counts[0][digit(key, 0) + 1] += 1;
            counts[1][digit(key, 1) + 1] += 1;
            counts[2][digit(key, 2) + 1] += 1;
        }
        for c in &mut counts {
            prefix_sum(c);
        }
        // Only grow the buffers: every element below `n` is written before it is read.
        if self.a.len() < n {
            self.a.resize(n, 0);
            self.b.resize(n, 0);
        }
        let (a, b) = (&mut self.a[..n], &mut self.b[..n]);
        for &key in part.iter().chain(extra) {
            let d = digit(key, 0);
            // `counts[0][d]` stays below the start of digit d + 1 <= n: digit d has that many keys.
            a[counts[0][d] as usize] = key;
            counts[0][d] += 1;
        }
        for &key in a.iter() {
            let d = digit(key, 1);
            b[counts[1][d] as usize] = key;
            counts[1][d] += 1;
        }
        for &key in b.iter() {
            let d = digit(key, 2);
            a[counts[2][d] as usize] = key;
            counts[2][d] += 1;
        }
        a
    }
}

/// Running totals in place, carried in a register (a loop reading back the previous element waits on
/// each store).
fn prefix_sum(v: &mut [u32]) {
    let mut acc = 0u32;
    for x in v.iter_mut() {
        acc += *x;
        *x = acc;
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

    fn b(weight: u32) -> Bucket {
        Bucket::named(format!("10.0.0.{weight}:80"), weight)
    }

    #[test]
    fn plan_multiplies_weights() {
        let p = plan(&[b(1), b(0), b(3)], 160, 1 << 26, Overflow::Fail).unwrap();
        assert_eq!(p.counts, [160, 0, 480]);
        assert_eq!(p.total, 640);
    }

    #[test]
    fn plan_over_the_limit_fails_naming_the_heaviest_bucket() {
        let e = plan(&[b(1), b(7), b(7), b(2)], 10, 100, Overflow::Fail).unwrap_err();
        assert_eq!(
            e,
            Error::TooManyPoints {
                points: 170,
                limit: 100,
                bucket: 1,
                name: "10.0.0.7:80".into(),
                weight: 7
            }
        );
    }

    #[test]
    fn plan_over_the_limit_scales_in_proportion() {
        let p = plan(&[b(1), b(0), b(3), b(6)], 10, 50, Overflow::Scale).unwrap();
        // 3 weighted buckets, budget 47 over 100 wanted points: 1 + floor(w * 10 * 47 / 100).
        assert_eq!(p.counts, [1 + 4, 0, 1 + 14, 1 + 28]);
        assert_eq!(p.total, 49);
        assert!(p.total as u64 <= 50);

        let huge = [
            Bucket::named("a", u32::MAX),
            Bucket::named("b", u32::MAX),
            Bucket::named("c", 1),
        ];
        let p = plan(&huge, 160, 1 << 26, Overflow::Scale).unwrap();
        assert!(p.total as u64 <= 1 << 26);
        assert_eq!(p.counts[0], p.counts[1]);
        assert_eq!(p.counts[2], 1, "a tiny weight keeps one point");
    }

    #[test]
    fn plan_with_more_weighted_buckets_than_the_limit() {
        let p = plan(&[b(1), b(0), b(2), b(3)], 160, 2, Overflow::Scale).unwrap();
        assert_eq!(p.counts, [1, 0, 1, 0]);
        assert_eq!(p.total, 2);
    }

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
