//! [`Balance`]: a tower `Service` that sends each request to a backend picked by a
//! [`LoadBalancer`], through that backend's inner service.

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use lb_core::{BackendSelection, BoxError, LoadBalancer, Pick};
use tokio::sync::futures::OwnedNotified;
use tokio::sync::{Notify, oneshot};
use tokio::time::Sleep;
use tower::Service;

use crate::cache::Cache;
use crate::classify::{Classify, DefaultClassify};
use crate::future::ResponseFuture;
use crate::key::{NoKey, RequestKey};
use crate::layer::{BalanceLayer, Config};
use crate::maintain::Maintenance;
use crate::make::MakeBackendService;
use crate::retry::{NoRetry, RetryRequest};

/// How often a caller waiting in `poll_ready` re-checks readiness when no event woke it: an
/// operator's `set_enable` publishes no event.
const READY_RECHECK: Duration = Duration::from_secs(1);

/// A tower [`Service`] that sends each request to a backend picked by a [`LoadBalancer`], through
/// an inner service per backend made by a [`MakeBackendService`] (a closure `Fn(&Backend) ->
/// Service`). Build it with [`Balance::new`] or a [`BalanceLayer`] (the key, the classifier,
/// retries and timeouts are set there).
///
/// **Per request**, `call` picks a backend with the request's key ([`RequestKey`]; none by
/// default), takes a clone of that backend's inner service (made on first use, kept by address),
/// and returns a [`ResponseFuture`] that drives the clone to readiness, calls it, and ends the
/// request's [`Pick`] with the outcome the [`Classify`] gives (by default: an error or a 5xx is a
/// failure) and the latency from the call to the response (for HTTP, the response headers). So
/// load-aware strategies, outcome windows and passive health get every request with no code of
/// yours. A response future dropped before it completes ends its request as *cancelled*: its
/// count in flight is released, and it is neither a success nor a failure.
///
/// **`poll_ready`** is ready when the load balancer has a backend it could pick
/// ([`LoadBalancer::can_select`]: ready, kept out only by a passive-health ejection, which
/// `select` falls back to, or enabled in panic mode; a few atomic loads); otherwise it waits,
/// woken when a new set is published or a backend's health flips, and re-checks at least every
/// second. With [`BalanceLayer::fail_fast`] it is always ready and a request with no backend
/// fails at once with [`Error::NoReadyBackend`](crate::Error::NoReadyBackend) (also the answer
/// when the last ready backend goes down between `poll_ready` and `call`). The chosen backend's
/// inner service is driven to readiness inside the response future, for at most
/// [`BalanceLayer::ready_timeout`]; an inner service that fails or times out there counts as a
/// failure of its backend.
///
/// **Cheap to clone**: a clone shares the load balancer, the services and the configuration (one
/// `Arc`), so each task or connection can own one; no `Buffer` is needed. It is `Send` and `Sync`
/// when its parts are.
///
/// **Inner services** are kept while their backend is in the load balancer's set and used: a
/// background task (spawned on the tokio runtime the `Balance` is first used in, ended when the
/// last clone is dropped) follows the published sets and drops the services of backends that
/// leave, and those unused for [`BalanceLayer::idle_timeout`] (default 5 minutes). Dropping a
/// hyper-util `Client` or a tonic `Channel` closes its connections.
///
/// **Errors** are [`BoxError`]s: an [`Error`](crate::Error) of lb-tower's, or the inner
/// service's own error unchanged.
pub struct Balance<S, M, K = NoKey, C = DefaultClassify, R = NoRetry>
where
    S: BackendSelection,
    M: MakeBackendService,
{
    shared: Arc<Shared<S, M, K, C, R>>,
    /// Set while `poll_ready` waits for a backend.
    waiting: Option<Waiting>,
}

/// What a `poll_ready` that found no backend waits on.
struct Waiting {
    changed: Pin<Box<OwnedNotified>>,
    recheck: Pin<Box<Sleep>>,
}

/// The state every clone of a `Balance`, and every response future, shares.
pub(crate) struct Shared<S, M, K, C, R>
where
    S: BackendSelection,
    M: MakeBackendService,
{
    pub(crate) lb: Arc<LoadBalancer<S>>,
    pub(crate) make: M,
    pub(crate) key: K,
    pub(crate) classify: C,
    pub(crate) retry_request: R,
    pub(crate) config: Config,
    pub(crate) cache: Arc<Cache<M::Service>>,
    changed: Arc<Notify>,
    maintenance: Mutex<Option<oneshot::Receiver<()>>>,
    maintained: AtomicBool,
    /// Dropped with the shared state: that ends the maintenance task.
    _stop: oneshot::Sender<()>,
}

impl<S, M> Balance<S, M>
where
    S: BackendSelection,
    M: MakeBackendService,
    M::Service: Clone + Send + Sync + 'static,
{
    /// A `Balance` over `lb` with the defaults: no key, [`DefaultClassify`], no retries, an idle
    /// timeout of 5 minutes, a readiness wait of 10 s. Use [`BalanceLayer`] to change them.
    pub fn new(lb: Arc<LoadBalancer<S>>, make: M) -> Self {
        BalanceLayer::new(lb).build(make)
    }
}

