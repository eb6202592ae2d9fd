//! [`EndpointSliceDiscovery`]: the discovery source, and its [`Builder`].

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::runtime::watcher;
use lb_core::{Answer, BoxError, ChangeSubscription, Discovered, ServiceDiscovery};
use tokio::task::JoinHandle;

use crate::client::{build, infer_config, load_kubeconfig, wrap};
use crate::error::Error;
use crate::limits::Limits;
use crate::names::{check_namespace, check_service};
use crate::port::Port;
use crate::retry_after::RetryAfter;
use crate::shared::{Shared, WatchStatus};
use crate::slice::SERVICE_NAME_LABEL;
use crate::store::Store;
use crate::watch::{Backoff, run};

/// Backends from the EndpointSlices of one Kubernetes Service, kept current by a watch and
/// pushed to the load balancer as they change.
///
/// Build one with [`EndpointSliceDiscovery::builder`]. The watch runs on a tokio task that starts
/// when the source is built inside a runtime (else on the first
/// [`discover`](ServiceDiscovery::discover) or [`subscribe`](ServiceDiscovery::subscribe)
/// inside one) and stops when the last clone of the source is dropped.
///
/// What [`discover`](ServiceDiscovery::discover) answers:
///
/// - **before the first complete list**: it waits up to
///   [`Builder::initial_list_timeout`] for the list, then fails with [`Error::NotListed`], so
///   the load balancer stays not ready rather than publishing an empty set;
/// - **after it**: the merged set of every slice of the Service, each backend with its
///   [`Enablement`](lb_core::Enablement) (see [`conditions`](crate::conditions) for the
///   mapping) and its [`EndpointMeta`](crate::EndpointMeta) in the extensions;
/// - **during an API outage**: the last good set, unchanged, while the watch retries with
///   exponential backoff (see [`status`](Self::status) for the errors);
/// - **when the Service has more slices than [`Limits::max_slices`], or more backends than
///   [`Limits::max_backends`], or a slice larger than the API allows** (in a list or after a
///   watch event): the last good set too, never a truncated one, while the watch starts over
///   with a new list after each backoff;
/// - **after the Service is deleted** (its slices are deleted with it): an empty set, so the
///   load balancer selects nothing. A Service that has no endpoints yet is an empty set too.
///
/// The load balancer asks for less: [`discover_changes`](ServiceDiscovery::discover_changes)
/// answers only what changed since the set it holds. The watch keeps the merged set
/// incrementally, so an event that changes one endpoint of a large Service costs that endpoint
/// (and the conversion of its slice), not the Service: it is recorded as one numbered change of
/// the backends it touched, and an event that changes nothing publishes nothing. A completed
/// re-list is compared with the set it replaces once.
///
/// Kubernetes' view of a backend's state overrides a
/// [`Backends::set_enable`](lb_core::Backends::set_enable) made by the application whenever
/// Kubernetes reports that backend (it joins, or its state changes), and at every whole answer.
#[derive(Clone)]
pub struct EndpointSliceDiscovery {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    task: Mutex<Task>,
    initial_list_timeout: Duration,
}

type WatchFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

enum Task {
    /// Built outside a runtime: the watch starts at the first call inside one.
    Pending(WatchFuture),
    Running(JoinHandle<()>),
    /// Only while moving from `Pending` to `Running`.
    Starting,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let task = self.task.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Task::Running(handle) = task {
            handle.abort();
        }
    }
}

impl EndpointSliceDiscovery {
    /// A builder for the Service `service`.
    pub fn builder(service: impl Into<String>) -> Builder {
        Builder {
            service: service.into(),
            namespace: None,
            port: Port::default(),
            source: ClientSource::Infer,
            limits: Limits::default(),
            page_size: 100,
            watch_timeout: Duration::from_secs(290),
            backoff: (Duration::from_millis(500), Duration::from_secs(30)),
            initial_list_timeout: Duration::from_secs(10),
        }
    }

