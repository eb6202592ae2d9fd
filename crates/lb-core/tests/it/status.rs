//! `LoadBalancer::status()`: a copy of every backend's state and of the update counters, and its
//! JSON form (feature `serde`).

use std::time::Duration;

use lb_core::{Backends, Enablement, LoadBalancer, Outcome, PassiveHealth};

use crate::support::{LoadAware, ScriptedCheck};

#[tokio::test(start_paused = true)]
async fn status_shows_health_probe_errors_ejection_load_and_updates() {
    let mut lb = LoadBalancer::<LoadAware>::from_backends(Backends::fixed(
        ["10.0.0.1:1", "10.0.0.1:2", "10.0.0.1:3", "10.0.0.1:4"]
            .iter()
            .map(|a| lb_core::Backend::new(a).unwrap())
            .collect::<Vec<_>>(),
    ));
    let check = ScriptedCheck::new(1, 1);
    check.set_down("10.0.0.1:2", true);
    lb.set_health_check(Box::new(check));
    lb.backends().run_health_check(false).await;
    lb.set_passive_health(Some(
        PassiveHealth::default()
            .with_consecutive_failures(2)
            .with_probation(false)
            .with_success_rate(None)
            .with_ejection(Duration::from_secs(30), Duration::from_secs(30)),
    ));
    lb.backends().set_enablement(
        &lb_core::Backend::new("10.0.0.1:3").unwrap(),
        Enablement::Draining,
    );
    let one = |addr: &str| {
        lb.select_with(b"", usize::MAX, |b, _| b.addr.to_string() == addr)
            .expect("in the set")
    };
    one("10.0.0.1:1").report(Outcome::Success, Duration::from_millis(20));
    one("10.0.0.1:1").report(Outcome::Failure, Duration::from_millis(20));
    let held = one("10.0.0.1:1");
    one("10.0.0.1:1").report(Outcome::Failure, Duration::from_millis(20));
    tokio::time::advance(Duration::from_secs(10)).await;

    let status = lb.status();
    assert_eq!(status.backends.len(), 4);
    let [first, second, third, fourth] = &status.backends[..] else {
        unreachable!("four backends")
    };
    assert_eq!(first.address, "10.0.0.1:1");
    assert!(first.healthy && first.ejected && !first.ready);
    let ends = first.ejection_ends_in_seconds.expect("ejected");
    assert!((ends - 20.0).abs() < 0.01, "{ends}");
    assert_eq!((first.ejections, first.in_flight), (1, 1));
    assert_eq!((first.requests, first.failures), (3, 2));
    let rate = first.success_rate.expect("three reports in the window");
    assert!((rate - 1.0 / 3.0).abs() < 1e-9, "{rate}");
    assert!(first.latency_seconds.expect("reported") > 0.0);
    assert!(!second.healthy && !second.ready);
    assert_eq!(
        second.last_probe_error.as_deref(),
        Some("connection to 10.0.0.1:2 refused")
    );
    assert_eq!(second.success_rate, None);
    assert_eq!(third.enablement, Enablement::Draining);
    assert!(third.healthy && !third.ready && third.last_probe_error.is_none());
    assert!(fourth.ready && fourth.requests == 0);
    assert_eq!(status.ready, 1);
    assert!(
        status.stats.in_panic,
        "one of three enabled ready: panic mode"
    );

    lb.apply(vec![lb_core::Backend::new("10.0.0.1:1").unwrap()])
        .unwrap();
    let status = lb.status();
    assert_eq!(status.stats.published, 1);
    assert_eq!(status.backends.len(), 1);
    assert_eq!(status.last_discovery_seconds, Some(0.0));
    assert!(status.last_build_seconds.is_some());
    drop(held);
}

#[cfg(feature = "serde")]
#[test]
fn status_serializes_to_plain_json() {
    let lb = LoadBalancer::<LoadAware>::try_from_iter(["10.0.0.1:1", "10.0.0.1:2"]).unwrap();
    lb.backends()
        .set_health(&lb_core::Backend::new("10.0.0.1:2").unwrap(), false);
    let _pick = lb.select(b"").unwrap();
    let json = serde_json::to_value(lb.status()).unwrap();
    assert_eq!(json["backends"][0]["address"], "10.0.0.1:1");
    assert_eq!(json["backends"][0]["enablement"], "enabled");
    assert_eq!(json["backends"][0]["in_flight"], 1);
    assert_eq!(json["backends"][1]["healthy"], false);
    assert_eq!(
        json["backends"][1]["ejection_ends_in_seconds"],
        serde_json::Value::Null
    );
    assert_eq!(json["ready"], 1);
    assert_eq!(json["stats"]["published"], 0);
}
