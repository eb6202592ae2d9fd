//! [`Pick`]: the backend chosen for one request, and the request's lifecycle from `select` to
//! its end; [`LocalPick`], the borrowed view of a chosen backend that a
//! [`Selector`](crate::Selector) answers.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::Backend;
use crate::outcome::Outcome;
use crate::selection::BackendSelection;
use crate::set::BackendSet;
use crate::snapshot::{Ending, Snapshot};
use crate::state::BackendState;

/// The backend chosen for one request, and the request's handle until it ends. It dereferences
/// to the [`Backend`].
///
/// **Lifecycle.** A request starts at `select` and ends in one of two ways:
/// [`Pick::report`] ends it with a verdict (success or failure, and its latency), which feeds the
/// backend's load signals (outcome counts, latency estimate) and the load balancer's outcome
/// policies ([`PassiveHealth`](crate::PassiveHealth)); dropping the pick without a report ends it
/// as *cancelled*: neither a success nor a failure.
///
/// **Requests in flight.** When the strategy reads load
/// ([`BackendSelection::NEEDS_LOAD`], as least request does)
/// or a policy of the load balancer is on, the request counts as in flight on its backend from
/// `select` until the pick is reported or dropped, with no call of yours. Otherwise nothing is
/// counted, and a pick costs nothing more than the choice.
///
/// A pick is `Send` and `Sync`, works across `.await` and threads, and keeps the backend set it
/// was chosen from alive (without copying the backend), so it stays valid while the load
/// balancer moves on to newer sets; its report still reaches the backend's state. Hold it for the
/// request and drop it soon after: a pick held for a long time keeps its whole generation in
/// memory.
///
/// ```
/// # use lb_core::{Backend, BackendIter, BackendSelection, BoxError, LoadBalancer, Outcome};
/// # struct First;
/// # struct It(Option<usize>);
/// # impl BackendIter for It { fn next(&mut self) -> Option<usize> { self.0.take() } }
/// # impl BackendSelection for First {
/// #     type Config = ();
/// #     type Iter<'a> = It;
/// #     const NEEDS_LOAD: bool = true;
/// #     fn build(_: &[Backend], _: &()) -> Result<Self, BoxError> { Ok(First) }
/// #     fn iter(&self, _: &[u8]) -> It { It(Some(0)) }
/// # }
/// use std::time::Duration;
///
/// // `First` is a strategy that reads load (NEEDS_LOAD), so picks count in flight.
/// let lb = LoadBalancer::<First>::try_from_iter(["10.0.0.1:80"]).unwrap();
/// let pick = lb.select(b"").unwrap();
/// let state = pick.state().clone();
/// assert_eq!(state.in_flight(), 1);
/// let cancelled = lb.select(b"").unwrap();
/// assert_eq!(state.in_flight(), 2);
/// drop(cancelled); // ends as cancelled
/// pick.report(Outcome::Success, Duration::from_millis(12));
/// assert_eq!((state.in_flight(), state.requests(), state.cancellations()), (0, 1, 1));
/// ```
pub struct Pick<S> {
    pub(crate) snapshot: arc_swap::Guard<Arc<Snapshot<S>>>,
    /// The backend's index, with [`TRACKED`] set while the request counts in flight on it
    /// (decided at `select`). One word, so that a pick is the guard and a word, as small as
    /// before it was a request, and moves as cheaply.
    slot: usize,
}

/// The bit of [`Pick::slot`] that says the request counts in flight. Indices are below
/// `isize::MAX` (they index a slice), so the top bit is free.
const TRACKED: usize = 1 << (usize::BITS - 1);

impl<S> Pick<S> {
    #[inline]
    pub(crate) fn new(
        snapshot: arc_swap::Guard<Arc<Snapshot<S>>>,
        index: usize,
        tracked: bool,
    ) -> Self {
        Pick {
            snapshot,
            slot: index | if tracked { TRACKED } else { 0 },
        }
    }

    #[inline]
    fn tracked(&self) -> bool {
        self.slot & TRACKED != 0
    }

