//! [`Pool`]: one load balancer's view of its whole set: the weight that is enabled and the
//! weight that is ready, kept exact by every change of a backend's readiness word; panic mode,
//! which follows from them; slow start's settings; and a coarse clock the reports keep.
//!
//! Every backend state holds the pool of its load balancer. A change to a readiness word (a
//! health flip, an enablement change, an ejection, a readmission, a new weight at publication)
//! is one atomic operation that knows the word before and after, so it adds to the sums exactly
//! what it changed: no scan of the set, ever.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use crate::clock;

/// Envoy's default `healthy_panic_threshold`.
pub(crate) const DEFAULT_PANIC_THRESHOLD: u8 = 50;

/// Slow start: a backend that becomes ready takes a growing share of its weight's traffic
/// instead of all of it at once. See
/// [`LoadBalancer::set_slow_start`](crate::LoadBalancer::set_slow_start).
///
/// The semantics and defaults are Envoy's (`slow_start_config`): a backend that becomes ready
/// (new in the set, back from unhealthy, or readmitted after an ejection) is picked with the
/// weight `weight × max(min_weight_percent / 100, time_factor^(1 / aggression))`, where
/// `time_factor = max(t, 1 s) / window` and `t` is the time since it became ready, until the
/// window ends. The backends of a load balancer's first set do not ramp (they start together).
///
/// Strategies that pick by weight honour it (round robin, random, least request, Peak EWMA):
/// lb-core accepts a ramping backend with the probability of its weight factor and otherwise asks
/// the strategy for another pick, so no selector is rebuilt while a backend ramps, and a backend
/// that is not ramping costs nothing more (its readiness word says so in the same load). Hashing
/// strategies do not ramp: a key keeps its backend.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct SlowStart {
    /// How long a backend ramps. Envoy has no default; lb's is 30 s.
    pub window: Duration,
    /// The share of its weight a backend starts with, in percent (at most 100). Default: 10.
    pub min_weight_percent: u8,
    /// How fast the weight grows: 1.0 is linear; larger values grow faster early. Default: 1.0.
    /// Values that are not finite and positive count as 1.0.
    pub aggression: f64,
}

impl Default for SlowStart {
    fn default() -> Self {
        SlowStart {
            window: Duration::from_secs(30),
            min_weight_percent: 10,
            aggression: 1.0,
        }
    }
}

impl SlowStart {
    /// A slow start over `window`, other settings default.
    pub fn over(window: Duration) -> Self {
        SlowStart {
            window,
            ..Self::default()
        }
    }

    /// Sets [`SlowStart::min_weight_percent`].
    pub fn with_min_weight_percent(mut self, percent: u8) -> Self {
        self.min_weight_percent = percent;
        self
    }

    /// Sets [`SlowStart::aggression`].
    pub fn with_aggression(mut self, aggression: f64) -> Self {
        self.aggression = aggression;
        self
    }

    /// The share of its weight a backend ramping for `elapsed` gets: Envoy's formula.
    pub fn weight_factor(&self, elapsed: Duration) -> f64 {
        let window = self.window.as_secs_f64();
        if window <= 0.0 || elapsed >= self.window {
            return 1.0;
        }
        let aggression = if self.aggression.is_finite() && self.aggression > 0.0 {
            self.aggression
        } else {
            1.0
        };
        let time_factor = elapsed.max(Duration::from_secs(1)).as_secs_f64() / window;
        let min = f64::from(self.min_weight_percent.min(100)) / 100.0;
        time_factor.powf(1.0 / aggression).clamp(min, 1.0)
    }
}

/// The weights a readiness word contributes to its pool, in the active tier or the standby one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Contribution {
    pub(crate) enabled: i64,
    pub(crate) ready: i64,
    pub(crate) standby_enabled: i64,
    pub(crate) standby_ready: i64,
    /// Healthy and enabled, whatever the policies say (either tier): a last resort for select.
    pub(crate) up: i64,
}

/// Envoy's overprovisioning factor: a tier with 1/1.4 of its weight available is taken to
/// serve all of its load.
const OVERPROVISIONING: f64 = 1.4;

