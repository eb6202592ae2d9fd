//! `Bounded` inside a `LoadBalancer`: caps on requests in flight, checked against the rule
//! computed here independently, and a hot key steered off its backend.

use lb_core::{BackendIter, BackendSelection, Backends, LoadBalancer, Pick, States};
use lb_selection::{Bounded, BoundedConfig, Consistent, Maglev, Rendezvous};
use proptest::prelude::*;

use crate::support::backends;

/// Holds `count` requests in flight on backend `index`: picks of a load balancer that counts
/// them (`Bounded` needs load), kept alive.
fn hold<S: BackendSelection>(lb: &LoadBalancer<S>, index: usize, count: u32) -> Vec<Pick<S>> {
    let target = lb.backends().get_backend().backends()[index].addr.clone();
    (0..count)
        .map(|_| {
            lb.select_with(b"", usize::MAX, |b, _| b.addr == target)
                .expect("the backend exists")
        })
        .collect()
}

/// The rule, from its definition: backend `i` is under its cap when
/// `load_i < factor/100 × (T + 1) × w_i / W`, weights 0 meaning standby (cap 0).
fn under_cap(loads: &[u32], weights: &[u32], factor: u32, i: usize) -> bool {
    let all_zero = weights.iter().all(|&w| w == 0);
    let w = |j: usize| if all_zero { 1.0 } else { f64::from(weights[j]) };
    let total_weight: f64 = (0..weights.len()).map(w).sum();
    let total: f64 = loads.iter().map(|&l| f64::from(l)).sum();
    let cap = f64::from(factor) / 100.0 * (total + 1.0) * w(i) / total_weight;
    f64::from(loads[i]) < cap
}

/// Loads `loads` onto a balancer over `weights`; for each key, the pick must be the first
/// backend of the inner order that is under its cap, whenever one is.
fn check_caps<S: BackendSelection>(
    weights: &[u32],
    loads: &[u32],
    factor: u32,
    config: S::Config,
    keys: u32,
) -> Result<(), TestCaseError> {
    let set = backends(weights);
    let inner = S::build(&set, &config).expect("builds");
    let lb = LoadBalancer::<Bounded<S>>::from_backends_with_config(
        Backends::fixed(set),
        BoundedConfig {
            factor,
            inner: config,
        },
    );
    let _held: Vec<_> = loads
        .iter()
        .enumerate()
        .flat_map(|(i, &l)| hold(&lb, i, l))
        .collect();
    let any_under = (0..weights.len()).any(|i| under_cap(loads, weights, factor, i));
    for k in 0..keys {
        let key = k.to_le_bytes();
        let picked = lb.select(&key).expect("a backend").index();
        if any_under {
            prop_assert!(
                under_cap(loads, weights, factor, picked),
                "picked {} over its cap while another is under it: loads {:?} weights {:?}",
                picked,
                loads,
                weights
            );
            let mut order = inner.iter(&key);
            let first_under =
                std::iter::from_fn(|| order.next()).find(|&i| under_cap(loads, weights, factor, i));
            prop_assert_eq!(Some(picked), first_under, "not the first under its cap");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn no_backend_is_picked_over_its_cap_while_one_is_under_it(
        (weights, loads) in (2usize..25).prop_flat_map(|n| (
            prop::collection::vec(prop_oneof![1 => Just(0u32), 6 => 1u32..5], n),
            prop::collection::vec(prop_oneof![Just(0u32), 0u32..4, 0u32..40], n),
        )),
        factor in prop_oneof![Just(100u32), 100u32..300],
    ) {
        check_caps::<Consistent>(&weights, &loads, factor, Default::default(), 30)?;
        check_caps::<Maglev>(&weights, &loads, factor, Default::default(), 30)?;
        check_caps::<Rendezvous>(&weights, &loads, factor, (), 30)?;
    }
}

#[test]
fn every_backend_is_still_offered_once_when_all_are_over_their_cap() {
    // Backends 0 and 1 are down; 2 and 3 carry everything: the over-cap ones come after the
    // under-cap ones, and select still finds the ready ones.
    let set = backends(&[1, 1, 1, 1, 0]);
    let lb = LoadBalancer::<Bounded<Maglev>>::from_backends(Backends::fixed(set.clone()));
    let _a = hold(&lb, 2, 50);
    let _b = hold(&lb, 3, 50);
    for b in &set[..2] {
        lb.backends().set_enable(b, false);
    }
    for k in 0..100u32 {
        let picked = lb
            .select(&k.to_le_bytes())
            .expect("a ready backend")
            .index();
        assert!(picked == 2 || picked == 3, "{picked}");
    }
}

#[test]
fn many_skipped_backends_are_all_offered() {
    // 40 backends over their cap (more than the walk keeps inline), one idle: the idle one is
    // first, then the 40 in the inner order, each once.
    // Factor 100: a cap of (400 + 1) / 41, below the 10 each loaded backend carries.
    let config = BoundedConfig {
        factor: 100,
        inner: (),
    };
    let lb = LoadBalancer::<Bounded<Rendezvous>>::from_backends_with_config(
        Backends::fixed(backends(&[1; 41])),
        config,
    );
    let _held: Vec<_> = (0..40).flat_map(|i| hold(&lb, i, 10)).collect();
    let set = lb.backends().get_backend();
    let bounded = Bounded::<Rendezvous>::build(set.backends(), &config).expect("builds");
    let mut order = bounded.iter_with_states(b"k", States::with_default_signals(&set));
    let got: Vec<usize> = std::iter::from_fn(|| order.next()).collect();
    assert_eq!(got[0], 40);
    let mut sorted = got.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..41).collect::<Vec<_>>());
    let inner = Rendezvous::build(set.backends(), &()).expect("builds");
    let mut inner_order = inner.iter(b"k");
    let inner_rest: Vec<usize> = std::iter::from_fn(|| inner_order.next())
        .filter(|&i| i != 40)
        .collect();
    assert_eq!(got[1..], inner_rest[..]);
}

