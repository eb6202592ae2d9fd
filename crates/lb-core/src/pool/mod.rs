//! [`Pool`]: one load balancer's view of its whole set: the weight that is enabled and the
//! weight that is ready, kept exact by every change of a backend's readiness word; panic mode,
//! which follows from them; slow start's settings; and a coarse clock the reports keep.
//!
//! Every backend state holds the pool of its load balancer. A change to a readiness word (a
//! health flip, an enablement change, an ejection, a readmission, a new weight at publication)
//! is one atomic operation that knows the word before and after, so it adds to the sums exactly
//! what it changed: no scan of the set, ever.

mod routing;
mod slow_start;
mod striped;
mod sums;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::clock;
use crate::topology::ZoneRouting;

pub(crate) use routing::{
    Layout, LevelLayout, PartLayout, Routing, ZoneSettings, mix as routing_mix,
};
pub use slow_start::SlowStart;
use striped::Striped;
use sums::Sums;
pub(crate) use sums::{Contribution, LevelWeights, MAX_LEVELS, MAX_PARTITIONS, Plan};

/// Envoy's default `healthy_panic_threshold`.
pub(crate) const DEFAULT_PANIC_THRESHOLD: u8 = 50;

/// Envoy's default overprovisioning factor, in percent: a level with 1/1.4 of its weight
/// available is taken to serve all of its load.
pub(crate) const DEFAULT_OVERPROVISIONING: u32 = 140;

#[derive(Debug)]
pub(crate) struct Pool {
    sums: Sums,
    overprovisioning: AtomicU32,
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
    /// How the published set is divided (priority levels, zones); also the lock under which
    /// the routing table is recomputed.
    layout: Mutex<Layout>,
    /// Whether the set is divided into more than one partition (then every change of the sums
    /// recomputes `routing`).
    partitioned: AtomicBool,
    routing: Routing,
    /// Set while a publication adds a whole set's weights: the sums are re-evaluated once at
    /// its end rather than per backend.
    deferring: AtomicBool,
    routed_local: Striped,
    routed_cross: Striped,
    /// Zone-aware routing's settings, read when selectors are built, and how many times they
    /// were set (a build under older settings is not published).
    zone_routing: Mutex<(Option<ZoneRouting>, u64)>,
    /// The load balancer's metric handles, once it is named (`LoadBalancer::set_metrics`).
    #[cfg(feature = "metrics")]
    metrics: std::sync::OnceLock<std::sync::Arc<crate::metrics::LbMetrics>>,
}

impl Default for Pool {
    fn default() -> Self {
        Pool {
            sums: Sums::default(),
            overprovisioning: AtomicU32::new(DEFAULT_OVERPROVISIONING),
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
            layout: Mutex::new(Layout::default()),
            partitioned: AtomicBool::new(false),
            routing: Routing::default(),
            deferring: AtomicBool::new(false),
            routed_local: Striped::default(),
            routed_cross: Striped::default(),
            zone_routing: Mutex::new((None, 0)),
            #[cfg(feature = "metrics")]
            metrics: std::sync::OnceLock::new(),
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
        self.sums.apply(before, after);
        self.reevaluate();
    }

    /// The enabled and ready weight of the active tier, over every level.
    pub(crate) fn weights(&self) -> (i64, i64) {
        let t = self.sums.total();
        (t.enabled, t.ready)
    }

    /// How traffic is split between priority levels now, and which are in panic mode: Envoy's
    /// arithmetic over the live sums (a few loads per partition).
    pub(crate) fn plan(&self) -> Plan {
        let mut levels = [LevelWeights::default(); MAX_LEVELS];
        let n = self.sums.levels(&mut levels);
        sums::plan(
            &levels[..n],
            self.overprovisioning.load(Ordering::Relaxed),
            self.panic_threshold.load(Ordering::Relaxed),
        )
    }

    /// Installs the layout of a set being published (before its weights are published).
    pub(crate) fn set_layout(&self, layout: Layout) {
        let levels: Vec<u8> = layout.parts.iter().map(|p| p.level).collect();
        let mut current = lock(&self.layout);
        self.sums
            .set_layout(if levels.is_empty() { &[0] } else { &levels });
        self.partitioned
            .store(layout.parts.len() > 1, Ordering::Relaxed);
        *current = layout;
        drop(current);
        self.reevaluate();
    }

    pub(crate) fn set_zone_routing(&self, routing: Option<ZoneRouting>) {
        let mut slot = lock(&self.zone_routing);
        slot.0 = routing;
        slot.1 += 1;
    }

    /// Zone-aware routing's settings, and the number of times they were set.
    pub(crate) fn zone_routing(&self) -> (Option<ZoneRouting>, u64) {
        lock(&self.zone_routing).clone()
    }

    /// Whether the published set is divided into partitions.
    pub(crate) fn is_partitioned(&self) -> bool {
        self.partitioned.load(Ordering::Relaxed)
    }

    /// The routing table `select` reads when the set is divided.
    #[inline]
    pub(crate) fn routing(&self) -> &Routing {
        &self.routing
    }

    /// Defers re-evaluation while a whole set's weights are published; the guard re-evaluates
    /// once when dropped. Called under the publishing lock, so never nested.
    pub(crate) fn batch(&self) -> Batch<'_> {
        self.deferring.store(true, Ordering::Relaxed);
        Batch(self)
    }

