//! Recovery: `410 Gone`, dropped connections, an API down at start or later, malformed events.

use std::time::Duration;

use lb_core::{Enablement::*, ServiceDiscovery};

use crate::fake_api::{FakeApi, Mode, Seen};
use crate::support::*;

fn refused(seen: &[Seen]) -> usize {
    seen.iter().filter(|s| matches!(s, Seen::Refused)).count()
}

#[tokio::test]
async fn gone_forces_a_relist_that_replaces_the_set_at_once() {
    let api = FakeApi::start().await;
    api.apply(web("web-a", "10.0.0.1"));
    let (discovery, mut changes) =
        following(&api, builder(&api), &[("10.0.0.1:8080", Enabled)]).await;

    // Changes the watch never hears of (lost in a compaction window)...
    api.mute(true);
    api.apply(slice(
        "web-b",
        "web",
        "IPv4",
        vec![
            endpoint("10.0.0.2", READY),
            endpoint("10.0.0.3", TERMINATING),
        ],
    ));
    api.delete("web-a");
    api.mute(false);
    // ...then the history is compacted: the open watch gets ERROR 410 and the watcher re-lists.
    api.expire();
    wait_set(
        &discovery,
        &mut changes,
        &[("10.0.0.2:8080", Enabled), ("10.0.0.3:8080", Draining)],
    )
    .await;
    assert_eq!(lists(&api.seen()), 2);
    let status = discovery.status();
    assert_eq!(status.lists, 2);
    assert!(status.errors >= 1);
    let last = status.last_error.expect("the 410 is recorded");
    assert!(
        last.message().contains("too old resource version"),
        "{last}"
    );
    // The watch goes on after the re-list.
    api.apply(web("web-b", "10.0.0.2"));
    wait_set(&discovery, &mut changes, &[("10.0.0.2:8080", Enabled)]).await;
}

#[tokio::test]
async fn a_dropped_connection_during_an_outage_keeps_the_set_then_replays_what_was_missed() {
    let api = FakeApi::start().await;
    api.apply(web_of("web-a", &["10.0.0.1", "10.0.0.2"]));
    let (discovery, mut changes) = following(
        &api,
        builder(&api),
        &[("10.0.0.1:8080", Enabled), ("10.0.0.2:8080", Enabled)],
    )
    .await;

    // The API goes away: open connections are cut mid-stream and new ones are refused.
    api.set_mode(Mode::Down);
    api.drop_connections();
    // Meanwhile the Service changes.
    api.apply(slice(
        "web-a",
        "web",
        "IPv4",
        vec![
            endpoint("10.0.0.1", TERMINATING),
            endpoint("10.0.0.2", READY),
        ],
    ));
    let before = refused(&api.seen());
    api.wait_seen("two refused reconnects", |s| refused(s) >= before + 2)
        .await;
    wait_status(&discovery, "two failed reconnects", |s| s.errors >= 2).await;
    // The outage keeps the last good set.
    let during = discovery.discover().await.unwrap();
    assert_eq!(
        view(&during),
        expect(&[("10.0.0.1:8080", Enabled), ("10.0.0.2:8080", Enabled)])
    );

    // Back up: the watch resumes from its resource version and the server replays the change.
    api.set_mode(Mode::Up);
    wait_set(
        &discovery,
        &mut changes,
        &[("10.0.0.1:8080", Draining), ("10.0.0.2:8080", Enabled)],
    )
    .await;
    assert_eq!(lists(&api.seen()), 1, "resuming needs no re-list");
}

#[tokio::test]
async fn an_api_down_at_start_is_not_listed_yet_then_followed_once_up() {
    let api = FakeApi::start().await;
    api.set_mode(Mode::Down);
    api.apply(web("web-a", "10.0.0.1"));
    let discovery = builder(&api)
        .initial_list_timeout(Duration::from_millis(50))
        .build()
        .await
        .unwrap();
    let mut changes = discovery.subscribe().unwrap();
    api.wait_seen("three refused connections", |s| refused(s) >= 3)
        .await;

    let err = discovery.discover().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the endpointslices of service `prod/web` have not been listed yet"
    );
    let cause =
        std::error::Error::source(err.as_ref()).expect("the watch's last error is the cause");
    assert!(
        cause
            .to_string()
            .contains("failed to perform initial object list"),
        "{cause}"
    );
    assert!(!discovery.status().listed);

    // A load balancer over it stays not ready: discovery fails, nothing is published.
    let lb = lb_core::LoadBalancer::<crate::load_balancer::InOrder>::from_backends(
        lb_core::Backends::new(Box::new(discovery.clone())),
    );
    assert!(lb.update().await.is_err());
    assert_eq!(lb.stats().published, 0);

    api.set_mode(Mode::Up);
    wait_set(&discovery, &mut changes, &[("10.0.0.1:8080", Enabled)]).await;
    lb.update().await.unwrap();
    assert_eq!(lb.select(b"").unwrap().addr.to_string(), "10.0.0.1:8080");
}

