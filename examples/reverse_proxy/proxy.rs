//! The reverse proxy: HTTP/1.1 and h2c in front, hyper-util clients behind, and lb-tower's
//! `Balance` in between (strategy, active health checks, passive health, optional retries).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName};
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use lb::health::{HttpHealthCheck, TcpHealthCheck};
use lb::metrics::Metrics;
use lb::prelude::*;
use lb::selection::{Consistent, LeastRequest, PeakEwma, RoundRobin};
use lb::tower::status::StatusPage;
use lb::tower::{BalanceLayer, Header, Idempotent, Retries, ToBackend};
use lb::{BackendState, ServiceHandle};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// The largest request body the proxy buffers (it buffers bodies so that a failed request can
/// be retried on another backend).
const MAX_BODY: usize = 1 << 20;

/// Starts the proxy with one strategy type.
type Start = fn(TcpListener, Options) -> Result<Proxy, BoxError>;

/// How backends are picked (`--strategy`): a name and the proxy built for that strategy type.
#[derive(Clone, Copy)]
pub(crate) struct Strategy {
    name: &'static str,
    start: Start,
}

impl Strategy {
    /// The one place strategies are named: a new one (`peak-ewma`) is one arm here.
    fn named(name: &str) -> Option<Strategy> {
        let (name, start): (&'static str, Start) = match name {
            "round-robin" => ("round-robin", start_with::<RoundRobin>),
            "least-request" => ("least-request", start_with::<LeastRequest>),
            "peak-ewma" => ("peak-ewma", start_with::<PeakEwma>),
            "hash" => ("hash", start_with::<Consistent>),
            _ => return None,
        };
        Some(Strategy { name, start })
    }
}

impl FromStr for Strategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Strategy::named(s).ok_or_else(|| {
            format!("unknown strategy `{s}`: round-robin, least-request, peak-ewma or hash")
        })
    }
}

impl std::fmt::Debug for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// The active health check (`--health`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Health {
    None,
    Tcp,
    /// `GET` of this path over HTTP/1.1, healthy on 2xx.
    Http(String),
}

impl FromStr for Health {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Health::None),
            "tcp" => Ok(Health::Tcp),
            "http" => Ok(Health::Http("/".to_owned())),
            other => match other.strip_prefix("http:") {
                Some(path) if path.starts_with('/') => Ok(Health::Http(path.to_owned())),
                _ => Err(format!(
                    "unknown health check `{other}`: none, tcp, http or http:/PATH"
                )),
            },
        }
    }
}

/// What the proxy is asked to do.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    /// The load balancer's name on the status page and in metrics (`lb="proxy"`).
    pub(crate) name: String,
    /// Where to serve the status page (`/lb/status`, `/lb/status.json`, `/metrics`); none when
    /// `None`.
    pub(crate) admin: Option<SocketAddr>,
    /// How often the status page refreshes itself.
    pub(crate) refresh: Duration,
    /// The installed Prometheus recorder, for `/metrics`.
    pub(crate) prometheus: Option<PrometheusHandle>,
    pub(crate) backends: Vec<Backend>,
    pub(crate) strategy: Strategy,
    pub(crate) hash_header: HeaderName,
    pub(crate) health: Health,
    pub(crate) health_every: Duration,
    /// Retry failed idempotent requests once on another backend.
    pub(crate) retries: bool,
    /// Speak h2c to the backends instead of HTTP/1.1.
    pub(crate) upstream_h2c: bool,
}

impl Options {
    pub(crate) fn new(backends: Vec<Backend>) -> Self {
        Options {
            name: "proxy".to_owned(),
            admin: None,
            refresh: lb::tower::status::DEFAULT_REFRESH,
            prometheus: None,
            backends,
            // `named` has an arm for this name.
            strategy: Strategy::named("round-robin").expect("a built-in strategy"),
            hash_header: HeaderName::from_static("x-user"),
            health: Health::Tcp,
            health_every: Duration::from_secs(1),
            retries: false,
            upstream_h2c: false,
        }
    }
}

/// Finds a backend's state in the proxy's load balancer (whatever its strategy type).
pub(crate) type StateOf = Box<dyn Fn(&Backend) -> Option<Arc<BackendState>> + Send + Sync>;

/// A running proxy; it stops when dropped.
pub(crate) struct Proxy {
    pub(crate) addr: SocketAddr,
    /// Where the status page is served, when asked for.
    pub(crate) admin: Option<SocketAddr>,
    /// The state of a backend in the proxy's load balancer.
    pub(crate) state_of: StateOf,
    task: JoinHandle<()>,
    admin_task: Option<JoinHandle<()>>,
    background: Option<ServiceHandle>,
}

