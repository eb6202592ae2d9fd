//! The readiness word of a backend: health, administrative state, ejection, probation and slow
//! start in one `u64` with the backend's weight, so that `select` decides readiness with one
//! atomic load and every change knows exactly what it adds to or removes from its pool's sums.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::pool::Contribution;

const HEALTHY: u64 = 1;
const ENABLED: u64 = 1 << 1;
const DRAINING: u64 = 1 << 2;
const ADMIN_MASK: u64 = ENABLED | DRAINING;
const READY: u64 = HEALTHY | ENABLED;
/// Kept out by an outcome policy until its ejection ends.
const EJECTED: u64 = 1 << 3;
/// Readmitted on probation: one probe request goes to it; others do not until the probe
/// succeeds (or its time runs out).
const PROBING: u64 = 1 << 4;
/// Ready and ramping up (slow start): picked with the probability of its weight factor.
const RAMPING: u64 = 1 << 5;
/// New and waiting for its first successful probe
/// ([`InitialHealth::Unhealthy`](crate::InitialHealth::Unhealthy)): not yet in service, so not
/// counted in the pool and not picked even in panic mode.
const PENDING: u64 = 1 << 6;
/// A standby (weight 0 in a set with positive weights): counted in the pool's standby tier.
const STANDBY: u64 = 1 << 7;
/// The bits the fast path compares: exactly `READY` is ready with nothing more to decide.
const READINESS: u64 = READY | DRAINING | EJECTED | PROBING | RAMPING;
/// Ejections and probes are counted in these bits (wrapping), so that a decision taken on one
/// (a readmission, a probe) can never apply to the next: each sets its flag and adds one here in
/// the same atomic operation.
const COUNT_ONE: u64 = 1 << 8;
const COUNT_MASK: u64 = ((1 << 24) - 1) & !(COUNT_ONE - 1);
/// The partition of the set (priority level and zone group) the pool counts the backend in.
const PARTITION_SHIFT: u32 = 24;
const PARTITION_MASK: u64 = 0xff << PARTITION_SHIFT;
/// The backend's weight in its set (for the pool's sums); 0 while it is in no published set.
const WEIGHT_SHIFT: u32 = 32;

/// `w` with its count of ejections and probes one higher, wrapping within its bits.
fn bump(w: u64) -> u64 {
    (w & !COUNT_MASK) | ((w & COUNT_MASK).wrapping_add(COUNT_ONE) & COUNT_MASK)
}

