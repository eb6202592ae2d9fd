//! [`Snapshot`]: one published generation of a load balancer, and the candidate walk of `select`.
//!
//! A snapshot holds, together, the backend set (backends and their states at the same indices),
//! the selectors built from exactly that set, and how requests are followed (the policies, the
//! load-signal settings, whether picks count in flight). It is published with one atomic swap,
//! so a reader never sees backends of one generation with a selector of another. It is the
//! load balancer's only record of the current set: [`Backends`](crate::Backends) reads it too.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::backend::Backend;
use crate::backends::CurrentSet;
use crate::change::{Changes, SetChange};
use crate::clock;
use crate::error::BoxError;
use crate::outcome::Outcome;
use crate::policy::Policies;
use crate::selection::{BackendIter, BackendSelection, States};
use crate::set::BackendSet;
use crate::signals::LoadSignals;
use crate::state::{BackendState, Take};
use crate::topology::{Partitions, ZoneRouting, divide};

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

/// The part of a set a walk runs over.
#[derive(Clone, Copy)]
pub(crate) struct Within<'m> {
    /// Whether its backends are in panic mode (`None`: the load balancer's flag).
    pub(crate) panic: Option<bool>,
    /// The index in the set of the walk's candidate `i` (for the log line of a readmission).
    pub(crate) member: &'m dyn Fn(usize) -> Option<usize>,
}

/// How a walk over the candidates ended.
pub(crate) enum Walk {
    /// At a ready backend.
    Ready(usize),
    /// At the end of the candidates, with the first backend kept out only by an ejection.
    Ended(Option<usize>),
    /// Past the budget: the strategy broke its contract.
    OverBudget(Option<usize>),
}

