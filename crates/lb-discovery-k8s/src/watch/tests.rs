use std::collections::BTreeMap;
use std::sync::Mutex;

use futures_util::stream;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::Status;

use super::*;
use crate::Limits;
use crate::port::Port;
use crate::slice::SERVICE_NAME_LABEL;

#[test]
fn backoff_doubles_with_jitter_up_to_the_maximum_and_resets() {
    let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(800));
    let steps = [100, 200, 400, 800, 800, 800];
    for step in steps {
        let d = b.next_delay();
        let step = Duration::from_millis(step);
        assert!(
            d >= step / 2 && d <= step,
            "{d:?} not within [{:?}, {step:?}]",
            step / 2
        );
    }
    b.reset();
    assert!(b.next_delay() <= Duration::from_millis(100));
    // Degenerate settings never panic and never wait zero.
    let mut zero = Backoff::new(Duration::ZERO, Duration::ZERO);
    assert!(zero.next_delay() >= Duration::from_micros(500));
    let mut huge = Backoff::new(Duration::MAX, Duration::MAX);
    assert!(huge.next_delay() >= Duration::MAX / 2);
    assert!(huge.next_delay() >= Duration::MAX / 2);
}

fn slice(name: &str, ips: &[&str]) -> EndpointSlice {
    EndpointSlice {
        address_type: "IPv4".into(),
        endpoints: ips
            .iter()
            .map(|ip| Endpoint {
                addresses: vec![ip.to_string()],
                ..Endpoint::default()
            })
            .collect(),
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([(
                SERVICE_NAME_LABEL.to_owned(),
                "web".to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        ports: Some(vec![EndpointPort {
            port: Some(80),
            ..EndpointPort::default()
        }]),
    }
}

fn expired() -> Box<Status> {
    serde_json::from_value(serde_json::json!({
        "status": "Failure", "message": "too old resource version", "reason": "Expired", "code": 410
    }))
    .unwrap()
}

/// `410 Gone` as an ERROR event in a watch.
fn gone() -> watcher::Error {
    watcher::Error::WatchError(expired())
}

/// `410 Gone` as the answer to a watch request.
fn gone_at_start() -> watcher::Error {
    watcher::Error::WatchStartFailed(kube::Error::Api(expired()))
}

type Item = Result<Event<EndpointSlice>, watcher::Error>;

/// A watcher factory whose watchers yield `scripts` one after the other, then nothing.
fn watchers(scripts: Vec<Vec<Item>>) -> impl FnMut() -> stream::Iter<std::vec::IntoIter<Item>> {
    let mut scripts = scripts.into_iter();
    move || stream::iter(scripts.next().unwrap_or_default())
}

#[tokio::test(start_paused = true)]
async fn events_publish_changes_only_and_errors_back_off() {
    let shared = Arc::new(Shared::new("prod".into(), "web".into()));
    let mut changes = shared.notifier.subscribe();
    let script = vec![
        Err(gone()),
        Ok(Event::Init),
        Ok(Event::InitApply(slice("web-a", &["10.0.0.1"]))),
        Ok(Event::InitDone),
        Ok(Event::Apply(slice("web-a", &["10.0.0.1"]))), // no change
        Ok(Event::Apply(slice("web-b", &["10.0.0.2"]))),
        Err(gone()),
        Ok(Event::Init),
        Ok(Event::InitApply(slice("web-a", &["10.0.0.1"]))),
        Ok(Event::InitApply(slice("web-b", &["10.0.0.2"]))),
        Ok(Event::InitDone), // the same set again: a list, but no change
    ];
    let started = tokio::time::Instant::now();
    let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
    run(
        watchers(vec![script]),
        Store::new("web".into(), Port::Only, Limits::default()),
        Arc::clone(&shared),
        backoff,
        Arc::default(),
    )
    .await;
    // Two errors, each followed by a wait of 0.5 s to 1 s (reset by progress in between).
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited <= Duration::from_secs(2),
        "{waited:?}"
    );
    let status = shared.status();
    assert!(status.listed);
    assert_eq!(status.lists, 2);
    assert_eq!(status.updates, 2, "the first list and the added slice");
    assert_eq!(status.errors, 2);
    assert_eq!((status.backends, status.slices), (2, 2));
    assert!(
        status
            .last_error
            .unwrap()
            .message()
            .contains("too old resource version")
    );
    assert!(changes.changed().await, "the changes were signalled");
    assert_eq!(shared.addrs().unwrap(), ["10.0.0.1:80", "10.0.0.2:80"]);
}

#[tokio::test(start_paused = true)]
async fn a_failing_api_is_retried_ever_more_slowly() {
    let shared = Arc::new(Shared::new("prod".into(), "web".into()));
    // What kube's watcher yields while the API is down: Init, then the list error, again and again.
    let mut script = Vec::new();
    for _ in 0..5 {
        script.push(Ok(Event::Init));
        script.push(Err(gone()));
    }
    let started = tokio::time::Instant::now();
    let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    run(
        watchers(vec![script]),
        Store::new("web".into(), Port::Only, Limits::default()),
        Arc::clone(&shared),
        backoff,
        Arc::default(),
    )
    .await;
    // 1 + 2 + 4 + 8 + 16 = 31 s of steps, each waited for half to all of it.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(15_500) && waited <= Duration::from_secs(31),
        "{waited:?}"
    );
    assert!(shared.addrs().is_none(), "never listed: nothing to publish");
    assert!(!shared.status().listed);
}

#[tokio::test(start_paused = true)]
async fn a_watch_request_answered_gone_starts_a_new_watcher_that_lists() {
    let shared = Arc::new(Shared::new("prod".into(), "web".into()));
    let first = vec![
        Ok(Event::Init),
        Ok(Event::InitApply(slice("web-a", &["10.0.0.1"]))),
        Ok(Event::InitDone),
        // kube's watcher retries the watch from the expired resource version, again and again.
        Err(gone_at_start()),
        Err(gone_at_start()),
        Err(gone_at_start()),
    ];
    let second = vec![
        Ok(Event::Init),
        Ok(Event::InitApply(slice("web-b", &["10.0.0.2"]))),
        Ok(Event::InitDone),
    ];
    run(
        watchers(vec![first, second]),
        Store::new("web".into(), Port::Only, Limits::default()),
        Arc::clone(&shared),
        Backoff::new(Duration::from_secs(1), Duration::from_secs(8)),
        Arc::default(),
    )
    .await;
    let status = shared.status();
    assert_eq!((status.lists, status.errors), (2, 1), "{status:?}");
    assert_eq!(
        shared.addrs().unwrap(),
        ["10.0.0.2:80"],
        "the new list replaced the set"
    );
}

#[tokio::test(start_paused = true)]
async fn the_backoff_starts_over_after_a_retry_that_stayed_up() {
    let shared = Arc::new(Shared::new("prod".into(), "web".into()));
    // An outage grows the backoff to its maximum...
    let mut outage = vec![
        Ok(Event::Init),
        Ok(Event::InitApply(slice("web-a", &["10.0.0.1"]))),
        Ok(Event::InitDone),
    ];
    outage.extend((0..5).map(|_| Err(gone())));
    // ...then the watch resumes and stays up for ten quiet minutes (kube's watcher yields
    // nothing for a watch that starts, nor for bookmarks), and fails once more.
    let failed_at = Arc::new(Mutex::new(None));
    let recorded = Arc::clone(&failed_at);
    let events = stream::iter(outage).chain(stream::once(async move {
        tokio::time::sleep(Duration::from_secs(600)).await;
        *recorded.lock().unwrap() = Some(tokio::time::Instant::now());
        Err(gone())
    }));
    let mut events = Some(events);
    run(
        move || {
            events
                .take()
                .expect("one watcher: no error here asks for another")
        },
        Store::new("web".into(), Port::Only, Limits::default()),
        Arc::clone(&shared),
        Backoff::new(Duration::from_secs(1), Duration::from_secs(8)),
        Arc::default(),
    )
    .await;
    let failed_at = failed_at.lock().unwrap().expect("the last error came");
    let waited = failed_at.elapsed();
    assert!(
        waited <= Duration::from_secs(1),
        "the first error after ten good minutes waited {waited:?}, as if the outage went on"
    );
}

#[tokio::test(start_paused = true)]
async fn a_slice_past_the_limit_keeps_the_set_and_restarts_the_watch_after_the_backoff() {
    let shared = Arc::new(Shared::new("prod".into(), "web".into()));
    let first = vec![
        Ok(Event::Init),
        Ok(Event::InitApply(slice("web-a", &["10.0.0.1"]))),
        Ok(Event::InitDone),
        // A second slice is one past the limit of 1...
        Ok(Event::Apply(slice("web-b", &["10.0.0.2"]))),
        // ...and this watcher is dropped: what it had next is never seen.
        Ok(Event::Apply(slice("web-a", &["10.0.0.9"]))),
    ];
    // The new watcher's list is past the limit too; the one after is back under it.
    let second = vec![
        Ok(Event::Init),
        Ok(Event::InitApply(slice("web-a", &["10.0.0.1"]))),
        Ok(Event::InitApply(slice("web-b", &["10.0.0.2"]))),
        Ok(Event::InitDone),
    ];
    let third = vec![
        Ok(Event::Init),
        Ok(Event::InitApply(slice("web-b", &["10.0.0.2"]))),
        Ok(Event::InitDone),
    ];
    let (status_tx, mut status_rx) = (Arc::clone(&shared), shared.status_receiver());
    let watched = tokio::spawn(run(
        watchers(vec![first, second, third]),
        Store::new("web".into(), Port::Only, Limits::default().max_slices(1)),
        status_tx,
        Backoff::new(Duration::from_secs(1), Duration::from_secs(8)),
        Arc::default(),
    ));
    let started = tokio::time::Instant::now();
    status_rx.wait_for(|s| s.errors == 1).await.unwrap();
    let status = shared.status();
    assert_eq!(
        status.last_error.unwrap().message(),
        "service `prod/web` has at least 2 endpointslices in its watch, more than the limit of 1"
    );
    assert_eq!(
        shared.addrs().unwrap(),
        ["10.0.0.1:80"],
        "the last good set"
    );
    status_rx.wait_for(|s| s.errors == 2).await.unwrap();
    assert!(
        shared
            .status()
            .last_error
            .unwrap()
            .message()
            .contains("at least 2 endpointslices in its list")
    );
    assert_eq!(shared.addrs().unwrap(), ["10.0.0.1:80"]);
    watched.await.unwrap();
    // Two waits: the first step (0.5 s to 1 s, after the list reset it) and the doubled one
    // (1 s to 2 s, since a list past the limit is no progress).
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited <= Duration::from_secs(3),
        "{waited:?}"
    );
    let status = shared.status();
    assert_eq!((status.lists, status.errors, status.slices), (2, 2, 1));
    assert_eq!(
        shared.addrs().unwrap(),
        ["10.0.0.2:80"],
        "the list under the limit replaced the set"
    );
}
