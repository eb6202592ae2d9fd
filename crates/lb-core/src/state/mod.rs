//! [`BackendState`]: the runtime state of one backend in one load balancer.
//!
//! A state belongs to one backend and is carried from one backend set to the next while the
//! backend stays (identity = address). It gathers three parts, each in its own file: the
//! readiness word (`flags.rs`: health, enablement, ejection, read with one atomic load on the
//! select path), the load signals (`load.rs`: in flight, latency, outcome counts, written by the
//! request lifecycle) and the ejection record of outcome policies (`ejection.rs`). Its health is
//! its own (the probes of its load balancer's private registry record into it), or that of a
//! health cell shared by several load balancers through a
//! [`HealthRegistry`](crate::HealthRegistry), which pushes each flip into the readiness word.

mod ejection;
mod flags;
mod load;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::address::Address;
use crate::clock;
use crate::health::Source;
use crate::health::cell::{Flip, Health, HealthCell, HealthStatus, HealthWatcher};
use crate::pool::Pool;

pub(crate) use ejection::Ejection;
pub use flags::Enablement;
pub(crate) use flags::{Flags, Word};
pub use load::Window;
pub(crate) use load::{Load, nanos_f64};

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

/// Where a state's health lives.
enum HealthLink {
    /// In the state: the load balancer's own registry probes it.
    Own(Health),
    /// In a cell of a shared registry, which pushes its flips here.
    Shared(Arc<HealthCell>),
}

impl HealthWatcher for BackendState {
    fn health_changed(&self, healthy: bool) {
        let (before, after) = self.flags.set_healthy(healthy);
        #[cfg(feature = "metrics")]
        if before.is_healthy() != after.is_healthy()
            && let Some(m) = self.metrics()
        {
            m.health_changed();
        }
        self.changed((before, after));
    }
}

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

    /// Whether the state keeps its own health (its load balancer's private registry probes it).
    pub(crate) fn has_own_health(&self) -> bool {
        matches!(self.health, HealthLink::Own(_))
    }

    /// Records a probe result into the state's own health (or its cell's), the readiness word
    /// following a flip.
    #[cfg_attr(not(feature = "runtime"), allow(dead_code))] // Used by probes, which need the runtime.
    pub(crate) fn record_probe(
        &self,
        result: Result<(), Arc<str>>,
        success_threshold: usize,
        failure_threshold: usize,
        now: std::time::Instant,
    ) -> Option<Flip> {
        match &self.health {
            HealthLink::Own(health) => health.record(
                result,
                success_threshold,
                failure_threshold,
                now,
                |healthy| self.health_changed(healthy),
            ),
            HealthLink::Shared(cell) => {
                cell.record(result, success_threshold, failure_threshold, now)
            }
        }
    }

    /// Sets the health directly (the application's word), the readiness word following a flip.
    pub(crate) fn force_health(&self, healthy: bool) -> Option<Flip> {
        match &self.health {
            HealthLink::Own(health) => {
                health.force(healthy, |healthy| self.health_changed(healthy))
            }
            HealthLink::Shared(cell) => cell.force(healthy),
        }
    }

    fn health_record(&self) -> &Health {
        match &self.health {
            HealthLink::Own(health) => health,
            HealthLink::Shared(cell) => &cell.health,
        }
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

    /// The backend's metric handles, once registered.
    #[cfg(feature = "metrics")]
    #[inline]
    pub(crate) fn metrics(&self) -> Option<&crate::metrics::BackendMetrics> {
        self.metrics.get()
    }

    /// Registers the backend's metric handles when its load balancer records metrics and they
    /// are not registered yet.
    #[cfg(feature = "metrics")]
    pub(crate) fn register_metrics(&self, addr: &Address) {
        if self.metrics.get().is_none()
            && let Some(lb) = self.pool.metrics()
        {
            // Two publications racing may both register: the loser's handles are dropped (and
            // give their label back).
            self.metrics.get_or_init(|| Box::new(lb.backend(addr)));
        }
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
        self.flags.load().is_healthy()
    }

    /// The administrative state.
    pub fn enablement(&self) -> Enablement {
        self.flags.load().enablement()
    }

    pub(crate) fn set_enablement(&self, enablement: Enablement) {
        self.changed(self.flags.set_enablement(enablement));
    }

    /// A copy of the backend's health: consecutive counts and the last failure reason.
    pub fn health(&self) -> HealthStatus {
        self.health_record().status()
    }

    /// Why the last failed probe failed, if any probe failed.
    pub fn last_error(&self) -> Option<Arc<str>> {
        self.health_record().last_error()
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

    fn state(pool: &Arc<Pool>) -> (Arc<HealthCell>, Arc<BackendState>) {
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

    #[test]
    fn own_health_flips_the_readiness_word_at_the_thresholds() {
        let pool = Arc::new(Pool::default());
        let s = BackendState::new(Source::Own(true), Enablement::Enabled, &pool);
        s.publish(3, false, 0, false);
        assert!(s.has_own_health() && s.is_ready());
        let now = std::time::Instant::now();
        let fail = || Err(Arc::<str>::from("refused"));
        assert_eq!(s.record_probe(fail(), 2, 2, now), None);
        assert!(s.is_ready(), "one failure of two");
        assert_eq!(
            s.record_probe(fail(), 2, 2, now),
            Some(Flip { healthy: false })
        );
        assert!(!s.is_ready() && !s.is_healthy());
        assert_eq!(pool.weights(), (3, 0));
        assert_eq!(s.health().consecutive_failures, 2);
        assert_eq!(s.last_error().as_deref(), Some("refused"));
        assert_eq!(s.record_probe(Ok(()), 2, 2, now), None);
        assert_eq!(
            s.record_probe(Ok(()), 2, 2, now),
            Some(Flip { healthy: true })
        );
        assert!(s.is_ready());
        assert_eq!(s.force_health(false), Some(Flip { healthy: false }));
        assert!(!s.is_ready());
        assert_eq!(s.force_health(false), None, "no flip: already unhealthy");
        assert_eq!(s.health().probes, 4);
    }

    #[test]
    fn own_health_that_starts_unhealthy_takes_traffic_after_its_first_success() {
        let pool = Arc::new(Pool::default());
        let s = BackendState::new(Source::Own(false), Enablement::Enabled, &pool);
        s.publish(1, false, 0, false);
        assert!(!s.is_ready());
        let now = std::time::Instant::now();
        assert_eq!(
            s.record_probe(Ok(()), 5, 1, now),
            Some(Flip { healthy: true })
        );
        assert!(s.is_ready());
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
