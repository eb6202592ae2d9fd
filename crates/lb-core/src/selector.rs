//! [`Selector`]: a per-worker handle that selects without any atomic read-modify-write, and
//! [`LocalPick`], the borrowed view of a chosen backend.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use arc_swap::Cache;

use crate::backend::Backend;
use crate::load_balancer::LoadBalancer;
use crate::pick::Pick;
use crate::selection::BackendSelection;
use crate::set::BackendSet;
use crate::snapshot::{Snapshot, SnapshotCell};
use crate::state::BackendState;

/// A load balancer handle for one worker thread or task, for the hottest loops.
///
/// [`LoadBalancer::select`] returns a [`Pick`] that owns its generation of the backend set, which
/// costs two atomic read-modify-write operations per pick whatever the strategy. A `Selector`
/// keeps the current generation itself and only checks, with one plain atomic load, whether a
/// newer one was published: picks cost the strategy alone. In exchange, a [`LocalPick`] borrows
/// the selector, so it lives until the next pick at most, and it is a view, not a request: it
/// counts nothing in flight and has no report. Turn it into an owned [`Pick`]
/// ([`LocalPick::to_pick`]) to start the request's lifecycle, for example to keep it across an
/// `.await` or to report its outcome.
///
/// Create one per worker (a thread-local, a field of a per-connection task) with
/// [`LoadBalancer::selector`] or [`Selector::new`]. It holds no borrow of the load balancer. A
/// selector holds the generation it last saw until its next pick, so one that is never used
/// again keeps that generation's memory alive until it is dropped.
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
pub struct Selector<S: BackendSelection> {
    cache: Cache<Arc<SnapshotCell<S>>, Arc<Snapshot<S>>>,
}

impl<S: BackendSelection> Selector<S> {
    /// A selector over `lb`.
    pub fn new(lb: &LoadBalancer<S>) -> Self {
        Selector {
            cache: Cache::new(Arc::clone(lb.cell())),
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

impl<S: BackendSelection> fmt::Debug for Selector<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Selector").finish_non_exhaustive()
    }
}

/// A backend chosen by a [`Selector`], valid until the selector's next pick (also the borrowed
/// view of a [`Pick`], [`Pick::as_local`]). It dereferences to the [`Backend`].
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
