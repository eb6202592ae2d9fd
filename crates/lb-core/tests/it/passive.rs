//! Passive health: failed requests reported through `Pick::report` eject a backend for a while,
//! on tokio's paused clock.

use std::sync::Arc;
use std::time::Duration;

use lb_core::{Backend, BackendState, Backends, LoadBalancer, Outcome, PassiveHealth, Pick};
use tokio::time::advance;

use crate::support::Rotate;

fn backends(n: u16) -> Vec<Backend> {
    (1..=n)
        .map(|i| Backend::from(std::net::SocketAddr::from(([10, 0, 0, 1], i))))
        .collect()
}

/// A load balancer for passive health alone: panic mode off (these tests take most of a set
/// down and check what ejection does on its own; `policies.rs` tests panic mode).
fn balancer(n: u16) -> (LoadBalancer<Rotate>, Vec<Backend>) {
    let all = backends(n);
    let lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed(all.clone()));
    lb.set_panic_threshold(0);
    (lb, all)
}

/// Consecutive-failure ejection alone, readmitting at once as Envoy does (probation and
/// outlier detection are tested in `policies.rs`).
fn passive() -> PassiveHealth {
    PassiveHealth::default()
        .with_probation(false)
        .with_success_rate(None)
}

/// Three failures eject for 10 s, then 20 s, then at most 25 s.
fn policy() -> PassiveHealth {
    passive()
        .with_consecutive_failures(3)
        .with_ejection(Duration::from_secs(10), Duration::from_secs(25))
}

fn state_of(lb: &LoadBalancer<Rotate>, backend: &Backend) -> Arc<BackendState> {
    let set = lb.backends().get_backend();
    Arc::clone(
        set.state_of(&backend.addr)
            .expect("the backend is in the set"),
    )
}

/// A pick of `backend` whatever its readiness, as an application holding an older pick has.
fn pick_of(lb: &LoadBalancer<Rotate>, backend: &Backend) -> Pick<Rotate> {
    lb.select_with(b"", usize::MAX, |b, _ready| b.addr == backend.addr)
        .expect("the backend is in the set")
}

fn report(lb: &LoadBalancer<Rotate>, backend: &Backend, outcomes: &[Outcome]) {
    for &o in outcomes {
        pick_of(lb, backend).report(o, Duration::from_millis(1));
    }
}

/// How many of `rounds` selects over the set pick `backend`.
fn picks_of(lb: &LoadBalancer<Rotate>, backend: &Backend, rounds: usize) -> usize {
    (0..rounds)
        .filter(|_| lb.select(b"").expect("a backend is ready").addr == backend.addr)
        .count()
}

const FAIL: Outcome = Outcome::Failure;
const OK: Outcome = Outcome::Success;

#[tokio::test(start_paused = true)]
async fn failures_in_a_row_eject_and_the_ejection_ends_on_time() {
    let (lb, all) = balancer(4);
    let bad = &all[0];
    let state = state_of(&lb, bad);
    lb.set_passive_health(Some(policy()));
    assert_eq!(lb.passive_health(), Some(policy()));

    report(&lb, bad, &[FAIL, FAIL, OK, FAIL, FAIL]);
    assert!(!state.is_ejected(), "a success ends the run");
    assert_eq!(state.consecutive_failed_requests(), 2);
    assert_eq!(picks_of(&lb, bad, 40), 10);

    report(&lb, bad, &[FAIL]);
    assert!(state.is_ejected() && !state.is_ready());
    assert_eq!(state.ejections(), 1);
    assert_eq!(picks_of(&lb, bad, 40), 0);
    // Failures of requests still in flight do not lengthen the ejection.
    report(&lb, bad, &[FAIL, FAIL, FAIL]);
    assert_eq!(state.ejections(), 1);

    advance(Duration::from_millis(9_999)).await;
    assert_eq!(picks_of(&lb, bad, 40), 0);
    advance(Duration::from_millis(1)).await;
    assert_eq!(
        picks_of(&lb, bad, 40),
        10,
        "readmitted when the ejection ends"
    );
    assert!(!state.is_ejected() && state.is_ready());
    assert_eq!(
        state.consecutive_failed_requests(),
        0,
        "a readmitted backend needs a whole new run"
    );
    assert_eq!(state.requests(), 9);
    assert_eq!(state.failures(), 8);
}

#[tokio::test(start_paused = true)]
async fn repeated_ejections_last_longer_until_a_success() {
    let (lb, all) = balancer(4);
    let bad = &all[2];
    let state = state_of(&lb, bad);
    lb.set_passive_health(Some(policy()));
    let mut ejected_for = Vec::new();
    for round in 0..4 {
        if round == 3 {
            report(&lb, bad, &[OK]);
        }
        report(&lb, bad, &[FAIL; 3]);
        assert!(state.is_ejected());
        let mut waited = 0;
        while !state.is_ready() && waited <= 60 {
            advance(Duration::from_secs(1)).await;
            waited += 1;
        }
        ejected_for.push(waited);
    }
    // 10 s, 20 s, then the 25 s maximum; a success starts over at 10 s.
    assert_eq!(ejected_for, [10, 20, 25, 10]);
    assert_eq!(state.ejections(), 4);
}

