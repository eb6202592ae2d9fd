//! [`Snapshot`]: one published generation of a load balancer (the candidate walk of `select`
//! over it is in `walk.rs`).
//!
//! A snapshot holds, together, the backend set (backends and their states at the same indices),
//! the selectors built from exactly that set, and how requests are followed (the policies, the
//! load-signal settings, whether picks count in flight). It is published with one atomic swap,
//! so a reader never sees backends of one generation with a selector of another. It is the
//! load balancer's only record of the current set: [`Backends`](crate::Backends) reads it too.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::backends::CurrentSet;
use crate::change::{Changes, SetChange};
use crate::clock;
use crate::error::BoxError;
use crate::outcome::Outcome;
use crate::policy::Policies;
use crate::selection::BackendSelection;
use crate::set::BackendSet;
use crate::signals::LoadSignals;
use crate::topology::{Partitions, ZoneRouting, divide};

mod walk;

pub(crate) use walk::{Walk, Within, candidate_budget};

/// Where a load balancer publishes its snapshots; shared with its [`Backends`](crate::Backends)
/// view and its [`Selector`](crate::Selector)s.
pub(crate) type SnapshotCell<S> = ArcSwap<Snapshot<S>>;

pub(crate) struct Snapshot<S> {
    pub(crate) set: Arc<BackendSet>,
    /// `None` until a build over some set succeeded.
    pub(crate) selectors: Option<Selectors<S>>,
    /// The load balancer's outcome policies (the same for every generation).
    pub(crate) policies: Arc<Policies>,
    pub(crate) signals: LoadSignals,
    /// Whether a policy needs requests in flight counted (the strategy may need it too:
    /// [`BackendSelection::NEEDS_LOAD`]).
    pub(crate) policies_need_load: bool,
}

/// The selectors of one generation, one per configuration of the load balancer, all built over
/// the same set. The first is a field of its own so that `select` reaches it without an index.
/// When the set is divided into partitions (priority levels, zones), each partition has its
/// own selectors and those over the whole set are built empty.
pub(crate) struct Selectors<S> {
    pub(crate) first: Arc<S>,
    pub(crate) rest: Box<[Arc<S>]>,
    pub(crate) partitions: Option<Arc<Partitions<S>>>,
}

impl<S> Clone for Selectors<S> {
    fn clone(&self) -> Self {
        Selectors {
            first: Arc::clone(&self.first),
            rest: self.rest.clone(),
            partitions: self.partitions.clone(),
        }
    }
}

impl<S> Selectors<S> {
    /// These selectors over `set`, a set with the same backends in the same order (partitions
    /// take `set`'s states).
    pub(crate) fn for_set(&self, set: &BackendSet) -> Self {
        Selectors {
            first: Arc::clone(&self.first),
            rest: self.rest.clone(),
            partitions: self.partitions.as_ref().map(|p| p.for_set(set)),
        }
    }

    /// The selector built for configuration `index`.
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Option<&S> {
        match index {
            0 => Some(&self.first),
            i => self.rest.get(i - 1).map(|s| &**s),
        }
    }
}

/// How a request ends (see [`Pick`](crate::Pick)).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ending {
    Reported(Outcome, Duration),
    Cancelled,
}

impl<S> Snapshot<S> {
    /// A copy of this snapshot over another set with the same backends (fresh states after a
    /// health configuration change), keeping the selectors.
    pub(crate) fn with_set(&self, set: Arc<BackendSet>) -> Self {
        Snapshot {
            selectors: self.selectors.as_ref().map(|s| s.for_set(&set)),
            set,
            policies: Arc::clone(&self.policies),
            signals: self.signals,
            policies_need_load: self.policies_need_load,
        }
    }

    /// Ends a request on backend `index` that `tracked` says was counted in flight.
    pub(crate) fn end(&self, index: usize, ending: Ending, tracked: bool) {
        let Some(state) = self.set.state(index) else {
            return;
        };
        if tracked {
            state.load.finish();
        }
        #[cfg(feature = "metrics")]
        if let Some(m) = state.metrics() {
            if tracked {
                m.finished();
            }
            match ending {
                Ending::Reported(outcome, latency) => m.reported(outcome, latency),
                Ending::Cancelled if tracked => m.cancelled(),
                Ending::Cancelled => {}
            }
        }
        match ending {
            Ending::Reported(outcome, latency) => {
                let now = clock::now_nanos();
                self.policies.pool.tick(now);
                self.policies
                    .close_window_if_over(&self.set, now, &self.signals);
                state.load.record(outcome, latency, now, self.signals.decay);
                self.policies.observe(&self.set, index, state, outcome);
            }
            Ending::Cancelled => {
                if tracked {
                    state.load.cancelled();
                }
                if state.is_probing() {
                    state.probe_cancelled();
                }
            }
        }
    }
}

impl<S: BackendSelection> Snapshot<S> {
    /// Whether picks count in flight.
    #[inline]
    pub(crate) fn tracks_load(&self) -> bool {
        S::NEEDS_LOAD || self.policies_need_load
    }

