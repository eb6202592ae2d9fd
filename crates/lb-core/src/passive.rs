//! Passive health: a backend whose requests keep failing is ejected for a while, without waiting
//! for the active health check to notice.
//!
//! The application reports each request's outcome through [`Pick::report`](crate::Pick::report).
//! After [`PassiveHealth::consecutive_failures`] failures in a row, the backend is *ejected*: it
//! is not picked (its [`BackendState::is_ready`](crate::BackendState::is_ready) is false) until
//! its ejection time has passed. The first select that meets it after that time readmits it;
//! no timer runs, and nothing on the select path reads the clock unless it meets an ejected
//! backend. This is what nginx's `max_fails`, Envoy's outlier detection and linkerd's failure
//! accrual do; pingora has no equivalent.
//!
//! The same policy runs Envoy's statistical outlier detection (`outlier.rs`: success rate and
//! failure percentage over each outcome window) and readmits ejected backends on probation.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::clock;
use crate::outcome::Outcome;
use crate::outlier::{self, FailurePercentageEjection, SuccessRateEjection};
use crate::set::BackendSet;
use crate::state::BackendState;

/// When and for how long failed requests eject a backend; see
/// [`LoadBalancer::set_passive_health`](crate::LoadBalancer::set_passive_health).
///
/// - After `consecutive_failures` failures in a row (a success resets the run), the backend is
///   ejected for `base_ejection`. If it fails again after its readmission without a single
///   success in between, the next ejection lasts twice as long, then three times, and so on, up
///   to `max_ejection`. One success resets that count.
/// - At most `max_ejected_percent` percent of the set (and at least one backend) is ejected at
///   once, and a backend is never ejected when no other backend of the set is ready: failing
///   requests then keep going to it rather than nowhere. Should the other backends go down later
///   (an active health check, an operator), `select` still picks a backend kept out only by its
///   ejection when no backend is ready: ejection never leaves a load balancer with nothing to
///   pick.
/// - Ejection is separate from active health: a health-check flip neither ejects nor readmits a
///   backend, and an ejection fires no `health_status_change` callback (it is logged with
///   `tracing` at level `warn`, readmission at `info`).
/// - An ejection lasts through updates of the set while the backend stays (its state is carried
///   by identity).
///
/// - **Outlier detection**: at the end of each outcome window
///   ([`LoadSignals::window`](crate::LoadSignals::window), default 10 s: Envoy's `interval`),
///   success-rate ejection ([`SuccessRateEjection`], on by default) ejects a backend whose
///   success rate is a statistical outlier among those with enough requests, and
///   failure-percentage ejection ([`FailurePercentageEjection`], off by default as in Envoy)
///   one that failed most of its requests. The evaluation is one pass over the set, done by the
///   report that closes the window: never on the select path. The cap, the growing ejection time
///   and the last-ready rule apply to these ejections too.
/// - **Probation** (on by default, linkerd2-proxy's consecutive-failures breaker): when an
///   ejection ends, the first `select` that meets the backend takes it for one probe request and
///   no other request goes to it until that one reports. A success readmits it; a failure ejects
///   it again at once (for the next, longer time); a probe dropped without a report lets the
///   next select probe again. A probe that takes longer than `base_ejection` lets another one
///   go. Without probation (Envoy's behaviour), an ended ejection readmits the backend at once.
///
/// `consecutive_failures` of 0 turns consecutive-failure ejection off. Durations saturate: an
/// ejection of `Duration::MAX` lasts until the policy is removed
/// ([`LoadBalancer::set_passive_health`](crate::LoadBalancer::set_passive_health) with `None`
/// readmits every ejected backend).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct PassiveHealth {
    /// Failed requests in a row that eject a backend. Default: 5.
    pub consecutive_failures: u32,
    /// How long the first ejection lasts. Default: 30 s.
    pub base_ejection: Duration,
    /// The longest ejection. Default: 300 s.
    pub max_ejection: Duration,
    /// The largest share of the set ejected at once, in percent (values above 100 count as 100);
    /// at least one backend may always be ejected. Default: 10.
    pub max_ejected_percent: u8,
    /// Success-rate ejection at the end of each outcome window; `None` turns it off. Default:
    /// on, with Envoy's settings.
    pub success_rate: Option<SuccessRateEjection>,
    /// Failure-percentage ejection at the end of each outcome window; `None` turns it off.
    /// Default: off (Envoy enforces it 0 % of the time unless told otherwise).
    pub failure_percentage: Option<FailurePercentageEjection>,
    /// Whether an ended ejection readmits the backend on probation (one probe request first).
    /// Default: true.
    pub probation: bool,
}

impl Default for PassiveHealth {
    fn default() -> Self {
        PassiveHealth {
            consecutive_failures: 5,
            base_ejection: Duration::from_secs(30),
            max_ejection: Duration::from_secs(300),
            max_ejected_percent: 10,
            success_rate: Some(SuccessRateEjection::default()),
            failure_percentage: None,
            probation: true,
        }
    }
}

