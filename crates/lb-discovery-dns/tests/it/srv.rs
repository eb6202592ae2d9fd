//! SRV discovery: records added, removed and reweighted; priorities; targets; limits.

use std::net::Ipv4Addr;

use lb_core::{Backends, LoadBalancer, ServiceDiscovery};
use lb_discovery_dns::testing::{Fault, SrvSpec, TestDnsServer};
use lb_discovery_dns::{DnsError, IpFamily, PriorityPolicy, SrvTarget};

use crate::failover::Standby;
use crate::support::*;

const NAME: &str = "_http._tcp.svc.test.";

fn targets(server: &TestDnsServer) {
    for (i, name) in ["a.test.", "b.test.", "c.test.", "d.test."]
        .iter()
        .enumerate()
    {
        server.set_a(name, 30, [Ipv4Addr::new(127, 0, 0, i as u8 + 1)]);
    }
}

#[tokio::test(start_paused = true)]
async fn records_added_removed_and_reweighted_are_followed() {
    let server = server().await;
    targets(&server);
    server.set_srv(
        NAME,
        5,
        [
            SrvSpec::new(10, 10, 8001, "a.test."),
            SrvSpec::new(10, 20, 8002, "b.test."),
        ],
    );
    let dns = srv(&server, NAME).ip_family(IpFamily::V4).build().unwrap();
    let mut sub = dns.subscribe().unwrap();
    let first = dns.discover().await.unwrap();
    assert_eq!(
        weighted(&sorted(&first)),
        vec![("127.0.0.1:8001".into(), 10), ("127.0.0.2:8002".into(), 20)]
    );
    let meta = first.backends[0]
        .ext
        .get::<SrvTarget>()
        .expect("srv metadata");
    assert_eq!(
        (meta.target.as_str(), meta.priority, meta.weight),
        ("a.test.", 10, 10)
    );
    assert_eq!(
        dns.monitor().stats().refresh_interval,
        Some(5 * S),
        "srv ttl 5 < target ttl 30"
    );
    next_change(&mut sub).await;

    // Reweighted.
    server.set_srv(
        NAME,
        5,
        [
            SrvSpec::new(10, 10, 8001, "a.test."),
            SrvSpec::new(10, 5, 8002, "b.test."),
        ],
    );
    next_change(&mut sub).await;
    assert_eq!(
        weighted(&sorted(&dns.discover().await.unwrap())),
        vec![("127.0.0.1:8001".into(), 10), ("127.0.0.2:8002".into(), 5)]
    );

    // Added and removed at once.
    server.set_srv(
        NAME,
        5,
        [
            SrvSpec::new(10, 5, 8002, "b.test."),
            SrvSpec::new(10, 7, 8003, "c.test."),
        ],
    );
    next_change(&mut sub).await;
    assert_eq!(
        weighted(&sorted(&dns.discover().await.unwrap())),
        vec![("127.0.0.2:8002".into(), 5), ("127.0.0.3:8003".into(), 7)]
    );

    // A target's address changes: the TTL of the target's records drives that refresh too.
    server.set_a("c.test.", 30, [Ipv4Addr::new(127, 0, 0, 9)]);
    next_change(&mut sub).await;
    assert_eq!(
        addrs(&sorted(&dns.discover().await.unwrap())),
        ["127.0.0.2:8002", "127.0.0.9:8003"]
    );
}

