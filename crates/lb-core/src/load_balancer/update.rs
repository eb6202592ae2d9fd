//! Publishing new backend sets: [`LoadBalancer::apply`] (and the async `update` in `runtime/`),
//! with their timings and counters.

use std::error::Error as StdError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use std::collections::HashMap;

use super::LoadBalancer;
use crate::address::Address;
use crate::change::Changes;
use crate::discovery::{Delta, Discovered};
use crate::error::{UpdateError, error_chain};
use crate::selection::BackendSelection;
use crate::set::BackendSet;
use crate::snapshot::{Selectors, Snapshot, build_all, place};
use crate::state::Enablement;
use crate::topology::{Priority, ZoneRouting, same_place};

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
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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
    /// Whether the load balancer is in panic mode now (see
    /// [`LoadBalancer::set_panic_threshold`]).
    pub in_panic: bool,
    /// Times it entered panic mode.
    pub panic_entries: u64,
    /// Times it left panic mode.
    pub panic_exits: u64,
    /// Requests zone-aware routing sent to the local zone (see
    /// [`LoadBalancer::set_zone_routing`]).
    pub routed_local: u64,
    /// Requests zone-aware routing sent to another zone.
    pub routed_cross_zone: u64,
    /// The weight of the enabled backends of positive weight, as panic mode counts it (kept by
    /// every change of readiness, no scan).
    pub enabled_weight: u64,
    /// The weight of those that are ready.
    pub ready_weight: u64,
}

/// Backends at or above this count are built on a blocking thread by
/// [`LoadBalancer::update`], so that building a large hash ring never stalls the async
/// runtime's worker.
pub const BLOCKING_BUILD_THRESHOLD: usize = 2048;

