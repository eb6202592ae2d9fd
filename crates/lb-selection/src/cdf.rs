//! [`Cdf`]: find the backend that owns a point of the cumulative weight line in O(1) expected
//! time and O(number of backends) memory, whatever the weights.

/// Above this many backends in one guide bucket, [`Cdf::locate`] searches by bisection.
const LINEAR_SCAN: usize = 8;

/// The cumulative weight line of a list of backends: backend `k` owns the points
/// `ends[k-1]..ends[k]` of `0..total` (none when its weight is 0).
///
/// A *guide table* (Chen and Asau's method of indexed search) splits `0..total` into at most
/// `2 * len` buckets of `2^shift` points and remembers the first backend of each bucket and where
/// that backend's points end, so a lookup is one shift and one table read (two neighbouring
/// entries) whenever a bucket meets at most two backends, which is the common case: the prefix
/// sums are read only for a bucket that meets more. A bucket that holds many light backends is
/// searched by bisection, so the worst case is O(log n).
///
/// This replaces pingora's expanded array (one entry per unit of weight): memory is 8 bytes of
/// prefix sum and at most 16 bytes of guide per backend, even for weights in the millions.
#[derive(Debug)]
pub(crate) struct Cdf {
    /// `ends[k]`: the sum of the weights of backends `0..=k`. Non-decreasing.
    ends: Box<[u64]>,
    /// `guide[g]`: the first `k` with `ends[k] > g << shift`, and where its points end; one
    /// more entry, `len - 1`, closes the last bucket.
    guide: Box<[Bucket]>,
    shift: u32,
    total: u64,
}

/// One entry of [`Cdf`]'s guide table.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// The first backend that owns a point of the bucket.
    first: u32,
    /// `ends[first]` less the bucket's first point: it fits in 32 bits, being at most the
    /// weight of `first` (points of earlier backends end at or before the bucket's start).
    end: u32,
}

impl Cdf {
    /// The line of `weights`, each at most `u32::MAX` (their sum then fits in 64 bits for up to
    /// 2^32 backends). A backend of weight 0 owns no point, so [`Cdf::locate`] never answers it:
    /// a strategy can keep every backend on the line, in index order, and read the backend index
    /// straight from `locate`. An empty list, or one whose weights are all 0, gives an empty line.
    pub(crate) fn new(weights: impl Iterator<Item = u64>) -> Self {
        let mut total = 0u64;
        let ends: Box<[u64]> = weights
            .map(|w| {
                debug_assert!(w <= u64::from(u32::MAX));
                total += w;
                total
            })
            .collect();
        if total == 0 {
            return Cdf {
                ends,
                guide: Box::new([]),
                shift: 0,
                total: 0,
            };
        }
        // The fewest bucket bits that leave at most 2 * len buckets.
        let max_buckets = 2 * ends.len() as u64;
        let mut shift = 0;
        while ((total - 1) >> shift) >= max_buckets {
            shift += 1;
        }
        let buckets = ((total - 1) >> shift) + 1;
        let mut guide = Vec::with_capacity(buckets as usize + 1);
        let mut k = 0usize;
        for g in 0..buckets {
            let start = g << shift;
            // `start < total == ends[last]`, so this stops inside the slice.
            while ends[k] <= start {
                k += 1;
            }
            // At most 2^32 backends (checked by `Layout::new`), so `k` fits; `end` is at most
            // one weight, and weights are at most `u32::MAX`.
            guide.push(Bucket {
                first: k as u32,
                end: u32::try_from(ends[k] - start).unwrap_or(u32::MAX),
            });
        }
        guide.push(Bucket {
            first: (ends.len() - 1) as u32,
            end: 0,
        });
        Cdf {
            ends,
            guide: guide.into_boxed_slice(),
            shift,
            total,
        }
    }

    /// The sum of the weights.
    #[inline]
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// The number of backends on the line.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The backend (position on the line) that owns point `p`, for `p < total`. Points at or
    /// past the end belong to the last backend; an empty line answers 0.
    #[inline]
    pub(crate) fn locate(&self, p: u64) -> usize {
        let g = (p >> self.shift) as usize;
        let (Some(bucket), Some(next)) = (self.guide.get(g), self.guide.get(g + 1)) else {
            return self.ends.len().saturating_sub(1);
        };
        let (lo, hi) = (bucket.first as usize, next.first as usize);
        // `ends[hi] > p` for every `p` of bucket `g` (or `hi` is the last backend), so the
        // answer is at most `hi`.
        match hi - lo {
            0 => lo,
            // `lo` owns `p` unless `p` is past its end; then `hi` does. No read of `ends`.
            1 => lo + usize::from(p - ((g as u64) << self.shift) >= u64::from(bucket.end)),
            n if n <= LINEAR_SCAN => {
                let mut k = lo;
                while k < hi && self.ends[k] <= p {
                    k += 1;
                }
                k
            }
            _ => lo + self.ends[lo..hi].partition_point(|&e| e <= p),
        }
    }

