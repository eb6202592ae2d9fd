//! Bounds on the API's answers: bytes per response and per event, time per request, slices
//! held.

use std::collections::BTreeMap;
use std::time::Duration;

use lb_core::{Enablement::*, ServiceDiscovery};
use lb_discovery_k8s::Limits;

use crate::fake_api::{FakeApi, Mode, Seen};
use crate::support::*;

const LIMIT: usize = 64 * 1024;

/// A slice of `web` whose annotations weigh `padding` bytes.
fn padded(name: &str, ip: &str, padding: usize) -> k8s_openapi::api::discovery::v1::EndpointSlice {
    let mut s = slice(name, "web", "IPv4", vec![endpoint(ip, READY)]);
    s.metadata.annotations = Some(BTreeMap::from([(
        "padding".to_owned(),
        "x".repeat(padding),
    )]));
    s
}

#[tokio::test]
async fn an_oversized_list_is_refused_and_named() {
    let api = FakeApi::start().await;
    api.apply(padded("web-a", "10.0.0.1", 2 * LIMIT));
    let discovery = builder(&api)
        .limits(Limits::default().max_response_bytes(LIMIT))
        .initial_list_timeout(Duration::ZERO)
        .build()
        .await
        .unwrap();
    let mut changes = discovery.subscribe().unwrap();
    wait_status(&discovery, "an error", |s| s.errors >= 1).await;
    let error = discovery.status().last_error.unwrap();
    assert!(
        error
            .message()
            .contains(&format!("is larger than {LIMIT} bytes")),
        "{error}"
    );
    assert!(discovery.discover().await.is_err(), "never listed");
    // Once the object is small again, the next list succeeds.
    api.apply(padded("web-a", "10.0.0.1", 10));
    wait_set(&discovery, &mut changes, &[("10.0.0.1:8080", Enabled)]).await;
}

#[tokio::test]
async fn an_oversized_watch_event_keeps_the_last_good_set() {
    let api = FakeApi::start().await;
    api.apply(padded("web-a", "10.0.0.1", 10));
    let discovery = builder(&api)
        .limits(Limits::default().max_response_bytes(LIMIT))
        .build()
        .await
        .unwrap();
    let mut changes = discovery.subscribe().unwrap();
    wait_set(&discovery, &mut changes, &[("10.0.0.1:8080", Enabled)]).await;
    api.wait_seen("the first watch", |s| {
        s.iter().any(|r| matches!(r, Seen::Watch { .. }))
    })
    .await;

    api.apply(padded("web-b", "10.0.0.2", 2 * LIMIT));
    wait_status(&discovery, "the oversized event", |s| {
        s.last_error
            .as_ref()
            .is_some_and(|e| e.message().contains("watch event"))
    })
    .await;
    let kept = discovery.discover().await.unwrap();
    assert_eq!(view(&kept), expect(&[("10.0.0.1:8080", Enabled)]));
    // The oversized event cannot be replayed past; once it is compacted away, a re-list of the
    // now small object recovers.
    api.apply(padded("web-b", "10.0.0.2", 10));
    api.expire();
    wait_set(
        &discovery,
        &mut changes,
        &[("10.0.0.1:8080", Enabled), ("10.0.0.2:8080", Enabled)],
    )
    .await;
}

#[tokio::test]
async fn a_stalled_api_times_out() {
    let api = FakeApi::start().await;
    api.set_mode(Mode::Stalled);
    let discovery = builder(&api)
        .limits(Limits::default().request_timeout(Duration::from_millis(300)))
        .initial_list_timeout(Duration::ZERO)
        .build()
        .await
        .unwrap();
    wait_status(&discovery, "an error", |s| s.errors >= 1).await;
    let error = discovery.status().last_error.unwrap();
    assert!(error.message().contains("timed out after 300ms"), "{error}");
    let err = discovery.discover().await.unwrap_err();
    assert!(err.to_string().contains("have not been listed yet"));
}

/// The request timeout of [`builder`], with at most `slices` slices.
fn max_slices(slices: usize) -> Limits {
    Limits::default()
        .request_timeout(Duration::from_secs(5))
        .max_slices(slices)
}

fn web(name: &str, ip: &str) -> k8s_openapi::api::discovery::v1::EndpointSlice {
    slice(name, "web", "IPv4", vec![endpoint(ip, READY)])
}

fn lists(seen: &[Seen]) -> usize {
    seen.iter()
        .filter(|s| matches!(s, Seen::List { .. }))
        .count()
}

