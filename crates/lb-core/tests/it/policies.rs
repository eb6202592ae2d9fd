//! Panic mode, slow start, probation and statistical outlier detection, on tokio's paused clock
//! with exact figures.

use std::sync::Arc;
use std::time::Duration;

use lb_core::{
    Backend, BackendState, Backends, Enablement, FailurePercentageEjection, InitialHealth,
    LoadBalancer, LoadSignals, Outcome, PassiveHealth, SlowStart,
};
use tokio::time::advance;

use crate::support::{Rotate, ScriptedCheck};

fn backends(n: u16) -> Vec<Backend> {
    (1..=n)
        .map(|i| Backend::from(std::net::SocketAddr::from(([10, 0, 0, 1], i))))
        .collect()
}

fn balancer(n: u16) -> (LoadBalancer<Rotate>, Vec<Backend>) {
    let all = backends(n);
    (
        LoadBalancer::from_backends(Backends::fixed(all.clone())),
        all,
    )
}

fn state_of(lb: &LoadBalancer<Rotate>, b: &Backend) -> Arc<BackendState> {
    Arc::clone(lb.backends().get_backend().state_of(&b.addr).unwrap())
}

/// Picks of `backend` among `n` selects.
fn picks_of(lb: &LoadBalancer<Rotate>, backend: &Backend, n: usize) -> usize {
    (0..n)
        .filter(|_| lb.select(b"").is_some_and(|p| p.addr == backend.addr))
        .count()
}

fn report(lb: &LoadBalancer<Rotate>, backend: &Backend, outcome: Outcome, times: u32) {
    for _ in 0..times {
        lb.select_with(b"", usize::MAX, |b, _| b.addr == backend.addr)
            .unwrap()
            .report(outcome, Duration::from_millis(1));
    }
}

#[test]
fn panic_mode_starts_below_the_threshold_and_ends_when_health_returns() {
    let (lb, all) = balancer(10);
    assert_eq!(lb.panic_threshold(), 50, "Envoy's default");
    for b in &all[..5] {
        lb.backends().set_health(b, false);
    }
    assert!(!lb.in_panic(), "50 % ready is not below 50 %");
    for _ in 0..20 {
        let pick = lb.select(b"").unwrap();
        assert!(
            pick.state().is_ready(),
            "outside panic mode only ready backends"
        );
    }
    lb.backends().set_health(&all[5], false);
    assert!(lb.in_panic(), "40 % ready");
    let stats = lb.stats();
    assert_eq!(
        (stats.in_panic, stats.panic_entries, stats.panic_exits),
        (true, 1, 0)
    );
    // In panic mode the strategy's pick is taken whatever its health: Rotate visits all ten.
    let unhealthy = (0..100)
        .filter(|_| !lb.select(b"").unwrap().state().is_ready())
        .count();
    assert_eq!(unhealthy, 60, "six of ten backends, down, get their turns");
    // Draining and disabled backends are never picked, even in panic mode.
    lb.backends().set_enablement(&all[0], Enablement::Draining);
    lb.backends().set_enable(&all[1], false);
    assert!((0..100).all(|_| {
        let a = lb.select(b"").unwrap().addr.clone();
        a != all[0].addr && a != all[1].addr
    }));
    // Two enabled ones of eight healthy again: 6 of 8 ready, out of panic.
    lb.backends().set_health(&all[2], true);
    lb.backends().set_health(&all[3], true);
    assert!(!lb.in_panic());
    assert_eq!(lb.stats().panic_exits, 1);
    assert!((0..50).all(|_| lb.select(b"").unwrap().state().is_ready()));
    // Threshold 0: off.
    for b in &all {
        lb.backends().set_health(b, false);
    }
    assert!(lb.in_panic());
    lb.set_panic_threshold(0);
    assert!(!lb.in_panic() && lb.select(b"").is_none());
}

#[test]
fn panic_mode_counts_weight_and_updates_follow_the_set() {
    // Weights 8, 1, 1: the heavy backend down leaves 20 % of the weight ready.
    let list: Vec<Backend> = backends(3)
        .into_iter()
        .zip([8, 1, 1])
        .map(|(b, w)| b.with_weight(w))
        .collect();
    let lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed(list.clone()));
    lb.backends().set_health(&list[0], false);
    assert!(lb.in_panic());
    // An update that removes the heavy backend leaves 100 % of the rest ready.
    lb.apply(list[1..].to_vec()).unwrap();
    assert!(!lb.in_panic());
    // It comes back with weight 1, still down: 2 of 3 ready.
    lb.apply(vec![
        list[0].clone().with_weight(1),
        list[1].clone(),
        list[2].clone(),
    ])
    .unwrap();
    assert!(!lb.in_panic());
}

