//! Priority levels and zone-aware routing through the load balancer: Envoy's documented splits
//! as exact figures (the priority load) and as sampled shares of real selects (zones).

use std::collections::HashMap;

use lb_core::{
    Backend, BackendIter, BackendSelection, Backends, BoxError, CallerShares, LoadBalancer,
    Priority, Zone, ZoneHints, ZoneRouting,
};

use crate::support::Rotate;

/// Backends in groups of `(zone, priority, count)`, on distinct ports.
fn fleet(groups: &[(&str, u32, u16)]) -> Vec<Backend> {
    let mut port = 0u16;
    let mut all = Vec::new();
    for &(zone, priority, count) in groups {
        for _ in 0..count {
            port += 1;
            all.push(
                Backend::from(std::net::SocketAddr::from(([10, 0, 0, 1], port)))
                    .with_ext(Zone::new(zone))
                    .with_ext(Priority(priority)),
            );
        }
    }
    all
}

fn zone_of(b: &Backend) -> String {
    b.ext.get::<Zone>().unwrap().to_string()
}

fn priority_of(b: &Backend) -> u32 {
    b.ext.get::<Priority>().unwrap().0
}

/// Share of `n` selects per value of `by`.
fn shares<S: BackendSelection, K: std::hash::Hash + Eq>(
    lb: &LoadBalancer<S>,
    n: usize,
    by: impl Fn(&Backend) -> K,
) -> HashMap<K, f64> {
    let mut counts = HashMap::new();
    for i in 0..n {
        let pick = lb.select(&(i as u64).to_le_bytes()).expect("a backend");
        *counts.entry(by(&pick)).or_insert(0usize) += 1;
    }
    counts
        .into_iter()
        .map(|(k, c)| (k, c as f64 / n as f64))
        .collect()
}

fn set_down(lb: &LoadBalancer<Rotate>, backends: &[Backend]) {
    for b in backends {
        lb.backends().set_health(b, false);
    }
}

#[test]
fn the_priority_load_follows_envoys_table() {
    // Envoy's table for two levels, level 1 healthy, overprovisioning 1.4.
    for (ready, want) in [
        (100, [100, 0]),
        (72, [100, 0]),
        (71, [99, 1]),
        (50, [70, 30]),
        (25, [35, 65]),
        (0, [0, 100]),
    ] {
        let all = fleet(&[("a", 0, 100), ("a", 1, 100)]);
        let lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed(all.clone()));
        set_down(&lb, &all[ready..100]);
        assert_eq!(lb.priority_load(), want, "level 0 at {ready} %");
    }
    // 71.4 %, the documented edge: 714 of 1,000 ready is 99.96 % availability.
    let all = fleet(&[("a", 0, 1000), ("a", 1, 10)]);
    let lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed(all.clone()));
    set_down(&lb, &all[714..1000]);
    assert_eq!(lb.priority_load(), [99, 1]);
    set_down(&lb, &all[713..714]);
    assert_eq!(lb.priority_load(), [99, 1]);
    assert!(!lb.in_panic());
}

#[test]
fn selects_split_between_levels_by_the_priority_load() {
    let all = fleet(&[("a", 0, 100), ("a", 1, 100)]);
    let lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed(all.clone()));
    let s = shares(&lb, 10_000, priority_of);
    assert_eq!(s.get(&1), None, "level 0 healthy takes everything");
    set_down(&lb, &all[50..100]);
    let s = shares(&lb, 20_000, priority_of);
    assert!((s[&0] - 0.70).abs() < 0.015, "{s:?}");
    assert!((s[&1] - 0.30).abs() < 0.015, "{s:?}");
    for _ in 0..1000 {
        assert!(
            lb.select(b"").unwrap().state().is_ready(),
            "no panic: ready ones only"
        );
    }
}

