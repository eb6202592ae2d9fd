//! A load balancer over the targets, probed by one of lb-health's probes, and its passes.

use std::net::SocketAddr;
use std::time::Duration;

use lb::core::PassReport;
use lb::prelude::*;

use super::verdict::{self, Unhealthy};

/// A round-robin load balancer over `targets`, probed by `check` in parallel passes of at most
/// `concurrency` probes, each under the load balancer's default deadline.
pub(crate) fn balancer(
    targets: &[SocketAddr],
    check: Box<dyn HealthCheck>,
    concurrency: usize,
) -> LoadBalancer<RoundRobin> {
    let mut backends = Backends::fixed(targets.iter().map(|&addr| Backend::from(addr)));
    backends.set_health_check(check);
    let mut lb = LoadBalancer::<RoundRobin>::from_backends(backends);
    lb.parallel_health_check = true;
    lb.health_check_concurrency = concurrency;
    lb
}

/// What one pass did and left behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pass {
    /// Probes run.
    pub(crate) checked: usize,
    /// Probes that failed.
    pub(crate) failed: usize,
    /// The pass's wall time.
    pub(crate) elapsed: Duration,
    /// The backends unhealthy after it.
    pub(crate) unhealthy: Unhealthy,
}

/// Runs one pass over `lb`'s backends, as its background service would (the load balancer's
/// schedule: its concurrency and probe deadline), and tallies the unhealthy backends after it.
pub(crate) async fn pass(lb: &LoadBalancer<RoundRobin>) -> Pass {
    let registry = lb.backends().health_registry();
    let PassReport {
        checked,
        failed,
        elapsed,
        ..
    } = registry.check_once(&lb.health_schedule()).await;
    Pass {
        checked,
        failed,
        elapsed,
        unhealthy: verdict::unhealthy(&lb.backends().get_backend()),
    }
}
