//! [`LoadBalancer`]: backends, their state and a selector, published together; `select` per
//! request.
//!
//! The methods are grouped by concern: construction and accessors here, picking in `select.rs`,
//! publishing new sets in `update.rs`, outcome policies and load signals in `policies.rs`, and
//! the async side (discovery, health checks, the background service) in `runtime/`.

mod observe;
mod policies;
mod select;
mod topology;
pub(crate) mod update;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::backend::IntoBackend;
use crate::backends::{Backends, CurrentSet};
use crate::error::{BoxError, LoadBalancerError};
use crate::policy::Policies;
use crate::selection::BackendSelection;
use crate::selector::Selector;
use crate::signals::LoadSignals;
use crate::snapshot::{Snapshot, SnapshotCell, build_all, place};

pub(crate) use update::Updates;
pub use update::{BLOCKING_BUILD_THRESHOLD, UpdateStats, UpdateTimings};

/// A load balancer: the backends (from a discovery source, with their health), and a selection
/// strategy `S` built over them.
///
/// `select` is lock-free and allocation-free: it loads the current generation with one atomic
/// operation, asks the strategy for candidates and returns the first ready one as a
/// [`Pick`](crate::Pick), the request's handle until it ends. Updates build the next generation
/// aside and publish it with one atomic swap.
///
/// The public fields configure the background service ([`LoadBalancer::run`]); set them before
/// the load balancer is shared.
///
/// A load balancer may hold several selectors of the same strategy over one backend pool, one per
/// configuration ([`LoadBalancer::from_backends_with_configs`], also known as
/// [`LoadBalancerGroup`]): they share discovery, health checks and state, are published together,
/// and are used with [`LoadBalancer::select_in`].
pub struct LoadBalancer<S: BackendSelection> {
    /// The published snapshot: the one record of the current set, shared with the `Backends`
    /// view and with selectors.
    pub(crate) cell: Arc<SnapshotCell<S>>,
    pub(crate) backends: Backends,
    /// One per selector; never empty.
    configs: Box<[S::Config]>,
    policies: Arc<Policies>,
    updates: Updates,
    /// How often to poll the discovery source; `None` polls only at start and when the source
    /// signals a change (push sources need no polling).
    pub update_frequency: Option<Duration>,
    /// How often to run health checks; `None` runs one pass after the first set, then none.
    pub health_check_frequency: Option<Duration>,
    /// Probe backends concurrently (at most `health_check_concurrency` at once) rather than one
    /// after another.
    pub parallel_health_check: bool,
    /// The most probes in flight at once when `parallel_health_check` is set.
    /// Default: [`DEFAULT_HEALTH_CHECK_CONCURRENCY`](crate::DEFAULT_HEALTH_CHECK_CONCURRENCY).
    pub health_check_concurrency: usize,
    /// The deadline of one probe; an overrun counts as a failure. Default: 5 s.
    pub health_check_timeout: Duration,
    /// Random spread of the wait between health-check passes, as a fraction of the frequency.
    /// Default: 0.1.
    pub health_check_jitter: f64,
    /// What the background service and waiters follow: readiness and published generations.
    /// Announces publications to those who wait on them (the async side).
    pub(crate) published: crate::hooks::Published,
}

impl<S: BackendSelection> LoadBalancer<S> {
    /// A load balancer over a fixed list of addresses (`"1.2.3.4:80"`, `"[::1]:80"`,
    /// `"unix:/path"`, `SocketAddr`s or [`Backend`](crate::Backend)s), with the default strategy
    /// configuration. It is ready at once.
    pub fn try_from_iter<I>(iter: I) -> Result<Self, LoadBalancerError>
    where
        I: IntoIterator,
        I::Item: IntoBackend,
    {
        let backends = iter
            .into_iter()
            .map(IntoBackend::into_backend)
            .collect::<Result<Vec<_>, _>>()
            .map_err(LoadBalancerError::InvalidBackend)?;
        match Self::construct(Backends::fixed(backends), vec![S::Config::default()]) {
            (lb, None) => Ok(lb),
            (_, Some(e)) => Err(LoadBalancerError::Build(e)),
        }
    }

    /// A load balancer over `backends`, with the default strategy configuration.
    pub fn from_backends(backends: Backends) -> Self {
        Self::from_backends_with_config(backends, S::Config::default())
    }

