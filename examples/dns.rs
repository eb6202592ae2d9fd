//! DNS discovery: a load balancer that follows a DNS name, printing membership changes as they
//! happen.
//!
//! `cargo run --example dns -- <name> [port]` follows a real name through the system resolver:
//! a name that starts with `_` is an SRV name (`_http._tcp.example.com`), anything else a host
//! name whose A/AAAA records are used with `port` (default 80). Stop it with Ctrl-C.
//!
//! `cargo run --example dns` without arguments runs a self-contained demo: an in-process DNS
//! server on 127.0.0.1 whose zone changes every two seconds (backends join, are reweighted,
//! leave; the primary SRV group disappears and the standby group takes over; the name
//! disappears and the set empties after the grace period), followed live by a round-robin load
//! balancer. It exits by itself after about 13 seconds.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use lb::discovery::dns::testing::{SrvSpec, TestDnsServer};
use lb::discovery::dns::{DnsDiscovery, DnsMonitor, SrvTarget};
use lb::prelude::*;
use lb::selection::RoundRobin;
use tokio::time::{Instant, sleep, timeout};

/// The SRV name the demo serves.
const DEMO_NAME: &str = "_http._tcp.demo.test.";
/// Time between two zone edits in the demo.
const STEP: Duration = Duration::from_secs(2);

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first() {
        Some(name) => {
            let port = match args.get(1) {
                Some(p) => p
                    .parse::<u16>()
                    .map_err(|e| format!("invalid port `{p}`: {e}"))?,
                None => 80,
            };
            follow_real_name(name, port).await
        }
        None => demo().await,
    }
}

/// Follows `name` through the system resolver until Ctrl-C.
async fn follow_real_name(name: &str, port: u16) -> Result<(), BoxError> {
    let dns = if name.starts_with('_') {
        DnsDiscovery::srv(name).build()?
    } else {
        DnsDiscovery::a_aaaa(name, port).build()?
    };
    println!("following {name} with the system resolver; Ctrl-C stops");
    let (lb, monitor) = balancer(dns);
    let service = lb.spawn();
    let started = Instant::now();
    let mut printer = ChangePrinter::default();
    let mut changes = monitor.subscribe();
    // The first answer (or the first error) comes within the refresh deadline.
    let _ = timeout(Duration::from_secs(35), service.ready()).await;
    printer.show(&monitor, &lb, started).await;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            alive = changes.changed() => {
                if !alive { break; }
                printer.show(&monitor, &lb, started).await;
            }
        }
    }
    service.shutdown().await;
    println!("stats: {:?}", monitor.stats());
    Ok(())
}

/// A load balancer over `dns`, and a monitor of the DNS source.
fn balancer(dns: DnsDiscovery) -> (Arc<LoadBalancer<RoundRobin>>, DnsMonitor) {
    let monitor = dns.monitor();
    let lb = LoadBalancer::<RoundRobin>::from_backends(Backends::new(Box::new(dns)));
    (Arc::new(lb), monitor)
}