impl PassiveHealth {
    /// Sets [`PassiveHealth::consecutive_failures`].
    pub fn with_consecutive_failures(mut self, failures: u32) -> Self {
        self.consecutive_failures = failures;
        self
    }

    /// Sets [`PassiveHealth::base_ejection`] and [`PassiveHealth::max_ejection`].
    pub fn with_ejection(mut self, base: Duration, max: Duration) -> Self {
        self.base_ejection = base;
        self.max_ejection = max;
        self
    }

    /// Sets [`PassiveHealth::max_ejected_percent`].
    pub fn with_max_ejected_percent(mut self, percent: u8) -> Self {
        self.max_ejected_percent = percent;
        self
    }

    /// Sets [`PassiveHealth::success_rate`].
    pub fn with_success_rate(mut self, ejection: Option<SuccessRateEjection>) -> Self {
        self.success_rate = ejection;
        self
    }

    /// Sets [`PassiveHealth::failure_percentage`].
    pub fn with_failure_percentage(mut self, ejection: Option<FailurePercentageEjection>) -> Self {
        self.failure_percentage = ejection;
        self
    }

    /// Sets [`PassiveHealth::probation`].
    pub fn with_probation(mut self, probation: bool) -> Self {
        self.probation = probation;
        self
    }

    /// How long the `streak`-th ejection in a row lasts.
    fn ejection(&self, streak: u32) -> Duration {
        self.base_ejection
            .saturating_mul(streak.max(1))
            .min(self.max_ejection)
    }

    /// How many backends of a set of `len` may be ejected at once.
    fn cap(&self, len: usize) -> usize {
        let percent = usize::from(self.max_ejected_percent.min(100));
        (len.saturating_mul(percent) / 100).max(1)
    }
}

/// A load balancer's passive-health policy, shared by all its generations so that a change
/// applies at once.
#[derive(Debug, Default)]
pub(crate) struct PassivePolicy {
    /// Whether a policy is set: read on every report without a lock.
    on: AtomicBool,
    /// `consecutive_failures` of the policy, 0 when off: read on every failure without a lock.
    threshold: AtomicU32,
    /// The policy, and the lock an ejection is decided and made under, so that two backends
    /// failing at once on two threads cannot both pass the cap or the last-ready check, and a
    /// policy turned off cannot be followed by an ejection decided under it. Ejections are rare;
    /// nothing on the select path takes it.
    policy: Mutex<Option<PassiveHealth>>,
}

impl PassivePolicy {
    /// Sets the policy; `None` also readmits every backend of `states`. Both happen under the
    /// lock ejections are decided under, so that an ejection decided under the old policy cannot
    /// land after the readmissions.
    pub(crate) fn set(&self, policy: Option<PassiveHealth>, set: &BackendSet) {
        let mut slot = self.lock();
        *slot = policy;
        let threshold = policy.map_or(0, |p| p.consecutive_failures);
        self.threshold.store(threshold, Ordering::Relaxed);
        self.on.store(policy.is_some(), Ordering::Relaxed);
        if policy.is_none() {
            for (backend, state) in set.iter().zip(set.states()) {
                state.readmit(&backend.addr);
            }
        }
    }

    pub(crate) fn get(&self) -> Option<PassiveHealth> {
        *self.lock()
    }