#[tokio::test(start_paused = true)]
async fn backends_waiting_for_their_first_probe_are_out_of_service_even_in_panic_mode() {
    let check = ScriptedCheck::new(1, 1);
    let mut b = Backends::fixed(backends(2));
    b.set_health_check(Box::new(check.clone()));
    b.set_initial_health(InitialHealth::Unhealthy);
    let lb = LoadBalancer::<Rotate>::from_backends(b);
    assert!(!lb.in_panic(), "nothing in service yet");
    assert!(lb.select(b"").is_none());
    check.set_down("10.0.0.1:1", true);
    lb.backends().run_health_check(false).await;
    assert!(!lb.in_panic(), "one in service, and ready");
    assert_eq!(lb.select(b"").unwrap().addr.to_string(), "10.0.0.1:2");
}

#[tokio::test(start_paused = true)]
async fn slow_start_ramps_a_new_backend_by_envoys_formula() {
    for aggression in [1.0, 2.0] {
        let (lb, all) = balancer(3);
        let window = Duration::from_secs(100);
        lb.set_slow_start(Some(SlowStart::over(window).with_aggression(aggression)));
        assert!(
            all.iter().all(|b| !state_of(&lb, b).is_ramping()),
            "the first set does not ramp"
        );
        let newcomer = Backend::from(std::net::SocketAddr::from(([10, 0, 0, 9], 1)));
        let mut grown = all.clone();
        grown.push(newcomer.clone());
        lb.apply(grown).unwrap();
        let state = state_of(&lb, &newcomer);
        let expect = |t: f64| (t.max(1.0) / 100.0).powf(1.0 / aggression).max(0.1);
        assert_eq!(
            state.slow_start_factor(),
            Some(expect(0.0)),
            "aggression {aggression}"
        );
        for quarter in 1..4 {
            advance(window / 4).await;
            let got = state.slow_start_factor().unwrap();
            let want = expect(25.0 * f64::from(quarter));
            assert!(
                (got - want).abs() < 1e-9,
                "at {quarter}/4: {got} want {want}"
            );
        }
        advance(window / 4).await;
        assert_eq!(state.slow_start_factor(), None, "the window is over");
    }
}

#[tokio::test(start_paused = true)]
async fn a_backend_back_from_down_ramps_and_hashing_strategies_do_not_thin() {
    let (lb, all) = balancer(4);
    lb.set_slow_start(Some(SlowStart::over(Duration::from_secs(60))));
    lb.backends().set_health(&all[0], false);
    lb.backends().set_health(&all[0], true);
    let state = state_of(&lb, &all[0]);
    assert!(state.is_ramping());
    assert_eq!(state.slow_start_factor(), Some(0.1));
    // Rotate does not honour slow start (like a hashing strategy): its turns stand.
    assert_eq!(picks_of(&lb, &all[0], 400), 100);
    lb.set_slow_start(None);
    assert_eq!(state.slow_start_factor(), None, "off: every ramp is over");
}