    /// Bytes of heap memory held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.ends.len() * 8 + self.guide.len() * std::mem::size_of::<Bucket>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The answer by definition: the first backend whose end is past `p`.
    fn naive(weights: &[u64], p: u64) -> usize {
        let mut sum = 0;
        for (k, w) in weights.iter().enumerate() {
            sum += w;
            if p < sum {
                return k;
            }
        }
        weights.len() - 1
    }

    #[test]
    fn every_point_of_a_small_line_has_its_owner() {
        let w = [5, 1, 1, 3];
        let cdf = Cdf::new(w.iter().copied());
        assert_eq!(cdf.total(), 10);
        let owners: Vec<usize> = (0..10).map(|p| cdf.locate(p)).collect();
        assert_eq!(owners, [0, 0, 0, 0, 0, 1, 2, 3, 3, 3]);
        assert_eq!(cdf.locate(10), 3, "past the end is the last backend");
        assert_eq!(cdf.locate(u64::MAX), 3);
    }

    #[test]
    fn huge_weights_use_memory_per_backend_not_per_unit() {
        let cdf = Cdf::new(std::iter::repeat_n(u64::from(u32::MAX), 1000));
        assert_eq!(cdf.total(), 1000 * u64::from(u32::MAX));
        assert!(cdf.heap_bytes() <= 1000 * 24 + 8, "{}", cdf.heap_bytes());
        assert_eq!(cdf.locate(u64::from(u32::MAX)), 1);
        assert_eq!(cdf.locate(cdf.total() - 1), 999);
    }

    #[test]
    fn one_heavy_backend_among_many_light_ones_bisects() {
        // Every light backend falls into the first guide bucket or two.
        let mut w = vec![1u64; 5000];
        w.push(u64::from(u32::MAX));
        let cdf = Cdf::new(w.iter().copied());
        for p in [0, 1, 2500, 4999, 5000, u64::from(u32::MAX)] {
            assert_eq!(cdf.locate(p), naive(&w, p), "point {p}");
        }
    }

    #[test]
    fn zero_weights_own_no_point() {
        let w = [0, 2, 0, 0, 1, 0];
        let cdf = Cdf::new(w.iter().copied());
        assert_eq!(cdf.total(), 3);
        let owners: Vec<usize> = (0..3).map(|p| cdf.locate(p)).collect();
        assert_eq!(owners, [1, 1, 4]);
        let none = Cdf::new([0u64, 0].into_iter());
        assert_eq!((none.total(), none.locate(0)), (0, 1));
    }

    #[test]
    fn empty_line_answers_zero() {
        let cdf = Cdf::new(std::iter::empty());
        assert_eq!(cdf.total(), 0);
        assert_eq!(cdf.locate(0), 0);
        assert_eq!(cdf.len(), 0);
    }

    proptest! {
        #[test]
        fn locate_agrees_with_the_definition(
            w in prop::collection::vec(prop_oneof![Just(0u64), 1u64..5, 1u64..1000, Just(u64::from(u32::MAX))], 1..200),
            points in prop::collection::vec(any::<u64>(), 50),
        ) {
            prop_assume!(w.iter().any(|&x| x > 0));
            let cdf = Cdf::new(w.iter().copied());
            for p in points {
                let p = p % cdf.total();
                prop_assert_eq!(cdf.locate(p), naive(&w, p));
            }
            // The boundaries, where off-by-one errors live.
            let mut sum = 0;
            for (k, &x) in w.iter().enumerate() {
                if x == 0 {
                    // Owns no point: its place on the line belongs to the next positive weight.
                    prop_assert_ne!(cdf.locate(sum.min(cdf.total() - 1)), k);
                    continue;
                }
                prop_assert_eq!(cdf.locate(sum), k);
                sum += x;
                prop_assert_eq!(cdf.locate(sum - 1), k);
            }
        }
    }
}
