//! "Health checks": the trait, errors, deadlines, concurrency, initial health, registries and
//! the probes' constructors.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lb::{HealthCheck as _, InitialHealth};
use pingora_load_balancing as plb;

use super::{addrs, lb_over, pingora_over};
use crate::support::within;

/// A probe that records how many of its calls overlap, and takes 10 ms (paused clock).
#[derive(Clone, Default)]
struct Overlap {
    now: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
}

impl Overlap {
    async fn probe(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(10)).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
    }

    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

// The same four methods in both crates.
#[async_trait::async_trait]
impl plb::health_check::HealthCheck for Overlap {
    async fn check(&self, _: &plb::Backend) -> pingora_core::Result<()> {
        self.probe().await;
        Ok(())
    }
    async fn health_status_change(&self, _: &plb::Backend, _: bool) {}
    fn backend_summary(&self, target: &plb::Backend) -> String {
        format!("{target:?}")
    }
    fn health_threshold(&self, _: bool) -> usize {
        1
    }
}

#[async_trait::async_trait]
impl lb::HealthCheck for Overlap {
    async fn check(&self, _: &lb::Backend) -> Result<(), lb::BoxError> {
        self.probe().await;
        Ok(())
    }
    async fn health_status_change(&self, _: &lb::Backend, _: bool) {}
    fn backend_summary(&self, target: &lb::Backend) -> String {
        target.to_string()
    }
    fn health_threshold(&self, _: bool) -> usize {
        1
    }
}

#[tokio::test(start_paused = true)]
async fn parallel_checks_are_bounded_where_pingora_starts_them_all() {
    let addrs = addrs(300);
    let theirs_probe = Overlap::default();
    let mut theirs = pingora_over::<plb::selection::RoundRobin>(&addrs, 1);
    theirs.set_health_check(Box::new(theirs_probe.clone()));
    theirs.backends().run_health_check(true).await;
    assert_eq!(theirs_probe.max(), 300);

    let ours_probe = Overlap::default();
    let mut ours = lb_over::<lb::RoundRobin>(&addrs, 1);
    ours.set_health_check(Box::new(ours_probe.clone()));
    assert_eq!(ours.health_check_concurrency, 128);
    ours.backends().run_health_check(true).await;
    assert_eq!(ours_probe.max(), 128);
}

#[test]
fn timeouts_and_jitter_have_the_documented_defaults() {
    let ours = lb_over::<lb::RoundRobin>(&addrs(1), 1);
    assert_eq!(ours.health_check_timeout, Duration::from_secs(5));
    assert!((ours.health_check_jitter - 0.1).abs() < f64::EPSILON);
}

/// A probe that fails with a message of its own.
struct Boom;

#[async_trait::async_trait]
impl lb::HealthCheck for Boom {
    async fn check(&self, _: &lb::Backend) -> Result<(), lb::BoxError> {
        Err("boom: the probe failed".into())
    }
    fn health_threshold(&self, _: bool) -> usize {
        1
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_keeps_its_error_and_the_watch_starts_with_the_current_state() {
    let mut ours = lb_over::<lb::RoundRobin>(&addrs(2), 1);
    ours.set_health_check(Box::new(Boom));
    let mut watch = ours.backends().health_watch();
    // First the current state of every backend (healthy, unprobed).
    for _ in 0..2 {
        let event = within("the current state", watch.next()).await.unwrap();
        assert!(event.healthy);
    }
    ours.backends().run_health_check(false).await;
    let state = ours.backends().get_backend().states()[0].clone();
    assert!(
        state
            .last_error()
            .unwrap()
            .contains("boom: the probe failed")
    );
    let flip = within("a flip", watch.next()).await.unwrap();
    assert!(!flip.healthy);
    assert!(flip.reason.unwrap().contains("boom"));
}

#[test]
fn new_backends_start_healthy_as_in_pingora_unless_told_otherwise() {
    let theirs = pingora_over::<plb::selection::RoundRobin>(&addrs(1), 1);
    assert!(theirs.select(b"", 256).is_some());
    let mut ours = lb_over::<lb::RoundRobin>(&addrs(1), 1);
    assert!(ours.select(b"").is_some());
    // With a probe, `Unhealthy` keeps them out until their first successful probe.
    ours.set_health_check(Box::new(Boom));
    ours.set_initial_health(InitialHealth::Unhealthy);
    ours.set_panic_threshold(0);
    assert!(ours.select(b"").is_none());
}

#[tokio::test]
async fn registries_and_services_have_their_lb_spellings() {
    let registry = Arc::new(plb::HealthRegistry::with_equivalence(|b| b.weight as u64));
    let _ = plb::Backends::new_with_health_registry(
        plb::discovery::Static::new(BTreeSet::new()),
        Arc::clone(&registry),
    );
    let _ = plb::HealthCheckService::new(registry);

    let registry =
        lb::HealthRegistry::new().with_key(|b| lb::core::HealthKey::custom(b.addr.to_string()));
    let _ = lb::Backends::new(Box::new(lb::discovery::Static::new([])))
        .with_health_registry(registry.clone());
    let service = registry.spawn(lb::HealthSchedule::every(Duration::from_secs(1)));
    service.shutdown().await;
}

#[test]
fn probe_constructors() {
    let theirs: Box<plb::health_check::TcpHealthCheck> = plb::health_check::TcpHealthCheck::new();
    let ours: lb::TcpHealthCheck = lb::TcpHealthCheck::new();
    assert_eq!(
        (theirs.consecutive_success, theirs.consecutive_failure),
        (ours.consecutive_success, ours.consecutive_failure)
    );
    let _: Box<plb::health_check::TcpHealthCheck> =
        plb::health_check::TcpHealthCheck::new_tls("example.com");
    assert!(lb::TcpHealthCheck::new_tls("example.com").is_ok());
    let _: plb::health_check::HttpHealthCheck =
        plb::health_check::HttpHealthCheck::new("example.com", false);
    let http = lb::health::HttpHealthCheck::new("example.com", false)
        .unwrap()
        .with_path("/healthz")
        .unwrap();
    assert_eq!(http.health_threshold(true), 1);
    assert!(lb::health::HttpHealthCheck::new("bad host\n", false).is_err());
}