    /// Starts a request on backend `index`: counts it in flight when load is tracked. Returns
    /// whether it did, for the matching [`Snapshot::end`].
    #[inline]
    pub(crate) fn start(&self, index: usize) -> bool {
        #[cfg(feature = "metrics")]
        let metrics = self.set.state(index).and_then(|s| s.metrics());
        #[cfg(feature = "metrics")]
        if let Some(m) = metrics {
            m.picks.increment(1);
        }
        if !self.tracks_load() {
            return false;
        }
        match self.set.state(index) {
            Some(state) => {
                state.load.start();
                #[cfg(feature = "metrics")]
                if let Some(m) = metrics {
                    m.started();
                }
                true
            }
            None => false,
        }
    }
}

impl<S> fmt::Debug for Snapshot<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("set", &self.set)
            .field("built", &self.selectors.is_some())
            .field("policies_need_load", &self.policies_need_load)
            .finish()
    }
}

/// Builds one selector per configuration over `set`, each from its predecessor when there is
/// one; when `set` divides into partitions (priority levels, and zones under `routing`), one per
/// partition and configuration instead.
///
/// `change` says how `set` differs from the set `previous` was built over; a strategy may then
/// update its selector in place ([`BackendSelection::apply_change`]).
pub(crate) fn build_all<S: BackendSelection>(
    previous: Option<&Selectors<S>>,
    set: &BackendSet,
    configs: &[S::Config],
    routing: Option<&ZoneRouting>,
    change: Option<SetChange<'_>>,
) -> Result<Selectors<S>, BoxError> {
    let partitions = match divide(set.backends(), routing) {
        Some(division) => {
            let before = previous.and_then(|p| p.partitions.as_deref());
            Some(Arc::new(Partitions::build(before, set, configs, division)?))
        }
        None => None,
    };
    // A divided set selects through its partitions; the whole-set selectors are then empty.
    let whole = if partitions.is_some() {
        &[][..]
    } else {
        set.backends()
    };
    // A change applies to whole-set selectors built over the whole previous set.
    let change =
        change.filter(|_| partitions.is_none() && previous.is_some_and(|p| p.partitions.is_none()));
    let mut built = configs.iter().enumerate().map(|(i, config)| {
        match previous.and_then(|p| p.get(i)) {
            Some(prev) => match change.and_then(|c| prev.apply_change(whole, &c, config)) {
                Some(updated) => updated,
                None => prev.rebuild(whole, config),
            },
            None => S::build(whole, config),
        }
        .map(Arc::new)
    });
    // `configs` is never empty (construction guarantees it), but an empty list must not panic.
    let first = built
        .next()
        .unwrap_or_else(|| S::build(whole, &S::Config::default()).map(Arc::new))?;
    let rest = built.collect::<Result<Vec<_>, _>>()?.into_boxed_slice();
    Ok(Selectors {
        first,
        rest,
        partitions,
    })
}

/// Gives the pool the layout of `set` as `selectors` divide it, then every backend its weight,
/// tier and partition (see [`BackendSet::publish_weights`]), re-evaluating panic mode and the
/// routing once at the end. Done under the publishing lock, before the snapshot is stored.
///
/// With `changes` (what differs from `previous`), a set that is not divided, after one that was
/// not either, and whose standby rule did not flip, only the states that changed are written:
/// an update costs what the change costs.
pub(crate) fn place<S>(
    set: &BackendSet,
    previous: Option<&BackendSet>,
    ramp: bool,
    selectors: Option<&Selectors<S>>,
    pool: &crate::pool::Pool,
    changes: Option<&Changes>,
) {
    let partitions = selectors.and_then(|s| s.partitions.as_deref());
    if let (Some(previous), Some(changes), None) = (previous, changes, partitions)
        && !pool.is_partitioned()
        && set.has_active() == previous.has_active()
    {
        let _batch = pool.batch();
        set.publish_changes(previous, changes, ramp);
        return;
    }
    pool.set_layout(partitions.map(|p| p.layout.clone()).unwrap_or_default());
    let levels = partitions
        .map(Partitions::level_of_parts)
        .unwrap_or_default();
    let part_of = partitions.map_or(&[][..], |p| &p.part_of[..]);
    let _batch = pool.batch();
    set.publish_weights(previous, ramp, part_of, &levels);
}

impl<S: Send + Sync + 'static> CurrentSet for SnapshotCell<S> {
    fn current(&self) -> Arc<BackendSet> {
        Arc::clone(&self.load().set)
    }

    fn replace(&self, set: BackendSet, current: &BackendSet) {
        let snapshot = self.load();
        let selectors = snapshot.selectors.as_ref().map(|s| s.for_set(&set));
        place(
            &set,
            Some(current),
            false,
            selectors.as_ref(),
            &snapshot.policies.pool,
            None,
        );
        let next = snapshot.with_set(Arc::new(set));
        self.store(Arc::new(next));
    }
}
