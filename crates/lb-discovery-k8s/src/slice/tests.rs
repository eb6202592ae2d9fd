use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::discovery::v1::{EndpointConditions, EndpointHints, ForZone};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;

fn port(name: &str, number: Option<i32>) -> EndpointPort {
    EndpointPort {
        name: Some(name.into()),
        port: number,
        protocol: Some("TCP".into()),
        ..EndpointPort::default()
    }
}

fn endpoint(addresses: &[&str]) -> Endpoint {
    Endpoint {
        addresses: addresses.iter().map(|a| a.to_string()).collect(),
        ..Endpoint::default()
    }
}

fn slice(
    service: &str,
    address_type: &str,
    ports: Vec<EndpointPort>,
    endpoints: Vec<Endpoint>,
) -> EndpointSlice {
    EndpointSlice {
        address_type: address_type.into(),
        endpoints,
        metadata: ObjectMeta {
            name: Some(format!("{service}-abc")),
            labels: Some(BTreeMap::from([(
                SERVICE_NAME_LABEL.to_owned(),
                service.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        ports: Some(ports),
    }
}

fn addrs(entries: &[Entry]) -> Vec<String> {
    entries.iter().map(|e| e.addr.to_string()).collect()
}

#[test]
fn every_address_of_every_endpoint_becomes_an_entry_on_the_selected_port() {
    let s = slice(
        "web",
        "IPv4",
        vec![port("http", Some(8080)), port("metrics", Some(9090))],
        vec![endpoint(&["10.0.0.1", "10.0.0.2"]), endpoint(&["10.0.0.3"])],
    );
    let by_name = entries(s.clone(), "web", &Port::name("metrics"));
    assert_eq!(
        addrs(&by_name),
        ["10.0.0.1:9090", "10.0.0.2:9090", "10.0.0.3:9090"]
    );
    let by_number = entries(s.clone(), "web", &Port::Number(8080));
    assert_eq!(
        addrs(&by_number),
        ["10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"]
    );
    assert!(
        entries(s.clone(), "web", &Port::Only).is_empty(),
        "two ports: `Only` is ambiguous"
    );
    assert!(
        entries(s.clone(), "web", &Port::name("grpc")).is_empty(),
        "no such port"
    );
    assert!(
        entries(s.clone(), "web", &Port::Number(80)).is_empty(),
        "no such number"
    );
}

#[test]
fn ipv6_slices_and_the_only_unnamed_port() {
    let s = slice(
        "web",
        "IPv6",
        vec![port("", Some(443))],
        vec![endpoint(&["fd00::1", "2001:db8::5"])],
    );
    assert_eq!(
        addrs(&entries(s.clone(), "web", &Port::Only)),
        ["[fd00::1]:443", "[2001:db8::5]:443"]
    );
    assert_eq!(
        addrs(&entries(s.clone(), "web", &Port::name(""))),
        ["[fd00::1]:443", "[2001:db8::5]:443"]
    );
}

#[test]
fn hostile_or_unusable_input_contributes_nothing_and_never_panics() {
    let eps = vec![endpoint(&[
        "10.0.0.1",
        "not-an-ip",
        "10.0.0.999",
        "",
        "10.0.0.2",
    ])];
    let good = slice("web", "IPv4", vec![port("http", Some(80))], eps.clone());
    assert_eq!(
        addrs(&entries(good.clone(), "web", &Port::Only)),
        ["10.0.0.1:80", "10.0.0.2:80"]
    );

    let other_service = slice("db", "IPv4", vec![port("http", Some(80))], eps.clone());
    assert!(entries(other_service.clone(), "web", &Port::Only).is_empty());
    let mut unlabelled = good.clone();
    unlabelled.metadata.labels = None;
    assert!(entries(unlabelled.clone(), "web", &Port::Only).is_empty());

    let fqdn = slice(
        "web",
        "FQDN",
        vec![port("http", Some(80))],
        vec![endpoint(&["example.com"])],
    );
    assert!(entries(fqdn.clone(), "web", &Port::Only).is_empty());

    for bad in [
        None,
        Some(0),
        Some(-1),
        Some(65536),
        Some(i32::MAX),
        Some(i32::MIN),
    ] {
        let s = slice("web", "IPv4", vec![port("http", bad)], eps.clone());
        assert!(
            entries(s.clone(), "web", &Port::Only).is_empty(),
            "port {bad:?}"
        );
    }
    let mut no_ports = good.clone();
    no_ports.ports = None;
    assert!(entries(no_ports.clone(), "web", &Port::Only).is_empty());
    let max = slice("web", "IPv4", vec![port("http", Some(65535))], eps);
    assert_eq!(
        addrs(&entries(max.clone(), "web", &Port::Only))[0],
        "10.0.0.1:65535"
    );
}

#[test]
fn conditions_and_metadata_are_kept_per_endpoint() {
    let mut ready = endpoint(&["10.0.0.1"]);
    ready.zone = Some("eu-west-1a".into());
    ready.node_name = Some("node-1".into());
    ready.hostname = Some("web-0".into());
    ready.target_ref = Some(ObjectReference {
        kind: Some("Pod".into()),
        name: Some("web-0".into()),
        namespace: Some("prod".into()),
        uid: Some("u-1".into()),
        ..ObjectReference::default()
    });
    ready.hints = Some(EndpointHints {
        for_zones: Some(vec![ForZone {
            name: "eu-west-1a".into(),
        }]),
        ..EndpointHints::default()
    });
    let mut leaving = endpoint(&["10.0.0.2"]);
    leaving.conditions = Some(EndpointConditions {
        ready: Some(false),
        serving: Some(true),
        terminating: Some(true),
    });
    let mut down = endpoint(&["10.0.0.3"]);
    down.conditions = Some(EndpointConditions {
        ready: Some(false),
        serving: Some(false),
        terminating: Some(false),
    });
    let s = slice(
        "web",
        "IPv4",
        vec![port("http", Some(80))],
        vec![ready, leaving, down],
    );
    let got = entries(s.clone(), "web", &Port::Only);
    let states: Vec<_> = got.iter().map(|e| e.enablement).collect();
    assert_eq!(
        states,
        [
            Enablement::Enabled,
            Enablement::Draining,
            Enablement::Disabled
        ]
    );
    let meta = &got[0].meta;
    assert_eq!(meta.zone.as_deref(), Some("eu-west-1a"));
    assert_eq!(meta.node_name.as_deref(), Some("node-1"));
    assert_eq!(meta.hostname.as_deref(), Some("web-0"));
    assert_eq!(meta.pod_name(), Some("web-0"));
    assert_eq!(
        meta.target.as_ref().and_then(|t| t.uid.as_deref()),
        Some("u-1")
    );
    assert_eq!(meta.for_zones, ["eu-west-1a"]);
    assert_eq!(meta.slice, "web-abc");
    assert_eq!(got[1].meta.zone, None);
}

#[test]
fn protocol_and_app_protocol_do_not_change_the_selected_port() {
    let mut udp = port("dns", Some(53));
    udp.protocol = Some("UDP".into());
    let mut tcp = port("dns-tcp", Some(53));
    tcp.app_protocol = Some("kubernetes.io/h2c".into());
    let s = slice(
        "web",
        "IPv4",
        vec![udp.clone(), tcp],
        vec![endpoint(&["10.0.0.1"])],
    );
    for by in [Port::name("dns"), Port::name("dns-tcp"), Port::Number(53)] {
        assert_eq!(
            addrs(&entries(s.clone(), "web", &by)),
            ["10.0.0.1:53"],
            "{by}"
        );
    }
    assert!(
        entries(s.clone(), "web", &Port::Only).is_empty(),
        "two ports"
    );
    let only_udp = slice("web", "IPv4", vec![udp], vec![endpoint(&["10.0.0.1"])]);
    assert_eq!(
        addrs(&entries(only_udp.clone(), "web", &Port::Only)),
        ["10.0.0.1:53"]
    );
}
