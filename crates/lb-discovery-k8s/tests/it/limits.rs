//! Bounds on the API's answers: bytes per response and per event, time per request, slices
//! and backends held, endpoints and addresses per slice.

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
    let (discovery, mut changes) = following(
        &api,
        builder(&api).limits(Limits::default().max_response_bytes(LIMIT)),
        &[("10.0.0.1:8080", Enabled)],
    )
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

#[tokio::test]
async fn a_watch_announcing_slices_past_the_limit_keeps_the_last_good_set() {
    let api = FakeApi::start().await;
    api.apply(web("web-a", "10.0.0.1"));
    api.apply(web("web-b", "10.0.0.2"));
    let (discovery, mut changes) = following(
        &api,
        builder(&api).limits(max_slices(2)),
        &[("10.0.0.1:8080", Enabled), ("10.0.0.2:8080", Enabled)],
    )
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

/// A first list served in pages of one whose slices add up past `limits`: it fails with
/// `message`, is never published (though the page after `second_page_after` was fetched), and
/// once slice `delete` is gone the next list publishes 10.0.0.1 and 10.0.0.2.
async fn first_list_past_a_limit_is_never_published(
    api: FakeApi,
    limits: Limits,
    message: &str,
    second_page_after: &str,
    delete: &str,
) {
    let discovery = builder(&api)
        .limits(limits)
        .page_size(1)
        .initial_list_timeout(Duration::ZERO)
        .build()
        .await
        .unwrap();
    let mut changes = discovery.subscribe().unwrap();
    wait_status(&discovery, "an error", |s| s.errors >= 1).await;
    let status = discovery.status();
    assert_eq!(status.last_error.as_ref().unwrap().message(), message);
    assert!(!status.listed, "{status:?}");
    assert_eq!((status.lists, status.updates), (0, 0));
    // The slices came in pages of one: the limit holds across pages.
    assert!(
        api.seen().iter().any(|s| *s
            == Seen::NextPage {
                after: second_page_after.into()
            }),
        "{:?}",
        api.seen()
    );
    let err = discovery.discover().await.unwrap_err();
    assert!(
        err.to_string().contains("have not been listed yet"),
        "{err}"
    );

    api.delete(delete);
    wait_set(
        &discovery,
        &mut changes,
        &[("10.0.0.1:8080", Enabled), ("10.0.0.2:8080", Enabled)],
    )
    .await;
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
    first_list_past_a_limit_is_never_published(
        api,
        max_slices(2),
        "service `prod/web` has at least 3 endpointslices in its list, more than the limit of 2",
        "web-b",
        "web-c",
    )
    .await;
}

#[tokio::test]
async fn a_relist_past_the_limit_never_publishes_a_truncated_set() {
    let api = FakeApi::start().await;
    api.apply(web("web-b", "10.0.0.2"));
    api.apply(web("web-c", "10.0.0.3"));
    let (discovery, mut changes) = following(
        &api,
        builder(&api).limits(max_slices(2)).page_size(1),
        &[("10.0.0.2:8080", Enabled), ("10.0.0.3:8080", Enabled)],
    )
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

/// The request timeout of [`builder`], with at most `backends` backends.
fn max_backends(backends: usize) -> Limits {
    Limits::default()
        .request_timeout(Duration::from_secs(5))
        .max_backends(backends)
}

#[tokio::test]
async fn a_watch_event_past_the_backend_limit_keeps_the_last_good_set() {
    let api = FakeApi::start().await;
    api.apply(web_of("web-a", &["10.0.0.1", "10.0.0.2"]));
    let good = [("10.0.0.1:8080", Enabled), ("10.0.0.2:8080", Enabled)];
    let (discovery, mut changes) =
        following(&api, builder(&api).limits(max_backends(3)), &good).await;
    let before = discovery.status();

    // A second slice of two backends takes the total to 4, past the limit of 3, though the
    // slice count (2) is far under its own limit.
    api.apply(web_of("web-b", &["10.0.0.3", "10.0.0.4"]));
    wait_status(&discovery, "the slice past the limit", |s| {
        s.errors > before.errors
    })
    .await;
    let status = discovery.status();
    assert_eq!(
        status.last_error.clone().unwrap().message(),
        "service `prod/web` has at least 4 backends in its watch, more than the limit of 3"
    );
    assert_eq!(
        (status.updates, status.slices, status.backends),
        (before.updates, 1, 2),
        "nothing published: {status:?}"
    );
    assert_eq!(view(&discovery.discover().await.unwrap()), expect(&good));

    // After the backoff the watch starts over with a list, which is past the limit too.
    api.wait_seen("a new list", |s| lists(s) >= 2).await;
    wait_status(&discovery, "the list past the limit", |s| {
        s.last_error
            .as_ref()
            .is_some_and(|e| e.message().contains("at least 4 backends in its list"))
    })
    .await;
    assert_eq!(view(&discovery.discover().await.unwrap()), expect(&good));
    assert_eq!(discovery.status().lists, before.lists);

    // Back under the limit (3 backends exactly), the next list replaces the set.
    api.apply(web_of("web-a", &["10.0.0.1"]));
    wait_set(
        &discovery,
        &mut changes,
        &[
            ("10.0.0.1:8080", Enabled),
            ("10.0.0.3:8080", Enabled),
            ("10.0.0.4:8080", Enabled),
        ],
    )
    .await;
    assert_eq!(discovery.status().backends, 3);
}

#[tokio::test]
async fn a_list_whose_pages_add_up_past_the_backend_limit_is_never_published() {
    let api = FakeApi::start().await;
    api.apply(web_of("web-a", &["10.0.0.1", "10.0.0.2"]));
    api.apply(web_of("web-b", &["10.0.0.3", "10.0.0.4"]));
    // Each page is under the limit: only their sum is past it.
    first_list_past_a_limit_is_never_published(
        api,
        max_backends(3),
        "service `prod/web` has at least 4 backends in its list, more than the limit of 3",
        "web-a",
        "web-b",
    )
    .await;
}

/// `n` addresses from 10.1.0.1 on.
fn ips(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("10.1.{}.{}", i / 250, i % 250 + 1))
        .collect()
}

#[tokio::test]
async fn a_slice_with_more_endpoints_than_the_api_allows_keeps_the_last_good_set() {
    let api = FakeApi::start().await;
    api.apply(web("web-a", "10.0.0.1"));
    let (discovery, mut changes) =
        following(&api, builder(&api), &[("10.0.0.1:8080", Enabled)]).await;
    let before = discovery.status();

    // 1,001 endpoints: one more than the API server's validation allows in a slice.
    let too_many = ips(1001);
    let too_many: Vec<&str> = too_many.iter().map(String::as_str).collect();
    api.apply(web_of("web-b", &too_many));
    wait_status(&discovery, "the oversized slice", |s| {
        s.errors > before.errors
    })
    .await;
    let status = discovery.status();
    assert_eq!(
        status.last_error.clone().unwrap().message(),
        "endpointslice `web-b` in the watch of service `prod/web` has 1001 endpoints, more \
         than the 1000 the kubernetes api allows"
    );
    assert_eq!(
        (status.updates, status.slices, status.backends),
        (before.updates, 1, 1),
        "nothing published: {status:?}"
    );
    assert_eq!(
        view(&discovery.discover().await.unwrap()),
        expect(&[("10.0.0.1:8080", Enabled)])
    );

    // At the API's limit of 1,000 it is taken, by the list the watch starts over with.
    let allowed = &too_many[..1000];
    api.apply(web_of("web-b", allowed));
    let mut expected: Vec<(String, lb_core::Enablement)> = allowed
        .iter()
        .map(|ip| (format!("{ip}:8080"), Enabled))
        .collect();
    expected.push(("10.0.0.1:8080".into(), Enabled));
    let expected: Vec<(&str, lb_core::Enablement)> =
        expected.iter().map(|(a, e)| (a.as_str(), *e)).collect();
    wait_set(&discovery, &mut changes, &expected).await;
    assert_eq!(discovery.status().backends, 1001);
}
