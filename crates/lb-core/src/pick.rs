//! [`Pick`]: the backend chosen for one request.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::Backend;
use crate::passive::PassivePolicy;
use crate::selector::LocalPick;
use crate::set::BackendSet;
use crate::state::{BackendState, Outcome};

/// One published generation of a load balancer: the backend set and the selectors built from it,
/// swapped together so that a reader never sees backends of one generation with a selector of
/// another. Opaque: it appears in the types of [`Pick`] and [`Selector`](crate::Selector).
pub struct Snapshot<S> {
    pub(crate) set: Arc<BackendSet>,
    /// `None` until a build over some set succeeded.
    pub(crate) selectors: Option<Selectors<S>>,
    /// The load balancer's passive-health policy (the same for every generation).
    pub(crate) passive: Arc<PassivePolicy>,
}

/// The selectors of one generation, one per configuration of the load balancer, all built over
/// the same set. The first is a field of its own so that `select` reaches it without an index.
pub(crate) struct Selectors<S> {
    pub(crate) first: Arc<S>,
    pub(crate) rest: Box<[Arc<S>]>,
}

impl<S> Clone for Selectors<S> {
    fn clone(&self) -> Self {
        Selectors {
            first: Arc::clone(&self.first),
            rest: self.rest.clone(),
        }
    }
}

impl<S> Selectors<S> {
    /// The selector built for configuration `index`.
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Option<&S> {
        match index {
            0 => Some(&self.first),
            i => self.rest.get(i - 1).map(|s| &**s),
        }
    }
}

/// The backend chosen for one request: a cheap handle that dereferences to the [`Backend`].
///
/// It keeps the backend set it was chosen from alive (without copying the backend), so it stays
/// valid while the load balancer moves on to newer sets. Hold it for the duration of the request
/// and drop it soon after: a pick held for a long time keeps its whole generation in memory.
pub struct Pick<S> {
    pub(crate) snapshot: arc_swap::Guard<Arc<Snapshot<S>>>,
    pub(crate) index: usize,
}

impl<S> Pick<S> {
    /// A borrowed view of this pick; `Pick` and [`LocalPick`] share its accessors.
    #[inline]
    pub fn as_local(&self) -> LocalPick<'_, S> {
        LocalPick::new(&self.snapshot, self.index)
    }

    /// The chosen backend.
    #[inline]
    pub fn backend(&self) -> &Backend {
        self.as_local().backend()
    }

    /// The backend's index in the set it was chosen from.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The backend's runtime state.
    pub fn state(&self) -> &Arc<BackendState> {
        self.as_local().state()
    }

    /// The set the backend was chosen from.
    pub fn set(&self) -> &Arc<BackendSet> {
        self.as_local().set()
    }

    /// Reports how the request went; feeds the backend's request and failure counters, its
    /// latency average ([`BackendState::latency_ewma`]) and, when the load balancer has a
    /// [`PassiveHealth`](crate::PassiveHealth) policy, its ejection after repeated failures.
    pub fn report(&self, outcome: Outcome, latency: Duration) {
        self.as_local().report(outcome, latency);
    }

    /// Counts the request as in flight on the backend until the returned guard is dropped.
    pub fn track_in_flight(&self) -> InFlight {
        self.as_local().track_in_flight()
    }
}

impl<S> fmt::Debug for Snapshot<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("set", &self.set)
            .field("built", &self.selectors.is_some())
            .finish()
    }
}

impl<S> Deref for Pick<S> {
    type Target = Backend;
    #[inline]
    fn deref(&self) -> &Backend {
        self.backend()
    }
}

impl<S> fmt::Debug for Pick<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pick")
            .field("index", &self.index)
            .field("backend", self.backend())
            .finish()
    }
}

/// A request counted in flight on a backend; see [`Pick::track_in_flight`].
pub struct InFlight {
    state: Arc<BackendState>,
}

impl InFlight {
    pub(crate) fn new(state: Arc<BackendState>) -> Self {
        state.in_flight_inc();
        InFlight { state }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.state.in_flight_dec();
    }
}

impl fmt::Debug for InFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InFlight")
            .field("in_flight", &self.state.in_flight())
            .finish()
    }
}
