//! The strategies inside a `LoadBalancer`: readiness, standby backends, rebuilds.

use lb_core::{Backend, BackendSelection, Backends, LoadBalancer};
use lb_selection::{Consistent, FnvHash, LeastRequest, Random, RoundRobin};
use proptest::prelude::*;

use crate::support::{AlwaysUp, backends};

/// A load balancer with a health check set and panic mode off: these tests take most of a set
/// down to check how each strategy walks past down backends (lb-core tests panic mode).
fn lb<S: BackendSelection>(set: &[Backend]) -> LoadBalancer<S> {
    let mut lb = LoadBalancer::<S>::from_backends(Backends::fixed(set.to_vec()));
    lb.set_health_check(Box::new(AlwaysUp));
    lb.set_panic_threshold(0);
    lb
}

fn letters(lb: &LoadBalancer<RoundRobin>, n: usize) -> String {
    (0..n)
        .map(|_| {
            let pick = lb.select(b"").unwrap();
            (b'a' + pick.index() as u8) as char
        })
        .collect()
}

#[test]
fn round_robin_skips_a_down_backend_to_the_next_turn() {
    let set = backends(&[5, 1, 1]);
    let lb = lb::<RoundRobin>(&set);
    assert_eq!(letters(&lb, 7), "aabacaa");
    lb.backends().set_health(&set[1], false);
    // Each pick takes the next turn whose backend is ready: nginx's sequence for weights 5, 1.
    assert_eq!(letters(&lb, 12), "aaacaaaaacaa");
    lb.backends().set_health(&set[1], true);
    assert_eq!(letters(&lb, 7), "aabacaa");
}

#[test]
fn round_robin_spreads_a_down_backends_share_over_the_others_by_weight() {
    // Equal weights: with one of ten down, the nine others share its load evenly (the old
    // fallback gave all of it to the next backend in the sequence, doubling that one's load).
    let set = backends(&[1; 10]);
    let even = lb::<RoundRobin>(&set);
    even.backends().set_health(&set[4], false);
    let mut counts = [0usize; 10];
    for _ in 0..900 {
        counts[even.select(b"").unwrap().index()] += 1;
    }
    assert_eq!(counts, [100, 100, 100, 100, 0, 100, 100, 100, 100, 100]);
    // Uneven weights and two down: the rest keep their proportions exactly over whole cycles.
    let set = backends(&[3, 1, 2, 4, 2]);
    let uneven = lb::<RoundRobin>(&set);
    uneven.backends().set_health(&set[1], false);
    uneven.backends().set_health(&set[3], false);
    let mut counts = [0usize; 5];
    for _ in 0..7 * 100 {
        counts[uneven.select(b"").unwrap().index()] += 1;
    }
    assert_eq!(counts, [300, 0, 200, 0, 200]);
}

/// Picks per backend over `n` selects.
fn counts(lb: &LoadBalancer<RoundRobin>, len: usize, n: usize) -> Vec<usize> {
    let mut counts = vec![0; len];
    for _ in 0..n {
        counts[lb.select(b"").unwrap().index()] += 1;
    }
    counts
}

#[test]
fn round_robin_shares_evenly_past_long_runs_of_down_turns() {
    // The heavy backend down: its ~100 turns in a row go by within one select.
    let set = backends(&[100, 1, 1]);
    let heavy = lb::<RoundRobin>(&set);
    heavy.backends().set_health(&set[0], false);
    assert_eq!(counts(&heavy, 3, 1000), [0, 500, 500]);

    // Ten equal backends down in a row (more than the fallback's 8 draws).
    let set = backends(&[1; 20]);
    let run = lb::<RoundRobin>(&set);
    for b in &set[5..15] {
        run.backends().set_health(b, false);
    }
    let got = counts(&run, 20, 1000);
    assert!(got[5..15].iter().all(|&c| c == 0), "{got:?}");
    assert!(
        got[..5].iter().chain(&got[15..]).all(|&c| c == 100),
        "{got:?}"
    );

    // Both heavy backends down: the four light ones share evenly.
    let set = backends(&[50, 50, 1, 1, 1, 1]);
    let light = lb::<RoundRobin>(&set);
    light.backends().set_health(&set[0], false);
    light.backends().set_health(&set[1], false);
    assert_eq!(counts(&light, 6, 400), [0, 0, 100, 100, 100, 100]);
}