    /// A load balancer over `backends` with a strategy configuration.
    ///
    /// The selector is built at once over the backends' current set (empty for a discovery
    /// source until the first update). If that build fails, the load balancer selects nothing
    /// until an update succeeds; the error is logged and kept in [`LoadBalancer::stats`].
    pub fn from_backends_with_config(backends: Backends, config: S::Config) -> Self {
        Self::construct(backends, vec![config]).0
    }

    /// A load balancer with one selector per configuration over one backend pool (pingora's
    /// `LoadBalancerGroup`): discovery, health checks and backend state are shared, and all
    /// selectors are rebuilt and published together. Pick with [`LoadBalancer::select_in`];
    /// [`LoadBalancer::select`] uses the first. An empty list gives one selector with the default
    /// configuration.
    pub fn from_backends_with_configs(
        backends: Backends,
        configs: impl IntoIterator<Item = S::Config>,
    ) -> Self {
        Self::construct(backends, configs.into_iter().collect()).0
    }

    fn construct(mut backends: Backends, mut configs: Vec<S::Config>) -> (Self, Option<BoxError>) {
        if configs.is_empty() {
            configs.push(S::Config::default());
        }
        let configs = configs.into_boxed_slice();
        let set = backends.get_backend();
        let updates = Updates::default();
        let (routing, _) = backends.pool.zone_routing();
        let (selectors, error) = match build_all(None, &set, &configs, routing.as_ref(), None) {
            Ok(s) => (Some(s), None),
            Err(e) => {
                updates.build_failed(e.as_ref());
                (None, Some(e))
            }
        };
        place(&set, None, false, selectors.as_ref(), &backends.pool, None);
        if !set.is_empty() {
            backends.pool.started();
        }
        let policies = Arc::new(Policies::new(Arc::clone(&backends.pool)));
        let cell = Arc::new(ArcSwap::from_pointee(Snapshot {
            set,
            selectors,
            policies: Arc::clone(&policies),
            signals: LoadSignals::default(),
            policies_need_load: false,
        }));
        let published = crate::hooks::Published::new(&cell.load(), backends.link.has_discovery());
        backends.attach(Arc::clone(&cell) as Arc<dyn CurrentSet>);
        let lb = LoadBalancer {
            cell,
            backends,
            configs,
            policies,
            updates,
            update_frequency: None,
            health_check_frequency: None,
            parallel_health_check: false,
            health_check_concurrency: crate::health::DEFAULT_HEALTH_CHECK_CONCURRENCY,
            health_check_timeout: Duration::from_secs(5),
            health_check_jitter: 0.1,
            published,
        };
        (lb, error)
    }

    /// The backends, their states and health: a view of the published set.
    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    /// Sets the health new backends start in, and gives the current ones fresh state in it.
    /// Call it before the load balancer is shared.
    pub fn set_initial_health(&mut self, initial: crate::InitialHealth) {
        self.backends.set_initial_health(initial);
    }

    /// The strategy configuration (of the first selector).
    pub fn config(&self) -> &S::Config {
        &self.configs[0]
    }

    /// The configuration of every selector, in `select_in` order.
    pub fn configs(&self) -> &[S::Config] {
        &self.configs
    }

    /// How many selectors the load balancer holds (1 unless built with several configurations).
    pub fn selector_count(&self) -> usize {
        self.configs.len()
    }

    /// A per-worker handle whose picks cost the strategy alone (see [`Selector`]).
    pub fn selector(&self) -> Selector<S> {
        Selector::over(Arc::clone(&self.cell))
    }
}

impl<S: BackendSelection> fmt::Debug for LoadBalancer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadBalancer")
            .field("strategy", &std::any::type_name::<S>())
            .field("backends", &self.backends)
            .field("update_frequency", &self.update_frequency)
            .field("health_check_frequency", &self.health_check_frequency)
            .field("parallel_health_check", &self.parallel_health_check)
            .finish_non_exhaustive()
    }
}

/// pingora's name for a load balancer with several selectors over one pool; see
/// [`LoadBalancer::from_backends_with_configs`] and [`LoadBalancer::select_in`].
pub type LoadBalancerGroup<S> = LoadBalancer<S>;
