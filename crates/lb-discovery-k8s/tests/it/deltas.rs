//! A load balancer following a 10,000-endpoint Service through the watch: one endpoint's change
//! reaches it as a one-backend delta, and an event that changes nothing publishes nothing.

use std::sync::{Arc, Mutex};

use k8s_openapi::api::discovery::v1::EndpointSlice;
use lb_core::{
    Answer, BoxError, ChangeSubscription, Discovered, Enablement, LoadBalancer, ServiceDiscovery,
    Zone,
};
use lb_discovery_k8s::EndpointSliceDiscovery;

use crate::fake_api::FakeApi;
use crate::load_balancer::InOrder;
use crate::support::*;

const SLICES: usize = 10;
const PER_SLICE: usize = 1_000;

fn ip(slice: usize, i: usize) -> String {
    format!("10.{slice}.{}.{}", i / 250, i % 250 + 1)
}

/// Slice `web-<n>` with its 1,000 ready endpoints, `edit` applied to them.
fn big(
    n: usize,
    edit: impl Fn(usize, &mut k8s_openapi::api::discovery::v1::Endpoint),
) -> EndpointSlice {
    let endpoints = (0..PER_SLICE)
        .map(|i| {
            let mut e = endpoint(&ip(n, i), READY);
            edit(i, &mut e);
            e
        })
        .collect();
    slice(&format!("web-{n}"), "web", "IPv4", endpoints)
}

/// What one answer to the load balancer was.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Full {
        backends: usize,
    },
    Delta {
        upsert: Vec<String>,
        remove: Vec<String>,
        enablement: Vec<(String, Enablement)>,
    },
    Unchanged,
}

/// Forwards to the source and keeps what it answered the load balancer.
struct Recording {
    inner: EndpointSliceDiscovery,
    seen: Arc<Mutex<Vec<Seen>>>,
}

#[lb_core::async_trait]
impl ServiceDiscovery for Recording {
    async fn discover(&self) -> Result<Discovered, BoxError> {
        self.inner.discover().await
    }

    fn subscribe(&self) -> Option<ChangeSubscription> {
        self.inner.subscribe()
    }

    async fn discover_changes(&self, since: Option<u64>) -> Result<Answer, BoxError> {
        let answer = self.inner.discover_changes(since).await?;
        let seen = match &answer {
            Answer::Full { set, .. } => Seen::Full {
                backends: set.backends.len(),
            },
            Answer::Delta { delta, .. } => Seen::Delta {
                upsert: delta.upsert.iter().map(|b| b.addr.to_string()).collect(),
                remove: delta.remove.iter().map(ToString::to_string).collect(),
                enablement: delta
                    .enablement
                    .iter()
                    .map(|(a, e)| (a.to_string(), *e))
                    .collect(),
            },
            _ => Seen::Unchanged,
        };
        self.seen.lock().unwrap().push(seen);
        Ok(answer)
    }
}

/// The state of the backend at `addr` in the load balancer's set.
fn state(lb: &LoadBalancer<InOrder>, addr: &str) -> Enablement {
    let set = lb.backends().get_backend();
    let backend = set
        .backends()
        .iter()
        .find(|b| b.addr.to_string() == addr)
        .unwrap_or_else(|| panic!("{addr} is in the set"));
    lb.backends().state(backend).unwrap().enablement()
}

/// Waits (at most 10 s) until the source's whole set has the backend at `addr` in `zone`, waking
/// on each change signal.
async fn wait_zone(
    discovery: &EndpointSliceDiscovery,
    changes: &mut ChangeSubscription,
    addr: &str,
    zone: &str,
) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let set = discovery.discover().await.unwrap();
        let found = set
            .backends
            .iter()
            .find(|b| b.addr.to_string() == addr)
            .and_then(|b| b.ext.get::<Zone>());
        if found.map(Zone::as_str) == Some(zone) {
            return;
        }
        let woke = tokio::time::timeout_at(deadline, changes.changed()).await;
        assert!(
            matches!(woke, Ok(true)),
            "timed out waiting for {addr} in {zone}; status: {:?}",
            discovery.status()
        );
    }
}

#[tokio::test]
async fn one_endpoint_of_a_10000_endpoint_service_reaches_the_load_balancer_as_a_delta() {
    let api = FakeApi::start().await;
    for n in 0..SLICES {
        api.apply(big(n, |_, _| {}));
    }
    let discovery = builder(&api).build().await.unwrap();
    let mut changes = discovery.subscribe().unwrap();
    wait_status(&discovery, "the first list", |s| s.listed).await;
    api.wait_first_watch().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let lb = LoadBalancer::<InOrder>::from_backends(lb_core::Backends::new(Box::new(Recording {
        inner: discovery.clone(),
        seen: Arc::clone(&seen),
    })));
    let last = || seen.lock().unwrap().last().cloned().expect("an answer");

    lb.update().await.unwrap();
    assert_eq!(last(), Seen::Full { backends: 10_000 });
    assert_eq!(lb.backends().get_backend().len(), 10_000);
    let published = lb.stats().published;

    // One endpoint of slice 3 starts terminating.
    let target = ip(3, 5);
    api.apply(big(3, |i, e| {
        if i == 5 {
            *e = endpoint(&ip(3, 5), TERMINATING);
        }
    }));
    wait_status(&discovery, "the change", |s| s.updates == 2).await;
    lb.update().await.unwrap();
    let target_addr = format!("{target}:8080");
    assert_eq!(
        last(),
        Seen::Delta {
            upsert: vec![],
            remove: vec![],
            enablement: vec![(target_addr.clone(), Enablement::Draining)],
        }
    );
    assert_eq!(lb.stats().published, published + 1);
    assert_eq!(lb.backends().get_backend().len(), 10_000);
    assert_eq!(state(&lb, &target_addr), Enablement::Draining);
    assert_eq!(
        state(&lb, &format!("{}:8080", ip(3, 6))),
        Enablement::Enabled
    );

    // The same slice again (a new resource version, nothing else): nothing is published. Then
    // one endpoint of slice 7 moves to another zone: that change alone is the next version.
    api.apply(big(3, |i, e| {
        if i == 5 {
            *e = endpoint(&ip(3, 5), TERMINATING);
        }
    }));
    let moved = format!("{}:8080", ip(7, 9));
    api.apply(big(7, |i, e| {
        if i == 9 {
            e.zone = Some("zone-b".into());
        }
    }));
    wait_zone(&discovery, &mut changes, &moved, "zone-b").await;
    lb.update().await.unwrap();
    assert_eq!(
        discovery.status().updates,
        3,
        "the unchanged event published nothing"
    );
    assert_eq!(
        last(),
        Seen::Delta {
            upsert: vec![moved.clone()],
            remove: vec![],
            enablement: vec![],
        }
    );
    let set = lb.backends().get_backend();
    assert_eq!(set.len(), 10_000);
    let zone = set
        .backends()
        .iter()
        .find(|b| b.addr.to_string() == moved)
        .and_then(|b| b.ext.get::<Zone>())
        .map(|z| z.as_str().to_owned());
    assert_eq!(zone.as_deref(), Some("zone-b"));
    assert_eq!(state(&lb, &target_addr), Enablement::Draining, "kept");
    assert_eq!(lb.stats().published, published + 2);

    // Asked again with nothing new: unchanged, and nothing is published.
    lb.update().await.unwrap();
    assert_eq!(last(), Seen::Unchanged);
    assert_eq!(lb.stats().published, published + 2);
}
