//! [`BalanceLayer`]: builds [`Balance`] services and holds their configuration.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use lb_core::{BackendSelection, LoadBalancer};
use tower::Layer;

use crate::balance::Balance;
use crate::classify::DefaultClassify;
use crate::key::NoKey;
use crate::make::MakeBackendService;
use crate::retry::{NoRetry, Retries};

/// The settings of a [`Balance`] that are not its parts.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) ready_timeout: Duration,
    pub(crate) fail_fast: bool,
    pub(crate) retries: Option<Retries>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            idle_timeout: Some(Duration::from_secs(300)),
            ready_timeout: Duration::from_secs(10),
            fail_fast: false,
            retries: None,
        }
    }
}

/// A tower [`Layer`] that wraps a per-backend factory ([`MakeBackendService`]) into a
/// [`Balance`] over a load balancer, and the builder of its settings.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use lb_core::{Backend, LoadBalancer};
/// use lb_selection::Consistent;
/// use lb_tower::{BalanceLayer, Header, Idempotent, Retries};
/// use tower::Layer;
///
/// let lb = Arc::new(LoadBalancer::<Consistent>::try_from_iter(["127.0.0.1:8001"]).unwrap());
/// let layer = BalanceLayer::new(lb)
///     .key(Header::named("x-user-id").unwrap()) // consistent hashing on a header
///     .retry(Idempotent, Retries::new().max_retries(2))
///     .idle_timeout(Some(Duration::from_secs(60)));
/// // The inner services: any `Fn(&Backend) -> Service` (a client bound to the backend).
/// let balance = layer.layer(|backend: &Backend| {
///     let addr = backend.addr.to_string();
///     tower::service_fn(move |_req: http::Request<()>| {
///         let answer = http::Response::new(addr.clone());
///         async move { Ok::<_, std::convert::Infallible>(answer) }
///     })
/// });
/// # drop(balance);
/// ```
pub struct BalanceLayer<S, K = NoKey, C = DefaultClassify, R = NoRetry>
where
    S: BackendSelection,
{
    lb: Arc<LoadBalancer<S>>,
    key: K,
    classify: C,
    retry_request: R,
    config: Config,
}

impl<S: BackendSelection> BalanceLayer<S> {
    /// A layer over `lb` with the defaults (see [`Balance::new`]).
    pub fn new(lb: Arc<LoadBalancer<S>>) -> Self {
        BalanceLayer {
            lb,
            key: NoKey,
            classify: DefaultClassify,
            retry_request: NoRetry,
            config: Config::default(),
        }
    }
}

impl<S: BackendSelection, K, C, R> BalanceLayer<S, K, C, R> {
    /// Takes each request's key for hashing strategies from `key` (a
    /// [`RequestKey`](crate::RequestKey): [`Header`](crate::Header), [`Path`](crate::Path) or a
    /// closure).
    pub fn key<K2>(self, key: K2) -> BalanceLayer<S, K2, C, R> {
        BalanceLayer {
            lb: self.lb,
            key,
            classify: self.classify,
            retry_request: self.retry_request,
            config: self.config,
        }
    }

    /// Decides each request's outcome with `classify` (a [`Classify`](crate::Classify), such
    /// as a closure `Fn(&Result<Resp, E>) -> Outcome`) instead of [`DefaultClassify`].
    pub fn classify<C2>(self, classify: C2) -> BalanceLayer<S, K, C2, R> {
        BalanceLayer {
            lb: self.lb,
            key: self.key,
            classify,
            retry_request: self.retry_request,
            config: self.config,
        }
    }

    /// Retries failed requests that `request` says may be retried
    /// ([`RetryRequest`](crate::RetryRequest): [`Idempotent`](crate::Idempotent) or a closure
    /// returning a copy), each time on a backend the request has not tried, as `retries` allows.
    /// Off by default.
    pub fn retry<R2>(self, request: R2, retries: Retries) -> BalanceLayer<S, K, C, R2> {
        BalanceLayer {
            lb: self.lb,
            key: self.key,
            classify: self.classify,
            retry_request: request,
            config: Config {
                retries: Some(retries),
                ..self.config
            },
        }
    }

    /// Drops a backend's inner service when no request has used it for `idle` (checked four
    /// times per `idle`, so it goes between `idle` and 1.25 × `idle` after its last use); `None`
    /// keeps services while their backend stays in the set. Default: 5 minutes.
    pub fn idle_timeout(mut self, idle: Option<Duration>) -> Self {
        self.config.idle_timeout = idle;
        self
    }

    /// The longest a request waits for its backend's inner service to be ready; past it, the
    /// request fails with [`Error::ReadyTimeout`](crate::Error::ReadyTimeout) and counts as a
    /// failure of the backend. Default: 10 s.
    pub fn ready_timeout(mut self, wait: Duration) -> Self {
        self.config.ready_timeout = wait;
        self
    }

    /// With `true`, `poll_ready` is always ready and a request that finds no ready backend fails
    /// at once with [`Error::NoReadyBackend`](crate::Error::NoReadyBackend), as a proxy answering
    /// 503 wants; by default `poll_ready` waits for a backend, as tower's balancer does.
    pub fn fail_fast(mut self, fail_fast: bool) -> Self {
        self.config.fail_fast = fail_fast;
        self
    }

    /// The load balancer.
    pub fn load_balancer(&self) -> &Arc<LoadBalancer<S>> {
        &self.lb
    }

    /// A [`Balance`] with these settings over the inner services `make` makes.
    pub fn build<M>(self, make: M) -> Balance<S, M, K, C, R>
    where
        M: MakeBackendService,
        M::Service: Clone + Send + Sync + 'static,
    {
        Balance::from_parts(
            self.lb,
            make,
            self.key,
            self.classify,
            self.retry_request,
            self.config,
        )
    }
}

impl<S, K, C, R, M> Layer<M> for BalanceLayer<S, K, C, R>
where
    S: BackendSelection,
    K: Clone,
    C: Clone,
    R: Clone,
    M: MakeBackendService,
    M::Service: Clone + Send + Sync + 'static,
{
    type Service = Balance<S, M, K, C, R>;

    fn layer(&self, make: M) -> Self::Service {
        self.clone().build(make)
    }
}

impl<S: BackendSelection, K: Clone, C: Clone, R: Clone> Clone for BalanceLayer<S, K, C, R> {
    fn clone(&self) -> Self {
        BalanceLayer {
            lb: Arc::clone(&self.lb),
            key: self.key.clone(),
            classify: self.classify.clone(),
            retry_request: self.retry_request.clone(),
            config: self.config.clone(),
        }
    }
}

impl<S: BackendSelection, K, C, R> fmt::Debug for BalanceLayer<S, K, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BalanceLayer")
            .field("lb", &self.lb)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