/// A small deterministic generator for the steering test.
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Runs 20,000 requests over 10 backends, half of them for one hot key, 200 in flight right
/// after each pick (from the 200th on, a random request ends before each new one starts);
/// returns the hot backend's largest and mean share of the load right after a pick, over the
/// mean share (so 1.0 is an even share).
fn steer(factor: u32) -> (f64, f64) {
    let lb = LoadBalancer::<Bounded<Consistent>>::from_backends_with_config(
        Backends::fixed(backends(&[1; 10])),
        BoundedConfig {
            factor,
            ..BoundedConfig::default()
        },
    );
    let hot = lb.select(b"hot").expect("a backend").index();
    let states = lb.backends().get_backend().states().to_vec();
    let mut rng = Lcg(7);
    let mut in_flight = Vec::new();
    let (mut worst, mut share_sum, mut samples) = (0.0f64, 0.0, 0u32);
    for i in 0..20_000u64 {
        if in_flight.len() == 200 {
            let end = rng.below(200) as usize;
            in_flight.swap_remove(end);
        }
        let key = if rng.below(2) == 0 {
            b"hot".to_vec()
        } else {
            format!("key-{i}").into_bytes()
        };
        let pick = lb.select(&key).expect("a backend");
        in_flight.push(pick);
        if in_flight.len() == 200 {
            let share = states[hot].in_flight() as f64 / (200.0 / 10.0);
            worst = worst.max(share);
            share_sum += share;
            samples += 1;
        }
    }
    (worst, share_sum / f64::from(samples))
}

#[test]
fn a_hot_key_is_steered_off_its_backend_at_factor_125() {
    let (worst, mean) = steer(125);
    // With 200 in flight the cap is exactly 1.25 × 200 / 10 = 25: the hot backend never holds
    // more than 1.25 times the mean, and the hot key keeps it near that.
    assert!(
        worst <= 1.25,
        "the hot backend reached {worst:.3} × the mean"
    );
    assert!(mean > 1.0, "mean share {mean:.3}");
    // Without the bound the hot key's half of the traffic piles onto it: 5.5 times the mean.
    let (worst_off, mean_off) = steer(0);
    assert!(worst_off > 5.0, "{worst_off}");
    assert!((5.0..6.0).contains(&mean_off), "{mean_off}");
}
