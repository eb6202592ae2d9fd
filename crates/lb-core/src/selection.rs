//! The contract between a load balancer and a selection strategy.

use std::sync::Arc;

use crate::backend::Backend;
use crate::error::BoxError;
use crate::state::BackendState;

/// A selection strategy: built from the current backends, it orders candidate backends for a key.
///
/// A load balancer builds one selector per backend set and asks it, per request, for candidate
/// *indices* into the backend slice it was built from, in preference order. The load balancer
/// takes the first candidate that is ready, so the strategy never needs to know about health.
///
/// # Contract
///
/// - `build` sees the backends sorted by address, without duplicates. Building from an empty
///   slice must succeed (a selector that yields nothing). A build may fail (a hash ring whose
///   total weight is too large, say); the load balancer then keeps its previous set and reports
///   the error. It must not panic on any input: weight 0, weight `u32::MAX`, a million backends.
/// - `iter` must not allocate on the heap, lock, or hash a [`Backend`]; it is the select path.
/// - The iterator yields indices in `0..backends.len()`, **visits each distinct backend at most
///   once, and reaches every backend** before it ends, so that `select` finds a ready backend
///   whenever one exists. It may end after the last backend; it must not loop forever.
/// - Weight 0 means *standby*: such a backend is never the first candidate while a backend of
///   positive weight exists, and comes after every positive-weight backend in the order.
///
/// The load balancer stops early after `2 * len + 16` candidates as a defence against a
/// strategy that breaks the contract, and skips indices out of range.
pub trait BackendSelection: Sized + Send + Sync + 'static {
    /// Build-time options (for example the number of points of a hash ring). `Default` is what
    /// [`LoadBalancer::from_backends`](crate::LoadBalancer::from_backends) uses.
    type Config: Clone + Default + Send + Sync + 'static;

    /// The candidate iterator for one key.
    type Iter<'a>: BackendIter
    where
        Self: 'a;

    /// Builds a selector over `backends`.
    fn build(backends: &[Backend], config: &Self::Config) -> Result<Self, BoxError>;

    /// Builds the selector for a new backend set, given the one it replaces. Strategies with
    /// state worth keeping across rebuilds (a round-robin position) override this; the default
    /// builds from scratch.
    fn rebuild(&self, backends: &[Backend], config: &Self::Config) -> Result<Self, BoxError> {
        Self::build(backends, config)
    }

    /// The candidates for `key`, best first. Strategies that ignore keys (round robin, random)
    /// ignore it.
    fn iter(&self, key: &[u8]) -> Self::Iter<'_>;

    /// The candidates for `key` given the runtime state of every backend (`states[i]` belongs
    /// to backend `i` of the slice the selector was built from): what the load balancer calls.
    /// Load-aware strategies override it to read in-flight requests or latency
    /// ([`BackendState::in_flight`], [`BackendState::latency_ewma`]); the default ignores the
    /// states and calls [`BackendSelection::iter`]. The same contract holds, and reading a state
    /// must stay a few atomic loads.
    #[inline]
    fn iter_with_states<'a>(
        &'a self,
        key: &[u8],
        states: &'a [Arc<BackendState>],
    ) -> Self::Iter<'a> {
        let _ = states;
        self.iter(key)
    }
}

/// An iterator over candidate backend indices. See [`BackendSelection`] for the contract.
pub trait BackendIter {
    /// The next candidate index, or `None` when every backend has been offered.
    fn next(&mut self) -> Option<usize>;
}
