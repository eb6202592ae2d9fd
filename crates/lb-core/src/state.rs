//! Runtime state of a backend: readiness flags, health, counters.
//!
//! A [`BackendState`] belongs to one backend in one load balancer and is carried from one
//! backend set to the next while the backend stays (identity = address). Its health comes from a
//! [`HealthCell`], which may be shared by several load balancers through a
//! [`HealthRegistry`](crate::HealthRegistry): the cell pushes each health flip into the readiness
//! flags of every state that watches it, so reading readiness on the select path stays a single
//! atomic load.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::address::Address;
use crate::backend::Backend;
use crate::passive::Ejection;

const HEALTHY: u32 = 1;
const ENABLED: u32 = 1 << 1;
const DRAINING: u32 = 1 << 2;
const ADMIN_MASK: u32 = ENABLED | DRAINING;
const READY: u32 = HEALTHY | ENABLED;
/// Ejected by passive health ([`crate::PassiveHealth`]); cleared by the first select that meets
/// the backend after its ejection ended.
const EJECTED: u32 = 1 << 3;
/// The bits that decide readiness.
const READINESS: u32 = READY | DRAINING | EJECTED;
/// The upper bits count ejections (wrapping), so that a readmission decided on one ejection
/// cannot clear the next: each ejection sets [`EJECTED`] and adds one here in the same atomic
/// operation, and a select readmits only the ejection it saw end.
const EJECTION_ONE: u32 = 1 << 8;
const EJECTION_COUNT: u32 = !(EJECTION_ONE - 1);

/// The administrative state of a backend, set by discovery or by the application.
///
/// Only [`Enablement::Enabled`] backends are picked. A draining backend stays in the set (for
/// work already sent to it, and for observability) but receives no new picks; a disabled one is
/// the same for selection purposes but says that the backend is not serving at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Enablement {
    /// Picked when healthy.
    #[default]
    Enabled,
    /// Kept for in-flight work, not picked for new requests.
    Draining,
    /// Not picked.
    Disabled,
}

impl Enablement {
    fn bits(self) -> u32 {
        match self {
            Enablement::Enabled => ENABLED,
            Enablement::Draining => DRAINING,
            Enablement::Disabled => 0,
        }
    }

    fn from_bits(flags: u32) -> Self {
        match flags & ADMIN_MASK {
            ENABLED => Enablement::Enabled,
            DRAINING => Enablement::Draining,
            _ => Enablement::Disabled,
        }
    }
}

impl From<bool> for Enablement {
    /// `true` is [`Enablement::Enabled`], `false` is [`Enablement::Disabled`].
    fn from(enabled: bool) -> Self {
        if enabled {
            Enablement::Enabled
        } else {
            Enablement::Disabled
        }
    }
}

/// The health of a backend that joins a set, before any probe has answered.
///
/// The default is [`InitialHealth::Healthy`] ("healthy until proven otherwise", as in
/// pingora-load-balancing): a new backend takes traffic at once and is taken out after the
/// failure threshold of consecutive failed probes. With [`InitialHealth::Unhealthy`] a new
/// backend takes no traffic until its first successful probe, which makes it healthy at once
/// regardless of the success threshold; after that the thresholds apply as usual. Without a
/// health check every backend is healthy whatever this says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum InitialHealth {
    /// Picked as soon as it is discovered.
    #[default]
    Healthy,
    /// Not picked until its first probe succeeds.
    Unhealthy,
}

/// Whether a request to a backend succeeded, as reported through [`Pick::report`](crate::Pick::report).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The request succeeded.
    Success,
    /// The request failed because of the backend (connect error, reset, 5xx...).
    Failure,
}

/// What decides which backends share one health probe in a [`HealthRegistry`](crate::HealthRegistry).
///
/// By default the key is the backend's address: load balancers that list the same address share
/// one probe. A custom key (for example the IP without the port, or a pod name) makes backends
/// with different addresses share one probe.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HealthKey(KeyRepr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum KeyRepr {
    Address(Address),
    Custom(Box<str>),
}

impl HealthKey {
    /// A key chosen by the application.
    pub fn custom(key: impl Into<String>) -> Self {
        HealthKey(KeyRepr::Custom(key.into().into_boxed_str()))
    }
}

impl From<Address> for HealthKey {
    fn from(addr: Address) -> Self {
        HealthKey(KeyRepr::Address(addr))
    }
}

impl fmt::Debug for HealthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            KeyRepr::Address(a) => write!(f, "HealthKey({a})"),
            KeyRepr::Custom(s) => write!(f, "HealthKey({s:?})"),
        }
    }
}

