//! `select` and `select_with`: readiness, enablement, fallbacks.

use lb_core::{Backend, Backends, Enablement, LoadBalancer, Outcome};
use std::sync::Arc;
use std::time::Duration;

use crate::support::{Rotate, addrs};

fn lb(list: &[&str]) -> LoadBalancer<Rotate> {
    LoadBalancer::try_from_iter(list.iter().copied()).unwrap()
}

#[test]
fn select_skips_unready_backends_and_finds_the_last_ready_one() {
    let lb = lb(&["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "10.0.0.4:1"]);
    lb.set_panic_threshold(0); // readiness filtering alone; `policies.rs` tests panic mode
    let set = lb.backends().get_backend();
    lb.backends().set_health(&set[0], false);
    lb.backends().set_enable(&set[1], false);
    lb.backends().set_enablement(&set[2], Enablement::Draining);
    for _ in 0..20 {
        assert_eq!(lb.select(b"").unwrap().addr.to_string(), "10.0.0.4:1");
    }
    lb.backends().set_health(&set[3], false);
    assert!(lb.select(b"").is_none(), "no ready backend: None");
    lb.backends().set_enable(&set[1], true);
    assert_eq!(lb.select(b"").unwrap().addr.to_string(), "10.0.0.2:1");
    assert!(lb.backends().ready(&set[1]));
    assert!(!lb.backends().ready(&Backend::new("10.9.9.9:9").unwrap()));
    assert!(
        !lb.backends()
            .set_enable(&Backend::new("10.9.9.9:9").unwrap(), true)
    );
}

#[test]
fn select_with_sees_readiness_and_respects_the_iteration_cap() {
    let lb = lb(&["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"]);
    let set = lb.backends().get_backend();
    lb.backends().set_health(&set[0], false);
    lb.backends().set_health(&set[1], false);
    lb.backends().set_health(&set[2], false);
    // Last resort: take an unready backend when nothing is ready.
    let pick = lb.select_with(b"", 10, |_, _| true).unwrap();
    assert!(!pick.state().is_ready());
    let mut seen = Vec::new();
    let none = lb.select_with(b"", 2, |b, ready| {
        seen.push((b.addr.to_string(), ready));
        false
    });
    assert!(none.is_none());
    assert_eq!(seen.len(), 2, "at most max_iterations candidates");
    assert!(seen.iter().all(|(_, ready)| !ready));
    assert!(lb.select_with(b"", 0, |_, _| true).is_none());
}

#[test]
fn a_pick_outlives_updates_and_feeds_the_backend_state() {
    let lb = lb(&["10.0.0.1:1"]);
    let pick = lb.select(b"").unwrap();
    lb.apply(vec![Backend::new("10.0.0.2:1").unwrap()]).unwrap();
    assert_eq!(
        pick.addr.to_string(),
        "10.0.0.1:1",
        "the old generation stays alive"
    );
    assert_eq!(addrs(pick.set()), ["10.0.0.1:1"]);
    fn send_sync<T: Send + Sync>(_: &T) {}
    send_sync(&pick);
    let state = Arc::clone(pick.state());
    pick.report(Outcome::Failure, Duration::from_millis(5));
    assert_eq!((state.requests(), state.failures()), (1, 1));
    assert_eq!(
        state.latency_estimate(),
        Some(Duration::from_millis(5)),
        "the report reached the state of its own generation"
    );
    assert_eq!(lb.select(b"").unwrap().addr.to_string(), "10.0.0.2:1");
}

#[test]
fn apply_carries_state_and_keeps_the_selector_when_nothing_changed() {
    let lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed([]));
    assert!(lb.select(b"").is_none());
    lb.apply(vec![
        Backend::new("10.0.0.1:1").unwrap(),
        Backend::new("10.0.0.2:1").unwrap(),
    ])
    .unwrap();
    let first = lb.select(b"").unwrap().addr.to_string();
    // Same backends and weights: the selector (and its rotation) is kept.
    lb.apply(vec![
        Backend::new("10.0.0.1:1").unwrap(),
        Backend::new("10.0.0.2:1").unwrap(),
    ])
    .unwrap();
    let second = lb.select(b"").unwrap().addr.to_string();
    assert_ne!(first, second, "rotation continued across the no-op update");
    let timing = lb.last_update_timing().unwrap();
    assert_eq!(timing.backends, 2);
    assert_eq!(lb.stats().published, 2);
}

#[test]
fn a_group_holds_one_selector_per_configuration_over_one_pool() {
    use crate::support::StartAt;
    use lb_core::LoadBalancerGroup;
    let backends = Backends::fixed(
        ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"].map(|a| Backend::new(a).unwrap()),
    );
    let group = LoadBalancerGroup::<StartAt>::from_backends_with_configs(backends, [0, 2]);
    assert_eq!(group.selector_count(), 2);
    assert_eq!(group.configs(), [0, 2]);
    assert_eq!(
        group.select_in(0, b"").unwrap().addr.to_string(),
        "10.0.0.1:1"
    );
    assert_eq!(
        group.select_in(1, b"").unwrap().addr.to_string(),
        "10.0.0.3:1"
    );
    assert!(group.select_in(2, b"").is_none(), "no third selector");
    assert_eq!(group.select(b"").unwrap().addr.to_string(), "10.0.0.1:1");
    // State is shared: disabling a backend affects every selector.
    let set = group.backends().get_backend();
    group.backends().set_enable(&set[2], false);
    assert_eq!(
        group.select_in(1, b"").unwrap().addr.to_string(),
        "10.0.0.1:1"
    );
    // Updates rebuild every selector over the new set, published together.
    group
        .apply(vec![
            Backend::new("10.0.0.7:1").unwrap(),
            Backend::new("10.0.0.8:1").unwrap(),
        ])
        .unwrap();
    assert_eq!(
        group.select_in(0, b"").unwrap().addr.to_string(),
        "10.0.0.7:1"
    );
    assert_eq!(
        group.select_in(1, b"").unwrap().addr.to_string(),
        "10.0.0.7:1"
    );
    let picked = group
        .select_in_with(1, b"", 5, |b, _| b.addr.to_string() == "10.0.0.8:1")
        .unwrap();
    assert_eq!(picked.index(), 1);
    // No configuration at all still gives one selector.
    let single = LoadBalancerGroup::<StartAt>::from_backends_with_configs(
        Backends::fixed([Backend::new("10.0.0.1:1").unwrap()]),
        [],
    );
    assert_eq!(single.selector_count(), 1);
    assert!(single.select(b"").is_some());
}

#[test]
fn a_selector_follows_updates_and_its_picks_can_be_made_owned() {
    let lb = Arc::new(lb(&["10.0.0.1:1", "10.0.0.2:1"]));
    let mut selector = lb.selector();
    let a = selector.select(b"").unwrap().addr.to_string();
    let b = selector.select(b"").unwrap().addr.to_string();
    assert_ne!(
        a, b,
        "the strategy's rotation is shared with the load balancer"
    );
    let owned = selector.select(b"").unwrap().to_pick();
    lb.backends()
        .set_health(&Backend::new("10.0.0.1:1").unwrap(), false);
    for _ in 0..4 {
        assert_eq!(selector.select(b"").unwrap().addr.to_string(), "10.0.0.2:1");
    }
    lb.apply(vec![Backend::new("10.0.0.9:1").unwrap()]).unwrap();
    let pick = selector.select(b"").unwrap();
    assert_eq!(
        pick.addr.to_string(),
        "10.0.0.9:1",
        "a new generation is seen at once"
    );
    let state = Arc::clone(pick.state());
    pick.to_pick()
        .report(Outcome::Success, Duration::from_millis(1));
    assert_eq!(state.requests(), 1);
    assert_eq!(
        addrs(owned.set()),
        ["10.0.0.1:1", "10.0.0.2:1"],
        "owned picks keep their generation"
    );
    let accepted = selector
        .select_with(b"", 4, |b, ready| ready && b.weight == 1)
        .unwrap();
    assert_eq!(accepted.index(), 0);
    std::thread::spawn(move || drop(owned)).join().unwrap();
}
