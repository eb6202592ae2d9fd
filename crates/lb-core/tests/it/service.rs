//! The background service, on tokio's paused clock.

use std::sync::Arc;
use std::time::Duration;

use lb_core::{Backends, LoadBalancer};
use tokio::time::{Instant, sleep};

use crate::support::{Rotate, ScriptedCheck, ScriptedDiscovery, addrs};

fn lb_with(discovery: &ScriptedDiscovery) -> LoadBalancer<Rotate> {
    LoadBalancer::from_backends(Backends::new(Box::new(discovery.clone())))
}

/// Lets every task due at the current paused instant run.
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn discovery_runs_at_start_then_on_its_schedule() {
    let d = ScriptedDiscovery::answering(&["10.4.0.1:1"]);
    let mut lb = lb_with(&d);
    lb.update_frequency = Some(Duration::from_secs(10));
    let lb = Arc::new(lb);
    let service = lb.spawn();
    service.ready().await;
    assert_eq!(d.calls(), 1);
    sleep(Duration::from_millis(9_999)).await;
    settle().await;
    assert_eq!(d.calls(), 1);
    sleep(Duration::from_millis(1)).await;
    settle().await;
    assert_eq!(d.calls(), 2);
    d.set(&["10.4.0.2:1"]);
    sleep(Duration::from_secs(10)).await;
    settle().await;
    assert_eq!(d.calls(), 3);
    assert_eq!(addrs(&lb.backends().get_backend()), ["10.4.0.2:1"]);
    service.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_push_source_is_applied_at_once_and_needs_no_polling() {
    let d = ScriptedDiscovery::answering(&["10.4.0.1:1"]).with_notifier();
    let lb = Arc::new(lb_with(&d));
    let service = lb.spawn();
    service.ready().await;
    let t0 = Instant::now();
    d.set(&["10.4.0.1:1", "10.4.0.3:1"]);
    settle().await;
    assert_eq!(
        addrs(&lb.backends().get_backend()),
        ["10.4.0.1:1", "10.4.0.3:1"]
    );
    assert_eq!(
        t0.elapsed(),
        Duration::ZERO,
        "applied without waiting for a timer"
    );
    sleep(Duration::from_secs(3600)).await;
    assert_eq!(d.calls(), 2, "no polling without update_frequency");
    service.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn health_flips_after_exactly_the_configured_thresholds() {
    let d = ScriptedDiscovery::answering(&["10.4.0.1:1", "10.4.0.2:1"]);
    let check = ScriptedCheck::new(2, 3);
    let mut lb = lb_with(&d);
    lb.set_health_check(Box::new(check.clone()));
    lb.health_check_frequency = Some(Duration::from_secs(1));
    lb.health_check_jitter = 0.0;
    let lb = Arc::new(lb);
    let service = lb.spawn();
    service.ready().await;
    settle().await;
    let target = lb.backends().get_backend()[1].clone();
    assert_eq!(
        check.calls("10.4.0.2:1"),
        1,
        "first pass right after the first set"
    );

    check.set_down("10.4.0.2:1", true);
    for pass in 1..=3 {
        sleep(Duration::from_secs(1)).await;
        settle().await;
        assert_eq!(check.calls("10.4.0.2:1"), 1 + pass);
        assert_eq!(
            lb.backends().ready(&target),
            pass < 3,
            "after {pass} failures"
        );
    }
    check.set_down("10.4.0.2:1", false);
    sleep(Duration::from_secs(1)).await;
    settle().await;
    assert!(!lb.backends().ready(&target), "one success of two");
    sleep(Duration::from_secs(1)).await;
    settle().await;
    assert!(lb.backends().ready(&target), "two successes");
    assert_eq!(
        check.changes(),
        [
            ("10.4.0.2:1".to_string(), false),
            ("10.4.0.2:1".to_string(), true)
        ]
    );
    service.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_discovery_and_health_checks() {
    let d = ScriptedDiscovery::answering(&["10.4.0.1:1"]);
    let check = ScriptedCheck::new(1, 1);
    let mut lb = lb_with(&d);
    lb.set_health_check(Box::new(check.clone()));
    lb.update_frequency = Some(Duration::from_secs(1));
    lb.health_check_frequency = Some(Duration::from_secs(1));
    let lb = Arc::new(lb);
    let service = lb.spawn();
    service.ready().await;
    sleep(Duration::from_secs(5)).await;
    service.shutdown().await;
    let (discoveries, probes) = (d.calls(), check.total_calls());
    assert!(discoveries >= 5 && probes >= 4, "{discoveries} {probes}");
    sleep(Duration::from_secs(60)).await;
    assert_eq!((d.calls(), check.total_calls()), (discoveries, probes));
    assert_eq!(
        Arc::strong_count(&lb),
        1,
        "the service released the load balancer"
    );
}

#[tokio::test(start_paused = true)]
async fn ready_waits_for_the_first_successful_update_and_failures_back_off() {
    let d = ScriptedDiscovery::failing("dns server unreachable");
    let lb = Arc::new(lb_with(&d));
    let service = lb.spawn();
    let waited = tokio::time::timeout(Duration::from_secs(1), service.ready()).await;
    assert!(waited.is_err(), "not ready while discovery fails");
    // Retries back off from 100 ms, doubling: at 0, 0.1, 0.3, 0.7 s.
    assert_eq!(d.calls(), 4);
    assert_eq!(lb.stats().discovery_errors, 4);
    assert!(
        lb.stats()
            .last_error
            .unwrap()
            .contains("dns server unreachable")
    );
    d.set(&["10.4.0.1:1"]);
    let t0 = Instant::now();
    service.ready().await;
    assert_eq!(
        t0.elapsed(),
        Duration::from_millis(500),
        "next retry at 1.5 s"
    );
    assert!(lb.select(b"").is_some());
    service.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_failing_discovery_keeps_the_last_good_set() {
    let d = ScriptedDiscovery::answering(&["10.4.0.1:1", "10.4.0.2:1"]);
    let mut lb = lb_with(&d);
    lb.update_frequency = Some(Duration::from_secs(1));
    let lb = Arc::new(lb);
    let service = lb.spawn();
    service.ready().await;
    d.fail("connection refused");
    sleep(Duration::from_secs(10)).await;
    assert!(lb.stats().discovery_errors >= 9);
    assert_eq!(
        addrs(&lb.backends().get_backend()),
        ["10.4.0.1:1", "10.4.0.2:1"]
    );
    assert!(lb.select(b"").is_some());
    service.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_slow_probe_never_delays_discovery() {
    let d = ScriptedDiscovery::answering(&["10.4.0.1:1"]);
    let check = ScriptedCheck::new(1, 1);
    check.set_delay(Some(Duration::from_secs(3600)));
    let mut lb = lb_with(&d);
    lb.set_health_check(Box::new(check.clone()));
    lb.update_frequency = Some(Duration::from_secs(1));
    lb.health_check_frequency = Some(Duration::from_secs(1));
    lb.health_check_timeout = Duration::from_secs(7200);
    let lb = Arc::new(lb);
    let service = lb.spawn();
    service.ready().await;
    sleep(Duration::from_millis(10_500)).await;
    assert_eq!(check.total_calls(), 1, "the probe is still running");
    assert_eq!(d.calls(), 11, "discovery kept its schedule");
    service.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn without_a_frequency_health_checks_run_once_after_the_first_set() {
    let d = ScriptedDiscovery::answering(&["10.4.0.1:1", "10.4.0.2:1"]);
    let check = ScriptedCheck::new(1, 1);
    check.set_down("10.4.0.2:1", true);
    let mut lb = lb_with(&d);
    lb.set_health_check(Box::new(check.clone()));
    assert_eq!(lb.health_check_frequency, None);
    let lb = Arc::new(lb);
    let service = lb.spawn();
    service.ready().await;
    sleep(Duration::from_secs(3600)).await;
    assert_eq!(
        check.total_calls(),
        2,
        "one pass over both backends, then none"
    );
    assert!(!lb.backends().ready(&lb.backends().get_backend()[1]));
    service.shutdown().await;
}
