use std::collections::BTreeMap;

use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use lb_core::Enablement;

use super::*;
use crate::slice::SERVICE_NAME_LABEL;

fn slice(name: &str, endpoints: &[(&str, bool)]) -> EndpointSlice {
    EndpointSlice {
        address_type: "IPv4".into(),
        endpoints: endpoints
            .iter()
            .map(|(ip, ready)| Endpoint {
                addresses: vec![ip.to_string()],
                conditions: Some(EndpointConditions {
                    ready: Some(*ready),
                    serving: Some(*ready),
                    terminating: Some(false),
                }),
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

fn view(store: &Store) -> Vec<(String, Enablement, String)> {
    store
        .merged()
        .into_iter()
        .map(|e| (e.addr.to_string(), e.enablement, e.meta.slice))
        .collect()
}

fn listed(slices: &[EndpointSlice]) -> Store {
    listed_within(
        Store::new("web".into(), Port::Only, Limits::default()),
        slices,
    )
}

/// `store` after a first list of `slices`.
fn listed_within(mut store: Store, slices: &[EndpointSlice]) -> Store {
    assert!(store.apply(Event::Init).unwrap().is_none());
    for s in slices {
        assert!(store.apply(Event::InitApply(s.clone())).unwrap().is_none());
    }
    assert!(store.apply(Event::InitDone).unwrap().is_some());
    store
}

#[test]
fn slices_are_merged_and_sorted_by_address() {
    let store = listed(&[
        slice("web-b", &[("10.0.0.3", true), ("10.0.0.1", true)]),
        slice("web-a", &[("10.0.0.2", false)]),
    ]);
    assert!(store.is_listed());
    assert_eq!(store.slice_count(), 2);
    assert_eq!(
        view(&store),
        [
            ("10.0.0.1:80".into(), Enablement::Enabled, "web-b".into()),
            ("10.0.0.2:80".into(), Enablement::Disabled, "web-a".into()),
            ("10.0.0.3:80".into(), Enablement::Enabled, "web-b".into()),
        ]
    );
}

#[test]
fn an_address_in_two_slices_appears_once_with_its_most_available_state() {
    let store = listed(&[
        slice("web-a", &[("10.0.0.1", false)]),
        slice("web-b", &[("10.0.0.1", true)]),
    ]);
    assert_eq!(
        view(&store),
        [("10.0.0.1:80".into(), Enablement::Enabled, "web-b".into())]
    );
    let tie = listed(&[
        slice("web-b", &[("10.0.0.1", true)]),
        slice("web-a", &[("10.0.0.1", true)]),
    ]);
    assert_eq!(
        view(&tie)[0].2,
        "web-a",
        "on a tie the first slice by name wins"
    );
}

#[test]
fn watch_events_update_replace_and_delete_slices() {
    let mut store = listed(&[slice("web-a", &[("10.0.0.1", true)])]);
    assert!(
        store
            .apply(Event::Apply(slice("web-b", &[("10.0.0.2", true)])))
            .unwrap()
            .is_some()
    );
    assert_eq!(view(&store).len(), 2);
    assert!(
        store
            .apply(Event::Apply(slice("web-a", &[("10.0.0.9", false)])))
            .unwrap()
            .is_some()
    );
    let addrs: Vec<_> = view(&store).into_iter().map(|v| v.0).collect();
    assert_eq!(
        addrs,
        ["10.0.0.2:80", "10.0.0.9:80"],
        "a modified slice replaces its old entries"
    );
    assert!(
        store
            .apply(Event::Delete(slice("web-b", &[])))
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .apply(Event::Delete(slice("web-a", &[])))
            .unwrap()
            .is_some()
    );
    assert!(
        view(&store).is_empty(),
        "deleting every slice empties the set"
    );
    assert!(
        store
            .apply(Event::Delete(slice("never-seen", &[])))
            .unwrap()
            .is_some(),
        "unknown deletes are harmless"
    );
}

#[test]
fn a_relist_replaces_the_view_only_when_it_completes() {
    let mut store = listed(&[
        slice("web-a", &[("10.0.0.1", true)]),
        slice("web-b", &[("10.0.0.2", true)]),
    ]);
    let before = view(&store);
    assert!(store.apply(Event::Init).unwrap().is_none());
    assert!(
        store
            .apply(Event::InitApply(slice("web-c", &[("10.0.0.3", true)])))
            .unwrap()
            .is_none()
    );
    assert_eq!(view(&store), before, "half a re-list is never visible");
    // A list that fails half-way starts over with a new Init: the partial buffer is dropped.
    assert!(store.apply(Event::Init).unwrap().is_none());
    assert!(
        store
            .apply(Event::InitApply(slice("web-d", &[("10.0.0.4", true)])))
            .unwrap()
            .is_none()
    );
    assert!(store.apply(Event::InitDone).unwrap().is_some());
    let addrs: Vec<_> = view(&store).into_iter().map(|v| v.0).collect();
    assert_eq!(
        addrs,
        ["10.0.0.4:80"],
        "slices missing from the re-list are gone"
    );
}

#[test]
fn nothing_is_publishable_before_the_first_list() {
    let mut store = Store::new("web".into(), Port::Only, Limits::default());
    assert!(!store.is_listed());
    assert!(store.apply(Event::Init).unwrap().is_none());
    assert!(
        store
            .apply(Event::InitApply(slice("web-a", &[("10.0.0.1", true)])))
            .unwrap()
            .is_none()
    );
    assert!(!store.is_listed());
    assert!(store.apply(Event::InitDone).unwrap().is_some());
    assert!(store.is_listed());
    let empty = listed(&[]);
    assert!(
        empty.merged().is_empty(),
        "a service without endpoints lists as an empty set"
    );
}

#[test]
fn a_new_slice_past_the_limit_is_refused_and_the_view_kept() {
    let mut store = Store::new("web".into(), Port::Only, Limits::default().max_slices(2));
    for event in [
        Event::Init,
        Event::InitApply(slice("web-a", &[("10.0.0.1", true)])),
        Event::InitApply(slice("web-b", &[("10.0.0.2", true)])),
    ] {
        assert!(store.apply(event).unwrap().is_none());
    }
    assert!(store.apply(Event::InitDone).unwrap().is_some());
    // At the limit, a slice it holds may still change; a new one may not.
    assert!(
        store
            .apply(Event::Apply(slice("web-a", &[("10.0.0.9", true)])))
            .unwrap()
            .is_some()
    );
    let before = view(&store);
    assert_eq!(
        store.apply(Event::Apply(slice("web-c", &[("10.0.0.3", true)]))),
        Err(Refused::Slices {
            count: 3,
            limit: 2,
            during: "watch"
        })
    );
    assert_eq!(view(&store), before, "the last good view is kept");
    assert_eq!(store.slice_count(), 2);
    // A deletion makes room.
    assert!(
        store
            .apply(Event::Delete(slice("web-b", &[])))
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .apply(Event::Apply(slice("web-c", &[("10.0.0.3", true)])))
            .unwrap()
            .is_some()
    );
    let addrs: Vec<_> = view(&store).into_iter().map(|v| v.0).collect();
    assert_eq!(addrs, ["10.0.0.3:80", "10.0.0.9:80"]);
}

#[test]
fn a_list_past_the_limit_is_dropped_whole() {
    let mut store = Store::new("web".into(), Port::Only, Limits::default().max_slices(2));
    for event in [
        Event::Init,
        Event::InitApply(slice("web-a", &[("10.0.0.1", true)])),
        Event::InitApply(slice("web-b", &[("10.0.0.2", true)])),
    ] {
        assert!(store.apply(event).unwrap().is_none());
    }
    assert!(store.apply(Event::InitDone).unwrap().is_some());
    let before = view(&store);

    assert!(store.apply(Event::Init).unwrap().is_none());
    for name in ["web-c", "web-d", "web-c"] {
        // A name seen again in the same list replaces its slice: it is not counted twice.
        assert!(
            store
                .apply(Event::InitApply(slice(name, &[("10.0.0.3", true)])))
                .unwrap()
                .is_none()
        );
    }
    assert_eq!(
        store.apply(Event::InitApply(slice("web-e", &[("10.0.0.5", true)]))),
        Err(Refused::Slices {
            count: 3,
            limit: 2,
            during: "list"
        })
    );
    assert_eq!(
        view(&store),
        before,
        "a list past the limit is never visible"
    );
    // Were the rest of that list to come, it has lost its first pages: it is ignored, never
    // published as a truncated set.
    assert!(
        store
            .apply(Event::InitApply(slice("web-f", &[("10.0.0.6", true)])))
            .unwrap()
            .is_none()
    );
    assert!(store.apply(Event::InitDone).unwrap().is_none());
    assert_eq!(view(&store), before);
    assert_eq!(store.slice_count(), 2);

    // A new list under the limit replaces the view.
    assert!(store.apply(Event::Init).unwrap().is_none());
    assert!(
        store
            .apply(Event::InitApply(slice("web-g", &[("10.0.0.7", true)])))
            .unwrap()
            .is_none()
    );
    assert!(store.apply(Event::InitDone).unwrap().is_some());
    let addrs: Vec<_> = view(&store).into_iter().map(|v| v.0).collect();
    assert_eq!(addrs, ["10.0.0.7:80"]);
}

#[test]
fn a_limit_of_zero_admits_only_a_service_without_slices() {
    let mut store = Store::new("web".into(), Port::Only, Limits::default().max_slices(0));
    assert!(store.apply(Event::Init).unwrap().is_none());
    assert!(store.apply(Event::InitDone).unwrap().is_some());
    assert!(store.merged().is_empty());
    assert_eq!(
        store.apply(Event::Apply(slice("web-a", &[("10.0.0.1", true)]))),
        Err(Refused::Slices {
            count: 1,
            limit: 0,
            during: "watch"
        })
    );
}

/// A slice of `web` with `n` ready endpoints of one address each, from 10.1.0.1 on.
fn wide(name: &str, n: usize) -> EndpointSlice {
    let ips: Vec<String> = (0..n)
        .map(|i| format!("10.1.{}.{}", i / 250, i % 250 + 1))
        .collect();
    let pairs: Vec<(&str, bool)> = ips.iter().map(|ip| (ip.as_str(), true)).collect();
    slice(name, &pairs)
}

fn max_backends(n: usize) -> Store {
    Store::new("web".into(), Port::Only, Limits::default().max_backends(n))
}

#[test]
fn a_watch_event_past_the_backend_limit_is_refused_and_the_view_kept() {
    let mut store = max_backends(3);
    for event in [
        Event::Init,
        Event::InitApply(slice("web-a", &[("10.0.0.1", true), ("10.0.0.2", true)])),
        Event::InitApply(slice("web-b", &[("10.0.0.3", true)])),
    ] {
        assert!(store.apply(event).unwrap().is_none());
    }
    assert!(store.apply(Event::InitDone).unwrap().is_some());
    assert_eq!(store.backend_count(), 3);
    // At the limit, a slice may change as long as the total stays within it: it is counted
    // less what it replaces.
    assert!(
        store
            .apply(Event::Apply(slice(
                "web-a",
                &[("10.0.0.8", true), ("10.0.0.9", true)]
            )))
            .unwrap()
            .is_some()
    );
    let before = view(&store);
    assert_eq!(
        store.apply(Event::Apply(slice(
            "web-b",
            &[("10.0.0.3", true), ("10.0.0.4", true)]
        ))),
        Err(Refused::Backends {
            count: 4,
            limit: 3,
            during: "watch"
        })
    );
    assert_eq!(
        store.apply(Event::Apply(slice("web-c", &[("10.0.0.5", true)]))),
        Err(Refused::Backends {
            count: 4,
            limit: 3,
            during: "watch"
        }),
        "a new slice counts in full"
    );
    assert_eq!(view(&store), before, "the last good view is kept");
    assert_eq!((store.slice_count(), store.backend_count()), (2, 3));
    // A deletion makes room, by exactly what the deleted slice held.
    assert!(
        store
            .apply(Event::Delete(slice("web-a", &[])))
            .unwrap()
            .is_some()
    );
    assert_eq!(store.backend_count(), 1);
    assert!(
        store
            .apply(Event::Apply(slice(
                "web-b",
                &[("10.0.0.3", true), ("10.0.0.4", true)]
            )))
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .apply(Event::Apply(slice("web-c", &[("10.0.0.5", true)])))
            .unwrap()
            .is_some()
    );
    let addrs: Vec<_> = view(&store).into_iter().map(|v| v.0).collect();
    assert_eq!(addrs, ["10.0.0.3:80", "10.0.0.4:80", "10.0.0.5:80"]);
}

#[test]
fn a_list_whose_pages_add_up_past_the_backend_limit_is_dropped_whole() {
    let mut store = listed_within(max_backends(3), &[slice("web-a", &[("10.0.0.1", true)])]);
    let before = view(&store);
    assert!(store.apply(Event::Init).unwrap().is_none());
    // The same name twice in a list replaces its slice: its backends are not counted twice.
    for s in [
        slice("web-b", &[("10.0.0.2", true), ("10.0.0.3", true)]),
        slice("web-b", &[("10.0.0.2", true), ("10.0.0.3", true)]),
    ] {
        assert!(store.apply(Event::InitApply(s)).unwrap().is_none());
    }
    assert_eq!(
        store.apply(Event::InitApply(slice(
            "web-c",
            &[("10.0.0.4", true), ("10.0.0.5", true)]
        ))),
        Err(Refused::Backends {
            count: 4,
            limit: 3,
            during: "list"
        })
    );
    assert_eq!(
        view(&store),
        before,
        "a list past the limit is never visible"
    );
    // The rest of that list is ignored, never published as a truncated set.
    assert!(
        store
            .apply(Event::InitApply(slice("web-d", &[("10.0.0.6", true)])))
            .unwrap()
            .is_none()
    );
    assert!(store.apply(Event::InitDone).unwrap().is_none());
    assert_eq!(view(&store), before);
    assert_eq!(store.backend_count(), 1);
}

#[test]
fn only_backends_are_counted_not_endpoints_that_contribute_nothing() {
    let mut store = max_backends(1);
    let mut other = slice("other-a", &[("10.0.0.1", true), ("10.0.0.2", true)]);
    other.metadata.labels = Some(BTreeMap::from([(
        SERVICE_NAME_LABEL.to_owned(),
        "other".to_owned(),
    )]));
    let mut bad_ips = slice("web-a", &[("10.0.0.3", true)]);
    bad_ips.endpoints.push(Endpoint {
        addresses: vec!["not-an-ip".into(), "also.not".into()],
        ..Endpoint::default()
    });
    for event in [
        Event::Init,
        Event::InitApply(other),
        Event::InitApply(bad_ips),
    ] {
        assert!(store.apply(event).unwrap().is_none());
    }
    assert!(store.apply(Event::InitDone).unwrap().is_some());
    assert_eq!((store.slice_count(), store.backend_count()), (2, 1));
}

#[test]
fn a_limit_of_zero_backends_admits_only_slices_without_backends() {
    let mut store = listed_within(max_backends(0), &[slice("web-a", &[])]);
    assert!(store.merged().is_empty());
    assert_eq!(
        store.apply(Event::Apply(slice("web-b", &[("10.0.0.1", true)]))),
        Err(Refused::Backends {
            count: 1,
            limit: 0,
            during: "watch"
        })
    );
}

#[test]
fn a_slice_larger_than_the_api_allows_is_refused() {
    // Backends are not the bound here: the API's own limits on one slice are.
    let mut store = listed_within(
        Store::new("web".into(), Port::Only, Limits::default()),
        &[slice("web-a", &[("10.0.0.1", true)])],
    );
    let before = view(&store);
    assert_eq!(
        store.apply(Event::Apply(wide("web-b", MAX_ENDPOINTS + 1))),
        Err(Refused::SliceTooLarge {
            slice: "web-b".into(),
            what: "endpoints",
            count: 1001,
            limit: 1000,
            during: "watch"
        })
    );
    let mut many_addresses = slice("web-c", &[("10.0.0.1", true)]);
    many_addresses.endpoints[0].addresses = (0..=MAX_ADDRESSES)
        .map(|i| format!("10.2.0.{}", i + 1))
        .collect();
    assert_eq!(
        store.apply(Event::Apply(many_addresses)),
        Err(Refused::SliceTooLarge {
            slice: "web-c".into(),
            what: "addresses in one endpoint",
            count: 101,
            limit: 100,
            during: "watch"
        })
    );
    assert_eq!(view(&store), before, "the last good view is kept");
    // In a list, the slice drops the list.
    assert!(store.apply(Event::Init).unwrap().is_none());
    assert_eq!(
        store.apply(Event::InitApply(wide("web-b", 1001))),
        Err(Refused::SliceTooLarge {
            slice: "web-b".into(),
            what: "endpoints",
            count: 1001,
            limit: 1000,
            during: "list"
        })
    );
    assert!(store.apply(Event::InitDone).unwrap().is_none());
    assert_eq!(view(&store), before);
    // At the API's limits exactly, a slice is taken.
    let mut at_limit = wide("web-b", MAX_ENDPOINTS);
    at_limit.endpoints[0].addresses = (0..MAX_ADDRESSES)
        .map(|i| format!("10.2.0.{}", i + 1))
        .collect();
    assert!(store.apply(Event::Apply(at_limit)).unwrap().is_some());
    assert_eq!(store.backend_count(), 1 + MAX_ENDPOINTS - 1 + MAX_ADDRESSES);
}

#[test]
fn refusals_name_the_service_the_slice_and_the_limit() {
    let error = |r: Refused| r.into_error("prod".into(), "web".into()).to_string();
    assert_eq!(
        error(Refused::Backends {
            count: 4,
            limit: 3,
            during: "list"
        }),
        "service `prod/web` has at least 4 backends in its list, more than the limit of 3"
    );
    assert_eq!(
        error(Refused::SliceTooLarge {
            slice: "web-b".into(),
            what: "endpoints",
            count: 1001,
            limit: 1000,
            during: "watch"
        }),
        "endpointslice `web-b` in the watch of service `prod/web` has 1001 endpoints, more \
         than the 1000 the kubernetes api allows"
    );
}
