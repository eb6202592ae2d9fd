//! Where a state's health lives: in the state (its load balancer's own registry probes it) or in
//! a health cell of a shared registry, which pushes each flip into the readiness word.

use std::sync::Arc;

use super::BackendState;
use crate::health::cell::{Flip, Health, HealthCell, HealthStatus, HealthWatcher};

/// Where a state's health lives.
pub(super) enum HealthLink {
    /// In the state: the load balancer's own registry probes it.
    Own(Health),
    /// In a cell of a shared registry, which pushes its flips here.
    Shared(Arc<HealthCell>),
}

impl HealthWatcher for BackendState {
    fn health_changed(&self, healthy: bool) {
        let (before, after) = self.flags.set_healthy(healthy);
        #[cfg(feature = "metrics")]
        if before.is_healthy() != after.is_healthy()
            && let Some(m) = self.metrics()
        {
            m.health_changed();
        }
        self.changed((before, after));
    }
}

impl BackendState {
    /// Whether the state keeps its own health (its load balancer's private registry probes it).
    pub(crate) fn has_own_health(&self) -> bool {
        matches!(self.health, HealthLink::Own(_))
    }

    /// Records a probe result into the state's own health (or its cell's), the readiness word
    /// following a flip.
    #[cfg_attr(not(feature = "runtime"), allow(dead_code))] // Used by probes, which need the runtime.
    pub(crate) fn record_probe(
        &self,
        result: Result<(), Arc<str>>,
        success_threshold: usize,
        failure_threshold: usize,
        now: std::time::Instant,
    ) -> Option<Flip> {
        match &self.health {
            HealthLink::Own(health) => health.record(
                result,
                success_threshold,
                failure_threshold,
                now,
                |healthy| self.health_changed(healthy),
            ),
            HealthLink::Shared(cell) => {
                cell.record(result, success_threshold, failure_threshold, now)
            }
        }
    }

    /// Sets the health directly (the application's word), the readiness word following a flip.
    pub(crate) fn force_health(&self, healthy: bool) -> Option<Flip> {
        match &self.health {
            HealthLink::Own(health) => {
                health.force(healthy, |healthy| self.health_changed(healthy))
            }
            HealthLink::Shared(cell) => cell.force(healthy),
        }
    }

    fn health_record(&self) -> &Health {
        match &self.health {
            HealthLink::Own(health) => health,
            HealthLink::Shared(cell) => &cell.health,
        }
    }

    /// Whether the backend's health is good (whatever its enablement).
    pub fn is_healthy(&self) -> bool {
        self.flags.load().is_healthy()
    }

    /// A copy of the backend's health: consecutive counts and the last failure reason.
    pub fn health(&self) -> HealthStatus {
        self.health_record().status()
    }

    /// Why the last failed probe failed, if any probe failed.
    pub fn last_error(&self) -> Option<Arc<str>> {
        self.health_record().last_error()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::*;
    use crate::health::Source;
    use crate::health::cell::Flip;
    use crate::pool::Pool;

    #[test]
    fn own_health_flips_the_readiness_word_at_the_thresholds() {
        let pool = Arc::new(Pool::default());
        let s = BackendState::new(Source::Own(true), Enablement::Enabled, &pool);
        s.publish(3, false, 0, false);
        assert!(s.has_own_health() && s.is_ready());
        let now = std::time::Instant::now();
        let fail = || Err(Arc::<str>::from("refused"));
        assert_eq!(s.record_probe(fail(), 2, 2, now), None);
        assert!(s.is_ready(), "one failure of two");
        assert_eq!(
            s.record_probe(fail(), 2, 2, now),
            Some(Flip { healthy: false })
        );
        assert!(!s.is_ready() && !s.is_healthy());
        assert_eq!(pool.weights(), (3, 0));
        assert_eq!(s.health().consecutive_failures, 2);
        assert_eq!(s.last_error().as_deref(), Some("refused"));
        assert_eq!(s.record_probe(Ok(()), 2, 2, now), None);
        assert_eq!(
            s.record_probe(Ok(()), 2, 2, now),
            Some(Flip { healthy: true })
        );
        assert!(s.is_ready());
        assert_eq!(s.force_health(false), Some(Flip { healthy: false }));
        assert!(!s.is_ready());
        assert_eq!(s.force_health(false), None, "no flip: already unhealthy");
        assert_eq!(s.health().probes, 4);
    }

    #[test]
    fn own_health_that_starts_unhealthy_takes_traffic_after_its_first_success() {
        let pool = Arc::new(Pool::default());
        let s = BackendState::new(Source::Own(false), Enablement::Enabled, &pool);
        s.publish(1, false, 0, false);
        assert!(!s.is_ready());
        let now = std::time::Instant::now();
        assert_eq!(
            s.record_probe(Ok(()), 5, 1, now),
            Some(Flip { healthy: true })
        );
        assert!(s.is_ready());
    }
}
