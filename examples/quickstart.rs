//! The lb quickstart: three backends on 127.0.0.1, a round-robin load balancer with a TCP health
//! check running in the background, traffic through `select`, and one backend stopped mid-run.
//!
//! Run it with `cargo run --example quickstart`. It needs no setup and exits by itself in about
//! four seconds, printing the health flip and where the traffic went.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use lb::health::TcpHealthCheck;
use lb::prelude::*;
use lb::selection::RoundRobin;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout};

/// How long traffic runs before and after one backend is stopped.
const PHASE: Duration = Duration::from_millis(1500);
/// Time between requests.
const PACE: Duration = Duration::from_millis(2);

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // Three backends that answer each connection with their name.
    let mut servers = Vec::new();
    for name in ["alpha", "bravo", "charlie"] {
        servers.push(start_backend(name).await?);
    }
    let addrs: Vec<String> = servers.iter().map(|(addr, _)| addr.clone()).collect();
    println!("backends: {}", addrs.join(", "));

    // A smooth round robin over them, probed by TCP connect every 200 ms.
    let mut lb = LoadBalancer::<RoundRobin>::try_from_iter(&addrs)?;
    lb.set_health_check(Box::new(
        TcpHealthCheck::new()
            .with_connect_timeout(Duration::from_millis(100))
            .with_thresholds(1, 1),
    ));
    lb.health_check_frequency = Some(Duration::from_millis(200));
    lb.health_check_timeout = Duration::from_millis(300);
    // Passive health: three failed requests in a row take a backend out at once, without waiting
    // for its next probe.
    lb.set_passive_health(Some(PassiveHealth::default().with_consecutive_failures(3)));
    let lb = Arc::new(lb);
    let service = lb.spawn();
    service.ready().await;

    // Print every health change as it happens (the watch starts with the current state).
    let started = Instant::now();
    let mut watch = lb.backends().health_watch();
    let printer = tokio::spawn(async move {
        let mut shown = std::collections::HashMap::new();
        while let Some(event) = watch.next().await {
            // Delivery is at least once: skip a state this backend already showed.
            if shown.insert(event.backend.addr.clone(), event.healthy) == Some(event.healthy) {
                continue;
            }
            let state = if event.healthy {
                "healthy"
            } else {
                "UNHEALTHY"
            };
            let why = event.reason.map(|r| format!(" ({r})")).unwrap_or_default();
            println!(
                "[{:>5} ms] {} is {state}{why}",
                started.elapsed().as_millis(),
                event.backend
            );
        }
    });

    let mut before = Counts::default();
    let mut after = Counts::default();
    send_traffic(&lb, PHASE, &mut before).await;

    let (stopped_addr, stopped_task) = servers.remove(1);
    stopped_task.abort();
    // Wait until the listener is really closed before the second phase starts.
    let _ = stopped_task.await;
    println!(
        "[{:>5} ms] stopped {stopped_addr}",
        started.elapsed().as_millis()
    );
    send_traffic(&lb, PHASE, &mut after).await;

    service.shutdown().await;
    printer.abort();

    println!();
    println!(
        "{:<22} {:>12} {:>12} {:>16}",
        "backend", "before stop", "after stop", "failed requests"
    );
    for addr in &addrs {
        let note = if *addr == stopped_addr {
            "  <- stopped"
        } else {
            ""
        };
        println!(
            "{addr:<22} {:>12} {:>12} {:>16}{note}",
            before.ok.get(addr).copied().unwrap_or(0),
            after.ok.get(addr).copied().unwrap_or(0),
            before.failed.get(addr).copied().unwrap_or(0)
                + after.failed.get(addr).copied().unwrap_or(0),
        );
    }
    let moved = after.ok.get(&stopped_addr).copied().unwrap_or(0) == 0;
    println!();
    if moved {
        println!(
            "traffic moved away from {stopped_addr}: passive health ejected it after its first \
             failed requests, and its health check marked it down."
        );
    } else {
        println!("{stopped_addr} still received traffic after it stopped: something is wrong.");
    }
    Ok(())
}

#[derive(Default)]
struct Counts {
    ok: BTreeMap<String, u64>,
    failed: BTreeMap<String, u64>,
    ejected: std::collections::BTreeSet<String>,
}

/// Sends one request every `PACE` for `duration`: select a backend, connect, read its name.
async fn send_traffic(lb: &LoadBalancer<RoundRobin>, duration: Duration, counts: &mut Counts) {
    let end = Instant::now() + duration;
    while Instant::now() < end {
        if let Some(pick) = lb.select(b"") {
            let addr = pick.addr.to_string();
            let started = Instant::now();
            let outcome = request(&addr).await;
            let latency = started.elapsed();
            match outcome {
                Ok(_name) => {
                    pick.report(Outcome::Success, latency);
                    *counts.ok.entry(addr).or_default() += 1;
                }
                Err(_) => {
                    let state = std::sync::Arc::clone(pick.state());
                    pick.report(Outcome::Failure, latency);
                    if state.is_ejected() && counts.ejected.insert(addr.clone()) {
                        println!("{addr} ejected after failed requests (passive health)");
                    }
                    *counts.failed.entry(addr).or_default() += 1;
                }
            }
        }
        sleep(PACE).await;
    }
}

/// One request: connect, read one line, with a deadline and a cap on the bytes read.
async fn request(addr: &str) -> Result<String, BoxError> {
    let exchange = async {
        let stream = TcpStream::connect(addr).await?;
        let mut line = String::new();
        BufReader::new(stream.take(64)).read_line(&mut line).await?;
        Ok::<_, std::io::Error>(line.trim().to_owned())
    };
    Ok(timeout(Duration::from_millis(200), exchange).await??)
}

/// A backend on 127.0.0.1 that writes its name to every connection.
async fn start_backend(name: &'static str) -> std::io::Result<(String, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                // A failed accept (out of file descriptors, say): back off instead of spinning.
                sleep(Duration::from_millis(10)).await;
                continue;
            };
            tokio::spawn(async move {
                let _ = stream.write_all(format!("{name}\n").as_bytes()).await;
            });
        }
    });
    Ok((addr, task))
}
