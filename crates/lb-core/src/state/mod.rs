//! [`BackendState`]: the runtime state of one backend in one load balancer.
//!
//! A state belongs to one backend and is carried from one backend set to the next while the
//! backend stays (identity = address). It gathers three parts, each in its own file: the
//! readiness word (`flags.rs`: health, enablement, ejection, read with one atomic load on the
//! select path), the load signals (`load.rs`: in flight, latency, outcome counts, written by the
//! request lifecycle) and the ejection record of outcome policies (`ejection.rs`). Its health
//! comes from a health cell, which may be shared by several load balancers through a
//! [`HealthRegistry`](crate::HealthRegistry) and pushes each flip into the readiness word.

mod ejection;
mod flags;
mod load;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock;
use crate::health::cell::{HealthCell, HealthStatus, HealthWatcher};

pub(crate) use ejection::Ejection;
pub use flags::Enablement;
pub(crate) use flags::{Flags, Readiness};
pub(crate) use load::Load;
pub use load::Window;

/// The runtime state of one backend in one load balancer.
///
/// Readiness (healthy, [`Enablement::Enabled`], not ejected) is one word read with one atomic
/// load. The load signals (requests in flight, a latency estimate, outcome counts) are written by
/// the request lifecycle of [`Pick`](crate::Pick) and read by load-aware strategies and outcome
/// policies. The struct is aligned to a cache line so that counters of neighbouring backends
/// never share one.
#[repr(align(64))]
pub struct BackendState {
    flags: Flags,
    pub(crate) load: Load,
    pub(crate) ejection: Ejection,
    health: Arc<HealthCell>,
}

impl HealthWatcher for BackendState {
    fn health_changed(&self, healthy: bool) {
        self.flags.set_healthy(healthy);
    }
}

impl BackendState {
    /// A new state watching `cell`, in its current health.
    pub(crate) fn watching(cell: &Arc<HealthCell>, enablement: Enablement) -> Arc<Self> {
        cell.watch(|healthy| {
            Arc::new(BackendState {
                flags: Flags::new(healthy, enablement),
                load: Load::default(),
                ejection: Ejection::default(),
                health: Arc::clone(cell),
            })
        })
    }

    /// Whether the backend may be picked: healthy, enabled and not ejected by an outcome policy
    /// ([`PassiveHealth`](crate::PassiveHealth)).
    ///
    /// One atomic load. Only for a backend whose ejection is the one thing keeping it out does
    /// this read the clock, and it readmits the backend when its ejection has ended.
    #[inline]
    pub fn is_ready(&self) -> bool {
        let (ready, only_ejected) = self.flags.ready_or_only_ejected();
        ready || (only_ejected && self.readmit_if_over())
    }

    #[cold]
    #[inline(never)]
    fn readmit_if_over(&self) -> bool {
        let seen = self.flags.seen();
        if !seen.is_ejected() {
            return seen.readiness() == Readiness::Ready;
        }
        if !self.ejection.over(clock::now_nanos()) {
            return false;
        }
        let (cleared, ready) = self.flags.readmit_seen(seen);
        if cleared {
            self.readmitted();
        }
        ready
    }

    /// Ends any ejection now, whatever its end (the policy was turned off); returns whether the
    /// backend is then ready.
    pub(crate) fn readmit(&self) -> bool {
        if self.flags.clear_ejected() {
            self.readmitted();
        }
        self.flags.readiness_acquire() == Readiness::Ready
    }

    fn readmitted(&self) {
        self.ejection.readmitted();
        tracing::info!(backend = %self.health.target.addr, "backend readmitted after its ejection");
    }

    /// Starts an ejection of `length` at `now` ([`clock`] nanoseconds).
    pub(crate) fn eject(&self, now: u64, length: Duration) {
        self.ejection.start(now, length);
        self.flags.set_ejected();
    }

    /// Whether the backend is healthy and enabled, and kept out only by an ejection.
    #[inline]
    pub(crate) fn is_only_ejected(&self) -> bool {
        self.flags.readiness() == Readiness::Ejected
    }

    /// Whether an outcome policy has ejected the backend and its ejection has not ended yet.
    pub fn is_ejected(&self) -> bool {
        self.is_ejected_at(clock::now_nanos())
    }