/// Nine backends at 99 % success and one at 70 % over one window of 100+ requests each.
#[tokio::test(start_paused = true)]
async fn success_rate_ejection_takes_out_exactly_the_outlier() {
    for outlier in [true, false] {
        let (lb, all) = balancer(10);
        lb.set_load_signals(LoadSignals::default().with_window(Duration::from_secs(10)));
        lb.set_passive_health(Some(PassiveHealth::default().with_consecutive_failures(0)));
        report(&lb, &all[0], Outcome::Success, 1); // starts the window
        for (i, b) in all.iter().enumerate() {
            let failures = if outlier && i == 3 { 60 } else { 2 };
            report(&lb, b, Outcome::Failure, failures);
            report(&lb, b, Outcome::Success, 200 - failures);
        }
        assert!(all.iter().all(|b| !state_of(&lb, b).is_ejected()));
        advance(Duration::from_secs(10)).await;
        report(&lb, &all[9], Outcome::Success, 1); // closes the window: the evaluation
        let ejected: Vec<usize> = (0..10)
            .filter(|&i| state_of(&lb, &all[i]).is_ejected())
            .collect();
        if outlier {
            assert_eq!(ejected, [3], "70 % among 99 %");
        } else {
            assert!(ejected.is_empty(), "all equal: no outlier");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn failure_percentage_ejection_takes_out_a_backend_failing_most_requests() {
    let (lb, all) = balancer(10);
    lb.set_passive_health(Some(
        PassiveHealth::default()
            .with_consecutive_failures(0)
            .with_success_rate(None)
            .with_failure_percentage(Some(FailurePercentageEjection::default())),
    ));
    report(&lb, &all[0], Outcome::Success, 1);
    for (i, b) in all.iter().enumerate() {
        let failures = if i == 5 { 86 } else { 10 };
        report(&lb, b, Outcome::Failure, failures);
        report(&lb, b, Outcome::Success, 100 - failures);
    }
    advance(LoadSignals::default().window).await;
    report(&lb, &all[0], Outcome::Success, 1);
    let ejected: Vec<usize> = (0..10)
        .filter(|&i| state_of(&lb, &all[i]).is_ejected())
        .collect();
    assert_eq!(ejected, [5]);
}

#[tokio::test(start_paused = true)]
async fn an_ended_ejection_lets_one_probe_through_and_its_verdict_decides() {
    let (lb, all) = balancer(4);
    let ten = Duration::from_secs(10);
    lb.set_passive_health(Some(
        PassiveHealth::default()
            .with_consecutive_failures(3)
            .with_ejection(ten, Duration::from_secs(60))
            .with_success_rate(None),
    ));
    report(&lb, &all[0], Outcome::Failure, 3);
    let state = state_of(&lb, &all[0]);
    assert!(state.is_ejected());
    assert_eq!(picks_of(&lb, &all[0], 40), 0);
    advance(ten).await;
    // The first select that meets it takes it: the probe. No other request goes to it.
    let probes: Vec<_> = (0..40)
        .filter_map(|_| lb.select(b"").filter(|p| p.addr == all[0].addr))
        .collect();
    assert_eq!(probes.len(), 1, "one probe");
    assert!(
        state.is_ejected() && !state.is_ready(),
        "on probation until the probe answers"
    );
    // A failed probe ejects it again at once, for twice as long.
    probes
        .into_iter()
        .next()
        .unwrap()
        .report(Outcome::Failure, Duration::from_millis(1));
    assert_eq!(state.ejections(), 2);
    assert!(state.ejection_remaining().unwrap() > Duration::from_secs(19));
    advance(Duration::from_secs(20)).await;
    // A probe dropped without a verdict lets the next select probe again.
    let probe = (0..4)
        .filter_map(|_| lb.select(b"").filter(|p| p.addr == all[0].addr))
        .next()
        .unwrap();
    drop(probe);
    let probe = (0..4)
        .filter_map(|_| lb.select(b"").filter(|p| p.addr == all[0].addr))
        .next()
        .expect("a new probe after a cancelled one");
    // A successful probe readmits it for every request.
    probe.report(Outcome::Success, Duration::from_millis(1));
    assert!(state.is_ready() && !state.is_ejected());
    assert_eq!(picks_of(&lb, &all[0], 40), 10);
}

#[test]
fn can_select_answers_what_select_would_without_a_scan() {
    let (lb, all) = balancer(2);
    #[track_caller]
    fn agree(lb: &LoadBalancer<Rotate>) -> bool {
        let can = lb.can_select();
        assert_eq!(can, lb.select(b"").is_some());
        can
    }
    assert!(agree(&lb));
    lb.set_panic_threshold(0);
    lb.backends().set_health(&all[0], false);
    assert!(agree(&lb));
    lb.backends().set_health(&all[1], false);
    assert!(!agree(&lb), "nothing ready, panic mode off");
    lb.set_panic_threshold(50);
    assert!(agree(&lb), "panic mode picks an enabled backend");
    lb.backends().set_enable(&all[0], false);
    lb.backends().set_enable(&all[1], false);
    assert!(!agree(&lb), "disabled backends are never picked");
    lb.backends().set_enable(&all[0], true);
    lb.backends().set_health(&all[0], true);
    lb.set_passive_health(Some(
        PassiveHealth::default()
            .with_consecutive_failures(1)
            .with_max_ejected_percent(100),
    ));
    lb.backends().set_enable(&all[1], true);
    lb.backends().set_health(&all[1], true);
    report(&lb, &all[0], Outcome::Failure, 1);
    lb.backends().set_health(&all[1], false);
    lb.set_panic_threshold(0);
    assert!(state_of(&lb, &all[0]).is_ejected());
    assert!(agree(&lb), "kept out only by its ejection: the last resort");
}
