//! CNAME chains: followed within an answer or by follow-up queries, bounded, TTLs folded in.

use std::net::Ipv4Addr;

use lb_core::ServiceDiscovery;
use lb_discovery_dns::{DnsError, IpFamily, MAX_CNAME_CHAIN};

use crate::support::*;

fn chain(server: &lb_discovery_dns::testing::TestDnsServer, links: usize) {
    for i in 0..links {
        server.set_cname(&format!("c{i}.test."), 30, &format!("c{}.test.", i + 1));
    }
    server.set_a(
        &format!("c{links}.test."),
        30,
        [Ipv4Addr::new(127, 0, 0, 8)],
    );
}

#[tokio::test(start_paused = true)]
async fn chains_are_followed_and_their_smallest_ttl_drives_the_refresh() {
    let server = server().await;
    server.set_cname("www.test.", 3, "pool.test.");
    server.set_a("pool.test.", 30, [Ipv4Addr::new(127, 0, 0, 1)]);
    let dns = host(&server, "www.test.", 80)
        .ip_family(IpFamily::V4)
        .build()
        .unwrap();
    assert_eq!(
        addrs(&dns.discover().await.unwrap().backends),
        ["127.0.0.1:80"]
    );
    assert_eq!(
        dns.monitor().stats().refresh_interval,
        Some(3 * S),
        "the cname's ttl is the smallest"
    );

    // Repointing the alias is a change like any other.
    let mut sub = dns.subscribe().unwrap();
    server.set_a("other.test.", 30, [Ipv4Addr::new(127, 0, 0, 2)]);
    server.set_cname("www.test.", 3, "other.test.");
    next_change(&mut sub).await;
    assert_eq!(
        addrs(&dns.discover().await.unwrap().backends),
        ["127.0.0.2:80"]
    );
}

#[tokio::test(start_paused = true)]
async fn chains_up_to_the_limit_resolve_and_longer_ones_fail() {
    let server = server().await;
    chain(&server, MAX_CNAME_CHAIN);
    let ok = host(&server, "c0.test.", 80)
        .ip_family(IpFamily::V4)
        .build()
        .unwrap();
    assert_eq!(
        addrs(&ok.discover().await.unwrap().backends),
        ["127.0.0.8:80"]
    );

    let server = crate::support::server().await;
    chain(&server, MAX_CNAME_CHAIN + 1);
    let long = host(&server, "c0.test.", 80)
        .ip_family(IpFamily::V4)
        .build()
        .unwrap();
    let e = long.discover().await.unwrap_err();
    assert!(
        matches!(dns_error(&e), DnsError::CnameChainTooLong { limit, .. } if *limit == MAX_CNAME_CHAIN),
        "{e}"
    );
    assert!(
        !dns_error(&e).is_negative(),
        "a broken chain keeps the last good set"
    );
    assert_eq!(long.monitor().stats().failures, 1);
}

#[tokio::test(start_paused = true)]
async fn a_loop_ends_without_hanging() {
    let server = server().await;
    server.set_cname("a.test.", 30, "b.test.");
    server.set_cname("b.test.", 30, "a.test.");
    let dns = host(&server, "a.test.", 80)
        .ip_family(IpFamily::V4)
        .build()
        .unwrap();
    // The server cuts the loop after 33 links; hickory-resolver re-queries the last name at most
    // 8 times and gives up with an empty answer, which is a negative answer here.
    let e = dns.discover().await.unwrap_err();
    assert!(dns_error(&e).is_negative(), "{e}");
    assert!(
        server.queries() <= 10,
        "bounded follow-up: {}",
        server.queries()
    );
}

#[tokio::test(start_paused = true)]
async fn chains_an_answer_leaves_incomplete_are_followed_by_further_queries() {
    let server = server().await;
    server.set_follow_cnames(false);
    chain(&server, 3);
    let dns = host(&server, "c0.test.", 80)
        .ip_family(IpFamily::V4)
        .build()
        .unwrap();
    assert_eq!(
        addrs(&dns.discover().await.unwrap().backends),
        ["127.0.0.8:80"]
    );
    assert!(
        server.queries() >= 4,
        "one query per link: {}",
        server.queries()
    );

    // hickory-resolver stops its follow-up queries at 8 links; the rest is an empty answer.
    let server = crate::support::server().await;
    server.set_follow_cnames(false);
    chain(&server, 12);
    let deep = host(&server, "c0.test.", 80)
        .ip_family(IpFamily::V4)
        .build()
        .unwrap();
    let e = deep.discover().await.unwrap_err();
    assert!(dns_error(&e).is_negative(), "{e}");
    assert!(
        server.queries() <= 10,
        "bounded follow-up: {}",
        server.queries()
    );
}
