//! When to refresh next, and when negative answers empty the set: the refresh policy as a pure
//! state machine over instants, so it is tested without clocks or sockets.

use std::time::Duration;

use lb_core::Backoff;
use tokio::time::Instant;

use crate::config::LONGEST_WAIT;

/// The refresh policy's settings (validated by the builder: `0 < min <= max`, `0 < retry_min <=
/// retry_max`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Policy {
    pub(crate) min_refresh: Duration,
    pub(crate) max_refresh: Duration,
    pub(crate) retry_min: Duration,
    pub(crate) retry_max: Duration,
    pub(crate) negative_grace: Duration,
}

impl Policy {
    /// The wait a TTL asks for, clamped to `[min_refresh, max_refresh]`.
    pub(crate) fn interval(&self, ttl: u32) -> Duration {
        Duration::from_secs(u64::from(ttl)).clamp(self.min_refresh, self.max_refresh)
    }
}

/// The instant `wait` after `now`, with waits beyond [`LONGEST_WAIT`] cut to it.
fn after(now: Instant, wait: Duration) -> Instant {
    // `Instant` counts seconds in 64 bits: 30 years from any instant of a running process fits.
    now + wait.min(LONGEST_WAIT)
}

/// The state carried from one refresh to the next.
#[derive(Debug)]
pub(crate) struct Schedule {
    policy: Policy,
    /// The waits after failures in a row (lb's one backoff type, without jitter: a refresh
    /// schedule is per source, not shared by a fleet that fails together).
    backoff: Backoff,
    /// When the current run of negative answers began.
    negative_since: Option<Instant>,
}

impl Schedule {
    pub(crate) fn new(policy: Policy) -> Self {
        Schedule {
            policy,
            backoff: Backoff::new(policy.retry_min, policy.retry_max),
            negative_since: None,
        }
    }

    fn next_backoff(&mut self) -> Duration {
        self.backoff.next_delay()
    }

    /// An answer with records. `partial` means some SRV targets could not be looked up (their
    /// previous addresses were kept): the next refresh then comes no later than the retry
    /// backoff. Returns the next refresh time.
    pub(crate) fn on_records(&mut self, now: Instant, ttl: u32, partial: bool) -> Instant {
        self.negative_since = None;
        let interval = self.policy.interval(ttl);
        if partial {
            after(now, interval.min(self.next_backoff()))
        } else {
            self.backoff.reset();
            after(now, interval)
        }
    }

    /// A failure (SERVFAIL, timeout, refused...): the last good set stays; retry with backoff.
    /// A run of negative answers is not interrupted by failures in between.
    pub(crate) fn on_failure(&mut self, now: Instant) -> Instant {
        after(now, self.next_backoff())
    }

