//! Interleaved timing: several contenders measured batch by batch in rotating order, so that
//! whatever the machine does meanwhile (other builds, frequency changes) falls on all of them.

use std::hint::black_box;
use std::time::Instant;

/// Summary of per-batch times, in ns per operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// The median batch.
    pub median: f64,
    /// The 10th-percentile batch (close to the fastest, robust to one lucky batch).
    pub p10: f64,
}

impl Stats {
    /// The median and 10th percentile of `samples`; `None` when there are none.
    pub fn of(mut samples: Vec<f64>) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_by(f64::total_cmp);
        let mid = samples.len() / 2;
        let median = if samples.len().is_multiple_of(2) {
            (samples[mid - 1] + samples[mid]) / 2.0
        } else {
            samples[mid]
        };
        Some(Stats {
            median,
            p10: samples[samples.len() / 10],
        })
    }
}

/// Time per call of `op` over one batch of `batch` calls, in ns; call `i` gets `start + i`.
pub fn batch<T>(start: usize, batch: usize, op: &mut impl FnMut(usize) -> T) -> f64 {
    let began = Instant::now();
    for i in start..start + batch {
        black_box(op(black_box(i)));
    }
    began.elapsed().as_nanos() as f64 / batch as f64
}

/// How [`interleave3`] spreads its batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Blocks per contender; the contenders take turns block by block, in a rotating order.
    pub blocks: usize,
    /// Untimed batches at the start of each block.
    pub warm: usize,
    /// Timed batches per block.
    pub timed: usize,
    /// Calls per batch.
    pub size: usize,
}

/// Times three contenders in blocks of batches: each block starts with `warm` untimed batches,
/// so that every timed batch runs on the caches, TLB and branch predictors of its own contender.
/// Measured on a consistent ring of 10,000 backends: a batch of 1,000 lb selects right after a
/// batch of pingora's (whose ring and maps take tens of MB) ran 2x slower than in a loop of its
/// own, still 20 % slower after 10 batches of its own, and within a few percent after 40 (the
/// ring's page-table entries and index have to come back into cache). Taking turns block by
/// block spreads slow changes in the machine's load over all three.
pub fn interleave3<A, B, C, X, Y, Z>(plan: Plan, mut a: A, mut b: B, mut c: C) -> [Stats; 3]
where
    A: FnMut(usize) -> X,
    B: FnMut(usize) -> Y,
    C: FnMut(usize) -> Z,
{
    let mut times: [Vec<f64>; 3] = Default::default();
    let block_of = |op: &mut dyn FnMut(usize) -> f64, into: &mut Vec<f64>, block: usize| {
        let first = block * (plan.warm + plan.timed);
        for i in 0..plan.warm {
            op((first + i) * plan.size);
        }
        for i in plan.warm..plan.warm + plan.timed {
            into.push(op((first + i) * plan.size));
        }
    };
    let [ta, tb, tc] = &mut times;
    for block in 0..plan.blocks {
        for turn in 0..3 {
            match (block + turn) % 3 {
                0 => block_of(&mut |start| batch(start, plan.size, &mut a), ta, block),
                1 => block_of(&mut |start| batch(start, plan.size, &mut b), tb, block),
                _ => block_of(&mut |start| batch(start, plan.size, &mut c), tc, block),
            }
        }
    }
    times.map(|t| {
        Stats::of(t).unwrap_or(Stats {
            median: f64::NAN,
            p10: f64::NAN,
        })
    })
}

/// Like [`interleave3`] for two contenders, each round timing one call (`size` 1): for
/// operations of milliseconds such as a selector build.
pub fn interleave2<A, B, X, Y>(rounds: usize, mut a: A, mut b: B) -> [Stats; 2]
where
    A: FnMut(usize) -> X,
    B: FnMut(usize) -> Y,
{
    batch(0, 1, &mut a);
    batch(0, 1, &mut b);
    let mut times: [Vec<f64>; 2] = Default::default();
    for round in 0..rounds {
        if round % 2 == 0 {
            times[0].push(batch(round, 1, &mut a));
            times[1].push(batch(round, 1, &mut b));
        } else {
            times[1].push(batch(round, 1, &mut b));
            times[0].push(batch(round, 1, &mut a));
        }
    }
    times.map(|t| {
        Stats::of(t).unwrap_or(Stats {
            median: f64::NAN,
            p10: f64::NAN,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_known_samples() {
        let s = Stats::of((1..=11).rev().map(f64::from).collect()).expect("samples");
        assert_eq!(s.median, 6.0);
        assert_eq!(s.p10, 2.0);
        let s = Stats::of(vec![4.0, 1.0, 3.0, 2.0]).expect("samples");
        assert_eq!(s.median, 2.5);
        assert_eq!(Stats::of(Vec::new()), None);
    }

    #[test]
    fn interleave3_times_each_contender_after_its_own_warm_up() {
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), 0usize);
        let plan = Plan {
            blocks: 2,
            warm: 1,
            timed: 2,
            size: 4,
        };
        let stats = interleave3(
            plan,
            |i| a.push(i),
            |i| b.push(i),
            |_| {
                c += 1;
                std::thread::sleep(std::time::Duration::from_micros(50));
            },
        );
        // Two blocks of one warm-up batch and two timed batches, four calls each.
        assert_eq!(a.len(), 24);
        assert_eq!(b.len(), 24);
        assert_eq!(c, 24);
        assert_eq!(a, (0..24).collect::<Vec<_>>());
        // The sleeping contender is measurably the slowest.
        assert!(stats[2].median >= 50_000.0, "{stats:?}");
        assert!(stats[0].median < stats[2].median);
    }
}