    /// The namespace watched.
    pub fn namespace(&self) -> &str {
        &self.inner.shared.namespace
    }

    /// The Service watched.
    pub fn service(&self) -> &str {
        &self.inner.shared.service
    }

    /// What the watch has done so far: lists, changes, errors.
    pub fn status(&self) -> WatchStatus {
        self.inner.shared.status()
    }

    /// A receiver that sees every change of [`status`](Self::status), for health endpoints and
    /// tests that wait for the watch to reach a state.
    pub fn status_watch(&self) -> tokio::sync::watch::Receiver<WatchStatus> {
        self.inner.shared.status_receiver()
    }

    /// Starts the watch task if it has not started and a runtime is at hand. `false` when the
    /// task has ended (its runtime is gone).
    fn ensure_started(&self) -> bool {
        let mut task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Task::Pending(_) = &*task
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
            && let Task::Pending(future) = std::mem::replace(&mut *task, Task::Starting)
        {
            *task = Task::Running(runtime.spawn(future));
        }
        !matches!(&*task, Task::Running(handle) if handle.is_finished())
    }

    /// What `read` reads from the published set, once there is one: at once after the first
    /// list, else after waiting for it up to the initial list timeout.
    async fn when_listed<T>(&self, read: impl Fn(&Shared) -> Option<T>) -> Result<T, BoxError> {
        let running = self.ensure_started();
        if let Some(answer) = read(&self.inner.shared) {
            return Ok(answer);
        }
        if !running {
            return Err(Error::WatchStopped {
                namespace: self.namespace().to_owned(),
                service: self.service().to_owned(),
            }
            .into());
        }
        let mut status = self.inner.shared.status_receiver();
        // The sender lives in `shared`, which `self` holds: the wait ends by the list or the
        // deadline, never by a closed channel.
        let _ = tokio::time::timeout(
            self.inner.initial_list_timeout,
            status.wait_for(|s| s.listed),
        )
        .await;
        read(&self.inner.shared).ok_or_else(|| self.not_listed().into())
    }

    fn not_listed(&self) -> Error {
        Error::NotListed {
            namespace: self.namespace().to_owned(),
            service: self.service().to_owned(),
            last_error: self.status().last_error,
        }
    }
}

#[lb_core::async_trait]
impl ServiceDiscovery for EndpointSliceDiscovery {
    async fn discover(&self) -> Result<Discovered, BoxError> {
        self.when_listed(Shared::discovered).await
    }

    fn subscribe(&self) -> Option<ChangeSubscription> {
        self.ensure_started();
        Some(self.inner.shared.notifier.subscribe())
    }

    /// The changes of the set since the answer numbered `since`, as the watch recorded them
    /// event by event: a delta of the backends an event changed, [`Answer::Unchanged`] when
    /// none did, and the whole set (numbered) when `since` is `None` or older than the changes
    /// kept. Before the first list it waits as [`discover`](ServiceDiscovery::discover) does.
    async fn discover_changes(&self, since: Option<u64>) -> Result<Answer, BoxError> {
        self.when_listed(|shared| shared.answer(since)).await
    }
}

impl fmt::Debug for EndpointSliceDiscovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointSliceDiscovery")
            .field("namespace", &self.namespace())
            .field("service", &self.service())
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

/// Where the builder gets its Kubernetes client.
enum ClientSource {
    Infer,
    Kubeconfig {
        path: Option<PathBuf>,
        context: Option<String>,
    },
    Config(Box<kube::Config>),
    Client(kube::Client),
}