impl<S, M, K, C, R> Balance<S, M, K, C, R>
where
    S: BackendSelection,
    M: MakeBackendService,
    M::Service: Clone + Send + Sync + 'static,
{
    pub(crate) fn from_parts(
        lb: Arc<LoadBalancer<S>>,
        make: M,
        key: K,
        classify: C,
        retry_request: R,
        config: Config,
    ) -> Self {
        let (stop, stopped) = oneshot::channel();
        let cache = Arc::new(Cache::new(lb.backends().get_backend()));
        let shared = Arc::new(Shared {
            lb,
            make,
            key,
            classify,
            retry_request,
            config,
            cache,
            changed: Arc::new(Notify::new()),
            maintenance: Mutex::new(Some(stopped)),
            maintained: AtomicBool::new(false),
            _stop: stop,
        });
        shared.maintain();
        Balance {
            shared,
            waiting: None,
        }
    }

    /// The load balancer.
    pub fn load_balancer(&self) -> &Arc<LoadBalancer<S>> {
        &self.shared.lb
    }

    /// How many backends have an inner service kept now.
    pub fn cached_services(&self) -> usize {
        self.shared.cache.len()
    }
}

impl<S, M, K, C, R> Shared<S, M, K, C, R>
where
    S: BackendSelection,
    M: MakeBackendService,
    M::Service: Clone + Send + Sync + 'static,
{
    /// Starts the maintenance task if it is not running and a tokio runtime is at hand.
    #[inline]
    fn maintain(&self) {
        if !self.maintained.load(Ordering::Relaxed) {
            self.start_maintenance();
        }
    }

    #[cold]
    #[inline(never)]
    fn start_maintenance(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // The guarded value is an `Option` taken once: a poisoned lock holds it whole.
        let mut slot = self
            .maintenance
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(stop) = slot.take() else {
            return;
        };
        self.maintained.store(true, Ordering::Relaxed);
        let task = Maintenance {
            cache: Arc::clone(&self.cache),
            changed: Arc::clone(&self.changed),
            sets: self.lb.generations(),
            health: self.lb.backends().health_watch(),
            idle: self.config.idle_timeout,
            stop,
        };
        runtime.spawn(task.run());
    }

    /// A clone of the inner service of `pick`'s backend.
    #[inline]
    pub(crate) fn service_for(&self, pick: &Pick<S>) -> Result<M::Service, BoxError> {
        self.cache
            .service(pick.set(), pick.index(), &self.make, || {
                self.lb.backends().get_backend()
            })
            .map_err(|source| {
                crate::Error::Make {
                    backend: pick.addr.clone(),
                    source,
                }
                .into()
            })
    }
}

impl<S, M, K, C, R> Balance<S, M, K, C, R>
where
    S: BackendSelection,
    M: MakeBackendService,
    M::Service: Clone + Send + Sync + 'static,
{
    fn poll_candidate(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.shared.lb.can_select() {
                self.waiting = None;
                return Poll::Ready(());
            }
            let waiting = match &mut self.waiting {
                Some(waiting) => waiting,
                None => {
                    // Registered before the check below, so that no change falls in between.
                    let waiting = self.waiting.insert(Waiting {
                        changed: Box::pin(Arc::clone(&self.shared.changed).notified_owned()),
                        recheck: Box::pin(tokio::time::sleep(READY_RECHECK)),
                    });
                    if self.shared.lb.can_select() {
                        self.waiting = None;
                        return Poll::Ready(());
                    }
                    waiting
                }
            };
            let woken = waiting.changed.as_mut().poll(cx).is_ready()
                | waiting.recheck.as_mut().poll(cx).is_ready();
            if !woken {
                return Poll::Pending;
            }
            self.waiting = None;
        }
    }
}

use std::future::Future as _;

impl<S, M, K, C, R, Req> Service<Req> for Balance<S, M, K, C, R>
where
    S: BackendSelection,
    M: MakeBackendService,
    M::Service: Service<Req> + Clone + Send + Sync + 'static,
    <M::Service as Service<Req>>::Error: Into<BoxError>,
    K: RequestKey<Req>,
    C: Classify<<M::Service as Service<Req>>::Response, <M::Service as Service<Req>>::Error>,
    R: RetryRequest<Req>,
{
    type Response = <M::Service as Service<Req>>::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, M, K, C, R, Req>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.shared.maintain();
        if self.shared.config.fail_fast {
            return Poll::Ready(Ok(()));
        }
        self.poll_candidate(cx).map(Ok)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        self.shared.maintain();
        ResponseFuture::start(Arc::clone(&self.shared), req)
    }
}

impl<S, M, K, C, R> Clone for Balance<S, M, K, C, R>
where
    S: BackendSelection,
    M: MakeBackendService,
{
    fn clone(&self) -> Self {
        Balance {
            shared: Arc::clone(&self.shared),
            waiting: None,
        }
    }
}

impl<S, M, K, C, R> fmt::Debug for Balance<S, M, K, C, R>
where
    S: BackendSelection,
    M: MakeBackendService,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Balance")
            .field("lb", &self.shared.lb)
            .field("config", &self.shared.config)
            .field("cache", &self.shared.cache)
            .field("waiting", &self.waiting.is_some())
            .finish_non_exhaustive()
    }
}
