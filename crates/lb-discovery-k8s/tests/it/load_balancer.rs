//! The source inside a real lb-core LoadBalancer.

use std::sync::Arc;
use std::time::Duration;

use lb_core::{
    Backend, BackendIter, BackendSelection, Backends, BoxError, Enablement, LoadBalancer,
    ServiceDiscovery,
};

use crate::fake_api::FakeApi;
use crate::support::*;

/// The simplest strategy: backends in address order (lb-selection is not a dependency here).
pub(crate) struct InOrder(usize);

pub(crate) struct InOrderIter(std::ops::Range<usize>);

impl BackendIter for InOrderIter {
    fn next(&mut self) -> Option<usize> {
        self.0.next()
    }
}

impl BackendSelection for InOrder {
    type Config = ();
    type Iter<'a> = InOrderIter;
    fn build(backends: &[Backend], _: &()) -> Result<Self, BoxError> {
        Ok(InOrder(backends.len()))
    }
    fn iter(&self, _key: &[u8]) -> InOrderIter {
        InOrderIter(0..self.0)
    }
}

#[tokio::test]
async fn a_spawned_load_balancer_becomes_ready_from_the_watch_and_follows_enablement() {
    let api = FakeApi::start().await;
    api.apply(slice(
        "web-a",
        "web",
        "IPv4",
        vec![endpoint("10.0.0.1", READY), endpoint("10.0.0.2", READY)],
    ));
    let discovery = builder(&api).build().await.unwrap();
    let mut changes = discovery.subscribe().unwrap();
    let lb = Arc::new(LoadBalancer::<InOrder>::from_backends(Backends::new(
        Box::new(discovery.clone()),
    )));
    assert!(lb.select(b"").is_none(), "nothing before the first list");
    let service = lb.spawn();
    tokio::time::timeout(Duration::from_secs(10), service.ready())
        .await
        .expect("ready after the list");
    let pick = lb.select(b"").unwrap();
    assert_eq!(pick.addr.to_string(), "10.0.0.1:8080");
    assert_eq!(
        pick.ext
            .get::<lb_discovery_k8s::EndpointMeta>()
            .unwrap()
            .pod_name(),
        Some("pod-10-0-0-1")
    );
    service.shutdown().await;

    // The first backend starts terminating: drained, so picks move to the second.
    api.apply(slice(
        "web-a",
        "web",
        "IPv4",
        vec![
            endpoint("10.0.0.1", TERMINATING),
            endpoint("10.0.0.2", READY),
        ],
    ));
    wait_set(
        &discovery,
        &mut changes,
        &[
            ("10.0.0.1:8080", Enablement::Draining),
            ("10.0.0.2:8080", Enablement::Enabled),
        ],
    )
    .await;
    lb.update().await.unwrap();
    let set = lb.backends().get_backend();
    assert_eq!(set.len(), 2, "a draining backend stays in the set");
    let first = set.backends()[0].clone();
    assert_eq!(
        lb.backends().state(&first).unwrap().enablement(),
        Enablement::Draining
    );
    assert_eq!(lb.select(b"").unwrap().addr.to_string(), "10.0.0.2:8080");

    // The Service goes away: the load balancer selects nothing.
    api.delete("web-a");
    wait_set(&discovery, &mut changes, &[]).await;
    lb.update().await.unwrap();
    assert!(lb.select(b"").is_none());
}
