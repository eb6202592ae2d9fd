//! The failure policy: SERVFAIL, REFUSED and timeouts keep the last good set and back off;
//! NXDOMAIN and empty answers keep it for the grace period, then empty it.

use std::net::Ipv4Addr;
use std::time::Duration;

use lb_core::ServiceDiscovery;
use lb_discovery_dns::testing::{Fault, RecordKind};
use lb_discovery_dns::{DnsError, FailureKind, IpFamily, Nameserver};
use tokio::time::Instant;

use crate::support::*;

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

async fn keeps_the_set_and_backs_off(fault: Fault, kind: FailureKind) {
    let server = server().await;
    server.set_a("web.test.", 5, [ip(1)]);
    let dns = host(&server, "web.test.", 80)
        .ip_family(IpFamily::V4)
        .build()
        .unwrap();
    let monitor = dns.monitor();
    let mut sub = dns.subscribe().unwrap();
    dns.discover().await.unwrap();
    next_change(&mut sub).await;

    server.set_fault("web.test.", Some(fault));
    let mut waits = Vec::new();
    for n in 2..=6 {
        monitor.wait_for_refreshes(n).await;
        waits.push(monitor.stats().refresh_interval.unwrap());
    }
    assert_eq!(
        waits,
        [S, 2 * S, 4 * S, 8 * S, 8 * S],
        "exponential backoff, capped"
    );
    let stats = monitor.stats();
    assert_eq!(stats.failures, 5);
    assert_eq!(
        stats.last_error.as_ref().and_then(DnsError::failure_kind),
        Some(kind)
    );
    assert_eq!(
        addrs(&dns.discover().await.unwrap().backends),
        ["127.0.0.1:80"],
        "last good set"
    );
    assert!(!change_pending(&mut sub).await, "a failure is not a change");

    // Recovery: the next retry sees the new answer.
    server.set_fault("web.test.", None);
    server.set_a("web.test.", 5, [ip(2)]);
    next_change(&mut sub).await;
    assert_eq!(
        addrs(&dns.discover().await.unwrap().backends),
        ["127.0.0.2:80"]
    );
    assert_eq!(
        monitor.stats().refresh_interval,
        Some(5 * S),
        "back to the ttl"
    );
}

#[tokio::test(start_paused = true)]
async fn servfail_keeps_the_last_good_set_and_retries_with_backoff() {
    keeps_the_set_and_backs_off(Fault::ServFail, FailureKind::ServFail).await;
}

#[tokio::test(start_paused = true)]
async fn refused_keeps_the_last_good_set_and_retries_with_backoff() {
    keeps_the_set_and_backs_off(Fault::Refused, FailureKind::Refused).await;
}

#[tokio::test(start_paused = true)]
async fn a_silent_server_times_out_and_keeps_the_last_good_set() {
    keeps_the_set_and_backs_off(Fault::Silent, FailureKind::Timeout).await;
}

#[tokio::test(start_paused = true)]
async fn before_any_answer_discover_returns_the_error() {
    let server = server().await;
    server.set_fault("web.test.", Some(Fault::ServFail));
    let dns = host(&server, "web.test.", 80).build().unwrap();
    let e = dns.discover().await.unwrap_err();
    assert_eq!(dns_error(&e).failure_kind(), Some(FailureKind::ServFail));
    assert!(dns.monitor().backends().is_none());

    // An unreachable nameserver: nothing listens on the port.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap();
    drop(closed);
    let nowhere = host(&server, "web.test.", 80)
        .nameservers([Nameserver::udp(port)])
        .build()
        .unwrap();
    let e = nowhere.discover().await.unwrap_err();
    let kind = dns_error(&e).failure_kind();
    assert!(
        matches!(kind, Some(FailureKind::Network | FailureKind::Timeout)),
        "{e}"
    );
}

#[tokio::test(start_paused = true)]
async fn nxdomain_keeps_the_set_for_the_grace_period_then_empties_it() {
    let server = server().await;
    server.set_a("web.test.", 5, [ip(1)]);
    let dns = host(&server, "web.test.", 80)
        .ip_family(IpFamily::V4)
        .negative_grace(Duration::from_secs(20))
        .build()
        .unwrap();
    let monitor = dns.monitor();
    let mut sub = dns.subscribe().unwrap();
    dns.discover().await.unwrap();
    next_change(&mut sub).await;

    server.set_negative_ttl(3);
    server.remove("web.test.");
    monitor.wait_for_refreshes(2).await;
    let gone = Instant::now();
    let stats = monitor.stats();
    assert_eq!(stats.negative_answers, 1);
    assert!(matches!(stats.last_error, Some(DnsError::NotFound { .. })));
    assert_eq!(
        stats.refresh_interval,
        Some(3 * S),
        "the negative ttl from the soa"
    );
    assert_eq!(
        addrs(&dns.discover().await.unwrap().backends),
        ["127.0.0.1:80"]
    );

    next_change(&mut sub).await;
    let waited = gone.elapsed();
    assert_eq!(waited, 20 * S, "emptied exactly when the grace period ends");
    assert!(dns.discover().await.unwrap().backends.is_empty());
    assert_eq!(monitor.stats().emptied, 1);

    // The name comes back.
    server.set_a("web.test.", 5, [ip(3)]);
    next_change(&mut sub).await;
    assert_eq!(
        addrs(&dns.discover().await.unwrap().backends),
        ["127.0.0.3:80"]
    );
}

#[tokio::test(start_paused = true)]
async fn an_empty_answer_is_negative_too() {
    let server = server().await;
    server.set_a("web.test.", 5, [ip(1)]);
    server.set_aaaa("web.test.", 5, [std::net::Ipv6Addr::LOCALHOST]);
    let dns = host(&server, "web.test.", 80)
        .ip_family(IpFamily::V4)
        .negative_grace(Duration::ZERO)
        .build()
        .unwrap();
    let monitor = dns.monitor();
    let mut sub = dns.subscribe().unwrap();
    dns.discover().await.unwrap();
    next_change(&mut sub).await;
    server.remove_records("web.test.", RecordKind::A); // the name stays: NOERROR, no answer
    next_change(&mut sub).await;
    assert!(
        dns.discover().await.unwrap().backends.is_empty(),
        "zero grace empties at once"
    );
    assert!(matches!(
        monitor.stats().last_error,
        Some(DnsError::NoRecords { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_name_missing_from_the_start_is_an_error_until_the_grace_period_ends() {
    let server = server().await;
    let dns = host(&server, "late.test.", 80)
        .negative_grace(Duration::from_secs(10))
        .build()
        .unwrap();
    let e = dns.discover().await.unwrap_err();
    assert!(matches!(dns_error(&e), DnsError::NotFound { .. }), "{e}");
    let mut sub = dns.subscribe().unwrap();
    next_change(&mut sub).await;
    assert!(
        dns.discover().await.unwrap().backends.is_empty(),
        "then an empty set"
    );
}

#[tokio::test(start_paused = true)]
async fn a_refresh_overrunning_its_deadline_is_a_failure() {
    let server = server().await;
    server.set_fault("slow.test.", Some(Fault::Silent));
    let dns = host(&server, "slow.test.", 80)
        .query_timeout(Duration::from_secs(5))
        .attempts(3)
        .refresh_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let started = Instant::now();
    let e = dns.discover().await.unwrap_err();
    assert!(
        matches!(dns_error(&e), DnsError::RefreshTimeout { .. }),
        "{e}"
    );
    assert_eq!(started.elapsed(), 2 * S);
}