#[test]
fn round_robin_position_survives_updates() {
    let set = backends(&[5, 1, 1]);
    let lb = lb::<RoundRobin>(&set);
    assert_eq!(letters(&lb, 3), "aab");
    // The same backends and weights (new extensions): the sequence goes on.
    lb.apply(
        set.iter()
            .map(|b| b.clone().with_ext(1u8))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert_eq!(letters(&lb, 4), "acaa");
    // Another set and back: the rebuilt selectors share the position.
    lb.apply(backends(&[1, 1])).unwrap();
    assert_eq!(
        letters(&lb, 1),
        "b",
        "turn 7 of a plain round robin over two"
    );
    lb.apply(set.clone()).unwrap();
    assert_eq!(
        letters(&lb, 6),
        "abacaa",
        "turn 8 is entry 1 of the smooth sequence"
    );
}

#[test]
fn round_robin_threads_each_follow_the_smooth_sequence() {
    let set = backends(&[5, 1, 1]);
    let lb = lb::<RoundRobin>(&set);
    let counts: Vec<[u32; 3]> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let mut c = [0u32; 3];
                    let mut run = 0;
                    for _ in 0..7_000 {
                        let i = lb.select(b"").unwrap().index();
                        c[i] += 1;
                        // Smooth: at most four a's in a row (`... c a a | a a b ...` across
                        // periods), where a plain weighted round robin runs five.
                        run = if i == 0 { run + 1 } else { 0 };
                        assert!(run <= 4, "bunched picks");
                    }
                    c
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for c in counts {
        // 7,000 consecutive turns of a period-7 sequence: exactly the weights, per thread.
        assert_eq!(c, [5_000, 1_000, 1_000]);
    }
}

#[test]
fn random_spreads_a_down_backends_share_by_weight() {
    let set = backends(&[1, 2, 3, 4]);
    let lb = lb::<Random>(&set);
    lb.backends().set_health(&set[3], false);
    let mut counts = [0u64; 4];
    for _ in 0..60_000 {
        counts[lb.select(b"").unwrap().index()] += 1;
    }
    assert_eq!(counts[3], 0);
    // Redraws keep the proportions 1 : 2 : 3 among the rest (within 5%).
    let n = 60_000.0;
    for (i, w) in [1.0, 2.0, 3.0].iter().enumerate() {
        let share = counts[i] as f64 / n;
        assert!((share - w / 6.0).abs() < 0.05 * w / 6.0, "{counts:?}");
    }
}

#[test]
fn consistent_moves_only_the_keys_of_a_down_backend() {
    let set = backends(&[1; 8]);
    let lb = lb::<Consistent>(&set);
    let before: Vec<usize> = (0..4000u32)
        .map(|k| lb.select(&k.to_le_bytes()).unwrap().index())
        .collect();
    lb.backends().set_health(&set[5], false);
    let mut moved = 0;
    for (k, &was) in before.iter().enumerate() {
        let now = lb.select(&(k as u32).to_le_bytes()).unwrap().index();
        if was == 5 {
            assert_ne!(now, 5);
            moved += 1;
        } else {
            assert_eq!(now, was, "key {k} moved although its backend is up");
        }
    }
    assert!(
        (250..750).contains(&moved),
        "{moved} of 4000 keys were on one of 8 backends"
    );
}

#[test]
fn more_than_65536_backends_work_in_every_strategy() {
    let set = backends(&vec![1; 70_000]);
    fn reach<S: BackendSelection>(set: &[Backend]) {
        let lb = LoadBalancer::<S>::from_backends(Backends::fixed(set.to_vec()));
        let high = (0..80_000u32)
            .filter_map(|k| lb.select(&k.to_le_bytes()))
            .filter(|p| p.index() >= 65_536)
            .count();
        assert!(
            high > 0,
            "{}: no pick above index 65,535",
            std::any::type_name::<S>()
        );
    }
    reach::<RoundRobin>(&set[..]);
    reach::<Random>(&set[..]);
    reach::<LeastRequest>(&set[..]);
    reach::<FnvHash>(&set[..]);
    reach::<Consistent>(&set[..]);
}

/// For any weights and any readiness: `select` returns a ready backend iff one exists, and a
/// standby only when no positive-weight backend is ready.
fn select_finds_the_ready<S: BackendSelection>(
    weights: &[u32],
    down: &[bool],
    key: u64,
) -> Result<(), TestCaseError> {
    let set = backends(weights);
    let lb = lb::<S>(&set);
    for (b, &d) in set.iter().zip(down) {
        lb.backends().set_health(b, !d);
    }
    let ready = |i: usize| !down[i];
    let any_ready = (0..set.len()).any(ready);
    let any_positive_ready = (0..set.len()).any(|i| ready(i) && weights[i] > 0);
    for k in 0..4u64 {
        let pick = lb.select(&(key ^ k).to_le_bytes());
        prop_assert_eq!(pick.is_some(), any_ready);
        if let Some(p) = pick {
            prop_assert!(ready(p.index()));
            if any_positive_ready || weights.iter().all(|&w| w == 0) {
                prop_assert!(
                    weights[p.index()] > 0 || weights.iter().all(|&w| w == 0),
                    "a standby was picked while a positive-weight backend was ready"
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_strategy_finds_a_ready_backend_whenever_one_exists(
        (weights, down) in (1usize..40).prop_flat_map(|n| (
            prop::collection::vec(prop_oneof![Just(0u32), 1u32..5, 1u32..100_000], n),
            prop::collection::vec(prop::bool::weighted(0.7), n),
        )),
        key: u64,
    ) {
        select_finds_the_ready::<RoundRobin>(&weights, &down, key)?;
        select_finds_the_ready::<Random>(&weights, &down, key)?;
        select_finds_the_ready::<LeastRequest>(&weights, &down, key)?;
        select_finds_the_ready::<FnvHash>(&weights, &down, key)?;
        // Ring points are 160 per unit of weight: keep rings small enough to build in a debug
        // test (zero stays zero).
        let light: Vec<u32> = weights.iter().map(|&w| if w == 0 { 0 } else { 1 + w % 16 }).collect();
        select_finds_the_ready::<Consistent>(&light, &down, key)?;
    }
}
