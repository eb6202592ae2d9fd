//! [`LoadBalancerService`]: lb's load balancer as a pingora background service.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use async_trait::async_trait;
use lb_core::{BackendSelection, LoadBalancer};
use pingora_core::server::ShutdownWatch;
use pingora_core::services::ServiceReadyNotifier;
use pingora_core::services::background::{BackgroundService, GenBackgroundService};

/// lb's [`LoadBalancer`] as a pingora [`BackgroundService`]: pingora's `Server` runs its discovery
/// and health checks ([`LoadBalancer::run`]) on a runtime of its own, and stops them when the
/// server shuts down.
///
/// It dereferences to the load balancer, so the `Arc` that pingora's
/// [`GenBackgroundService::task`] hands back is what the proxy selects from, as with
/// pingora-load-balancing:
///
/// ```
/// use lb_core::LoadBalancer;
/// use lb_selection::RoundRobin;
///
/// let lb = LoadBalancer::<RoundRobin>::try_from_iter(["10.0.0.1:80", "10.0.0.2:80"])?;
/// let background = lb_pingora::background_service("health check", lb);
/// let lb = background.task(); // Arc<LoadBalancerService<RoundRobin>>, for the proxy
/// assert!(lb.select(b"").is_some());
/// // server.add_service(background);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// **Readiness.** The service tells pingora it is ready once the load balancer has published its
/// first backend set ([`LoadBalancer::wait_ready`]: at once for a fixed list, after the first
/// successful discovery otherwise). A proxy service made to depend on it
/// (`proxy_handle.add_dependency(&lb_handle)`) then starts accepting requests only when there is
/// a set to pick from. If the service stops before that, pingora is told it is ready anyway, as
/// pingora does for every service whose notifier is dropped.
///
/// **Shutdown.** The service returns as soon as pingora's shutdown watch turns `true`; probes and
/// discovery calls in progress are cancelled at their next await point. A watch whose sender is
/// gone can never signal shutdown, so the service then runs on (pingora-load-balancing's choice
/// too: a closed channel is not a request to stop).
pub struct LoadBalancerService<S: BackendSelection> {
    lb: Arc<LoadBalancer<S>>,
}

impl<S: BackendSelection> LoadBalancerService<S> {
    /// The service for `lb` (a `LoadBalancer`, or an `Arc` of one shared with other users).
    pub fn new(lb: impl Into<Arc<LoadBalancer<S>>>) -> Self {
        LoadBalancerService { lb: lb.into() }
    }

    /// The load balancer, to share beyond pingora (a tower stack, an admin endpoint).
    pub fn load_balancer(&self) -> &Arc<LoadBalancer<S>> {
        &self.lb
    }
}

impl<S: BackendSelection> Deref for LoadBalancerService<S> {
    type Target = LoadBalancer<S>;

    fn deref(&self) -> &LoadBalancer<S> {
        &self.lb
    }
}

impl<S: BackendSelection> From<LoadBalancer<S>> for LoadBalancerService<S> {
    fn from(lb: LoadBalancer<S>) -> Self {
        Self::new(lb)
    }
}

impl<S: BackendSelection> From<Arc<LoadBalancer<S>>> for LoadBalancerService<S> {
    fn from(lb: Arc<LoadBalancer<S>>) -> Self {
        Self::new(lb)
    }
}

impl<S: BackendSelection> fmt::Debug for LoadBalancerService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadBalancerService")
            .field("lb", &self.lb)
            .finish()
    }
}

#[async_trait]
impl<S: BackendSelection> BackgroundService for LoadBalancerService<S> {
    async fn start_with_ready_notifier(
        &self,
        shutdown: ShutdownWatch,
        ready_notifier: ServiceReadyNotifier,
    ) {
        let notify_when_ready = async {
            self.lb.wait_ready().await;
            ready_notifier.notify_ready();
            std::future::pending::<()>().await;
        };
        // Returns with `run`; the other branch never ends. Dropping an unused notifier there
        // signals readiness, as pingora wants.
        tokio::select! {
            () = self.lb.run(shutdown_requested(shutdown)) => {}
            () = notify_when_ready => {}
        }
    }

    async fn start(&self, shutdown: ShutdownWatch) {
        self.lb.run(shutdown_requested(shutdown)).await;
    }
}

/// Resolves when `shutdown` turns `true`; never if its sender is dropped first.
pub(crate) async fn shutdown_requested(mut shutdown: ShutdownWatch) {
    if shutdown.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A pingora background service named `name` running `lb`: pingora's
/// `background_service(name, lb)` for an lb load balancer. Add it to the `Server`, and give its
/// [`task`](GenBackgroundService::task) to the proxy.
pub fn background_service<S: BackendSelection>(
    name: &str,
    lb: impl Into<Arc<LoadBalancer<S>>>,
) -> GenBackgroundService<LoadBalancerService<S>> {
    pingora_core::services::background::background_service(name, LoadBalancerService::new(lb))
}
