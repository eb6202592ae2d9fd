//! The walk's view of a state: whether `select` takes the backend, and readmission after an
//! outcome policy's ejection (on probation or at once).

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{BackendState, Word};
use crate::address::Address;
use crate::clock;

/// What the walk of `select` makes of a candidate that is not plainly ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Take {
    /// Take it (ready; a probe; a ramping backend the draw accepted).
    Yes,
    /// Kept out only by an outcome policy: a last resort when nothing is ready.
    LastResort,
    /// Enabled but unhealthy: taken in panic mode only.
    PanicOnly,
    /// Ramping, and the draw passed it over: ask the strategy for another pick.
    Thinned,
    /// Draining or disabled.
    No,
}

/// A backend's address in a log line (empty when the caller cannot name it): displayed, not
/// copied into a `String`, so that a readmission on the select path allocates nothing.
struct Named<'a>(Option<&'a Address>);

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(addr) => fmt::Display::fmt(addr, f),
            None => Ok(()),
        }
    }
}

impl BackendState {
    /// Whether the backend is healthy, enabled and plainly ready: one load, the fast path.
    #[inline]
    pub(crate) fn is_plainly_ready(&self) -> bool {
        self.flags.load().is_plainly_ready()
    }

    /// Whether the backend may be picked: healthy, enabled, and not kept out by an outcome
    /// policy ([`PassiveHealth`](crate::PassiveHealth)), or kept out by one whose time is over
    /// (the next `select` that meets it takes it, on probation). A backend ramping up after slow
    /// start is ready.
    ///
    /// One atomic load; the clock is read only for a backend kept out by a policy. It changes
    /// nothing (`select` readmits).
    #[inline]
    pub fn is_ready(&self) -> bool {
        let word = self.flags.load();
        word.is_plainly_ready()
            || word.is_ready()
            || (word.is_up() && word.is_held_out() && self.ejection.over(clock::now_nanos()))
    }

