//! A/AAAA discovery: membership follows the zone as TTLs expire; families; transports; limits.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use lb_core::ServiceDiscovery;
use lb_discovery_dns::testing::{RecordKind, TestDnsServer};
use lb_discovery_dns::{FailureKind, IpFamily, Nameserver};
use tokio::time::Instant;

use crate::support::*;

fn v4(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

#[tokio::test(start_paused = true)]
async fn membership_follows_the_zone_when_the_ttl_expires() {
    let server = server().await;
    server.set_a("web.test.", 5, [v4(1), v4(2)]);
    let dns = host(&server, "web.test.", 8080)
        .ip_family(IpFamily::V4)
        .weight(3)
        .build()
        .unwrap();
    let monitor = dns.monitor();
    let mut sub = dns.subscribe().unwrap();
    let first = dns.discover().await.unwrap();
    assert_eq!(
        weighted(&sorted(&first)),
        vec![("127.0.0.1:8080".into(), 3), ("127.0.0.2:8080".into(), 3)]
    );
    assert_eq!(
        monitor.stats().refresh_interval,
        Some(5 * S),
        "the refresh follows the ttl"
    );
    next_change(&mut sub).await; // the first answer

    // Added: seen once the 5 s TTL has run out, not before.
    let edited = Instant::now();
    server.set_a("web.test.", 5, [v4(1), v4(2), v4(3)]);
    next_change(&mut sub).await;
    let waited = edited.elapsed();
    assert!(
        waited >= 5 * S && waited < 6 * S,
        "changed after {waited:?}"
    );
    assert_eq!(
        addrs(&sorted(&dns.discover().await.unwrap())),
        ["127.0.0.1:8080", "127.0.0.2:8080", "127.0.0.3:8080"]
    );

    // Removed.
    server.set_a("web.test.", 5, [v4(3)]);
    next_change(&mut sub).await;
    assert_eq!(
        addrs(&dns.discover().await.unwrap().backends),
        ["127.0.0.3:8080"]
    );
    assert_eq!(
        monitor.backends().map(|b| addrs(&b)),
        Some(vec!["127.0.0.3:8080".to_string()])
    );

    // Unchanged answers refresh but do not notify.
    let stats = monitor.stats();
    monitor.wait_for_refreshes(stats.refreshes + 3).await;
    assert!(
        !change_pending(&mut sub).await,
        "no signal for an unchanged answer"
    );
    let later = monitor.stats();
    assert_eq!(later.changes, stats.changes);
    assert_eq!(later.failures, 0);
}

#[tokio::test(start_paused = true)]
async fn ipv4_ipv6_or_both_from_a_server_on_ipv6_loopback() {
    let server = TestDnsServer::start_on(IpAddr::V6(Ipv6Addr::LOCALHOST))
        .await
        .expect("bind the test dns server on ::1");
    assert!(server.addr().is_ipv6());
    server.set_a("dual.test.", 30, [v4(7)]);
    server.set_aaaa("dual.test.", 30, [Ipv6Addr::LOCALHOST]);
    server.set_aaaa("six.test.", 30, [Ipv6Addr::LOCALHOST]);
    let family = |name: &str, family| host(&server, name, 443).ip_family(family).build().unwrap();

    let both = family("dual.test.", IpFamily::Both)
        .discover()
        .await
        .unwrap();
    assert_eq!(addrs(&sorted(&both)), ["127.0.0.7:443", "[::1]:443"]);
    let only4 = family("dual.test.", IpFamily::V4).discover().await.unwrap();
    assert_eq!(addrs(&only4.backends), ["127.0.0.7:443"]);
    let only6 = family("dual.test.", IpFamily::V6).discover().await.unwrap();
    assert_eq!(addrs(&only6.backends), ["[::1]:443"]);
    // A name with only AAAA records is fine with Both: an empty family is not an error.
    let six = family("six.test.", IpFamily::Both)
        .discover()
        .await
        .unwrap();
    assert_eq!(addrs(&six.backends), ["[::1]:443"]);
}

#[tokio::test(start_paused = true)]
async fn a_failure_of_either_family_fails_the_refresh() {
    let server = server().await;
    server.set_a("web.test.", 30, [v4(1)]);
    server.set_fault_for(
        "web.test.",
        RecordKind::Aaaa,
        Some(lb_discovery_dns::testing::Fault::ServFail),
    );
    let dns = host(&server, "web.test.", 80).build().unwrap();
    let e = dns.discover().await.unwrap_err();
    assert_eq!(dns_error(&e).failure_kind(), Some(FailureKind::ServFail));
    assert_eq!(
        e.to_string(),
        "dns lookup of AAAA records for `web.test.` failed: the server answered servfail"
    );
}

#[tokio::test(start_paused = true)]
async fn ttls_are_clamped_to_the_refresh_bounds() {
    let server = server().await;
    for (name, ttl) in [
        ("zero.test.", 0),
        ("huge.test.", 1_000_000),
        ("negative.test.", 0x8000_0001),
        ("mid.test.", 17),
    ] {
        server.set_a(name, ttl, [v4(1)]);
    }
    let interval = |name: &'static str| {
        let dns = host(&server, name, 80)
            .ip_family(IpFamily::V4)
            .refresh_bounds(2 * S, 40 * S)
            .build()
            .unwrap();
        async move {
            dns.discover().await.unwrap();
            dns.monitor().stats().refresh_interval
        }
    };
    assert_eq!(interval("zero.test.").await, Some(2 * S));
    assert_eq!(interval("huge.test.").await, Some(40 * S));
    // hickory-resolver caps TTLs at one day before we see them, so a TTL with the high bit set
    // (0 by RFC 2181) arrives as 86,400 s and waits the maximum.
    assert_eq!(interval("negative.test.").await, Some(40 * S));
    assert_eq!(interval("mid.test.").await, Some(17 * S));
}

