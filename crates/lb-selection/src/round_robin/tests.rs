use super::*;
use crate::test_util::{all_candidates, backends};
use proptest::prelude::*;

fn picks(sel: &RoundRobin, n: usize) -> Vec<usize> {
    (0..n).map(|_| sel.iter(b"").next().unwrap()).collect()
}

/// nginx's loop, literally, over the positive weights in list order; standby backends (weight
/// 0) take no part, as they are never picked first.
fn nginx(weights: &[u32], turns: usize) -> Vec<usize> {
    let active: Vec<usize> = (0..weights.len()).filter(|&i| weights[i] > 0).collect();
    let total: i64 = active.iter().map(|&i| i64::from(weights[i])).sum();
    let mut current = vec![0i64; active.len()];
    let mut out = Vec::new();
    for _ in 0..turns {
        let mut best = 0;
        for k in 0..active.len() {
            current[k] += i64::from(weights[active[k]]);
            if current[k] > current[best] {
                best = k;
            }
        }
        current[best] -= total;
        out.push(active[best]);
    }
    out
}

#[test]
fn five_one_one_is_smooth() {
    let sel = RoundRobin::build(&backends(&[5, 1, 1]), &()).unwrap();
    assert_eq!(sel.regime(), Regime::Table(7));
    assert_eq!(picks(&sel, 14), [0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0]);
}

#[test]
fn equal_weights_are_plain_round_robin_over_active_backends() {
    let sel = RoundRobin::build(&backends(&[3, 0, 3, 3]), &()).unwrap();
    assert_eq!(sel.regime(), Regime::Uniform);
    assert_eq!(picks(&sel, 7), [0, 2, 3, 0, 2, 3, 0]);
    let sel = RoundRobin::build(&backends(&[0, 0, 0]), &()).unwrap();
    assert_eq!(picks(&sel, 4), [0, 1, 2, 0], "all zero: equal weights");
}

#[test]
fn weights_with_a_common_divisor_keep_a_small_table() {
    let sel = RoundRobin::build(&backends(&[10_000, 20_000, 10_000]), &()).unwrap();
    assert_eq!(sel.regime(), Regime::Table(4));
    assert_eq!(picks(&sel, 8), nginx(&[10_000, 20_000, 10_000], 8));
}

#[test]
fn position_survives_a_rebuild_with_the_same_backends() {
    let set = backends(&[5, 1, 1]);
    let sel = RoundRobin::build(&set, &()).unwrap();
    let mut got = picks(&sel, 3);
    let rebuilt = sel.rebuild(&set, &()).unwrap();
    got.extend(picks(&rebuilt, 4));
    assert_eq!(
        got,
        [0, 0, 1, 0, 2, 0, 0],
        "the sequence goes on across the rebuild"
    );
    // Picks on the old selector (still serving until the swap) advance the same counter.
    assert_eq!(sel.iter(b"").next(), Some(0));
    assert_eq!(rebuilt.iter(b"").next(), Some(0));
    assert_eq!(rebuilt.iter(b"").next(), Some(1));
}

#[test]
fn uneven_weights_take_the_golden_sequence_in_linear_memory() {
    let set = backends(&vec![10_007; 999].into_iter().chain([1]).collect::<Vec<_>>());
    let sel = RoundRobin::build(&set, &()).unwrap();
    assert_eq!(sel.regime(), Regime::Golden);
    assert!(sel.heap_bytes() < 1000 * 24, "{} bytes", sel.heap_bytes());
    let sel = RoundRobin::build(&backends(&[u32::MAX, 1, u32::MAX - 1]), &()).unwrap();
    assert_eq!(sel.regime(), Regime::Golden);
    assert!(picks(&sel, 100).iter().all(|&i| i == 0 || i == 2));
}

#[test]
fn large_uneven_sets_take_the_spread_table() {
    // nginx's table would take 55,000 turns x 10 classes to compute at every update.
    let weights: Vec<u32> = (0..10_000).map(|i| 1 + i % 10).collect();
    let sel = RoundRobin::build(&backends(&weights), &()).unwrap();
    assert_eq!(sel.regime(), Regime::Spread(55_000));
    assert_eq!(
        sel.heap_bytes() / 1000,
        (55_000 * 4 + sel.layout.heap_bytes()) / 1000
    );
    let mut counts = vec![0u32; weights.len()];
    for i in picks(&sel, 55_000) {
        counts[i] += 1;
    }
    assert_eq!(counts, weights, "one period gives each backend its weight");
    // A tenth of the period gives each backend a tenth of its weight, within two.
    let mut tenth = vec![0i64; weights.len()];
    for i in picks(&sel, 5_500) {
        tenth[i] += 1;
    }
    for (i, &w) in weights.iter().enumerate() {
        assert!(
            (tenth[i] * 10 - i64::from(w)).abs() <= 20,
            "backend {i}: {}",
            tenth[i]
        );
    }
}