    /// A negative answer (NXDOMAIN, no records). Returns whether the grace period is over (the
    /// set is to be emptied now) and the next refresh time. During the grace period the next
    /// refresh is no later than the end of the grace period, so the set is emptied on time.
    pub(crate) fn on_negative(
        &mut self,
        now: Instant,
        negative_ttl: Option<u32>,
    ) -> (bool, Instant) {
        self.backoff.reset();
        let since = *self.negative_since.get_or_insert(now);
        let interval = self.policy.interval(negative_ttl.unwrap_or(0));
        // A grace too long to represent never ends.
        match since.checked_add(self.policy.negative_grace) {
            Some(deadline) if now < deadline => (false, after(now, interval.min(deadline - now))),
            Some(_) => (true, after(now, interval)),
            None => (false, after(now, interval)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn policy() -> Policy {
        Policy {
            min_refresh: 2 * S,
            max_refresh: 60 * S,
            retry_min: S,
            retry_max: 8 * S,
            negative_grace: 10 * S,
        }
    }

    #[test]
    fn ttls_are_clamped_to_the_refresh_bounds() {
        let p = policy();
        assert_eq!(p.interval(0), 2 * S, "ttl 0 waits the minimum");
        assert_eq!(p.interval(1), 2 * S);
        assert_eq!(p.interval(30), 30 * S);
        assert_eq!(
            p.interval(i32::MAX as u32),
            60 * S,
            "an absurd ttl waits the maximum"
        );
        assert_eq!(p.interval(u32::MAX), 60 * S);
    }

    #[test]
    fn failures_back_off_exponentially_and_records_reset_it() {
        let mut s = Schedule::new(policy());
        let t = Instant::now();
        let waits: Vec<Duration> = (0..6).map(|_| s.on_failure(t) - t).collect();
        assert_eq!(waits, vec![S, 2 * S, 4 * S, 8 * S, 8 * S, 8 * S]);
        assert_eq!(s.on_records(t, 30, false) - t, 30 * S);
        assert_eq!(s.on_failure(t) - t, S, "an answer resets the backoff");
    }

    #[test]
    fn a_partial_answer_refreshes_no_later_than_the_backoff() {
        let mut s = Schedule::new(policy());
        let t = Instant::now();
        assert_eq!(s.on_records(t, 30, true) - t, S);
        assert_eq!(s.on_records(t, 30, true) - t, 2 * S);
        assert_eq!(
            s.on_records(t, 1, true) - t,
            2 * S,
            "never sooner than min_refresh"
        );
        assert_eq!(s.on_records(t, 30, false) - t, 30 * S);
        assert_eq!(
            s.on_records(t, 30, true) - t,
            S,
            "a full answer resets the backoff"
        );
    }

    #[test]
    fn negative_answers_keep_the_set_for_the_grace_period_then_empty_it() {
        let mut s = Schedule::new(policy());
        let t0 = Instant::now();
        let (empty, next) = s.on_negative(t0, Some(4));
        assert!(!empty);
        assert_eq!(next - t0, 4 * S);
        let t1 = t0 + 8 * S;
        let (empty, next) = s.on_negative(t1, Some(30));
        assert!(!empty);
        assert_eq!(
            next,
            t0 + 10 * S,
            "the refresh lands on the end of the grace period"
        );
        // A failure in between does not restart the grace period.
        let _ = s.on_failure(t1);
        let (empty, next) = s.on_negative(t0 + 10 * S, Some(30));
        assert!(empty, "the grace period is over");
        assert_eq!(next, t0 + 40 * S);
        // Records end the run; a new run starts a new grace period.
        let t2 = t0 + 50 * S;
        let _ = s.on_records(t2, 5, false);
        let (empty, _) = s.on_negative(t2 + S, None);
        assert!(!empty);
    }

    #[test]
    fn waits_too_long_for_an_instant_are_cut_not_overflowed() {
        let t = Instant::now();
        let mut s = Schedule::new(Policy {
            min_refresh: Duration::MAX,
            max_refresh: Duration::MAX,
            retry_min: Duration::MAX,
            retry_max: Duration::MAX,
            negative_grace: Duration::MAX,
        });
        assert_eq!(s.on_failure(t) - t, LONGEST_WAIT);
        assert_eq!(s.on_records(t, 30, false) - t, LONGEST_WAIT);
        assert_eq!(s.on_records(t, 30, true) - t, LONGEST_WAIT);
        assert_eq!(s.on_negative(t, None), (false, t + LONGEST_WAIT));
    }

    #[test]
    fn zero_grace_empties_at_once_and_an_endless_grace_never_does() {
        let t = Instant::now();
        let mut s = Schedule::new(Policy {
            negative_grace: Duration::ZERO,
            ..policy()
        });
        assert!(s.on_negative(t, None).0);
        let mut s = Schedule::new(Policy {
            negative_grace: Duration::MAX,
            ..policy()
        });
        let (empty, next) = s.on_negative(t, None);
        assert!(!empty);
        assert_eq!(next - t, 2 * S, "no SOA: the minimum refresh interval");
        assert!(!s.on_negative(t + 1_000_000 * S, None).0);
    }
}
