//! Properties every strategy keeps, on any weights: indices in range, each backend offered
//! exactly once with standby backends last, first picks in proportion to the weights; and the
//! consistent ones move few keys when a backend is added.

use lb_core::{BackendIter, BackendSelection};
use lb_selection::{
    Bounded, Consistent, FnvHash, Jump, JumpKey, KetamaConfig, LeastRequest, Maglev, PeakEwma,
    Random, Rendezvous, RoundRobin,
};
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
    check_shares_of::<S>(weights, weights, config, n, tolerance)
}

/// [`check_shares`] of a strategy built over `weights` against the shares of `expected`.
fn check_shares_of<S: BackendSelection>(
    weights: &[u32],
    expected: &[u32],
    config: &S::Config,
    n: u32,
    tolerance: f64,
) -> Result<(), TestCaseError> {
    let sel =
        S::build(&backends(weights), config).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let weights = expected;
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

/// Adds a backend (sorting last) to `n` of weight 1: the keys that move are about 1/(n + 1) of
/// them, and at most `elsewhere` of the moved ones land on an old backend.
fn check_growth<S: BackendSelection>(
    n: usize,
    config: &S::Config,
    elsewhere: f64,
) -> Result<(), TestCaseError> {
    let build = |n| {
        S::build(&backends(&vec![1; n]), config).map_err(|e| TestCaseError::fail(e.to_string()))
    };
    let (before, after) = (build(n)?, build(n + 1)?);
    let keys = 20_000u32;
    let (mut moved, mut onto_old) = (0u32, 0u32);
    for k in 0..keys {
        let key = u64::from(k)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .to_le_bytes();
        let a = before.iter(&key).next().expect("a backend");
        let b = after.iter(&key).next().expect("a backend");
        if a != b {
            moved += 1;
            if b != n {
                onto_old += 1;
            }
        }
    }
    let ideal = f64::from(keys) / (n + 1) as f64;
    prop_assert!(
        f64::from(onto_old) <= elsewhere * f64::from(moved),
        "{}: {} of {} moved keys went to an old backend",
        std::any::type_name::<S>(),
        onto_old,
        moved
    );
    // Sampling noise, and a ring's or table's deviation from an even share.
    prop_assert!(
        (f64::from(moved - onto_old) - ideal).abs() <= 0.45 * ideal + 5.5 * ideal.sqrt(),
        "{}: {} keys moved onto the new backend of {} backends, ideal {:.0}",
        std::any::type_name::<S>(),
        moved - onto_old,
        n + 1,
        ideal
    );
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
        check_order::<Maglev>(&weights, &Default::default(), 20)?;
        check_order::<Rendezvous>(&weights, &(), 20)?;
        check_order::<Jump>(&weights, &JumpKey::Hashed, 20)?;
        check_order::<Bounded<Maglev>>(&weights, &Default::default(), 20)?;
        check_order::<Bounded<Rendezvous>>(&weights, &Default::default(), 20)?;
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
        // Maglev's table holds each backend's share of slots to within about 1%.
        check_shares::<Maglev>(&weights, &Default::default(), 20_000, 0.02)?;
        // Rendezvous' logarithmic method gives exactly the weights' shares.
        check_shares::<Rendezvous>(&weights, &(), 20_000, 0.0)?;
        // Jump has no weights: equal shares whatever the positive weights.
        check_shares_of::<Jump>(&weights, &vec![1; weights.len()], &JumpKey::Hashed, 20_000, 0.0)?;
    }

    #[test]
    fn adding_a_backend_moves_about_its_share_onto_it(n in 2usize..40) {
        // Rendezvous and jump (adding at the end) move keys only onto the new backend; ketama's
        // and Maglev's other keys stay put but for a few (Maglev's fill changes some other
        // slots' owners; ketama's ring does not).
        check_growth::<Rendezvous>(n, &(), 0.0)?;
        check_growth::<Jump>(n, &JumpKey::Hashed, 0.0)?;
        check_growth::<Consistent>(n, &KetamaConfig::default(), 0.0)?;
        check_growth::<Maglev>(n, &Default::default(), 0.25)?;
    }
}
