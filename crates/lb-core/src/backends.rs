//! [`Backends`]: where a load balancer's backends come from, their health, and a view of the
//! current set.

use std::fmt;
use std::sync::Arc;

use crate::backend::Backend;
use crate::discovery::Discovered;
use crate::health::{HealthRegistry, InitialHealth, Registrar};
use crate::hooks::BackendsLink;
use crate::pool::Pool;
use crate::set::BackendSet;
use crate::state::{BackendState, Enablement};

/// Where the current set is kept: the load balancer's published snapshot, read through this
/// trait so that `Backends` needs no strategy type.
pub(crate) trait CurrentSet: Send + Sync {
    /// The current set.
    fn current(&self) -> Arc<BackendSet>;
    /// Publishes `set`, which has the same backends as `current` (fresh states after a health
    /// configuration change), keeping everything else.
    fn replace(&self, set: BackendSet, current: &BackendSet);
}

/// The set of a `Backends` not yet given to a load balancer.
struct Detached(arc_swap::ArcSwap<BackendSet>);

impl CurrentSet for Detached {
    fn current(&self) -> Arc<BackendSet> {
        self.0.load_full()
    }

    fn replace(&self, set: BackendSet, _current: &BackendSet) {
        // Not published yet: the load balancer gives the weights when it takes the set.
        self.0.store(Arc::new(set));
    }
}

/// The membership side of a load balancer: the discovery source, the health registry, and a view
/// of the current [`BackendSet`] with one runtime state per backend.
///
/// Configure it (health check, registry, initial health) before handing it to a
/// [`LoadBalancer`](crate::LoadBalancer); the setters take `&mut self` for that reason. Once it
/// is inside a load balancer ([`LoadBalancer::backends`](crate::LoadBalancer::backends)), it is a
/// view of the load balancer's published set: `get_backend`, `ready` and `state` read the same
/// generation `select` picks from, and nothing keeps a copy of it.
pub struct Backends {
    pub(crate) registry: HealthRegistry,
    pub(crate) shared_registry: bool,
    pub(crate) current: Arc<dyn CurrentSet>,
    /// The readiness accounting of the load balancer these backends belong to; every state
    /// counts in it.
    pub(crate) pool: Arc<Pool>,
    /// The async side's part: the discovery source, and the count of administrative changes
    /// ([`Backends::set_enablement`]) for consumers that follow which backends are present
    /// (lb-tower's `discover`) between publications.
    pub(crate) link: BackendsLink,
}

impl Backends {
    /// A fixed set of backends, present at once. Updates leave it unchanged; use a discovery
    /// source (such as lb-discovery-static's `Static`) for a set that changes at run time, or
    /// [`LoadBalancer::apply`](crate::LoadBalancer::apply).
    pub fn fixed(backends: impl IntoIterator<Item = Backend>) -> Self {
        let registry = HealthRegistry::new();
        let pool = Arc::new(Pool::default());
        let (set, _) = BackendSet::next(
            &Discovered::new(backends),
            &BackendSet::empty(),
            Registrar::new(&registry, true),
            &pool,
        );
        let current: Arc<dyn CurrentSet> = Arc::new(Detached(arc_swap::ArcSwap::from_pointee(set)));
        registry.own(&current);
        Backends {
            registry,
            shared_registry: false,
            current,
            pool,
            link: BackendsLink::fixed(),
        }
    }

    /// Makes the view read `current` (the load balancer's published snapshot).
    pub(crate) fn attach(&mut self, current: Arc<dyn CurrentSet>) {
        if !self.shared_registry {
            self.registry.own(&current);
        }
        self.current = current;
    }

    /// Where this load balancer's new backends get their health: their own states with its
    /// private registry, the registry's cells with a shared one.
    pub(crate) fn registrar(&self) -> Registrar<'_> {
        Registrar::new(&self.registry, !self.shared_registry)
    }

    /// Sets the health backends start in (see [`InitialHealth`]); applies to the current set too.
    pub fn set_initial_health(&mut self, initial: InitialHealth) {
        self.registry.set_initial_health(initial);
        self.reregister(!self.shared_registry);
    }

    /// Uses a shared registry: its probe and schedule apply, and every load balancer on it
    /// shares one probe per backend. The load balancer's own background service then does not
    /// run health checks; run the registry with `HealthRegistry::spawn`.
    pub fn with_health_registry(mut self, registry: HealthRegistry) -> Self {
        self.registry = registry;
        self.shared_registry = true;
        self.reregister(false);
        self
    }

    /// Gives every backend of the current set fresh state in the registry (keeping its
    /// enablement), after a health configuration change.
    pub(crate) fn reregister(&mut self, fresh: bool) {
        let current = self.current.current();
        let next = current.reregister(self.registrar(), fresh, &self.pool);
        self.current.replace(next, &current);
    }

    /// The health registry (private unless one was given).
    pub fn health_registry(&self) -> &HealthRegistry {
        &self.registry
    }

    /// Whether the registry is shared with other load balancers.
    pub fn has_shared_registry(&self) -> bool {
        self.shared_registry
    }

    /// The current set.
    pub fn get_backend(&self) -> Arc<BackendSet> {
        self.current.current()
    }

    /// The state of `backend` in the current set.
    pub fn state(&self, backend: &Backend) -> Option<Arc<BackendState>> {
        self.current.current().state_of(&backend.addr).cloned()
    }

    /// Whether `backend` is in the current set and ready ([`BackendState::is_ready`]: healthy,
    /// enabled and not ejected by passive health).
    pub fn ready(&self, backend: &Backend) -> bool {
        self.current
            .current()
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
        match self.current.current().state_of(&backend.addr) {
            Some(state) => {
                state.set_enablement(enablement);
                self.link.admin_changed();
                true
            }
            None => false,
        }
    }

    /// Sets the health of `backend` directly, for passive health signals. With a shared
    /// registry this applies to every load balancer that shares the backend. Returns `false` if
    /// the backend is not in the current set.
    pub fn set_health(&self, backend: &Backend, healthy: bool) -> bool {
        self.current.current().contains(&backend.addr) && self.registry.set_health(backend, healthy)
    }
}

impl fmt::Debug for Backends {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backends")
            .field("has_discovery", &self.link.has_discovery())
            .field("registry", &self.registry)
            .field("shared_registry", &self.shared_registry)
            .field("set", &self.current.current())
            .finish()
    }
}
