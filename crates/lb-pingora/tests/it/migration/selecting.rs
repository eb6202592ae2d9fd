//! "Selecting": `select` and its variants, panic mode, weights, round robin, `FnvHash`, large
//! sets, ketama's point multiple, and strategies written for each crate.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use lb::{Outcome, PassiveHealth};
use pingora_load_balancing as plb;

use super::{addrs, lb_over, now, pingora_over};
use crate::support::within;

#[test]
fn select_finds_a_ready_backend_where_max_iterations_gives_up() {
    let addrs = addrs(20);
    let pingora = pingora_over::<plb::selection::RoundRobin>(&addrs, 1);
    let ours = lb_over::<lb::RoundRobin>(&addrs, 1);
    // Every backend but the last is disabled.
    for addr in &addrs[..19] {
        pingora
            .backends()
            .set_enable(&plb::Backend::new(addr).unwrap(), false);
        ours.backends()
            .set_enable(&lb::Backend::new(addr).unwrap(), false);
    }
    let pingora_misses = (0..20).filter(|_| pingora.select(b"", 3).is_none()).count();
    assert!(
        pingora_misses > 0,
        "pingora found the one ready backend every time"
    );
    for _ in 0..20 {
        let pick = ours.select(b"").expect("a ready backend exists");
        assert_eq!(pick.addr.to_string(), addrs[19]);
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Zone(&'static str);

#[test]
fn select_returns_a_pick_where_pingora_returns_a_clone() {
    let mut backend = plb::Backend::new("10.0.0.1:80").unwrap();
    backend.ext.insert(Zone("a"));
    let pingora = plb::LoadBalancer::<plb::selection::RoundRobin>::from_backends(
        plb::Backends::new(plb::discovery::Static::new(BTreeSet::from([backend]))),
    );
    now(pingora.update()).unwrap();
    // An owned `Backend`, extensions cloned with it.
    let picked: plb::Backend = pingora.select(b"", 1).unwrap();
    assert_eq!(picked.ext.get::<Zone>(), Some(&Zone("a")));

    let ours = lb::LoadBalancer::<lb::RoundRobin>::try_from_iter([lb::Backend::new("10.0.0.1:80")
        .unwrap()
        .with_ext(Zone("a"))])
    .unwrap();
    let pick: lb::Pick<lb::RoundRobin> = ours.select(b"").unwrap();
    // `pick.addr` and `pick.ext` work unchanged, through `Deref<Target = Backend>`.
    assert_eq!(pick.addr.to_string(), "10.0.0.1:80");
    assert_eq!(pick.ext.get::<Zone>(), Some(&Zone("a")));
    let owned: lb::Backend = pick.backend().clone();
    assert_eq!(owned, *pick);
}

#[test]
fn a_pick_counts_in_flight_only_when_the_strategy_or_a_policy_needs_it() {
    let addrs = addrs(2);
    let plain = lb_over::<lb::RoundRobin>(&addrs, 1);
    let pick = plain.select(b"").unwrap();
    assert!(!pick.is_tracked());
    assert_eq!(pick.state().in_flight(), 0);

    let least = lb_over::<lb::LeastRequest>(&addrs, 1);
    let pick = least.select(b"").unwrap();
    assert!(pick.is_tracked());
    assert_eq!(pick.state().in_flight(), 1);
    drop(pick); // ends as cancelled
    assert_eq!(least.backends().get_backend().states()[0].in_flight(), 0);

    // Passive health is a policy: picks count, and failed reports eject.
    plain.set_passive_health(Some(PassiveHealth::default()));
    let failures = PassiveHealth::default().consecutive_failures;
    let target = plain.select(b"").unwrap();
    assert!(target.is_tracked());
    let state = target.state().clone();
    target.report(Outcome::Failure, Duration::from_millis(1));
    let mut reported = 1;
    while reported < failures {
        let pick = plain.select(b"").unwrap();
        if std::sync::Arc::ptr_eq(pick.state(), &state) {
            pick.report(Outcome::Failure, Duration::from_millis(1));
            reported += 1;
        }
    }
    assert!(state.is_ejected() && !state.is_ready());
}

/// A pingora probe that fails every backend but `healthy`.
struct OnlyHealthy(String);

#[async_trait::async_trait]
impl plb::health_check::HealthCheck for OnlyHealthy {
    async fn check(&self, target: &plb::Backend) -> pingora_core::Result<()> {
        if target.addr.to_string() == self.0 {
            Ok(())
        } else {
            Err(pingora_core::Error::new(
                pingora_core::ErrorType::ConnectRefused,
            ))
        }
    }

    fn health_threshold(&self, _: bool) -> usize {
        1
    }
}

#[tokio::test]
async fn panic_mode_spreads_over_every_enabled_backend_when_most_are_down() {
    let addrs = addrs(4);
    let mut pingora = pingora_over::<plb::selection::RoundRobin>(&addrs, 1);
    pingora.set_health_check(Box::new(OnlyHealthy(addrs[0].clone())));
    pingora.backends().run_health_check(false).await;
    let ours = lb_over::<lb::RoundRobin>(&addrs, 1);
    for addr in &addrs[1..] {
        ours.backends()
            .set_health(&lb::Backend::new(addr).unwrap(), false);
    }
    assert_eq!(ours.panic_threshold(), 50);

    let pingora_picks: BTreeSet<String> = (0..40)
        .map(|_| pingora.select(b"", 256).unwrap().addr.to_string())
        .collect();
    assert_eq!(pingora_picks, BTreeSet::from([addrs[0].clone()]));
    // A quarter of the set is ready: lb is in panic and balances over every enabled backend.
    let our_picks: BTreeSet<String> = (0..40)
        .map(|_| ours.select(b"").unwrap().addr.to_string())
        .collect();
    assert!(ours.in_panic());
    assert_eq!(our_picks.len(), 4);
    // A threshold of 0 is pingora's behaviour.
    ours.set_panic_threshold(0);
    let our_picks: BTreeSet<String> = (0..40)
        .map(|_| ours.select(b"").unwrap().addr.to_string())
        .collect();
    assert_eq!(our_picks, pingora_picks);

    // None left: pingora returns `None`; lb in panic still picks an enabled backend.
    ours.backends()
        .set_health(&lb::Backend::new(&addrs[0]).unwrap(), false);
    assert!(ours.select(b"").is_none());
    ours.set_panic_threshold(50);
    assert!(ours.select(b"").is_some());
    let mut none_ready = pingora_over::<plb::selection::RoundRobin>(&addrs, 1);
    none_ready.set_health_check(Box::new(OnlyHealthy(String::new())));
    none_ready.backends().run_health_check(false).await;
    assert!(none_ready.select(b"", 256).is_none());
}

#[test]
fn ready_standbys_are_a_failover_not_panic() {
    let ours = lb::LoadBalancer::<lb::RoundRobin>::try_from_iter([
        lb::Backend::new_with_weight("10.0.0.1:80", 1).unwrap(),
        lb::Backend::new_with_weight("10.0.0.2:80", 1).unwrap(),
        lb::Backend::new_with_weight("10.0.0.3:80", 0).unwrap(),
        lb::Backend::new_with_weight("10.0.0.4:80", 0).unwrap(),
    ])
    .unwrap();
    for addr in ["10.0.0.1:80", "10.0.0.2:80"] {
        ours.backends()
            .set_health(&lb::Backend::new(addr).unwrap(), false);
    }
    for _ in 0..20 {
        let pick = ours.select(b"").unwrap();
        assert_eq!(pick.weight, 0, "picked {}", pick.addr);
    }
    assert!(!ours.in_panic());
}

#[test]
fn select_with_keeps_its_signature_and_accepts_fn_mut() {
    let addrs = addrs(3);
    let pingora = pingora_over::<plb::selection::FNVHash>(&addrs, 1);
    let first = pingora.select(b"key", 256).unwrap();
    let other = pingora
        .select_with(b"key", 256, |b: &plb::Backend, ready: bool| {
            ready && *b != first
        })
        .unwrap();
    assert_ne!(other, first);

    let ours = lb_over::<lb::FnvHash>(&addrs, 1);
    let first = ours.select(b"key").unwrap().addr.clone();
    let mut seen = 0;
    let other = ours
        .select_with(b"key", 256, |b: &lb::Backend, ready: bool| {
            seen += 1;
            ready && b.addr != first
        })
        .unwrap();
    assert_ne!(other.addr, first);
    assert_eq!(seen, 2);
}

#[tokio::test]
async fn group_select_with_an_index_is_select_in() {
    let addrs = addrs(3);
    let discovery =
        plb::discovery::Static::try_from_iter(addrs.iter().map(String::as_str)).unwrap();
    let group = plb::LoadBalancerGroup::<plb::selection::RoundRobin>::from_backends_with_configs(
        plb::Backends::new(discovery),
        [None, None],
    );
    group.update().await.unwrap();
    // pingora publishes the membership first and rebuilds each selector after it.
    let generation = group.backend_generation();
    assert!(!group.selectors_ready_for(generation));
    within("pingora's selectors to be rebuilt", async {
        while !group.selectors_ready_for(generation) {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(group.select(1, b"", 256).is_some());
    assert!(group.select_with(1, b"", 256, |_, ready| ready).is_some());
    assert!(group.select(2, b"", 256).is_none());

    let ours = lb::LoadBalancerGroup::<lb::RoundRobin>::from_backends_with_configs(
        lb::Backends::fixed(addrs.iter().map(|a| lb::Backend::new(a).unwrap())),
        [(), ()],
    );
    // lb publishes the set and every selector at once.
    assert!(ours.select_in(1, b"").is_some());
    assert!(ours.select_in_with(1, b"", 256, |_, ready| ready).is_some());
    assert!(ours.select_in(2, b"").is_none());
}

#[tokio::test]
async fn weight_zero_is_a_standby_and_all_zero_weights_count_as_equal() {
    let addrs = addrs(2);
    let ours = lb::LoadBalancer::<lb::RoundRobin>::try_from_iter([
        lb::Backend::new_with_weight(&addrs[0], 1).unwrap(),
        lb::Backend::new_with_weight(&addrs[1], 0).unwrap(),
    ])
    .unwrap();
    assert!((0..50).all(|_| ours.select(b"").unwrap().addr.to_string() == addrs[0]));
    let all_zero = lb_over::<lb::RoundRobin>(&addrs, 0);
    let picked: BTreeSet<String> = (0..10)
        .map(|_| all_zero.select(b"").unwrap().addr.to_string())
        .collect();
    assert_eq!(picked.len(), 2);
    let ring = lb_over::<lb::KetamaHashing>(&addrs, 0);
    assert!(ring.select(b"key").is_some());

    // pingora panics on all-zero weights, in its weighted strategies and in its ring.
    let pingora = pingora_over::<plb::selection::RoundRobin>(&addrs, 0);
    assert!(catch_unwind(AssertUnwindSafe(|| pingora.select(b"", 256))).is_err());
    let pingora_ring = catch_unwind(|| {
        let ring = pingora_over::<plb::selection::consistent::KetamaHashing>(&addrs, 0);
        ring.select(b"key", 256)
    });
    assert!(pingora_ring.is_err());
}

#[test]
fn round_robin_is_smooth_where_pingoras_is_not() {
    let weighted = |lb_weights: &[(&str, u32)]| -> Vec<lb::Backend> {
        lb_weights
            .iter()
            .map(|(a, w)| lb::Backend::new_with_weight(a, *w).unwrap())
            .collect()
    };
    let set = [("10.0.0.1:80", 5), ("10.0.0.2:80", 1), ("10.0.0.3:80", 1)];
    let name = |addr: String| match addr.as_str() {
        "10.0.0.1:80" => 'a',
        "10.0.0.2:80" => 'b',
        _ => 'c',
    };
    let ours = lb::LoadBalancer::<lb::RoundRobin>::try_from_iter(weighted(&set)).unwrap();
    let sequence: String = (0..7)
        .map(|_| name(ours.select(b"").unwrap().addr.to_string()))
        .collect();
    // Each thread starts at its own turn of the sequence: a rotation of nginx's.
    assert!(
        "aabacaaaabacaa".contains(&sequence),
        "lb gave {sequence}, not a rotation of a a b a c a a"
    );

    let backends: BTreeSet<plb::Backend> = set
        .iter()
        .map(|(a, w)| plb::Backend::new_with_weight(a, *w as usize).unwrap())
        .collect();
    let pingora = plb::LoadBalancer::<plb::selection::RoundRobin>::from_backends(
        plb::Backends::new(plb::discovery::Static::new(backends)),
    );
    now(pingora.update()).unwrap();
    let sequence: String = (0..7)
        .map(|_| name(pingora.select(b"", 256).unwrap().addr.to_string()))
        .collect();
    assert_eq!(sequence, "aaaaabc");
}

#[test]
fn fnv_hash_picks_pingoras_first_backend_for_every_key() {
    for (n, weight_of) in [(1, 1), (3, 1), (10, 3), (57, 7)] {
        let addrs = addrs(n);
        let weights: Vec<u32> = (0..n).map(|i| 1 + (i as u32 * weight_of) % 5).collect();
        let pingora_set: BTreeSet<plb::Backend> = addrs
            .iter()
            .zip(&weights)
            .map(|(a, w)| plb::Backend::new_with_weight(a, *w as usize).unwrap())
            .collect();
        let pingora = plb::LoadBalancer::<plb::selection::FNVHash>::from_backends(
            plb::Backends::new(plb::discovery::Static::new(pingora_set)),
        );
        now(pingora.update()).unwrap();
        let ours = lb::LoadBalancer::<lb::FnvHash>::try_from_iter(
            addrs
                .iter()
                .zip(&weights)
                .map(|(a, w)| lb::Backend::new_with_weight(a, *w).unwrap()),
        )
        .unwrap();
        for key in 0..5_000u32 {
            let key = format!("user-{key}");
            let theirs = pingora.select(key.as_bytes(), 1).unwrap().addr.to_string();
            let mine = ours.select(key.as_bytes()).unwrap().addr.to_string();
            assert_eq!(mine, theirs, "key {key} over {n} backends");
        }
    }
}

#[test]
fn weighted_strategies_have_no_65536_backend_limit() {
    let many = addrs(65_536);
    let pingora = catch_unwind(|| pingora_over::<plb::selection::RoundRobin>(&many, 1));
    assert!(
        pingora.is_err(),
        "pingora built a weighted selector over 65,536 backends"
    );
    let more = addrs(70_000);
    let ours = lb_over::<lb::RoundRobin>(&more, 1);
    assert_eq!(ours.backends().get_backend().len(), 70_000);
    assert!(ours.select(b"").is_some());
}

#[test]
fn ketama_point_multiple_is_honoured() {
    let addrs = addrs(5);
    let pingora_with = |point_multiple| {
        let lb = plb::LoadBalancer::<plb::selection::consistent::KetamaHashing>::from_backends_with_config(
            plb::Backends::new(
                plb::discovery::Static::try_from_iter(addrs.iter().map(String::as_str)).unwrap(),
            ),
            Some(plb::selection::consistent::KetamaConfig { point_multiple }),
        );
        now(lb.update()).unwrap();
        lb
    };
    let ours_with = |point_multiple| {
        lb::LoadBalancer::<lb::KetamaHashing>::from_backends_with_config(
            lb::Backends::fixed(addrs.iter().map(|a| lb::Backend::new(a).unwrap())),
            lb::KetamaConfig { point_multiple },
        )
    };
    let keys: Vec<String> = (0..2_000).map(|k| format!("k{k}")).collect();
    let moved = |a: &dyn Fn(&[u8]) -> String, b: &dyn Fn(&[u8]) -> String| {
        keys.iter()
            .filter(|k| a(k.as_bytes()) != b(k.as_bytes()))
            .count()
    };
    let (p1, p160) = (pingora_with(Some(1)), pingora_with(None));
    let pingora_moved = moved(&|k| p1.select(k, 1).unwrap().addr.to_string(), &|k| {
        p160.select(k, 1).unwrap().addr.to_string()
    });
    assert_eq!(
        pingora_moved, 0,
        "pingora without `v2` ignores point_multiple"
    );
    let (o1, o160) = (ours_with(Some(1)), ours_with(None));
    let our_moved = moved(&|k| o1.select(k).unwrap().addr.to_string(), &|k| {
        o160.select(k).unwrap().addr.to_string()
    });
    assert!(our_moved > 0, "lb ignored point_multiple");
}

/// pingora's strategies hand out `&Backend`s, lb's hand out indices.
#[test]
fn strategies_return_indices_instead_of_backends() {
    struct PingoraIter(Option<plb::Backend>);
    impl plb::selection::BackendIter for PingoraIter {
        fn next(&mut self) -> Option<&plb::Backend> {
            self.0.as_ref()
        }
    }
    struct LbIter(Option<usize>);
    impl lb::BackendIter for LbIter {
        fn next(&mut self) -> Option<usize> {
            self.0.take()
        }
    }
    let mut theirs = PingoraIter(Some(plb::Backend::new("10.0.0.1:80").unwrap()));
    let mut ours = LbIter(Some(0));
    assert!(plb::selection::BackendIter::next(&mut theirs).is_some());
    assert_eq!(lb::BackendIter::next(&mut ours), Some(0));
    // Load-aware strategies declare it, and read the states.
    const _: () = assert!(<lb::LeastRequest as lb::BackendSelection>::NEEDS_LOAD);
    const _: () = assert!(!<lb::RoundRobin as lb::BackendSelection>::NEEDS_LOAD);
}
