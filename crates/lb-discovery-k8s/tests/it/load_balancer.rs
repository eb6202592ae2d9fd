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
    api.apply(web_of("web-a", &["10.0.0.1", "10.0.0.2"]));
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

/// Forwards to the source and reports every answer the load balancer got.
struct Recording {
    inner: lb_discovery_k8s::EndpointSliceDiscovery,
    answers: tokio::sync::mpsc::UnboundedSender<Vec<(String, Enablement)>>,
}

#[lb_core::async_trait]
impl ServiceDiscovery for Recording {
    async fn discover(&self) -> Result<lb_core::Discovered, BoxError> {
        let answer = self.inner.discover().await?;
        let _ = self.answers.send(view(&answer));
        Ok(answer)
    }

    fn subscribe(&self) -> Option<lb_core::ChangeSubscription> {
        self.inner.subscribe()
    }
}

type Answers = tokio::sync::mpsc::UnboundedReceiver<Vec<(String, Enablement)>>;

/// The next answer the load balancer got that differs from `previous` (at most 10 s away).
///
/// The load balancer may ask twice for one state: its first `discover` waits for the first list,
/// and the list's change signal then makes it ask once more.
async fn next(
    answers: &mut Answers,
    previous: &[(String, Enablement)],
) -> Vec<(String, Enablement)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = tokio::time::timeout_at(deadline, answers.recv()).await;
        let answer = answer
            .expect("the load balancer asked")
            .expect("the source is alive");
        if answer != previous {
            return answer;
        }
    }
}

#[tokio::test]
async fn a_load_balancer_without_polling_follows_each_push() {
    let api = FakeApi::start().await;
    api.apply(web("web-a", "10.0.0.1"));
    let discovery = builder(&api).build().await.unwrap();
    let (tx, mut answers) = tokio::sync::mpsc::unbounded_channel();
    let lb = Arc::new(LoadBalancer::<InOrder>::from_backends(Backends::new(
        Box::new(Recording {
            inner: discovery.clone(),
            answers: tx,
        }),
    )));
    assert_eq!(lb.update_frequency, None, "no polling");
    let service = lb.spawn();
    let first = next(&mut answers, &[]).await;
    assert_eq!(first, expect(&[("10.0.0.1:8080", Enablement::Enabled)]));
    tokio::time::timeout(Duration::from_secs(10), service.ready())
        .await
        .unwrap();

    // With no polling and no failure, only the watch's change signal makes it ask again.
    api.apply(web_of("web-a", &["10.0.0.1", "10.0.0.2"]));
    let second = next(&mut answers, &first).await;
    assert_eq!(
        second,
        expect(&[
            ("10.0.0.1:8080", Enablement::Enabled),
            ("10.0.0.2:8080", Enablement::Enabled)
        ])
    );
    api.apply(web("web-a", "10.0.0.2"));
    let third = next(&mut answers, &second).await;
    assert_eq!(third, expect(&[("10.0.0.2:8080", Enablement::Enabled)]));
    service.shutdown().await;
    assert_eq!(discovery.status().updates, 3);
}
