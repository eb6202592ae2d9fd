//! [`Health`]: the health of one probe target, kept in a backend's state (a load balancer's own
//! registry) or in a [`HealthCell`] that several load balancers follow (a shared registry); and
//! the types that describe it.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Instant;

use crate::address::Address;
use crate::backend::Backend;

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

/// Something that follows a shared cell's health: the readiness word of a backend's state.
pub(crate) trait HealthWatcher: Send + Sync {
    /// The cell flipped to `healthy`.
    fn health_changed(&self, healthy: bool);
}

/// The health of one probe target: whether it is healthy, the runs of probe results that flip
/// it, and the last failure. A backend of a load balancer with its own (private) registry keeps
/// one in its state; a shared registry keeps one per key in a [`HealthCell`].
pub(crate) struct Health(Mutex<HealthInner>);

struct HealthInner {
    healthy: bool,
    /// Whether a new backend that starts unhealthy should flip on its first success.
    flip_on_first_success: bool,
    consecutive_ok: u32,
    consecutive_fail: u32,
    probes: u64,
    last_error: Option<Arc<str>>,
    last_probe: Option<Instant>,
}

/// A health flip produced by [`Health::record`] or [`Health::force`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Flip {
    pub(crate) healthy: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the counters in a state worse than stale, so a
    // poisoned lock is used as is rather than propagating the panic.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Health {
    /// A new target's health: `healthy`, or waiting for its first successful probe.
    pub(crate) fn new(healthy: bool) -> Self {
        Health(Mutex::new(HealthInner {
            healthy,
            flip_on_first_success: !healthy,
            consecutive_ok: 0,
            consecutive_fail: 0,
            probes: 0,
            last_error: None,
            last_probe: None,
        }))
    }

    pub(crate) fn is_healthy(&self) -> bool {
        lock(&self.0).healthy
    }

    /// Records one probe result and flips the health when the consecutive count reaches the
    /// threshold for the new state (a threshold of 0 counts as 1). `on_flip` runs under the
    /// lock, so that flips reach what follows them in the order they happen.
    // Probes need the runtime; without it health only changes through `force`.
    #[cfg_attr(not(feature = "runtime"), allow(dead_code))]
    pub(crate) fn record(
        &self,
        result: Result<(), Arc<str>>,
        success_threshold: usize,
        failure_threshold: usize,
        now: Instant,
        on_flip: impl FnOnce(bool),
    ) -> Option<Flip> {
        let mut inner = lock(&self.0);
        inner.probes = inner.probes.saturating_add(1);
        inner.last_probe = Some(now);
        let healthy = inner.healthy;
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
        inner.healthy = target;
        on_flip(target);
        Some(Flip { healthy: target })
    }

    /// Sets the health directly (an application's passive signal, or a test), returning the flip
    /// if the state changed; `on_flip` runs under the lock.
    pub(crate) fn force(&self, healthy: bool, on_flip: impl FnOnce(bool)) -> Option<Flip> {
        let mut inner = lock(&self.0);
        inner.flip_on_first_success = false;
        if inner.healthy == healthy {
            return None;
        }
        inner.healthy = healthy;
        on_flip(healthy);
        Some(Flip { healthy })
    }

    /// Runs `read` on the current health and whether the target still waits for its first
    /// successful probe, under the lock flips take: no flip can fall between the read and what
    /// `read` does with it.
    pub(crate) fn read<T>(&self, read: impl FnOnce(bool, bool) -> T) -> T {
        let inner = lock(&self.0);
        read(inner.healthy, inner.flip_on_first_success)
    }

    pub(crate) fn status(&self) -> HealthStatus {
        let inner = lock(&self.0);
        HealthStatus {
            healthy: inner.healthy,
            consecutive_successes: inner.consecutive_ok,
            consecutive_failures: inner.consecutive_fail,
            probes: inner.probes,
            last_error: inner.last_error.clone(),
            last_probe: inner.last_probe,
        }
    }

    pub(crate) fn last_error(&self) -> Option<Arc<str>> {
        lock(&self.0).last_error.clone()
    }
}

/// The health of one probe target of a shared registry, possibly followed by several load
/// balancers' states. Its key lives in the registry's index only.
pub(crate) struct HealthCell {
    /// The backend that is probed for the cell's key: the first one registered under it.
    pub(crate) target: Backend,
    pub(crate) health: Health,
    /// Taken inside the health's lock (flips, registrations), never the other way round.
    watchers: Mutex<Vec<Weak<dyn HealthWatcher>>>,
}

