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
