//! The async side's hooks when the `runtime` feature is off: the names `runtime/hooks.rs` gives
//! the data plane, doing nothing (no probe can be set, nothing waits on a publication, there is
//! no discovery source), so that no data-plane file needs a feature gate.

use std::sync::Arc;
use std::time::Instant;

use crate::backend::Backend;
use crate::snapshot::Snapshot;

/// The current time: the standard monotonic clock.
#[inline]
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// A health registry's probe: never set without the runtime. (Not a unit struct, so that the
/// registry makes it with `default()`, as it does the runtime's.)
#[derive(Default)]
pub(crate) struct Probe(());

impl Probe {
    pub(crate) fn has_check(&self) -> bool {
        false
    }

    pub(crate) fn copy_check_from(&self, _other: &Probe) {}

    /// No one can watch health events without the runtime.
    pub(crate) fn announce(&self, _backend: &Backend, _healthy: bool, _reason: Option<Arc<str>>) {}
}

/// The publications a load balancer announces: no one waits on them without the runtime.
pub(crate) struct Published;

impl Published {
    pub(crate) fn new<S>(_first: &Snapshot<S>, _has_discovery: bool) -> Self {
        Published
    }

    pub(crate) fn published(&self, _generation: u64) {}
}

/// What a `Backends` holds of the async side: nothing.
pub(crate) struct BackendsLink;

impl BackendsLink {
    pub(crate) fn fixed() -> Self {
        BackendsLink
    }

    pub(crate) fn admin_changed(&self) {}

    pub(crate) fn has_discovery(&self) -> bool {
        false
    }
}
