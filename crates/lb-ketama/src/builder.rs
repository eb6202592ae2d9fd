//! Building a ring: how many points each bucket gets, the points themselves, and their order.
//!
//! The points are sorted by a counting sort on the top bits of their hash, which is also exactly the
//! lookup table ([`SlotIndex`]) the finished ring needs; each slot then holds a handful of points
//! that an insertion sort finishes. Sorting `(hash << 32) | bucket` as one `u64` puts equal hashes in
//! bucket order, so when duplicates are dropped the point of the lowest bucket index survives: the
//! order nginx gets from glibc's stable `qsort` over its servers in configuration order.

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

/// The sorted, de-duplicated points of a ring and the lookup table over them.
#[derive(Debug)]
pub(crate) struct Sorted {
    pub(crate) hashes: Vec<u32>,
    pub(crate) buckets: Vec<u32>,
    pub(crate) index: SlotIndex,
}

/// Generates, sorts and de-duplicates the points of `plan`, indexing `2^per_slot_log2` to
/// `2^(per_slot_log2 + 1)` points per slot.
pub(crate) fn build(buckets: &[Bucket], plan: &Plan, per_slot_log2: u32) -> Sorted {
    if plan.total == 0 {
        return Sorted {
            hashes: Vec::new(),
            buckets: Vec::new(),
            index: SlotIndex::empty(),
        };
    }
    let bits = index_bits(plan.total, per_slot_log2);
    let shift = 32 - bits;
    let slot_of = |key: u64| ((key >> 32) >> shift) as usize;
    let slots = 1usize << bits;

    // Generate every point as `hash << 32 | bucket`, counting the points of each slot.
    let mut offsets = vec![0u32; slots + 1];
    let mut generated: Vec<u64> = Vec::with_capacity(plan.total);
    let mut scratch = String::new();
    for (i, (bucket, &count)) in buckets.iter().zip(&plan.counts).enumerate() {
        if count == 0 {
            continue;
        }
        let chain = PointChain::new(bucket.prefix_hash(&mut scratch));
        generated.extend(chain.take(count as usize).map(|h| {
            let key = (u64::from(h) << 32) | i as u64;
            offsets[slot_of(key)] += 1;
            key
        }));
    }

    // Counts to start positions: offsets[s] becomes the first position of slot s.
    let mut acc = 0u32;
    for o in offsets.iter_mut() {
        let n = *o;
        *o = acc;
        acc += n;
    }

    // Scatter into slots (a stable counting sort on the top bits).
    let mut sorted = vec![0u64; generated.len()];
    let mut next = offsets.clone();
    for &key in &generated {
        let s = slot_of(key);
        // `next[s]` stays below `offsets[s + 1] <= sorted.len()`: slot s got exactly that many.
        sorted[next[s] as usize] = key;
        next[s] += 1;
    }
    drop(generated);
    drop(next);

    // Finish each slot, drop duplicate hashes (keeping the lowest bucket) and re-index.
    let mut hashes = Vec::with_capacity(sorted.len());
    let mut owners = Vec::with_capacity(sorted.len());
    let mut last: Option<u32> = None;
    for s in 0..slots {
        let (lo, hi) = (offsets[s] as usize, offsets[s + 1] as usize);
        offsets[s] = hashes.len() as u32;
        let run = &mut sorted[lo..hi];
        insertion_sort(run);
        for &key in run.iter() {
            let h = (key >> 32) as u32;
            if last != Some(h) {
                hashes.push(h);
                owners.push(key as u32);
                last = Some(h);
            }
        }
    }
    offsets[slots] = hashes.len() as u32;
    Sorted {
        hashes,
        buckets: owners,
        index: SlotIndex::new(offsets.into_boxed_slice(), bits),
    }
}

/// Sorts a few elements in place; slots hold 2 to 4 points on average.
fn insertion_sort(v: &mut [u64]) {
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && v[j - 1] > x {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
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
        assert_eq!(
            s.hashes.len(),
            480,
            "the 160 points of bucket 1 duplicate bucket 0's"
        );
        assert!(s.hashes.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(s.buckets.iter().filter(|&&b| b == 1).count(), 0);
        assert_eq!(s.buckets.iter().filter(|&&b| b == 2).count(), 160);
        for (pos, &h) in s.hashes.iter().enumerate() {
            let (lo, hi) = s.index.range(h);
            assert!((lo..hi).contains(&pos));
        }
    }
}
