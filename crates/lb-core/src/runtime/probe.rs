//! The probe of a [`HealthRegistry`] and the events of its flips: the registry's async half.

use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use super::check::{HealthCheck, HealthEvent};
use crate::backend::Backend;
use crate::health::HealthRegistry;

/// Capacity of the health event channel; a watcher that falls further behind is resynchronised
/// with the current state of every backend.
const EVENT_CAPACITY: usize = 1024;

pub(crate) struct Probe {
    check: Mutex<Option<Arc<dyn HealthCheck>>>,
    pub(crate) events: broadcast::Sender<HealthEvent>,
}

impl Default for Probe {
    fn default() -> Self {
        Probe {
            check: Mutex::new(None),
            events: broadcast::Sender::new(EVENT_CAPACITY),
        }
    }
}

impl Probe {
    fn check(&self) -> Option<Arc<dyn HealthCheck>> {
        crate::health::registry::lock(&self.check).clone()
    }

    pub(crate) fn has_check(&self) -> bool {
        crate::health::registry::lock(&self.check).is_some()
    }

    pub(crate) fn copy_check_from(&self, other: &Probe) {
        *crate::health::registry::lock(&self.check) = other.check();
    }

    /// Sends a flip to the watchers; no watcher is a normal state (the event is not kept).
    pub(crate) fn announce(&self, backend: &Backend, healthy: bool, reason: Option<Arc<str>>) {
        let _ = self.events.send(HealthEvent {
            backend: backend.clone(),
            healthy,
            reason,
        });
    }
}

impl HealthRegistry {
    /// A registry that probes with `check`.
    pub fn with_health_check(check: Box<dyn HealthCheck>) -> Self {
        let registry = Self::new();
        registry.set_health_check(check);
        registry
    }

    /// Replaces the probe. Backends registered from now on start in the initial health.
    pub fn set_health_check(&self, check: Box<dyn HealthCheck>) {
        *crate::health::registry::lock(&self.inner.probe.check) = Some(Arc::from(check));
    }

    pub(crate) fn health_check(&self) -> Option<Arc<dyn HealthCheck>> {
        self.inner.probe.check()
    }
}
