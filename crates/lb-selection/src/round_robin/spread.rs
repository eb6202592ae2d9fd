//! An evenly spread weighted sequence, computed in one pass: the table round robin follows when
//! nginx's exact sequence would cost too much to compute at every update.
//!
//! Lay the backends' weights end to end on a line of `W` positions (`W` their sum): backend `i`
//! owns `wᵢ` consecutive positions. Turn `t` goes to the owner of position `t · S mod W` for a
//! step `S` coprime to `W`. That is a permutation of the positions, so over a period of `W`
//! turns every backend gets exactly its weight. The step is short: the first good one past the
//! heaviest weight. The turns then *sweep* the line, `S` positions at a time, so a sweep visits
//! each backend at most once (no backend takes two turns in a row) and moves through the set in
//! order, as nginx's sequence moves through each weight's backends in order: consecutive picks
//! read states that lie near each other, where a sequence that jumped across the whole set at
//! every turn cost a cache miss per pick over 10,000 backends. Each sweep starts `W mod S`
//! positions further along, so the sweeps that visit a backend's consecutive positions form an
//! arithmetic progression over the `S` sweeps of a period; the step is chosen among the first
//! candidates so that this progression is well spread (its multiplier over `S` has the smallest
//! largest partial quotient: it is badly approximated by fractions, as the golden ratio is), and a
//! backend's turns are evenly spaced over the period. Sets too small for such a step (a period
//! under four sweeps) take a step near `W / φ` instead, the golden-ratio (Weyl) sequence.
//!
//! The table is built by walking the positions in order and writing each one's backend at its
//! turn, `position · S⁻¹ mod W`: one pass, an addition per entry, no sort and no division, where
//! nginx's sequence costs `W` times the number of distinct weights.

use crate::arith::{gcd, modular_inverse};

/// The sequence over `weights` (all positive; their sum, the period, below 2^32), as indices into
/// `weights`: each index `i` appears `weights[i]` times, evenly spread.
pub(crate) fn spread_sequence(weights: &[u64]) -> Vec<u32> {
    let period = weights.iter().sum::<u64>();
    let heaviest = weights.iter().copied().max().unwrap_or(0);
    let Some(inverse) = step_inverse(period, heaviest) else {
        return Vec::new();
    };
    let mut table = vec![0u32; period as usize];
    // The turn of the current position.
    let mut turn = 0u64;
    for (i, &w) in weights.iter().enumerate() {
        for _ in 0..w {
            // `turn < period`: it starts at 0 and wraps below `period` after every step.
            if let Some(slot) = table.get_mut(turn as usize) {
                *slot = i as u32;
            }
            turn += inverse;
            if turn >= period {
                turn -= period;
            }
        }
    }
    table
}

/// `S⁻¹ mod period` for the step `S` (see the module docs); `None` for an empty period.
fn step_inverse(period: u64, heaviest: u64) -> Option<u64> {
    if period == 0 {
        return None;
    }
    if period <= 2 {
        // One turn: any step; two: the step 1, its own inverse.
        return Some(period - 1);
    }
    if let Some(step) = local_step(period, heaviest) {
        return modular_inverse(step, period);
    }
    // 1/φ = 0.618...: among the steps coprime to the period near `period / φ`, the one whose
    // ratio to the period is the worst approximated by fractions (the smallest largest partial
    // quotient of its continued fraction), as φ itself is: its turns are the most evenly spread.
    // The search stops at the first step whose quotients are all at most `GOOD_QUOTIENT`.
    let ideal = (period as f64 * 0.618_033_988_749_895).round() as u64;
    let mut best: Option<(u64, u64)> = None;
    for s in (0..STEP_CANDIDATES).flat_map(|d| [ideal.saturating_add(d), ideal.saturating_sub(d)]) {
        if !(1..period).contains(&s) || gcd(s, period) != 1 {
            continue;
        }
        let quotient = largest_partial_quotient(s, period);
        if best.is_none_or(|(q, _)| quotient < q) {
            best = Some((quotient, s));
        }
        if quotient <= GOOD_QUOTIENT {
            break;
        }
    }
    modular_inverse(best?.1, period)
}

