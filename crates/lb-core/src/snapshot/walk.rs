//! The candidate walk of `select` over a whole (undivided) set: the first candidate in
//! registers, the rest out of line, the strategy's contract enforced by a budget.

use std::sync::atomic::{AtomicBool, Ordering};

use super::Snapshot;
use crate::backend::Backend;
use crate::selection::{BackendIter, BackendSelection, States};
use crate::state::{BackendState, Take};
use crate::topology::Partitions;

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

impl<S: BackendSelection> Snapshot<S> {
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