    pub(crate) fn is_ejected_at(&self, now: u64) -> bool {
        self.flags.is_ejected() && !self.ejection.over(now)
    }

    /// [`BackendState::is_ready`] at `now`, without readmitting.
    pub(crate) fn is_ready_at(&self, now: u64) -> bool {
        match self.flags.readiness_acquire() {
            Readiness::Ready => true,
            Readiness::Ejected => self.ejection.over(now),
            Readiness::Out => false,
        }
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

    /// Whether the backend's health is good (whatever its enablement).
    pub fn is_healthy(&self) -> bool {
        self.flags.is_healthy()
    }

    /// The administrative state.
    pub fn enablement(&self) -> Enablement {
        self.flags.enablement()
    }

    pub(crate) fn set_enablement(&self, enablement: Enablement) {
        self.flags.set_enablement(enablement);
    }

    /// A copy of the backend's health: consecutive counts and the last failure reason.
    pub fn health(&self) -> HealthStatus {
        self.health.status()
    }

    /// Why the last failed probe failed, if any probe failed.
    pub fn last_error(&self) -> Option<Arc<str>> {
        self.health.last_error()
    }

    /// Requests in flight: picks alive and not yet reported, counted while the load balancer
    /// tracks load (its strategy or one of its policies needs it; see
    /// [`Pick`](crate::Pick)). 0 otherwise.
    #[inline]
    pub fn in_flight(&self) -> u64 {
        self.load.in_flight()
    }

    /// Requests reported through [`Pick::report`](crate::Pick::report).
    pub fn requests(&self) -> u64 {
        self.load.requests()
    }

    /// Failed requests reported through [`Pick::report`](crate::Pick::report).
    pub fn failures(&self) -> u64 {
        self.load.failures()
    }

    /// Requests whose pick was dropped without a report while load was tracked.
    pub fn cancellations(&self) -> u64 {
        self.load.cancellations()
    }

    /// The peak-EWMA latency estimate as of the last reported request (not decayed since), or
    /// `None` before the first report. Strategies read it decayed to the present through
    /// [`States::latency`](crate::States::latency).
    pub fn latency_estimate(&self) -> Option<Duration> {
        self.load.last_estimate()
    }

    /// The outcome counts of the last complete window (see
    /// [`LoadSignals::window`](crate::LoadSignals::window)).
    pub fn last_window(&self) -> Window {
        self.load.last_window()
    }

    /// The outcome counts of the window being counted.
    pub fn current_window(&self) -> Window {
        self.load.current_window()
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
    use crate::backend::Backend;

    fn state() -> (Arc<HealthCell>, Arc<BackendState>) {
        let b = Backend::new("127.0.0.1:1").unwrap();
        let cell = Arc::new(HealthCell::new(b.addr.clone().into(), b, true));
        let s = BackendState::watching(&cell, Enablement::Enabled);
        (cell, s)
    }

    #[test]
    fn readiness_follows_the_cell_and_enablement() {
        let (cell, s) = state();
        assert!(s.is_ready());
        s.set_enablement(Enablement::Draining);
        assert!(!s.is_ready() && s.is_healthy());
        s.set_enablement(Enablement::Enabled);
        cell.force(false);
        assert!(!s.is_ready());
        cell.force(true);
        assert!(s.is_ready());
    }

    #[test]
    fn an_ended_ejection_is_cleared_by_the_first_readiness_check() {
        let (_cell, s) = state();
        let now = clock::now_nanos();
        s.eject(now, Duration::from_secs(3600));
        assert!(!s.is_ready() && s.is_ejected() && s.is_only_ejected());
        assert!(s.ejection_remaining().unwrap() > Duration::from_secs(3500));
        s.eject(now, Duration::ZERO);
        assert!(s.is_ready(), "over: readmitted by the check");
        assert!(!s.is_ejected() && s.ejection_remaining().is_none());
        assert_eq!(s.ejections(), 2);
    }

    #[test]
    fn a_state_fits_two_cache_lines() {
        assert!(std::mem::size_of::<BackendState>() <= 128);
    }
}
