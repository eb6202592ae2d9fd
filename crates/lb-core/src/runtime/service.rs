//! The background service: discovery and health checks on their own schedules.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::discovery::ChangeSubscription;
use crate::backoff::Backoff;
use crate::error::UpdateError;
use crate::load_balancer::LoadBalancer;
use crate::selection::BackendSelection;
use crate::snapshot::Snapshot;

/// The first wait before retrying a failed discovery when no schedule says otherwise.
const RETRY_MIN: Duration = Duration::from_millis(100);
/// The longest wait between retries of a failing discovery.
const RETRY_MAX: Duration = Duration::from_secs(30);

/// What a load balancer has published, for those who wait on it: whether a set was published
/// (readiness) and the generation of the latest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mark {
    pub(crate) ready: bool,
    pub(crate) generation: u64,
}

/// The sending side of [`Mark`]s, kept by the load balancer.
#[derive(Debug)]
pub(crate) struct Published {
    tx: watch::Sender<Mark>,
}

impl Published {
    /// A load balancer over a fixed set is ready at once (if its selector was built); one over a
    /// discovery source after its first update.
    pub(crate) fn new<S>(first: &Snapshot<S>, has_discovery: bool) -> Self {
        let ready = !has_discovery && first.selectors.is_some();
        Published {
            tx: watch::Sender::new(Mark {
                ready,
                generation: first.set.generation(),
            }),
        }
    }

    /// A set of `generation` was published.
    pub(crate) fn published(&self, generation: u64) {
        self.tx.send_replace(Mark {
            ready: true,
            generation,
        });
    }

    /// The load balancer is ready (a fixed set whose update found nothing to do).
    pub(crate) fn ready(&self) {
        self.tx
            .send_if_modified(|mark| !std::mem::replace(&mut mark.ready, true));
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Mark> {
        self.tx.subscribe()
    }
}

/// A running background service (from [`LoadBalancer::spawn`] or
/// [`HealthRegistry::spawn`](crate::HealthRegistry::spawn)).
///
/// Dropping the handle detaches the service, as dropping a tokio `JoinHandle` does; call
/// [`ServiceHandle::shutdown`] to stop it.
pub struct ServiceHandle {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    ready: Option<watch::Receiver<Mark>>,
}

impl ServiceHandle {
    /// Spawns `run(shutdown)` on the current runtime.
    pub(crate) fn spawn_with<F, Fut>(run: F) -> Self
    where
        F: FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = Box::pin(async move {
            // A dropped handle detaches the service rather than stopping it.
            if stopped.await.is_err() {
                std::future::pending::<()>().await;
            }
        });
        ServiceHandle {
            stop: Some(stop),
            task: tokio::spawn(run(shutdown)),
            ready: None,
        }
    }

    /// Resolves once the service has published its first backend set (at once for a registry's
    /// service, or when the service has ended).
    pub async fn ready(&self) {
        if let Some(ready) = &self.ready {
            let mut ready = ready.clone();
            // An error means the load balancer is gone, so the service has ended: nothing to wait for.
            let _ = ready.wait_for(|mark| mark.ready).await;
        }
    }

    /// Whether the service has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops the service and waits for it to end. In-flight probes and discovery calls are
    /// cancelled at their next await point.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            // The task may already have ended; then there is nobody to tell.
            let _ = stop.send(());
        }
        // A panic inside the service has already been reported by tokio; there is nothing to
        // add here, and the service is stopped either way.
        let _ = (&mut self.task).await;
    }
}

impl fmt::Debug for ServiceHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceHandle")
            .field("finished", &self.task.is_finished())
            .finish()
    }
}

async fn sleep_or_pending(wait: Option<Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// Waits for a change signal; `false` when the source can never signal again.
async fn changed_or_pending(subscription: &mut Option<ChangeSubscription>) -> bool {
    match subscription {
        Some(s) => s.changed().await,
        None => std::future::pending().await,
    }
}

impl<S: BackendSelection> LoadBalancer<S> {
    /// Runs discovery and health checks until `shutdown` completes.
    ///
    /// Discovery runs at once, then every `update_frequency` and whenever the source signals a
    /// change; a failed discovery keeps the last good set and is retried with exponential
    /// backoff (100 ms doubling to 30 s, never later than the next scheduled poll). Health checks
    /// start after the first published set and run every `health_check_frequency` (jittered), or
    /// once if it is `None` (as in pingora), unless the registry is shared (then it runs on its
    /// own). The two loops are independent: a slow probe never delays discovery.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::select! {
            _ = self.discovery_loop() => {}
            _ = self.health_loop() => {}
            _ = shutdown => {}
        }
        tracing::debug!("load balancer service stopped");
    }

    /// Spawns [`LoadBalancer::run`] on the current tokio runtime.
    pub fn spawn(self: &Arc<Self>) -> ServiceHandle {
        let lb = Arc::clone(self);
        let mut handle = ServiceHandle::spawn_with(move |shutdown| async move {
            lb.run(shutdown).await;
        });
        handle.ready = Some(self.published.subscribe());
        handle
    }

    async fn discovery_loop(&self) {
        let mut subscription = self.backends().discovery().and_then(|d| d.subscribe());
        let mut backoff = Backoff::new(RETRY_MIN, RETRY_MAX);
        loop {
            let wait = match self.update().await {
                Ok(()) | Err(UpdateError::Superseded) => {
                    backoff.reset();
                    self.update_frequency
                }
                Err(_) => {
                    let wait = backoff.next_delay();
                    Some(self.update_frequency.map_or(wait, |f| f.min(wait)))
                }
            };
            tokio::select! {
                _ = sleep_or_pending(wait) => {}
                alive = changed_or_pending(&mut subscription) => {
                    if !alive {
                        tracing::debug!("discovery source will send no more change signals");
                        subscription = None;
                    }
                }
            }
        }
    }

    async fn health_loop(&self) {
        let registry = self.backends().health_registry();
        if !self.backends().has_shared_registry() && registry.health_check().is_some() {
            self.wait_ready().await;
            let schedule = self.health_schedule();
            match self.health_check_frequency {
                Some(_) => registry.run_forever(&schedule).await,
                // As in pingora: without a frequency, one pass after the first set.
                None => {
                    registry.check_once(&schedule).await;
                }
            }
        }
        std::future::pending().await
    }
}
