//! [`LoadBalancer`]: backends, their state and a selector, published together; `select` per request.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::backend::IntoBackend;
use crate::backends::Backends;
use crate::discovery::Discovered;
use crate::error::{BoxError, LoadBalancerError, UpdateError};
use crate::passive::{PassiveHealth, PassivePolicy};
use crate::pick::{Pick, Selectors, Snapshot};
use crate::selection::{BackendIter, BackendSelection};
use crate::selector::Selector;
use crate::set::BackendSet;

/// How long the last successful update took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpdateTimings {
    /// Time spent in the discovery source's `discover`.
    pub discovery_duration: Duration,
    /// Time spent building the backend set and the selector (zero for the selector when the
    /// backends and weights did not change and the previous selector was kept).
    pub build_duration: Duration,
    /// The number of backends published.
    pub backends: usize,
}

/// Counters of a load balancer's updates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpdateStats {
    /// Updates that published a set.
    pub published: u64,
    /// Discovery calls that failed.
    pub discovery_errors: u64,
    /// Selector builds that failed.
    pub build_errors: u64,
    /// The last failure, as text.
    pub last_error: Option<String>,
}

/// Backends at or above this count are built on a blocking thread by [`LoadBalancer::update`],
/// so that building a large hash ring never stalls the async runtime's worker.
pub const BLOCKING_BUILD_THRESHOLD: usize = 2048;