    /// A borrowed view of this pick; `Pick` and [`LocalPick`] share its accessors.
    #[inline]
    pub fn as_local(&self) -> LocalPick<'_, S> {
        LocalPick::new(&self.snapshot, self.index())
    }

    /// The chosen backend.
    #[inline]
    pub fn backend(&self) -> &Backend {
        self.as_local().backend()
    }

    /// The backend's index in the set it was chosen from.
    #[inline]
    pub fn index(&self) -> usize {
        self.slot & !TRACKED
    }

    /// The backend's runtime state.
    pub fn state(&self) -> &Arc<BackendState> {
        self.as_local().state()
    }

    /// The set the backend was chosen from.
    pub fn set(&self) -> &Arc<BackendSet> {
        self.as_local().set()
    }

    /// Whether this request counts in flight on its backend until it ends.
    pub fn is_tracked(&self) -> bool {
        self.tracked()
    }

    /// Ends the request with its outcome and latency (from sending it to its answer, as you
    /// measure it). Feeds the backend's outcome counts and latency estimate and the load
    /// balancer's outcome policies, and ends its count in flight. Takes no lock unless a policy
    /// acts (an ejection), and allocates nothing.
    pub fn report(mut self, outcome: Outcome, latency: Duration) {
        self.snapshot.end(
            self.index(),
            Ending::Reported(outcome, latency),
            self.tracked(),
        );
        // Ended: the drop that follows has nothing left to do.
        self.slot &= !TRACKED;
    }
}

impl<S> Drop for Pick<S> {
    #[inline]
    fn drop(&mut self) {
        if self.tracked() {
            self.snapshot.end(self.index(), Ending::Cancelled, true);
        }
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
            .field("index", &self.index())
            .field("backend", self.backend())
            .field("tracked", &self.tracked())
            .finish()
    }
}

/// A backend chosen by a [`Selector`](crate::Selector), valid until the selector's next pick
/// (also the borrowed view of a [`Pick`], [`Pick::as_local`]). It dereferences to the
/// [`Backend`].
///
/// It is a view, not a request: [`LocalPick::to_pick`] starts the request's lifecycle.
pub struct LocalPick<'a, S> {
    snapshot: &'a Arc<Snapshot<S>>,
    index: usize,
}

impl<S> Clone for LocalPick<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for LocalPick<'_, S> {}

impl<'a, S> LocalPick<'a, S> {
    pub(crate) fn new(snapshot: &'a Arc<Snapshot<S>>, index: usize) -> Self {
        LocalPick { snapshot, index }
    }

    /// The chosen backend.
    #[inline]
    pub fn backend(&self) -> &'a Backend {
        // `index` was checked against this very set when the pick was made, and sets never
        // change, so direct indexing cannot go out of bounds.
        &self.snapshot.set.backends()[self.index]
    }

    /// The backend's index in its set.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The backend's runtime state.
    pub fn state(&self) -> &'a Arc<BackendState> {
        // Same invariant as `backend`: states and backends have the same length.
        &self.snapshot.set.states()[self.index]
    }

    /// The set the backend was chosen from.
    pub fn set(&self) -> &'a Arc<BackendSet> {
        &self.snapshot.set
    }
}

impl<S: BackendSelection> LocalPick<'_, S> {
    /// Starts a request on this backend: an owned [`Pick`], which may outlive the selector and
    /// cross threads, counted in flight when the load balancer tracks load (one atomic increment
    /// for the generation, one for the count).
    pub fn to_pick(&self) -> Pick<S> {
        Pick::new(
            arc_swap::Guard::from_inner(Arc::clone(self.snapshot)),
            self.index,
            self.snapshot.start(self.index),
        )
    }
}

impl<S> Deref for LocalPick<'_, S> {
    type Target = Backend;
    #[inline]
    fn deref(&self) -> &Backend {
        self.backend()
    }
}

impl<S> fmt::Debug for LocalPick<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalPick")
            .field("index", &self.index)
            .field("backend", self.backend())
            .finish()
    }
}
