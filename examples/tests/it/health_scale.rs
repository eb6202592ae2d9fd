//! `health_scale`'s claims, tested at a small scale: the tally of unhealthy backends counts
//! exactly those whose probes failed, the targets are distinct loopback addresses, connection
//! reuse keeps one connection per backend, and the sizing arithmetic fits the limit.

#[path = "../../health_scale/args.rs"]
mod args;
#[path = "../../health_scale/fds.rs"]
mod fds;
#[path = "../../health_scale/peers.rs"]
mod peers;
#[path = "../../health_scale/run.rs"]
mod run;
#[path = "../../health_scale/targets.rs"]
mod targets;
#[path = "../../health_scale/verdict.rs"]
mod verdict;

use std::collections::HashSet;
use std::net::SocketAddr;

use lb::health::{HttpHealthCheck, TcpHealthCheck};
use lb::prelude::*;

use self::args::Args;
use self::peers::Serve;

/// A port where nothing listens, on any address.
fn closed_port() -> u16 {
    let socket = std::net::TcpListener::bind("0.0.0.0:0").expect("binds");
    socket.local_addr().expect("bound").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tally_counts_exactly_the_backends_whose_probes_failed() {
    let peer = peers::start(Serve::Close).expect("the listener starts");
    let up = targets::targets(300, peer.port).expect("300 targets");
    let closed = closed_port();
    // Targets past the up ones, on a closed port.
    let down: Vec<SocketAddr> = (300..310)
        .map(|i| targets::target(i, closed).expect("in range"))
        .collect();
    let all: Vec<SocketAddr> = up.iter().chain(&down).copied().collect();
    let lb = run::balancer(&all, Box::new(TcpHealthCheck::new()), 16);

    let pass = run::pass(&lb).await;
    assert_eq!(pass.checked, 310);
    assert_eq!(pass.failed, 10);
    // A listener starved of CPU drops SYNs; say so when it may have been.
    let prioritized = peer.prioritized;
    assert_eq!(
        pass.unhealthy.count, 10,
        "{pass:?}; listener prioritized: {prioritized}"
    );
    // The peer's thread accepts the 300 connections (a probe is done once its connect
    // completes, so the last ones may still be queued) and counts its own CPU time.
    let all_accepted = async {
        while peer.accepted() < 300 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), all_accepted)
        .await
        .expect("the peer accepts every probe's connection");
    assert_eq!(peer.accepted(), 300);
    assert!(peer.cpu() > std::time::Duration::ZERO);
    // One reason (the address replaced), whatever the system adds after it.
    let reasons: Vec<(&String, &usize)> = pass.unhealthy.reasons.iter().collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].0.starts_with("connection to <backend> refused") && *reasons[0].1 == 10,
        "{reasons:?}"
    );

    // A backend set unhealthy by hand counts too, with its own reason.
    let first = Backend::from(up[0]);
    assert!(lb.backends().set_health(&first, false));
    let tally = verdict::unhealthy(&lb.backends().get_backend());
    assert_eq!(tally.count, 11);
    assert_eq!(
        tally.reasons.get("set unhealthy without a failed probe"),
        Some(&1)
    );
    // The next pass finds it up again, and the down ones still down.
    assert_eq!(run::pass(&lb).await.unhealthy.count, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_connection_reuse_a_second_pass_opens_no_connection() {
    let peer = peers::start(Serve::Http).expect("the server starts");
    let targets = targets::targets(50, peer.port).expect("50 targets");
    for (reuse, opened_by_second_pass) in [(false, 50), (true, 0)] {
        let check = HttpHealthCheck::new("", false)
            .expect("a valid probe")
            .with_reuse_connection(reuse);
        let lb = run::balancer(&targets, Box::new(check), 8);
        let first = run::pass(&lb).await;
        assert_eq!((first.checked, first.failed), (50, 0), "{first:?}");
        let before = peer.accepted();
        let second = run::pass(&lb).await;
        assert_eq!(second.unhealthy.count, 0, "{second:?}");
        assert_eq!(
            peer.accepted() - before,
            opened_by_second_pass,
            "reuse {reuse}"
        );
    }
}

#[test]
fn targets_are_distinct_loopback_addresses_other_than_localhost() {
    let all = targets::targets(100_000, 80).expect("in range");
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(distinct.len(), 100_000);
    for addr in &all {
        let SocketAddr::V4(v4) = addr else {
            panic!("{addr} is not IPv4");
        };
        let [a, b, c, d] = v4.ip().octets();
        assert_eq!(a, 127, "{addr}");
        assert!(
            b >= 1 && (1..=250).contains(&c) && (1..=250).contains(&d),
            "{addr}"
        );
    }
    assert_eq!(all[0].to_string(), "127.1.1.1:80");
    assert_eq!(all[62_500].to_string(), "127.2.1.1:80");
    assert!(targets::target(targets::MAX_TARGETS - 1, 80).is_some());
    assert!(targets::target(targets::MAX_TARGETS, 80).is_none());
    assert!(targets::targets(targets::MAX_TARGETS + 1, 80).is_err());
}

#[test]
fn concurrency_and_reused_connections_fit_the_open_file_limit() {
    // Plenty of room: what was asked.
    assert_eq!(fds::concurrency(256, 20_000, 2, 0), 256);
    // 1,256 descriptors: 1,000 after the reserve, 500 probes of two.
    assert_eq!(fds::concurrency(4_096, 1_256, 2, 0), 500);
    assert_eq!(fds::concurrency(4_096, 1_256, 2, 1_000), 1);
    // 20,000 descriptors, 256 probes: (20,000 - 256 - 512) / 2 idle connections.
    assert_eq!(fds::reused_backends(10_000, 20_000, 256), 9_616);
    assert_eq!(fds::reused_backends(10_000, 100_000, 256), 10_000);
    let limit = fds::raise(0);
    assert!(limit.now >= limit.before, "{limit:?}");
}

#[test]
fn arguments_parse() {
    let parse = |line: &str| {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        Args::parse(&args)
    };
    assert_eq!(parse(""), Ok(Args::default()));
    let quick = parse("--quick").expect("valid");
    assert_eq!((quick.tcp, quick.http, quick.passes), (10_000, 1_000, 2));
    let custom =
        parse("--quick --tcp 2_000 --http 0 --concurrency 0 --out a.jsonl").expect("valid");
    assert_eq!((custom.tcp, custom.http, custom.concurrency), (2_000, 0, 1));
    assert_eq!(custom.out.as_deref(), Some("a.jsonl"));
    assert!(parse("--out").is_err());
    assert!(parse("--tcp").is_err());
    assert!(parse("--tcp many").is_err());
    assert!(parse("--fast").is_err());
}
