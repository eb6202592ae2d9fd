//! [`HealthRegistry`]: one health cell (and one probe) per distinct backend.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use super::cell::{HealthCell, HealthKey, InitialHealth};
use crate::backend::Backend;

type KeyFn = Arc<dyn Fn(&Backend) -> HealthKey + Send + Sync>;

/// Health cells shared by key, and (with the `runtime` feature) the probe that feeds them.
///
/// Every load balancer has a registry. By default it is private: it probes that load balancer's
/// backends, on the schedule of that load balancer's background service. A registry can also be
/// shared: several load balancers over overlapping backend sets
/// ([`Backends::with_health_registry`](crate::Backends::with_health_registry)) then share one
/// probe per backend, and the registry runs on its own schedule
/// ([`HealthRegistry::spawn`]). Backends are matched by address, or by a key of your choice
/// ([`HealthRegistry::with_key`]); with a custom key, the probe targets the first backend
/// registered under that key.
///
/// A registry forgets a backend when no load balancer holds it any more.
#[derive(Clone)]
pub struct HealthRegistry {
    pub(crate) inner: Arc<RegistryInner>,
}

pub(crate) struct RegistryInner {
    cells: Mutex<Cells>,
    key_fn: Option<KeyFn>,
    initial: Mutex<InitialHealth>,
    /// The probe and the health events: the async side, in `runtime/`.
    #[cfg(feature = "runtime")]
    pub(crate) probe: crate::runtime::Probe,
}

#[derive(Default)]
struct Cells {
    map: HashMap<HealthKey, Weak<HealthCell>>,
    /// Insertions since dead entries were last pruned; pruning when this exceeds the map's size
    /// keeps registration amortised O(1).
    inserted_since_prune: usize,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing in these critical sections leaves the data half-updated, so a poisoned lock is
    // still consistent and is used as is.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Default for HealthRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl HealthRegistry {
    /// A registry without a probe: every backend is healthy unless the application says
    /// otherwise.
    pub fn new() -> Self {
        Self::build(None)
    }

    fn build(key_fn: Option<KeyFn>) -> Self {
        HealthRegistry {
            inner: Arc::new(RegistryInner {
                cells: Mutex::new(Cells::default()),
                key_fn,
                initial: Mutex::new(InitialHealth::default()),
                #[cfg(feature = "runtime")]
                probe: crate::runtime::Probe::default(),
            }),
        }
    }

    /// Matches backends by `key` instead of by address. Call it before the registry is used:
    /// it returns a new, empty registry with the same probe and initial health.
    pub fn with_key(self, key: impl Fn(&Backend) -> HealthKey + Send + Sync + 'static) -> Self {
        let registry = Self::build(Some(Arc::new(key)));
        registry.set_initial_health(self.initial_health());
        #[cfg(feature = "runtime")]
        registry.inner.probe.copy_check_from(&self.inner.probe);
        registry
    }

    /// Whether a probe is set (only with the `runtime` feature can one be).
    pub(crate) fn has_health_check(&self) -> bool {
        #[cfg(feature = "runtime")]
        let has = self.inner.probe.has_check();
        #[cfg(not(feature = "runtime"))]
        let has = false;
        has
    }

    /// Sets the health of backends registered from now on (see [`InitialHealth`]).
    pub fn set_initial_health(&self, initial: InitialHealth) {
        *lock(&self.inner.initial) = initial;
    }

    /// The health new backends start in.
    pub fn initial_health(&self) -> InitialHealth {
        *lock(&self.inner.initial)
    }

    /// The key `backend` is registered under.
    pub fn key_of(&self, backend: &Backend) -> HealthKey {
        match &self.inner.key_fn {
            Some(f) => f(backend),
            None => HealthKey::from(backend.addr.clone()),
        }
    }

    /// The number of distinct probe targets currently held by some load balancer.
    pub fn len(&self) -> usize {
        lock(&self.inner.cells)
            .map
            .values()
            .filter(|w| w.strong_count() > 0)
            .count()
    }

    /// Whether no backend is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether two handles are the same registry.
    pub fn same_as(&self, other: &HealthRegistry) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The health cell for `backend`, created if no live one exists under its key.
    pub(crate) fn cell_for(&self, backend: &Backend) -> Arc<HealthCell> {
        self.cell_for_inner(backend, false)
    }

    /// A new health cell for `backend` in the current initial health, replacing any live one
    /// under its key (used when the health configuration of a private registry changes).
    pub(crate) fn fresh_cell_for(&self, backend: &Backend) -> Arc<HealthCell> {
        self.cell_for_inner(backend, true)
    }

