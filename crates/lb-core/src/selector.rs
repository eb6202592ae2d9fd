//! [`Selector`]: a per-worker handle that selects without any atomic read-modify-write.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::{ArcSwap, Cache};

use crate::backend::Backend;
use crate::load_balancer::LoadBalancer;
use crate::pick::{InFlight, Pick, Snapshot};
use crate::selection::BackendSelection;
use crate::set::BackendSet;
use crate::state::{BackendState, Outcome};

/// Dereferences a load balancer handle (`&LoadBalancer` or `Arc<LoadBalancer>`) to its snapshot
/// cell, so that arc-swap's `Cache` can watch it.
pub struct SnapshotCell<L>(L);

impl<S: BackendSelection, L: Deref<Target = LoadBalancer<S>>> Deref for SnapshotCell<L> {
    type Target = ArcSwap<Snapshot<S>>;
    fn deref(&self) -> &Self::Target {
        self.0.snapshot_cell()
    }
}

impl<L> fmt::Debug for SnapshotCell<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SnapshotCell")
    }
}

/// A load balancer handle for one worker thread or task, for the hottest loops.
///
/// [`LoadBalancer::select`] returns a [`Pick`] that owns its generation of the backend set, which
/// costs two atomic read-modify-write operations per pick (about 12 ns on a 2.6 GHz Xeon,
/// whatever the strategy). A `Selector` keeps the current generation itself and only checks, with
/// one plain atomic load, whether a newer one was published: picks cost the strategy alone. In
/// exchange, a [`LocalPick`] borrows the selector, so it lives until the next pick at most; turn it
/// into an owned [`Pick`] ([`LocalPick::to_pick`]) to keep it longer, for example across an
/// `.await`.
///
/// Create one per worker (a thread-local, a field of a per-connection task) with
/// [`LoadBalancer::selector`] or [`Selector::new`] over an `Arc<LoadBalancer>`. A selector holds
/// the generation it last saw until its next pick, so one that is never used again keeps that
/// generation's memory alive until it is dropped.
///
/// ```
/// # use lb_core::{Backend, BackendIter, BackendSelection, BoxError, LoadBalancer};
/// # struct First;
/// # struct It(Option<usize>);
/// # impl BackendIter for It { fn next(&mut self) -> Option<usize> { self.0.take() } }
/// # impl BackendSelection for First {
/// #     type Config = ();
/// #     type Iter<'a> = It;
/// #     fn build(_: &[Backend], _: &()) -> Result<Self, BoxError> { Ok(First) }
/// #     fn iter(&self, _: &[u8]) -> It { It(Some(0)) }
/// # }
/// let lb = LoadBalancer::<First>::try_from_iter(["10.0.0.1:80"]).unwrap();
/// let mut selector = lb.selector();
/// for _ in 0..3 {
///     let pick = selector.select(b"").unwrap();
///     assert_eq!(pick.addr.to_string(), "10.0.0.1:80");
/// }
/// lb.apply(vec![Backend::new("10.0.0.2:80").unwrap()]).unwrap();
/// assert_eq!(selector.select(b"").unwrap().addr.to_string(), "10.0.0.2:80");
/// ```
pub struct Selector<L, S: BackendSelection> {
    cache: Cache<SnapshotCell<L>, Arc<Snapshot<S>>>,
}

impl<S: BackendSelection, L: Deref<Target = LoadBalancer<S>>> Selector<L, S> {
    /// A selector over `lb` (a reference or an `Arc`).
    pub fn new(lb: L) -> Self {
        Selector {
            cache: Cache::new(SnapshotCell(lb)),
        }
    }

    /// Like [`LoadBalancer::select`]: the first ready candidate for `key`.
    #[inline]
    pub fn select(&mut self, key: &[u8]) -> Option<LocalPick<'_, S>> {
        self.select_in(0, key)
    }

    /// Like [`LoadBalancer::select_in`]: with selector `selector_index` of a group.
    #[inline]
    pub fn select_in(&mut self, selector_index: usize, key: &[u8]) -> Option<LocalPick<'_, S>> {
        let snapshot = self.cache.load();
        let index = snapshot.first_ready(selector_index, key)?;
        Some(LocalPick::new(snapshot, index))
    }

    /// Like [`LoadBalancer::select_with`].
    pub fn select_with<F>(
        &mut self,
        key: &[u8],
        max_iterations: usize,
        accept: F,
    ) -> Option<LocalPick<'_, S>>
    where
        F: FnMut(&Backend, bool) -> bool,
    {
        let snapshot = self.cache.load();
        let index = snapshot.first_accepted(0, key, max_iterations, accept)?;
        Some(LocalPick::new(snapshot, index))
    }
}

impl<L, S: BackendSelection> fmt::Debug for Selector<L, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Selector").finish_non_exhaustive()
    }
}

/// A backend chosen by a [`Selector`], valid until the selector's next pick (also the borrowed
/// view of a [`Pick`], [`Pick::as_local`]). It dereferences to the [`Backend`].
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

    /// See [`Pick::report`].
    pub fn report(&self, outcome: Outcome, latency: Duration) {
        self.state().record_outcome(outcome, latency);
        self.snapshot
            .passive
            .report(&self.snapshot.set, self.index, outcome);
    }

    /// See [`Pick::track_in_flight`].
    pub fn track_in_flight(&self) -> InFlight {
        InFlight::new(Arc::clone(self.state()))
    }

    /// An owned pick of the same backend, which may outlive the selector and cross threads (one
    /// atomic increment).
    pub fn to_pick(&self) -> Pick<S> {
        Pick {
            snapshot: arc_swap::Guard::from_inner(Arc::clone(self.snapshot)),
            index: self.index,
        }
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