/// The self-contained demo: a zone that changes every `STEP`, followed live.
async fn demo() -> Result<(), BoxError> {
    let server = TestDnsServer::start().await?;
    for (i, host) in ["web-1", "web-2", "web-3", "backup"].iter().enumerate() {
        server.set_a(
            &format!("{host}.demo.test."),
            1,
            [Ipv4Addr::new(127, 0, 0, i as u8 + 1)],
        );
    }
    let steps: Vec<(&str, Vec<SrvSpec>)> = vec![
        (
            "two primaries (weights 3 and 1) and a backup at priority 20",
            vec![
                SrvSpec::new(10, 3, 8001, "web-1.demo.test."),
                SrvSpec::new(10, 1, 8002, "web-2.demo.test."),
                SrvSpec::new(20, 1, 9000, "backup.demo.test."),
            ],
        ),
        (
            "web-3 joins with weight 2",
            vec![
                SrvSpec::new(10, 3, 8001, "web-1.demo.test."),
                SrvSpec::new(10, 1, 8002, "web-2.demo.test."),
                SrvSpec::new(10, 2, 8003, "web-3.demo.test."),
                SrvSpec::new(20, 1, 9000, "backup.demo.test."),
            ],
        ),
        (
            "web-2 is reweighted to 5",
            vec![
                SrvSpec::new(10, 3, 8001, "web-1.demo.test."),
                SrvSpec::new(10, 5, 8002, "web-2.demo.test."),
                SrvSpec::new(10, 2, 8003, "web-3.demo.test."),
                SrvSpec::new(20, 1, 9000, "backup.demo.test."),
            ],
        ),
        (
            "web-1 leaves",
            vec![
                SrvSpec::new(10, 5, 8002, "web-2.demo.test."),
                SrvSpec::new(10, 2, 8003, "web-3.demo.test."),
                SrvSpec::new(20, 1, 9000, "backup.demo.test."),
            ],
        ),
        (
            "the whole priority-10 group is gone: the backup is the active group",
            vec![SrvSpec::new(20, 1, 9000, "backup.demo.test.")],
        ),
    ];

    let dns = DnsDiscovery::srv(DEMO_NAME)
        .nameserver(server.nameserver())
        .refresh_bounds(Duration::from_millis(500), Duration::from_secs(5))
        .negative_grace(Duration::from_secs(3))
        .build()?;
    println!("dns server on {}, following {DEMO_NAME}", server.addr());
    let (lb, monitor) = balancer(dns);
    let started = Instant::now();
    let mut printer = ChangePrinter::default();
    let mut changes = monitor.subscribe();

    let (first_note, first_records) = &steps[0];
    server.set_srv(DEMO_NAME, 1, first_records.clone());
    println!(
        "[{:>5} ms] zone: {first_note}",
        started.elapsed().as_millis()
    );
    let service = lb.spawn();
    timeout(Duration::from_secs(5), service.ready()).await?;
    printer.show(&monitor, &lb, started).await;

    let mut edits: Vec<(&str, Option<Vec<SrvSpec>>)> = steps[1..]
        .iter()
        .map(|(note, records)| (*note, Some(records.clone())))
        .collect();
    edits.push((
        "the name is removed (NXDOMAIN): kept for the 3 s grace, then empty",
        None,
    ));
    for (note, records) in edits {
        let edit_at = Instant::now() + STEP;
        // Print every change that arrives before the next edit.
        while let Ok(alive) = timeout(
            edit_at.saturating_duration_since(Instant::now()),
            changes.changed(),
        )
        .await
        {
            if !alive {
                break;
            }
            printer.show(&monitor, &lb, started).await;
        }
        match records {
            Some(records) => server.set_srv(DEMO_NAME, 1, records),
            None => server.remove(DEMO_NAME),
        }
        println!("[{:>5} ms] zone: {note}", started.elapsed().as_millis());
    }
    // The removal: the set empties once the grace period is over.
    let end = Instant::now() + Duration::from_secs(6);
    while let Ok(true) = timeout(
        end.saturating_duration_since(Instant::now()),
        changes.changed(),
    )
    .await
    {
        printer.show(&monitor, &lb, started).await;
        if monitor.backends().is_some_and(|b| b.is_empty()) {
            break;
        }
    }
    service.shutdown().await;
    let stats = monitor.stats();
    println!();
    println!(
        "{} refreshes, {} changes, {} negative answers, {} server queries; last error: {}",
        stats.refreshes,
        stats.changes,
        stats.negative_answers,
        server.queries(),
        stats
            .last_error
            .map(|e| e.to_string())
            .unwrap_or_else(|| "none".into())
    );
    Ok(())
}

/// Prints the difference between the last answer shown and the current one, and where 100
/// picks of the load balancer go.
#[derive(Default)]
struct ChangePrinter {
    shown: BTreeMap<String, (u32, Option<u16>)>,
}

impl ChangePrinter {
    async fn show(
        &mut self,
        monitor: &DnsMonitor,
        lb: &LoadBalancer<RoundRobin>,
        started: Instant,
    ) {
        let Some(backends) = monitor.backends() else {
            let why = monitor
                .stats()
                .last_error
                .map(|e| e.to_string())
                .unwrap_or_default();
            println!(
                "[{:>5} ms] no answer yet: {why}",
                started.elapsed().as_millis()
            );
            return;
        };
        let now: BTreeMap<String, (u32, Option<u16>)> = backends
            .iter()
            .map(|b| {
                let priority = b.ext.get::<SrvTarget>().map(|s| s.priority);
                (b.addr.to_string(), (b.weight, priority))
            })
            .collect();
        let ms = started.elapsed().as_millis();
        for (addr, (weight, priority)) in &now {
            let prio = priority
                .map(|p| format!(", srv priority {p}"))
                .unwrap_or_default();
            match self.shown.get(addr) {
                None => println!("[{ms:>5} ms]   + {addr} (weight {weight}{prio})"),
                Some((old, _)) if old != weight => {
                    println!("[{ms:>5} ms]   ~ {addr} weight {old} -> {weight}{prio}")
                }
                Some(_) => {}
            }
        }
        for addr in self.shown.keys().filter(|a| !now.contains_key(*a)) {
            println!("[{ms:>5} ms]   - {addr}");
        }
        if self.shown == now {
            return;
        }
        self.shown = now;

        // The load balancer got the same signal; wait (briefly) until it has applied it.
        let wanted: Vec<String> = self.shown.keys().cloned().collect();
        let _ = timeout(Duration::from_secs(1), async {
            while lb
                .backends()
                .get_backend()
                .iter()
                .map(|b| b.addr.to_string())
                .collect::<Vec<_>>()
                != wanted
            {
                sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        let mut picks: BTreeMap<String, u32> = BTreeMap::new();
        for _ in 0..100 {
            if let Some(pick) = lb.select(b"") {
                *picks.entry(pick.addr.to_string()).or_default() += 1;
            }
        }
        let spread: Vec<String> = picks.iter().map(|(a, n)| format!("{a} x{n}")).collect();
        if spread.is_empty() {
            println!("[{ms:>5} ms]   100 picks: no backend");
        } else {
            println!("[{ms:>5} ms]   100 picks: {}", spread.join(", "));
        }
    }
}