/// A point-in-time copy of a backend's health, for logs and dashboards.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HealthStatus {
    /// Whether the backend is considered healthy.
    pub healthy: bool,
    /// Successful probes in a row (0 after a failure).
    pub consecutive_successes: u32,
    /// Failed probes in a row (0 after a success).
    pub consecutive_failures: u32,
    /// How many probes have answered since the backend was first seen.
    pub probes: u64,
    /// Why the last failed probe failed, as the health check's error displays it.
    pub last_error: Option<Arc<str>>,
    /// When the last probe answered.
    pub last_probe: Option<Instant>,
}

/// The health of one probe target, possibly shared by several load balancers.
pub(crate) struct HealthCell {
    pub(crate) key: HealthKey,
    /// The backend that is probed for this key: the first one registered under it.
    pub(crate) target: Backend,
    healthy: AtomicBool,
    inner: Mutex<CellInner>,
}

struct CellInner {
    consecutive_ok: u32,
    consecutive_fail: u32,
    probes: u64,
    last_error: Option<Arc<str>>,
    last_probe: Option<Instant>,
    /// Whether a new backend that starts unhealthy should flip on its first success.
    flip_on_first_success: bool,
    watchers: Vec<Weak<BackendState>>,
}

/// A health flip produced by [`HealthCell::record`] or [`HealthCell::force`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Flip {
    pub(crate) healthy: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the counters in a state worse than stale, so a
    // poisoned lock is used as is rather than propagating the panic.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl HealthCell {
    pub(crate) fn new(key: HealthKey, target: Backend, healthy: bool) -> Self {
        HealthCell {
            key,
            target,
            healthy: AtomicBool::new(healthy),
            inner: Mutex::new(CellInner {
                consecutive_ok: 0,
                consecutive_fail: 0,
                probes: 0,
                last_error: None,
                last_probe: None,
                flip_on_first_success: !healthy,
                watchers: Vec::new(),
            }),
        }
    }

    pub(crate) fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    // Probes need the runtime; without it health only changes through `force`.
    #[cfg_attr(not(feature = "runtime"), allow(dead_code))]
    /// Records one probe result and flips the health when the consecutive count reaches the
    /// threshold for the new state (a threshold of 0 counts as 1).
    pub(crate) fn record(
        &self,
        result: Result<(), Arc<str>>,
        success_threshold: usize,
        failure_threshold: usize,
        now: Instant,
    ) -> Option<Flip> {
        let mut inner = lock(&self.inner);
        inner.probes = inner.probes.saturating_add(1);
        inner.last_probe = Some(now);
        let healthy = self.is_healthy();
        let target = match result {
            Ok(()) => {
                inner.consecutive_ok = inner.consecutive_ok.saturating_add(1);
                inner.consecutive_fail = 0;
                let first = std::mem::take(&mut inner.flip_on_first_success);
                let threshold = success_threshold.max(1);
                (!healthy && (first || inner.consecutive_ok as usize >= threshold)).then_some(true)
            }
            Err(why) => {
                inner.consecutive_fail = inner.consecutive_fail.saturating_add(1);
                inner.consecutive_ok = 0;
                inner.last_error = Some(why);
                let threshold = failure_threshold.max(1);
                (healthy && inner.consecutive_fail as usize >= threshold).then_some(false)
            }
        }?;
        Some(self.set_locked(&mut inner, target))
    }

    /// Sets the health directly (an application's passive signal, or a test), returning the flip
    /// if the state changed.
    pub(crate) fn force(&self, healthy: bool) -> Option<Flip> {
        let mut inner = lock(&self.inner);
        inner.flip_on_first_success = false;
        (self.is_healthy() != healthy).then(|| self.set_locked(&mut inner, healthy))
    }

    fn set_locked(&self, inner: &mut CellInner, healthy: bool) -> Flip {
        self.healthy.store(healthy, Ordering::Release);
        inner.watchers.retain(|w| match w.upgrade() {
            Some(state) => {
                state.set_healthy_bit(healthy);
                true
            }
            None => false,
        });
        Flip { healthy }
    }

    /// Creates the state of one backend in one load balancer, watching this cell.
    pub(crate) fn new_state(self: &Arc<Self>, enablement: Enablement) -> Arc<BackendState> {
        let mut inner = lock(&self.inner);
        // Reading the health under the same lock that flips take means no flip can fall between
        // the read and the registration.
        let health_bit = if self.is_healthy() { HEALTHY } else { 0 };
        let state = Arc::new(BackendState {
            flags: AtomicU32::new(health_bit | enablement.bits()),
            in_flight: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            latency_ewma_ns: AtomicU64::new(0),
            ejection: Ejection::new(),
            health: Arc::clone(self),
        });
        inner.watchers.retain(|w| w.strong_count() > 0);
        inner.watchers.push(Arc::downgrade(&state));
        state
    }

    pub(crate) fn status(&self) -> HealthStatus {
        let inner = lock(&self.inner);
        HealthStatus {
            healthy: self.is_healthy(),
            consecutive_successes: inner.consecutive_ok,
            consecutive_failures: inner.consecutive_fail,
            probes: inner.probes,
            last_error: inner.last_error.clone(),
            last_probe: inner.last_probe,
        }
    }

    pub(crate) fn last_error(&self) -> Option<Arc<str>> {
        lock(&self.inner).last_error.clone()
    }
}

