//! The async side of [`Backends`]: a discovery source, a health check, passes and the watch of
//! health events.

use super::check::{HealthCheck, HealthSchedule, PassReport};
use super::discovery::ServiceDiscovery;
use super::watch::HealthWatch;
use crate::backends::Backends;

impl Backends {
    /// Backends that come from `discovery`. The set is empty until the first update.
    pub fn new(discovery: Box<dyn ServiceDiscovery>) -> Self {
        Backends {
            discovery: Some(discovery),
            ..Self::fixed(std::iter::empty())
        }
    }

    /// Probes backends with `check`. New backends start in the registry's initial health; the
    /// current ones get fresh state in it.
    pub fn set_health_check(&mut self, check: Box<dyn HealthCheck>) {
        self.health_registry().set_health_check(check);
        self.reregister(!self.has_shared_registry());
    }

    pub(crate) fn discovery(&self) -> Option<&dyn ServiceDiscovery> {
        self.discovery.as_deref()
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

    /// A stream of health events for the registry's backends, starting with their current health.
    pub fn health_watch(&self) -> HealthWatch {
        self.health_registry().watch()
    }
}