/// Whether the selectors built over `previous` select over `set` as a build over it would:
/// nothing joined or left, and every changed backend kept its weight and priority level, and,
/// with zone-aware routing on, its zone and hints. Selectors and their partitions read nothing
/// else of a backend (its address is its identity), so a change of metadata alone (a
/// Kubernetes endpoint's node or, without zone routing, its zone) keeps them, and publishing it
/// costs no rebuild.
fn selectors_still_serve(
    previous: &BackendSet,
    set: &BackendSet,
    changes: &Changes,
    zone_routing: bool,
) -> bool {
    if !changes.added.is_empty() || !changes.removed.is_empty() {
        return false;
    }
    changes.changed.iter().all(|&i| {
        let Some(now) = set.backends().get(i) else {
            return false;
        };
        let Some(before) = previous
            .index_of(&now.addr)
            .and_then(|j| previous.backends().get(j))
        else {
            return false;
        };
        now.weight == before.weight
            && if zone_routing {
                same_place(now, before)
            } else {
                now.ext.get::<Priority>() == before.ext.get::<Priority>()
            }
    })
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values are plain counters and copies; a panic elsewhere cannot leave them
    // inconsistent, so a poisoned lock is used as is.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The bookkeeping of updates: their order, the publishing lock, timings and counters.
#[derive(Debug, Default)]
pub(crate) struct Updates {
    seq: AtomicU64,
    /// The sequence number of the last published update; also the lock everything that
    /// publishes a snapshot takes.
    published_seq: Mutex<u64>,
    /// The number the discovery source gave the answer the published set came from (see
    /// `ServiceDiscovery::discover_changes`); `None` after a set from elsewhere.
    pub(crate) source_version: Mutex<Option<u64>>,
    timings: Mutex<Option<UpdateTimings>>,
    pub(crate) stats: Mutex<UpdateStats>,
    /// The load balancer's metric handles, once it is named.
    #[cfg(feature = "metrics")]
    pub(crate) metrics: std::sync::OnceLock<Arc<crate::metrics::LbMetrics>>,
}

impl Updates {
    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The lock every publication takes.
    pub(crate) fn publishing(&self) -> MutexGuard<'_, u64> {
        lock(&self.published_seq)
    }

    /// Counts and logs a failed selector build.
    pub(crate) fn build_failed(&self, e: &(dyn StdError + 'static)) {
        let chain = error_chain(e);
        tracing::error!(error = %chain, "building the backend selector failed; keeping the previous set");
        #[cfg(feature = "metrics")]
        if let Some(m) = self.metrics.get() {
            m.build_errors.increment(1);
        }
        let mut stats = lock(&self.stats);
        stats.build_errors += 1;
        stats.last_error = Some(format!("building the backend selector failed: {chain}"));
    }
}

/// A built set on its way to publication.
pub(crate) struct Built<S> {
    pub(crate) previous: Arc<Snapshot<S>>,
    pub(crate) set: Arc<BackendSet>,
    pub(crate) selectors: Option<Selectors<S>>,
    /// What changed from the previous set, for strategies that update a selector in place.
    pub(crate) changes: Changes,
    /// The number of the discovery answer this set comes from, recorded when it is published.
    pub(crate) source_version: Option<u64>,
    pub(crate) started: Instant,
    /// The zone-routing settings the selectors are built under, and their version: a build
    /// under settings changed since is not published.
    pub(crate) zone_routing: Option<ZoneRouting>,
    pub(crate) zone_epoch: u64,
}

impl<S: BackendSelection> LoadBalancer<S> {
    /// Publishes a new backend set now, without asking the discovery source: the same work as
    /// [`LoadBalancer::update`] after discovery, on the calling thread. Useful without the
    /// `runtime` feature, or to push a set computed elsewhere.
    pub fn apply(&self, discovered: impl Into<Discovered>) -> Result<(), UpdateError> {
        let discovered = discovered.into();
        let seq = self.updates.next_seq();
        loop {
            let built = self.build_next(&discovered)?;
            if self.commit(seq, built, &discovered.enablement, None)? {
                return Ok(());
            }
        }
    }

    /// Publishes the current set changed by `delta` (see [`Delta`]): backends removed, added or
    /// changed, in time in proportion to the change plus a copy of the set's arrays. The
    /// selectors are rebuilt only when backends or weights changed.
    pub fn apply_delta(&self, delta: &Delta) -> Result<(), UpdateError> {
        let seq = self.updates.next_seq();
        loop {
            let mut built = self.next_set_delta(delta);
            if built.selectors.is_none() {
                built.selectors = Some(self.build_selectors(
                    &built.previous,
                    &built.set,
                    built.zone_routing.as_ref(),
                    Some(&built.changes),
                )?);
            }
            if self.commit(seq, built, &delta.enablement, None)? {
                return Ok(());
            }
        }
    }

    /// Builds the set that follows the current one for `discovered`, and its selectors (kept
    /// when backends and weights did not change).
    pub(crate) fn build_next(&self, discovered: &Discovered) -> Result<Built<S>, UpdateError> {
        let mut built = self.next_set(discovered);
        if built.selectors.is_none() {
            built.selectors = Some(self.build_selectors(
                &built.previous,
                &built.set,
                built.zone_routing.as_ref(),
                Some(&built.changes),
            )?);
        }
        Ok(built)
    }

    /// The set that follows the current one for `discovered`, with the previous selectors when
    /// they can serve it as they are (same backends, same weights), else none yet.
    pub(crate) fn next_set(&self, discovered: &Discovered) -> Built<S> {
        self.next_set_from(|previous| {
            BackendSet::next(
                discovered,
                previous,
                self.backends.registrar(),
                &self.backends.pool,
            )
        })
    }

    /// The current set changed by `delta`, with the previous selectors when they can serve it as
    /// they are, else none yet.
    pub(crate) fn next_set_delta(&self, delta: &Delta) -> Built<S> {
        self.next_set_from(|previous| {
            BackendSet::apply(
                delta,
                previous,
                self.backends.registrar(),
                &self.backends.pool,
            )
        })
    }

    /// The set `make` builds from the current one, with the previous selectors when they can
    /// serve it as they are, else none yet.
    pub(crate) fn next_set_from(
        &self,
        make: impl FnOnce(&BackendSet) -> (BackendSet, Changes),
    ) -> Built<S> {
        let started = Instant::now();
        // Read before the snapshot: settings changed after this are caught at commit.
        let (zone_routing, zone_epoch) = self.policies.pool.zone_routing();
        let previous = self.cell.load_full();
        let (set, changes) = make(&previous.set);
        let set = Arc::new(set);
        let keep = previous.selectors.is_some()
            && selectors_still_serve(&previous.set, &set, &changes, zone_routing.is_some());
        let selectors = if keep {
            previous.selectors.clone()
        } else {
            None
        };
        Built {
            previous,
            set,
            selectors,
            changes,
            source_version: None,
            started,
            zone_routing,
            zone_epoch,
        }
    }

    /// Builds the selectors over `set` from those of `previous`, counting and logging a failure.
    pub(crate) fn build_selectors(
        &self,
        previous: &Snapshot<S>,
        set: &BackendSet,
        routing: Option<&ZoneRouting>,
        changes: Option<&Changes>,
    ) -> Result<Selectors<S>, UpdateError> {
        let change = changes.map(|c| c.view(previous.set.backends()));
        build_all(
            previous.selectors.as_ref(),
            set,
            &self.configs,
            routing,
            change,
        )
        .map_err(|e| {
            self.updates.build_failed(e.as_ref());
            UpdateError::Build(e)
        })
    }

    /// Publishes `built` unless a newer update already published (an error) or another update
    /// published since its previous snapshot was read (`Ok(false)`: build again on top).
    pub(crate) fn commit(
        &self,
        seq: u64,
        built: Built<S>,
        enablement: &HashMap<Address, Enablement>,
        discovery_duration: Option<Duration>,
    ) -> Result<bool, UpdateError> {
        let mut published = self.updates.publishing();
        if *published > seq {
            return Err(UpdateError::Superseded);
        }
        let current = self.cell.load();
        if current.set.generation() != built.previous.set.generation()
            || self.policies.pool.zone_routing().1 != built.zone_epoch
        {
            return Ok(false);
        }
        built.set.apply_enablement(enablement);
        let selectors = built.selectors.map(|s| s.for_set(&built.set));
        place(
            &built.set,
            Some(&built.previous.set),
            true,
            selectors.as_ref(),
            &self.policies.pool,
            Some(&built.changes),
        );
        let backends = built.set.len();
        if backends > 0 {
            self.policies.pool.started();
        }
        // How requests are followed comes from the current snapshot, read under the lock every
        // publication takes: a policy changed while this set was built is kept.
        let next = Snapshot {
            set: built.set,
            selectors,
            policies: Arc::clone(&current.policies),
            signals: current.signals,
            policies_need_load: current.policies_need_load,
        };
        drop(current);
        let generation = next.set.generation();
        self.cell.store(Arc::new(next));
        *published = seq;
        *lock(&self.updates.source_version) = built.source_version;
        drop(published);
        let build_duration = built.started.elapsed();
        *lock(&self.updates.timings) = Some(UpdateTimings {
            discovery_duration: discovery_duration.unwrap_or_default(),
            build_duration,
            backends,
        });
        #[cfg(feature = "metrics")]
        if let Some(m) = self.updates.metrics.get() {
            m.published(discovery_duration, build_duration, backends);
        }
        lock(&self.updates.stats).published += 1;
        tracing::debug!(backends, "published a new backend set");
        self.published.published(generation);
        Ok(true)
    }

    /// How long the last published update took.
    pub fn last_update_timing(&self) -> Option<UpdateTimings> {
        *lock(&self.updates.timings)
    }

    /// Update counters and the last error, and panic mode.
    pub fn stats(&self) -> UpdateStats {
        let mut stats = lock(&self.updates.stats).clone();
        stats.in_panic = self.policies.pool.in_panic();
        (stats.panic_entries, stats.panic_exits) = self.policies.pool.panic_counts();
        (stats.routed_local, stats.routed_cross_zone) = self.policies.pool.routed_counts();
        let (enabled, ready) = self.policies.pool.weights();
        (stats.enabled_weight, stats.ready_weight) = (enabled.max(0) as u64, ready.max(0) as u64);
        stats
    }

    pub(crate) fn updates(&self) -> &Updates {
        &self.updates
    }
}