/// The candidates a `select` examines at most: the strategy contract says each backend is
/// offered once, so twice the set (plus slack for tiny sets) only stops a broken strategy.
#[inline]
fn candidate_budget(len: usize) -> usize {
    len.saturating_mul(2).saturating_add(16)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values are plain counters and copies; a panic elsewhere cannot leave them
    // inconsistent, so a poisoned lock is used as is.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A load balancer: the backends (from a discovery source, with their health), and a selection
/// strategy `S` built over them.
///
/// `select` is lock-free and allocation-free: it loads the current generation with one atomic
/// operation, asks the strategy for candidates and returns the first ready one as a [`Pick`].
/// Updates build the next generation aside and publish it with one atomic swap.
///
/// The public fields configure the background service ([`LoadBalancer::run`]); set them before
/// the load balancer is shared.
///
/// A load balancer may hold several selectors of the same strategy over one backend pool, one per
/// configuration ([`LoadBalancer::from_backends_with_configs`], also known as
/// [`LoadBalancerGroup`]): they share discovery, health checks and state, are published together,
/// and are used with [`LoadBalancer::select_in`].
pub struct LoadBalancer<S: BackendSelection> {
    backends: Backends,
    snapshot: ArcSwap<Snapshot<S>>,
    /// One per selector; never empty.
    configs: Box<[S::Config]>,
    /// How often to poll the discovery source; `None` polls only at start and when the source
    /// signals a change (push sources need no polling).
    pub update_frequency: Option<Duration>,
    /// How often to run health checks; `None` runs one pass after the first set, then none.
    pub health_check_frequency: Option<Duration>,
    /// Probe backends concurrently (at most `health_check_concurrency` at once) rather than one
    /// after another.
    pub parallel_health_check: bool,
    /// The most probes in flight at once when `parallel_health_check` is set.
    /// Default: [`HealthSchedule::DEFAULT_CONCURRENCY`](crate::HealthSchedule::DEFAULT_CONCURRENCY).
    pub health_check_concurrency: usize,
    /// The deadline of one probe; an overrun counts as a failure. Default: 5 s.
    pub health_check_timeout: Duration,
    /// Random spread of the wait between health-check passes, as a fraction of the frequency.
    /// Default: 0.1.
    pub health_check_jitter: f64,
    passive: Arc<PassivePolicy>,
    seq: AtomicU64,
    published_seq: Mutex<u64>,
    timings: Mutex<Option<UpdateTimings>>,
    stats: Mutex<UpdateStats>,
    #[cfg(feature = "runtime")]
    ready: tokio::sync::watch::Sender<bool>,
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

    fn construct(backends: Backends, mut configs: Vec<S::Config>) -> (Self, Option<BoxError>) {
        if configs.is_empty() {
            configs.push(S::Config::default());
        }
        let configs = configs.into_boxed_slice();
        let set = backends.get_backend();
        #[cfg(feature = "runtime")]
        let is_fixed = backends.discovery().is_none();
        #[cfg(not(feature = "runtime"))]
        let is_fixed = true;
        let mut stats = UpdateStats::default();
        let (selectors, error) = match build_all(None, &set, &configs) {
            Ok(s) => (Some(s), None),
            Err(e) => {
                stats.build_errors = 1;
                let chain = crate::error::error_chain(e.as_ref());
                stats.last_error = Some(format!("building the backend selector failed: {chain}"));
                tracing::error!(error = %chain, "building the backend selector failed");
                (None, Some(e))
            }
        };
        #[cfg(feature = "runtime")]
        let ready = is_fixed && selectors.is_some();
        #[cfg(not(feature = "runtime"))]
        let _ = is_fixed;
        let passive = Arc::new(PassivePolicy::default());
        let lb = LoadBalancer {
            backends,
            snapshot: ArcSwap::from_pointee(Snapshot {
                set,
                selectors,
                passive: Arc::clone(&passive),
            }),
            passive,
            configs,
            update_frequency: None,
            health_check_frequency: None,
            parallel_health_check: false,
            health_check_concurrency: crate::health::DEFAULT_HEALTH_CHECK_CONCURRENCY,
            health_check_timeout: Duration::from_secs(5),
            health_check_jitter: 0.1,
            seq: AtomicU64::new(0),
            published_seq: Mutex::new(0),
            timings: Mutex::new(None),
            stats: Mutex::new(stats),
            #[cfg(feature = "runtime")]
            ready: tokio::sync::watch::Sender::new(ready),
        };
        (lb, error)
    }

    /// The backends, their states and health.
    pub fn backends(&self) -> &Backends {
        &self.backends
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

    /// Picks a ready backend for `key` (ignored by strategies that do not hash).
    ///
    /// Returns `None` only when no backend is ready. The strategy offers every backend at most
    /// once, so this finds a ready backend whenever one exists, however many are down. When none
    /// is ready but some are kept out only by passive health ([`PassiveHealth`]), the first of
    /// those is picked as a last resort.
    /// It takes no lock, allocates nothing, and reads each candidate's readiness with one atomic
    /// load. The returned [`Pick`] owns its generation of the set, which costs two atomic
    /// read-modify-write operations; a [`Selector`] avoids them in the hottest loops.
    #[inline]
    pub fn select(&self, key: &[u8]) -> Option<Pick<S>> {
        self.select_in(0, key)
    }

    /// Picks a ready backend for `key` with selector `selector_index` (see
    /// [`LoadBalancer::from_backends_with_configs`]); `None` also when there is no such selector.
    #[inline]
    pub fn select_in(&self, selector_index: usize, key: &[u8]) -> Option<Pick<S>> {
        let snapshot = self.snapshot.load();
        let index = snapshot.first_ready(selector_index, key)?;
        Some(Pick { snapshot, index })
    }

    /// Picks the first of at most `max_iterations` candidates that `accept` takes. `accept`
    /// sees each candidate and whether it is ready (healthy, enabled and not ejected by
    /// [`PassiveHealth`]), so it can, for example, take an unhealthy backend as a last resort or
    /// skip one already tried. Unlike [`LoadBalancer::select`], it never falls back to an ejected
    /// backend by itself: `accept` decides.
    pub fn select_with<F>(&self, key: &[u8], max_iterations: usize, accept: F) -> Option<Pick<S>>
    where
        F: FnMut(&crate::Backend, bool) -> bool,
    {
        self.select_in_with(0, key, max_iterations, accept)
    }

    /// [`LoadBalancer::select_with`] with selector `selector_index`.
    pub fn select_in_with<F>(
        &self,
        selector_index: usize,
        key: &[u8],
        max_iterations: usize,
        accept: F,
    ) -> Option<Pick<S>>
    where
        F: FnMut(&crate::Backend, bool) -> bool,
    {
        let snapshot = self.snapshot.load();
        let index = snapshot.first_accepted(selector_index, key, max_iterations, accept)?;
        Some(Pick { snapshot, index })
    }

    /// Sets the passive-health policy: backends whose reported requests
    /// ([`Pick::report`]) fail repeatedly are ejected for a while (see [`PassiveHealth`]).
    /// Off by default. It applies at once, to every generation; `None` turns it off and readmits
    /// every ejected backend.
    pub fn set_passive_health(&self, policy: Option<PassiveHealth>) {
        self.passive.set(policy, self.snapshot.load().set.states());
    }

    /// The passive-health policy, if any.
    pub fn passive_health(&self) -> Option<PassiveHealth> {
        self.passive.get()
    }

    /// A per-worker handle whose picks cost the strategy alone (see [`Selector`]).
    pub fn selector(&self) -> Selector<&Self, S> {
        Selector::new(self)
    }

    pub(crate) fn snapshot_cell(&self) -> &ArcSwap<Snapshot<S>> {
        &self.snapshot
    }

    /// Publishes a new backend set now, without asking the discovery source: the same work as
    /// [`LoadBalancer::update`] after discovery, on the calling thread. Useful without the
    /// `runtime` feature, or to push a set computed elsewhere.
    pub fn apply(&self, discovered: impl Into<Discovered>) -> Result<(), UpdateError> {
        let discovered = discovered.into();
        let seq = self.next_seq();
        loop {
            let started = Instant::now();
            let previous = self.snapshot.load_full();
            let set = Arc::new(BackendSet::next(
                &discovered,
                &previous.set,
                self.backends.health_registry(),
            ));
            let selectors = self.selectors_for(&previous, &set)?;
            if self.commit(
                seq,
                &previous,
                set,
                selectors,
                &discovered,
                Duration::ZERO,
                started,
            )? {
                return Ok(());
            }
        }
    }

    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Whether the selectors of `previous` can serve `set` as they are: same backends, same
    /// weights.
    fn can_keep(previous: &Snapshot<S>, set: &BackendSet) -> bool {
        previous.selectors.is_some() && previous.set.same_backends(set.backends())
    }

    /// Keeps the previous selectors when backends and weights are unchanged; otherwise builds
    /// them, counting and logging a failure.
    fn selectors_for(
        &self,
        previous: &Snapshot<S>,
        set: &BackendSet,
    ) -> Result<Option<Selectors<S>>, UpdateError> {
        if Self::can_keep(previous, set) {
            return Ok(previous.selectors.clone());
        }
        build_all(previous.selectors.as_ref(), set, &self.configs)
            .map(Some)
            .map_err(|e| self.build_failed(e))
    }

    fn build_failed(&self, e: BoxError) -> UpdateError {
        let chain = crate::error::error_chain(e.as_ref());
        let text = format!("building the backend selector failed: {chain}");
        tracing::error!(error = %chain, "building the backend selector failed; keeping the previous set");
        let mut stats = lock(&self.stats);
        stats.build_errors += 1;
        stats.last_error = Some(text);
        UpdateError::Build(e)
    }

    /// Publishes `set` and `selectors` unless a newer update already published (an error) or
    /// another update published since `previous` was read (`Ok(false)`: build again on top).
    #[allow(clippy::too_many_arguments)] // A private step of update(); a struct would only rename them.
    fn commit(
        &self,
        seq: u64,
        previous: &Arc<Snapshot<S>>,
        set: Arc<BackendSet>,
        selectors: Option<Selectors<S>>,
        discovered: &Discovered,
        discovery_duration: Duration,
        build_started: Instant,
    ) -> Result<bool, UpdateError> {
        let mut published = lock(&self.published_seq);
        if *published > seq {
            return Err(UpdateError::Superseded);
        }
        if self.snapshot.load().set.generation() != previous.set.generation() {
            return Ok(false);
        }
        set.apply_enablement(discovered);
        let backends = set.len();
        self.snapshot.store(Arc::new(Snapshot {
            set: Arc::clone(&set),
            selectors,
            passive: Arc::clone(&self.passive),
        }));
        self.backends.publish(set);
        *published = seq;
        drop(published);
        *lock(&self.timings) = Some(UpdateTimings {
            discovery_duration,
            build_duration: build_started.elapsed(),
            backends,
        });
        lock(&self.stats).published += 1;
        tracing::debug!(backends, "published a new backend set");
        #[cfg(feature = "runtime")]
        self.ready.send_replace(true);
        Ok(true)
    }

    /// How long the last published update took.
    pub fn last_update_timing(&self) -> Option<UpdateTimings> {
        *lock(&self.timings)
    }

    /// Update counters and the last error.
    pub fn stats(&self) -> UpdateStats {
        lock(&self.stats).clone()
    }
}

impl<S: BackendSelection> Snapshot<S> {
    /// The index of the first ready candidate of selector `selector_index` for `key`; when no
    /// candidate is ready, the first one kept out only by a passive-health ejection (a last
    /// resort, so that ejection never leaves a load balancer with nothing to pick).
    #[inline]
    pub(crate) fn first_ready(&self, selector_index: usize, key: &[u8]) -> Option<usize> {
        let selector = self.selectors.as_ref()?.get(selector_index)?;
        let states = self.set.states();
        let mut candidates = selector.iter_with_states(key, states);
        let mut budget = candidate_budget(states.len());
        let mut last_resort = None;
        loop {
            let Some(i) = candidates.next() else {
                return last_resort;
            };
            if let Some(state) = states.get(i) {
                if state.is_ready() {
                    return Some(i);
                }
                if last_resort.is_none() && state.is_only_ejected() {
                    last_resort = Some(i);
                }
            }
            budget -= 1;
            if budget == 0 {
                return last_resort;
            }
        }
    }

    /// The index of the first of at most `max_iterations` candidates that `accept` takes.
    pub(crate) fn first_accepted<F>(
        &self,
        selector_index: usize,
        key: &[u8],
        max_iterations: usize,
        mut accept: F,
    ) -> Option<usize>
    where
        F: FnMut(&crate::Backend, bool) -> bool,
    {
        let selector = self.selectors.as_ref()?.get(selector_index)?;
        let set = &self.set;
        let mut candidates = selector.iter_with_states(key, set.states());
        let mut budget = candidate_budget(set.len()).min(max_iterations);
        loop {
            if budget == 0 {
                return None;
            }
            budget -= 1;
            let i = candidates.next()?;
            let (Some(backend), Some(state)) = (set.backends().get(i), set.state(i)) else {
                continue;
            };
            if accept(backend, state.is_ready()) {
                return Some(i);
            }
        }
    }
}

/// Builds one selector per configuration over `set`, each from its predecessor when there is one.
fn build_all<S: BackendSelection>(
    previous: Option<&Selectors<S>>,
    set: &BackendSet,
    configs: &[S::Config],
) -> Result<Selectors<S>, BoxError> {
    let mut built = configs.iter().enumerate().map(|(i, config)| {
        match previous.and_then(|p| p.get(i)) {
            Some(prev) => prev.rebuild(set.backends(), config),
            None => S::build(set.backends(), config),
        }
        .map(Arc::new)
    });
    // `configs` is never empty (construction guarantees it), but an empty list must not panic.
    let first = built
        .next()
        .unwrap_or_else(|| S::build(set.backends(), &S::Config::default()).map(Arc::new))?;
    let rest = built.collect::<Result<Vec<_>, _>>()?.into_boxed_slice();
    Ok(Selectors { first, rest })
}

#[cfg(feature = "runtime")]
mod runtime {
    use super::*;
    use crate::health::{HealthCheck, HealthSchedule};

    impl<S: BackendSelection> LoadBalancer<S> {
        /// Asks the discovery source for the current backends and publishes them with the
        /// selector built over them, in one atomic swap. The state of every backend that stays
        /// (health, enablement, counters) is carried over; removed backends are never selected
        /// once this returns.
        ///
        /// On error the previous set stays in place; the error is logged and counted. A
        /// load balancer over a fixed set has nothing to update and returns `Ok`. Large sets
        /// ([`BLOCKING_BUILD_THRESHOLD`] backends or more) are built on a blocking thread.
        pub async fn update(&self) -> Result<(), UpdateError> {
            let Some(discovery) = self.backends.discovery() else {
                if self.snapshot.load().selectors.is_some() {
                    self.ready.send_replace(true);
                }
                return Ok(());
            };
            let seq = self.next_seq();
            let started = Instant::now();
            let discovered = match discovery.discover().await {
                Ok(d) => d,
                Err(e) => {
                    let text = crate::error::error_chain(e.as_ref());
                    tracing::warn!(error = %text, "service discovery failed; keeping the last good set");
                    let mut stats = lock(&self.stats);
                    stats.discovery_errors += 1;
                    stats.last_error = Some(format!("service discovery failed: {text}"));
                    return Err(UpdateError::Discovery(e));
                }
            };
            let discovery_duration = started.elapsed();
            loop {
                let build_started = Instant::now();
                let previous = self.snapshot.load_full();
                let set = Arc::new(BackendSet::next(
                    &discovered,
                    &previous.set,
                    self.backends.health_registry(),
                ));
                let selectors =
                    if set.len() >= BLOCKING_BUILD_THRESHOLD && !Self::can_keep(&previous, &set) {
                        let (prev, set2, configs) = (
                            Arc::clone(&previous),
                            Arc::clone(&set),
                            self.configs.clone(),
                        );
                        let built = tokio::task::spawn_blocking(move || {
                            build_all(prev.selectors.as_ref(), &set2, &configs)
                        })
                        .await
                        .map_err(|e| UpdateError::BuildTask(e.to_string()))?;
                        Some(built.map_err(|e| self.build_failed(e))?)
                    } else {
                        self.selectors_for(&previous, &set)?
                    };
                if self.commit(
                    seq,
                    &previous,
                    set,
                    selectors,
                    &discovered,
                    discovery_duration,
                    build_started,
                )? {
                    return Ok(());
                }
            }
        }

        /// Probes backends with `check` (on the schedule of `health_check_frequency`).
        ///
        /// Call it before the load balancer is shared. It gives the current backends fresh
        /// health state in the registry's initial health.
        pub fn set_health_check(&mut self, check: Box<dyn HealthCheck>) {
            self.backends.set_health_check(check);
            self.republish_backends();
        }

        /// Uses `backends`' new registration after a configuration change.
        fn republish_backends(&mut self) {
            let previous = self.snapshot.load_full();
            let set = self.backends.get_backend();
            self.snapshot.store(Arc::new(Snapshot {
                set,
                selectors: previous.selectors.clone(),
                passive: Arc::clone(&self.passive),
            }));
        }

        /// Sets the health new backends start in, and gives the current ones fresh state in it.
        pub fn set_initial_health(&mut self, initial: crate::InitialHealth) {
            self.backends.set_initial_health(initial);
            self.republish_backends();
        }

        /// The health-check schedule the public fields describe.
        pub fn health_schedule(&self) -> HealthSchedule {
            let mut schedule = HealthSchedule::every(
                self.health_check_frequency
                    .unwrap_or(HealthSchedule::default().frequency),
            )
            .with_timeout(self.health_check_timeout)
            .with_jitter(self.health_check_jitter);
            schedule.parallel = self.parallel_health_check;
            schedule.concurrency = self.health_check_concurrency;
            schedule
        }

        pub(crate) fn ready_receiver(&self) -> tokio::sync::watch::Receiver<bool> {
            self.ready.subscribe()
        }

        /// Resolves once a backend set has been published: at once for a fixed set, after the
        /// first successful update for a discovery source.
        pub async fn wait_ready(&self) {
            let mut rx = self.ready.subscribe();
            // The sender lives as long as `self`, so the channel cannot close while we wait.
            let _ = rx.wait_for(|ready| *ready).await;
        }
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
