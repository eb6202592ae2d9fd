//! [`HealthWatch`]: a stream of health states that starts with the current one.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::check::HealthEvent;
use crate::health::HealthRegistry;
use crate::health::registry::RegistryInner;
use crate::health::registry::Target;

/// Health events of a registry's backends: first one event with the current health of every
/// backend, then one per flip. It is a [`Stream`]; [`HealthWatch::next`] and
/// [`HealthWatch::try_next`] read it without one.
///
/// Events carry states, not deltas, and delivery is at least once: a consumer may see a state
/// it already has (around the initial snapshot, or after falling more than 1,024 events behind,
/// when the watch drops what it queued and resynchronises by replaying every backend's current
/// state). The stream ends when the registry is dropped.
pub struct HealthWatch {
    pending: VecDeque<HealthEvent>,
    events: BroadcastStream<HealthEvent>,
    registry: Weak<RegistryInner>,
}

impl HealthRegistry {
    /// A watch of this registry's health events, starting with every backend's current health.
    pub fn watch(&self) -> HealthWatch {
        // Subscribe before reading the current states so that no flip can fall in between.
        let rx = self.inner.probe.events.subscribe();
        HealthWatch {
            pending: self.current_events(),
            events: BroadcastStream::new(rx),
            registry: Arc::downgrade(&self.inner),
        }
    }

    fn current_events(&self) -> VecDeque<HealthEvent> {
        let mut events: Vec<HealthEvent> = self
            .targets()
            .map(|target| {
                let healthy = target.is_healthy();
                HealthEvent {
                    reason: if healthy { None } else { target.last_error() },
                    backend: match target {
                        Target::Cell(cell) => cell.target.clone(),
                        Target::Own(backend, _) => backend,
                    },
                    healthy,
                }
            })
            .collect();
        events.sort_by(|a, b| a.backend.cmp(&b.backend));
        events.into()
    }
}

impl HealthWatch {
    /// The next event; `None` once the registry is gone.
    pub async fn next(&mut self) -> Option<HealthEvent> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// The next event if one is ready now.
    pub fn try_next(&mut self) -> Option<HealthEvent> {
        let waker = std::task::Waker::noop();
        match Pin::new(self).poll_next(&mut Context::from_waker(waker)) {
            Poll::Ready(event) => event,
            Poll::Pending => None,
        }
    }

    /// After falling behind: drops the events still queued (older than what follows), then
    /// replays every backend's current state, subscribing first so that no flip falls between.
    fn resync(&mut self) {
        if let Some(inner) = self.registry.upgrade() {
            self.events = BroadcastStream::new(inner.probe.events.subscribe());
            self.pending = HealthRegistry { inner }.current_events();
        }
    }
}

impl Stream for HealthWatch {
    type Item = HealthEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<HealthEvent>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Poll::Ready(Some(event));
            }
            match Pin::new(&mut self.events).poll_next(cx) {
                Poll::Ready(Some(Ok(event))) => return Poll::Ready(Some(event)),
                Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(_)))) => self.resync(),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
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
