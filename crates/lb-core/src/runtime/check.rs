//! The [`HealthCheck`] trait and the types around a health-check pass.

use std::sync::Arc;
use std::time::Duration;

use crate::backend::Backend;
use crate::error::BoxError;

/// An active probe of one backend: TCP connect, HTTP request, gRPC health call, or your own.
///
/// A [`HealthRegistry`](crate::HealthRegistry) runs it on a schedule, with a deadline per call
/// ([`HealthSchedule::timeout`]); a call that overruns its deadline counts as a failure. The
/// backend flips to unhealthy after `health_threshold(false)` consecutive failures and back to
/// healthy after `health_threshold(true)` consecutive successes (a threshold of 0 counts as 1).
#[async_trait::async_trait]
pub trait HealthCheck: Send + Sync + 'static {
    /// Probes `target`. The error says why it failed; its `Display` (and sources) is kept as
    /// the backend's last error and shown in logs and [`HealthEvent`]s.
    async fn check(&self, target: &Backend) -> Result<(), BoxError>;

    /// Called after a backend's health flips. The default does nothing.
    async fn health_status_change(&self, _target: &Backend, _healthy: bool) {}

    /// How many consecutive results of kind `success` flip the backend to that state.
    fn health_threshold(&self, success: bool) -> usize;

    /// A one-line description of the probe of `target`, used in log events.
    fn backend_summary(&self, target: &Backend) -> String {
        target.to_string()
    }
}

/// A change in a backend's health, or (first, from a new [`HealthWatch`](crate::HealthWatch)) its
/// current health.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HealthEvent {
    /// The probed backend.
    pub backend: Backend,
    /// Its health.
    pub healthy: bool,
    /// Why its last probe failed, when it is unhealthy and a probe failed.
    pub reason: Option<Arc<str>>,
}

/// How a health-check pass runs, and how often passes repeat.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct HealthSchedule {
    /// Time between the end of one pass and the start of the next, before jitter.
    pub frequency: Duration,
    /// The deadline of each probe; an overrun is a failure. Default: 5 s.
    pub timeout: Duration,
    /// Probe backends concurrently (bounded by `concurrency`) instead of one after another.
    pub parallel: bool,
    /// The most probes in flight at once when `parallel` (at least 1). Default:
    /// [`HealthSchedule::DEFAULT_CONCURRENCY`].
    pub concurrency: usize,
    /// Each wait between passes is `frequency` multiplied by a random factor in
    /// `[1 - jitter, 1 + jitter]`, so that many load balancers started together do not probe in
    /// step. Clamped to `[0, 1]`. Default: 0.1.
    pub jitter: f64,
}

impl HealthSchedule {
    /// The default bound on concurrent probes, far below a listener's usual accept backlog, so
    /// that probing thousands of backends on one host cannot overflow it.
    pub const DEFAULT_CONCURRENCY: usize = crate::health::DEFAULT_HEALTH_CHECK_CONCURRENCY;

    /// A schedule of one pass per `frequency`, other settings default.
    pub fn every(frequency: Duration) -> Self {
        HealthSchedule {
            frequency,
            ..Self::default()
        }
    }

    /// Sets the per-probe deadline.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Probes concurrently, at most `concurrency` at once.
    pub fn with_parallelism(mut self, concurrency: usize) -> Self {
        self.parallel = true;
        self.concurrency = concurrency;
        self
    }

    /// Sets the jitter fraction.
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    pub(crate) fn effective_concurrency(&self) -> usize {
        if self.parallel {
            self.concurrency.max(1)
        } else {
            1
        }
    }

    pub(crate) fn jittered_frequency(&self, unit: f64) -> Duration {
        let jitter = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        // `unit` is uniform in [0, 1); the factor is uniform in [1 - jitter, 1 + jitter).
        let factor = 1.0 - jitter + 2.0 * jitter * unit;
        self.frequency.mul_f64(factor.max(0.0))
    }
}

impl Default for HealthSchedule {
    fn default() -> Self {
        HealthSchedule {
            frequency: Duration::from_secs(5),
            timeout: Duration::from_secs(5),
            parallel: false,
            concurrency: Self::DEFAULT_CONCURRENCY,
            jitter: 0.1,
        }
    }
}

/// What one health-check pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PassReport {
    /// Probes run.
    pub checked: usize,
    /// Probes that failed (including timeouts).
    pub failed: usize,
    /// Backends whose health flipped.
    pub flipped: usize,
    /// Wall time of the pass.
    pub elapsed: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_its_bounds() {
        let s = HealthSchedule::every(Duration::from_secs(10)).with_jitter(0.2);
        assert_eq!(s.jittered_frequency(0.0), Duration::from_secs(8));
        assert_eq!(s.jittered_frequency(0.5), Duration::from_secs(10));
        assert!(s.jittered_frequency(0.999_999) <= Duration::from_secs(12));
        let wild = HealthSchedule::every(Duration::from_secs(10)).with_jitter(f64::NAN);
        assert_eq!(wild.jittered_frequency(0.9), Duration::from_secs(10));
        let big = HealthSchedule::every(Duration::from_secs(10)).with_jitter(7.0);
        assert_eq!(big.jittered_frequency(0.0), Duration::ZERO);
    }

    #[test]
    fn sequential_passes_run_one_probe_at_a_time() {
        let s = HealthSchedule::default();
        assert_eq!(s.effective_concurrency(), 1);
        assert_eq!(s.with_parallelism(0).effective_concurrency(), 1);
        assert_eq!(
            HealthSchedule::default()
                .with_parallelism(9)
                .effective_concurrency(),
            9
        );
    }
}
