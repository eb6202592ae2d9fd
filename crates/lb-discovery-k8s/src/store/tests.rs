use std::collections::BTreeMap;

use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

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
    let mut store = Store::new("web".into(), Port::Only);
    assert!(!store.apply(Event::Init));
    for s in slices {
        assert!(!store.apply(Event::InitApply(s.clone())));
    }
    assert!(store.apply(Event::InitDone));
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
    assert!(store.apply(Event::Apply(slice("web-b", &[("10.0.0.2", true)]))));
    assert_eq!(view(&store).len(), 2);
    assert!(store.apply(Event::Apply(slice("web-a", &[("10.0.0.9", false)]))));
    let addrs: Vec<_> = view(&store).into_iter().map(|v| v.0).collect();
    assert_eq!(
        addrs,
        ["10.0.0.2:80", "10.0.0.9:80"],
        "a modified slice replaces its old entries"
    );
    assert!(store.apply(Event::Delete(slice("web-b", &[]))));
    assert!(store.apply(Event::Delete(slice("web-a", &[]))));
    assert!(
        view(&store).is_empty(),
        "deleting every slice empties the set"
    );
    assert!(
        store.apply(Event::Delete(slice("never-seen", &[]))),
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
    assert!(!store.apply(Event::Init));
    assert!(!store.apply(Event::InitApply(slice("web-c", &[("10.0.0.3", true)]))));
    assert_eq!(view(&store), before, "half a re-list is never visible");
    // A list that fails half-way starts over with a new Init: the partial buffer is dropped.
    assert!(!store.apply(Event::Init));
    assert!(!store.apply(Event::InitApply(slice("web-d", &[("10.0.0.4", true)]))));
    assert!(store.apply(Event::InitDone));
    let addrs: Vec<_> = view(&store).into_iter().map(|v| v.0).collect();
    assert_eq!(
        addrs,
        ["10.0.0.4:80"],
        "slices missing from the re-list are gone"
    );
}

#[test]
fn nothing_is_publishable_before_the_first_list() {
    let mut store = Store::new("web".into(), Port::Only);
    assert!(!store.is_listed());
    assert!(!store.apply(Event::Init));
    assert!(!store.apply(Event::InitApply(slice("web-a", &[("10.0.0.1", true)]))));
    assert!(!store.is_listed());
    assert!(store.apply(Event::InitDone));
    assert!(store.is_listed());
    let empty = listed(&[]);
    assert!(
        empty.merged().is_empty(),
        "a service without endpoints lists as an empty set"
    );
}