/// Steps tried on each side of `period / φ`.
const STEP_CANDIDATES: u64 = 64;
/// A largest partial quotient that ends the search for a step.
const GOOD_QUOTIENT: u64 = 3;

/// The largest partial quotient of the continued fraction `[0; a₁, a₂, ...]` of `a / m`
/// (`0 < a < m`).
fn largest_partial_quotient(a: u64, m: u64) -> u64 {
    let (mut x, mut y) = (m, a);
    let mut largest = 0;
    while y != 0 {
        largest = largest.max(x / y);
        (x, y) = (y, x % y);
    }
    largest
}

/// A short step: just over the heaviest weight, so that a sweep of the line visits each owner at
/// most once and moves through the set in order; among the first candidates coprime to the
/// period, the one whose sweeps visit each owner's positions most evenly spread (the sweep that
/// visits residue `r` is `−r · (period mod step)⁻¹ mod step`, so the smallest largest partial
/// quotient of that multiplier over the step).
fn local_step(period: u64, heaviest: u64) -> Option<u64> {
    let first = heaviest.checked_add(1)?;
    if first.saturating_mul(4) > period {
        return None;
    }
    let mut best: Option<(u64, u64)> = None;
    for step in (first..first.saturating_add(STEP_CANDIDATES)).take_while(|&s| s < period) {
        if gcd(step, period) != 1 {
            continue;
        }
        let Some(multiplier) = modular_inverse(period % step, step) else {
            continue;
        };
        let quotient = if multiplier == 0 {
            0
        } else {
            largest_partial_quotient(multiplier, step)
        };
        if best.is_none_or(|(q, _)| quotient < q) {
            best = Some((quotient, step));
        }
        if quotient <= GOOD_QUOTIENT {
            break;
        }
    }
    best.map(|(_, step)| step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// How often each index appears.
    fn counts(seq: &[u32], n: usize) -> Vec<u64> {
        let mut c = vec![0; n];
        for &i in seq {
            c[i as usize] += 1;
        }
        c
    }

    #[test]
    fn each_backend_gets_its_weight_in_turns() {
        let weights: Vec<u64> = (0..1000).map(|i| 1 + i % 10).collect();
        let seq = spread_sequence(&weights);
        assert_eq!(seq.len() as u64, weights.iter().sum::<u64>());
        assert_eq!(counts(&seq, weights.len()), weights);
    }

    #[test]
    fn a_heavy_backend_is_interleaved_with_light_ones() {
        // 5, 1, 1 (step 4 of 7): the light ones apart, and the heavy one at most four turns in a
        // row as the period repeats, as in nginx's `a a b a c a a`.
        let seq = spread_sequence(&[5, 1, 1]);
        assert_eq!(seq, [0, 0, 0, 1, 0, 2, 0]);
        let cyclic: Vec<u32> = seq.iter().chain(&seq).copied().collect();
        assert!(!cyclic.windows(5).any(|w| w == [0; 5]), "{seq:?}");
        assert!(
            !cyclic.windows(2).any(|w| w == [1, 2] || w == [2, 1]),
            "{seq:?}"
        );
    }

    #[test]
    fn equal_weights_do_not_bunch() {
        // 1,000 of weight 1 beside 10 of weight 100: the light ones are spread over the period,
        // so every tenth of it still gives the heavy ones their share.
        let mut weights = vec![1u64; 1000];
        weights.extend([100; 10]);
        let seq = spread_sequence(&weights);
        let tenth = seq.len() / 10;
        for window in seq.chunks(tenth) {
            let heavy = window.iter().filter(|&&i| i >= 1000).count();
            assert!(
                (90..=110).contains(&heavy),
                "{heavy} heavy turns of {tenth}"
            );
        }
    }

    #[test]
    fn turns_sweep_through_the_set_in_order() {
        // 10,000 backends of weights 1 to 10: the step is 17 positions (just over the heaviest
        // weight), so consecutive turns move forward through the set a few backends at a time,
        // never give one backend two turns in a row, and wrap around once per sweep.
        let weights: Vec<u64> = (0..10_000).map(|i| 1 + i % 10).collect();
        let seq = spread_sequence(&weights);
        assert_eq!(local_step(55_000, 10), Some(17));
        let forward = seq
            .windows(2)
            .filter(|w| w[0] < w[1] && w[1] - w[0] <= 17)
            .count();
        let wraps = seq.windows(2).filter(|w| w[1] < w[0]).count();
        assert_eq!(
            forward + wraps,
            seq.len() - 1,
            "every turn moves forward or wraps"
        );
        assert!(wraps <= 17, "{wraps} wraps");
        // A set too small for a step over its heaviest weight takes the golden-ratio step.
        assert_eq!(local_step(30, 10), None);
    }

    #[test]
    fn empty_and_single() {
        assert!(spread_sequence(&[]).is_empty());
        assert_eq!(spread_sequence(&[3]), [0, 0, 0]);
    }

    /// Exact counts; every window of `m` turns holds each backend's share `m · w / W` within
    /// `2 + log₂(m) / 4` picks (the discrepancy of a Weyl sequence grows with the log of the
    /// window: 3 picks at worst over 3,000 random sets of up to 400 backends and 20 weights,
    /// 3.7 with weights up to 200), and every gap between two turns of a backend (around the
    /// period) is at most 3 times its ideal `W / w` (2.6 at worst there).
    fn check_spread(weights: &[u64]) -> Result<(), TestCaseError> {
        let seq = spread_sequence(weights);
        let (n, period) = (weights.len(), seq.len());
        prop_assert_eq!(period as u64, weights.iter().sum::<u64>());
        prop_assert_eq!(counts(&seq, n), weights.to_vec());
        let mut at: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (p, &i) in seq.iter().enumerate() {
            at[i as usize].push(p);
        }
        for (i, positions) in at.iter().enumerate() {
            let ideal = period as f64 / weights[i] as f64;
            for (k, &p) in positions.iter().enumerate() {
                let next = positions
                    .get(k + 1)
                    .copied()
                    .unwrap_or(positions[0] + period);
                let gap = (next - p) as f64;
                prop_assert!(
                    gap <= 3.0 * ideal,
                    "backend {}: gap {} ideal {}",
                    i,
                    gap,
                    ideal
                );
            }
        }
        for m in [period / 10, period / 3, period / 2] {
            let bound = 2.0 + (m.max(1) as f64).log2() / 4.0;
            for start in (0..period).step_by((period / 13).max(1)) {
                let mut c = vec![0f64; n];
                for j in 0..m {
                    c[seq[(start + j) % period] as usize] += 1.0;
                }
                for (i, &got) in c.iter().enumerate() {
                    let want = m as f64 * weights[i] as f64 / period as f64;
                    prop_assert!(
                        (got - want).abs() <= bound,
                        "backend {} got {} of {} turns from {}, want {:.2}",
                        i,
                        got,
                        m,
                        start,
                        want
                    );
                }
            }
        }
        Ok(())
    }

    proptest! {
        // Periods of up to 300,000 turns, each window counted: fewer cases than the default.
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Few distinct weights: backends grouped in classes.
        #[test]
        fn classes_spread_evenly(weights in prop::collection::vec(1u64..20, 1..400)) {
            check_spread(&weights)?;
        }

        /// More distinct weights than classes: every backend its own class.
        #[test]
        fn many_weights_spread_evenly(weights in prop::collection::vec(1u64..1000, 100..300)) {
            check_spread(&weights)?;
        }
    }
}
