//! [`Selector`]: a per-worker handle that selects without any atomic read-modify-write.

use std::fmt;
use std::sync::Arc;

use arc_swap::Cache;

use crate::backend::Backend;
use crate::pick::LocalPick;
use crate::selection::BackendSelection;
use crate::snapshot::{Snapshot, SnapshotCell};

/// A load balancer handle for one worker thread or task, for the hottest loops.
///
/// [`LoadBalancer::select`](crate::LoadBalancer::select) returns a [`Pick`](crate::Pick) that
/// owns its generation of the backend set, which costs two atomic read-modify-write operations
/// per pick whatever the strategy. A `Selector` keeps the current generation itself and only
/// checks, with one plain atomic load, whether a newer one was published: picks cost the
/// strategy alone. In exchange, a [`LocalPick`] borrows the selector, so it lives until the next
/// pick at most, and it is a view, not a request: it counts nothing in flight and has no report.
/// Turn it into an owned [`Pick`](crate::Pick) ([`LocalPick::to_pick`]) to start the request's
/// lifecycle, for example to keep it across an `.await` or to report its outcome.
///
/// Create one per worker (a thread-local, a field of a per-connection task) with
/// [`LoadBalancer::selector`](crate::LoadBalancer::selector). It holds no borrow of the load
/// balancer. A selector holds the generation it last saw until its next pick, so one that is
/// never used again keeps that generation's memory alive until it is dropped.
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
    /// A selector over the snapshots published in `cell` (made by
    /// [`LoadBalancer::selector`](crate::LoadBalancer::selector)).
    pub(crate) fn over(cell: Arc<SnapshotCell<S>>) -> Self {
        Selector {
            cache: Cache::new(cell),
        }
    }

    /// Like [`LoadBalancer::select`](crate::LoadBalancer::select): the first ready candidate
    /// for `key`.
    #[inline]
    pub fn select(&mut self, key: &[u8]) -> Option<LocalPick<'_, S>> {
        self.select_in(0, key)
    }

    /// Like [`LoadBalancer::select_in`](crate::LoadBalancer::select_in): with selector
    /// `selector_index` of a group.
    #[inline]
    pub fn select_in(&mut self, selector_index: usize, key: &[u8]) -> Option<LocalPick<'_, S>> {
        let snapshot = self.cache.load();
        let index = snapshot.first_ready(selector_index, key)?;
        Some(LocalPick::new(snapshot, index))
    }

    /// Like [`LoadBalancer::select_with`](crate::LoadBalancer::select_with).
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