    fn lock(&self) -> MutexGuard<'_, Option<PassiveHealth>> {
        // The guarded value is a plain copy, whole after any panic: a poisoned lock is used as is.
        self.policy.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the policy is on (it then needs requests in flight counted, see
    /// [`Pick`](crate::Pick)).
    pub(crate) fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Observes one reported outcome of backend `index` of `set` (its state is `state`); ejects
    /// it when its failure run reaches a multiple of the threshold and the limits allow.
    pub(crate) fn observe(
        &self,
        set: &BackendSet,
        index: usize,
        state: &BackendState,
        outcome: Outcome,
    ) {
        let ejection = &state.ejection;
        match outcome {
            Outcome::Success => {
                ejection.success();
                if state.is_probing()
                    && let Some(backend) = set.get(index)
                {
                    state.readmit(&backend.addr);
                }
            }
            Outcome::Failure => {
                if state.is_probing() && self.is_on() {
                    self.probe_failed(set, index, state);
                    return;
                }
                let threshold = self.threshold.load(Ordering::Relaxed);
                if threshold == 0 {
                    return;
                }
                let run = ejection.failure();
                // A refused ejection is tried again after another whole run, so a failing
                // backend over the cap costs one scan of the set per run, not per failure.
                if run.is_multiple_of(threshold) && !state.is_ejected() {
                    self.try_eject(set, index, state, run);
                }
            }
        }
    }

    /// The probe request of a backend on probation failed: eject it again at once, or, when the
    /// limits refuse (it is the last ready backend), readmit it.
    #[cold]
    #[inline(never)]
    fn probe_failed(&self, set: &BackendSet, index: usize, state: &BackendState) {
        let guard = self.lock();
        let Some(policy) = *guard else {
            return;
        };
        let at = clock::now_nanos();
        let why = format_args!("its probe request failed");
        if !self.eject_locked(&policy, set, index, state, at, why)
            && let Some(backend) = set.get(index)
        {
            state.readmit(&backend.addr);
        }
    }

    /// At the end of an outcome window: ejects the backends outlier detection finds, within the
    /// limits. Runs once per window, off the select path.
    #[cold]
    #[inline(never)]
    pub(crate) fn evaluate_window(&self, set: &BackendSet) {
        let guard = self.lock();
        let Some(policy) = *guard else {
            return;
        };
        if policy.success_rate.is_none() && policy.failure_percentage.is_none() {
            return;
        }
        let windows: Vec<_> = set
            .states()
            .iter()
            .enumerate()
            .map(|(i, s)| (i, s.last_window()))
            .collect();
        let mut outliers = Vec::new();
        if let Some(config) = &policy.success_rate {
            outliers.extend(outlier::by_success_rate(&windows, config));
        }
        if let Some(config) = &policy.failure_percentage {
            outliers.extend(outlier::by_failure_percentage(&windows, config));
        }
        let at = clock::now_nanos();
        for (index, why) in outliers {
            if let Some(state) = set.state(index)
                && !state.is_ejected_at(at)
            {
                self.eject_locked(&policy, set, index, state, at, format_args!("{why}"));
            }
        }
    }

    /// Ejects `state`, backend `index` of `set`, after a run of `run` failures, if the policy
    /// and its limits allow.
    #[cold]
    #[inline(never)]
    fn try_eject(&self, set: &BackendSet, index: usize, state: &BackendState, run: u32) {
        // Held to the end: the decision and the ejection happen under the lock. Read under it,
        // a policy turned off meanwhile ejects nothing.
        let guard = self.lock();
        let Some(policy) = *guard else {
            return;
        };
        if state.is_ejected() {
            return;
        }
        let at = clock::now_nanos();
        let why = format_args!("{run} failed requests in a row");
        self.eject_locked(&policy, set, index, state, at, why);
    }

    /// Ejects backend `index` of `set` for `why` unless the cap is reached or no other backend
    /// is ready; the caller holds the policy lock. Returns whether it ejected.
    fn eject_locked(
        &self,
        policy: &PassiveHealth,
        set: &BackendSet,
        index: usize,
        state: &BackendState,
        at: u64,
        why: std::fmt::Arguments<'_>,
    ) -> bool {
        let states = set.states();
        let mut ejected = 0usize;
        let mut other_ready = false;
        for (i, s) in states.iter().enumerate() {
            if i == index {
                continue;
            }
            if s.is_ejected_at(at) {
                ejected += 1;
            } else if s.is_ready_at(at) {
                other_ready = true;
            }
        }
        let Some(backend) = set.get(index).map(|b| &b.addr) else {
            return false;
        };
        if !other_ready {
            tracing::debug!(%backend, reason = %why,
                "not ejecting a failing backend: no other backend is ready");
            return false;
        }
        if ejected >= policy.cap(states.len()) {
            tracing::debug!(%backend, reason = %why, ejected,
                "not ejecting a failing backend: the ejection cap is reached");
            return false;
        }
        let streak = state.ejection.next_streak();
        let length = policy.ejection(streak);
        state.eject(at, length);
        tracing::warn!(%backend, reason = %why, ejection = ?length, "backend ejected");
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ejections_grow_with_the_streak_up_to_the_maximum() {
        let p = PassiveHealth::default()
            .with_ejection(Duration::from_secs(10), Duration::from_secs(25));
        assert_eq!(p.ejection(0), Duration::from_secs(10));
        assert_eq!(p.ejection(1), Duration::from_secs(10));
        assert_eq!(p.ejection(2), Duration::from_secs(20));
        assert_eq!(p.ejection(3), Duration::from_secs(25));
        assert_eq!(p.ejection(u32::MAX), Duration::from_secs(25));
        let forever = p.with_ejection(Duration::MAX, Duration::MAX);
        assert_eq!(forever.ejection(7), Duration::MAX);
        let upside_down = p.with_ejection(Duration::from_secs(60), Duration::from_secs(1));
        assert_eq!(upside_down.ejection(1), Duration::from_secs(1));
    }

    #[test]
    fn the_cap_is_a_share_of_the_set_and_at_least_one() {
        let p = PassiveHealth::default();
        assert_eq!(p.cap(0), 1);
        assert_eq!(p.cap(3), 1);
        assert_eq!(p.cap(10), 1);
        assert_eq!(p.cap(25), 2);
        assert_eq!(p.cap(1000), 100);
        let all = p.with_max_ejected_percent(255);
        assert_eq!(all.cap(7), 7);
        assert_eq!(all.cap(usize::MAX), usize::MAX / 100);
    }
}
