//! The async side of a [`LoadBalancer`]'s updates and configuration: `update` from the discovery
//! source, the health-check configuration, and waiting for readiness.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::check::{HealthCheck, HealthSchedule};
use crate::discovery::Answer;
use crate::error::{UpdateError, error_chain};
use crate::load_balancer::update::{Built, Updates, lock};
use crate::load_balancer::{BLOCKING_BUILD_THRESHOLD, LoadBalancer};
use crate::selection::BackendSelection;
use crate::snapshot::build_all;

impl<S: BackendSelection> LoadBalancer<S> {
    /// Asks the discovery source what changed and publishes the result with the selector built
    /// over it, in one atomic swap. The state of every backend that stays (health, enablement,
    /// counters) is carried over; removed backends are never selected once this returns.
    ///
    /// The question is [`ServiceDiscovery::discover_changes`](crate::ServiceDiscovery::discover_changes)
    /// since the answer the published set came from: a source that tracks its changes answers
    /// only those, which are applied in time proportional to the change; an unchanged answer
    /// publishes nothing; other sources answer the whole set, which is merged with the current
    /// one.
    ///
    /// On error the previous set stays in place; the error is logged and counted. A
    /// load balancer over a fixed set has nothing to update and returns `Ok`. Large sets
    /// ([`BLOCKING_BUILD_THRESHOLD`] backends or more) are built on a blocking thread.
    pub async fn update(&self) -> Result<(), UpdateError> {
        let Some(discovery) = self.backends().discovery() else {
            if self.cell.load().selectors.is_some() {
                self.published.ready();
            }
            return Ok(());
        };
        let seq = self.updates().next_seq();
        let started = Instant::now();
        let since = self.updates().source_version();
        let answer = match discovery.discover_changes(since).await {
            Ok(answer) => answer,
            Err(e) => {
                self.updates().discovery_failed(e.as_ref());
                return Err(UpdateError::Discovery(e));
            }
        };
        let discovery_duration = started.elapsed();
        match answer {
            Answer::Full { set, version } => loop {
                let mut built = self.build_async(self.next_set(&set)).await?;
                built.source_version = version;
                if self.commit(seq, built, &set.enablement, Some(discovery_duration))? {
                    return Ok(());
                }
            },
            // Deltas are absolute (set this backend, remove that address), so one built again
            // on top of a set another update published meanwhile still leads to its version.
            Answer::Delta { delta, version } => loop {
                let mut built = self.build_async(self.next_set_delta(&delta)).await?;
                built.source_version = Some(version);
                if self.commit(seq, built, &delta.enablement, Some(discovery_duration))? {
                    return Ok(());
                }
            },
            Answer::Unchanged => {
                if self.cell.load().selectors.is_some() {
                    self.published.ready();
                }
                Ok(())
            }
        }
    }

    /// Builds the selectors of `built` (unless kept), large ones on a blocking thread.
    async fn build_async(&self, mut built: Built<S>) -> Result<Built<S>, UpdateError> {
        if built.selectors.is_some() {
            return Ok(built);
        }
        if built.set.len() < BLOCKING_BUILD_THRESHOLD {
            built.selectors = Some(self.build_selectors(
                &built.previous,
                &built.set,
                built.zone_routing.as_ref(),
                Some(&built.changes),
            )?);
            return Ok(built);
        }
        let (previous, set, configs, routing, changes) = (
            Arc::clone(&built.previous),
            Arc::clone(&built.set),
            self.configs().to_vec(),
            built.zone_routing.clone(),
            built.changes.clone(),
        );
        let selectors = tokio::task::spawn_blocking(move || {
            let change = changes.view(previous.set.backends());
            build_all(
                previous.selectors.as_ref(),
                &set,
                &configs,
                routing.as_ref(),
                Some(change),
            )
        })
        .await
        .map_err(|e| UpdateError::BuildTask(e.to_string()))?
        .map_err(|e| {
            self.updates().build_failed(e.as_ref());
            UpdateError::Build(e)
        })?;
        built.selectors = Some(selectors);
        Ok(built)
    }

    /// Probes backends with `check` (on the schedule of `health_check_frequency`).
    ///
    /// Call it before the load balancer is shared. It gives the current backends fresh
    /// health state in the registry's initial health.
    pub fn set_health_check(&mut self, check: Box<dyn HealthCheck>) {
        self.backends.set_health_check(check);
    }

    /// The health-check schedule the public fields describe.
    pub fn health_schedule(&self) -> HealthSchedule {
        let mut schedule = HealthSchedule::every(
            self.health_check_frequency
                .unwrap_or(HealthSchedule::default().frequency),
        )
        .with_timeout(self.health_check_timeout)
        .with_jitter(self.health_check_jitter);
        schedule.parallel = self.parallel_health_check;
        schedule.concurrency = self.health_check_concurrency;
        schedule
    }

    /// Resolves once a backend set has been published: at once for a fixed set, after the
    /// first successful update for a discovery source.
    pub async fn wait_ready(&self) {
        let mut rx = self.published.subscribe();
        // The sender lives as long as `self`, so the channel cannot close while we wait.
        let _ = rx.wait_for(|mark| mark.ready).await;
    }

    /// Waits until a set of a generation after `generation` is published, for at most
    /// `timeout`; returns whether one was.
    pub async fn wait_generation_after(&self, generation: u64, timeout: Duration) -> bool {
        let mut rx = self.published.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|mark| mark.generation > generation))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// The bookkeeping of updates that only the async side does: the discovery answer a set came
/// from, and discovery's failures.
impl Updates {
    /// The number of the discovery answer the published set came from.
    pub(crate) fn source_version(&self) -> Option<u64> {
        *lock(&self.source_version)
    }

    /// Counts and logs a failed discovery.
    pub(crate) fn discovery_failed(&self, e: &(dyn StdError + 'static)) {
        let text = error_chain(e);
        tracing::warn!(error = %text, "service discovery failed; keeping the last good set");
        #[cfg(feature = "metrics")]
        if let Some(m) = self.metrics.get() {
            m.discovery_errors.increment(1);
        }
        let mut stats = lock(&self.stats);
        stats.discovery_errors += 1;
        stats.last_error = Some(format!("service discovery failed: {text}"));
    }
}
