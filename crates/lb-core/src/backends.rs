//! [`Backends`]: where the backends come from, their health, and the current set.

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::backend::Backend;
use crate::discovery::Discovered;
use crate::health::HealthRegistry;
use crate::set::BackendSet;
use crate::state::{BackendState, Enablement, InitialHealth};

#[cfg(feature = "runtime")]
use crate::discovery::ServiceDiscovery;
#[cfg(feature = "runtime")]
use crate::health::{HealthCheck, HealthWatch};

/// The membership side of a load balancer: the discovery source, the health registry, and the
/// current [`BackendSet`] with one runtime state cell per backend.
///
/// Configure it (health check, registry, initial health) before handing it to a
/// [`LoadBalancer`](crate::LoadBalancer); the setters take `&mut self` for that reason.
pub struct Backends {
    #[cfg(feature = "runtime")]
    discovery: Option<Box<dyn ServiceDiscovery>>,
    registry: HealthRegistry,
    shared_registry: bool,
    set: ArcSwap<BackendSet>,
}

impl Backends {
    /// Backends that come from `discovery`. The set is empty until the first update.
    #[cfg(feature = "runtime")]
    pub fn new(discovery: Box<dyn ServiceDiscovery>) -> Self {
        Backends {
            discovery: Some(discovery),
            ..Self::fixed(std::iter::empty())
        }
    }

    /// A fixed set of backends, present at once. Updates leave it unchanged; use a discovery
    /// source (such as lb-discovery-static's `Static`) for a set that changes at run time, or
    /// [`LoadBalancer::apply`](crate::LoadBalancer::apply).
    pub fn fixed(backends: impl IntoIterator<Item = Backend>) -> Self {
        let registry = HealthRegistry::new();
        let set = BackendSet::next(&Discovered::new(backends), &BackendSet::empty(), &registry);
        Backends {
            #[cfg(feature = "runtime")]
            discovery: None,
            registry,
            shared_registry: false,
            set: ArcSwap::from_pointee(set),
        }
    }

    /// Probes backends with `check`. New backends start in the registry's initial health.
    #[cfg(feature = "runtime")]
    pub fn set_health_check(&mut self, check: Box<dyn HealthCheck>) {
        self.registry.set_health_check(check);
        self.reregister(!self.shared_registry);
    }

    /// Sets the health backends start in (see [`InitialHealth`]); applies to the current set too.
    pub fn set_initial_health(&mut self, initial: InitialHealth) {
        self.registry.set_initial_health(initial);
        self.reregister(!self.shared_registry);
    }

    /// Uses a shared registry: its probe and schedule apply, and every load balancer on it
    /// shares one probe per backend. The load balancer's own background service then does not
    /// run health checks; run the registry with [`HealthRegistry::spawn`].
    pub fn with_health_registry(mut self, registry: HealthRegistry) -> Self {
        self.registry = registry;
        self.shared_registry = true;
        self.reregister(false);
        self
    }

    fn reregister(&mut self, fresh: bool) {
        let next = self.set.load().reregister(&self.registry, fresh);
        self.set = ArcSwap::from_pointee(next);
    }

    /// The health registry (private unless one was given).
    pub fn health_registry(&self) -> &HealthRegistry {
        &self.registry
    }

    /// Whether the registry is shared with other load balancers.
    pub fn has_shared_registry(&self) -> bool {
        self.shared_registry
    }

    #[cfg(feature = "runtime")]
    pub(crate) fn discovery(&self) -> Option<&dyn ServiceDiscovery> {
        self.discovery.as_deref()
    }

    /// The current set.
    pub fn get_backend(&self) -> Arc<BackendSet> {
        self.set.load_full()
    }

    pub(crate) fn publish(&self, set: Arc<BackendSet>) {
        self.set.store(set);
    }

    /// The state of `backend` in the current set.
    pub fn state(&self, backend: &Backend) -> Option<Arc<BackendState>> {
        self.set.load().state_of(&backend.addr).cloned()
    }

    /// Whether `backend` is in the current set and ready ([`BackendState::is_ready`]: healthy,
    /// enabled and not ejected by passive health).
    pub fn ready(&self, backend: &Backend) -> bool {
        self.set
            .load()
            .state_of(&backend.addr)
            .is_some_and(|s| s.is_ready())
    }

    /// Enables or disables `backend` (see [`Enablement`]). Returns `false` if it is not in the
    /// current set. The state survives updates unless the discovery source sets it.
    pub fn set_enable(&self, backend: &Backend, enabled: bool) -> bool {
        self.set_enablement(backend, Enablement::from(enabled))
    }

    /// Sets the administrative state of `backend`. Returns `false` if it is not in the current set.
    pub fn set_enablement(&self, backend: &Backend, enablement: Enablement) -> bool {
        match self.set.load().state_of(&backend.addr) {
            Some(state) => {
                state.set_enablement(enablement);
                true
            }
            None => false,
        }
    }

    /// Sets the health of `backend` directly, for passive health signals. With a shared
    /// registry this applies to every load balancer that shares the backend. Returns `false` if
    /// the backend is not in the current set.
    pub fn set_health(&self, backend: &Backend, healthy: bool) -> bool {
        self.set.load().contains(&backend.addr) && self.registry.set_health(backend, healthy)
    }

    /// Runs one health-check pass over the registry's backends now (pingora's
    /// `run_health_check`), with the default schedule's deadline and concurrency.
    #[cfg(feature = "runtime")]
    pub async fn run_health_check(&self, parallel: bool) -> crate::health::PassReport {
        let schedule = crate::health::HealthSchedule {
            parallel,
            ..Default::default()
        };
        self.registry.check_once(&schedule).await
    }

    /// A stream of health events for the registry's backends, starting with their current health.
    #[cfg(feature = "runtime")]
    pub fn health_watch(&self) -> HealthWatch {
        self.registry.watch()
    }
}

impl fmt::Debug for Backends {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Backends");
        #[cfg(feature = "runtime")]
        d.field("has_discovery", &self.discovery.is_some());
        d.field("registry", &self.registry)
            .field("shared_registry", &self.shared_registry)
            .field("set", &self.set.load())
            .finish()
    }
}
