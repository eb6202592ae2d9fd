//! Bounds on the API's answers: bytes per response and per event, time per request.

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