    /// The walk's decision on this backend (which was not plainly ready), with readmission:
    /// a backend whose ejection is over is taken for one probe request (or readmitted at once
    /// without probation); a ramping one is taken with the probability of its weight factor when
    /// the strategy `honours_ramp`. `now` is read once, when first needed; `addr` names the
    /// backend in the log line of a readmission.
    #[cold]
    #[inline(never)]
    pub(crate) fn take<'a>(
        &self,
        now: &mut Option<u64>,
        honours_ramp: bool,
        addr: impl FnOnce() -> Option<&'a Address>,
    ) -> Take {
        let word = self.flags.load_acquire();
        if word.is_plainly_ready() {
            return Take::Yes;
        }
        if !word.is_up() {
            return if word.is_enabled() {
                Take::PanicOnly
            } else {
                Take::No
            };
        }
        let at = *now.get_or_insert_with(clock::now_nanos);
        if word.is_held_out() {
            if !self.ejection.over(at) {
                return Take::LastResort;
            }
            return if self.readmit_over(word, at, addr) {
                Take::Yes
            } else {
                Take::LastResort
            };
        }
        // Ready and ramping.
        match self
            .pool
            .ramp_factor(self.ramp_since.load(Ordering::Relaxed), at)
        {
            None => {
                self.changed(self.flags.end_ramp());
                Take::Yes
            }
            Some(_) if !honours_ramp => Take::Yes,
            Some(factor) if crate::rng::random_unit() < factor => Take::Yes,
            Some(_) => Take::Thinned,
        }
    }

    /// Readmits the backend seen as `word`, whose ejection (or probe) time is over at `at`: on
    /// probation when the policy says so (this pick is the probe; others wait for its verdict
    /// or the probe's time), else at once. `false` when another select did it first, or a newer
    /// ejection came.
    fn readmit_over<'a>(
        &self,
        word: Word,
        at: u64,
        addr: impl FnOnce() -> Option<&'a Address>,
    ) -> bool {
        let probe = self.pool.probe_time();
        let change = match probe {
            Some(length) => self.flags.claim_probe(word).inspect(|_| {
                self.ejection.probe(at, length);
            }),
            None => self.flags.readmit_seen(word),
        };
        let Some(change) = change else {
            return false;
        };
        if word.is_ejected() {
            self.ejection.readmitted();
            #[cfg(feature = "metrics")]
            if probe.is_none()
                && let Some(m) = self.metrics()
            {
                m.readmitted();
            }
            let backend = Named(addr());
            match probe {
                Some(_) => tracing::info!(%backend,
                    "backend's ejection ended: one probe request goes to it"),
                None => tracing::info!(%backend, "backend readmitted after its ejection"),
            }
        }
        self.changed(change);
        true
    }

    /// Ends any ejection or probation now (the policy was turned off, or a probe succeeded);
    /// returns whether the backend is then ready.
    pub(crate) fn readmit(&self, addr: &Address) -> bool {
        let (before, after) = self.flags.readmit();
        if before.is_held_out() {
            self.ejection.readmitted();
            #[cfg(feature = "metrics")]
            if let Some(m) = self.metrics() {
                m.readmitted();
            }
            if before.is_probing() {
                tracing::info!(backend = %addr,
                    "backend's probe succeeded: readmitted");
            }
        }
        self.changed((before, after));
        after.is_ready()
    }

    /// Starts an ejection of `length` at `now` ([`clock`] nanoseconds).
    pub(crate) fn eject(&self, now: u64, length: Duration) {
        self.ejection.start(now, length);
        #[cfg(feature = "metrics")]
        if let Some(m) = self.metrics() {
            m.ejected();
        }
        self.changed(self.flags.set_ejected());
    }

    /// Whether the backend is on probation (its probe request not answered yet).
    pub(crate) fn is_probing(&self) -> bool {
        self.flags.load().is_probing()
    }

    /// A probe request ended without a verdict: the next select may send another.
    pub(crate) fn probe_cancelled(&self) {
        self.ejection.probe_over();
    }

    /// Whether the backend is healthy and enabled, and kept out only by an outcome policy.
    #[inline]
    pub(crate) fn is_only_ejected(&self) -> bool {
        let word = self.flags.load();
        word.is_up() && word.is_held_out()
    }

    /// Whether an outcome policy keeps the backend out now (ejected, or on probation with its
    /// probe unanswered).
    pub fn is_ejected(&self) -> bool {
        self.is_ejected_at(clock::now_nanos())
    }

    pub(crate) fn is_ejected_at(&self, now: u64) -> bool {
        self.flags.load_acquire().is_held_out() && !self.ejection.over(now)
    }

    /// [`BackendState::is_ready`] at `now`.
    pub(crate) fn is_ready_at(&self, now: u64) -> bool {
        let word = self.flags.load_acquire();
        word.is_ready() || (word.is_up() && word.is_held_out() && self.ejection.over(now))
    }

    /// How many times an outcome policy has ejected the backend.
    pub fn ejections(&self) -> u64 {
        self.ejection.total()
    }

    /// How long the current ejection still lasts; `None` when the backend is not ejected.
    pub fn ejection_remaining(&self) -> Option<Duration> {
        let now = clock::now_nanos();
        self.is_ejected_at(now)
            .then(|| Duration::from_nanos(self.ejection.until().saturating_sub(now)))
    }

    /// Failed requests reported in a row (counted only while passive health is on).
    pub fn consecutive_failed_requests(&self) -> u32 {
        self.ejection.failure_run()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::super::tests::state;
    use super::*;
    use crate::pool::Pool;

    #[test]
    fn an_ended_ejection_is_taken_for_one_probe_then_a_success_readmits() {
        let pool = Arc::new(Pool::default());
        pool.set_probe_time(Some(Duration::from_secs(30)));
        let (_cell, s) = state(&pool);
        let now = clock::now_nanos();
        s.eject(now, Duration::from_secs(3600));
        assert!(!s.is_ready() && s.is_ejected() && s.is_only_ejected());
        assert_eq!(s.take(&mut Some(now), true, || None), Take::LastResort);
        assert!(s.ejection_remaining().unwrap() > Duration::from_secs(3500));
        s.eject(now, Duration::ZERO);
        assert!(s.is_ready(), "over: the next select would take it");
        assert_eq!(
            s.take(&mut Some(now), true, || None),
            Take::Yes,
            "the probe"
        );
        assert!(s.is_probing() && !s.is_ready());
        assert_eq!(
            s.take(&mut Some(now), true, || None),
            Take::LastResort,
            "one probe at a time"
        );
        assert!(s.readmit(&Address::parse("127.0.0.1:1").unwrap()));
        assert!(s.is_plainly_ready());
        assert_eq!(s.ejections(), 2);
        assert_eq!(pool.weights(), (2, 2));
    }
}
