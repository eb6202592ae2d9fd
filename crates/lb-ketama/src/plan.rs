//! How many points each bucket gets: `weight * point_multiple`, within [`MAX_POINTS`](crate::MAX_POINTS).

use crate::bucket::Bucket;
use crate::error::Error;

/// Points per bucket.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) counts: Vec<u32>,
    pub(crate) total: usize,
    /// Whether the weights were scaled down to fit.
    pub(crate) scaled: bool,
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
            scaled: false,
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
        scaled: true,
    })
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
}