    /// Counts a request routed by zone-aware routing, within the local zone or across.
    #[inline]
    pub(crate) fn count_route(&self, local: bool) {
        if local {
            self.routed_local.add();
        } else {
            self.routed_cross.add();
        }
    }

    /// Requests routed within the local zone and across zones.
    pub(crate) fn routed_counts(&self) -> (u64, u64) {
        (self.routed_local.sum(), self.routed_cross.sum())
    }

    /// The share of traffic each priority level takes now, in percent.
    pub(crate) fn priority_loads(&self) -> Vec<u8> {
        let plan = self.plan();
        plan.load[..plan.levels].to_vec()
    }

    /// Recomputes the routing table from the sums, under the layout lock (so that the last
    /// writer wrote from the latest sums).
    fn reroute(&self) {
        let layout = lock(&self.layout);
        let count = layout.parts.len().min(MAX_PARTITIONS);
        let mut parts = [LevelWeights::default(); MAX_PARTITIONS];
        for (p, slot) in parts.iter_mut().enumerate().take(count) {
            *slot = self.sums.partition(p);
        }
        let table = routing::table(&layout, &parts[..count], self.plan());
        self.routing.store(layout.generation, &table);
    }

    pub(crate) fn set_overprovisioning(&self, percent: u32) {
        self.overprovisioning
            .store(percent.max(1), Ordering::Relaxed);
        self.reevaluate();
    }

    pub(crate) fn overprovisioning(&self) -> u32 {
        self.overprovisioning.load(Ordering::Relaxed)
    }

    /// Whether some level that receives traffic is in panic mode.
    fn should_panic(&self) -> bool {
        self.plan().any_panic()
    }

    /// Enters or leaves panic mode when the sums say so, logging and counting each transition,
    /// and recomputes the routing table of a divided set.
    pub(crate) fn reevaluate(&self) {
        if self.deferring.load(Ordering::Relaxed) {
            return;
        }
        if self.partitioned.load(Ordering::Relaxed) {
            self.reroute();
        }
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
        #[cfg(feature = "metrics")]
        if let Some(m) = self.metrics() {
            m.panic_changed(panic);
        }
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
    /// outcome policy (the last resort), or panic mode picks an enabled one. A few loads per
    /// partition.
    pub(crate) fn can_select(&self) -> bool {
        let t = self.sums.total();
        t.ready > 0
            || t.standby_ready > 0
            || t.up > 0
            || (self.in_panic() && t.enabled + t.standby_enabled > 0)
    }

    /// The load balancer's metric handles, once it is named.
    #[cfg(feature = "metrics")]
    #[inline]
    pub(crate) fn metrics(&self) -> Option<&crate::metrics::LbMetrics> {
        self.metrics.get().map(|m| &**m)
    }

    /// Names the load balancer's metrics; `false` when they were named already.
    #[cfg(feature = "metrics")]
    pub(crate) fn set_metrics(&self, metrics: std::sync::Arc<crate::metrics::LbMetrics>) -> bool {
        self.metrics.set(metrics).is_ok()
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

/// See [`Pool::batch`].
pub(crate) struct Batch<'a>(&'a Pool);

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.0.deferring.store(false, Ordering::Relaxed);
        self.0.reevaluate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active(enabled: i64, ready: i64) -> Contribution {
        Contribution {
            enabled,
            ready,
            up: ready,
            ..Contribution::default()
        }
    }

    #[test]
    fn panic_mode_follows_the_ready_share_exactly() {
        let pool = Pool::default();
        for _ in 0..10 {
            pool.apply(Contribution::default(), active(10, 10));
        }
        assert!(!pool.in_panic());
        // 100 enabled; ready drops by 10 at a time: 50 is not below 50 %, 40 is.
        for _ in 0..5 {
            pool.apply(active(10, 10), active(10, 0));
        }
        assert_eq!(pool.weights(), (100, 50));
        assert!(!pool.in_panic(), "exactly at the threshold is not panic");
        pool.apply(active(10, 10), active(10, 0));
        assert!(pool.in_panic());
        assert_eq!(pool.panic_counts(), (1, 0));
        pool.apply(active(10, 0), active(10, 10));
        assert!(!pool.in_panic());
        assert_eq!(pool.panic_counts(), (1, 1));
        pool.set_panic_threshold(0);
        for _ in 0..5 {
            pool.apply(active(10, 10), active(10, 0));
        }
        assert!(!pool.in_panic(), "a threshold of 0 turns panic mode off");
    }

    #[test]
    fn ready_standbys_that_can_take_the_load_prevent_panic() {
        let pool = Pool::default();
        let standby = |enabled, ready| Contribution {
            standby_enabled: enabled,
            standby_ready: ready,
            up: ready,
            ..Contribution::default()
        };
        pool.apply(Contribution::default(), active(10, 0));
        assert!(pool.in_panic(), "every active down and no standby");
        pool.apply(Contribution::default(), standby(1, 1));
        assert!(
            !pool.in_panic(),
            "a ready standby takes over, as Envoy's next level would"
        );
        pool.apply(Contribution::default(), standby(4, 0));
        // Standbys 20 % ready: 0 + 28 % in all, and the actives are at 0 %.
        assert!(pool.in_panic());
    }
}