/// The administrative state of a backend, set by discovery or by the application.
///
/// Only [`Enablement::Enabled`] backends are picked. A draining backend stays in the set (for
/// work already sent to it, and for observability) but receives no new picks; a disabled one is
/// the same for selection purposes but says that the backend is not serving at all. Panic mode
/// never picks either.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "lowercase")
)]
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
    fn bits(self) -> u64 {
        match self {
            Enablement::Enabled => ENABLED,
            Enablement::Draining => DRAINING,
            Enablement::Disabled => 0,
        }
    }

    fn from_bits(word: u64) -> Self {
        match word & ADMIN_MASK {
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

/// One load of the word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Word(u64);

impl Word {
    /// Healthy, enabled, nothing else to decide: the fast path.
    #[inline]
    pub(crate) fn is_plainly_ready(self) -> bool {
        self.0 & READINESS == READY
    }

    /// Healthy and enabled (not draining): what a policy (ejection, probation, slow start) may
    /// still keep out or thin.
    #[inline]
    pub(crate) fn is_up(self) -> bool {
        self.0 & (READY | DRAINING) == READY
    }

    /// Enabled, not draining, and in service (not waiting for its first successful probe),
    /// whatever the health: what panic mode picks.
    #[inline]
    pub(crate) fn is_enabled(self) -> bool {
        self.0 & (ADMIN_MASK | PENDING) == ENABLED
    }

    pub(crate) fn is_healthy(self) -> bool {
        self.0 & HEALTHY != 0
    }

    pub(crate) fn is_ejected(self) -> bool {
        self.0 & EJECTED != 0
    }

    pub(crate) fn is_probing(self) -> bool {
        self.0 & PROBING != 0
    }

    /// Ejected or probing: kept out by an outcome policy.
    pub(crate) fn is_held_out(self) -> bool {
        self.0 & (EJECTED | PROBING) != 0
    }

    pub(crate) fn is_ramping(self) -> bool {
        self.0 & RAMPING != 0
    }

    /// Up and kept out by nothing: ready (ramping or not).
    pub(crate) fn is_ready(self) -> bool {
        self.is_up() && !self.is_held_out()
    }

    pub(crate) fn enablement(self) -> Enablement {
        Enablement::from_bits(self.0)
    }

    pub(crate) fn weight(self) -> u32 {
        (self.0 >> WEIGHT_SHIFT) as u32
    }

    /// Whether the word already counts `weight` in `partition`, in the standby tier or not.
    pub(crate) fn is_placed(self, weight: u32, standby: bool, partition: u8) -> bool {
        self.weight() == weight
            && (self.0 & STANDBY != 0) == standby
            && self.partition() == partition
    }

    pub(crate) fn partition(self) -> u8 {
        ((self.0 & PARTITION_MASK) >> PARTITION_SHIFT) as u8
    }

    /// What this word adds to its pool: its weight when enabled, and again when ready, in the
    /// active or the standby tier.
    pub(crate) fn contribution(self) -> Contribution {
        let w = i64::from(self.weight());
        let enabled = if self.is_enabled() { w } else { 0 };
        let ready = if self.is_ready() { w } else { 0 };
        let up = if self.is_up() && self.0 & PENDING == 0 {
            w
        } else {
            0
        };
        let partition = self.partition();
        let ready_hosts = i64::from(ready > 0);
        if self.0 & STANDBY != 0 {
            Contribution {
                partition,
                standby_enabled: enabled,
                standby_ready: ready,
                up,
                ready_hosts,
                ..Contribution::default()
            }
        } else {
            Contribution {
                partition,
                enabled,
                ready,
                up,
                ready_hosts,
                ..Contribution::default()
            }
        }
    }
}

/// The readiness word.
#[derive(Debug)]
pub(crate) struct Flags(AtomicU64);

impl Flags {
    /// A word for a backend in `healthy` health, `pending` its first successful probe.
    pub(crate) fn new(healthy: bool, pending: bool, enablement: Enablement) -> Self {
        let health = if healthy { HEALTHY } else { 0 };
        let pending = if pending && !healthy { PENDING } else { 0 };
        Flags(AtomicU64::new(health | pending | enablement.bits()))
    }

    /// One relaxed load: the select path.
    #[inline]
    pub(crate) fn load(&self) -> Word {
        Word(self.0.load(Ordering::Relaxed))
    }

    /// One load with acquire ordering: the times stored before a flag was set are visible.
    pub(crate) fn load_acquire(&self) -> Word {
        Word(self.0.load(Ordering::Acquire))
    }

    /// Changes the word with `f` (retried on contention); returns the words before and after.
    fn update(&self, order: Ordering, f: impl Fn(u64) -> u64) -> (Word, Word) {
        let mut current = self.0.load(Ordering::Relaxed);
        loop {
            let next = f(current);
            match self
                .0
                .compare_exchange_weak(current, next, order, Ordering::Relaxed)
            {
                Ok(_) => return (Word(current), Word(next)),
                Err(actual) => current = actual,
            }
        }
    }

    pub(crate) fn set_enablement(&self, enablement: Enablement) -> (Word, Word) {
        let bits = enablement.bits();
        self.update(Ordering::AcqRel, |w| (w & !ADMIN_MASK) | bits)
    }

    /// Sets the health (turning healthy ends the wait for a first successful probe).
    pub(crate) fn set_healthy(&self, healthy: bool) -> (Word, Word) {
        self.update(Ordering::AcqRel, |w| {
            if healthy {
                (w | HEALTHY) & !PENDING
            } else {
                w & !HEALTHY
            }
        })
    }

    /// Sets the weight the pool counts (0: in no published set), the tier and the partition.
    pub(crate) fn set_weight(&self, weight: u32, standby: bool, partition: u8) -> (Word, Word) {
        let tier = if standby { STANDBY } else { 0 };
        let part = u64::from(partition) << PARTITION_SHIFT;
        self.update(Ordering::AcqRel, |w| {
            (w & ((1 << WEIGHT_SHIFT) - 1) & !STANDBY & !PARTITION_MASK)
                | tier
                | part
                | (u64::from(weight) << WEIGHT_SHIFT)
        })
    }

    /// Starts ramping (a backend new in a set).
    pub(crate) fn set_ramping(&self) -> (Word, Word) {
        self.update(Ordering::AcqRel, |w| w | RAMPING)
    }

    /// Ends the ramp. (A ramp has no count: ending one that has just started again ends it
    /// early, once; the next transition to ready ramps as usual.)
    pub(crate) fn end_ramp(&self) -> (Word, Word) {
        self.update(Ordering::AcqRel, |w| w & !RAMPING)
    }

    /// Ejects: sets the ejected flag (clearing probation) and counts it; release ordering
    /// publishes the ejection's end stored before.
    pub(crate) fn set_ejected(&self) -> (Word, Word) {
        self.update(Ordering::Release, |w| {
            bump((w | EJECTED) & !PROBING & !RAMPING)
        })
    }

    /// Claims the backend seen as `seen` (ejected or probing, its time over) for one probe
    /// request: it becomes probing, counted, unless the word changed since (another select took
    /// the probe, or a newer ejection came): then `None`.
    pub(crate) fn claim_probe(&self, seen: Word) -> Option<(Word, Word)> {
        let next = bump((seen.0 & !EJECTED) | PROBING);
        self.0
            .compare_exchange(seen.0, next, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| (seen, Word(next)))
    }

    /// Readmits the backend seen as `seen` (ejected, its time over) without probation, unless
    /// the word changed since (another select readmitted it, or a newer ejection came).
    pub(crate) fn readmit_seen(&self, seen: Word) -> Option<(Word, Word)> {
        let next = seen.0 & !EJECTED & !PROBING;
        self.0
            .compare_exchange(seen.0, next, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| (seen, Word(next)))
    }

    /// Ends probation after a successful probe (or any ejection: the policy was turned off).
    pub(crate) fn readmit(&self) -> (Word, Word) {
        self.update(Ordering::AcqRel, |w| w & !EJECTED & !PROBING)
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
            ready_hosts: i64::from(ready > 0),
            ..Contribution::default()
        }
    }

    #[test]
    fn readiness_needs_health_and_enablement_and_no_policy() {
        let f = Flags::new(true, false, Enablement::Enabled);
        f.set_weight(3, false, 0);
        assert!(f.load().is_plainly_ready());
        assert_eq!(f.load().contribution(), active(3, 3));
        for e in [Enablement::Draining, Enablement::Disabled] {
            f.set_enablement(e);
            assert!(!f.load().is_ready() && !f.load().is_enabled());
            assert_eq!(f.load().enablement(), e);
            assert_eq!(f.load().contribution(), Contribution::default());
        }
        f.set_enablement(Enablement::Enabled);
        f.set_ejected();
        assert!(!f.load().is_ready() && f.load().is_up() && f.load().is_held_out());
        let held_out = f.load().contribution();
        assert_eq!(
            (held_out.enabled, held_out.ready, held_out.up),
            (3, 0, 3),
            "a last resort"
        );
        f.set_healthy(false);
        assert!(!f.load().is_up(), "unhealthy wins over ejected");
        f.set_healthy(true);
        f.readmit();
        assert!(f.load().is_plainly_ready());
        assert_eq!(f.load().weight(), 3);
    }

    #[test]
    fn a_probe_or_readmission_decided_on_one_ejection_never_touches_the_next() {
        let f = Flags::new(true, false, Enablement::Enabled);
        f.set_ejected();
        let seen = f.load_acquire();
        f.set_ejected(); // failures of requests still in flight eject it again
        assert_eq!(f.claim_probe(seen), None);
        assert_eq!(f.readmit_seen(seen), None);
        assert!(f.load().is_ejected());
        let seen = f.load_acquire();
        let (_, probing) = f.claim_probe(seen).unwrap();
        assert!(probing.is_probing() && !probing.is_ready());
        assert_eq!(f.claim_probe(seen), None, "one probe per claim");
        let again = f.load_acquire();
        assert!(
            f.claim_probe(again).is_some(),
            "a probe whose time ran out is claimed again"
        );
    }

    #[test]
    fn the_count_wraps_without_touching_the_weight_or_the_flags() {
        let w = (7u64 << WEIGHT_SHIFT) | (5 << PARTITION_SHIFT) | COUNT_MASK | READY;
        let next = bump(w);
        assert_eq!(Word(next).weight(), 7);
        assert_eq!(Word(next).partition(), 5);
        assert_eq!(next & COUNT_MASK, 0);
        assert!(Word(next).is_plainly_ready());
    }

    #[test]
    fn a_backend_waiting_for_its_first_probe_is_not_in_service() {
        let f = Flags::new(false, true, Enablement::Enabled);
        f.set_weight(4, false, 0);
        assert!(!f.load().is_enabled(), "panic mode must not pick it");
        assert_eq!(f.load().contribution(), Contribution::default());
        f.set_healthy(true);
        assert_eq!(f.load().contribution(), active(4, 4));
        f.set_healthy(false);
        assert!(f.load().is_enabled(), "in service once it has been healthy");
    }

    #[test]
    fn a_ramp_is_a_flag_an_ejection_clears() {
        let f = Flags::new(true, false, Enablement::Enabled);
        f.set_ramping();
        assert!(f.load().is_ramping() && f.load().is_ready() && !f.load().is_plainly_ready());
        f.end_ramp();
        assert!(f.load().is_plainly_ready());
        f.set_ramping();
        f.set_ejected();
        assert!(!f.load().is_ramping(), "an ejection ends a ramp");
    }
}