impl fmt::Debug for HealthCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthCell")
            .field("key", &self.key)
            .field("target", &self.target.addr)
            .field("healthy", &self.is_healthy())
            .finish()
    }
}

/// The runtime state of one backend in one load balancer.
///
/// Readiness (healthy, and [`Enablement::Enabled`]) is one word read with one atomic load. The
/// counters are for observability and for load-aware strategies; they are only written when the
/// application reports outcomes ([`Pick::report`](crate::Pick::report)) or tracks requests in
/// flight ([`Pick::track_in_flight`](crate::Pick::track_in_flight)). The struct is aligned to a
/// cache line so that counters of neighbouring backends never share one.
#[repr(align(64))]
pub struct BackendState {
    flags: AtomicU32,
    in_flight: AtomicU64,
    requests: AtomicU64,
    failures: AtomicU64,
    latency_ewma_ns: AtomicU64,
    ejection: Ejection,
    health: Arc<HealthCell>,
}

impl BackendState {
    /// Whether the backend may be picked: healthy, enabled and not ejected by passive health
    /// ([`PassiveHealth`](crate::PassiveHealth)).
    ///
    /// One atomic load. Only for a backend whose ejection is the one thing keeping it out does
    /// this read the clock, and it readmits the backend when its ejection has ended.
    #[inline]
    pub fn is_ready(&self) -> bool {
        let flags = self.flags.load(Ordering::Relaxed) & READINESS;
        flags == READY || (flags == READY | EJECTED && self.readmit_if_over())
    }

    #[cold]
    #[inline(never)]
    fn readmit_if_over(&self) -> bool {
        // Acquire pairs with the release that set the flag: the ejection's end read next is the
        // one stored before it (or a later one).
        let seen = self.flags.load(Ordering::Acquire);
        if seen & EJECTED == 0 {
            return seen & READINESS == READY;
        }
        if !self.ejection.over(crate::passive::now()) {
            return false;
        }
        self.readmit_seen(seen)
    }

