//! [`BackendState`]: the runtime state of one backend in one load balancer.
//!
//! A state belongs to one backend and is carried from one backend set to the next while the
//! backend stays (identity = address). It gathers three parts, each in its own file: the
//! readiness word (`flags.rs`: health, enablement, ejection, read with one atomic load on the
//! select path), the load signals (`load.rs`: in flight, latency, outcome counts, written by the
//! request lifecycle) and the ejection record of outcome policies (`ejection.rs`). Its health is
//! its own (the probes of its load balancer's private registry record into it), or that of a
//! health cell shared by several load balancers through a
//! [`HealthRegistry`](crate::HealthRegistry), which pushes each flip into the readiness word
//! (`health.rs`). `walk.rs` holds what the walk of `select` makes of a backend that is not
//! plainly ready: readmission after an ejection, a ramping backend's draw.

mod ejection;
mod flags;
mod health;
mod load;
mod walk;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::clock;
use crate::health::Source;
use crate::health::cell::{Health, HealthCell};
use crate::pool::Pool;

pub(crate) use ejection::Ejection;
pub use flags::Enablement;
pub(crate) use flags::{Flags, Word};
use health::HealthLink;
pub use load::Window;
pub(crate) use load::{Load, nanos_f64};
pub(crate) use walk::Take;

/// The runtime state of one backend in one load balancer.
///
/// Readiness (healthy, [`Enablement::Enabled`], not kept out by an outcome policy) is one word
/// read with one atomic load. The load signals (requests in flight, a latency estimate, outcome
/// counts) are written by the request lifecycle of [`Pick`](crate::Pick) and read by load-aware
/// strategies and outcome policies.
///
/// The struct is not aligned to a cache line: that would pad every state (its reference counts
/// first) to 256 bytes, 1 in 5 of a million-backend load balancer's memory. The words written per
/// request (the readiness word, the load counters) come first and the ones written rarely (the
/// health record, the pool) last, so two neighbouring states share at most the line where one's
/// rarely written tail meets the other's head (`repr(C)` keeps that order: the select path reads
/// the readiness word only, in the heap block's first cache line).
#[repr(C)]
pub struct BackendState {
    flags: Flags,
    pub(crate) load: Load,
    pub(crate) ejection: Ejection,
    /// When the current ramp (slow start) began, in [`clock`] nanoseconds.
    ramp_since: AtomicU64,
    pool: Arc<Pool>,
    health: HealthLink,
    /// The backend's metric handles, registered when it joins a published set of a load
    /// balancer that records metrics.
    #[cfg(feature = "metrics")]
    metrics: once_cell::race::OnceBox<crate::metrics::BackendMetrics>,
}

impl BackendState {
    /// A new state whose health comes from `source`, counted in `pool` once it has a weight
    /// (when its set is published).
    pub(crate) fn new(source: Source, enablement: Enablement, pool: &Arc<Pool>) -> Arc<Self> {
        match source {
            Source::Own(healthy) => Self::make(
                Flags::new(healthy, !healthy, enablement),
                HealthLink::Own(Health::new(healthy)),
                pool,
            ),
            Source::Shared(cell) => Self::watching(&cell, enablement, pool),
        }
    }

    /// A new state watching `cell`, in its current health.
    pub(crate) fn watching(
        cell: &Arc<HealthCell>,
        enablement: Enablement,
        pool: &Arc<Pool>,
    ) -> Arc<Self> {
        cell.watch(|healthy, pending| {
            Self::make(
                Flags::new(healthy, pending, enablement),
                HealthLink::Shared(Arc::clone(cell)),
                pool,
            )
        })
    }

    fn make(flags: Flags, health: HealthLink, pool: &Arc<Pool>) -> Arc<Self> {
        Arc::new(BackendState {
            flags,
            load: Load::default(),
            ejection: Ejection::default(),
            ramp_since: AtomicU64::new(0),
            pool: Arc::clone(pool),
            health,
            #[cfg(feature = "metrics")]
            metrics: once_cell::race::OnceBox::new(),
        })
    }

    /// Accounts for one change of the readiness word in the pool, and starts a ramp when the
    /// backend has just become ready and slow start is on.
    fn changed(&self, (before, after): (Word, Word)) {
        self.pool.apply(before.contribution(), after.contribution());
        if !before.is_ready() && after.is_ready() && !after.is_ramping() && self.pool.ramps() {
            self.start_ramp();
        }
    }

