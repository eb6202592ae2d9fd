//! Properties every strategy keeps, on any weights: indices in range, each backend offered
//! exactly once with standby backends last, first picks in proportion to the weights.

use lb_core::{BackendIter, BackendSelection};
use lb_selection::{Consistent, FnvHash, KetamaConfig, LeastRequest, PeakEwma, Random, RoundRobin};
use proptest::prelude::*;

use crate::support::backends;

/// Every candidate of one iterator; fails if it runs past twice the set.
fn candidates(mut it: impl BackendIter, len: usize) -> Vec<usize> {
    let mut out = Vec::new();
    while let Some(i) = it.next() {
        out.push(i);
        assert!(out.len() <= 2 * len + 1, "the candidate order does not end");
    }
    out
}

fn check_order<S: BackendSelection>(
    weights: &[u32],
    config: &S::Config,
    keys: u64,
) -> Result<(), TestCaseError> {
    let sel =
        S::build(&backends(weights), config).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let active = weights.iter().filter(|&&w| w > 0).count();
    for k in 0..keys {
        let got = candidates(sel.iter(&k.to_le_bytes()), weights.len());
        prop_assert!(
            got.iter().all(|&i| i < weights.len()),
            "index out of range: {:?}",
            got
        );
        let mut sorted = got.clone();
        sorted.sort_unstable();
        prop_assert_eq!(
            sorted,
            (0..weights.len()).collect::<Vec<_>>(),
            "not each backend once"
        );
        if active > 0 {
            prop_assert!(
                got[..active].iter().all(|&i| weights[i] > 0),
                "a standby before an active backend: {:?}",
                got
            );
        }
    }
    Ok(())
}

/// First picks over `n` keys (or turns) are within `tolerance` (a fraction of the expected
/// count, plus a small slack) of each backend's weight share.
fn check_shares<S: BackendSelection>(
    weights: &[u32],
    config: &S::Config,
    n: u32,
    tolerance: f64,
) -> Result<(), TestCaseError> {
    let sel =
        S::build(&backends(weights), config).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut counts = vec![0u32; weights.len()];
    for k in 0..n {
        let key = u64::from(k)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .to_le_bytes();
        counts[sel.iter(&key).next().expect("a backend")] += 1;
    }
    let total: f64 = weights.iter().map(|&w| f64::from(w)).sum();
    for (i, &w) in weights.iter().enumerate() {
        let want = f64::from(n) * f64::from(w) / total;
        let got = f64::from(counts[i]);
        prop_assert!(
            (got - want).abs() <= tolerance * want + 5.5 * want.sqrt() + 3.0,
            "{}: backend {} weight {} got {} picks, expected {:.0} ({:?})",
            std::any::type_name::<S>(),
            i,
            w,
            got,
            want,
            weights
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn every_strategy_offers_each_backend_once_standby_last(
        weights in prop::collection::vec(prop_oneof![Just(0u32), 1u32..10, 1u32..1_000_000, Just(u32::MAX)], 1..50),
    ) {
        check_order::<RoundRobin>(&weights, &(), 20)?;
        check_order::<Random>(&weights, &(), 20)?;
        check_order::<LeastRequest>(&weights, &Default::default(), 20)?;
        check_order::<PeakEwma>(&weights, &(), 20)?;
        check_order::<FnvHash>(&weights, &(), 20)?;
        // A ring of 160 points per unit of weight: keep it small (zero stays zero).
        let light: Vec<u32> = weights.iter().map(|&w| if w == 0 { 0 } else { 1 + w % 8 }).collect();
        check_order::<Consistent>(&light, &KetamaConfig::default(), 20)?;
    }

    #[test]
    fn first_picks_follow_the_weights(
        weights in prop::collection::vec(1u32..20, 2..8),
    ) {
        // Round robin over 4,200 turns: within the sequence's discrepancy.
        check_shares::<RoundRobin>(&weights, &(), 4_200, 0.01)?;
        // Random and hashing: sampling noise (the slack is 5.5 standard deviations: a false alarm about once in 100,000 runs).
        check_shares::<Random>(&weights, &(), 20_000, 0.0)?;
        check_shares::<FnvHash>(&weights, &(), 20_000, 0.0)?;
        // A ring's shares depend on where its points fall: with 160 points per unit of weight a
        // share's standard deviation is about 8%; allow five of them. (Ignoring weights, which
        // here differ up to 19-fold, would be caught.)
        check_shares::<Consistent>(&weights, &KetamaConfig::default(), 20_000, 0.4)?;
    }
}
