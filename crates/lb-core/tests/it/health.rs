//! Health-check passes, the registry shared between load balancers, and the health watch.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lb_core::{
    Backend, Backends, BoxError, HealthCheck, HealthEvent, HealthKey, HealthRegistry,
    HealthSchedule, InitialHealth, LoadBalancer,
};

use crate::support::{Rotate, ScriptedCheck};

fn backends(n: u16) -> Vec<Backend> {
    (1..=n)
        .map(|p| Backend::from(std::net::SocketAddr::from(([10, 3, 0, 1], p))))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_probe_that_overruns_its_deadline_fails_with_a_timeout_reason() {
    let check = ScriptedCheck::new(1, 1);
    check.set_delay(Some(Duration::from_secs(3600)));
    let mut b = Backends::fixed(backends(1));
    b.set_health_check(Box::new(check.clone()));
    let started = tokio::time::Instant::now();
    let report = b
        .health_registry()
        .check_once(&HealthSchedule::default().with_timeout(Duration::from_secs(2)))
        .await;
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert_eq!((report.checked, report.failed, report.flipped), (1, 1, 1));
    let state = b.state(&backends(1)[0]).unwrap();
    assert!(!state.is_ready());
    assert_eq!(
        state.last_error().as_deref(),
        Some("health check timed out after 2s")
    );
}

#[tokio::test(start_paused = true)]
async fn parallel_passes_respect_the_concurrency_bound() {
    let check = ScriptedCheck::new(1, 1);
    check.set_delay(Some(Duration::from_millis(10)));
    let mut b = Backends::fixed(backends(50));
    b.set_health_check(Box::new(check.clone()));
    let report = b
        .health_registry()
        .check_once(&HealthSchedule::default().with_parallelism(4))
        .await;
    assert_eq!(report.checked, 50);
    assert_eq!(check.inner.max_in_flight.load(Ordering::SeqCst), 4);
    // 50 probes of 10 ms, four at a time.
    assert_eq!(report.elapsed, Duration::from_millis(130));

    check.inner.max_in_flight.store(0, Ordering::SeqCst);
    let report = b.run_health_check(false).await;
    assert_eq!(report.checked, 50);
    assert_eq!(
        check.inner.max_in_flight.load(Ordering::SeqCst),
        1,
        "sequential"
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_probe_counts_as_a_failure_and_the_pass_goes_on() {
    let check = ScriptedCheck::new(1, 1);
    let list = backends(3);
    check
        .inner
        .panic_on
        .lock()
        .unwrap()
        .insert(list[1].addr.clone());
    let mut b = Backends::fixed(list.clone());
    b.set_health_check(Box::new(check.clone()));
    let report = b.run_health_check(true).await;
    assert_eq!((report.checked, report.failed), (3, 1));
    assert!(b.ready(&list[0]) && !b.ready(&list[1]) && b.ready(&list[2]));
    assert_eq!(
        b.state(&list[1]).unwrap().last_error().as_deref(),
        Some("health check panicked")
    );
}

/// A probe that never answers; it counts the probes started and those dropped unfinished.
struct Hangs {
    started: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
}

struct CountsDrop(Arc<AtomicUsize>);

impl Drop for CountsDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[lb_core::async_trait]
impl HealthCheck for Hangs {
    async fn check(&self, _target: &Backend) -> Result<(), BoxError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        let _dropped = CountsDrop(Arc::clone(&self.dropped));
        std::future::pending().await
    }

    fn health_threshold(&self, _success: bool) -> usize {
        1
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_a_pass_stops_its_probes() {
    let (started, dropped) = (Arc::default(), Arc::default());
    let mut b = Backends::fixed(backends(10));
    b.set_health_check(Box::new(Hangs {
        started: Arc::clone(&started),
        dropped: Arc::clone(&dropped),
    }));
    let schedule = HealthSchedule::default()
        .with_parallelism(4)
        .with_timeout(Duration::from_secs(3600));
    let pass = b.health_registry().check_once(&schedule);
    assert!(
        tokio::time::timeout(Duration::from_secs(1), pass)
            .await
            .is_err()
    );
    // Aborted tasks are dropped when the runtime next gets to them.
    for _ in 0..100 {
        if dropped.load(Ordering::SeqCst) == 4 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(started.load(Ordering::SeqCst), 4);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        4,
        "every probe in flight was dropped"
    );
    // Nothing was recorded for them, and nothing runs any more.
    tokio::time::sleep(Duration::from_secs(7200)).await;
    assert_eq!(started.load(Ordering::SeqCst), 4);
    assert!(b.ready(&backends(1)[0]));
}

#[tokio::test(start_paused = true)]
async fn a_shared_registry_probes_each_backend_once_for_every_load_balancer() {
    let check = ScriptedCheck::new(1, 2);
    let registry = HealthRegistry::with_health_check(Box::new(check.clone()));
    let all = backends(3);
    let lb_a = LoadBalancer::<Rotate>::from_backends(
        Backends::fixed(all[..2].to_vec()).with_health_registry(registry.clone()),
    );
    let lb_b = LoadBalancer::<Rotate>::from_backends(
        Backends::fixed(all[1..].to_vec()).with_health_registry(registry.clone()),
    );
    assert_eq!(registry.len(), 3, "the shared backend is registered once");
    let shared = all[1].addr.to_string();
    check.set_down(&shared, true);
    let schedule = HealthSchedule::default();
    registry.check_once(&schedule).await;
    registry.check_once(&schedule).await;
    assert_eq!(
        check.calls(&shared),
        2,
        "one probe per pass, not one per load balancer"
    );
    assert_eq!(check.total_calls(), 6);
    assert!(!lb_a.backends().ready(&all[1]) && !lb_b.backends().ready(&all[1]));
    assert!(lb_a.backends().ready(&all[0]) && lb_b.backends().ready(&all[2]));
    assert_eq!(check.changes(), [(shared, false)]);
    // Each load balancer keeps its own enablement.
    lb_a.backends().set_enable(&all[2], false);
    lb_b.backends().set_enable(&all[0], false);
    assert!(lb_b.backends().ready(&all[2]));
    drop(lb_a);
    assert_eq!(registry.len(), 2, "backends nobody holds are forgotten");
}

#[tokio::test(start_paused = true)]
async fn a_custom_key_shares_one_probe_between_addresses() {
    let check = ScriptedCheck::new(1, 1);
    let registry = HealthRegistry::with_health_check(Box::new(check.clone()))
        .with_key(|b| HealthKey::custom(b.addr.as_inet().unwrap().ip().to_string()));
    let lb = LoadBalancer::<Rotate>::from_backends(
        Backends::fixed(backends(4)).with_health_registry(registry.clone()),
    );
    lb.set_panic_threshold(0); // every backend goes down: the point is that they share a probe
    assert_eq!(registry.len(), 1);
    check.set_down("10.3.0.1:1", true);
    registry.check_once(&HealthSchedule::default()).await;
    assert_eq!(check.total_calls(), 1);
    assert!(lb.select(b"").is_none(), "all four share the failed probe");
}

#[tokio::test(start_paused = true)]
async fn the_watch_starts_with_the_current_state_then_follows_flips() {
    let check = ScriptedCheck::new(2, 1);
    let list = backends(2);
    let mut b = Backends::fixed(list.clone());
    b.set_health_check(Box::new(check.clone()));
    check.set_down("10.3.0.1:2", true);
    b.run_health_check(false).await;
    let mut watch = b.health_watch();
    let initial = [watch.next().await.unwrap(), watch.next().await.unwrap()];
    assert_eq!(initial[0].backend, list[0]);
    assert!(initial[0].healthy);
    assert_eq!(initial[1].backend, list[1]);
    assert!(!initial[1].healthy);
    assert_eq!(
        initial[1].reason.as_deref(),
        Some("connection to 10.3.0.1:2 refused")
    );
    assert!(watch.try_next().is_none());

    check.set_down("10.3.0.1:2", false);
    b.run_health_check(false).await;
    assert!(watch.try_next().is_none(), "one success of two needed");
    b.run_health_check(false).await;
    let HealthEvent {
        backend,
        healthy,
        reason,
        ..
    } = watch.next().await.unwrap();
    assert_eq!((backend, healthy, reason), (list[1].clone(), true, None));
    // It is a Stream too: a flip read through StreamExt.
    check.set_down("10.3.0.1:1", true);
    b.run_health_check(false).await;
    let flip = tokio_stream::StreamExt::next(&mut watch).await.unwrap();
    assert_eq!((flip.backend, flip.healthy), (list[0].clone(), false));
    drop(b);
    assert!(
        watch.next().await.is_none(),
        "the stream ends with the registry"
    );
}

#[tokio::test(start_paused = true)]
async fn a_watch_that_falls_behind_resynchronises_with_the_current_states() {
    let check = ScriptedCheck::new(1, 1);
    let list = backends(1);
    let mut b = Backends::fixed(list.clone());
    b.set_health_check(Box::new(check.clone()));
    let mut watch = b.health_watch();
    assert!(watch.next().await.unwrap().healthy);
    // 1,100 flips: more than the channel keeps.
    for i in 0..1_100 {
        check.set_down("10.3.0.1:1", i % 2 == 0);
        b.run_health_check(false).await;
    }
    // Down on the last flip (i = 1,098 was down, 1,099 up): the watch replays the current state.
    let event = tokio_stream::StreamExt::next(&mut watch).await.unwrap();
    assert_eq!(event.backend, list[0]);
    assert!(event.healthy, "the current state after the resync");
    assert!(
        watch.try_next().is_none(),
        "one event per backend after a resync"
    );
}

#[tokio::test(start_paused = true)]
async fn initially_unhealthy_backends_wait_for_their_first_successful_probe() {
    let check = ScriptedCheck::new(3, 1);
    let mut b = Backends::fixed(backends(2));
    b.set_health_check(Box::new(check.clone()));
    b.set_initial_health(InitialHealth::Unhealthy);
    let lb = Arc::new(LoadBalancer::<Rotate>::from_backends(b));
    assert!(lb.select(b"").is_none());
    check.set_down("10.3.0.1:1", true);
    lb.backends().run_health_check(false).await;
    let pick = lb.select(b"").unwrap();
    assert_eq!(
        pick.addr.to_string(),
        "10.3.0.1:2",
        "healthy after one success, not three"
    );
}

#[tokio::test(start_paused = true)]
async fn a_private_registry_probes_the_published_set_and_keeps_health_in_its_states() {
    let check = ScriptedCheck::new(1, 1);
    let list = backends(3);
    let mut b = Backends::fixed(list[..2].to_vec());
    b.set_health_check(Box::new(check.clone()));
    let lb = LoadBalancer::<Rotate>::from_backends(b);
    let registry = lb.backends().health_registry().clone();
    assert_eq!(registry.len(), 2);

    // A delta adds one backend and removes another: the next pass probes the published set.
    let delta = lb_core::Delta::new()
        .with_upsert(list[2].clone())
        .with_removal(list[0].addr.clone());
    lb.apply_delta(&delta).unwrap();
    assert_eq!(registry.len(), 2);
    check.set_down(&list[2].addr.to_string(), true);
    let report = registry.check_once(&HealthSchedule::default()).await;
    assert_eq!((report.checked, report.failed), (2, 1));
    assert_eq!(check.calls(&list[0].addr.to_string()), 0, "it left the set");
    assert_eq!(check.calls(&list[2].addr.to_string()), 1);
    let state = lb.backends().state(&list[2]).unwrap();
    assert!(!state.is_ready());
    assert_eq!(state.health().consecutive_failures, 1);

    // The application's word reaches the state, and the registry says whom it knows.
    assert!(registry.set_health(&list[2], true));
    assert!(lb.backends().ready(&list[2]));
    assert!(
        !registry.set_health(&list[0], false),
        "not in the set any more"
    );

    // The same registry handed to a second load balancer: its backends share cells by key, and
    // one pass probes both load balancers' backends.
    let other = LoadBalancer::<Rotate>::from_backends(
        Backends::fixed(list[..1].to_vec()).with_health_registry(registry.clone()),
    );
    assert_eq!(registry.len(), 3);
    check.set_down(&list[0].addr.to_string(), true);
    registry.check_once(&HealthSchedule::default()).await;
    assert_eq!(check.calls(&list[0].addr.to_string()), 1);
    assert!(!other.backends().ready(&list[0]));
    drop(lb);
    assert_eq!(registry.len(), 1, "the owner's backends go with it");
}