#[test]
fn srv_like_priorities_fail_over_level_by_level() {
    // Priorities 10, 20, 30 are levels 0, 1, 2.
    let all = fleet(&[("a", 10, 4), ("a", 20, 4), ("a", 30, 4)]);
    let lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed(all.clone()));
    lb.set_panic_threshold(0);
    assert_eq!(lb.priority_load(), [100, 0, 0]);
    set_down(&lb, &all[..4]);
    assert_eq!(lb.priority_load(), [0, 100, 0]);
    assert!(shares(&lb, 1000, priority_of).keys().all(|&p| p == 20));
    set_down(&lb, &all[4..8]);
    assert_eq!(lb.priority_load(), [0, 0, 100]);
    assert!(shares(&lb, 1000, priority_of).keys().all(|&p| p == 30));
    for b in &all[..4] {
        lb.backends().set_health(b, true);
    }
    assert_eq!(lb.priority_load(), [100, 0, 0]);
}

#[test]
fn panic_mode_is_per_level_as_in_envoy() {
    let all = fleet(&[("a", 0, 10), ("a", 1, 10)]);
    let lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed(all.clone()));
    // Level 0 at 60 % (84 % available) and level 1 at 10 % (14 %): short of 100 %, and only
    // level 1 is under the threshold.
    set_down(&lb, &all[6..10]);
    set_down(&lb, &all[11..20]);
    assert_eq!(lb.priority_load(), [86, 14]);
    assert!(lb.in_panic());
    let mut unready = [0usize; 2];
    for _ in 0..5_000 {
        let pick = lb.select(b"").unwrap();
        if !pick.state().is_ready() {
            unready[priority_of(&pick) as usize] += 1;
        }
    }
    assert_eq!(
        unready[0], 0,
        "level 0 is not in panic: ready backends only"
    );
    assert!(
        unready[1] > 0,
        "level 1 in panic takes its unready backends too"
    );
}

#[test]
fn weight_zero_is_a_standby_inside_its_level() {
    let mut all = fleet(&[("a", 0, 2), ("a", 1, 1)]);
    all[1].weight = 0;
    let lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed(all.clone()));
    lb.set_panic_threshold(0);
    assert!(shares(&lb, 1000, priority_of).keys().all(|&p| p == 0));
    // The active backend of level 0 goes down: its standby keeps the level available (a
    // standby tier counts as Envoy's next level would), so it takes over, not level 1.
    set_down(&lb, &all[..1]);
    assert_eq!(lb.priority_load(), [100, 0]);
    let picks = shares(&lb, 1000, |b| b.addr.clone());
    assert_eq!(picks.keys().collect::<Vec<_>>(), [&all[1].addr]);
}

#[test]
fn zone_routing_keeps_traffic_local_then_spills_by_spare_capacity() {
    let all = fleet(&[("a", 0, 10), ("b", 0, 10), ("c", 0, 10)]);
    let lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed(all.clone()));
    let s = shares(&lb, 3_000, zone_of);
    assert_eq!(s.len(), 3, "without zone routing every zone is used: {s:?}");
    lb.set_zone_routing(Some(ZoneRouting::new("a"))).unwrap();
    let s = shares(&lb, 3_000, zone_of);
    assert_eq!(s.get("a"), Some(&1.0), "{s:?}");
    assert_eq!(lb.stats().routed_local, 3_000);
    // Half of zone a down: 20 % of the ready weight for a third of the callers keeps 60 %
    // local; b and c have the same spare capacity.
    set_down(&lb, &all[..5]);
    let s = shares(&lb, 30_000, zone_of);
    assert!((s["a"] - 0.60).abs() < 0.012, "{s:?}");
    assert!((s["b"] - 0.20).abs() < 0.012, "{s:?}");
    assert!((s["c"] - 0.20).abs() < 0.012, "{s:?}");
    let stats = lb.stats();
    assert_eq!(stats.routed_local + stats.routed_cross_zone, 33_000);
    let local = (stats.routed_local - 3_000) as f64 / 30_000.0;
    assert!((local - 0.60).abs() < 0.012, "{stats:?}");
    // Off again: the zones share by weight, and nothing is counted.
    lb.set_zone_routing(None).unwrap();
    let s = shares(&lb, 5_000, zone_of);
    assert!(s["b"] > 0.3, "{s:?}");
    assert_eq!(lb.stats().routed_local, stats.routed_local);
}