    fn cell_for_inner(&self, backend: &Backend, fresh: bool) -> Arc<HealthCell> {
        let key = self.key_of(backend);
        let starts_healthy =
            !(self.has_health_check() && self.initial_health() == InitialHealth::Unhealthy);
        let mut cells = lock(&self.inner.cells);
        if !fresh && let Some(cell) = cells.map.get(&key).and_then(Weak::upgrade) {
            return cell;
        }
        let cell = Arc::new(HealthCell::new(backend.clone(), starts_healthy));
        cells.map.insert(key, Arc::downgrade(&cell));
        cells.inserted_since_prune += 1;
        if cells.inserted_since_prune > cells.map.len() / 2 {
            cells.map.retain(|_, w| w.strong_count() > 0);
            cells.inserted_since_prune = 0;
        }
        cell
    }

    /// Every live cell, pruning dead entries.
    #[cfg_attr(not(feature = "runtime"), allow(dead_code))] // Used by probes, which need the runtime.
    pub(crate) fn live_cells(&self) -> Vec<Arc<HealthCell>> {
        let mut cells = lock(&self.inner.cells);
        let mut live = Vec::with_capacity(cells.map.len());
        cells.map.retain(|_, w| match w.upgrade() {
            Some(cell) => {
                live.push(cell);
                true
            }
            None => false,
        });
        cells.inserted_since_prune = 0;
        live
    }

    /// Announces a flip: a tracing event and, with the runtime, a [`HealthEvent`].
    pub(crate) fn announce(&self, cell: &HealthCell, healthy: bool) {
        let reason = if healthy { None } else { cell.last_error() };
        if healthy {
            tracing::info!(backend = %cell.target, "backend is healthy");
        } else {
            tracing::warn!(
                backend = %cell.target,
                reason = reason.as_deref().unwrap_or("set unhealthy"),
                "backend is unhealthy"
            );
        }
        #[cfg(feature = "runtime")]
        self.inner.probe.announce(cell, healthy, reason);
    }

    /// Sets the health of `backend`'s cell directly (a passive signal from the application).
    /// Returns `false` if no load balancer holds the backend. Probes keep running and may flip it
    /// back.
    pub fn set_health(&self, backend: &Backend, healthy: bool) -> bool {
        let key = self.key_of(backend);
        let cell = lock(&self.inner.cells)
            .map
            .get(&key)
            .and_then(Weak::upgrade);
        match cell {
            Some(cell) => {
                if cell.force(healthy).is_some() {
                    self.announce(&cell, healthy);
                }
                true
            }
            None => false,
        }
    }
}

impl fmt::Debug for HealthRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthRegistry")
            .field("backends", &self.len())
            .field("custom_key", &self.inner.key_fn.is_some())
            .field("has_health_check", &self.has_health_check())
            .field("initial_health", &self.initial_health())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{BackendState, Enablement};

    #[test]
    fn cells_are_shared_by_key_and_forgotten_when_unused() {
        let reg = HealthRegistry::new();
        let a = Backend::new("10.0.0.1:80").unwrap();
        let c1 = reg.cell_for(&a);
        let c2 = reg.cell_for(&a.clone().with_weight(5));
        assert!(Arc::ptr_eq(&c1, &c2));
        assert_eq!(reg.len(), 1);
        drop((c1, c2));
        assert_eq!(reg.len(), 0);
        assert!(reg.live_cells().is_empty());
    }

    #[test]
    fn a_custom_key_merges_backends() {
        let reg = HealthRegistry::new().with_key(|b: &Backend| {
            HealthKey::custom(
                b.addr
                    .as_inet()
                    .map(|a| a.ip().to_string())
                    .unwrap_or_default(),
            )
        });
        let a = reg.cell_for(&Backend::new("10.0.0.1:80").unwrap());
        let b = reg.cell_for(&Backend::new("10.0.0.1:81").unwrap());
        let c = reg.cell_for(&Backend::new("10.0.0.2:80").unwrap());
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(a.target.addr.to_string(), "10.0.0.1:80");
    }

    #[test]
    fn set_health_reaches_states_and_reports_unknown_backends() {
        let reg = HealthRegistry::new();
        let a = Backend::new("10.0.0.1:80").unwrap();
        let pool = Arc::new(crate::pool::Pool::default());
        let state = BackendState::watching(&reg.cell_for(&a), Enablement::Enabled, &pool);
        assert!(reg.set_health(&a, false));
        assert!(!state.is_ready());
        assert!(!reg.set_health(&Backend::new("10.9.9.9:1").unwrap(), false));
    }

    #[test]
    fn pruning_keeps_the_map_bounded() {
        let reg = HealthRegistry::new();
        for i in 0..10_000u32 {
            let b = Backend::from(std::net::SocketAddr::from(([10, 0, 0, 1], i as u16)));
            drop(reg.cell_for(&b));
        }
        assert!(lock(&reg.inner.cells).map.len() < 100);
    }
}
