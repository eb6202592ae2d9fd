//! Zone-aware routing end to end: a Service whose EndpointSlices span three zones, served by
//! the fake API, followed by a load balancer in zone a.

use std::collections::HashMap;

use k8s_openapi::api::discovery::v1::{EndpointHints, ForZone};
use lb_core::{Backends, Enablement, LoadBalancer, Zone, ZoneRouting};

use crate::fake_api::FakeApi;
use crate::load_balancer::InOrder;
use crate::support::*;

const ZONES: [&str; 3] = ["zone-a", "zone-b", "zone-c"];

/// Zone `z`'s slice: ten endpoints at 10.0.z.1..10, the first `not_ready` of them failing their
/// readiness probe, each hinted for `hint(i)` when given.
fn zone_slice(
    z: usize,
    not_ready: usize,
    hint: Option<&dyn Fn(usize) -> &'static str>,
) -> k8s_openapi::api::discovery::v1::EndpointSlice {
    let endpoints = (0..10)
        .map(|i| {
            let ip = format!("10.0.{}.{}", z + 1, i + 1);
            let mut e = endpoint(&ip, if i < not_ready { NOT_READY } else { READY });
            e.zone = Some(ZONES[z].into());
            if let Some(hint) = hint {
                e.hints = Some(EndpointHints {
                    for_zones: Some(vec![ForZone {
                        name: hint(i).into(),
                    }]),
                    ..EndpointHints::default()
                });
            }
            e
        })
        .collect();
    slice(&format!("web-{}", ZONES[z]), "web", "IPv4", endpoints)
}

/// Every endpoint's address and enablement with zone a's first `not_ready` not ready.
fn expected(not_ready: usize) -> Vec<(String, Enablement)> {
    (0..3)
        .flat_map(|z| {
            (0..10).map(move |i| {
                let state = if z == 0 && i < not_ready {
                    Enablement::Disabled
                } else {
                    Enablement::Enabled
                };
                (format!("10.0.{}.{}:8080", z + 1, i + 1), state)
            })
        })
        .collect()
}

fn borrowed(v: &[(String, Enablement)]) -> Vec<(&str, Enablement)> {
    v.iter().map(|(a, e)| (a.as_str(), *e)).collect()
}

/// The share of `n` selects per zone.
fn zone_shares(lb: &LoadBalancer<InOrder>, n: usize) -> HashMap<String, f64> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..n {
        let pick = lb.select(b"").expect("a backend");
        *counts
            .entry(pick.ext.get::<Zone>().expect("zone").to_string())
            .or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(z, c)| (z, c as f64 / n as f64))
        .collect()
}

#[tokio::test]
async fn a_load_balancer_in_zone_a_stays_in_zone_a_and_spills_when_half_of_it_is_not_ready() {
    let api = FakeApi::start().await;
    for z in 0..3 {
        api.apply(zone_slice(z, 0, None));
    }
    let all = expected(0);
    let (discovery, mut changes) = following(&api, builder(&api), &borrowed(&all)).await;
    let lb = LoadBalancer::<InOrder>::from_backends(Backends::new(Box::new(discovery.clone())));
    lb.set_zone_routing(Some(ZoneRouting::new("zone-a")))
        .unwrap();
    lb.update().await.unwrap();
    assert_eq!(lb.backends().get_backend().len(), 30);

    let s = zone_shares(&lb, 3_000);
    assert_eq!(s.get("zone-a"), Some(&1.0), "{s:?}");
    let stats = lb.stats();
    assert_eq!((stats.routed_local, stats.routed_cross_zone), (3_000, 0));

    // Half of zone a fails its readiness probe: the EndpointSlice controller marks it not
    // ready, the watch delivers it, and the update publishes it disabled. Zone a now has 20 %
    // of the ready weight for a third of the callers: 60 % stays, and zones b and c, with equal
    // spare capacity, take 20 % each.
    api.apply(zone_slice(0, 5, None));
    let half = expected(5);
    wait_set(&discovery, &mut changes, &borrowed(&half)).await;
    lb.update().await.unwrap();
    let s = zone_shares(&lb, 30_000);
    assert!((s["zone-a"] - 0.60).abs() < 0.012, "{s:?}");
    assert!((s["zone-b"] - 0.20).abs() < 0.012, "{s:?}");
    assert!((s["zone-c"] - 0.20).abs() < 0.012, "{s:?}");
    let after = lb.stats();
    let cross = (after.routed_cross_zone - stats.routed_cross_zone) as f64 / 30_000.0;
    assert!((cross - 0.40).abs() < 0.012, "{after:?}");

    // Zone a recovers: everything is local again.
    api.apply(zone_slice(0, 0, None));
    wait_set(&discovery, &mut changes, &borrowed(&all)).await;
    lb.update().await.unwrap();
    assert_eq!(zone_shares(&lb, 3_000).get("zone-a"), Some(&1.0));
}

#[tokio::test]
async fn topology_hints_on_every_endpoint_decide_as_kube_proxy_does() {
    let api = FakeApi::start().await;
    // The controller gave zone a two of zone b's endpoints (a has less capacity than its share).
    let b_hints = |i: usize| if i < 2 { "zone-a" } else { "zone-b" };
    api.apply(zone_slice(0, 0, Some(&|_| "zone-a")));
    api.apply(zone_slice(1, 0, Some(&b_hints)));
    api.apply(zone_slice(2, 0, Some(&|_| "zone-c")));
    let all = expected(0);
    let (discovery, mut changes) = following(&api, builder(&api), &borrowed(&all)).await;
    let lb = LoadBalancer::<InOrder>::from_backends(Backends::new(Box::new(discovery.clone())));
    lb.set_zone_routing(Some(ZoneRouting::new("zone-a")))
        .unwrap();
    lb.update().await.unwrap();
    let picked = |lb: &LoadBalancer<InOrder>| {
        (0..2_000)
            .map(|_| lb.select(b"").unwrap().addr.to_string())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(
        picked(&lb).into_iter().collect::<Vec<_>>(),
        ["10.0.1.1:8080"]
    );
    // All of zone a's own endpoints not ready: the two of zone b hinted for zone a serve it,
    // and nothing else (kube-proxy would do the same; Envoy's shares would spill to c too).
    api.apply(zone_slice(0, 10, Some(&|_| "zone-a")));
    wait_set(&discovery, &mut changes, &borrowed(&expected(10))).await;
    lb.update().await.unwrap();
    assert_eq!(
        picked(&lb).into_iter().collect::<Vec<_>>(),
        ["10.0.2.1:8080"]
    );
    let stats = lb.stats();
    assert_eq!(
        stats.routed_cross_zone, 0,
        "hinted for zone a counts as local"
    );
}
