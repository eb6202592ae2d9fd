//! The initial list and the watch events: ADDED, MODIFIED, DELETED, bookmarks.

use std::future::Future;

use lb_core::{Enablement::*, ServiceDiscovery};
use lb_discovery_k8s::{EndpointMeta, EndpointSliceDiscovery, Port};

use crate::fake_api::{FakeApi, Seen};
use crate::support::*;

#[tokio::test]
async fn the_initial_list_then_added_modified_and_deleted_slices() {
    let api = FakeApi::start().await;
    api.apply(web_of("web-a", &["10.0.0.1", "10.0.0.2"]));
    api.apply(slice(
        "db-a",
        "db",
        "IPv4",
        vec![endpoint("10.9.9.9", READY)],
    ));
    let discovery = builder(&api).build().await.unwrap();
    let mut changes = discovery.subscribe().unwrap();

    let first = wait_set(
        &discovery,
        &mut changes,
        &[("10.0.0.1:8080", Enabled), ("10.0.0.2:8080", Enabled)],
    )
    .await;
    let meta = first.backends[0]
        .ext
        .get::<EndpointMeta>()
        .expect("metadata is kept");
    assert_eq!(meta.zone.as_deref(), Some("zone-a"));
    assert_eq!(meta.node_name.as_deref(), Some("node-1"));
    assert_eq!(meta.pod_name(), Some("pod-10-0-0-1"));
    assert_eq!(meta.slice, "web-a");
    let selector = "kubernetes.io/service-name=web".to_owned();
    api.wait_seen("the watch after the list", |s| {
        s.iter().any(
            |r| matches!(r, Seen::Watch { bookmarks: true, selector: sel, .. } if *sel == selector),
        )
    })
    .await;
    assert_eq!(
        api.seen()[0],
        Seen::List {
            selector: selector.clone()
        }
    );

    // ADDED: an IPv6 slice of the same Service joins the set.
    api.apply(slice(
        "web-b",
        "web",
        "IPv6",
        vec![endpoint("fd00::7", READY)],
    ));
    wait_set(
        &discovery,
        &mut changes,
        &[
            ("10.0.0.1:8080", Enabled),
            ("10.0.0.2:8080", Enabled),
            ("[fd00::7]:8080", Enabled),
        ],
    )
    .await;

    // MODIFIED: one endpoint terminates, one fails its probe, one is new.
    api.apply(slice(
        "web-a",
        "web",
        "IPv4",
        vec![
            endpoint("10.0.0.1", TERMINATING),
            endpoint("10.0.0.2", NOT_READY),
            endpoint("10.0.0.3", READY),
        ],
    ));
    wait_set(
        &discovery,
        &mut changes,
        &[
            ("10.0.0.1:8080", Draining),
            ("10.0.0.2:8080", Disabled),
            ("10.0.0.3:8080", Enabled),
            ("[fd00::7]:8080", Enabled),
        ],
    )
    .await;

    // DELETED: the IPv6 slice goes, with its backend.
    api.delete("web-b");
    wait_set(
        &discovery,
        &mut changes,
        &[
            ("10.0.0.1:8080", Draining),
            ("10.0.0.2:8080", Disabled),
            ("10.0.0.3:8080", Enabled),
        ],
    )
    .await;

    // Another Service's changes never show, and nothing here needed a second list.
    api.apply(slice(
        "db-a",
        "db",
        "IPv4",
        vec![endpoint("10.9.9.8", READY)],
    ));
    let status = discovery.status();
    assert_eq!(status.lists, 1);
    assert_eq!(status.errors, 0, "{status:?}");
    assert!(
        api.seen()
            .iter()
            .filter(|s| matches!(s, Seen::List { .. }))
            .count()
            == 1
    );
}

#[tokio::test]
async fn deleting_the_service_empties_the_set() {
    let api = FakeApi::start().await;
    api.apply(web("web-a", "10.0.0.1"));
    api.apply(web("web-b", "10.0.0.2"));
    let discovery = builder(&api).build().await.unwrap();
    let mut changes = discovery.subscribe().unwrap();
    wait_set(
        &discovery,
        &mut changes,
        &[("10.0.0.1:8080", Enabled), ("10.0.0.2:8080", Enabled)],
    )
    .await;
    // Deleting a Service deletes its slices.
    api.delete("web-a");
    api.delete("web-b");
    let empty = wait_set(&discovery, &mut changes, &[]).await;
    assert!(empty.backends.is_empty() && empty.enablement.is_empty());
    assert_eq!(discovery.status().backends, 0);
    // And a Service that comes back is followed again.
    api.apply(web("web-c", "10.0.0.3"));
    wait_set(&discovery, &mut changes, &[("10.0.0.3:8080", Enabled)]).await;
}

#[tokio::test]
async fn a_service_without_endpoints_lists_as_an_empty_set_not_an_error() {
    let api = FakeApi::start().await;
    let discovery = builder(&api).build().await.unwrap();
    let answer = discovery.discover().await.unwrap();
    assert!(answer.backends.is_empty());
    assert!(discovery.status().listed);
}

#[tokio::test]
async fn ports_by_number_and_every_address_of_an_endpoint() {
    let api = FakeApi::start().await;
    let mut two = endpoint("10.0.0.1", READY);
    two.addresses.push("10.0.0.2".into());
    api.apply(slice("web-a", "web", "IPv4", vec![two]));
    let discovery = builder(&api)
        .port(Port::Number(9090))
        .build()
        .await
        .unwrap();
    let mut changes = discovery.subscribe().unwrap();
    wait_set(
        &discovery,
        &mut changes,
        &[("10.0.0.1:9090", Enabled), ("10.0.0.2:9090", Enabled)],
    )
    .await;
    // `Only` with two ports is ambiguous: the slice contributes nothing rather than a guess.
    let only = builder(&api).port(Port::Only).build().await.unwrap();
    assert!(only.discover().await.unwrap().backends.is_empty());
}