    fn start_ramp(&self) {
        self.ramp_since.store(clock::now_nanos(), Ordering::Relaxed);
        let (before, after) = self.flags.set_ramping();
        self.pool.apply(before.contribution(), after.contribution());
    }

    /// The backend joined a published set with `weight` (0: it left the set), as a standby or
    /// not, in `partition`; `new` says it was not in the previous set (then it ramps, when slow
    /// start is on).
    pub(crate) fn publish(&self, weight: u32, standby: bool, partition: u8, new: bool) {
        // Most backends of a new set are placed as they were: one load, no write.
        if !new && self.flags.load().is_placed(weight, standby, partition) {
            return;
        }
        self.changed(self.flags.set_weight(weight, standby, partition));
        if new && self.flags.load().is_ready() && self.pool.ramps() {
            self.start_ramp();
        }
    }

    /// The backend's metric handles, once registered.
    #[cfg(feature = "metrics")]
    #[inline]
    pub(crate) fn metrics(&self) -> Option<&crate::metrics::BackendMetrics> {
        self.metrics.get()
    }

    /// Registers the backend's metric handles when its load balancer records metrics and they
    /// are not registered yet.
    #[cfg(feature = "metrics")]
    pub(crate) fn register_metrics(&self, addr: &crate::address::Address) {
        if self.metrics.get().is_none()
            && let Some(lb) = self.pool.metrics()
        {
            // Two publications racing may both register: the loser's handles are dropped (and
            // give their label back).
            self.metrics.get_or_init(|| Box::new(lb.backend(addr)));
        }
    }

    /// Whether slow start is ramping the backend up.
    pub fn is_ramping(&self) -> bool {
        self.flags.load().is_ramping()
    }

    /// The share of its weight slow start gives the backend now (Envoy's formula, see
    /// [`SlowStart`](crate::SlowStart)): `None` when it is not ramping (it gets all of it).
    pub fn slow_start_factor(&self) -> Option<f64> {
        if !self.is_ramping() {
            return None;
        }
        self.pool
            .ramp_factor(self.ramp_since.load(Ordering::Relaxed), clock::now_nanos())
    }

    /// The administrative state.
    pub fn enablement(&self) -> Enablement {
        self.flags.load().enablement()
    }

    pub(crate) fn set_enablement(&self, enablement: Enablement) {
        self.changed(self.flags.set_enablement(enablement));
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

    pub(super) fn state(pool: &Arc<Pool>) -> (Arc<HealthCell>, Arc<BackendState>) {
        let b = Backend::new("127.0.0.1:1").unwrap();
        let cell = Arc::new(HealthCell::new(b, true));
        let s = BackendState::watching(&cell, Enablement::Enabled, pool);
        s.publish(2, false, 0, false);
        (cell, s)
    }

    #[test]
    fn readiness_follows_the_cell_and_enablement_and_the_pool_counts_it() {
        let pool = Arc::new(Pool::default());
        let (cell, s) = state(&pool);
        assert!(s.is_ready());
        assert_eq!(pool.weights(), (2, 2));
        s.set_enablement(Enablement::Draining);
        assert!(!s.is_ready() && s.is_healthy());
        assert_eq!(pool.weights(), (0, 0));
        s.set_enablement(Enablement::Enabled);
        cell.force(false);
        assert!(!s.is_ready());
        assert_eq!(pool.weights(), (2, 0));
        cell.force(true);
        assert!(s.is_ready());
        s.publish(0, false, 0, false);
        assert_eq!(
            pool.weights(),
            (0, 0),
            "a state that left the set counts for nothing"
        );
    }

    #[test]
    fn a_backend_with_its_own_health_costs_less_than_the_memory_budget() {
        // Per backend, a load balancer holds the set's backend and pointer to its state, the
        // state in one heap block with its two reference counts, and its share of the selector
        // (4 bytes for round robin). Issue 18's budget: under 300 bytes at a million backends.
        let per_backend = std::mem::size_of::<Backend>()
            + std::mem::size_of::<usize>()
            + 2 * std::mem::size_of::<usize>()
            + std::mem::size_of::<BackendState>();
        assert!(per_backend + 4 < 280, "{per_backend} bytes per backend");
    }
}
