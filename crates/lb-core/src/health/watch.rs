//! [`HealthWatch`]: a stream of health states that starts with the current one.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Weak;

use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

use super::check::HealthEvent;
use super::registry::{HealthRegistry, RegistryInner};

/// Health events of a registry's backends: first one event with the current health of every
/// backend, then one per flip.
///
/// Events carry states, not deltas, and delivery is at least once: a consumer may see a state
/// it already has (around the initial snapshot, or after falling more than 1,024 events behind,
/// when the watch resynchronises by replaying every backend's current state). The stream ends
/// when the registry is dropped.
pub struct HealthWatch {
    pending: VecDeque<HealthEvent>,
    rx: broadcast::Receiver<HealthEvent>,
    registry: Weak<RegistryInner>,
}

impl HealthRegistry {
    /// A watch of this registry's health events, starting with every backend's current health.
    pub fn watch(&self) -> HealthWatch {
        // Subscribe before reading the current states so that no flip can fall in between.
        let rx = self.inner.events.subscribe();
        HealthWatch {
            pending: self.current_events(),
            rx,
            registry: std::sync::Arc::downgrade(&self.inner),
        }
    }

    fn current_events(&self) -> VecDeque<HealthEvent> {
        let mut cells = self.live_cells();
        cells.sort_by(|a, b| a.target.cmp(&b.target));
        cells
            .into_iter()
            .map(|cell| {
                let healthy = cell.is_healthy();
                HealthEvent {
                    backend: cell.target.clone(),
                    healthy,
                    reason: if healthy { None } else { cell.last_error() },
                }
            })
            .collect()
    }
}

impl HealthWatch {
    /// The next event; `None` once the registry is gone.
    pub async fn next(&mut self) -> Option<HealthEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            match self.rx.recv().await {
                Ok(event) => return Some(event),
                Err(RecvError::Lagged(_)) => self.resync(),
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// The next event if one is ready now.
    pub fn try_next(&mut self) -> Option<HealthEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            match self.rx.try_recv() {
                Ok(event) => return Some(event),
                Err(TryRecvError::Lagged(_)) => self.resync(),
                Err(TryRecvError::Empty | TryRecvError::Closed) => return None,
            }
        }
    }

    fn resync(&mut self) {
        if let Some(inner) = self.registry.upgrade() {
            self.pending = HealthRegistry { inner }.current_events();
        }
    }
}

impl fmt::Debug for HealthWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthWatch")
            .field("pending", &self.pending.len())
            .finish()
    }
}
