//! One Kubernetes watch event through to a published set: lb-discovery-k8s's store and change
//! log, `discover_changes` and `LoadBalancer::update`, for a Service of 10,000 endpoints (10
//! EndpointSlices of 1,000), without the network (the source is fed the decoded events by hand,
//! `lb_discovery_k8s::testing::Feed`).
//!
//! `cargo bench -p lb-benches --bench k8s`. Every figure is one event (`Event::Apply` of one
//! 1,000-endpoint slice, decoded: converting its endpoints is counted, decoding its JSON is not)
//! processed to the end, criterion median; the load balancer is `LoadBalancer<RoundRobin>`:
//!
//! - `k8s/watch_event/store/10000`: the store and the change log alone (one endpoint's
//!   conditions change, ready to terminating and back);
//! - `k8s/watch_event/state/10000`: the same event through `discover_changes` (a delta of one
//!   state) and `update`, to the published set;
//! - `k8s/watch_event/metadata/10000`: one endpoint moves to another zone and back (a delta of
//!   one backend upserted), through to the published set;
//! - `k8s/watch_event/unchanged/10000`: the same slice again (a new resource version, nothing
//!   else): the store finds nothing, and `update` is answered unchanged;
//! - `k8s/watch_event/full_rebuild/10000`: the state event the way the source handled it before
//!   it kept its set incrementally: the whole merged set recomputed (collected, sorted,
//!   deduplicated, compared whole with the last) and a backend built for each endpoint
//!   (`Feed::recompute`), then `update` from that whole set. The store's own incremental work is
//!   counted in it too (it is small beside the rest, see `store`).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::watcher::Event;
use lb_core::{Backends, BoxError, Discovered, LoadBalancer, ServiceDiscovery};
use lb_discovery_k8s::testing::Feed;
use lb_discovery_k8s::{Limits, Port, kube};
use lb_selection::RoundRobin;
use tokio::runtime::Runtime;

const SLICES: usize = 10;
const PER_SLICE: usize = 1_000;
const N: usize = SLICES * PER_SLICE;
/// The slice and the endpoint the events change.
const SLICE: usize = 3;
const ENDPOINT: usize = 5;

/// One endpoint as the EndpointSlice controller writes it: ready or terminating, with its zone,
/// node and Pod.
fn endpoint(slice: usize, i: usize, terminating: bool, zone: &str) -> Endpoint {
    let ip = format!("10.{slice}.{}.{}", i / 250, i % 250 + 1);
    Endpoint {
        addresses: vec![ip],
        conditions: Some(EndpointConditions {
            ready: Some(!terminating),
            serving: Some(true),
            terminating: Some(terminating),
        }),
        zone: Some(zone.to_owned()),
        node_name: Some(format!("node-{}", i % 50)),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            name: Some(format!("web-{slice}-{i}")),
            namespace: Some("prod".into()),
            uid: Some(format!("00000000-0000-0000-0000-{slice:04}{i:08}")),
            ..ObjectReference::default()
        }),
        ..Endpoint::default()
    }
}