#[tokio::test(start_paused = true)]
async fn the_cap_and_the_last_ready_backend_limit_ejections() {
    let (lb, all) = balancer(4);
    let states: Vec<_> = all.iter().map(|b| state_of(&lb, b)).collect();
    lb.set_passive_health(Some(policy()));
    report(&lb, &all[0], &[FAIL; 3]);
    assert!(states[0].is_ejected());
    // 10 % of 4 backends, at least one: the second failing backend stays in.
    report(&lb, &all[1], &[FAIL; 6]);
    assert!(!states[1].is_ejected() && states[1].is_ready());

    // Once the first is back, the next whole run of the second ejects it.
    advance(Duration::from_secs(10)).await;
    assert!(states[0].is_ready());
    report(&lb, &all[1], &[FAIL; 2]);
    assert!(!states[1].is_ejected());
    report(&lb, &all[1], &[FAIL]);
    assert!(states[1].is_ejected());

    // With every backend allowed out, the last ready one still stays in.
    let (lb, all) = balancer(2);
    let states: Vec<_> = all.iter().map(|b| state_of(&lb, b)).collect();
    lb.set_passive_health(Some(policy().with_max_ejected_percent(100)));
    lb.backends().set_enable(&all[0], false);
    report(&lb, &all[1], &[FAIL; 9]);
    assert!(!states[1].is_ejected());
    assert_eq!(lb.select(b"").unwrap().addr, all[1].addr);
    lb.backends().set_enable(&all[0], true);
    report(&lb, &all[1], &[FAIL; 3]);
    assert!(states[1].is_ejected());
    assert_eq!(picks_of(&lb, &all[1], 10), 0);
}

#[tokio::test(start_paused = true)]
async fn off_by_default_and_turning_it_off_readmits_at_once() {
    let (lb, all) = balancer(4);
    let state = state_of(&lb, &all[3]);
    assert_eq!(lb.passive_health(), None);
    report(&lb, &all[3], &[FAIL; 100]);
    assert!(!state.is_ejected() && state.is_ready());
    assert_eq!((state.failures(), state.ejections()), (100, 0));

    lb.set_passive_health(Some(policy().with_ejection(Duration::MAX, Duration::MAX)));
    report(&lb, &all[3], &[FAIL; 3]);
    assert!(state.is_ejected());
    advance(Duration::from_secs(365 * 24 * 3600)).await;
    assert!(state.is_ejected(), "a Duration::MAX ejection lasts");
    lb.set_passive_health(None);
    assert!(!state.is_ejected() && state.is_ready());
    assert_eq!(picks_of(&lb, &all[3], 8), 2);

    // A threshold of 0 is off too.
    lb.set_passive_health(Some(policy().with_consecutive_failures(0)));
    report(&lb, &all[3], &[FAIL; 10]);
    assert!(!state.is_ejected());
}

#[tokio::test(start_paused = true)]
async fn an_ejection_lasts_through_updates_and_selectors_see_it() {
    let (lb, all) = balancer(4);
    lb.set_passive_health(Some(policy()));
    report(&lb, &all[1], &[FAIL; 3]);
    let mut grown = all.clone();
    grown.extend(backends(6).into_iter().skip(4));
    lb.apply(grown).unwrap();
    let set = lb.backends().get_backend();
    assert_eq!(set.len(), 6);
    assert!(set.state_of(&all[1].addr).unwrap().is_ejected());
    assert_eq!(picks_of(&lb, &all[1], 60), 0);

    let mut selector = lb.selector();
    let seen = |selector: &mut lb_core::Selector<Rotate>| {
        (0..60)
            .filter(|_| selector.select(b"").unwrap().addr == all[1].addr)
            .count()
    };
    assert_eq!(seen(&mut selector), 0);
    advance(Duration::from_secs(10)).await;
    assert_eq!(seen(&mut selector), 10);
}

#[tokio::test(start_paused = true)]
async fn an_ejected_backend_is_the_last_resort_when_nothing_else_is_ready() {
    let (lb, all) = balancer(3);
    lb.set_passive_health(Some(policy().with_max_ejected_percent(100)));
    report(&lb, &all[0], &[FAIL; 3]);
    let ejected = state_of(&lb, &all[0]);
    assert!(ejected.is_ejected());
    // The other two go down (an active check, an operator): the ejected one is picked rather
    // than nothing, and stays ejected.
    lb.backends().set_health(&all[1], false);
    lb.backends().set_enable(&all[2], false);
    for _ in 0..6 {
        assert_eq!(lb.select(b"").unwrap().addr, all[0].addr);
    }
    assert_eq!(lb.selector().select(b"").unwrap().addr, all[0].addr);
    assert!(ejected.is_ejected() && !ejected.is_ready());
    // One comes back: it takes every pick again.
    lb.backends().set_health(&all[1], true);
    assert_eq!(picks_of(&lb, &all[1], 6), 6);
    // A backend that is down for another reason is never a last resort.
    lb.backends().set_health(&all[1], false);
    lb.backends().set_health(&all[0], false);
    assert!(lb.select(b"").is_none());
}

