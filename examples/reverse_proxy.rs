//! An HTTP/1.1 and h2c reverse proxy on hyper 1 and hyper-util, balanced by lb-tower's `Balance`:
//! a strategy by flag, TCP or HTTP health checks, passive health, and optional retries on
//! another backend.
//!
//! ```text
//! cargo run --example reverse_proxy -- [OPTIONS] BACKEND...     (BACKEND: IP:PORT[@WEIGHT])
//! cargo run --example reverse_proxy -- --demo [--retries]
//! cargo run --example reverse_proxy -- --status-demo [--admin ADDR]
//!
//!   --listen ADDR          where to listen (default 127.0.0.1:8080)
//!   --strategy NAME        round-robin (default), least-request, peak-ewma, or hash
//!   --hash-header NAME     the header hashed by `--strategy hash` (default x-user)
//!   --health CHECK         tcp (default), http, http:/PATH, or none; every second
//!   --retries              retry a failed idempotent request once on another backend
//!   --upstream-h2c         talk h2c to the backends instead of HTTP/1.1
//!   --admin ADDR           serve the status page there: /lb/status, /lb/status.json and
//!                          /metrics (Prometheus); --status-demo: default 127.0.0.1:9901
//!   --name NAME            the load balancer's name on the page and in metrics (proxy)
//! ```
//!
//! `--demo` starts three local backends, sends 900 requests through the proxy from HTTP/1.1 and
//! h2c clients, kills one backend a third of the way, prints what each backend served and how
//! many client requests failed, and exits. Without retries the failures are at most the
//! passive-health threshold (5) plus the requests in flight on the killed backend while its
//! failures are counted (one per other client at most); with `--retries`, none.
//!
//! `--status-demo` starts three local backends, a trickle of traffic and the status page, and
//! reads commands on standard input: `stop NAME` (alpha, bravo or charlie) stops a backend as a
//! crash would, and the page shows it turn unhealthy; `quit` ends it.

#[path = "reverse_proxy/demo.rs"]
mod demo;
#[path = "reverse_proxy/proxy.rs"]
mod proxy;
#[path = "reverse_proxy/status_demo.rs"]
mod status_demo;

use std::net::SocketAddr;

use lb::prelude::*;
use tokio::net::TcpListener;

use proxy::{Options, Strategy};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut listen: SocketAddr = "127.0.0.1:8080".parse()?;
    let mut options = Options::new(Vec::new());
    let mut demo = false;
    let mut status_demo = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut value = |name: &str| {
            rest.next()
                .cloned()
                .ok_or_else(|| format!("`{name}` needs a value"))
        };
        match arg.as_str() {
            "--demo" => demo = true,
            "--status-demo" => status_demo = true,
            "--admin" => options.admin = Some(value("--admin")?.parse()?),
            "--name" => options.name = value("--name")?,
            "--retries" => options.retries = true,
            "--upstream-h2c" => options.upstream_h2c = true,
            "--listen" => listen = value("--listen")?.parse()?,
            "--strategy" => options.strategy = value("--strategy")?.parse::<Strategy>()?,
            "--hash-header" => options.hash_header = value("--hash-header")?.parse()?,
            "--health" => options.health = value("--health")?.parse()?,
            backend => options.backends.push(parse_backend(backend)?),
        }
    }
    if status_demo {
        let admin = options
            .admin
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9901)));
        return status_demo::run(options, admin).await;
    }
    if demo {
        let report = demo::run(options.strategy, options.retries).await?;
        let title = format!(
            "reverse proxy demo ({:?}, retries {}): backend bravo killed before request 300 of 900",
            options.strategy,
            if options.retries { "on" } else { "off" }
        );
        report.print(&title);
        return Ok(());
    }
    if options.backends.is_empty() {
        return Err("give backends (IP:PORT[@WEIGHT]) or --demo".into());
    }
    if options.admin.is_some() {
        options.prometheus = Some(status_demo::install_prometheus()?);
    }
    let proxy = proxy::start(TcpListener::bind(listen).await?, options).await?;
    println!("proxying on http://{} (Ctrl-C to stop)", proxy.addr);
    if let Some(admin) = proxy.admin {
        println!("status page on http://{admin}/lb/status");
    }
    tokio::signal::ctrl_c().await?;
    proxy.stop().await;
    Ok(())
}

/// `IP:PORT` or `IP:PORT@WEIGHT`.
fn parse_backend(arg: &str) -> Result<Backend, BoxError> {
    match arg.split_once('@') {
        Some((addr, weight)) => Ok(Backend::new_with_weight(addr, weight.parse()?)?),
        None => Ok(Backend::new(arg)?),
    }
}
