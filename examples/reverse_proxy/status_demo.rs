//! `reverse_proxy --status-demo`: three local backends behind the proxy, a trickle of traffic,
//! and the status page with Prometheus metrics. Lines on standard input drive it: `stop NAME`
//! stops a backend as a crash would, `quit` (or the end of input) ends the demo.
//! `cargo xtask screenshot` runs it to check the page in a headless browser.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lb::prelude::*;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;

use super::demo::backend;
use super::proxy::{self, Options};

/// The pause between two requests of the demo's client.
const PACE: Duration = Duration::from_millis(20);

/// Installs the Prometheus recorder (histograms with buckets for every `_seconds` metric) and
/// keeps its histograms drained.
pub(crate) fn install_prometheus() -> Result<PrometheusHandle, BoxError> {
    let buckets = [
        0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &buckets)?
        .install_recorder()?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// Runs the demo with the status page on `admin`, until `quit` or the end of standard input.
pub(crate) async fn run(mut options: Options, admin: SocketAddr) -> Result<(), BoxError> {
    options.prometheus = Some(install_prometheus()?);
    let mut backends = Vec::new();
    for name in ["alpha", "bravo", "charlie"] {
        backends.push(backend(name).await?);
    }
    options.backends = backends.iter().map(|b| Backend::from(b.addr)).collect();
    options.admin = Some(admin);
    options.health_every = Duration::from_millis(250);
    let proxy = proxy::start(TcpListener::bind("127.0.0.1:0").await?, options).await?;
    let admin = proxy.admin.ok_or("the status page was asked for")?;
    println!("status page: http://{admin}/lb/status");
    println!("metrics: http://{admin}/metrics");
    println!("proxy: http://{}/", proxy.addr);
    for b in &backends {
        println!("backend {} {}", b.name, b.addr);
    }
    println!("commands: stop NAME, quit");

    let url = format!("http://{}/", proxy.addr);
    let traffic = tokio::spawn(async move {
        let http = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        for i in 0u64.. {
            let request = http::Request::get(&url)
                .header("x-user", format!("user-{}", i % 50))
                .body(Full::new(Bytes::new()))
                .expect("a valid request");
            if let Ok(response) = http.request(request).await {
                let _ = response.into_body().collect().await;
            }
            tokio::time::sleep(PACE).await;
        }
    });

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["stop", name] => match backends.iter().find(|b| b.name == name) {
                Some(b) => {
                    b.task.abort();
                    println!("stopped {name} {}", b.addr);
                }
                None => println!("no backend {name}"),
            },
            ["quit"] => break,
            _ => println!("commands: stop NAME, quit"),
        }
    }
    traffic.abort();
    proxy.stop().await;
    for b in &backends {
        b.task.abort();
    }
    Ok(())
}