#[test]
fn backends_failing_together_on_many_threads_never_all_get_ejected() {
    // Two backends, both failing on four threads at once: with every backend allowed out by the
    // cap, the last-ready rule must still keep one in (each ejection is decided under a lock).
    for _ in 0..50 {
        let (lb, all) = balancer(2);
        let long = Duration::from_secs(3600);
        lb.set_passive_health(Some(
            passive()
                .with_consecutive_failures(1)
                .with_ejection(long, long)
                .with_max_ejected_percent(100),
        ));
        std::thread::scope(|s| {
            for t in 0..4 {
                let (lb, backend) = (&lb, &all[t % 2]);
                s.spawn(move || {
                    for _ in 0..200 {
                        pick_of(lb, backend).report(FAIL, Duration::from_millis(1));
                    }
                });
            }
        });
        let ejected = all.iter().filter(|b| state_of(&lb, b).is_ejected()).count();
        assert_eq!(ejected, 1, "exactly one of two failing backends is out");
    }
}

#[test]
fn turning_passive_health_off_while_a_failure_is_being_decided_leaves_nothing_ejected() {
    // A failure reported on one thread while another turns passive health off: whichever comes
    // first, the backend must end up readmitted (the documented effect of `None`). A large set
    // makes the ejection's scan long enough for the two to overlap.
    let (lb, all) = balancer(4000);
    let hour = Duration::from_secs(3600);
    let policy = passive()
        .with_consecutive_failures(1)
        .with_ejection(hour, hour)
        .with_max_ejected_percent(100);
    let state = state_of(&lb, &all[0]);
    for round in 0..300u32 {
        lb.set_passive_health(Some(policy));
        let pick = pick_of(&lb, &all[0]);
        let start = std::sync::Barrier::new(2);
        std::thread::scope(|s| {
            s.spawn(|| {
                start.wait();
                pick.report(FAIL, Duration::ZERO);
            });
            start.wait();
            // Sweep the offset of the two threads across rounds.
            for _ in 0..(round % 60) * 50 {
                std::hint::spin_loop();
            }
            lb.set_passive_health(None);
        });
        assert!(
            !state.is_ejected() && state.is_ready(),
            "round {round}: ejected with passive health off"
        );
    }
}

use proptest::prelude::*;

/// One step of the property below: a reported outcome, or a change of health or enablement.
#[derive(Clone, Debug)]
enum Op {
    Report(usize, bool),
    Health(usize, bool),
    Enable(usize, bool),
}

fn op(n: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..n, proptest::bool::weighted(0.2)).prop_map(|(i, ok)| Op::Report(i, ok)),
        1 => (0..n, any::<bool>()).prop_map(|(i, up)| Op::Health(i, up)),
        1 => (0..n, any::<bool>()).prop_map(|(i, on)| Op::Enable(i, on)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the sequence of outcomes and health changes: never more ejected than the cap
    /// allows, an ejection only while another backend is ready, and `select` answers whenever a
    /// backend is ready or kept out only by its ejection.
    #[test]
    fn ejection_keeps_its_limits_on_any_sequence(
        (n, ops) in (1usize..9).prop_flat_map(|n| (Just(n), proptest::collection::vec(op(n), 0..120))),
        threshold in 1u32..4,
        percent in 0u8..=100,
    ) {
        let (lb, all) = balancer(n as u16);
        let hour = Duration::from_secs(3600);
        let policy = passive()
            .with_consecutive_failures(threshold)
            .with_ejection(hour, hour)
            .with_max_ejected_percent(percent);
        lb.set_passive_health(Some(policy));
        let cap = (n * usize::from(percent) / 100).max(1);
        let states: Vec<_> = all.iter().map(|b| state_of(&lb, b)).collect();
        for op in ops {
            let before: Vec<bool> = states.iter().map(|s| s.is_ejected()).collect();
            let ready_before: Vec<bool> = states.iter().map(|s| s.is_ready()).collect();
            match op {
                Op::Report(i, ok) => pick_of(&lb, &all[i]).report(if ok { OK } else { FAIL }, Duration::ZERO),
                Op::Health(i, up) => { lb.backends().set_health(&all[i], up); }
                Op::Enable(i, on) => { lb.backends().set_enable(&all[i], on); }
            }
            let after: Vec<bool> = states.iter().map(|s| s.is_ejected()).collect();
            let ejected = after.iter().filter(|&&e| e).count();
            prop_assert!(ejected <= cap, "{ejected} ejected, cap {cap}");
            for i in 0..n {
                if after[i] && !before[i] {
                    prop_assert!(
                        (0..n).any(|j| j != i && ready_before[j]),
                        "backend {i} ejected while no other was ready"
                    );
                }
            }
            let pickable = states.iter().any(|s| s.is_ready())
                || states.iter().zip(&after).any(|(s, &e)| e && s.is_healthy()
                    && s.enablement() == lb_core::Enablement::Enabled);
            prop_assert_eq!(lb.select(b"").is_some(), pickable);
        }
    }
}
