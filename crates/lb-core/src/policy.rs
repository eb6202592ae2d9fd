//! [`Policies`]: what a load balancer does with the outcomes its requests report, shared by every
//! generation of its set so that a change applies at once.
//!
//! Each policy is an observer of the request lifecycle ([`Pick`](crate::Pick)): the lifecycle
//! counts the outcome in the backend's load signals, then hands it to every policy. Today's
//! policies: passive health (`passive.rs`) and the closing of outcome windows.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock;
use crate::outcome::Outcome;
use crate::passive::PassivePolicy;
use crate::pool::Pool;
use crate::set::BackendSet;
use crate::signals::LoadSignals;
use crate::state::BackendState;

#[derive(Debug)]
pub(crate) struct Policies {
    pub(crate) passive: PassivePolicy,
    /// The set's readiness accounting, panic mode, slow start (shared with every state).
    pub(crate) pool: Arc<Pool>,
    /// When the current outcome window ends, in [`clock`] nanoseconds (0: not started).
    window_end: AtomicU64,
}

impl Policies {
    pub(crate) fn new(pool: Arc<Pool>) -> Self {
        Policies {
            passive: PassivePolicy::default(),
            pool,
            window_end: AtomicU64::new(0),
        }
    }

    /// Whether some policy needs requests in flight counted.
    pub(crate) fn need_load(&self) -> bool {
        self.passive.is_on()
    }

    /// Observes one reported outcome of backend `index` of `set`, once it is counted in the
    /// backend's load signals.
    pub(crate) fn observe(
        &self,
        set: &BackendSet,
        index: usize,
        state: &BackendState,
        outcome: Outcome,
    ) {
        self.passive.observe(set, index, state, outcome);
    }

    /// Closes the outcome window of every backend of `set` when it is over at `now`, before a
    /// report made at `now` is counted (in the next window). One reporter wins the exchange and
    /// does the work (one pass over the set per window); the others go on.
    #[inline]
    pub(crate) fn close_window_if_over(&self, set: &BackendSet, now: u64, signals: &LoadSignals) {
        let end = self.window_end.load(Ordering::Relaxed);
        if now < end {
            return;
        }
        let next = now.saturating_add(clock::saturating_nanos(signals.window));
        if self
            .window_end
            .compare_exchange(end, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
            && end != 0
        {
            self.close_windows(set);
        }
    }

    /// Closes the window of every backend, then lets outlier detection judge the closed window.
    #[cold]
    #[inline(never)]
    fn close_windows(&self, set: &BackendSet) {
        for state in set.states() {
            state.load.rotate_window();
        }
        if self.passive.is_on() {
            self.passive.evaluate_window(set);
        }
    }
}