#[test]
fn envoys_worked_examples_through_the_load_balancer() {
    // Callers 20 % in zone a; zone a has 10 % of the backends: half the requests stay local.
    let all = fleet(&[("a", 0, 10), ("b", 0, 90)]);
    let lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed(all));
    let shares_ab = CallerShares::weighted([("a", 20), ("b", 80)]);
    lb.set_zone_routing(Some(ZoneRouting::new("a").with_caller_shares(shares_ab)))
        .unwrap();
    let s = shares(&lb, 30_000, zone_of);
    assert!((s["a"] - 0.50).abs() < 0.012, "{s:?}");
    // Callers 40/40/20, backends 25/50/25: 62.5 % local, the rest 2:1.
    let all = fleet(&[("a", 0, 25), ("b", 0, 50), ("c", 0, 25)]);
    let lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed(all));
    let callers = CallerShares::weighted([("a", 40), ("b", 40), ("c", 20)]);
    lb.set_zone_routing(Some(ZoneRouting::new("a").with_caller_shares(callers)))
        .unwrap();
    let s = shares(&lb, 40_000, zone_of);
    assert!((s["a"] - 0.625).abs() < 0.012, "{s:?}");
    assert!((s["b"] - 0.25).abs() < 0.012, "{s:?}");
    assert!((s["c"] - 0.125).abs() < 0.012, "{s:?}");
}

#[test]
fn zone_routing_steps_aside_for_too_few_ready_backends() {
    // Five backends in all: under Envoy's minimum of six, zones share by ready weight.
    let all = fleet(&[("a", 0, 3), ("b", 0, 2)]);
    let lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed(all));
    lb.set_zone_routing(Some(ZoneRouting::new("a"))).unwrap();
    let s = shares(&lb, 20_000, zone_of);
    assert!((s["a"] - 0.60).abs() < 0.015, "{s:?}");
    // With a minimum of one, a (60 % of the weight for half the callers) keeps everything.
    lb.set_zone_routing(Some(ZoneRouting::new("a").with_min_ready_backends(1)))
        .unwrap();
    assert_eq!(shares(&lb, 1_000, zone_of).get("a"), Some(&1.0));
}

#[test]
fn kubernetes_hints_keep_requests_on_the_backends_hinted_for_the_zone() {
    // Zone b's first backend is hinted for zone a (the EndpointSlice controller balancing
    // zones by capacity); every backend has hints.
    let hinted = |b: Backend, zone: &str| b.with_ext(ZoneHints::new([zone]));
    let all = fleet(&[("a", 0, 2), ("b", 0, 4)]);
    let hints = ["a", "a", "a", "b", "b", "b"];
    let all: Vec<_> = all
        .into_iter()
        .zip(hints)
        .map(|(b, h)| hinted(b, h))
        .collect();
    let lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed(all.clone()));
    lb.set_zone_routing(Some(ZoneRouting::new("a"))).unwrap();
    let picks = shares(&lb, 3_000, |b| b.addr.clone());
    let mut picked: Vec<_> = picks.keys().cloned().collect();
    picked.sort();
    let want: Vec<_> = all[..3].iter().map(|b| b.addr.clone()).collect();
    assert_eq!(picked, want, "the three backends hinted for a");
    // All three down: the rest take over.
    set_down(&lb, &all[..3]);
    let s = shares(&lb, 1_000, |b| b.addr.clone());
    assert!(s.keys().all(|a| all[3..].iter().any(|b| &b.addr == a)));
}