#[tokio::test]
async fn malformed_events_are_errors_not_panics_and_the_watch_goes_on() {
    let api = FakeApi::start().await;
    api.apply(web("web-a", "10.0.0.1"));
    let (discovery, mut changes) =
        following(&api, builder(&api), &[("10.0.0.1:8080", Enabled)]).await;

    api.raw("this is not json\n");
    api.raw("{\"type\":\"ADDED\",\"object\":{\"kind\":\"EndpointSlice\",\"addressType\":42}}\n");
    api.raw("{\"type\":\"ADDED\",\"object\":{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/v1\",\
             \"metadata\":{\"name\":\"web-x\",\"resourceVersion\":\"99\",\"labels\":{\"kubernetes.io/service-name\":\"web\"}},\
             \"addressType\":\"IPv4\",\"ports\":[{\"name\":\"http\",\"port\":70000}],\
             \"endpoints\":[{\"addresses\":[\"10.0.0.5\",\"300.0.0.1\"]}]}}\n");
    wait_status(&discovery, "two errors", |s| s.errors >= 2).await;
    // The well-formed slice with an impossible port contributes nothing; the set is unchanged.
    api.apply(web("web-b", "10.0.0.2"));
    wait_set(
        &discovery,
        &mut changes,
        &[("10.0.0.1:8080", Enabled), ("10.0.0.2:8080", Enabled)],
    )
    .await;
}

fn watches(seen: &[Seen]) -> usize {
    seen.iter()
        .filter(|s| matches!(s, Seen::Watch { .. }))
        .count()
}

#[tokio::test]
async fn a_watch_that_ends_at_once_is_retried_after_a_backoff_not_in_a_tight_loop() {
    // Cleanly, or with its connection cut (which kube takes for the end of a long watch).
    for mode in [Mode::WatchEndsAtOnce, Mode::WatchCutAtOnce] {
        short_watches(mode).await;
    }
}

async fn short_watches(mode: Mode) {
    let api = FakeApi::start().await;
    api.set_mode(mode);
    api.apply(web("web-a", "10.0.0.1"));
    let discovery = builder(&api).build().await.unwrap();
    let mut changes = discovery.subscribe().unwrap();
    wait_set(&discovery, &mut changes, &[("10.0.0.1:8080", Enabled)]).await;
    // kube's watcher starts the next watch as soon as one ends, without a word to the loop that
    // backs off: a server that ends every watch at once would be asked again and again, as fast
    // as it answers. Each such watch is an error instead, so every restart waits a backoff.
    wait_status(&discovery, "three short watches reported", |s| {
        s.errors >= 3
    })
    .await;
    let seen = watches(&api.seen());
    let status = discovery.status();
    assert!(
        seen as u64 <= status.errors + 1,
        "{mode:?}: {seen} watches for {} errors: restarts skip the backoff",
        status.errors
    );
    let error = status.last_error.unwrap();
    assert!(error.message().contains("ended after"), "{error}");
    // The set is kept, and it came from the one list.
    assert_eq!(lists(&api.seen()), 1);
    let kept = discovery.discover().await.unwrap();
    assert_eq!(view(&kept), expect(&[("10.0.0.1:8080", Enabled)]));
}

#[tokio::test]
async fn gone_as_the_status_of_a_watch_request_forces_a_relist_too() {
    let api = FakeApi::start().await;
    api.apply(web("web-a", "10.0.0.1"));
    let (discovery, mut changes) =
        following(&api, builder(&api), &[("10.0.0.1:8080", Enabled)]).await;

    // Changes the watch never hears of...
    api.mute(true);
    api.apply(web("web-b", "10.0.0.2"));
    api.delete("web-a");
    api.mute(false);
    // ...then the watch ends and resuming it is refused with `410 Gone` as the HTTP status.
    // kube's watcher retries a watch that failed to start from the same resource version,
    // which can never succeed: only a new list brings the set up to date.
    api.expire_by_status();
    wait_set(&discovery, &mut changes, &[("10.0.0.2:8080", Enabled)]).await;
    assert_eq!(lists(&api.seen()), 2);
    // And the watch goes on from the new list.
    api.apply(web("web-b", "10.0.0.3"));
    wait_set(&discovery, &mut changes, &[("10.0.0.3:8080", Enabled)]).await;
}
