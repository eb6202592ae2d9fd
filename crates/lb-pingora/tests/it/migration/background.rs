//! "Background service": pingora-load-balancing's `BackgroundService` and lb-pingora's report
//! ready at the same point, after the first published set, and stop on the shutdown watch.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use lb_pingora::LoadBalancerService;
use pingora_core::services::ServiceReadyNotifier;
use pingora_core::services::background::BackgroundService;
use pingora_load_balancing as plb;
use tokio::sync::{Notify, watch};

use crate::support::within;

/// A discovery source whose answer waits until the test releases it, in each crate's shape.
#[derive(Clone, Default)]
struct Gated(Arc<Notify>);

#[async_trait::async_trait]
impl plb::discovery::ServiceDiscovery for Gated {
    async fn discover(&self) -> pingora_core::Result<(BTreeSet<plb::Backend>, HashMap<u64, bool>)> {
        self.0.notified().await;
        Ok((
            BTreeSet::from([plb::Backend::new("10.0.0.1:80").unwrap()]),
            HashMap::new(),
        ))
    }
}

#[async_trait::async_trait]
impl lb::ServiceDiscovery for Gated {
    async fn discover(&self) -> Result<lb::Discovered, lb::BoxError> {
        self.0.notified().await;
        Ok(lb::Discovered::new([lb::Backend::new("10.0.0.1:80")?]))
    }
}

/// Runs `service` as pingora would, checks that it is not ready before `gate` opens and is
/// after, then shuts it down.
async fn ready_after_first_set<T: BackgroundService + Send + Sync + 'static>(
    service: T,
    gate: Gated,
) {
    let service = Arc::new(service);
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
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(!*ready.borrow(), "ready before the first set");
    gate.0.notify_one();
    within("readiness", ready.wait_for(|r| *r)).await.unwrap();
    shutdown_tx.send_replace(true);
    within("the service to stop", task).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn both_services_are_ready_after_the_first_set_and_stop_on_the_watch() {
    let gate = Gated::default();
    let theirs = plb::LoadBalancer::<plb::selection::RoundRobin>::from_backends(
        plb::Backends::new(Box::new(gate.clone())),
    );
    ready_after_first_set(theirs, gate).await;

    let gate = Gated::default();
    let ours = lb::LoadBalancer::<lb::RoundRobin>::from_backends(lb::Backends::new(Box::new(
        gate.clone(),
    )));
    ready_after_first_set(LoadBalancerService::new(ours), gate).await;
}
