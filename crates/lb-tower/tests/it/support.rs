//! Real peers on 127.0.0.1 for the tests: hyper servers that speak HTTP/1.1 and h2c (detected per
//! connection) and count requests and connections, tonic servers with the gRPC health service,
//! and the clients lb-tower balances over them.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use lb_core::{Backend, BoxError};
use lb_tower::ToBackend;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// How long a test waits for an event before it fails.
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);

/// Waits for `future`, failing the test after [`DEADLINE`].
pub(crate) async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Waits until `servers` have received at least `n` requests between them.
pub(crate) async fn received_total(servers: &[HttpServer], n: u64) {
    let mut seen: Vec<_> = servers
        .iter()
        .map(|s| s.counters.seen.subscribe())
        .collect();
    within("requests to arrive", async move {
        loop {
            let total: u64 = seen.iter_mut().map(|rx| *rx.borrow_and_update()).sum();
            if total >= n {
                return;
            }
            let changes = seen.iter_mut().map(|rx| Box::pin(rx.changed()));
            let _ = futures_util::future::select_all(changes).await;
        }
    })
    .await;
}

/// What a test server has seen, and how it answers.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    /// The status of every answer (200 until changed).
    pub(crate) status: AtomicU16,
    /// How long each answer waits, in milliseconds.
    pub(crate) delay_ms: AtomicU64,
    /// Requests received so far, to wait on.
    pub(crate) seen: watch::Sender<u64>,
}

/// An HTTP/1.1 + h2c server on 127.0.0.1 that answers with its own address in the body and
/// counts what it sees. Dropping it (or `stop`) closes the listener and every connection.
pub(crate) struct HttpServer {
    pub(crate) addr: SocketAddr,
    pub(crate) counters: Arc<Counters>,
    /// (opened, closed) connections.
    connections: watch::Receiver<(u64, u64)>,
    task: JoinHandle<()>,
}

impl HttpServer {
    pub(crate) async fn start() -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let counters = Arc::new(Counters {
            status: AtomicU16::new(200),
            ..Counters::default()
        });
        let (tx, connections) = watch::channel((0, 0));
        let task = tokio::spawn(accept(listener, Arc::clone(&counters), Arc::new(tx)));
        HttpServer {
            addr,
            counters,
            connections,
            task,
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        Backend::from(self.addr)
    }

    pub(crate) fn requests(&self) -> u64 {
        self.counters.requests.load(Ordering::SeqCst)
    }

    pub(crate) fn answer(&self, status: u16) {
        self.counters.status.store(status, Ordering::SeqCst);
    }

    pub(crate) fn delay(&self, delay: Duration) {
        self.counters
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// (opened, closed) connections so far.
    pub(crate) fn connections(&self) -> (u64, u64) {
        *self.connections.borrow()
    }

    /// Waits until every connection opened so far is closed, and at least `opened` were opened.
    pub(crate) async fn all_connections_closed(&self, opened: u64) {
        let mut rx = self.connections.clone();
        within("the server's connections to close", async move {
            rx.wait_for(|&(o, c)| o >= opened && o == c)
                .await
                .expect("the server task outlives the test");
        })
        .await;
    }

    /// Stops the server: the listener and every connection close.
    pub(crate) fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(
    listener: TcpListener,
    counters: Arc<Counters>,
    connections: Arc<watch::Sender<(u64, u64)>>,
) {
    // Owned here: aborting the accept task drops the set, which aborts every connection.
    let mut tasks = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        connections.send_modify(|(opened, _)| *opened += 1);
        let counters = Arc::clone(&counters);
        let connections = Arc::clone(&connections);
        let local = stream
            .local_addr()
            .expect("an accepted stream has an address");
        tasks.spawn(async move {
            let service = service_fn(move |req| answer(req, Arc::clone(&counters), local));
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
            connections.send_modify(|(_, closed)| *closed += 1);
        });
        while tasks.try_join_next().is_some() {}
    }
}

async fn answer(
    req: http::Request<Incoming>,
    counters: Arc<Counters>,
    local: SocketAddr,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    counters.requests.fetch_add(1, Ordering::SeqCst);
    counters.seen.send_modify(|n| *n += 1);
    let delay = counters.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    // Drain the request body (bounded by the tests' own small bodies).
    let _ = req.into_body().collect().await;
    let status = counters.status.load(Ordering::SeqCst);
    let mut response = http::Response::new(Full::new(Bytes::from(local.to_string())));
    *response.status_mut() = http::StatusCode::from_u16(status).expect("tests set valid statuses");
    Ok(response)
}

pub(crate) type HttpClient = ToBackend<Client<HttpConnector, Full<Bytes>>>;

/// A hyper-util client of its own for `backend`, over HTTP/1.1 or, with `h2c`, HTTP/2 with
/// prior knowledge.
pub(crate) fn client_for(backend: &Backend, h2c: bool) -> HttpClient {
    let mut builder = Client::builder(TokioExecutor::new());
    builder.http2_only(h2c);
    ToBackend::new(backend, builder.build_http())
}

pub(crate) fn get(path: &str) -> http::Request<Full<Bytes>> {
    http::Request::get(path)
        .body(Full::new(Bytes::new()))
        .expect("a valid request")
}

/// The body of a response, as text (the test servers answer with their address).
pub(crate) async fn text<B>(response: http::Response<B>) -> String
where
    B: hyper::body::Body,
    B::Error: Into<BoxError>,
{
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(Into::into)
        .expect("a readable body")
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A tonic server with the gRPC health service on 127.0.0.1, counting the requests it answers.
pub(crate) struct GrpcServer {
    pub(crate) addr: SocketAddr,
    pub(crate) requests: Arc<AtomicU64>,
    /// Kept so that the health service keeps answering SERVING.
    _reporter: tonic_health::server::HealthReporter,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl GrpcServer {
    pub(crate) async fn start() -> GrpcServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let (reporter, health) = tonic_health::server::health_reporter();
        let requests = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&requests);
        let count = tower::layer::layer_fn(move |inner| {
            let counted = Arc::clone(&counted);
            tower::util::MapRequest::new(inner, move |req: http::Request<tonic::body::Body>| {
                counted.fetch_add(1, Ordering::SeqCst);
                req
            })
        });
        let server = tonic::transport::Server::builder()
            .layer(count)
            .clone()
            .add_service(health);
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            let _ = server
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = stopped.await;
                })
                .await;
        });
        GrpcServer {
            addr,
            requests,
            _reporter: reporter,
            shutdown: Some(shutdown),
            task,
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        Backend::from(self.addr)
    }

    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Stops the server as tonic shuts down (no new connections, a GOAWAY on each open one) and
    /// waits until it has.
    pub(crate) async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = within("the server to stop", &mut self.task).await;
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A lazily connecting tonic channel to `backend`.
pub(crate) fn channel_for(backend: &Backend) -> tonic::transport::Channel {
    endpoint_for(backend).connect_lazy()
}

pub(crate) fn endpoint_for(backend: &Backend) -> tonic::transport::Endpoint {
    tonic::transport::Endpoint::from_shared(format!("http://{}", backend.addr))
        .expect("an IP backend makes a valid URI")
}