    /// Ends the ejection seen in the flags `seen`, which has ended, unless the backend was
    /// ejected again since (failures of requests still in flight may eject it before any select
    /// clears the flag): that ejection stands. Returns whether the backend is then ready.
    fn readmit_seen(&self, seen: u32) -> bool {
        let mut current = seen;
        loop {
            if current & EJECTED == 0 || (current ^ seen) & EJECTION_COUNT != 0 {
                // Readmitted by another select, or ejected again.
                return current & READINESS == READY;
            }
            match self.flags.compare_exchange_weak(
                current,
                current & !EJECTED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    self.readmitted();
                    return current & (READY | DRAINING) == READY;
                }
                // Health or enablement changed meanwhile (or a spurious failure): try again.
                Err(actual) => current = actual,
            }
        }
    }

    /// Ends any ejection now, whatever its end (passive health turned off); returns whether the
    /// backend is then ready.
    pub(crate) fn readmit(&self) -> bool {
        let before = self.flags.fetch_and(!EJECTED, Ordering::AcqRel);
        if before & EJECTED != 0 {
            self.readmitted();
        }
        before & (READY | DRAINING) == READY
    }

    fn readmitted(&self) {
        self.ejection.readmitted();
        tracing::info!(backend = %self.health.target.addr, "backend readmitted after its ejection");
    }

    /// Whether the backend is healthy and enabled, and kept out only by a passive-health ejection.
    pub(crate) fn is_only_ejected(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & READINESS == READY | EJECTED
    }

    /// Whether passive health has ejected the backend and its ejection has not ended yet.
    pub fn is_ejected(&self) -> bool {
        self.is_ejected_at(crate::passive::now())
    }

    pub(crate) fn is_ejected_at(&self, at: Instant) -> bool {
        self.flags.load(Ordering::Acquire) & EJECTED != 0 && !self.ejection.over(at)
    }

    /// [`BackendState::is_ready`] at `at`, without readmitting.
    pub(crate) fn is_ready_at(&self, at: Instant) -> bool {
        let flags = self.flags.load(Ordering::Acquire) & READINESS;
        flags == READY || (flags == READY | EJECTED && self.ejection.over(at))
    }

    /// Sets the ejected flag and counts the ejection (see [`EJECTION_ONE`]); release ordering
    /// publishes the ejection's end stored before.
    pub(crate) fn set_ejected(&self) {
        // The closure always returns Some, so fetch_update cannot fail.
        let _ = self
            .flags
            .fetch_update(Ordering::Release, Ordering::Relaxed, |f| {
                Some((f | EJECTED).wrapping_add(EJECTION_ONE))
            });
    }

    pub(crate) fn ejection(&self) -> &Ejection {
        &self.ejection
    }

    /// How many times passive health has ejected the backend.
    pub fn ejections(&self) -> u64 {
        self.ejection.total()
    }

    /// Failed requests reported in a row (counted only while passive health is on).
    pub fn consecutive_failed_requests(&self) -> u32 {
        self.ejection.failure_run()
    }

    /// Whether the backend's health is good (whatever its enablement).
    pub fn is_healthy(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & HEALTHY != 0
    }

    /// The administrative state.
    pub fn enablement(&self) -> Enablement {
        Enablement::from_bits(self.flags.load(Ordering::Relaxed))
    }

    pub(crate) fn set_enablement(&self, enablement: Enablement) {
        let bits = enablement.bits();
        // fetch_update retries on contention; the closure always returns Some, so this cannot
        // fail and the result carries nothing worth returning.
        let _ = self
            .flags
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |f| {
                Some((f & !ADMIN_MASK) | bits)
            });
    }

    fn set_healthy_bit(&self, healthy: bool) {
        if healthy {
            self.flags.fetch_or(HEALTHY, Ordering::AcqRel);
        } else {
            self.flags.fetch_and(!HEALTHY, Ordering::AcqRel);
        }
    }

    /// A copy of the backend's health: consecutive counts and the last failure reason.
    pub fn health(&self) -> HealthStatus {
        self.health.status()
    }

    /// Why the last failed probe failed, if any probe failed.
    pub fn last_error(&self) -> Option<Arc<str>> {
        self.health.last_error()
    }

    /// Requests currently tracked in flight.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Requests reported through [`Pick::report`](crate::Pick::report).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Failed requests reported through [`Pick::report`](crate::Pick::report).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The exponentially weighted moving average (weight 1/8 per sample, as TCP's smoothed RTT)
    /// of reported latencies; `None` before the first report.
    pub fn latency_ewma(&self) -> Option<Duration> {
        match self.latency_ewma_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    pub(crate) fn record_outcome(&self, outcome: Outcome, latency: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if outcome == Outcome::Failure {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        // Zero is "no sample yet", so a sample is stored as at least 1 ns.
        let sample = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX).max(1);
        // The closure always returns Some, so fetch_update cannot fail.
        let _ = self
            .latency_ewma_ns
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(if old == 0 {
                    sample
                } else {
                    (old - old / 8).saturating_add(sample / 8).max(1)
                })
            });
    }

    pub(crate) fn in_flight_inc(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn in_flight_dec(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for BackendState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendState")
            .field("ready", &self.is_ready())
            .field("healthy", &self.is_healthy())
            .field("enablement", &self.enablement())
            .field("in_flight", &self.in_flight())
            .field("requests", &self.requests())
            .field("failures", &self.failures())
            .field("ejected", &self.is_ejected())
            .field("ejections", &self.ejections())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(healthy: bool) -> Arc<HealthCell> {
        let b = Backend::new("127.0.0.1:1").unwrap();
        Arc::new(HealthCell::new(b.addr.clone().into(), b, healthy))
    }

    fn fail() -> Result<(), Arc<str>> {
        Err(Arc::from("refused"))
    }

    #[test]
    fn readiness_needs_health_and_enablement() {
        let c = cell(true);
        let s = c.new_state(Enablement::Enabled);
        assert!(s.is_ready());
        for e in [Enablement::Draining, Enablement::Disabled] {
            s.set_enablement(e);
            assert!(!s.is_ready());
            assert!(s.is_healthy());
            assert_eq!(s.enablement(), e);
        }
        s.set_enablement(Enablement::Enabled);
        c.force(false);
        assert!(!s.is_ready());
        assert_eq!(s.enablement(), Enablement::Enabled);
    }

    #[test]
    fn flips_after_exactly_the_thresholds_and_reaches_every_watcher() {
        let c = cell(true);
        let a = c.new_state(Enablement::Enabled);
        let b = c.new_state(Enablement::Enabled);
        let now = Instant::now();
        assert_eq!(c.record(fail(), 2, 3, now), None);
        assert_eq!(c.record(fail(), 2, 3, now), None);
        assert!(a.is_ready() && b.is_ready());
        assert_eq!(c.record(fail(), 2, 3, now), Some(Flip { healthy: false }));
        assert!(!a.is_ready() && !b.is_ready());
        assert_eq!(c.record(Ok(()), 2, 3, now), None);
        assert_eq!(c.record(Ok(()), 2, 3, now), Some(Flip { healthy: true }));
        assert!(a.is_ready() && b.is_ready());
        let st = a.health();
        assert_eq!(st.consecutive_successes, 2);
        assert_eq!(st.probes, 5);
        assert_eq!(st.last_error.as_deref(), Some("refused"));
    }

    #[test]
    fn a_success_resets_the_failure_run() {
        let c = cell(true);
        let now = Instant::now();
        c.record(fail(), 1, 2, now);
        c.record(Ok(()), 1, 2, now);
        assert_eq!(c.record(fail(), 1, 2, now), None);
        assert_eq!(c.record(fail(), 1, 2, now), Some(Flip { healthy: false }));
    }

    #[test]
    fn an_initially_unhealthy_backend_flips_on_its_first_success_only() {
        let c = cell(false);
        let s = c.new_state(Enablement::Enabled);
        assert!(!s.is_ready());
        let now = Instant::now();
        assert_eq!(c.record(Ok(()), 5, 1, now), Some(Flip { healthy: true }));
        assert_eq!(c.record(fail(), 5, 1, now), Some(Flip { healthy: false }));
        for _ in 0..4 {
            assert_eq!(c.record(Ok(()), 5, 1, now), None);
        }
        assert_eq!(c.record(Ok(()), 5, 1, now), Some(Flip { healthy: true }));
    }

    #[test]
    fn a_state_created_after_a_flip_sees_it_and_dropped_states_are_forgotten() {
        let c = cell(true);
        let first = c.new_state(Enablement::Enabled);
        c.force(false);
        let late = c.new_state(Enablement::Enabled);
        assert!(!late.is_ready());
        drop(first);
        c.force(true);
        assert!(late.is_ready());
        assert_eq!(lock(&c.inner).watchers.len(), 1);
    }

    #[test]
    fn a_readmission_decided_on_an_ended_ejection_never_clears_the_next_one() {
        let s = cell(true).new_state(Enablement::Enabled);
        let at = crate::passive::now();
        s.eject(at, Duration::ZERO);
        // A select meets the backend and sees that its ejection has ended...
        let seen = s.flags.load(Ordering::Acquire);
        assert!(seen & EJECTED != 0 && s.ejection.over(at));
        // ...meanwhile requests still in flight fail and eject it again...
        s.eject(at, Duration::from_secs(3600));
        // ...then the select readmits what it saw: the new ejection must stand.
        assert!(!s.readmit_seen(seen));
        assert!(s.is_ejected() && !s.is_ready());
        // Once that one ends, a select readmits the backend as usual.
        s.eject(at, Duration::ZERO);
        assert!(s.is_ready() && !s.is_ejected());
    }

    #[test]
    fn outcomes_feed_counters_and_the_latency_average() {
        let s = cell(true).new_state(Enablement::Enabled);
        assert_eq!(s.latency_ewma(), None);
        s.record_outcome(Outcome::Success, Duration::from_millis(80));
        assert_eq!(s.latency_ewma(), Some(Duration::from_millis(80)));
        s.record_outcome(Outcome::Failure, Duration::from_millis(0));
        assert_eq!(s.latency_ewma(), Some(Duration::from_millis(70)));
        assert_eq!((s.requests(), s.failures()), (2, 1));
        s.record_outcome(Outcome::Success, Duration::MAX);
        assert!(s.latency_ewma().unwrap() > Duration::from_secs(1));
    }
}