#[tokio::test(start_paused = true)]
async fn priorities_map_to_levels_and_weight_zero_to_one() {
    let server = server().await;
    targets(&server);
    server.set_srv(
        NAME,
        30,
        [
            SrvSpec::new(10, 0, 80, "a.test."),
            SrvSpec::new(10, 0, 80, "b.test."),
            SrvSpec::new(20, 50, 80, "c.test."),
            SrvSpec::new(30, 60, 80, "d.test."),
        ],
    );
    let build = |policy| {
        srv(&server, NAME)
            .ip_family(IpFamily::V4)
            .priority_policy(policy)
            .build()
            .unwrap()
    };
    let failover = build(PriorityPolicy::Failover).discover().await.unwrap();
    assert_eq!(
        weighted(&sorted(&failover)),
        vec![
            ("127.0.0.1:80".into(), 1),
            ("127.0.0.2:80".into(), 1),
            ("127.0.0.3:80".into(), 50),
            ("127.0.0.4:80".into(), 60)
        ]
    );
    let levels: Vec<u32> = sorted(&failover)
        .iter()
        .map(|b| b.ext.get::<lb_core::Priority>().unwrap().0)
        .collect();
    assert_eq!(levels, [10, 10, 20, 30]);
    let lowest = build(PriorityPolicy::LowestOnly).discover().await.unwrap();
    assert_eq!(addrs(&sorted(&lowest)), ["127.0.0.1:80", "127.0.0.2:80"]);
    let ignore = build(PriorityPolicy::Ignore).discover().await.unwrap();
    assert_eq!(
        weighted(&sorted(&ignore))
            .into_iter()
            .map(|(_, w)| w)
            .collect::<Vec<_>>(),
        [1, 1, 50, 60]
    );

    // When the whole priority-10 group stops resolving, priority 20 becomes the lowest: with
    // LowestOnly it is what is published.
    let dns = build(PriorityPolicy::LowestOnly);
    let mut sub = dns.subscribe().unwrap();
    dns.discover().await.unwrap();
    next_change(&mut sub).await;
    server.remove("a.test.");
    server.remove("b.test.");
    next_change(&mut sub).await;
    assert_eq!(
        weighted(&sorted(&dns.discover().await.unwrap())),
        vec![("127.0.0.3:80".into(), 50)]
    );
    assert_eq!(dns.monitor().stats().unresolved_targets, 2);
}

#[tokio::test(start_paused = true)]
async fn additional_section_addresses_save_the_target_queries() {
    let server = server().await;
    targets(&server);
    server.set_srv(
        NAME,
        30,
        [
            SrvSpec::new(10, 1, 80, "a.test."),
            SrvSpec::new(10, 1, 80, "b.test."),
        ],
    );
    let plain = srv(&server, NAME).ip_family(IpFamily::V4).build().unwrap();
    assert_eq!(plain.discover().await.unwrap().backends.len(), 2);
    assert_eq!(server.queries(), 3, "one srv query and one per target");

    server.set_srv_additionals(true);
    let glued = srv(&server, NAME).build().unwrap();
    let answer = glued.discover().await.unwrap();
    assert_eq!(addrs(&sorted(&answer)), ["127.0.0.1:80", "127.0.0.2:80"]);
    assert_eq!(server.queries(), 4, "the srv answer carried the addresses");
}

#[tokio::test(start_paused = true)]
async fn targets_that_do_not_resolve_are_left_out() {
    let server = server().await;
    targets(&server);
    server.set_srv(
        NAME,
        30,
        [
            SrvSpec::new(10, 1, 80, "a.test."),
            SrvSpec::new(10, 1, 80, "nowhere.test."),
        ],
    );
    let dns = srv(&server, NAME).ip_family(IpFamily::V4).build().unwrap();
    assert_eq!(
        addrs(&dns.discover().await.unwrap().backends),
        ["127.0.0.1:80"]
    );
    let stats = dns.monitor().stats();
    assert_eq!(stats.unresolved_targets, 1);
    assert!(
        stats.last_error.is_none(),
        "a missing target is not a failure"
    );

    server.set_srv(NAME, 30, [SrvSpec::new(10, 1, 80, "nowhere.test.")]);
    let none = srv(&server, NAME).ip_family(IpFamily::V4).build().unwrap();
    let e = none.discover().await.unwrap_err();
    assert!(
        matches!(dns_error(&e), DnsError::NoUsableTargets { targets: 1, .. }),
        "{e}"
    );
    assert!(dns_error(&e).is_negative());
}

#[tokio::test(start_paused = true)]
async fn port_zero_and_no_service_records() {
    let server = server().await;
    targets(&server);
    server.set_srv(
        NAME,
        30,
        [
            SrvSpec::new(10, 1, 0, "a.test."),
            SrvSpec::new(10, 1, 80, "b.test."),
        ],
    );
    let dns = srv(&server, NAME).ip_family(IpFamily::V4).build().unwrap();
    assert_eq!(
        addrs(&dns.discover().await.unwrap().backends),
        ["127.0.0.2:80"]
    );
    assert_eq!(dns.monitor().stats().dropped_records, 1);

    server.set_srv(NAME, 30, [SrvSpec::new(0, 0, 0, ".")]);
    let none = srv(&server, NAME).build().unwrap();
    let e = none.discover().await.unwrap_err();
    assert!(
        matches!(
            dns_error(&e),
            DnsError::NoRecords {
                record_type: "SRV",
                ..
            }
        ),
        "{e}"
    );
}

