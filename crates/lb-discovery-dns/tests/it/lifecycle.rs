//! The refresh task: started lazily, stopped with the source.

use std::net::Ipv4Addr;
use std::time::Duration;

use lb_core::ServiceDiscovery;
use lb_discovery_dns::{DnsDiscovery, IpFamily};

use crate::support::*;

#[tokio::test(start_paused = true)]
async fn nothing_is_queried_before_the_source_is_used() {
    let server = server().await;
    server.set_a("web.test.", 1, [Ipv4Addr::LOCALHOST]);
    let dns = host(&server, "web.test.", 80).build().unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(server.queries(), 0);
    assert_eq!(dns.monitor().stats().refreshes, 0);
    let _subscription = dns.subscribe().unwrap(); // starts the task
    dns.monitor().wait_for_refreshes(1).await;
    assert!(server.queries() > 0);
}

#[tokio::test(start_paused = true)]
async fn the_refresh_task_stops_when_the_source_is_dropped() {
    let server = server().await;
    server.set_a("web.test.", 1, [Ipv4Addr::LOCALHOST]);
    let dns = host(&server, "web.test.", 80)
        .ip_family(IpFamily::V4)
        .build()
        .unwrap();
    let monitor = dns.monitor();
    let mut sub = dns.subscribe().unwrap();
    dns.discover().await.unwrap();
    next_change(&mut sub).await; // the first answer
    monitor.wait_for_refreshes(3).await;
    drop(dns);
    let (queries, refreshes) = (server.queries(), monitor.stats().refreshes);
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(server.queries(), queries, "no query after the drop");
    assert_eq!(monitor.stats().refreshes, refreshes);
    assert_eq!(
        monitor.backends().map(|b| addrs(&b)),
        Some(vec!["127.0.0.1:80".to_string()]),
        "the monitor still shows the last answer"
    );
    // The subscription says the source is gone once every notifier is dropped; the monitor
    // holds one, so it stays open but silent.
    assert!(!change_pending(&mut sub).await);
}

#[test]
fn a_source_built_outside_a_runtime_starts_inside_one() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(server());
    server.set_a("web.test.", 30, [Ipv4Addr::LOCALHOST]);
    let dns = host(&server, "web.test.", 80)
        .ip_family(IpFamily::V4)
        .build()
        .unwrap();
    assert!(
        dns.subscribe().is_some(),
        "subscribing without a runtime does not start a task"
    );
    assert_eq!(dns.monitor().stats().refreshes, 0);
    let answer = runtime.block_on(dns.discover()).unwrap();
    assert_eq!(addrs(&answer.backends), ["127.0.0.1:80"]);
}

#[tokio::test(start_paused = true)]
async fn the_system_configuration_is_read_without_querying() {
    // Builds a resolver from /etc/resolv.conf; nothing is sent anywhere until `discover`.
    let built = DnsDiscovery::a_aaaa("example.invalid.", 80).build();
    if std::path::Path::new("/etc/resolv.conf").exists() {
        let dns = built.expect("the system configuration is readable");
        assert_eq!(dns.monitor().stats().refreshes, 0);
    } else {
        let e = built.unwrap_err();
        assert!(
            matches!(e, lb_discovery_dns::DnsError::SystemConfig { .. }),
            "{e}"
        );
    }
}

#[test]
fn a_new_runtime_restarts_the_refresh_task() {
    // The server runs on its own runtime for the whole test; the source meets two others.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = server_rt.block_on(server());
    server.set_a("web.test.", 1, [Ipv4Addr::new(127, 0, 0, 1)]);
    let dns = host(&server, "web.test.", 80)
        .ip_family(IpFamily::V4)
        .build()
        .unwrap();
    let current_thread = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };

    let first = current_thread();
    let answer = first.block_on(dns.discover()).unwrap();
    assert_eq!(addrs(&answer.backends), ["127.0.0.1:80"]);
    drop(first); // the refresh task dies with its runtime

    let second = current_thread();
    second.block_on(async {
        let mut sub = dns.subscribe().unwrap(); // restarts the task here
        server.set_a("web.test.", 1, [Ipv4Addr::new(127, 0, 0, 2)]);
        // The restarted task refreshes at once (it runs only once this block awaits, after the
        // edit) and signals the change; the wait ends on that signal.
        next_change(&mut sub).await;
        assert_eq!(
            addrs(&dns.discover().await.unwrap().backends),
            ["127.0.0.2:80"]
        );
    });
}

#[tokio::test(start_paused = true)]
async fn the_longest_durations_are_accepted_without_overflow() {
    // `Duration::MAX` reads as "never": no refresh or query deadline, no retry, no refresh after
    // the first. None of them may overflow an instant (which would panic the refresh task).
    let server = server().await;
    server.set_a("web.test.", 30, [Ipv4Addr::LOCALHOST]);
    server.set_fault(
        "down.test.",
        Some(lb_discovery_dns::testing::Fault::ServFail),
    );
    let forever = Duration::MAX;
    let literal = host(&server, "127.0.0.9", 80)
        .refresh_bounds(forever, forever)
        .refresh_timeout(forever)
        .build()
        .unwrap();
    let answer = tokio::time::timeout(DEADLINE, literal.discover()).await;
    let answer = answer.expect("an answer before the deadline").unwrap();
    assert_eq!(addrs(&answer.backends), ["127.0.0.9:80"]);
    let named = host(&server, "web.test.", 80)
        .ip_family(IpFamily::V4)
        .refresh_bounds(forever, forever)
        .refresh_timeout(forever)
        .query_timeout(forever)
        .build()
        .unwrap();
    let answer = tokio::time::timeout(DEADLINE, named.discover()).await;
    let answer = answer.expect("an answer before the deadline").unwrap();
    assert_eq!(addrs(&answer.backends), ["127.0.0.1:80"]);
    let failing = host(&server, "down.test.", 80)
        .ip_family(IpFamily::V4)
        .retry_backoff(forever, forever)
        .build()
        .unwrap();
    let e = failing.discover().await.unwrap_err();
    assert!(dns_error(&e).failure_kind().is_some(), "{e}");
    let monitor = failing.monitor();
    assert_eq!(monitor.stats().refreshes, 1);
    assert!(monitor.stats().refresh_interval.unwrap() > Duration::from_secs(86_400 * 365));
    // The task is alive and waiting: a second `discover` answers from its state at once.
    assert!(failing.discover().await.is_err());
    assert_eq!(
        monitor.stats().refreshes,
        1,
        "no second refresh was started"
    );
}
