//! [`Discovered`]: one answer of a discovery source. The sources themselves (the async
//! `ServiceDiscovery` trait and its change signals) are in `runtime/`.

use std::collections::HashMap;

use crate::address::Address;
use crate::backend::Backend;
use crate::state::Enablement;

/// One answer of a discovery source: the full backend set, and the administrative state of the
/// backends the source has an opinion on.
///
/// Backends absent from `enablement` keep their current state (a new backend starts
/// [`Enablement::Enabled`]), so a state set by the application with
/// [`Backends::set_enable`](crate::Backends::set_enable) survives updates until the source says
/// otherwise. Duplicate addresses in `backends` are merged: the first occurrence wins.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Discovered {
    /// Every backend the source knows.
    pub backends: Vec<Backend>,
    /// The administrative state per address, where the source knows it (for example a
    /// Kubernetes endpoint that is terminating is [`Enablement::Draining`]).
    pub enablement: HashMap<Address, Enablement>,
}

impl Discovered {
    /// An answer of these backends, with no opinion on their enablement.
    pub fn new(backends: impl IntoIterator<Item = Backend>) -> Self {
        Discovered {
            backends: backends.into_iter().collect(),
            enablement: HashMap::new(),
        }
    }

    /// Adds an opinion on one backend's enablement.
    pub fn with_enablement(mut self, addr: Address, enablement: Enablement) -> Self {
        self.enablement.insert(addr, enablement);
        self
    }
}

impl From<Vec<Backend>> for Discovered {
    fn from(backends: Vec<Backend>) -> Self {
        Discovered::new(backends)
    }
}

impl FromIterator<Backend> for Discovered {
    fn from_iter<I: IntoIterator<Item = Backend>>(iter: I) -> Self {
        Discovered::new(iter)
    }
}

/// A discovery source's answer to `ServiceDiscovery::discover_changes` (the `runtime`
/// feature): the whole set, what changed since the answer the load balancer holds, or nothing.
///
/// A source that tracks its changes numbers its answers; the load balancer remembers the number
/// of the answer its published set came from and asks for the changes since it. The source
/// answers [`Answer::Delta`] when it still knows them, and [`Answer::Full`] when it does not
/// (the number is too old, or the source restarted). A set published from elsewhere
/// ([`LoadBalancer::apply`](crate::LoadBalancer::apply)) makes the next question one without a
/// number.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Answer {
    /// The whole set, numbered when the source can later answer the changes since it.
    Full {
        /// Every backend.
        set: Discovered,
        /// The answer's number, if the source keeps one.
        version: Option<u64>,
    },
    /// What changed since the answer numbered as asked, and the number of the result.
    Delta {
        /// The change.
        delta: Delta,
        /// The number of the set the change leads to.
        version: u64,
    },
    /// Nothing changed since the answer numbered as asked.
    Unchanged,
}

/// A change to a backend set, from a source that knows what changed (a Kubernetes watch event,
/// an edit of a static list, a DNS answer compared with the last): see
/// [`LoadBalancer::apply_delta`](crate::LoadBalancer::apply_delta). Applying it costs time in
/// proportion to the change plus a copy of the set's arrays; nothing that stays is sorted or
/// hashed again.
///
/// Removals are applied first, then `upsert`: a backend in both stays, as `upsert` lists it.
/// Removing an address that is not in the set does nothing; upserting one that is replaces the
/// backend (its weight, its metadata) and keeps its state.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Delta {
    /// Backends added, or whose weight or metadata changed (matched by address).
    pub upsert: Vec<Backend>,
    /// Addresses removed.
    pub remove: Vec<Address>,
    /// The administrative state per address, where the source has an opinion (as
    /// [`Discovered::enablement`]).
    pub enablement: HashMap<Address, Enablement>,
}

impl Delta {
    /// An empty change.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `backend`, or replaces the one at its address.
    pub fn with_upsert(mut self, backend: Backend) -> Self {
        self.upsert.push(backend);
        self
    }

    /// Removes the backend at `addr`.
    pub fn with_removal(mut self, addr: Address) -> Self {
        self.remove.push(addr);
        self
    }

    /// Adds an opinion on one backend's enablement.
    pub fn with_enablement(mut self, addr: Address, enablement: Enablement) -> Self {
        self.enablement.insert(addr, enablement);
        self
    }

    /// Whether the change changes nothing.
    pub fn is_empty(&self) -> bool {
        self.upsert.is_empty() && self.remove.is_empty() && self.enablement.is_empty()
    }
}
