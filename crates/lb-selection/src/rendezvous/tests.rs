use super::*;
use crate::test_util::{all_candidates, backends, chi_square_ok};
use proptest::prelude::*;

fn first(sel: &Rendezvous, key: &[u8]) -> usize {
    sel.iter(key).next().unwrap()
}

/// The best backend by the definition, without the bound that skips logarithms.
fn brute_force(set: &[Backend], key: &[u8]) -> usize {
    let hash = lb_maglev::KeyMapping::Fast.hash(key);
    let all_zero = set.iter().all(|b| b.weight == 0);
    let score = |b: &Backend| {
        let w = if all_zero { 1.0 } else { f64::from(b.weight) };
        let seed = lb_maglev::KeyMapping::Fast.hash(b.addr.to_string().as_bytes());
        let u = unit(mix(hash ^ seed));
        -w / u.ln()
    };
    (0..set.len())
        .filter(|&i| all_zero || set[i].weight > 0)
        .max_by(|&a, &b| score(&set[a]).total_cmp(&score(&set[b])).then(b.cmp(&a)))
        .unwrap()
}

#[test]
fn removing_a_backend_moves_exactly_its_keys_to_their_second_choice() {
    let set = backends(&[1, 2, 3, 1, 5, 1, 2]);
    let sel = Rendezvous::build(&set, &()).unwrap();
    for gone in 0..set.len() {
        let rest: Vec<Backend> = set
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != gone)
            .map(|(_, b)| b.clone())
            .collect();
        let smaller = Rendezvous::build(&rest, &()).unwrap();
        for k in 0..2_000u32 {
            let key = k.to_le_bytes();
            let mut order = sel.iter(&key);
            let before = order.next().unwrap();
            let after = &rest[first(&smaller, &key)].addr;
            if before == gone {
                // The second candidate is where the key goes.
                assert_eq!(&set[order.next().unwrap()].addr, after, "key {k}");
            } else {
                assert_eq!(&set[before].addr, after, "key {k} moved");
            }
        }
    }
}

#[test]
fn changing_a_weight_moves_keys_only_to_or_from_that_backend() {
    let set = backends(&[3, 3, 3, 3]);
    let mut heavier = set.clone();
    heavier[2].weight = 6;
    let (a, b) = (
        Rendezvous::build(&set, &()).unwrap(),
        Rendezvous::build(&heavier, &()).unwrap(),
    );
    let mut gained = 0;
    for k in 0..20_000u32 {
        let key = k.to_le_bytes();
        let (x, y) = (first(&a, &key), first(&b, &key));
        if x != y {
            assert_eq!(y, 2, "key {k} moved between two other backends");
            gained += 1;
        }
    }
    // From 1/4 to 6/15 of the keys: about 3,000 of 20,000.
    assert!((2_600..3_400).contains(&gained), "{gained}");
}

#[test]
fn the_bound_never_changes_the_winner() {
    for weights in [
        vec![1, 2, 3],
        vec![1, 1000, 7, 7, 0, 3],
        vec![0, 0, 0],
        vec![5; 9],
    ] {
        let set = backends(&weights);
        let sel = Rendezvous::build(&set, &()).unwrap();
        for k in 0..3_000u32 {
            let key = k.to_le_bytes();
            assert_eq!(
                first(&sel, &key),
                brute_force(&set, &key),
                "{weights:?} key {k}"
            );
        }
    }
}

#[test]
fn proportions_follow_weights_exactly() {
    let sel = Rendezvous::build(&backends(&[1, 2, 4, 0]), &()).unwrap();
    let mut counts = [0u64; 4];
    for k in 0..70_000u32 {
        counts[first(&sel, &k.to_le_bytes())] += 1;
    }
    assert_eq!(counts[3], 0, "a standby is never first");
    assert!(chi_square_ok(&counts[..3], &[1, 2, 4]), "{counts:?}");
}

#[test]
fn fallbacks_follow_the_scores() {
    // With every backend down but the last of the order, select reaches it; the first nine
    // candidates are in score order (each the best of those not yet offered).
    let set = backends(&[1; 12]);
    let sel = Rendezvous::build(&set, &()).unwrap();
    for k in 0..100u32 {
        let key = k.to_le_bytes();
        let got = all_candidates(sel.iter(&key));
        let mut rest = set.clone();
        for &pick in &got[..9] {
            let i = brute_force(&rest, &key);
            assert_eq!(rest[i].addr, set[pick].addr, "key {k}");
            rest.remove(i);
        }
    }
}

#[test]
fn empty_set_yields_nothing() {
    let sel = Rendezvous::build(&[], &()).unwrap();
    assert_eq!(sel.iter(b"k").next(), None);
    assert_eq!(sel.heap_bytes(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn candidates_visit_each_backend_once_standby_last(
        weights in prop::collection::vec(prop_oneof![Just(0u32), 1u32..4, Just(u32::MAX)], 1..30),
        key: u64,
    ) {
        let sel = Rendezvous::build(&backends(&weights), &()).unwrap();
        let got = all_candidates(sel.iter(&key.to_le_bytes()));
        let mut sorted = got.clone();
        sorted.sort_unstable();
        prop_assert_eq!(sorted, (0..weights.len()).collect::<Vec<_>>());
        if weights.iter().any(|&w| w > 0) {
            let active = weights.iter().filter(|&&w| w > 0).count();
            prop_assert!(got[..active].iter().all(|&i| weights[i] > 0), "{:?}", got);
        }
    }
}