impl HealthCell {
    pub(crate) fn new(target: Backend, healthy: bool) -> Self {
        HealthCell {
            target,
            health: Health::new(healthy),
            watchers: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn is_healthy(&self) -> bool {
        self.health.is_healthy()
    }

    /// [`Health::record`], each flip pushed to every watcher.
    #[cfg_attr(not(feature = "runtime"), allow(dead_code))]
    pub(crate) fn record(
        &self,
        result: Result<(), Arc<str>>,
        success_threshold: usize,
        failure_threshold: usize,
        now: Instant,
    ) -> Option<Flip> {
        self.health.record(
            result,
            success_threshold,
            failure_threshold,
            now,
            |healthy| self.notify(healthy),
        )
    }

    /// [`Health::force`], the flip pushed to every watcher.
    pub(crate) fn force(&self, healthy: bool) -> Option<Flip> {
        self.health.force(healthy, |healthy| self.notify(healthy))
    }

    fn notify(&self, healthy: bool) {
        lock(&self.watchers).retain(|w| match w.upgrade() {
            Some(watcher) => {
                watcher.health_changed(healthy);
                true
            }
            None => false,
        });
    }

    /// Registers the watcher `make` builds from the current health and whether the target still
    /// waits for its first successful probe. They are read under the lock flips take, so no flip
    /// can fall between the read and the registration.
    pub(crate) fn watch<W: HealthWatcher + 'static>(
        &self,
        make: impl FnOnce(bool, bool) -> Arc<W>,
    ) -> Arc<W> {
        self.health.read(|healthy, pending| {
            let watcher = make(healthy, pending);
            let mut watchers = lock(&self.watchers);
            watchers.retain(|w| w.strong_count() > 0);
            let weak: Weak<W> = Arc::downgrade(&watcher);
            watchers.push(weak);
            watcher
        })
    }

    pub(crate) fn last_error(&self) -> Option<Arc<str>> {
        self.health.last_error()
    }

    #[cfg(test)]
    pub(crate) fn watchers(&self) -> usize {
        lock(&self.watchers).len()
    }
}

impl fmt::Debug for HealthCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthCell")
            .field("target", &self.target.addr)
            .field("healthy", &self.is_healthy())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    struct Counter {
        healthy: AtomicBool,
        changes: AtomicUsize,
    }

    impl HealthWatcher for Counter {
        fn health_changed(&self, healthy: bool) {
            self.healthy.store(healthy, Ordering::Relaxed);
            self.changes.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn cell(healthy: bool) -> HealthCell {
        let b = Backend::new("127.0.0.1:1").unwrap();
        HealthCell::new(b, healthy)
    }

    fn counter(c: &HealthCell) -> Arc<Counter> {
        c.watch(|healthy, _pending| {
            Arc::new(Counter {
                healthy: AtomicBool::new(healthy),
                changes: AtomicUsize::new(0),
            })
        })
    }

    fn fail() -> Result<(), Arc<str>> {
        Err(Arc::from("refused"))
    }

    #[test]
    fn flips_after_exactly_the_thresholds_and_reaches_every_watcher() {
        let c = cell(true);
        let (a, b) = (counter(&c), counter(&c));
        let now = Instant::now();
        assert_eq!(c.record(fail(), 2, 3, now), None);
        assert_eq!(c.record(fail(), 2, 3, now), None);
        assert_eq!(c.record(fail(), 2, 3, now), Some(Flip { healthy: false }));
        assert!(!a.healthy.load(Ordering::Relaxed) && !b.healthy.load(Ordering::Relaxed));
        assert_eq!(c.record(Ok(()), 2, 3, now), None);
        assert_eq!(c.record(Ok(()), 2, 3, now), Some(Flip { healthy: true }));
        assert!(a.healthy.load(Ordering::Relaxed) && b.healthy.load(Ordering::Relaxed));
        assert_eq!(a.changes.load(Ordering::Relaxed), 2);
        let st = c.health.status();
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
        let now = Instant::now();
        assert_eq!(c.record(Ok(()), 5, 1, now), Some(Flip { healthy: true }));
        assert_eq!(c.record(fail(), 5, 1, now), Some(Flip { healthy: false }));
        for _ in 0..4 {
            assert_eq!(c.record(Ok(()), 5, 1, now), None);
        }
        assert_eq!(c.record(Ok(()), 5, 1, now), Some(Flip { healthy: true }));
    }

    #[test]
    fn a_watcher_registered_after_a_flip_sees_it_and_dropped_ones_are_forgotten() {
        let c = cell(true);
        let first = counter(&c);
        c.force(false);
        let late = counter(&c);
        assert!(!late.healthy.load(Ordering::Relaxed));
        drop(first);
        c.force(true);
        assert!(late.healthy.load(Ordering::Relaxed));
        assert_eq!(c.watchers(), 1);
    }
}
