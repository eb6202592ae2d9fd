//! [`SubsetPolicy`]: how a client chooses its subset.

use lb_core::Backend;

/// How a client chooses its subset of a source's backends: [`Subset`](super::Subset),
/// [`RandomSubset`](super::RandomSubset), or your own.
///
/// An implementation is a pure function of the backends it is given (and of its own
/// configuration): [`SubsetDiscovery`](super::SubsetDiscovery) calls it on every answer of the
/// source, so the same answer must give the same subset.
pub trait SubsetPolicy: Send + Sync + 'static {
    /// The backends of `backends` this client keeps.
    fn select(&self, backends: &[Backend]) -> Vec<Backend>;
}

/// A policy chosen at run time.
impl SubsetPolicy for Box<dyn SubsetPolicy> {
    fn select(&self, backends: &[Backend]) -> Vec<Backend> {
        (**self).select(backends)
    }
}