#[tokio::test(start_paused = true)]
async fn tcp_only_nameservers_work() {
    let server = server().await;
    server.set_a("web.test.", 30, [v4(4)]);
    let dns = host(&server, "web.test.", 80)
        .nameservers([Nameserver::tcp(server.addr())])
        .ip_family(IpFamily::V4)
        .build()
        .unwrap();
    assert_eq!(
        addrs(&dns.discover().await.unwrap().backends),
        ["127.0.0.4:80"]
    );
}

#[tokio::test(start_paused = true)]
async fn thousands_of_addresses_come_over_tcp_and_are_capped() {
    let server = server().await;
    // 2,500 records: about 60 KB, within DNS's 64 KiB message limit (over TCP).
    let many: Vec<Ipv4Addr> = (0..2500u32)
        .map(|i| Ipv4Addr::from(0x0a00_0000 + i))
        .collect();
    server.set_a("big.test.", 30, many);
    let dns = host(&server, "big.test.", 80)
        .ip_family(IpFamily::V4)
        .build()
        .unwrap();
    let answer = dns.discover().await.unwrap();
    assert_eq!(answer.backends.len(), 1000, "the default cap");
    assert_eq!(
        answer.backends[0].addr.to_string(),
        "10.0.0.0:80",
        "the lowest addresses are kept"
    );
    assert_eq!(answer.backends[999].addr.to_string(), "10.0.3.231:80");
    assert_eq!(dns.monitor().stats().dropped_records, 1500);

    let capped = host(&server, "big.test.", 80)
        .ip_family(IpFamily::V4)
        .max_records(10)
        .build()
        .unwrap();
    assert_eq!(capped.discover().await.unwrap().backends.len(), 10);

    // Over UDP only, the truncated answer cannot be completed: a failure, not a partial set.
    let udp = host(&server, "big.test.", 80)
        .nameservers([Nameserver::udp(server.addr())])
        .ip_family(IpFamily::V4)
        .build()
        .unwrap();
    let e = udp.discover().await.unwrap_err();
    assert_eq!(
        dns_error(&e).failure_kind(),
        Some(FailureKind::BadResponse),
        "{e}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_ip_address_is_one_backend_without_queries() {
    let server = server().await;
    let dns = host(&server, "127.0.0.9", 9000).build().unwrap();
    assert_eq!(
        addrs(&dns.discover().await.unwrap().backends),
        ["127.0.0.9:9000"]
    );
    let six = host(&server, "[::1]", 9000).build().unwrap();
    assert_eq!(
        addrs(&six.discover().await.unwrap().backends),
        ["[::1]:9000"]
    );
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(server.queries(), 0);
}

#[tokio::test(start_paused = true)]
async fn unusable_addresses_are_left_out() {
    let server = server().await;
    server.set_a(
        "odd.test.",
        30,
        [
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::BROADCAST,
            Ipv4Addr::new(239, 1, 1, 1),
            v4(5),
        ],
    );
    let dns = host(&server, "odd.test.", 80)
        .ip_family(IpFamily::V4)
        .build()
        .unwrap();
    assert_eq!(
        addrs(&dns.discover().await.unwrap().backends),
        ["127.0.0.5:80"]
    );
    assert_eq!(dns.monitor().stats().dropped_records, 3);
}