/// Configures an [`EndpointSliceDiscovery`].
///
/// ```no_run
/// # async fn f() -> Result<(), lb_discovery_k8s::Error> {
/// use std::time::Duration;
/// use lb_discovery_k8s::{EndpointSliceDiscovery, Port};
///
/// let discovery = EndpointSliceDiscovery::builder("web")
///     .namespace("prod")
///     .port(Port::name("http"))
///     .initial_list_timeout(Duration::from_secs(5))
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[must_use]
pub struct Builder {
    service: String,
    namespace: Option<String>,
    port: Port,
    source: ClientSource,
    limits: Limits,
    page_size: u32,
    watch_timeout: Duration,
    backoff: (Duration, Duration),
    initial_list_timeout: Duration,
}

impl Builder {
    /// The namespace of the Service. Default: the client's default namespace (the kubeconfig
    /// context's namespace, or the pod's own namespace in a cluster, else `default`).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// The port of the backends. Default: [`Port::Only`].
    pub fn port(mut self, port: impl Into<Port>) -> Self {
        self.port = port.into();
        self
    }

    /// Uses this client, its requests bounded by [`Builder::limits`] (a deadline and a byte
    /// bound per request, and the early end of a watch) around whatever the client does itself.
    ///
    /// A client built from a `kube::Config` as kube makes it (`default_retry` on) retries `429`,
    /// `503` and `504` answers by itself, out of this source's sight, until it gives up or the
    /// request deadline passes: an outage then shows late in [`EndpointSliceDiscovery::status`],
    /// as the deadline or the last answer, and is not paced by [`Builder::backoff`]. A retry
    /// layer cannot be taken out of a built client, so prefer [`Builder::config`] (this crate
    /// builds the client with no retries of its own), or build yours with
    /// `default_retry = false`.
    pub fn client(mut self, client: kube::Client) -> Self {
        self.source = ClientSource::Client(client);
        self
    }

    /// Builds the client from this configuration (for example `kube::Config::new(url)` to point
    /// at an API server by URL), with [`Builder::limits`] and without kube's own retries.
    /// Default: the ambient configuration ([`infer_config`]), kubeconfig first, then in-cluster.
    pub fn config(mut self, config: kube::Config) -> Self {
        self.source = ClientSource::Config(Box::new(config));
        self
    }

    /// Builds the client from the kubeconfig file at `path` rather than from `$KUBECONFIG` or
    /// `~/.kube/config`, with its current context unless [`Builder::context`] names another.
    pub fn kubeconfig(mut self, path: impl Into<PathBuf>) -> Self {
        let context = match self.source {
            ClientSource::Kubeconfig { context, .. } => context,
            _ => None,
        };
        self.source = ClientSource::Kubeconfig {
            path: Some(path.into()),
            context,
        };
        self
    }

    /// Builds the client from the context `context` of the kubeconfig (the file of
    /// [`Builder::kubeconfig`], else `$KUBECONFIG`, else `~/.kube/config`), rather than from its
    /// current context. There is no in-cluster fallback: the context must exist.
    ///
    /// The last of [`client`](Self::client), [`config`](Self::config) and
    /// [`kubeconfig`](Self::kubeconfig) or [`context`](Self::context) called decides where the
    /// client comes from.
    pub fn context(mut self, context: impl Into<String>) -> Self {
        let path = match self.source {
            ClientSource::Kubeconfig { path, .. } => path,
            _ => None,
        };
        self.source = ClientSource::Kubeconfig {
            path,
            context: Some(context.into()),
        };
        self
    }

    /// Bounds on the API's answers. Default: [`Limits::default`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The most slices per list page (at least 1). Default: 100.
    pub fn page_size(mut self, slices: u32) -> Self {
        self.page_size = slices.max(1);
        self
    }

    /// How long the server keeps one watch request open before the watcher starts the next
    /// (whole seconds, at least 1). Default: 290 s, as kube's watcher.
    pub fn watch_timeout(mut self, timeout: Duration) -> Self {
        self.watch_timeout = timeout.max(Duration::from_secs(1));
        self
    }

