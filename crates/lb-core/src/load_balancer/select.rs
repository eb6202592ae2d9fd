//! Picking a backend: [`LoadBalancer::select`] and its variants.

use super::LoadBalancer;
use crate::backend::Backend;
use crate::pick::Pick;
use crate::selection::BackendSelection;

impl<S: BackendSelection> LoadBalancer<S> {
    /// Picks a ready backend for `key` (ignored by strategies that do not hash) and starts the
    /// request's lifecycle: the returned [`Pick`] is its handle until it is reported or dropped.
    ///
    /// The strategy offers every backend at most once, so this finds a ready backend whenever
    /// one exists, however many are down. When none is ready but some are kept out only by an
    /// outcome policy ([`PassiveHealth`](crate::PassiveHealth)), the first of those is picked as
    /// a last resort. In panic mode (too few backends ready, see
    /// [`LoadBalancer::set_panic_threshold`]) the strategy's pick is taken whenever it is
    /// enabled, healthy or not. So `None` means that no backend is ready and, in panic mode, none
    /// is enabled either.
    ///
    /// It takes no lock, allocates nothing, logs nothing, and reads each candidate's readiness
    /// with one atomic load. The [`Pick`] owns its generation of the set, which costs two atomic
    /// read-modify-write operations (a [`Selector`](crate::Selector) avoids them in the hottest
    /// loops), and, when the load balancer tracks load, one more to count it in flight.
    #[inline]
    pub fn select(&self, key: &[u8]) -> Option<Pick<S>> {
        self.select_in(0, key)
    }

    /// Picks a ready backend for `key` with selector `selector_index` (see
    /// [`LoadBalancer::from_backends_with_configs`]); `None` also when there is no such selector.
    #[inline]
    pub fn select_in(&self, selector_index: usize, key: &[u8]) -> Option<Pick<S>> {
        let snapshot = self.cell.load();
        let index = snapshot.first_ready(selector_index, key)?;
        let tracked = snapshot.start(index);
        Some(Pick::new(snapshot, index, tracked))
    }

    /// Picks the first of at most `max_iterations` candidates that `accept` takes. `accept`
    /// sees each candidate and whether it is ready (healthy, enabled and not ejected by
    /// [`PassiveHealth`](crate::PassiveHealth)), so it can, for example, take an unhealthy
    /// backend as a last resort or skip one already tried. Unlike [`LoadBalancer::select`], it
    /// never falls back to an ejected backend by itself: `accept` decides.
    pub fn select_with<F>(&self, key: &[u8], max_iterations: usize, accept: F) -> Option<Pick<S>>
    where
        F: FnMut(&Backend, bool) -> bool,
    {
        self.select_in_with(0, key, max_iterations, accept)
    }

    /// [`LoadBalancer::select_with`] with selector `selector_index`.
    pub fn select_in_with<F>(
        &self,
        selector_index: usize,
        key: &[u8],
        max_iterations: usize,
        accept: F,
    ) -> Option<Pick<S>>
    where
        F: FnMut(&Backend, bool) -> bool,
    {
        let snapshot = self.cell.load();
        let index = snapshot.first_accepted(selector_index, key, max_iterations, accept)?;
        let tracked = snapshot.start(index);
        Some(Pick::new(snapshot, index, tracked))
    }
}
