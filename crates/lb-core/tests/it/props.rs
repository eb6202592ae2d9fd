//! Property: random sequences of discovery answers keep every published snapshot consistent,
//! carry state by identity, and never select a removed backend.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use lb_core::{Address, Backend, Discovered, Enablement, LoadBalancer};
use proptest::prelude::*;

use crate::support::Rotate;

fn addr(i: u8) -> Address {
    Address::Inet(SocketAddr::from(([10, 2, 0, i], 80)))
}

/// The universe index of an address made by `addr`.
fn index(a: &Address) -> u8 {
    match a.as_inet().map(|s| s.ip()) {
        Some(std::net::IpAddr::V4(v4)) => v4.octets()[3],
        other => panic!("not a test address: {other:?}"),
    }
}

/// One discovery answer over a universe of 24 addresses: which are present, their weights,
/// which ones discovery disables, and which ones the test marks unhealthy afterwards.
#[derive(Debug, Clone)]
struct Step {
    members: Vec<(u8, u32)>,
    disabled: Vec<u8>,
    mark_down: Vec<u8>,
}

fn step() -> impl Strategy<Value = Step> {
    (
        proptest::collection::vec(
            (0u8..24, prop_oneof![Just(0u32), 1u32..5, Just(u32::MAX)]),
            0..24,
        ),
        proptest::collection::vec(0u8..24, 0..4),
        proptest::collection::vec(0u8..24, 0..4),
    )
        .prop_map(|(members, disabled, mark_down)| Step {
            members,
            disabled,
            mark_down,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn snapshots_stay_consistent_and_state_follows_identity(steps in proptest::collection::vec(step(), 1..12)) {
        let lb = LoadBalancer::<Rotate>::try_from_iter(Vec::<Backend>::new()).unwrap();
        // Readiness filtering alone (panic mode would pick unhealthy backends on purpose).
        lb.set_panic_threshold(0);
        // What the test expects of each address that stays: its health as last set.
        let mut unhealthy: HashSet<u8> = HashSet::new();
        let mut disabled_by_discovery: HashMap<u8, bool> = HashMap::new();
        for step in steps {
            let mut d = Discovered::new(step.members.iter().map(|&(i, w)| Backend::from_address(addr(i), w)));
            for &i in &step.disabled {
                d = d.with_enablement(addr(i), Enablement::Disabled);
            }
            lb.apply(d).unwrap();
            let present: HashSet<u8> = step.members.iter().map(|&(i, _)| i).collect();
            // Removed backends forget their state; present ones keep it.
            unhealthy.retain(|i| present.contains(i));
            disabled_by_discovery.retain(|i, _| present.contains(i));
            for &i in &step.disabled {
                if present.contains(&i) {
                    disabled_by_discovery.insert(i, true);
                }
            }
            let set = lb.backends().get_backend();
            // The set is exactly the distinct addresses, sorted, with the first weight of each.
            let mut want: Vec<u8> = present.iter().copied().collect();
            want.sort_unstable();
            let got: Vec<Address> = set.iter().map(|b| b.addr.clone()).collect();
            prop_assert_eq!(got, want.iter().map(|&i| addr(i)).collect::<Vec<_>>());
            for b in set.iter() {
                let i = index(&b.addr);
                let first_weight = step.members.iter().find(|&&(j, _)| j == i).unwrap().1;
                prop_assert_eq!(b.weight, first_weight);
                let state = lb.backends().state(b).unwrap();
                prop_assert_eq!(state.is_healthy(), !unhealthy.contains(&i), "health of {} carried by identity", b);
                prop_assert_eq!(
                    state.enablement() == Enablement::Disabled,
                    disabled_by_discovery.contains_key(&i)
                );
            }
            for &i in &step.mark_down {
                if present.contains(&i) {
                    prop_assert!(lb.backends().set_health(&Backend::from_address(addr(i), 1), false));
                    unhealthy.insert(i);
                }
            }
            // Every pick is in range, in the current set, and ready.
            let ready = present.iter().filter(|i| !unhealthy.contains(i) && !disabled_by_discovery.contains_key(i)).count();
            for k in 0..(2 * present.len() + 1) {
                match lb.select(&[k as u8]) {
                    Some(pick) => {
                        prop_assert!(pick.index() < set.len());
                        prop_assert!(present.contains(&index(&pick.addr)));
                        prop_assert!(pick.state().is_ready());
                    }
                    None => prop_assert_eq!(ready, 0, "select found nothing though {} are ready", ready),
                }
            }
        }
    }
}

/// One change of a delta over the universe of 24 addresses: an upsert with a weight, or a removal.
fn delta_op() -> impl Strategy<Value = (u8, Option<u32>)> {
    (
        0u8..24,
        prop_oneof![Just(None), (0u32..5).prop_map(Some), Just(Some(u32::MAX))],
    )
}

/// Rotate, whose `apply_change` checks the change it is given against the two sets: every
/// kept pair is the same address, the removed are gone, the added are new, the changed stayed
/// with another weight, and the counts add up. A wrong change fails the update.
struct ChangeChecked(crate::support::Rotate);

impl lb_core::BackendSelection for ChangeChecked {
    type Config = ();
    type Iter<'a> = crate::support::RotateIter;

    fn build(backends: &[Backend], c: &()) -> Result<Self, lb_core::BoxError> {
        Ok(ChangeChecked(crate::support::Rotate::build(backends, c)?))
    }

    fn apply_change(
        &self,
        backends: &[Backend],
        change: &lb_core::SetChange<'_>,
        c: &(),
    ) -> Option<Result<Self, lb_core::BoxError>> {
        let old = change.previous();
        let kept: Vec<(usize, usize)> = change.kept().collect();
        let ok = kept.iter().all(|&(o, n)| old[o].addr == backends[n].addr)
            && change
                .removed()
                .iter()
                .all(|&o| backends.iter().all(|b| b.addr != old[o].addr))
            && change
                .added()
                .iter()
                .all(|&n| old.iter().all(|o| o.addr != backends[n].addr))
            && change.changed().iter().all(|&n| {
                kept.iter()
                    .any(|&(o, k)| k == n && old[o].weight != backends[n].weight)
            })
            && kept.iter().all(|&(o, n)| {
                old[o].weight == backends[n].weight || change.changed().contains(&n)
            })
            && old.len() - change.removed().len() + change.added().len() == backends.len();
        Some(if ok {
            Self::build(backends, c)
        } else {
            Err(format!("a wrong change: {change:?} from {old:?} to {backends:?}").into())
        })
    }

    fn iter(&self, key: &[u8]) -> crate::support::RotateIter {
        self.0.iter(key)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn deltas_give_what_a_full_rebuild_gives(
        start in proptest::collection::vec((0u8..24, 0u32..5), 0..24),
        deltas in proptest::collection::vec(proptest::collection::vec(delta_op(), 0..8), 1..10),
    ) {
        use lb_core::Delta;
        let backends = |m: &std::collections::BTreeMap<u8, u32>| -> Vec<Backend> {
            m.iter().map(|(&i, &w)| Backend::from_address(addr(i), w)).collect()
        };
        // The model: the first weight of each address, as a full answer keeps it.
        let mut model = std::collections::BTreeMap::new();
        for &(i, w) in &start {
            model.entry(i).or_insert(w);
        }
        let by_delta = LoadBalancer::<ChangeChecked>::try_from_iter(backends(&model)).unwrap();
        let by_full = LoadBalancer::<ChangeChecked>::try_from_iter(backends(&model)).unwrap();
        for ops in deltas {
            let before = by_delta.backends().get_backend();
            let mut delta = Delta::new();
            let mut removed = Vec::new();
            let mut upserted = std::collections::BTreeMap::new();
            for &(i, op) in &ops {
                match op {
                    None => {
                        delta = delta.with_removal(addr(i));
                        removed.push(i);
                    }
                    Some(w) => {
                        delta = delta.with_upsert(Backend::from_address(addr(i), w));
                        upserted.entry(i).or_insert(w);
                    }
                }
            }
            // Removals first, then upserts (the first of each address).
            for i in &removed {
                model.remove(i);
            }
            for (&i, &w) in &upserted {
                model.insert(i, w);
            }
            by_delta.apply_delta(&delta).unwrap();
            by_full.apply(backends(&model)).unwrap();
            let (d, f) = (by_delta.backends().get_backend(), by_full.backends().get_backend());
            let pairs = |s: &lb_core::BackendSet| s.iter().map(|b| (b.addr.clone(), b.weight)).collect::<Vec<_>>();
            prop_assert_eq!(pairs(&d), pairs(&f));
            // States are carried by identity for every backend that stays (changed or not), and
            // a backend removed and listed again in the same delta stays too.
            for b in d.iter() {
                if let Some(old) = before.state_of(&b.addr) {
                    prop_assert!(std::sync::Arc::ptr_eq(old, d.state_of(&b.addr).unwrap()), "{} kept its state", b);
                }
            }
            // The pool's weights, kept by each change, are those of a set built from scratch
            // with the same health: nothing of a removed or reweighted backend lingers.
            let fresh = LoadBalancer::<ChangeChecked>::try_from_iter(backends(&model)).unwrap();
            for lb in [&by_delta, &by_full, &fresh] {
                for b in lb.backends().get_backend().iter() {
                    let octet = match b.socket_addr().map(|a| a.ip()) {
                        Some(std::net::IpAddr::V4(ip)) => ip.octets()[3],
                        _ => 0,
                    };
                    if octet % 3 == 0 {
                        lb.backends().set_health(b, false);
                    }
                }
            }
            let weights = |lb: &LoadBalancer<ChangeChecked>| {
                let s = lb.stats();
                (s.enabled_weight, s.ready_weight, s.in_panic)
            };
            prop_assert_eq!(weights(&by_delta), weights(&fresh));
            // The selectors answer alike.
            for k in 0..d.len() {
                prop_assert_eq!(
                    by_delta.select(&[k as u8]).map(|p| p.addr.clone()),
                    by_full.select(&[k as u8]).map(|p| p.addr.clone())
                );
            }
        }
    }
}
