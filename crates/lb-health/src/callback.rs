//! [`StatusCallback`]: the user's function called after a backend's health flips.

use std::fmt;
use std::sync::Arc;

use lb_core::Backend;

type Callback = dyn Fn(&Backend, bool) + Send + Sync;

/// A shared `Fn(&Backend, healthy)`.
#[derive(Clone)]
pub(crate) struct StatusCallback(Arc<Callback>);

impl StatusCallback {
    pub(crate) fn new(f: impl Fn(&Backend, bool) + Send + Sync + 'static) -> Self {
        StatusCallback(Arc::new(f))
    }

    pub(crate) fn call(&self, backend: &Backend, healthy: bool) {
        (self.0)(backend, healthy);
    }
}

impl fmt::Debug for StatusCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StatusCallback")
    }
}