#[test]
fn candidates_reach_every_backend_once_standby_last() {
    let set = backends(&[0, 5, 1, 0, 1]);
    let sel = RoundRobin::build(&set, &()).unwrap();
    for _ in 0..20 {
        let got = all_candidates(sel.iter(b""));
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2, 3, 4]);
        assert_eq!(&got[3..], [0, 3], "{got:?}");
    }
}

#[test]
fn a_down_backends_turns_are_skipped_and_the_sequence_moves_on() {
    // Sequence a a b a c a a; with b down, each pick takes the next turn with a ready backend:
    // a a a c a a, nginx's smooth sequence for weights 5 and 1.
    let sel = RoundRobin::build(&backends(&[5, 1, 1]), &()).unwrap();
    let firsts: Vec<usize> = (0..7)
        .map(|_| {
            let mut it = sel.iter(b"");
            let mut i = it.next().unwrap();
            while i == 1 {
                i = it.next().unwrap();
            }
            i
        })
        .collect();
    assert_eq!(firsts, [0, 0, 0, 2, 0, 0, 0]);
}

#[test]
fn empty_set_yields_nothing() {
    let sel = RoundRobin::build(&[], &()).unwrap();
    assert_eq!(sel.regime(), Regime::Empty);
    assert_eq!(sel.iter(b"").next(), None);
}

/// The picks of each backend in `seq`, as gaps between successive picks.
fn gaps(seq: &[usize], backend: usize) -> Vec<usize> {
    let at: Vec<usize> = (0..seq.len()).filter(|&t| seq[t] == backend).collect();
    at.windows(2).map(|w| w[1] - w[0]).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_table_regime_is_nginx_turn_for_turn(
        weights in prop::collection::vec(prop_oneof![0u32..4, 1u32..50], 1..20),
    ) {
        let sel = RoundRobin::build(&backends(&weights), &()).unwrap();
        let turns = 3 * weights.iter().map(|&w| w as usize).sum::<usize>().max(weights.len());
        let got = picks(&sel, turns);
        if weights.iter().all(|&w| w == 0) {
            prop_assert_eq!(got, (0..turns).map(|t| t % weights.len()).collect::<Vec<_>>());
        } else {
            prop_assert!(matches!(sel.regime(), Regime::Table(_) | Regime::Uniform));
            prop_assert_eq!(got, nginx(&weights, turns));
        }
    }

    #[test]
    fn the_golden_regime_is_proportional_and_evenly_spread(
        weights in prop::collection::vec(1u32..1_000_000, 2..12),
        start: u32,
    ) {
        let set = backends(&weights);
        let sel = RoundRobin::build(&set, &()).unwrap();
        prop_assume!(sel.regime() == Regime::Golden);
        let total: f64 = weights.iter().map(|&w| f64::from(w)).sum();
        let seq: Vec<usize> = (0..20_000u64)
            .map(|t| sel.backend_at(u64::from(start) + t))
            .collect();
        for (i, &w) in weights.iter().enumerate() {
            let share = f64::from(w) / total;
            // Any window, not only from turn 0: the count is within a few of its share.
            for window in [100usize, 1_000, 20_000] {
                for from in [0, 777.min(20_000 - window), 20_000 - window] {
                    let got = seq[from..from + window].iter().filter(|&&b| b == i).count() as f64;
                    let want = share * window as f64;
                    prop_assert!((got - want).abs() <= 3.0 + (window as f64).log2() / 2.0,
                        "backend {} weight {} window {} from {}: {} picks, expected {:.1}", i, w, window, from, got, want);
                }
            }
            // Three-gap theorem: the gaps between successive picks take at most 3 values.
            let mut g = gaps(&seq, i);
            g.sort_unstable();
            g.dedup();
            prop_assert!(g.len() <= 3, "backend {} gaps {:?}", i, g);
        }
    }

    #[test]
    fn picks_are_in_range_and_candidates_complete_for_any_weights(
        weights in prop::collection::vec(prop_oneof![Just(0u32), 1u32..10, Just(u32::MAX)], 0..40),
    ) {
        let sel = RoundRobin::build(&backends(&weights), &()).unwrap();
        for _ in 0..5 {
            let mut got = all_candidates(sel.iter(b""));
            if weights.iter().any(|&w| w > 0) {
                prop_assert!(weights[got[0]] > 0, "a standby was first");
            }
            got.sort_unstable();
            prop_assert_eq!(got, (0..weights.len()).collect::<Vec<_>>());
        }
    }
}