/// The candidates a `select` examines at most: the strategy contract says each backend is
/// offered once, so twice the set (plus slack for tiny sets) only stops a broken strategy.
#[inline]
pub(crate) fn candidate_budget(len: usize) -> usize {
    len.saturating_mul(2).saturating_add(16)
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

    #[inline]
    fn states(&self) -> States<'_> {
        States::with_pool(&self.set, &self.signals, &self.policies.pool)
    }

    /// The index of the first ready candidate of selector `selector_index` for `key`; when no
    /// candidate is ready, the first one kept out only by an ejection (a last resort, so that
    /// ejection never leaves a load balancer with nothing to pick).
    #[inline]
    pub(crate) fn first_ready(&self, selector_index: usize, key: &[u8]) -> Option<usize> {
        let selectors = self.selectors.as_ref()?;
        if let Some(partitions) = &selectors.partitions {
            return self.first_ready_partitioned(partitions, selector_index, key);
        }
        let selector = selectors.get(selector_index)?;
        // The first candidate is looked at here, the rest out of line: the first is plainly
        // ready in the common case (one load), and a short fast path keeps the strategy's state
        // in registers, and its answer too (a walk's result, three words, would go through
        // memory).
        let view = self.states();
        let mut candidates = selector.iter_with_states(key, view);
        let first = candidates.next()?;
        if view.get(first).is_some_and(BackendState::is_plainly_ready) {
            return Some(first);
        }
        self.first_ready_rest(selector, key, candidates, first)
    }

    /// [`Snapshot::first_ready`] after a first candidate that was not plainly ready: the walk
    /// of the rest, whose arguments are made here rather than on the fast path.
    #[cold]
    #[inline(never)]
    fn first_ready_rest<'a>(
        &'a self,
        selector: &'a S,
        key: &[u8],
        candidates: S::Iter<'a>,
        first: usize,
    ) -> Option<usize> {
        let whole = Within {
            panic: None,
            member: &Some,
        };
        let walk = self.walk_on(selector, self.states(), key, candidates, first, whole);
        self.resolve(walk)
    }

    /// [`Snapshot::first_ready`] over a divided set, out of line.
    #[inline(never)]
    fn first_ready_partitioned(
        &self,
        partitions: &Partitions<S>,
        selector_index: usize,
        key: &[u8],
    ) -> Option<usize> {
        let walk = self.walk_partitioned(partitions, selector_index, key);
        self.resolve(walk)
    }

    /// The backend a walk found: a ready one, else its last resort.
    #[inline]
    fn resolve(&self, walk: Walk) -> Option<usize> {
        match walk {
            Walk::Ready(i) => Some(i),
            Walk::Ended(last_resort) => last_resort,
            Walk::OverBudget(last_resort) => self.contract_broken(last_resort),
        }
    }

    /// The walk over one selector's candidates, `view` its backends' states, `within` the part
    /// of the set they are.
    #[inline]
    pub(crate) fn walk_in<'a>(
        &'a self,
        selector: &'a S,
        view: States<'a>,
        key: &[u8],
        within: Within<'_>,
    ) -> Walk {
        let mut candidates = selector.iter_with_states(key, view);
        let Some(first) = candidates.next() else {
            return Walk::Ended(None);
        };
        if view.get(first).is_some_and(BackendState::is_plainly_ready) {
            return Walk::Ready(first);
        }
        self.walk_on(selector, view, key, candidates, first, within)
    }

    /// The rest of [`Snapshot::first_ready`], after a first candidate `first` that was not plainly
    /// ready: each candidate's [`Take`] decides, with panic mode (take any enabled backend) and
    /// slow start (a ramping backend passed over by its draw sends the walk back to the strategy
    /// for a fresh pick, a few times at most, so that its share follows its weight factor).
    #[cold]
    #[inline(never)]
    fn walk_on<'a>(
        &'a self,
        selector: &'a S,
        view: States<'a>,
        key: &[u8],
        mut candidates: S::Iter<'a>,
        first: usize,
        within: Within<'_>,
    ) -> Walk {
        /// Fresh picks asked for after a ramping backend is passed over.
        const RESTARTS: u8 = 8;
        let states = view.as_slice();
        let Within { panic, member } = within;
        let panic = panic.unwrap_or_else(|| self.policies.pool.in_panic());
        let mut now = None;
        let mut budget = candidate_budget(states.len());
        let (mut last_resort, mut thinned, mut restarts) = (None, None, RESTARTS);
        let mut i = first;
        loop {
            if let Some(state) = states.get(i) {
                let addr = || member(i).and_then(|m| self.set.get(m)).map(|b| &b.addr);
                match state.take(&mut now, S::HONOURS_SLOW_START, addr) {
                    Take::Yes => return Walk::Ready(i),
                    Take::PanicOnly | Take::LastResort if panic => return Walk::Ready(i),
                    Take::LastResort => {
                        last_resort.get_or_insert(i);
                    }
                    Take::Thinned => {
                        thinned.get_or_insert(i);
                        if restarts > 0 {
                            restarts -= 1;
                            candidates = selector.iter_with_states(key, view);
                        }
                    }
                    Take::PanicOnly | Take::No => {}
                }
            }
            budget -= 1;
            let fallback = thinned.or(last_resort);
            if budget == 0 {
                return Walk::OverBudget(fallback);
            }
            match candidates.next() {
                Some(next) => i = next,
                None => return Walk::Ended(fallback),
            }
        }
    }

    /// The strategy offered more candidates than the contract allows: say so once, and find a
    /// ready backend by scanning the set, so that a broken strategy costs time, not answers.
    #[cold]
    #[inline(never)]
    fn contract_broken(&self, last_resort: Option<usize>) -> Option<usize> {
        static WARNED: AtomicBool = AtomicBool::new(false);
        if !WARNED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                strategy = std::any::type_name::<S>(),
                backends = self.set.len(),
                "the strategy offered more candidates than it has backends, breaking the \
                 BackendSelection contract; lb scans the set instead (logged once)"
            );
        }
        let states = self.set.states();
        states
            .iter()
            .position(|s| s.is_ready())
            .or(last_resort)
            .or_else(|| states.iter().position(|s| s.is_only_ejected()))
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
        F: FnMut(&Backend, bool) -> bool,
    {
        let selectors = self.selectors.as_ref()?;
        if let Some(partitions) = &selectors.partitions {
            return self.accepted_partitioned(
                partitions,
                selector_index,
                key,
                max_iterations,
                accept,
            );
        }
        let selector = selectors.get(selector_index)?;
        let set = &self.set;
        let mut candidates = selector.iter_with_states(key, self.states());
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