#[derive(Debug)]
pub(crate) struct Pool {
    enabled_weight: AtomicI64,
    ready_weight: AtomicI64,
    standby_enabled: AtomicI64,
    standby_ready: AtomicI64,
    up_weight: AtomicI64,
    panic_threshold: AtomicU8,
    in_panic: AtomicBool,
    panic_entries: AtomicU64,
    panic_exits: AtomicU64,
    /// Serialises the logging of panic transitions (rare), so entries and exits alternate.
    panic_log: Mutex<()>,
    slow_start: Mutex<Option<SlowStart>>,
    /// The slow-start window in nanoseconds, 0 when off: read without the lock.
    ramp_ns: AtomicU64,
    /// Whether a set has been published with backends: backends that join later ramp.
    started: AtomicBool,
    /// How long a probe may take before another is allowed, in nanoseconds; 0: no probation
    /// (an ended ejection readmits at once).
    probe_ns: AtomicU64,
    /// The time of the latest report, in [`clock`] nanoseconds, kept to the millisecond: a
    /// clock that costs one load.
    recent: AtomicU64,
}

impl Default for Pool {
    fn default() -> Self {
        Pool {
            enabled_weight: AtomicI64::new(0),
            ready_weight: AtomicI64::new(0),
            standby_enabled: AtomicI64::new(0),
            standby_ready: AtomicI64::new(0),
            up_weight: AtomicI64::new(0),
            panic_threshold: AtomicU8::new(DEFAULT_PANIC_THRESHOLD),
            in_panic: AtomicBool::new(false),
            panic_entries: AtomicU64::new(0),
            panic_exits: AtomicU64::new(0),
            panic_log: Mutex::new(()),
            slow_start: Mutex::new(None),
            ramp_ns: AtomicU64::new(0),
            started: AtomicBool::new(false),
            probe_ns: AtomicU64::new(0),
            recent: AtomicU64::new(clock::now_nanos()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain values: whole after any panic, so a poisoned lock is used as is.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Pool {
    /// Adds what one word change changed; re-evaluates panic mode when the ready share moved.
    #[inline]
    pub(crate) fn apply(&self, before: Contribution, after: Contribution) {
        if before == after {
            return;
        }
        let add = |sum: &AtomicI64, b: i64, a: i64| {
            if a != b {
                sum.fetch_add(a - b, Ordering::AcqRel);
            }
        };
        add(&self.enabled_weight, before.enabled, after.enabled);
        add(&self.ready_weight, before.ready, after.ready);
        add(
            &self.standby_enabled,
            before.standby_enabled,
            after.standby_enabled,
        );
        add(
            &self.standby_ready,
            before.standby_ready,
            after.standby_ready,
        );
        add(&self.up_weight, before.up, after.up);
        self.reevaluate();
    }

    /// The enabled and ready weight now.
    pub(crate) fn weights(&self) -> (i64, i64) {
        (
            self.enabled_weight.load(Ordering::Acquire),
            self.ready_weight.load(Ordering::Acquire),
        )
    }

    /// Envoy's rule, with the active backends as its first priority level and the standbys as
    /// its second: when the standbys' overprovisioned availability makes up for the actives'
    /// (the normalised total availability is 100 %), no panic; otherwise panic when the ready
    /// share of the active weight is below the threshold.
    fn should_panic(&self) -> bool {
        let threshold = f64::from(self.panic_threshold.load(Ordering::Relaxed).min(100));
        let (enabled, ready) = self.weights();
        if threshold == 0.0 || enabled <= 0 {
            return false;
        }
        let share = |ready: i64, enabled: i64| {
            if enabled > 0 {
                ready.max(0) as f64 * 100.0 / enabled as f64
            } else {
                0.0
            }
        };
        let active = share(ready, enabled);
        let standby = share(
            self.standby_ready.load(Ordering::Acquire),
            self.standby_enabled.load(Ordering::Acquire),
        );
        let total = ((active + standby) * OVERPROVISIONING).min(100.0);
        total < 100.0 && active < threshold
    }

    /// Enters or leaves panic mode when the sums say so; logs and counts each transition.
    pub(crate) fn reevaluate(&self) {
        let panic = self.should_panic();
        if self.in_panic.load(Ordering::Relaxed) == panic {
            return;
        }
        self.transition();
    }

    #[cold]
    #[inline(never)]
    fn transition(&self) {
        let _log = lock(&self.panic_log);
        let panic = self.should_panic();
        if self.in_panic.swap(panic, Ordering::AcqRel) == panic {
            return;
        }
        let (enabled, ready) = self.weights();
        let threshold = self.panic_threshold.load(Ordering::Relaxed);
        if panic {
            self.panic_entries.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                ready_weight = ready,
                enabled_weight = enabled,
                threshold_percent = threshold,
                "panic mode: too few backends are ready; balancing across every enabled backend as if all were healthy"
            );
        } else {
            self.panic_exits.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                ready_weight = ready,
                enabled_weight = enabled,
                threshold_percent = threshold,
                "left panic mode: enough backends are ready again"
            );
        }
    }

    /// Whether `select` would pick a backend now: one is ready, or one is kept out only by an
    /// outcome policy (the last resort), or panic mode picks an enabled one. A few loads.
    pub(crate) fn can_select(&self) -> bool {
        let load = |a: &AtomicI64| a.load(Ordering::Acquire);
        load(&self.ready_weight) > 0
            || load(&self.standby_ready) > 0
            || load(&self.up_weight) > 0
            || (self.in_panic() && load(&self.enabled_weight) + load(&self.standby_enabled) > 0)
    }

    /// Whether the load balancer is in panic mode. One load: read only off the fast path.
    #[inline]
    pub(crate) fn in_panic(&self) -> bool {
        self.in_panic.load(Ordering::Relaxed)
    }

    pub(crate) fn panic_counts(&self) -> (u64, u64) {
        (
            self.panic_entries.load(Ordering::Relaxed),
            self.panic_exits.load(Ordering::Relaxed),
        )
    }

    pub(crate) fn set_panic_threshold(&self, percent: u8) {
        self.panic_threshold
            .store(percent.min(100), Ordering::Relaxed);
        self.reevaluate();
    }

    pub(crate) fn panic_threshold(&self) -> u8 {
        self.panic_threshold.load(Ordering::Relaxed)
    }

    pub(crate) fn set_slow_start(&self, slow_start: Option<SlowStart>) {
        let mut slot = lock(&self.slow_start);
        *slot = slow_start;
        let ns = slow_start.map_or(0, |s| clock::saturating_nanos(s.window));
        self.ramp_ns.store(ns, Ordering::Relaxed);
    }

    pub(crate) fn slow_start(&self) -> Option<SlowStart> {
        *lock(&self.slow_start)
    }

    /// Whether a backend that becomes ready now should ramp.
    #[inline]
    pub(crate) fn ramps(&self) -> bool {
        self.ramp_ns.load(Ordering::Relaxed) != 0 && self.started.load(Ordering::Relaxed)
    }

    /// The share of its weight a backend that started ramping at `since` gets at `now`; `None`
    /// when its ramp is over (or slow start is off).
    pub(crate) fn ramp_factor(&self, since: u64, now: u64) -> Option<f64> {
        let window = self.ramp_ns.load(Ordering::Relaxed);
        let elapsed = now.saturating_sub(since);
        if window == 0 || elapsed >= window {
            return None;
        }
        let slow_start = (*lock(&self.slow_start))?;
        Some(slow_start.weight_factor(Duration::from_nanos(elapsed)))
    }

    /// Sets probation: the time a probe may take, or `None` for none.
    pub(crate) fn set_probe_time(&self, probe: Option<Duration>) {
        let ns = probe.map_or(0, |d| clock::saturating_nanos(d).max(1));
        self.probe_ns.store(ns, Ordering::Relaxed);
    }

    /// The time a probe may take, when ejections end on probation.
    pub(crate) fn probe_time(&self) -> Option<Duration> {
        match self.probe_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    /// A set with backends was published: backends that join from now on ramp.
    pub(crate) fn started(&self) {
        self.started.store(true, Ordering::Relaxed);
    }

    /// Keeps the coarse clock: called with the time of each report.
    #[inline]
    pub(crate) fn tick(&self, now: u64) {
        // Written at most once a millisecond, so that reports on many threads do not all write
        // one cache line.
        if now
            > self
                .recent
                .load(Ordering::Relaxed)
                .saturating_add(1_000_000)
        {
            self.recent.store(now, Ordering::Relaxed);
        }
    }

    /// The time of a recent report: one load.
    #[inline]
    pub(crate) fn recent(&self) -> u64 {
        self.recent.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn slow_start_follows_envoys_formula() {
        // Window 100 s, aggression 1: linear from 10 % (the floor holds until 10 s).
        let s = SlowStart::over(100 * S);
        assert_eq!(s.weight_factor(Duration::ZERO), 0.1);
        assert_eq!(s.weight_factor(5 * S), 0.1);
        assert!((s.weight_factor(25 * S) - 0.25).abs() < 1e-12);
        assert!((s.weight_factor(50 * S) - 0.5).abs() < 1e-12);
        assert_eq!(s.weight_factor(100 * S), 1.0);
        // Aggression 2: the square root of the time factor.
        let s = s.with_aggression(2.0);
        assert!((s.weight_factor(25 * S) - 0.5).abs() < 1e-12);
        assert!((s.weight_factor(50 * S) - 0.5f64.sqrt()).abs() < 1e-12);
        // max(t, 1 s): at 0 the time factor is 1 s / window.
        let s = SlowStart::over(4 * S).with_min_weight_percent(0);
        assert!((s.weight_factor(Duration::ZERO) - 0.25).abs() < 1e-12);
        // Nonsense settings neither panic nor leave [0, 1].
        let s = SlowStart::over(Duration::ZERO).with_aggression(f64::NAN);
        assert_eq!(s.weight_factor(S), 1.0);
        let s = SlowStart::over(10 * S)
            .with_aggression(-3.0)
            .with_min_weight_percent(250);
        assert_eq!(s.weight_factor(S), 1.0);
    }

    #[test]
    fn panic_mode_follows_the_ready_share_exactly() {
        let pool = Pool::default();
        let w = |enabled, ready| Contribution {
            enabled,
            ready,
            ..Contribution::default()
        };
        for _ in 0..10 {
            pool.apply(Contribution::default(), w(10, 10));
        }
        assert!(!pool.in_panic());
        // 100 enabled; ready drops by 10 at a time: 50 is not below 50 %, 40 is.
        for _ in 0..5 {
            pool.apply(w(10, 10), w(10, 0));
        }
        assert_eq!(pool.weights(), (100, 50));
        assert!(!pool.in_panic(), "exactly at the threshold is not panic");
        pool.apply(w(10, 10), w(10, 0));
        assert!(pool.in_panic());
        assert_eq!(pool.panic_counts(), (1, 0));
        pool.apply(w(10, 0), w(10, 10));
        assert!(!pool.in_panic());
        assert_eq!(pool.panic_counts(), (1, 1));
        pool.set_panic_threshold(0);
        for _ in 0..5 {
            pool.apply(w(10, 10), w(10, 0));
        }
        assert!(!pool.in_panic(), "a threshold of 0 turns panic mode off");
    }

    #[test]
    fn ready_standbys_that_can_take_the_load_prevent_panic() {
        let pool = Pool::default();
        let active = |enabled, ready| Contribution {
            enabled,
            ready,
            ..Contribution::default()
        };
        let standby = |enabled, ready| Contribution {
            standby_enabled: enabled,
            standby_ready: ready,
            ..Contribution::default()
        };
        pool.apply(Contribution::default(), active(10, 0));
        assert!(pool.in_panic(), "every active down and no standby");
        pool.apply(Contribution::default(), standby(1, 1));
        assert!(
            !pool.in_panic(),
            "a ready standby takes over: Envoy's second priority"
        );
        pool.apply(Contribution::default(), standby(4, 0));
        // Standbys 20 % ready: 1.4 x (0 + 20) = 28 % in all, and the actives are at 0 %.
        assert!(pool.in_panic());
    }
}
