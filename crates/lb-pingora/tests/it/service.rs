//! `LoadBalancerService` as pingora drives it, without a server: readiness after the first
//! published set, shutdown on the watch, and a closed watch that is no shutdown. Paused clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lb::{Backend, BoxError, Discovered, HealthCheck, LoadBalancer, RoundRobin, ServiceDiscovery};
use lb_pingora::LoadBalancerService;
use pingora_core::services::ServiceReadyNotifier;
use pingora_core::services::background::BackgroundService;
use tokio::sync::{Notify, watch};

use crate::support::within;

/// A discovery source whose first answer waits until the test releases it.
struct Gated {
    release: Arc<Notify>,
    calls: watch::Sender<u64>,
}

#[async_trait::async_trait]
impl ServiceDiscovery for Gated {
    async fn discover(&self) -> Result<Discovered, BoxError> {
        self.calls.send_modify(|n| *n += 1);
        self.release.notified().await;
        Ok(Discovered::new([Backend::new("127.0.0.1:9")?]))
    }
}

/// A probe that counts its calls and always passes.
#[derive(Clone, Default)]
struct Counting(Arc<AtomicU64>);

#[async_trait::async_trait]
impl HealthCheck for Counting {
    async fn check(&self, _: &Backend) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn health_threshold(&self, _: bool) -> usize {
        1
    }
}

#[tokio::test(start_paused = true)]
async fn ready_is_notified_once_the_first_set_is_published_and_shutdown_stops_the_service() {
    let release = Arc::new(Notify::new());
    let (calls, mut discover_calls) = watch::channel(0);
    let lb = LoadBalancer::<RoundRobin>::from_backends(lb::Backends::new(Box::new(Gated {
        release: Arc::clone(&release),
        calls,
    })));
    let service = Arc::new(LoadBalancerService::new(lb));
    let (shutdown_tx, shutdown) = watch::channel(false);
    let (ready_tx, mut ready) = watch::channel(false);
    let task = tokio::spawn({
        let service = Arc::clone(&service);
        async move {
            service
                .start_with_ready_notifier(shutdown, ServiceReadyNotifier::new(ready_tx))
                .await;
        }
    });

    within("the first discovery", discover_calls.wait_for(|n| *n == 1))
        .await
        .expect("the source outlives the test");
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!*ready.borrow(), "ready before any set was published");
    assert!(service.select(b"").is_none());

    release.notify_one();
    within("readiness", ready.wait_for(|ready| *ready))
        .await
        .expect("the notifier signals before it is dropped");
    assert!(service.select(b"").is_some());
    assert!(!task.is_finished());

    shutdown_tx.send_replace(true);
    within("the service to stop", task)
        .await
        .expect("the service does not panic");
}

#[tokio::test(start_paused = true)]
async fn a_closed_shutdown_watch_is_not_a_shutdown() {
    let probes = Counting::default();
    let mut lb = LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:9"]).unwrap();
    lb.set_health_check(Box::new(probes.clone()));
    lb.health_check_frequency = Some(Duration::from_secs(1));
    let service = Arc::new(LoadBalancerService::new(lb));
    let (shutdown_tx, shutdown) = watch::channel(false);
    let task = tokio::spawn({
        let service = Arc::clone(&service);
        async move { service.start(shutdown).await }
    });
    drop(shutdown_tx);

    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(!task.is_finished(), "the service stopped on a closed watch");
    let before = probes.0.load(Ordering::SeqCst);
    assert!(before >= 20, "health checks ran {before} passes in 30 s");
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(
        probes.0.load(Ordering::SeqCst) > before,
        "health checks stopped"
    );
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn start_returns_when_the_watch_is_already_true() {
    let lb = LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:9"]).unwrap();
    let service = LoadBalancerService::new(lb);
    let (_shutdown_tx, shutdown) = watch::channel(true);
    within("the service to stop", service.start(shutdown)).await;
}
