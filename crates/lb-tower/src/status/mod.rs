//! A status page for people and dashboards (feature `status`): `/lb/status`, an HTML table per
//! load balancer that refreshes itself from `/lb/status.json`, and, with the `prometheus`
//! feature, `/metrics` in Prometheus' text format.
//!
//! [`StatusPage`] is a cheap, clonable handle. Mount it in any server: call
//! [`StatusPage::respond`] from a hyper `service_fn` (it answers only its own paths), or use it as
//! a tower `Service` (axum: `Router::fallback_service`, or `route_service` per path), which
//! answers 404 for any other path.
//!
//! ```
//! use std::sync::Arc;
//! use lb_core::LoadBalancer;
//! use lb_selection::RoundRobin;
//! use lb_tower::status::StatusPage;
//!
//! let api = Arc::new(LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:8001"]).unwrap());
//! let page = StatusPage::new().with_load_balancer("api", &api);
//! let request = http::Request::get("/lb/status.json").body(()).unwrap();
//! let response = page.respond(&request).expect("a path of the page");
//! assert!(response.body().contains(r#""name":"api""#));
//! assert!(page.respond(&http::Request::get("/other").body(()).unwrap()).is_none());
//! ```
//!
//! The page loads no external asset (its script and style are inline) and renders every string
//! of the JSON as text, never as markup: a probe error quoting a hostile backend cannot inject
//! anything into it.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use ::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use ::http::{Method, Request, Response, StatusCode};
use lb_core::{BackendSelection, LoadBalancer, Status};

/// The page: HTML, style and script in one file.
const PAGE: &str = include_str!("page.html");

/// The default interval of the page's refresh.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(2);

type Source = Arc<dyn Fn() -> Status + Send + Sync>;

/// A status page over named load balancers; see the [module](self).
#[derive(Clone)]
pub struct StatusPage {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    sources: Vec<(String, Source)>,
    refresh: Duration,
    /// Answers of `/lb/status.json` so far: the page shows it, so a reader (or a test) sees how
    /// many refreshes a state has been on screen.
    served: Arc<AtomicU64>,
    #[cfg(feature = "prometheus")]
    prometheus: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl Default for StatusPage {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(serde::Serialize)]
struct Json<'a> {
    refresh_seconds: f64,
    /// The number of this answer of `/lb/status.json` (from 1).
    sequence: u64,
    load_balancers: Vec<Named<'a>>,
}

#[derive(serde::Serialize)]
struct Named<'a> {
    name: &'a str,
    status: Status,
}

impl StatusPage {
    /// A page over no load balancer yet, refreshed every [`DEFAULT_REFRESH`].
    pub fn new() -> Self {
        StatusPage {
            inner: Arc::new(Inner {
                sources: Vec::new(),
                refresh: DEFAULT_REFRESH,
                served: Arc::new(AtomicU64::new(0)),
                #[cfg(feature = "prometheus")]
                prometheus: None,
            }),
        }
    }

    /// Adds a load balancer under `name` (a table of its own, in the order added).
    pub fn with_load_balancer<S>(
        mut self,
        name: impl Into<String>,
        lb: &Arc<LoadBalancer<S>>,
    ) -> Self
    where
        S: BackendSelection + Send + Sync + 'static,
    {
        let lb = Arc::clone(lb);
        let source: Source = Arc::new(move || lb.status());
        Arc::make_mut(&mut self.inner)
            .sources
            .push((name.into(), source));
        self
    }

    /// Sets how often the page fetches the JSON again (at least 100 ms).
    pub fn with_refresh(mut self, every: Duration) -> Self {
        Arc::make_mut(&mut self.inner).refresh = every.max(Duration::from_millis(100));
        self
    }

    /// Serves `/metrics` from this Prometheus recorder's handle (see
    /// `metrics_exporter_prometheus::PrometheusBuilder::install_recorder`).
    #[cfg(feature = "prometheus")]
    pub fn with_prometheus(
        mut self,
        handle: metrics_exporter_prometheus::PrometheusHandle,
    ) -> Self {
        Arc::make_mut(&mut self.inner).prometheus = Some(handle);
        self
    }

    /// The JSON of `/lb/status.json`: `{"refresh_seconds", "sequence", "load_balancers": [{"name",
    /// "status"}]}`, each status as [`LoadBalancer::status`] gives it.
    pub fn json(&self) -> String {
        let sequence = self.inner.served.fetch_add(1, Ordering::Relaxed) + 1;
        let page = Json {
            refresh_seconds: self.inner.refresh.as_secs_f64(),
            sequence,
            load_balancers: self
                .inner
                .sources
                .iter()
                .map(|(name, status)| Named {
                    name,
                    status: status(),
                })
                .collect(),
        };
        // Serializing plain structs of strings, numbers and options into a String cannot fail.
        serde_json::to_string(&page).unwrap_or_else(|_| String::from("{}"))
    }

    /// The HTML of `/lb/status`.
    pub fn html(&self) -> String {
        PAGE.replace(
            "__REFRESH_MS__",
            &self.inner.refresh.as_millis().to_string(),
        )
    }

    /// Answers a request for one of the page's paths (`GET` or `HEAD` of `/lb/status`,
    /// `/lb/status.json` and `/metrics`); `None` for any other request, so it chains with a
    /// server's own routes.
    pub fn respond<B>(&self, request: &Request<B>) -> Option<Response<String>> {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return None;
        }
        let (body, content_type) = match request.uri().path() {
            "/lb/status" | "/lb/status/" => (self.html(), "text/html; charset=utf-8"),
            "/lb/status.json" => (self.json(), "application/json"),
            "/metrics" => (self.metrics()?, "text/plain; version=0.0.4; charset=utf-8"),
            _ => return None,
        };
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Some(response)
    }

    #[cfg(feature = "prometheus")]
    fn metrics(&self) -> Option<String> {
        self.inner.prometheus.as_ref().map(|h| h.render())
    }

    #[cfg(not(feature = "prometheus"))]
    fn metrics(&self) -> Option<String> {
        None
    }
}

impl std::fmt::Debug for StatusPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.inner.sources.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("StatusPage")
            .field("load_balancers", &names)
            .field("refresh", &self.inner.refresh)
            .finish_non_exhaustive()
    }
}

/// Answers the page's paths, and 404 for any other.
impl<B> tower::Service<Request<B>> for StatusPage {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ready(Ok(self.respond(&request).unwrap_or_else(|| {
            let mut response = Response::new(String::from("not found\n"));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        })))
    }
}

#[cfg(test)]
mod tests;