#[tokio::test(start_paused = true)]
async fn thousands_of_srv_records_are_capped_deterministically() {
    let server = server().await;
    targets(&server);
    // 1,300 records of one target (about 60 KB, within DNS's 64 KiB message limit, so the
    // answer comes over TCP after a truncated UDP answer): ports 1..=1300, weight = port.
    server.set_srv(
        NAME,
        30,
        (1..=1300u16).map(|port| SrvSpec::new(10, port, port, "a.test.")),
    );
    let dns = srv(&server, NAME).ip_family(IpFamily::V4).build().unwrap();
    let answer = dns.discover().await.unwrap();
    assert_eq!(answer.backends.len(), 1000);
    // Weight descending within a priority: the heaviest 1,000 (ports 301..=1300) are kept.
    let mut ports: Vec<u16> = answer
        .backends
        .iter()
        .filter_map(|b| b.addr.port())
        .collect();
    ports.sort_unstable();
    assert_eq!((ports[0], ports[999]), (301, 1300));
    assert_eq!(dns.monitor().stats().dropped_records, 300);
    assert_eq!(
        server.queries(),
        3,
        "the srv query over udp, again over tcp, and one target query"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_target_keeps_its_previous_addresses() {
    let server = server().await;
    targets(&server);
    server.set_srv(
        NAME,
        30,
        [
            SrvSpec::new(10, 1, 80, "a.test."),
            SrvSpec::new(10, 1, 80, "b.test."),
        ],
    );
    let dns = srv(&server, NAME).ip_family(IpFamily::V4).build().unwrap();
    let monitor = dns.monitor();
    let before = sorted(&dns.discover().await.unwrap());
    server.set_fault("b.test.", Some(Fault::ServFail));
    monitor.wait_for_refreshes(2).await;
    let stats = monitor.stats();
    assert_eq!(stats.failures, 1);
    assert_eq!(stats.unresolved_targets, 1);
    assert_eq!(
        stats.refresh_interval,
        Some(S),
        "a partial answer retries at the backoff"
    );
    assert_eq!(
        addrs(&monitor.backends().unwrap()),
        addrs(&before),
        "b.test. keeps its address"
    );
    assert_eq!(stats.changes, 1);
}

#[tokio::test(start_paused = true)]
async fn an_unchanged_thousand_record_answer_publishes_nothing_and_one_change_is_a_delta() {
    let server = server().await;
    targets(&server);
    let records = |last_weight: u16| {
        (1..=1000u16).map(move |port| {
            let weight = if port == 1000 { last_weight } else { 1 };
            SrvSpec::new(10, weight, port, "a.test.")
        })
    };
    server.set_srv(NAME, 30, records(1));
    let dns = srv(&server, NAME).ip_family(IpFamily::V4).build().unwrap();
    let monitor = dns.monitor();
    let lb = LoadBalancer::<Standby>::from_backends(Backends::new(Box::new(dns)));
    lb.update().await.unwrap();
    assert_eq!(lb.backends().get_backend().len(), 1000);
    let published = lb.stats().published;

    // The TTL runs out and the same answer comes back: the load balancer, polling, is told
    // nothing changed and publishes nothing.
    let refreshes = monitor.stats().refreshes;
    monitor.wait_for_refreshes(refreshes + 1).await;
    lb.update().await.unwrap();
    assert_eq!(lb.stats().published, published);

    // One record's weight changes: a one-backend delta is published.
    let mut changes = monitor.subscribe();
    server.set_srv(NAME, 30, records(7));
    next_change(&mut changes).await;
    lb.update().await.unwrap();
    assert_eq!(lb.stats().published, published + 1);
    let set = lb.backends().get_backend();
    let changed = set.iter().find(|b| b.addr.port() == Some(1000)).unwrap();
    assert_eq!(changed.weight, 7);
}