impl Proxy {
    pub(crate) async fn stop(mut self) {
        self.task.abort();
        if let Some(admin) = self.admin_task.take() {
            admin.abort();
        }
        if let Some(background) = self.background.take() {
            background.shutdown().await;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(admin) = &self.admin_task {
            admin.abort();
        }
    }
}

/// Starts the proxy on `listener`.
pub(crate) async fn start(listener: TcpListener, options: Options) -> Result<Proxy, BoxError> {
    (options.strategy.start)(listener, options)
}

fn start_with<S: BackendSelection>(
    listener: TcpListener,
    options: Options,
) -> Result<Proxy, BoxError> {
    let addr = listener.local_addr()?;
    let mut lb = LoadBalancer::<S>::try_from_iter(options.backends.clone())?;
    match &options.health {
        Health::None => {}
        Health::Tcp => lb.set_health_check(Box::new(
            TcpHealthCheck::new().with_connect_timeout(Duration::from_millis(500)),
        )),
        Health::Http(path) => {
            lb.set_health_check(Box::new(HttpHealthCheck::new("", false)?.with_path(path)?))
        }
    }
    lb.health_check_frequency = Some(options.health_every);
    // Passive health: 5 failed requests in a row eject a backend for 30 s (then longer).
    lb.set_passive_health(Some(PassiveHealth::default()));
    // Metrics go to whatever recorder `main` installed (none: nothing is recorded). A load
    // balancer is named once, and this one is new.
    lb.set_metrics(Metrics::new(options.name.clone()))?;
    let lb = Arc::new(lb);
    let (admin, admin_task) = match options.admin {
        Some(at) => {
            let mut page = StatusPage::new()
                .with_load_balancer(options.name.clone(), &lb)
                .with_refresh(options.refresh);
            if let Some(handle) = options.prometheus.clone() {
                page = page.with_prometheus(handle);
            }
            let (addr, task) = serve_status(at, page)?;
            (Some(addr), Some(task))
        }
        None => (None, None),
    };
    let background = (options.health != Health::None).then(|| lb.spawn());

    let h2c = options.upstream_h2c;
    let retries = Retries::new().max_retries(u32::from(options.retries));
    let balance = BalanceLayer::new(Arc::clone(&lb))
        .key(Header::new(options.hash_header.clone()))
        .retry(Idempotent, retries)
        .fail_fast(true)
        .build(move |backend: &Backend| {
            let mut client = Client::builder(TokioExecutor::new());
            client.http2_only(h2c);
            ToBackend::new(backend, client.build_http::<Full<Bytes>>())
        });

    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let balance = balance.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| forward(balance.clone(), req));
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let states = Arc::clone(&lb);
    Ok(Proxy {
        addr,
        admin,
        admin_task,
        state_of: Box::new(move |backend| states.backends().state(backend)),
        task,
        background,
    })
}

/// Serves the status page on `at`: lb-tower's `StatusPage` is a tower `Service`, which hyper
/// serves through `TowerToHyperService` (an axum app would mount it with `fallback_service`).
fn serve_status(
    at: SocketAddr,
    page: StatusPage,
) -> Result<(SocketAddr, JoinHandle<()>), BoxError> {
    let listener = std::net::TcpListener::bind(at)?;
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener)?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let service = TowerToHyperService::new(page.clone());
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((addr, task))
}

type ProxyBody = BoxBody<Bytes, BoxError>;

/// Forwards one request through `balance` and maps lb's errors to statuses: 503 when no backend
/// is ready, 502 when the backend failed.
async fn forward<B>(balance: B, req: Request<Incoming>) -> Result<Response<ProxyBody>, Infallible>
where
    B: tower::Service<Request<Full<Bytes>>, Response = Response<Incoming>, Error = BoxError>,
{
    let (mut parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(status(StatusCode::PAYLOAD_TOO_LARGE)),
    };
    strip_hop_by_hop(&mut parts.headers);
    // The client's protocol is not the backend's: hyper-util speaks HTTP/2 to an h2c backend
    // whatever the version says, but refuses an HTTP/2 request on an HTTP/1.1 connection.
    parts.version = http::Version::HTTP_11;
    let request = Request::from_parts(parts, Full::new(body));
    match balance.oneshot(request).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Ok(Response::from_parts(
                parts,
                body.map_err(BoxError::from).boxed(),
            ))
        }
        Err(error) => match error.downcast_ref::<lb::tower::Error>() {
            Some(lb::tower::Error::NoReadyBackend) => Ok(status(StatusCode::SERVICE_UNAVAILABLE)),
            _ => {
                tracing::debug!(error = %lb::core::error_chain(error.as_ref()), "backend failed");
                Ok(status(StatusCode::BAD_GATEWAY))
            }
        },
    }
}

fn status(code: StatusCode) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::new())
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = code;
    response
}

/// Removes the headers that describe one connection, not the message (RFC 9110, 7.6.1).
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in [
        header::CONNECTION,
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}
