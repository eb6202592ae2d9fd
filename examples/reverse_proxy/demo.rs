//! `reverse_proxy --demo`: three local backends, traffic through the proxy from HTTP/1.1 and h2c
//! clients, one backend killed mid-run, and what the clients saw.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use lb::prelude::*;
use tokio::net::TcpListener;
use tokio::sync::Mutex;
use tokio::task::{JoinHandle, JoinSet};

use super::proxy::{self, Options, Strategy};

/// Requests sent through the proxy in all.
const REQUESTS: u64 = 900;
/// The request before which one backend is killed.
const KILL_AT: u64 = 300;
/// Clients sending at once (half over HTTP/1.1, half over h2c).
const CLIENTS: usize = 8;
/// How long each backend takes to answer, so that requests are in flight when one dies.
const WORK: Duration = Duration::from_millis(2);
/// The passive-health threshold of the proxy (`PassiveHealth::default()`).
pub(crate) const THRESHOLD: u64 = 5;

/// What a demo run saw.
#[derive(Debug)]
pub(crate) struct Report {
    /// Requests each backend answered, by name.
    pub(crate) served: Vec<(&'static str, u64)>,
    pub(crate) killed: &'static str,
    /// Requests in flight on the killed backend when it died.
    pub(crate) in_flight_at_kill: u64,
    pub(crate) sent: u64,
    /// Client requests that did not get a 200.
    pub(crate) failed: u64,
}

/// A backend that answers 200 with its name; aborting it kills its connections.
pub(crate) struct Backend_ {
    pub(crate) name: &'static str,
    pub(crate) addr: SocketAddr,
    served: Arc<AtomicU64>,
    pub(crate) task: JoinHandle<()>,
}

pub(crate) async fn backend(name: &'static str) -> Result<Backend_, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let served = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&served);
    let task = tokio::spawn(async move {
        // Owned by the accept task: aborting it aborts every connection, as a crash would.
        let mut connections = JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let counter = Arc::clone(&counter);
            connections.spawn(async move {
                let service = service_fn(move |_req| {
                    let counter = Arc::clone(&counter);
                    async move {
                        tokio::time::sleep(WORK).await;
                        counter.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(name))))
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
            while connections.try_join_next().is_some() {}
        }
    });
    Ok(Backend_ {
        name,
        addr,
        served,
        task,
    })
}

/// Runs the demo with `strategy`, retries on or off.
pub(crate) async fn run(strategy: Strategy, retries: bool) -> Result<Report, BoxError> {
    let mut backends = Vec::new();
    for name in ["alpha", "bravo", "charlie"] {
        backends.push(backend(name).await?);
    }
    let mut options = Options::new(backends.iter().map(|b| Backend::from(b.addr)).collect());
    options.strategy = strategy;
    options.retries = retries;
    options.health_every = Duration::from_millis(250);
    let proxy = proxy::start(TcpListener::bind("127.0.0.1:0").await?, options).await?;
    let url = format!("http://{}/", proxy.addr);

    let victim = &backends[1];
    let victim_backend = Backend::from(victim.addr);
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let in_flight_at_kill = Arc::new(Mutex::new(None::<u64>));
    let proxy = Arc::new(proxy);
    let mut clients = JoinSet::new();
    for client in 0..CLIENTS {
        let h2c = client % 2 == 1;
        let (next, failed, url) = (Arc::clone(&next), Arc::clone(&failed), url.clone());
        let (proxy, in_flight_at_kill) = (Arc::clone(&proxy), Arc::clone(&in_flight_at_kill));
        let victim_task = victim.task.abort_handle();
        let victim_backend = victim_backend.clone();
        clients.spawn(async move {
            let mut builder = Client::builder(TokioExecutor::new());
            builder.http2_only(h2c);
            let http = builder.build_http::<Full<Bytes>>();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= REQUESTS {
                    return;
                }
                if i == KILL_AT {
                    let state = (proxy.state_of)(&victim_backend);
                    *in_flight_at_kill.lock().await = Some(state.map_or(0, |s| s.in_flight()));
                    victim_task.abort();
                }
                let request = http::Request::get(&url)
                    .header("x-user", format!("user-{}", i % 50))
                    .body(Full::new(Bytes::new()))
                    .expect("a valid request");
                let ok = match http.request(request).await {
                    Ok(response) => {
                        let status = response.status();
                        let _ = response.into_body().collect().await;
                        status == http::StatusCode::OK
                    }
                    Err(_) => false,
                };
                if !ok {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
    }
    while clients.join_next().await.is_some() {}
    let in_flight_at_kill = in_flight_at_kill.lock().await.unwrap_or(0);
    if let Ok(proxy) = Arc::try_unwrap(proxy) {
        proxy.stop().await;
    }
    let served = backends
        .iter()
        .map(|b| (b.name, b.served.load(Ordering::SeqCst)))
        .collect();
    for b in &backends {
        b.task.abort();
    }
    Ok(Report {
        served,
        killed: victim.name,
        in_flight_at_kill,
        sent: REQUESTS,
        failed: failed.load(Ordering::SeqCst),
    })
}

impl Report {
    /// The most client requests the kill may cost without retries: the passive-health
    /// threshold, plus the requests in flight on the backend when the threshold is reached
    /// (those in flight when it died and those picked while its failures were being counted).
    /// Each client has one request at a time, so at most one per other client is in flight then.
    pub(crate) fn bound(&self) -> u64 {
        THRESHOLD + (CLIENTS as u64 - 1)
    }

    pub(crate) fn print(&self, title: &str) {
        println!("{title}");
        for (name, served) in &self.served {
            let note = if *name == self.killed {
                " (killed mid-run)"
            } else {
                ""
            };
            println!("  {name:<8} served {served:>4}{note}");
        }
        println!(
            "  {} requests sent, {} failed ({} in flight on {} when it died); at most {}: the \
             passive-health threshold ({}) plus what can be in flight on it while it fails (one \
             request per other client, {})",
            self.sent,
            self.failed,
            self.in_flight_at_kill,
            self.killed,
            self.bound(),
            THRESHOLD,
            CLIENTS - 1
        );
    }
}