#[tokio::test]
async fn a_bookmark_moves_the_point_the_next_watch_starts_from() {
    let api = FakeApi::start().await;
    api.apply(web("web-a", "10.0.0.1"));
    let discovery = builder(&api).build().await.unwrap();
    let mut changes = discovery.subscribe().unwrap();
    wait_set(&discovery, &mut changes, &[("10.0.0.1:8080", Enabled)]).await;
    let listed_at = api.resource_version().to_string();
    api.wait_seen("the first watch", |s| {
        s.iter().any(
            |r| matches!(r, Seen::Watch { resource_version, .. } if *resource_version == listed_at),
        )
    })
    .await;
    // Other Services move the resource version on without any event for this watch...
    for i in 0..3 {
        api.apply(slice(
            "db-a",
            "db",
            "IPv4",
            vec![endpoint(&format!("10.9.9.{i}"), READY)],
        ));
    }
    // ...until a bookmark tells the watcher where it is.
    api.bookmark();
    let bookmarked = api.resource_version().to_string();
    assert_ne!(bookmarked, listed_at);
    // The server ends the watch (its timeout ran out) after the bookmark: the next watch starts
    // from the bookmark, without a re-list.
    api.end_watches();
    api.wait_seen("a watch resumed from the bookmark", |s| {
        s.iter().any(|r| matches!(r, Seen::Watch { resource_version, .. } if *resource_version == bookmarked))
    })
    .await;
    assert_eq!(
        api.seen()
            .iter()
            .filter(|s| matches!(s, Seen::List { .. }))
            .count(),
        1
    );
    assert_eq!(discovery.status().lists, 1);
    wait_set(&discovery, &mut changes, &[("10.0.0.1:8080", Enabled)]).await;
}

#[tokio::test]
async fn dropping_the_source_stops_the_watch() {
    let api = FakeApi::start().await;
    let discovery: EndpointSliceDiscovery = builder(&api).build().await.unwrap();
    let mut changes = discovery.subscribe().unwrap();
    assert!(discovery.discover().await.is_ok());
    let clone = discovery.clone();
    drop(discovery);
    // A clone keeps it running.
    api.apply(web("web-a", "10.0.0.1"));
    wait_set(&clone, &mut changes, &[("10.0.0.1:8080", Enabled)]).await;
    drop(clone);
    // The task is aborted: the notifier it shared is dropped and the subscription closes.
    let closed = tokio::time::timeout(std::time::Duration::from_secs(10), changes.changed()).await;
    assert_eq!(
        closed.ok(),
        Some(false),
        "the subscription reports the source is gone"
    );
}

#[test]
fn built_outside_a_runtime_the_watch_starts_on_first_use_inside_one() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let api = rt.block_on(FakeApi::start());
    api.apply(web("web-a", "10.0.0.1"));
    let client = rt
        .block_on(async { lb_discovery_k8s::client_with_limits(config(&api), Default::default()) })
        .unwrap();
    // With a client given, `build` never waits: one poll, outside any runtime, completes it.
    let building = std::pin::pin!(
        EndpointSliceDiscovery::builder("web")
            .namespace(NAMESPACE)
            .port(Port::name("http"))
            .client(client)
            .build()
    );
    let std::task::Poll::Ready(built) =
        building.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    else {
        panic!("build waited on something");
    };
    let discovery = built.unwrap();
    let changes = discovery
        .subscribe()
        .expect("a subscription, even before the watch runs");
    assert_eq!(discovery.status().lists, 0, "no watch without a runtime");
    assert!(api.seen().is_empty());
    // The first discover inside a runtime starts the watch and waits for its first list.
    let answer = rt.block_on(discovery.discover()).unwrap();
    assert_eq!(view(&answer), expect(&[("10.0.0.1:8080", Enabled)]));
    drop(changes);
    drop(discovery);
    drop(api);
}

#[tokio::test]
async fn a_kubeconfig_context_gives_the_cluster_and_the_default_namespace() {
    let api = FakeApi::start().await;
    api.apply(web("web-a", "10.0.0.1"));
    let yaml = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: test\n\
         clusters:\n- name: fake\n  cluster:\n    server: {}\n\
         contexts:\n- name: test\n  context:\n    cluster: fake\n    user: nobody\n    namespace: {NAMESPACE}\n\
         users:\n- name: nobody\n  user: {{}}\n",
        api.url()
    );
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&yaml).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    // No namespace given: the context's is used.
    let discovery = EndpointSliceDiscovery::builder("web")
        .config(config)
        .port(Port::name("http"))
        .build()
        .await
        .unwrap();
    assert_eq!(discovery.namespace(), NAMESPACE);
    let answer = discovery.discover().await.unwrap();
    assert_eq!(view(&answer), expect(&[("10.0.0.1:8080", Enabled)]));
}

#[tokio::test]
async fn invalid_names_are_refused_before_any_request() {
    let api = FakeApi::start().await;
    let err = EndpointSliceDiscovery::builder("web,app=db")
        .config(config(&api))
        .build()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid service name `web,app=db`: only lowercase letters, digits and '-' are allowed"
    );
    let err = builder(&api)
        .namespace("../kube-system")
        .build()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid namespace name `../kube-system`"),
        "{err}"
    );
    assert!(api.seen().is_empty());
}
