//! Health-checks the URLs given on the command line over HTTP/1.1, HTTP/2 and gRPC, and prints
//! each one's state as it changes.
//!
//! ```text
//! cargo run --example health_urls -- [--for SECONDS] URL...
//!
//!   http://HOST:PORT/PATH     HTTP/1.1 GET, healthy on 200
//!   https://HOST:PORT/PATH    HTTPS, h2 or http/1.1 by ALPN, certificate verified
//!   h2c://HOST:PORT/PATH      HTTP/2 with prior knowledge
//!   grpc://HOST:PORT[/SVC]    grpc.health.v1 over h2c (SVC empty = the whole server)
//!   grpcs://HOST:PORT[/SVC]   the same over TLS
//!   tcp://HOST:PORT           TCP connect
//! ```
//!
//! Without URLs it starts its own demo servers on 127.0.0.1 (an HTTP/1.1 endpoint that fails
//! every other few seconds, an h2c endpoint, a gRPC health service that stops serving after a
//! while, and a port where nothing listens) and checks those. It stops after `--for` seconds
//! (default 10) or on Ctrl-C.

#[path = "health_urls/demo.rs"]
mod demo;

use std::sync::Arc;
use std::time::Duration;

use lb::health::{GrpcHealthCheck, HttpHealthCheck, TcpHealthCheck};
use lb::prelude::*;
use lb::selection::RoundRobin;
use lb::{BoxError, core::async_trait};
use tokio::time::Instant;

/// The probe of one URL, kept in its backend's extensions.
#[derive(Clone)]
struct Probe {
    url: String,
    check: Arc<dyn HealthCheck>,
}

/// Runs the probe each backend carries.
struct PerBackend;

#[async_trait]
impl HealthCheck for PerBackend {
    async fn check(&self, target: &Backend) -> Result<(), BoxError> {
        match target.ext.get::<Probe>() {
            Some(probe) => probe.check.check(target).await,
            None => Err(format!("{target} has no probe").into()),
        }
    }

    fn health_threshold(&self, _success: bool) -> usize {
        1
    }

    fn backend_summary(&self, target: &Backend) -> String {
        label(target)
    }
}

fn label(backend: &Backend) -> String {
    backend
        .ext
        .get::<Probe>()
        .map_or_else(|| backend.to_string(), |p| p.url.clone())
}

/// Turns one URL into a backend carrying its probe.
async fn backend_for(url: &str) -> Result<Backend, BoxError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} has no scheme"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = authority
        .rsplit_once(':')
        .ok_or_else(|| format!("{url:?} has no port"))?;
    let port: u16 = port.parse().map_err(|_| format!("bad port in {url:?}"))?;
    let host_name = host.trim_start_matches('[').trim_end_matches(']');
    let addr = tokio::net::lookup_host((host_name, port))
        .await?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let path = if path.is_empty() { "/" } else { path };
    let deadline = Duration::from_secs(2);
    let check: Arc<dyn HealthCheck> = match scheme {
        "http" | "https" | "h2c" => {
            let check = match scheme {
                "h2c" => HttpHealthCheck::h2c(authority)?,
                // HTTPS negotiates h2 or http/1.1 by ALPN; plain http speaks HTTP/1.1.
                _ => HttpHealthCheck::new(authority, scheme == "https")?,
            };
            Arc::new(check.with_path(path)?.with_timeouts(
                Duration::from_secs(1),
                Duration::from_secs(1),
                deadline,
            ))
        }
        "grpc" | "grpcs" => {
            let mut check =
                GrpcHealthCheck::new(path.trim_start_matches('/'))?.with_authority(authority)?;
            if scheme == "grpcs" {
                check = check.with_tls(lb::health::TlsConfig::new())?;
            }
            Arc::new(check)
        }
        "tcp" => Arc::new(TcpHealthCheck::new().with_deadline(deadline)),
        other => return Err(format!("unknown scheme {other:?} in {url:?}").into()),
    };
    Ok(Backend::from(addr).with_ext(Probe {
        url: url.to_owned(),
        check,
    }))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut run_for = Duration::from_secs(10);
    if let Some(i) = args.iter().position(|a| a == "--for") {
        let secs: u64 = args
            .get(i + 1)
            .ok_or("--for needs a number of seconds")?
            .parse()?;
        run_for = Duration::from_secs(secs);
        args.drain(i..i + 2);
    }
    let _servers = if args.is_empty() {
        let demo = demo::start().await?;
        args = demo.urls.clone();
        println!("no URLs given: checking local demo servers");
        Some(demo)
    } else {
        None
    };

    let mut backends = Vec::new();
    for url in &args {
        match backend_for(url).await {
            Ok(b) if backends.contains(&b) => {
                eprintln!("skipping {url}: another URL already probes {b}");
            }
            Ok(b) => backends.push(b),
            Err(e) => eprintln!("skipping {url}: {e}"),
        }
    }
    if backends.is_empty() {
        return Err("nothing to check".into());
    }
    for b in &backends {
        println!("checking {} ({b})", label(b));
    }

    let mut lb = LoadBalancer::<RoundRobin>::try_from_iter(backends)?;
    lb.set_health_check(Box::new(PerBackend));
    lb.health_check_frequency = Some(Duration::from_millis(500));
    lb.health_check_timeout = Duration::from_secs(3);
    lb.parallel_health_check = true;
    let lb = Arc::new(lb);
    let service = lb.spawn();
    service.ready().await;

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
                "[{:>6} ms] {:<40} {state}{why}",
                started.elapsed().as_millis(),
                label(&event.backend)
            );
        }
    });

    tokio::select! {
        _ = tokio::time::sleep(run_for) => {}
        _ = tokio::signal::ctrl_c() => println!("interrupted"),
    }
    printer.abort();
    service.shutdown().await;
    Ok(())
}