#[test]
fn select_with_walks_the_routed_partition_first_then_the_rest_in_order() {
    let all = fleet(&[("a", 0, 3), ("b", 0, 3), ("a", 1, 3)]);
    let lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed(all));
    lb.set_zone_routing(Some(ZoneRouting::new("a").with_min_ready_backends(1)))
        .unwrap();
    let pick = lb.select_with(b"", 100, |_, ready| ready).unwrap();
    assert_eq!((zone_of(&pick), priority_of(&pick)), ("a".into(), 0));
    // Refusing zone a of level 0 (a retry elsewhere): zone b of level 0 comes next.
    let pick = lb
        .select_with(b"", 100, |b, _| !(zone_of(b) == "a" && priority_of(b) == 0))
        .unwrap();
    assert_eq!((zone_of(&pick), priority_of(&pick)), ("b".into(), 0));
    let pick = lb
        .select_with(b"", 100, |b, _| priority_of(b) == 1)
        .unwrap();
    assert_eq!(priority_of(&pick), 1);
    assert!(
        lb.select_with(b"", 4, |b, _| priority_of(b) == 1).is_none(),
        "budget spent"
    );
}

#[test]
fn a_new_zone_or_priority_for_the_same_address_divides_the_set_again() {
    let all = fleet(&[("a", 0, 6), ("b", 0, 6)]);
    let lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed(all.clone()));
    lb.set_zone_routing(Some(ZoneRouting::new("a"))).unwrap();
    assert_eq!(shares(&lb, 1_000, zone_of).get("a"), Some(&1.0));
    // The same addresses: a's backends now in zone c.
    let moved: Vec<_> = all
        .iter()
        .map(|b| {
            let zone = if zone_of(b) == "a" { "c" } else { "b" };
            b.clone().with_ext(Zone::new(zone))
        })
        .collect();
    lb.apply(moved.clone()).unwrap();
    let s = shares(&lb, 4_000, zone_of);
    assert!(!s.contains_key("a") && (s["c"] - 0.5).abs() < 0.05, "{s:?}");
    // Priorities likewise.
    let levels: Vec<_> = moved
        .iter()
        .enumerate()
        .map(|(i, b)| b.clone().with_ext(Priority(u32::from(i >= 6))))
        .collect();
    lb.apply(levels).unwrap();
    assert_eq!(lb.priority_load(), [100, 0]);
    assert!(shares(&lb, 1_000, zone_of).keys().all(|z| z == "c"));
}

/// A hashing strategy for the tests: the key's first byte picks the first candidate.
struct ByKey(usize);
struct ByKeyIter {
    next: usize,
    left: usize,
    len: usize,
}
impl BackendIter for ByKeyIter {
    fn next(&mut self) -> Option<usize> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let i = self.next;
        self.next = (self.next + 1) % self.len;
        Some(i)
    }
}
impl BackendSelection for ByKey {
    type Config = ();
    type Iter<'a> = ByKeyIter;
    const USES_KEY: bool = true;
    fn build(backends: &[Backend], _: &()) -> Result<Self, BoxError> {
        Ok(ByKey(backends.len()))
    }
    fn iter(&self, key: &[u8]) -> ByKeyIter {
        let start = key.first().map_or(0, |&b| usize::from(b)) % self.0.max(1);
        ByKeyIter {
            next: start,
            left: self.0,
            len: self.0.max(1),
        }
    }
}

#[test]
fn a_hashing_strategys_key_keeps_its_level_and_zone() {
    let all = fleet(&[("a", 0, 5), ("b", 0, 10), ("c", 0, 10)]);
    let lb = LoadBalancer::<ByKey>::from_backends(Backends::fixed(all));
    lb.set_zone_routing(Some(ZoneRouting::new("a"))).unwrap();
    // Zone a has 20 % of the weight for a third of the callers: keys spread over zones, but
    // each key always lands on the same backend.
    let mut zones = HashMap::new();
    for k in 0..=255u8 {
        let key = [k, 7, 7];
        let first = lb.select(&key).unwrap().addr.clone();
        for _ in 0..5 {
            assert_eq!(lb.select(&key).unwrap().addr, first, "key {k}");
        }
        *zones.entry(zone_of(&lb.select(&key).unwrap())).or_insert(0) += 1;
    }
    assert_eq!(zones.len(), 3, "the keys spread over the zones: {zones:?}");
}
