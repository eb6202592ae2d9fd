//! The readiness word of a backend: health, administrative state and ejection in one `u32`, so
//! that `select` decides readiness with one atomic load.

use std::sync::atomic::{AtomicU32, Ordering};

const HEALTHY: u32 = 1;
const ENABLED: u32 = 1 << 1;
const DRAINING: u32 = 1 << 2;
const ADMIN_MASK: u32 = ENABLED | DRAINING;
const READY: u32 = HEALTHY | ENABLED;
/// Ejected by an outcome policy (passive health); cleared by the first select that meets the
/// backend after its ejection ended.
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

/// What one load of the word says about readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// Healthy, enabled, not ejected.
    Ready,
    /// Healthy and enabled, kept out only by an ejection (which may have ended).
    Ejected,
    /// Unhealthy, draining or disabled.
    Out,
}

/// The readiness word.
#[derive(Debug)]
pub(crate) struct Flags(AtomicU32);

impl Flags {
    pub(crate) fn new(healthy: bool, enablement: Enablement) -> Self {
        let health = if healthy { HEALTHY } else { 0 };
        Flags(AtomicU32::new(health | enablement.bits()))
    }

    /// One relaxed load: the select path.
    #[inline]
    pub(crate) fn readiness(&self) -> Readiness {
        Self::classify(self.0.load(Ordering::Relaxed))
    }

    /// Whether the word says ready, and whether it says kept out only by an ejection: the
    /// select path's one load, as two comparisons.
    #[inline]
    pub(crate) fn ready_or_only_ejected(&self) -> (bool, bool) {
        let f = self.0.load(Ordering::Relaxed) & READINESS;
        (f == READY, f == READY | EJECTED)
    }

    #[inline]
    fn classify(flags: u32) -> Readiness {
        match flags & READINESS {
            READY => Readiness::Ready,
            f if f == READY | EJECTED => Readiness::Ejected,
            _ => Readiness::Out,
        }
    }

    /// The word with acquire ordering, as a token for [`Flags::readmit_seen`]: an ejection's end
    /// stored before its flag was set is visible after this load.
    pub(crate) fn seen(&self) -> Seen {
        Seen(self.0.load(Ordering::Acquire))
    }

    /// Whether the ejected flag is set (acquire: the ejection's end is visible).
    pub(crate) fn is_ejected(&self) -> bool {
        self.0.load(Ordering::Acquire) & EJECTED != 0
    }

    /// The readiness of the word with acquire ordering.
    pub(crate) fn readiness_acquire(&self) -> Readiness {
        Self::classify(self.0.load(Ordering::Acquire))
    }

    pub(crate) fn is_healthy(&self) -> bool {
        self.0.load(Ordering::Relaxed) & HEALTHY != 0
    }

    pub(crate) fn enablement(&self) -> Enablement {
        Enablement::from_bits(self.0.load(Ordering::Relaxed))
    }

    pub(crate) fn set_enablement(&self, enablement: Enablement) {
        let bits = enablement.bits();
        self.update(Ordering::AcqRel, |f| (f & !ADMIN_MASK) | bits);
    }

    pub(crate) fn set_healthy(&self, healthy: bool) {
        if healthy {
            self.0.fetch_or(HEALTHY, Ordering::AcqRel);
        } else {
            self.0.fetch_and(!HEALTHY, Ordering::AcqRel);
        }
    }

    /// Sets the ejected flag and counts the ejection; release ordering publishes the ejection's
    /// end stored before.
    pub(crate) fn set_ejected(&self) {
        self.update(Ordering::Release, |f| {
            (f | EJECTED).wrapping_add(EJECTION_ONE)
        });
    }

    /// Clears the ejection seen in `seen` (which has ended) unless the backend was ejected again
    /// since: that ejection stands. Returns whether it cleared it, and whether the backend is
    /// then ready.
    pub(crate) fn readmit_seen(&self, seen: Seen) -> (bool, bool) {
        let seen = seen.0;
        let mut current = seen;
        loop {
            if current & EJECTED == 0 || (current ^ seen) & EJECTION_COUNT != 0 {
                // Readmitted by another select, or ejected again.
                return (false, current & READINESS == READY);
            }
            match self.0.compare_exchange_weak(
                current,
                current & !EJECTED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return (true, current & (READY | DRAINING) == READY),
                // Health or enablement changed meanwhile (or a spurious failure): try again.
                Err(actual) => current = actual,
            }
        }
    }

    /// Clears any ejection, whatever its end. Returns whether one was set.
    pub(crate) fn clear_ejected(&self) -> bool {
        self.0.fetch_and(!EJECTED, Ordering::AcqRel) & EJECTED != 0
    }

    fn update(&self, order: Ordering, f: impl Fn(u32) -> u32) {
        // The closure always returns Some, so fetch_update cannot fail and carries nothing.
        let _ = self
            .0
            .fetch_update(order, Ordering::Relaxed, |x| Some(f(x)));
    }
}

/// The word as one load saw it (see [`Flags::seen`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seen(u32);

impl Seen {
    pub(crate) fn is_ejected(self) -> bool {
        self.0 & EJECTED != 0
    }

    pub(crate) fn readiness(self) -> Readiness {
        Flags::classify(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_needs_health_and_enablement_and_no_ejection() {
        let f = Flags::new(true, Enablement::Enabled);
        assert_eq!(f.readiness(), Readiness::Ready);
        for e in [Enablement::Draining, Enablement::Disabled] {
            f.set_enablement(e);
            assert_eq!(f.readiness(), Readiness::Out);
            assert_eq!(f.enablement(), e);
            assert!(f.is_healthy());
        }
        f.set_enablement(Enablement::Enabled);
        f.set_ejected();
        assert_eq!(f.readiness(), Readiness::Ejected);
        f.set_healthy(false);
        assert_eq!(f.readiness(), Readiness::Out, "unhealthy wins over ejected");
        f.set_healthy(true);
        assert!(f.clear_ejected());
        assert!(!f.clear_ejected());
        assert_eq!(f.readiness(), Readiness::Ready);
    }

    #[test]
    fn a_readmission_decided_on_one_ejection_never_clears_the_next() {
        let f = Flags::new(true, Enablement::Enabled);
        f.set_ejected();
        let seen = f.seen();
        f.set_ejected(); // failures of requests still in flight eject it again
        assert_eq!(f.readmit_seen(seen), (false, false));
        assert!(f.is_ejected());
        let seen = f.seen();
        assert_eq!(f.readmit_seen(seen), (true, true));
        assert!(!f.is_ejected());
    }
}
