//! Sorting one partition of points (the `hash << 32 | bucket` keys that share the top 8 hash bits)
//! in cache, with no data-dependent branch.

/// Sorts the points of one partition by hash: a least-significant-digit radix sort on the 24 hash
/// bits below the partition's 8, in stable passes with no data-dependent branch. Equal hashes come
/// out in any order, which is why de-duplication compares buckets.
///
/// A large partition takes two passes of 12 bits, a smaller one three of 8 (two 4,096-entry
/// histograms would cost more than the pass they save), and a tiny one a comparison sort.
#[derive(Debug, Default)]
pub(crate) struct PartitionSorter {
    a: Vec<u64>,
    b: Vec<u64>,
    /// Two histograms of 12-bit digits, each with a leading zero for the prefix sum.
    wide: Vec<u32>,
}

/// Partitions this small are sorted by comparison: histograms would cost more.
const SMALL_PARTITION: usize = 64;

/// Partitions this large take two passes of 12 bits instead of three of 8.
const WIDE_PARTITION: usize = 3_000;

const WIDE: usize = 1 << 12;

impl PartitionSorter {
    /// The points of every slice in `parts`, together, in hash order. Equal hashes come in any
    /// order.
    pub(crate) fn sort(&mut self, parts: &[&[u64]]) -> &[u64] {
        let n: usize = parts.iter().map(|p| p.len()).sum();
        if n <= SMALL_PARTITION {
            self.a.clear();
            for part in parts {
                self.a.extend_from_slice(part);
            }
            self.a.sort_unstable();
            return &self.a;
        }
        // Only grow the buffers: every element below `n` is written before it is read.
        if self.a.len() < n {
            self.a.resize(n, 0);
        }
        if self.b.len() < n {
            self.b.resize(n, 0);
        }
        let (a, b) = (&mut self.a[..n], &mut self.b[..n]);
        if n >= WIDE_PARTITION {
            self.wide.clear();
            self.wide.resize(2 * (WIDE + 1), 0);
            let (low, high) = self.wide.split_at_mut(WIDE + 1);
            let digit = |key: u64, d: u32| ((key >> (32 + 12 * d)) & 0xfff) as usize;
            for part in parts {
                for &key in *part {
                    low[digit(key, 0) + 1] += 1;
                    high[digit(key, 1) + 1] += 1;
                }
            }
            prefix_sum(low);
            prefix_sum(high);
            // `low[d]` stays below the start of digit d + 1 <= n: digit d has that many keys.
            for part in parts {
                for &key in *part {
                    let d = digit(key, 0);
                    b[low[d] as usize] = key;
                    low[d] += 1;
                }
            }
            for &key in b.iter() {
                let d = digit(key, 1);
                a[high[d] as usize] = key;
                high[d] += 1;
            }
            return a;
        }
        let digit = |key: u64, d: u32| ((key >> (32 + 8 * d)) & 0xff) as usize;
        let mut counts = [[0u32; 257]; 3];
        for part in parts {
            for &key in *part {
                counts[0][digit(key, 0) + 1] += 1;
                counts[1][digit(key, 1) + 1] += 1;
                counts[2][digit(key, 2) + 1] += 1;
            }
        }
        for c in &mut counts {
            prefix_sum(c);
        }
        for part in parts {
            for &key in *part {
                let d = digit(key, 0);
                a[counts[0][d] as usize] = key;
                counts[0][d] += 1;
            }
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
pub(crate) fn prefix_sum(v: &mut [u32]) {
    let mut acc = 0u32;
    for x in v.iter_mut() {
        acc += *x;
        *x = acc;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(hash: u32, bucket: u32) -> u64 {
        (u64::from(hash) << 32) | u64::from(bucket)
    }

    #[test]
    fn sorts_large_and_small_partitions_by_hash() {
        let mut sorter = PartitionSorter::default();
        // Tiny, 8-bit and 12-bit partitions, and a small one after a large one (stale buffers).
        for n in [0u32, 1, 5, 64, 65, 500, 2_999, 3_000, 6_000, 20_000, 70] {
            let part: Vec<u64> = (0..n)
                .map(|i| {
                    key(
                        0x2a00_0000 | (i.wrapping_mul(2_654_435_761) & 0x00ff_ffff),
                        i,
                    )
                })
                .collect();
            let extra = [key(0x2a00_0001, 9_999), key(0x2aff_ffff, 1)];
            let (head, tail) = part.split_at(part.len() / 3);
            let got = sorter.sort(&[head, &extra, tail]).to_vec();
            let hashes: Vec<u64> = got.iter().map(|k| k >> 32).collect();
            assert!(hashes.windows(2).all(|w| w[0] <= w[1]), "n {n}");
            let mut want: Vec<u64> = part.iter().chain(&extra).copied().collect();
            want.sort_unstable();
            let mut sorted = got.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, want, "n {n}: the same keys");
        }
    }

    #[test]
    fn prefix_sums_run_in_place() {
        let mut v = [0, 3, 0, 2, 5];
        prefix_sum(&mut v);
        assert_eq!(v, [0, 3, 3, 5, 10]);
    }
}
