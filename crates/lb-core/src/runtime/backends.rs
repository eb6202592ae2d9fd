//! The async side of [`Backends`]: a discovery source, a health check, passes and the watch of
//! health events.

use super::check::{HealthCheck, HealthSchedule, PassReport};
use super::discovery::ServiceDiscovery;
use super::watch::HealthWatch;
use crate::backends::Backends;

impl Backends {
    /// Backends that come from `discovery`. The set is empty until the first update.
    pub fn new(discovery: Box<dyn ServiceDiscovery>) -> Self {
        let mut backends = Self::fixed(std::iter::empty());
        backends.link.discovery = Some(discovery);
        backends
    }

    /// Probes backends with `check`. New backends start in the registry's initial health; the
    /// current ones get fresh state in it.
    pub fn set_health_check(&mut self, check: Box<dyn HealthCheck>) {
        self.health_registry().set_health_check(check);
        self.reregister(!self.has_shared_registry());
    }

    pub(crate) fn discovery(&self) -> Option<&dyn ServiceDiscovery> {
        self.link.discovery.as_deref()
    }

    /// Runs one health-check pass over the registry's backends now (pingora's
    /// `run_health_check`), with the default schedule's deadline and concurrency.
    pub async fn run_health_check(&self, parallel: bool) -> PassReport {
        let schedule = HealthSchedule {
            parallel,
            ..Default::default()
        };
        self.health_registry().check_once(&schedule).await
    }

    /// A stream that yields `()` after each change of a backend's administrative state
    /// ([`Backends::set_enable`], [`Backends::set_enablement`]), which applies at once and
    /// publishes no new set: a consumer that follows which backends are present reads the
    /// states of the set it holds again. Changes close together may yield once. It ends when
    /// these backends are dropped.
    pub fn enablement_changes(&self) -> EnablementChanges {
        EnablementChanges(tokio_stream::wrappers::WatchStream::from_changes(
            self.link.admin.subscribe(),
        ))
    }

    /// A stream of health events for the registry's backends, starting with their current health.
    pub fn health_watch(&self) -> HealthWatch {
        self.health_registry().watch()
    }
}

/// The stream [`Backends::enablement_changes`] returns.
pub struct EnablementChanges(tokio_stream::wrappers::WatchStream<u64>);

impl futures_core::Stream for EnablementChanges {
    type Item = ();

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<()>> {
        std::pin::Pin::new(&mut self.0)
            .poll_next(cx)
            .map(|change| change.map(drop))
    }
}

impl std::fmt::Debug for EnablementChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnablementChanges").finish_non_exhaustive()
    }
}
