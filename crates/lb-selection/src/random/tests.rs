use super::*;
use crate::test_util::{all_candidates, backends, chi_square_ok};
use proptest::prelude::*;

/// The exact probability of each backend in the table, in units of 2^-32 / columns.
fn exact_mass(sel: &Random, len: usize) -> Vec<u128> {
    let mut mass = vec![0u128; len];
    for c in sel.table.columns().iter() {
        let own = u128::from(c.threshold);
        if c.alias == c.own {
            mass[c.own as usize] += 1u128 << 32;
        } else {
            mass[c.own as usize] += own;
            mass[c.alias as usize] += (1u128 << 32) - own;
        }
    }
    mass
}

#[test]
fn draws_follow_weights() {
    let w = [1u32, 2, 3, 10, 0, 4];
    let sel = Random::build(&backends(&w), &()).unwrap();
    let mut counts = [0u64; 6];
    for _ in 0..100_000 {
        counts[sel.iter(b"").next().unwrap()] += 1;
    }
    assert_eq!(counts[4], 0, "a standby is never first");
    let active: Vec<u64> = [0, 1, 2, 3, 5].iter().map(|&i| counts[i]).collect();
    assert!(chi_square_ok(&active, &[1, 2, 3, 10, 4]), "{counts:?}");
}

#[test]
fn all_zero_weights_are_equally_likely() {
    let sel = Random::build(&backends(&[0, 0, 0, 0]), &()).unwrap();
    let mut counts = [0u64; 4];
    for _ in 0..40_000 {
        counts[sel.iter(b"").next().unwrap()] += 1;
    }
    assert!(chi_square_ok(&counts, &[1, 1, 1, 1]), "{counts:?}");
}

#[test]
fn memory_is_per_backend_whatever_the_weights() {
    let sel = Random::build(&backends(&vec![10_000; 1000]), &()).unwrap();
    assert!(sel.heap_bytes() <= 1000 * 20, "{} bytes", sel.heap_bytes());
    let sel = Random::build(&backends(&vec![u32::MAX; 70_000]), &()).unwrap();
    assert!(sel.iter(b"").next().unwrap() < 70_000);
}

#[test]
fn candidates_reach_every_backend_once_standby_last() {
    let sel = Random::build(&backends(&[0, 5, 1, 0, 1]), &()).unwrap();
    for _ in 0..50 {
        let got = all_candidates(sel.iter(b""));
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2, 3, 4]);
        assert_eq!(&got[3..], [0, 3], "{got:?}");
    }
}

#[test]
fn empty_set_yields_nothing() {
    let sel = Random::build(&[], &()).unwrap();
    assert_eq!(sel.iter(b"").next(), None);
}

proptest! {
    #[test]
    fn the_table_holds_each_weight_share_exactly(
        weights in prop::collection::vec(prop_oneof![Just(0u32), 1u32..10, 1u32..100_000, Just(u32::MAX)], 1..60),
    ) {
        let sel = Random::build(&backends(&weights), &()).unwrap();
        let mass = exact_mass(&sel, weights.len());
        let cols = sel.table.columns().len() as f64;
        let all_zero = weights.iter().all(|&w| w == 0);
        let total: f64 = weights.iter().map(|&w| if all_zero { 1.0 } else { f64::from(w) }).sum();
        for (i, &w) in weights.iter().enumerate() {
            let w = if all_zero { 1.0 } else { f64::from(w) };
            let p = mass[i] as f64 / (cols * 4_294_967_296.0);
            // Each column rounds down by less than 2^-32 (and a positive weight is never 0).
            prop_assert!((p - w / total).abs() <= 2.0 / 4_294_967_296.0 + 1e-12,
                "backend {} weight {}: probability {} want {}", i, w, p, w / total);
            if w == 0.0 {
                prop_assert_eq!(mass[i], 0);
            } else {
                prop_assert!(mass[i] > 0);
            }
        }
    }
}

#[test]
fn the_64_and_128_bit_constructions_give_the_same_table() {
    // The same proportions, with a total under 2^32 (built in u64) and over it (in u128).
    let small = Random::build(&backends(&[1, 2, 3, 5]), &()).unwrap();
    let k = 1u32 << 29;
    let large = Random::build(&backends(&[k, 2 * k, 3 * k, 5 * k]), &()).unwrap();
    assert!(11 * u64::from(k) > u64::from(u32::MAX));
    let columns = |sel: &Random| -> Vec<(u32, u32, u32)> {
        sel.table
            .columns()
            .iter()
            .map(|c| (c.own, c.alias, c.threshold))
            .collect()
    };
    assert_eq!(columns(&small), columns(&large));
}
