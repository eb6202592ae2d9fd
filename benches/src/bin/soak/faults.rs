//! Discovery faults and the watch on the published set: a source that errors, hangs or answers
//! garbage for a while must leave the last good set in place (never emptied, never older), and
//! the service must pick up the source's newest answer soon after the fault ends.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use lb_core::{LoadBalancer, ServiceHandle};
use lb_selection::RoundRobin;
use tokio::time::Instant;

use crate::source::{ChurnSource, Fault, Tag};
use crate::state::{Shared, Violation};

/// How soon after a fault the newest answer must be published.
const RECOVERY: Duration = Duration::from_secs(5);

/// A discovery fault: what, from when to when (from the start of the run).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub(crate) fault: Fault,
    pub(crate) from: Duration,
    pub(crate) to: Duration,
}

/// How one fault went.
#[derive(Debug)]
pub(crate) struct Survived {
    pub(crate) fault: Fault,
    /// Updates published while it lasted.
    pub(crate) published: u64,
    /// From its end to the publication of the source's newest answer.
    pub(crate) recovered_in: Option<Duration>,
}

/// The generation of the published set's answer, `None` when the set has no tag.
pub(crate) fn published(lb: &LoadBalancer<RoundRobin>) -> Option<u64> {
    let set = lb.backends().get_backend();
    set.backends()
        .first()
        .and_then(|b| b.ext.get::<Tag>())
        .map(|t| t.generation)
}

/// Injects the faults of `windows` in turn.
pub(crate) async fn inject(
    shared: &Shared,
    lb: &LoadBalancer<RoundRobin>,
    source: &ChurnSource,
    service: &ServiceHandle,
    started: Instant,
    windows: &[Window],
) -> Vec<Survived> {
    let mut out = Vec::new();
    for window in windows {
        tokio::time::sleep_until(started + window.from).await;
        let published_before = lb.stats().published;
        let generation_before = source.generation();
        source.set_fault(window.fault);
        // Once the calls made before the fault have been published, nothing newer may be while
        // discovery fails.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let settled = published(lb);
        tokio::time::sleep_until(started + window.to).await;
        let at_end = published(lb);
        source.set_fault(Fault::None);
        let published_during = lb.stats().published - published_before;
        if window.fault == Fault::Error {
            if at_end != settled || at_end.is_some_and(|g| g > generation_before) {
                shared.violation(Violation::FaultNotSurvived, || {
                    format!(
                        "while discovery failed, generation {at_end:?} replaced {settled:?} \
                         (the source was at {generation_before} when the failures began)"
                    )
                });
            }
            if lb.stats().discovery_errors == 0 {
                shared.violation(Violation::FaultNotSurvived, || {
                    "no discovery error was counted while discovery failed".into()
                });
            }
        }
        let target = source.generation();
        let ended = Instant::now();
        let mut recovered_in = None;
        while ended.elapsed() < RECOVERY {
            if published(lb).is_some_and(|g| g >= target) {
                recovered_in = Some(ended.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if recovered_in.is_none() || service.is_finished() {
            shared.violation(Violation::FaultNotSurvived, || {
                format!(
                    "after {:?}, generation {target} was not published within {RECOVERY:?} \
                     (published: {:?}; service finished: {})",
                    window.fault,
                    published(lb),
                    service.is_finished()
                )
            });
        }
        out.push(Survived {
            fault: window.fault,
            published: published_during,
            recovered_in,
        });
    }
    out
}

/// Watches the published set until told to stop: it never loses its answer (emptied, or a set
/// not from the source) and its answer's generation never goes back.
pub(crate) async fn monitor(shared: Arc<Shared>, lb: Arc<LoadBalancer<RoundRobin>>) {
    let mut last = 0;
    while !shared.stop.load(Ordering::Relaxed) {
        match published(&lb) {
            None => shared.violation(Violation::Emptied, || {
                format!(
                    "the published set of {} backends has no answer's tag",
                    lb.backends().get_backend().len()
                )
            }),
            Some(generation) if generation < last => shared.violation(Violation::Regressed, || {
                format!("generation {generation} was published after {last}")
            }),
            Some(generation) => last = generation,
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
