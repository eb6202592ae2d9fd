//! Peak EWMA moving traffic off a backend that turns slow.
//!
//! Three backends on 127.0.0.1 answer each connection with their name after a delay (5 ms).
//! Eight clients send requests through a `LoadBalancer<PeakEwma>` and report each latency; half
//! way through, one backend starts taking 80 ms. The per-backend shares before and after show
//! the traffic moving off it within its first slow answers; round robin, run the same way for
//! comparison, keeps sending it a third.
//!
//! Run it with `cargo run --example peak_ewma`. It exits by itself in about four seconds.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lb::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout};

/// How long each phase runs.
const PHASE: Duration = Duration::from_millis(1000);
/// Concurrent clients.
const CLIENTS: usize = 8;
const FAST: u64 = 5;
const SLOW: u64 = 80;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut backends = Vec::new();
    for name in ["alpha", "bravo", "charlie"] {
        backends.push(start_backend(name).await?);
    }
    let addrs: Vec<String> = backends.iter().map(|b| b.addr.clone()).collect();
    println!("backends: {} (each answers in {FAST} ms)", addrs.join(", "));

    for strategy in ["Peak EWMA", "round robin"] {
        for b in &backends {
            b.delay_ms.store(FAST, Ordering::Relaxed);
        }
        let (before, after) = match strategy {
            "Peak EWMA" => run(LoadBalancer::<PeakEwma>::try_from_iter(&addrs)?, &backends).await,
            _ => {
                run(
                    LoadBalancer::<RoundRobin>::try_from_iter(&addrs)?,
                    &backends,
                )
                .await
            }
        };
        println!();
        println!("{strategy}: share of requests per backend");
        println!("{:<22} {:>16} {:>16}", "backend", "all fast", "bravo slow");
        for addr in &addrs {
            let note = if *addr == backends[1].addr {
                "  <- turned slow"
            } else {
                ""
            };
            println!(
                "{addr:<22} {:>15.1}% {:>15.1}%{note}",
                share(&before, addr),
                share(&after, addr)
            );
        }
    }
    Ok(())
}

/// One backend: its address and its answer delay, which the demo changes.
struct TestBackend {
    addr: String,
    delay_ms: Arc<AtomicU64>,
}

/// Requests served per backend address.
type Counts = BTreeMap<String, u64>;

fn share(counts: &Counts, addr: &str) -> f64 {
    let total: u64 = counts.values().sum();
    100.0 * counts.get(addr).copied().unwrap_or(0) as f64 / total.max(1) as f64
}

/// Runs both phases through `lb`: all fast, then the second backend slow.
async fn run<S: BackendSelection>(
    lb: LoadBalancer<S>,
    backends: &[TestBackend],
) -> (Counts, Counts) {
    let lb = Arc::new(lb);
    let before = traffic(&lb, PHASE).await;
    backends[1].delay_ms.store(SLOW, Ordering::Relaxed);
    let after = traffic(&lb, PHASE).await;
    (before, after)
}

/// `CLIENTS` clients sending requests one after another for `duration`, each reporting how it
/// went: the request lifecycle feeds the latency estimates Peak EWMA reads.
async fn traffic<S: BackendSelection>(lb: &Arc<LoadBalancer<S>>, duration: Duration) -> Counts {
    let counts = Arc::new(Mutex::new(Counts::new()));
    let end = Instant::now() + duration;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (lb, counts) = (Arc::clone(lb), Arc::clone(&counts));
            tokio::spawn(async move {
                while Instant::now() < end {
                    let Some(pick) = lb.select(b"") else { break };
                    let addr = pick.addr.to_string();
                    let started = Instant::now();
                    match request(&addr).await {
                        Ok(_) => {
                            pick.report(Outcome::Success, started.elapsed());
                            *counts
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .entry(addr)
                                .or_default() += 1;
                        }
                        Err(_) => pick.report(Outcome::Failure, started.elapsed()),
                    }
                }
            })
        })
        .collect();
    for client in clients {
        let _ = client.await;
    }
    counts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// One request: connect, read the backend's name, with a deadline and a cap on the bytes read.
async fn request(addr: &str) -> Result<String, BoxError> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let mut name = Vec::new();
        (&mut stream).take(64).read_to_end(&mut name).await?;
        Ok::<_, BoxError>(String::from_utf8_lossy(&name).trim().to_owned())
    };
    timeout(Duration::from_secs(1), exchange).await?
}

/// A backend that answers each connection with its name after its current delay.
async fn start_backend(name: &'static str) -> Result<TestBackend, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let delay_ms = Arc::new(AtomicU64::new(FAST));
    let delay = Arc::clone(&delay_ms);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let wait = Duration::from_millis(delay.load(Ordering::Relaxed));
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                let _ = stream.write_all(format!("{name}\n").as_bytes()).await;
            });
        }
    });
    Ok(TestBackend { addr, delay_ms })
}