    /// The first and the longest wait before retrying a failed list or watch; the wait doubles
    /// from one to the other, with jitter, and starts over from the first after progress (a
    /// list, a change) or after a retry that stayed up for a minute. Default: 500 ms to 30 s.
    ///
    /// An answer with an error status that asks for a longer wait (`Retry-After` in seconds, or
    /// `retryAfterSeconds` in its `Status`, as with `429 Too Many Requests`) is waited for, up to
    /// the longest wait: a server asking for an hour is asked again after `max`.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff = (initial, max);
        self
    }

    /// How long [`discover`](ServiceDiscovery::discover) waits for the first list before it
    /// fails with [`Error::NotListed`]. Default: 10 s. Zero fails at once.
    pub fn initial_list_timeout(mut self, timeout: Duration) -> Self {
        self.initial_list_timeout = timeout;
        self
    }

    /// Checks the names, makes the client (loading the ambient configuration unless a client,
    /// a configuration or a kubeconfig was given) and starts the watch.
    pub async fn build(self) -> Result<EndpointSliceDiscovery, Error> {
        check_service(&self.service)?;
        if let Some(namespace) = &self.namespace {
            check_namespace(namespace)?;
        }
        // A client given whole is wrapped in the limits when the watch starts, inside a runtime
        // (wrapping spawns a task), so that `build` with a client never needs one.
        let (client, built) = match self.source {
            ClientSource::Client(client) => (client, None),
            ClientSource::Config(config) => split(build(*config, self.limits)?),
            ClientSource::Kubeconfig { path, context } => split(build(
                load_kubeconfig(path.as_deref(), context.as_deref()).await?,
                self.limits,
            )?),
            ClientSource::Infer => split(build(infer_config().await?, self.limits)?),
        };
        let namespace = match self.namespace {
            Some(namespace) => namespace,
            None => {
                let namespace = client.default_namespace().to_owned();
                check_namespace(&namespace)?;
                namespace
            }
        };
        let config = watcher::Config::default()
            .labels(&format!("{SERVICE_NAME_LABEL}={}", self.service))
            .page_size(self.page_size)
            .timeout(u32::try_from(self.watch_timeout.as_secs()).unwrap_or(u32::MAX));
        let shared = Arc::new(Shared::new(namespace.clone(), self.service.clone()));
        let (watched, limits) = (Arc::clone(&shared), self.limits);
        let store = Store::new(self.service, self.port, self.limits);
        let backoff = Backoff::new(self.backoff.0, self.backoff.1);
        let future: WatchFuture = Box::pin(async move {
            let (client, retry_after) = match built {
                Some(retry_after) => (client, retry_after),
                None => wrap(client, limits),
            };
            let api: Api<EndpointSlice> = Api::namespaced(client, &namespace);
            let watch = move || watcher(api.clone(), config.clone());
            run(watch, store, watched, backoff, retry_after).await;
        });
        let discovery = EndpointSliceDiscovery {
            inner: Arc::new(Inner {
                shared,
                task: Mutex::new(Task::Pending(future)),
                initial_list_timeout: self.initial_list_timeout,
            }),
        };
        discovery.ensure_started();
        Ok(discovery)
    }
}

/// A built client, apart from where its layer records `Retry-After`.
fn split(
    (client, retry_after): (kube::Client, Arc<RetryAfter>),
) -> (kube::Client, Option<Arc<RetryAfter>>) {
    (client, Some(retry_after))
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            ClientSource::Infer => "infer",
            ClientSource::Kubeconfig { .. } => "kubeconfig",
            ClientSource::Config(_) => "config",
            ClientSource::Client(_) => "client",
        };
        f.debug_struct("Builder")
            .field("service", &self.service)
            .field("namespace", &self.namespace)
            .field("port", &self.port)
            .field("client", &source)
            .field("limits", &self.limits)
            .field("page_size", &self.page_size)
            .field("watch_timeout", &self.watch_timeout)
            .field("backoff", &self.backoff)
            .field("initial_list_timeout", &self.initial_list_timeout)
            .finish()
    }
}
