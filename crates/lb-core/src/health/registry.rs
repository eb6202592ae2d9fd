//! [`HealthRegistry`]: one probe per distinct backend, the health it feeds kept in the states of
//! the load balancer that owns the registry, or in cells shared by key.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Instant;

use super::cell::{Flip, HealthCell, HealthKey, InitialHealth};
use crate::backend::Backend;
use crate::backends::CurrentSet;
use crate::set::BackendSet;
use crate::state::BackendState;

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
/// The registry a load balancer makes for itself keeps each backend's health in the backend's
/// state, with nothing per backend in the registry; it forgets a backend's health when the
/// backend leaves the set (one that comes back starts in the initial health). A shared registry
/// keeps one cell per key, and forgets it when no load balancer holds the backend any more. A
/// load balancer's own registry given to another one serves both: a backend both hold is then
/// probed once for each.
#[derive(Clone)]
pub struct HealthRegistry {
    pub(crate) inner: Arc<RegistryInner>,
}

pub(crate) struct RegistryInner {
    /// The cells of the load balancers that share this registry, by key.
    cells: Mutex<Cells>,
    /// The load balancer that made this registry (its private one): the backends of its current
    /// set whose states keep their own health are probed too.
    owner: Mutex<Option<Weak<dyn CurrentSet>>>,
    key_fn: Option<KeyFn>,
    initial: Mutex<InitialHealth>,
    /// The probe and the health events: the async side, in `runtime/`.
    pub(crate) probe: crate::hooks::Probe,
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
                owner: Mutex::new(None),
                key_fn,
                initial: Mutex::new(InitialHealth::default()),
                probe: crate::hooks::Probe::default(),
            }),
        }
    }

    /// Matches backends by `key` instead of by address. Call it before the registry is used:
    /// it returns a new, empty registry with the same probe and initial health.
    pub fn with_key(self, key: impl Fn(&Backend) -> HealthKey + Send + Sync + 'static) -> Self {
        let registry = Self::build(Some(Arc::new(key)));
        registry.set_initial_health(self.initial_health());
        registry.inner.probe.copy_check_from(&self.inner.probe);
        registry
    }

    /// Whether a probe is set (only with the `runtime` feature can one be).
    pub(crate) fn has_health_check(&self) -> bool {
        self.inner.probe.has_check()
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
        let shared = lock(&self.inner.cells)
            .map
            .values()
            .filter(|w| w.strong_count() > 0)
            .count();
        let own = self.owned_set().map_or(0, |set| {
            set.states().iter().filter(|s| s.has_own_health()).count()
        });
        shared + own
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

    /// Whether a backend registered now starts healthy: unless a probe is set and the initial
    /// health says otherwise.
    fn starts_healthy(&self) -> bool {
        !(self.has_health_check() && self.initial_health() == InitialHealth::Unhealthy)
    }

    fn cell_for_inner(&self, backend: &Backend, fresh: bool) -> Arc<HealthCell> {
        let key = self.key_of(backend);
        let starts_healthy = self.starts_healthy();
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

    /// Makes `current` the load balancer this registry belongs to: the backends of its set whose
    /// states keep their own health are probed with the registry's cells.
    pub(crate) fn own(&self, current: &Arc<dyn CurrentSet>) {
        *lock(&self.inner.owner) = Some(Arc::downgrade(current));
    }

    /// The current set of the load balancer this registry belongs to, if it is alive.
    fn owned_set(&self) -> Option<Arc<BackendSet>> {
        let owner = lock(&self.inner.owner).as_ref().and_then(Weak::upgrade)?;
        Some(owner.current())
    }

    /// Every probe target: the live cells (pruning dead entries), then the owner's backends
    /// that keep their own health, taken from its set as the pass reaches them.
    #[cfg_attr(not(feature = "runtime"), allow(dead_code))] // Used by probes, which need the runtime.
    pub(crate) fn targets(&self) -> Targets {
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
        drop(cells);
        Targets {
            cells: live.into_iter(),
            own: self.owned_set(),
            next: 0,
        }
    }

    /// Announces a flip of `target`: a tracing event and, with the runtime, a `HealthEvent`.
    pub(crate) fn announce(&self, target: &Target, healthy: bool) {
        let reason = if healthy { None } else { target.last_error() };
        let backend = target.backend();
        if healthy {
            tracing::info!(%backend, "backend is healthy");
        } else {
            tracing::warn!(
                %backend,
                reason = reason.as_deref().unwrap_or("set unhealthy"),
                "backend is unhealthy"
            );
        }
        self.inner.probe.announce(backend, healthy, reason);
    }

    /// Sets the health of `backend` directly (a passive signal from the application): its cell
    /// in a shared registry, its state in the load balancer that owns the registry. Returns
    /// `false` if no load balancer holds the backend. Probes keep running and may flip it back.
    pub fn set_health(&self, backend: &Backend, healthy: bool) -> bool {
        let key = self.key_of(backend);
        let cell = lock(&self.inner.cells)
            .map
            .get(&key)
            .and_then(Weak::upgrade);
        let own = self.owned_set().and_then(|set| {
            let index = set.index_of(&backend.addr)?;
            let state = set.states().get(index)?;
            state
                .has_own_health()
                .then(|| Target::Own(set[index].clone(), Arc::clone(state)))
        });
        let mut found = false;
        for target in [cell.map(Target::Cell), own].into_iter().flatten() {
            found = true;
            if target.force(healthy).is_some() {
                self.announce(&target, healthy);
            }
        }
        found
    }
}

/// One probe target of a health-check pass.
#[derive(Clone)]
pub(crate) enum Target {
    /// A shared registry's cell, probed at its target.
    Cell(Arc<HealthCell>),
    /// A backend of the load balancer that owns the registry, its health kept in its state.
    Own(Backend, Arc<BackendState>),
}

impl Target {
    /// The backend probed.
    pub(crate) fn backend(&self) -> &Backend {
        match self {
            Target::Cell(cell) => &cell.target,
            Target::Own(backend, _) => backend,
        }
    }

    /// Records a probe result (see [`Health::record`](super::cell::Health::record)); a flip
    /// reaches the states that follow the target before this returns.
    #[cfg_attr(not(feature = "runtime"), allow(dead_code))] // Used by probes, which need the runtime.
    pub(crate) fn record(
        &self,
        result: Result<(), Arc<str>>,
        success_threshold: usize,
        failure_threshold: usize,
        now: Instant,
    ) -> Option<Flip> {
        match self {
            Target::Cell(cell) => cell.record(result, success_threshold, failure_threshold, now),
            Target::Own(_, state) => {
                state.record_probe(result, success_threshold, failure_threshold, now)
            }
        }
    }

    fn force(&self, healthy: bool) -> Option<Flip> {
        match self {
            Target::Cell(cell) => cell.force(healthy),
            Target::Own(_, state) => state.force_health(healthy),
        }
    }

    /// Whether the target is healthy (by its probes or the application's word).
    #[cfg_attr(not(feature = "runtime"), allow(dead_code))] // Used by the health watch.
    pub(crate) fn is_healthy(&self) -> bool {
        match self {
            Target::Cell(cell) => cell.is_healthy(),
            // The readiness word follows the state's own health under its lock.
            Target::Own(_, state) => state.is_healthy(),
        }
    }

    /// Why the target's last failed probe failed.
    pub(crate) fn last_error(&self) -> Option<Arc<str>> {
        match self {
            Target::Cell(cell) => cell.last_error(),
            Target::Own(_, state) => state.last_error(),
        }
    }
}

/// The probe targets of a registry ([`HealthRegistry::targets`]): its live cells, then the
/// owner's backends that keep their own health, made as they are reached (a pass over a million
/// backends holds one target at a time, not a copy of the set).
pub(crate) struct Targets {
    cells: std::vec::IntoIter<Arc<HealthCell>>,
    own: Option<Arc<BackendSet>>,
    next: usize,
}

impl Iterator for Targets {
    type Item = Target;

    fn next(&mut self) -> Option<Target> {
        if let Some(cell) = self.cells.next() {
            return Some(Target::Cell(cell));
        }
        let set = self.own.as_ref()?;
        while let Some((backend, state)) = set.get(self.next).zip(set.states().get(self.next)) {
            self.next += 1;
            if state.has_own_health() {
                return Some(Target::Own(backend.clone(), Arc::clone(state)));
            }
        }
        None
    }
}

/// Where the backends a load balancer adds get their health: in their own states (the load
/// balancer's private registry) or from the cells of a shared registry.
#[derive(Clone, Copy)]
pub(crate) struct Registrar<'a> {
    registry: &'a HealthRegistry,
    own: bool,
}

/// Where one new backend's health comes from.
pub(crate) enum Source {
    /// Its state keeps its own, starting healthy or not.
    Own(bool),
    /// A shared registry's cell.
    Shared(Arc<HealthCell>),
}

impl<'a> Registrar<'a> {
    /// Backends registered with `registry`, keeping their own health when `own`.
    pub(crate) fn new(registry: &'a HealthRegistry, own: bool) -> Self {
        Registrar { registry, own }
    }

    /// Where `backend` gets its health: its own, in the current initial health, or the live cell
    /// under its key (with `fresh`, a new cell in the current initial health that replaces it).
    pub(crate) fn source(&self, backend: &Backend, fresh: bool) -> Source {
        if self.own {
            Source::Own(self.registry.starts_healthy())
        } else if fresh {
            Source::Shared(self.registry.fresh_cell_for(backend))
        } else {
            Source::Shared(self.registry.cell_for(backend))
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
        assert_eq!(reg.targets().count(), 0);
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
