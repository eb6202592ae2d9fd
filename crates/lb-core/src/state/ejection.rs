//! The ejection record of one backend: the per-backend half of outcome policies such as passive
//! health (the policy half is in `passive.rs`). The ejected flag itself lives in the readiness
//! word, so that `is_ready` stays one load.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::clock;

#[derive(Debug, Default)]
pub(crate) struct Ejection {
    /// Failed requests in a row.
    fail_run: AtomicU32,
    /// Ejections since the last success.
    streak: AtomicU32,
    /// Ejections in the state's life.
    total: AtomicU64,
    /// End of the current ejection, in [`clock`] nanoseconds.
    until: AtomicU64,
}

impl Ejection {
    /// Whether the current ejection (if any) has ended at `now`. The caller has seen the ejected
    /// flag with acquire ordering, so the end read here is the one stored before it was set.
    pub(crate) fn over(&self, now: u64) -> bool {
        now >= self.until.load(Ordering::Relaxed)
    }

    /// Records the start of an ejection of `length` at `now`; the caller then sets the flag with
    /// release ordering. Returns the streak of ejections without a success in between.
    pub(crate) fn start(&self, now: u64, length: Duration) {
        self.until.store(
            now.saturating_add(clock::saturating_nanos(length)),
            Ordering::Relaxed,
        );
        self.total.fetch_add(1, Ordering::Relaxed);
    }

    /// Starts a probe at `now` that may take `length` before another probe is allowed.
    pub(crate) fn probe(&self, now: u64, length: Duration) {
        self.until.store(
            now.saturating_add(clock::saturating_nanos(length)),
            Ordering::Relaxed,
        );
    }

    /// The probe ended without a verdict: the next select may send another at once.
    pub(crate) fn probe_over(&self) {
        self.until.store(0, Ordering::Relaxed);
    }

    /// Counts one more ejection in the current streak; returns the streak.
    pub(crate) fn next_streak(&self) -> u32 {
        self.streak
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1)
    }

    /// When the current (or last) ejection ends, in [`clock`] nanoseconds.
    pub(crate) fn until(&self) -> u64 {
        self.until.load(Ordering::Relaxed)
    }

    /// A readmitted backend needs a whole new run of failures to be ejected again.
    pub(crate) fn readmitted(&self) {
        self.fail_run.store(0, Ordering::Relaxed);
    }

    pub(crate) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub(crate) fn failure_run(&self) -> u32 {
        self.fail_run.load(Ordering::Relaxed)
    }

    /// Counts a failure; returns the length of the run.
    pub(crate) fn failure(&self) -> u32 {
        self.fail_run
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1)
    }

    /// A success ends the failure run and the ejection streak; it writes only when there is
    /// something to reset, so that steady success costs two loads.
    pub(crate) fn success(&self) {
        if self.fail_run.load(Ordering::Relaxed) != 0 {
            self.fail_run.store(0, Ordering::Relaxed);
        }
        if self.streak.load(Ordering::Relaxed) != 0 {
            self.streak.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ejection_end_saturates() {
        let e = Ejection::default();
        e.start(10, Duration::MAX);
        assert!(!e.over(u64::MAX - 1));
        e.start(10, Duration::from_nanos(5));
        assert!(!e.over(14));
        assert!(e.over(15));
        assert_eq!(e.total(), 2);
    }

    #[test]
    fn runs_and_streaks_reset_on_success() {
        let e = Ejection::default();
        assert_eq!((e.failure(), e.failure()), (1, 2));
        assert_eq!((e.next_streak(), e.next_streak()), (1, 2));
        e.success();
        assert_eq!(e.failure_run(), 0);
        assert_eq!(e.next_streak(), 1);
    }
}
