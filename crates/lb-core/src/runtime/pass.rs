//! Running health-check passes: one probe per target, each under a deadline, with bounded
//! concurrency; the registry's scheduled loop.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::check::{HealthCheck, HealthSchedule, PassReport};
use super::service::ServiceHandle;
use crate::error::error_chain;
use crate::health::HealthRegistry;
use crate::health::registry::Target;

struct Outcome {
    failed: bool,
    flipped: bool,
}

/// Probes one target under the deadline and records the result; announces and calls back on a
/// flip.
async fn probe(
    registry: HealthRegistry,
    check: Arc<dyn HealthCheck>,
    target: Target,
    timeout: std::time::Duration,
) -> Outcome {
    let result = match tokio::time::timeout(timeout, check.check(target.backend())).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Arc::<str>::from(error_chain(e.as_ref()))),
        Err(_) => Err(Arc::<str>::from(format!(
            "health check timed out after {timeout:?}"
        ))),
    };
    record(&registry, check.as_ref(), &target, result).await
}

async fn record(
    registry: &HealthRegistry,
    check: &dyn HealthCheck,
    target: &Target,
    result: Result<(), Arc<str>>,
) -> Outcome {
    let failed = result.is_err();
    if let Err(why) = &result {
        tracing::debug!(check = %check.backend_summary(target.backend()), reason = %why, "health check failed");
    }
    let flip = target.record(
        result,
        check.health_threshold(true),
        check.health_threshold(false),
        Instant::now().into_std(),
    );
    if let Some(flip) = &flip {
        registry.announce(target, flip.healthy);
        check
            .health_status_change(target.backend(), flip.healthy)
            .await;
    }
    Outcome {
        failed,
        flipped: flip.is_some(),
    }
}

impl HealthRegistry {
    /// Runs one pass: probes every registered backend once, at most
    /// `schedule.concurrency` at a time when `schedule.parallel` (one at a time otherwise), each
    /// under `schedule.timeout`. Without a health check this does nothing.
    ///
    /// Probes run as tasks on the current runtime, so a probe that panics counts as a failure
    /// and does not end the pass. The pass itself runs in a task too, and is aborted with its
    /// probes when this future is dropped.
    pub async fn check_once(&self, schedule: &HealthSchedule) -> PassReport {
        // The loop that starts probes and collects their results is woken by every probe that
        // ends. In a task of the runtime, that wake-up stays on the worker that ran the probe;
        // in the caller's future it would cross threads whenever the caller is not a worker
        // (`block_on`, the body of `#[tokio::main]`), a futex wake and a context switch per
        // probe. A `JoinSet` aborts the task when this future is dropped.
        let mut pass = JoinSet::new();
        pass.spawn(self.clone().pass(schedule.clone()));
        match pass.join_next().await {
            Some(Ok(report)) => report,
            Some(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Cancelled only by the runtime shutting down: no probe result to report.
            Some(Err(_)) | None => PassReport::default(),
        }
    }

    async fn pass(self, schedule: HealthSchedule) -> PassReport {
        let started = Instant::now();
        let mut report = PassReport::default();
        let Some(check) = self.health_check() else {
            return report;
        };
        let mut pending = self.targets();
        let limit = schedule.effective_concurrency();
        let mut tasks = JoinSet::new();
        let mut running: HashMap<tokio::task::Id, Target> = HashMap::new();
        loop {
            while tasks.len() < limit {
                let Some(target) = pending.next() else { break };
                let handle = tasks.spawn(probe(
                    self.clone(),
                    Arc::clone(&check),
                    target.clone(),
                    schedule.timeout,
                ));
                running.insert(handle.id(), target);
            }
            let Some(joined) = tasks.join_next_with_id().await else {
                break;
            };
            report.checked += 1;
            let outcome = match joined {
                Ok((id, outcome)) => {
                    running.remove(&id);
                    outcome
                }
                Err(e) => {
                    let Some(target) = running.remove(&e.id()) else {
                        continue;
                    };
                    let why = if e.is_panic() {
                        "health check panicked"
                    } else {
                        "health check was cancelled"
                    };
                    record(&self, check.as_ref(), &target, Err(Arc::from(why))).await
                }
            };
            report.failed += usize::from(outcome.failed);
            report.flipped += usize::from(outcome.flipped);
        }
        report.elapsed = started.elapsed();
        report
    }

    /// Runs passes on `schedule` until `shutdown` completes: a pass, then a jittered wait of
    /// `schedule.frequency`, and so on. Passes never overlap.
    pub async fn run(&self, schedule: HealthSchedule, shutdown: impl Future<Output = ()>) {
        tokio::select! {
            _ = self.run_forever(&schedule) => {}
            _ = shutdown => {}
        }
    }

    pub(crate) async fn run_forever(&self, schedule: &HealthSchedule) {
        let mut rng = crate::rng::Rng::new();
        loop {
            let report = self.check_once(schedule).await;
            tracing::trace!(?report, "health check pass done");
            tokio::time::sleep(schedule.jittered_frequency(rng.unit())).await;
        }
    }

    /// Spawns [`HealthRegistry::run`] on the current tokio runtime; for shared registries.
    pub fn spawn(&self, schedule: HealthSchedule) -> ServiceHandle {
        let registry = self.clone();
        ServiceHandle::spawn_with(move |shutdown| async move {
            registry.run(schedule, shutdown).await;
        })
    }
}