#[tokio::test]
async fn a_watch_announcing_slices_past_the_limit_keeps_the_last_good_set() {
    let api = FakeApi::start().await;
    api.apply(web("web-a", "10.0.0.1"));
    api.apply(web("web-b", "10.0.0.2"));
    let discovery = builder(&api).limits(max_slices(2)).build().await.unwrap();
    let mut changes = discovery.subscribe().unwrap();
    wait_set(
        &discovery,
        &mut changes,
        &[("10.0.0.1:8080", Enabled), ("10.0.0.2:8080", Enabled)],
    )
    .await;
    api.wait_seen("the first watch", |s| {
        s.iter().any(|r| matches!(r, Seen::Watch { .. }))
    })
    .await;
    let before = discovery.status();

    // A third slice name, announced by the watch, is one past the limit.
    api.apply(web("web-c", "10.0.0.3"));
    wait_status(&discovery, "the slice past the limit", |s| {
        s.errors > before.errors
    })
    .await;
    let status = discovery.status();
    let error = status.last_error.clone().unwrap();
    assert_eq!(
        error.message(),
        "service `prod/web` has at least 3 endpointslices in its watch, more than the limit of 2"
    );
    assert_eq!(
        (status.updates, status.slices, status.backends),
        (before.updates, 2, 2),
        "nothing published: {status:?}"
    );
    let kept = discovery.discover().await.unwrap();
    assert_eq!(
        view(&kept),
        expect(&[("10.0.0.1:8080", Enabled), ("10.0.0.2:8080", Enabled)])
    );

    // After the backoff the watch starts over with a list, which is past the limit too.
    api.wait_seen("a new list", |s| lists(s) >= 2).await;
    wait_status(&discovery, "the list past the limit", |s| {
        s.last_error
            .as_ref()
            .is_some_and(|e| e.message().contains("endpointslices in its list"))
    })
    .await;
    let kept = discovery.discover().await.unwrap();
    assert_eq!(
        view(&kept),
        expect(&[("10.0.0.1:8080", Enabled), ("10.0.0.2:8080", Enabled)])
    );
    assert_eq!(discovery.status().lists, before.lists);

    // Back under the limit, the next list replaces the set.
    api.delete("web-b");
    wait_set(
        &discovery,
        &mut changes,
        &[("10.0.0.1:8080", Enabled), ("10.0.0.3:8080", Enabled)],
    )
    .await;
    assert_eq!(discovery.status().slices, 2);
}

#[tokio::test]
async fn a_first_list_past_the_limit_is_never_published() {
    let api = FakeApi::start().await;
    for (name, ip) in [
        ("web-a", "10.0.0.1"),
        ("web-b", "10.0.0.2"),
        ("web-c", "10.0.0.3"),
    ] {
        api.apply(web(name, ip));
    }
    let discovery = builder(&api)
        .limits(max_slices(2))
        .page_size(1)
        .initial_list_timeout(Duration::ZERO)
        .build()
        .await
        .unwrap();
    let mut changes = discovery.subscribe().unwrap();
    wait_status(&discovery, "an error", |s| s.errors >= 1).await;
    let status = discovery.status();
    assert_eq!(
        status.last_error.as_ref().unwrap().message(),
        "service `prod/web` has at least 3 endpointslices in its list, more than the limit of 2"
    );
    assert!(!status.listed, "{status:?}");
    assert_eq!((status.lists, status.updates), (0, 0));
    // The three slices came in pages of one: the limit holds across pages.
    assert!(
        api.seen().iter().any(|s| *s
            == Seen::NextPage {
                after: "web-b".into()
            }),
        "{:?}",
        api.seen()
    );
    let err = discovery.discover().await.unwrap_err();
    assert!(
        err.to_string().contains("have not been listed yet"),
        "{err}"
    );

    api.delete("web-c");
    wait_set(
        &discovery,
        &mut changes,
        &[("10.0.0.1:8080", Enabled), ("10.0.0.2:8080", Enabled)],
    )
    .await;
}

#[tokio::test]
async fn a_relist_past_the_limit_never_publishes_a_truncated_set() {
    let api = FakeApi::start().await;
    api.apply(web("web-b", "10.0.0.2"));
    api.apply(web("web-c", "10.0.0.3"));
    let discovery = builder(&api)
        .limits(max_slices(2))
        .page_size(1)
        .build()
        .await
        .unwrap();
    let mut changes = discovery.subscribe().unwrap();
    wait_set(
        &discovery,
        &mut changes,
        &[("10.0.0.2:8080", Enabled), ("10.0.0.3:8080", Enabled)],
    )
    .await;
    api.wait_seen("the first watch", |s| {
        s.iter().any(|r| matches!(r, Seen::Watch { .. }))
    })
    .await;
    let before = discovery.status();

    // A slice the watch misses, then a re-list: its pages are web-a, web-b, web-c. Cut at the
    // limit it would be {web-a, web-b}, a set that never existed.
    api.mute(true);
    api.apply(web("web-a", "10.0.0.1"));
    api.expire();
    wait_status(&discovery, "the re-list past the limit", |s| {
        s.last_error.as_ref().is_some_and(|e| {
            e.message()
                .contains("at least 3 endpointslices in its list, more than the limit of 2")
        })
    })
    .await;
    let status = discovery.status();
    assert_eq!(
        (status.lists, status.updates, status.slices),
        (before.lists, before.updates, 2),
        "nothing published: {status:?}"
    );
    let kept = discovery.discover().await.unwrap();
    assert_eq!(
        view(&kept),
        expect(&[("10.0.0.2:8080", Enabled), ("10.0.0.3:8080", Enabled)])
    );

    api.mute(false);
    api.delete("web-c");
    wait_set(
        &discovery,
        &mut changes,
        &[("10.0.0.1:8080", Enabled), ("10.0.0.2:8080", Enabled)],
    )
    .await;
    assert_eq!(discovery.status().lists, before.lists + 1);
}
