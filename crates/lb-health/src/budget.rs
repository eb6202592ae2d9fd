//! [`Budget`]: the whole-probe deadline, shared by every step of one probe.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{Phase, ProbeError};

/// The time left to one probe, and the address it names in its errors.
#[derive(Debug)]
pub(crate) struct Budget {
    pub(crate) target: String,
    deadline: Instant,
}

impl Budget {
    /// A budget of `total` from now for probing `target`.
    pub(crate) fn new(target: String, total: Duration) -> Self {
        let now = Instant::now();
        // A deadline too far to represent is as good as none; clamp to a century.
        let deadline = now
            .checked_add(total)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
        Budget { target, deadline }
    }

    /// Runs one step under its own `limit` and what is left of the probe's deadline, whichever
    /// ends first; running out of time is a [`ProbeError::Timeout`] naming `phase`.
    pub(crate) async fn step<T>(
        &self,
        phase: Phase,
        limit: Duration,
        step: impl Future<Output = Result<T, ProbeError>>,
    ) -> Result<T, ProbeError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let after = limit.min(left);
        match tokio::time::timeout(after, step).await {
            Ok(result) => result,
            Err(_) => Err(self.timeout(phase, after)),
        }
    }

    /// What is left of the deadline.
    pub(crate) fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    pub(crate) fn timeout(&self, phase: Phase, after: Duration) -> ProbeError {
        ProbeError::Timeout {
            target: self.target.clone(),
            phase,
            after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProbeErrorKind;

    #[tokio::test(start_paused = true)]
    async fn a_step_gets_the_smaller_of_its_limit_and_the_deadline() {
        let budget = Budget::new("t:1".into(), Duration::from_secs(2));
        let never = std::future::pending::<Result<(), ProbeError>>();
        let e = budget
            .step(Phase::Connect, Duration::from_secs(1), never)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ProbeErrorKind::Timeout);
        assert_eq!(
            e.to_string(),
            "connect of t:1 timed out after 1s",
            "the step's own limit came first"
        );
        let never = std::future::pending::<Result<(), ProbeError>>();
        let e = budget
            .step(Phase::Response, Duration::from_secs(10), never)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "waiting for the response of t:1 timed out after 1s"
        );
        assert_eq!(budget.left(), Duration::ZERO);
        let ok = budget
            .step(Phase::Body, Duration::from_secs(10), async { Ok(7) })
            .await;
        assert_eq!(ok.unwrap(), 7, "a step that is already done still counts");
    }

    #[tokio::test(start_paused = true)]
    async fn a_huge_deadline_does_not_overflow() {
        let budget = Budget::new("t:1".into(), Duration::MAX);
        assert!(budget.left() > Duration::from_secs(1_000_000));
    }
}
