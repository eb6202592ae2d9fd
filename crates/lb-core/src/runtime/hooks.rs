//! What the data plane holds of the async side: the same names as the inert ones of `hooks.rs`
//! (the crate's root), which stand in when the `runtime` feature is off, so that no data-plane
//! file needs a feature gate.

use std::time::Instant;

use super::discovery::ServiceDiscovery;

pub(crate) use super::probe::Probe;
pub(crate) use super::service::Published;

/// The current time: tokio's clock, so that a test on a paused runtime drives every
/// time-dependent policy.
#[inline]
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// What a [`Backends`](crate::Backends) holds of the async side: its discovery source, and the
/// count of administrative changes that
/// [`Backends::enablement_changes`](crate::Backends::enablement_changes) streams.
pub(crate) struct BackendsLink {
    pub(crate) discovery: Option<Box<dyn ServiceDiscovery>>,
    pub(crate) admin: tokio::sync::watch::Sender<u64>,
}

impl BackendsLink {
    /// Backends without a discovery source.
    pub(crate) fn fixed() -> Self {
        BackendsLink {
            discovery: None,
            admin: tokio::sync::watch::Sender::new(0),
        }
    }

    /// An administrative change was made.
    pub(crate) fn admin_changed(&self) {
        self.admin.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn has_discovery(&self) -> bool {
        self.discovery.is_some()
    }
}
