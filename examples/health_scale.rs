//! One health-check pass over 10,000 backends on loopback, with TCP probes and bounded
//! concurrency; prints the pass time, the failures and the peak memory.
//!
//! Run it with `cargo run --release --example health_scale [-- BACKENDS [CONCURRENCY [PASSES]]]`
//! (defaults: 10000, lb-core's default concurrency, 3 passes). Linux routes all of 127.0.0.0/8 to
//! loopback, so one listener on `0.0.0.0` answers every `127.1.x.y` backend; no traffic leaves the
//! machine.

use std::time::Duration;

use lb::core::DEFAULT_HEALTH_CHECK_CONCURRENCY;
use lb::health::TcpHealthCheck;
use lb::prelude::*;
use lb::selection::RoundRobin;
use lb::{BoxError, HealthSchedule};
use tokio::net::{TcpListener, TcpSocket};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let count: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let concurrency: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(DEFAULT_HEALTH_CHECK_CONCURRENCY);
    let passes: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    if count > 250 * 250 {
        return Err(format!("at most {} backends", 250 * 250).into());
    }

    // One listener that accepts and closes every connection, as fast as it can, on its own
    // thread (it stands for the backends' hosts, not for the prober). A probe is done when its
    // connect completes, before the server accepts, so the listener's queue must absorb the
    // difference in pace: give it a backlog a busy server would have.
    let port = listener_thread(4096)?;

    // 127.1.x.y with x, y in 1..=250: all loopback, all distinct backends.
    let backends = (0..count).map(|i| {
        let (x, y) = (1 + i / 250, 1 + i % 250);
        Backend::new(&format!("127.1.{x}.{y}:{port}"))
    });
    let backends = backends.collect::<Result<Vec<_>, _>>()?;
    let mut set = Backends::fixed(backends);
    set.set_health_check(Box::new(
        TcpHealthCheck::new()
            .with_connect_timeout(Duration::from_secs(1))
            .with_deadline(Duration::from_secs(2)),
    ));
    let lb = LoadBalancer::<RoundRobin>::from_backends(set);
    lb.update().await?;
    let registry = lb.backends().health_registry().clone();
    let schedule = HealthSchedule::default()
        .with_timeout(Duration::from_secs(2))
        .with_parallelism(concurrency);

    println!(
        "{count} backends on 127.1.x.y:{port}, tcp probes, concurrency {concurrency}, 2 worker threads"
    );
    println!("rss before the first pass: {}", memory("VmRSS"));
    for pass in 1..=passes {
        let report = registry.check_once(&schedule).await;
        let set = lb.backends().get_backend();
        let mut reasons = std::collections::BTreeMap::<String, usize>::new();
        let states = set.backends().iter().zip(set.states());
        for (backend, state) in states.filter(|(_, s)| !s.is_healthy()) {
            let why = state.last_error().unwrap_or_default();
            // Group by reason: the message without the backend's address.
            let why = why.replace(&backend.addr.to_string(), "<backend>");
            *reasons.entry(why).or_default() += 1;
        }
        let unhealthy: usize = reasons.values().sum();
        println!(
            "pass {pass}: {} probes in {:.1} ms, {} failed, {unhealthy} backends unhealthy",
            report.checked,
            report.elapsed.as_secs_f64() * 1e3,
            report.failed,
        );
        for (why, n) in &reasons {
            println!("    {n} x {why}");
        }
    }
    println!("peak rss (VmHWM): {}", memory("VmHWM"));
    Ok(())
}

/// Starts the accepting listener on its own thread and runtime; returns its port.
fn listener_thread(backlog: u32) -> Result<u16, BoxError> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build();
        let Ok(runtime) = runtime else { return };
        runtime.block_on(async move {
            let bound = (|| {
                let socket = TcpSocket::new_v4()?;
                socket.bind("0.0.0.0:0".parse().expect("a valid socket address"))?;
                socket.listen(backlog)
            })();
            let listener: TcpListener = match bound {
                Ok(l) => l,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let _ = tx.send(listener.local_addr().map(|a| a.port()));
            while let Ok((stream, _)) = listener.accept().await {
                drop(stream);
            }
        });
    });
    Ok(rx.recv()??)
}

/// A line of /proc/self/status, such as "VmHWM", or "unknown" off Linux.
fn memory(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(str::trim))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
