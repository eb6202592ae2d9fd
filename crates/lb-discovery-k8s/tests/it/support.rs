//! Building EndpointSlices with k8s-openapi types, discovery sources pointed at the fake API,
//! and waiting for the published set.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use lb_core::{ChangeSubscription, Discovered, Enablement, ServiceDiscovery};
use lb_discovery_k8s::{Builder, EndpointSliceDiscovery, Limits, Port, WatchStatus};

use crate::fake_api::{FakeApi, Seen};

pub(crate) const NAMESPACE: &str = "prod";

/// Ready, as the EndpointSlice controller writes it.
pub(crate) const READY: (bool, bool, bool) = (true, true, false);
/// Shutting down, still serving.
pub(crate) const TERMINATING: (bool, bool, bool) = (false, true, true);
/// Failing its readiness probe.
pub(crate) const NOT_READY: (bool, bool, bool) = (false, false, false);

/// An endpoint with one address, its conditions (ready, serving, terminating), zone, node and Pod.
pub(crate) fn endpoint(ip: &str, (ready, serving, terminating): (bool, bool, bool)) -> Endpoint {
    let pod = format!("pod-{}", ip.replace(['.', ':'], "-"));
    Endpoint {
        addresses: vec![ip.to_owned()],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        zone: Some("zone-a".into()),
        node_name: Some("node-1".into()),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            name: Some(pod),
            namespace: Some(NAMESPACE.into()),
            ..ObjectReference::default()
        }),
        ..Endpoint::default()
    }
}

/// An IPv4 slice of `web` with one ready endpoint at `ip`.
pub(crate) fn web(name: &str, ip: &str) -> EndpointSlice {
    web_of(name, &[ip])
}

/// An IPv4 slice of `web` with a ready endpoint for each of `ips`.
pub(crate) fn web_of(name: &str, ips: &[&str]) -> EndpointSlice {
    slice(
        name,
        "web",
        "IPv4",
        ips.iter().map(|ip| endpoint(ip, READY)).collect(),
    )
}

/// How many list requests (first pages) `seen` holds.
pub(crate) fn lists(seen: &[Seen]) -> usize {
    seen.iter()
        .filter(|s| matches!(s, Seen::List { .. }))
        .count()
}

/// A slice of `service` in [`NAMESPACE`], with ports `http: 8080` and `metrics: 9090`.
pub(crate) fn slice(
    name: &str,
    service: &str,
    address_type: &str,
    endpoints: Vec<Endpoint>,
) -> EndpointSlice {
    EndpointSlice {
        address_type: address_type.into(),
        endpoints,
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NAMESPACE.into()),
            labels: Some(BTreeMap::from([
                ("kubernetes.io/service-name".to_owned(), service.to_owned()),
                (
                    "endpointslice.kubernetes.io/managed-by".to_owned(),
                    "endpointslice-controller.k8s.io".to_owned(),
                ),
            ])),
            ..ObjectMeta::default()
        },
        ports: Some(vec![
            EndpointPort {
                name: Some("http".into()),
                port: Some(8080),
                protocol: Some("TCP".into()),
                ..EndpointPort::default()
            },
            EndpointPort {
                name: Some("metrics".into()),
                port: Some(9090),
                protocol: Some("TCP".into()),
                ..EndpointPort::default()
            },
        ]),
    }
}

/// A kube configuration for the fake API.
pub(crate) fn config(api: &FakeApi) -> kube::Config {
    let mut config = kube::Config::new(api.url().parse().unwrap());
    config.default_namespace = NAMESPACE.into();
    config
}

/// A builder for `web` on port `http` against the fake API, with quick retries.
pub(crate) fn builder(api: &FakeApi) -> Builder {
    EndpointSliceDiscovery::builder("web")
        .config(config(api))
        .port(Port::name("http"))
        .backoff(Duration::from_millis(10), Duration::from_millis(100))
        .limits(Limits::default().request_timeout(Duration::from_secs(5)))
        .initial_list_timeout(Duration::from_secs(10))
}

/// Builds `builder`, subscribes to its changes, and waits until it publishes `expected` and its
/// first watch is open: the steady state most tests start from.
pub(crate) async fn following(
    api: &FakeApi,
    builder: Builder,
    expected: &[(&str, Enablement)],
) -> (EndpointSliceDiscovery, ChangeSubscription) {
    let discovery = builder.build().await.unwrap();
    let mut changes = discovery.subscribe().unwrap();
    wait_set(&discovery, &mut changes, expected).await;
    api.wait_first_watch().await;
    (discovery, changes)
}

/// The set as (address, enablement), sorted by address.
pub(crate) fn view(discovered: &Discovered) -> Vec<(String, Enablement)> {
    let mut v: Vec<_> = discovered
        .backends
        .iter()
        .map(|b| {
            let state = discovered
                .enablement
                .get(&b.addr)
                .copied()
                .expect("every backend has a state");
            (b.addr.to_string(), state)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

pub(crate) fn expect(pairs: &[(&str, Enablement)]) -> Vec<(String, Enablement)> {
    let mut v: Vec<_> = pairs.iter().map(|(a, e)| (a.to_string(), *e)).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Waits (at most 10 s) until `discover()` answers `expected`, waking on each change signal.
pub(crate) async fn wait_set(
    discovery: &EndpointSliceDiscovery,
    changes: &mut ChangeSubscription,
    expected: &[(&str, Enablement)],
) -> Discovered {
    let expected = expect(expected);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let last = discovery.discover().await;
        if let Ok(d) = &last
            && view(d) == expected
        {
            return last.unwrap();
        }
        let woke = tokio::time::timeout_at(deadline, changes.changed()).await;
        assert!(
            matches!(woke, Ok(true)),
            "timed out waiting for {expected:?}; last answer: {:?}; status: {:?}",
            last.map(|d| view(&d)),
            discovery.status()
        );
    }
}

/// Waits (at most 10 s) until the watch status satisfies `until`; panics with it otherwise.
pub(crate) async fn wait_status(
    discovery: &EndpointSliceDiscovery,
    what: &str,
    until: impl Fn(&WatchStatus) -> bool,
) {
    let mut status = discovery.status_watch();
    // `wait_for` returns a read guard on the status: drop it at once, since the watch task
    // cannot publish while it is held.
    let reached = tokio::time::timeout(Duration::from_secs(10), status.wait_for(|s| until(s)))
        .await
        .is_ok_and(|r| r.is_ok());
    assert!(
        reached,
        "timed out waiting for {what}; status: {:?}",
        discovery.status()
    );
}
