//! tonic clients balanced by lb over three in-process tonic servers (the gRPC health service,
//! from tonic-health, whose generated code needs no protoc), two ways, with one server stopped
//! mid-run each time:
//!
//! 1. lb-tower's `Balance` over one tonic `Channel` per backend: lb picks each call's server
//!    (round robin here), and every call's outcome feeds passive health.
//! 2. lb-tower's `discover` adapter into tonic's own `Channel::balance_channel`: lb's discovery
//!    and active health checks (TCP here) decide which servers tonic's balancer sees.
//!
//! `cargo run --example grpc_balance`; it exits by itself after about two seconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use lb::Address;
use lb::health::TcpHealthCheck;
use lb::prelude::*;
use lb::selection::RoundRobin;
use lb::tower::Balance;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tower::discover::Change;

/// Calls made in each part; the second server stops halfway.
const CALLS: u64 = 60;
/// Time between calls.
const PACE: Duration = Duration::from_millis(10);

/// A tonic server with the gRPC health service, counting the calls it answers.
struct Server {
    name: &'static str,
    backend: Backend,
    calls: Arc<AtomicU64>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(name: &'static str) -> Result<Server, BoxError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let backend = Backend::from(listener.local_addr()?);
        let (_reporter, health) = tonic_health::server::health_reporter();
        let calls = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&calls);
        let count = tower::layer::layer_fn(move |inner| {
            let counted = Arc::clone(&counted);
            tower::util::MapRequest::new(inner, move |req: http::Request<tonic::body::Body>| {
                counted.fetch_add(1, Ordering::SeqCst);
                req
            })
        });
        let router = tonic::transport::Server::builder()
            .layer(count)
            .clone()
            .add_service(health);
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            // The reporter lives as long as the server: the service answers SERVING.
            let _reporter = _reporter;
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            let _ = router
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Server {
            name,
            backend,
            calls,
            shutdown: Some(shutdown),
            task,
        })
    }

    /// Stops the server as tonic shuts down: no new connections, a GOAWAY on the open ones.
    async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn servers() -> Result<Vec<Server>, BoxError> {
    let mut servers = Vec::new();
    for name in ["alpha", "bravo", "charlie"] {
        servers.push(Server::start(name).await?);
    }
    Ok(servers)
}

fn endpoint(backend: &Backend) -> Endpoint {
    // Backends here are IP addresses, which always make a valid URI.
    Endpoint::from_shared(format!("http://{}", backend.addr)).expect("an IP address is a valid URI")
}

/// Calls `Check` `CALLS` times through `client`, stopping `servers[1]` halfway; returns the
/// failed calls.
async fn traffic<T>(client: &mut HealthClient<T>, servers: &mut [Server]) -> u64
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<BoxError>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<BoxError> + Send,
{
    let mut failed = 0;
    for i in 0..CALLS {
        if i == CALLS / 2 {
            servers[1].stop().await;
            println!(
                "  -- {} stopped after {} calls",
                servers[1].name,
                servers[1].calls()
            );
        }
        let call = client.check(HealthCheckRequest {
            service: String::new(),
        });
        if !matches!(
            tokio::time::timeout(Duration::from_secs(5), call).await,
            Ok(Ok(_))
        ) {
            failed += 1;
        }
        tokio::time::sleep(PACE).await;
    }
    failed
}

fn print(servers: &[Server], failed: u64) {
    for server in servers {
        println!("  {:<8} answered {:>3}", server.name, server.calls());
    }
    println!("  {CALLS} calls, {failed} failed");
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    println!("1. Balance over one tonic Channel per server (round robin, passive health)");
    let mut servers = servers().await?;
    let lb = LoadBalancer::<RoundRobin>::try_from_iter(servers.iter().map(|s| s.backend.clone()))?;
    lb.set_passive_health(Some(PassiveHealth::default()));
    let lb = Arc::new(lb);
    let balance = Balance::new(Arc::clone(&lb), |b: &Backend| endpoint(b).connect_lazy());
    let failed = traffic(&mut HealthClient::new(balance), &mut servers).await;
    print(&servers, failed);
    let bravo = lb.backends().state(&servers[1].backend);
    println!(
        "  bravo ejected by passive health: {}",
        bravo.is_some_and(|s| s.is_ejected())
    );

    println!(
        "\n2. lb's discover adapter into tonic's Channel::balance_channel (TCP health checks)"
    );
    let mut servers = self::servers().await?;
    let mut lb =
        LoadBalancer::<RoundRobin>::try_from_iter(servers.iter().map(|s| s.backend.clone()))?;
    lb.set_health_check(Box::new(
        TcpHealthCheck::new()
            .with_connect_timeout(Duration::from_millis(100))
            .with_thresholds(1, 1),
    ));
    lb.health_check_frequency = Some(Duration::from_millis(100));
    let lb = Arc::new(lb);
    let background = lb.spawn();
    let (channel, sender) = Channel::balance_channel::<Address>(16);
    let mut changes = lb::tower::discover_with(&lb, endpoint);
    let forward = tokio::spawn(async move {
        while let Some(Ok(change)) = changes.next().await {
            // tonic has a `Change` of its own, with the same two cases.
            let change = match change {
                Change::Insert(addr, endpoint) => {
                    println!("  ++ {addr} inserted");
                    tonic::transport::channel::Change::Insert(addr, endpoint)
                }
                Change::Remove(addr) => {
                    println!("  -- {addr} removed");
                    tonic::transport::channel::Change::Remove(addr)
                }
            };
            if sender.send(change).await.is_err() {
                return;
            }
        }
    });
    let failed = traffic(&mut HealthClient::new(channel), &mut servers).await;
    print(&servers, failed);
    forward.abort();
    background.shutdown().await;
    Ok(())
}