/// Slice `web-<n>` of Service `web`, its endpoint [`ENDPOINT`] terminating or in `zone-b` as
/// asked.
fn slice(n: usize, terminating: bool, moved: bool) -> EndpointSlice {
    let endpoints = (0..PER_SLICE)
        .map(|i| {
            let target = n == SLICE && i == ENDPOINT;
            let zone = if target && moved { "zone-b" } else { "zone-a" };
            endpoint(n, i, target && terminating, zone)
        })
        .collect();
    EndpointSlice {
        address_type: "IPv4".into(),
        endpoints,
        metadata: ObjectMeta {
            name: Some(format!("web-{n}")),
            namespace: Some("prod".into()),
            labels: Some(BTreeMap::from([(
                "kubernetes.io/service-name".to_owned(),
                "web".to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        ports: Some(vec![EndpointPort {
            name: Some("http".into()),
            port: Some(8080),
            protocol: Some("TCP".into()),
            ..EndpointPort::default()
        }]),
    }
}

/// A source listed with the 10,000-endpoint Service.
fn listed() -> Arc<Feed> {
    let feed = Feed::new("prod", "web", Port::name("http"), Limits::default());
    let events = std::iter::once(Event::Init)
        .chain((0..SLICES).map(|n| Event::InitApply(slice(n, false, false))))
        .chain(std::iter::once(Event::InitDone));
    for event in events {
        feed.apply(event).expect("within the limits");
    }
    assert_eq!(feed.status().backends, N);
    Arc::new(feed)
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
}

/// A load balancer following `source`, its first (whole) set published.
fn following(rt: &Runtime, source: impl ServiceDiscovery + 'static) -> LoadBalancer<RoundRobin> {
    let lb = LoadBalancer::from_backends(Backends::new(Box::new(source)));
    rt.block_on(lb.update()).expect("the first set");
    assert_eq!(lb.backends().get_backend().len(), N);
    lb
}

/// Events alternating between slice [`SLICE`] as first listed and as `changed` makes it.
fn alternating(changed: EndpointSlice) -> impl FnMut() -> Event<EndpointSlice> {
    let slices = [changed, slice(SLICE, false, false)];
    let mut turn = 0;
    move || {
        let event = Event::Apply(slices[turn].clone());
        turn ^= 1;
        event
    }
}

/// A source answering whatever set it was last given, whole (the way the load balancer was
/// answered before sources reported changes).
#[derive(Default)]
struct Whole(Mutex<Option<Discovered>>);

#[lb_core::async_trait]
impl ServiceDiscovery for Whole {
    async fn discover(&self) -> Result<Discovered, BoxError> {
        let set = self.0.lock().expect("not poisoned").take();
        set.ok_or_else(|| "no set given".into())
    }
}

fn watch_event(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("k8s/watch_event");

    let feed = listed();
    let mut next = alternating(slice(SLICE, true, false));
    g.bench_function(BenchmarkId::new("store", N), |b| {
        b.iter_batched(
            &mut next,
            |event| feed.apply(event).expect("within the limits"),
            BatchSize::SmallInput,
        )
    });

    for (name, changed) in [
        ("state", slice(SLICE, true, false)),
        ("metadata", slice(SLICE, false, true)),
    ] {
        let feed = listed();
        let lb = following(&rt, Arc::clone(&feed));
        let mut next = alternating(changed);
        // The event reaches the load balancer: one version published per event.
        let published = lb.stats().published;
        assert!(feed.apply(next()).expect("within the limits"));
        rt.block_on(lb.update()).expect("a delta");
        assert_eq!(lb.stats().published, published + 1);
        g.bench_function(BenchmarkId::new(name, N), |b| {
            b.iter_batched(
                &mut next,
                |event| {
                    feed.apply(event).expect("within the limits");
                    rt.block_on(lb.update()).expect("a delta");
                },
                BatchSize::SmallInput,
            )
        });
    }

    let feed = listed();
    let lb = following(&rt, Arc::clone(&feed));
    let published = lb.stats().published;
    let same = || Event::Apply(slice(SLICE, false, false));
    assert!(!feed.apply(same()).expect("within the limits"));
    rt.block_on(lb.update()).expect("unchanged");
    assert_eq!(lb.stats().published, published, "nothing published");
    g.bench_function(BenchmarkId::new("unchanged", N), |b| {
        b.iter_batched(
            same,
            |event| {
                black_box(feed.apply(event).expect("within the limits"));
                rt.block_on(lb.update()).expect("unchanged");
            },
            BatchSize::SmallInput,
        )
    });

    let feed = listed();
    let whole = Arc::new(Whole::default());
    *whole.0.lock().expect("not poisoned") = feed.recompute();
    let lb = following(&rt, Arc::clone(&whole));
    let mut next = alternating(slice(SLICE, true, false));
    g.bench_function(BenchmarkId::new("full_rebuild", N), |b| {
        b.iter_batched(
            &mut next,
            |event| {
                feed.apply(event).expect("within the limits");
                *whole.0.lock().expect("not poisoned") = feed.recompute();
                rt.block_on(lb.update()).expect("the whole set");
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = watch_event
}
criterion_main!(benches);
