//! The load signals of one backend: requests in flight, a peak-EWMA latency estimate, outcome
//! counts (in total and per window). Written by the request lifecycle ([`Pick`](crate::Pick)),
//! read by strategies and outcome policies with a few relaxed atomic loads.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::outcome::Outcome;

/// Outcome counts of one window of [`LoadSignals::window`](crate::LoadSignals::window).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Window {
    /// Requests reported successful.
    pub successes: u32,
    /// Requests reported failed.
    pub failures: u32,
}

impl Window {
    /// A window of `successes` and `failures` (for comparisons and tests).
    pub fn with(self, successes: u32, failures: u32) -> Self {
        Window {
            successes,
            failures,
        }
    }

    /// Requests reported in the window.
    pub fn requests(&self) -> u64 {
        u64::from(self.successes) + u64::from(self.failures)
    }

    /// The share of reported requests that succeeded, `None` when none was reported.
    pub fn success_rate(&self) -> Option<f64> {
        let total = self.requests();
        (total > 0).then(|| f64::from(self.successes) / total as f64)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Load {
    in_flight: AtomicU64,
    requests: AtomicU64,
    failures: AtomicU64,
    cancelled: AtomicU64,
    /// The window being counted.
    current_ok: AtomicU32,
    current_fail: AtomicU32,
    /// The last complete window.
    last_ok: AtomicU32,
    last_fail: AtomicU32,
    /// The peak-EWMA estimate in nanoseconds, as `f64` bits; 0 until the first sample.
    ewma_bits: AtomicU64,
    /// When the estimate was last updated, in [`crate::clock`] nanoseconds.
    ewma_at: AtomicU64,
}

impl Load {
    #[inline]
    pub(crate) fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    #[inline]
    pub(crate) fn start(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// Ends a request started with [`Load::start`].
    #[inline]
    pub(crate) fn finish(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn cancelled(&self) {
        self.cancelled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    pub(crate) fn cancellations(&self) -> u64 {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Counts one reported outcome and feeds its latency to the estimate.
    pub(crate) fn record(&self, outcome: Outcome, latency: Duration, now: u64, decay: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Outcome::Success => {
                self.current_ok.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::Failure => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                self.current_fail.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.sample(latency, now, decay);
    }

    /// Peak EWMA (tower's and linkerd2-proxy's `PeakEwma`, after Finagle): a sample above the
    /// estimate replaces it; otherwise the estimate moves towards the sample by `1 - e^(-Δt/τ)`,
    /// where Δt is the time since the last update and τ the decay. The first sample is the
    /// estimate.
    fn sample(&self, latency: Duration, now: u64, decay: Duration) {
        // Zero bits mean "no sample yet", so a sample is at least one nanosecond.
        let rtt = (crate::clock::saturating_nanos(latency) as f64).max(1.0);
        let tau = nanos_f64(decay);
        let mut old_bits = self.ewma_bits.load(Ordering::Relaxed);
        loop {
            let old = f64::from_bits(old_bits);
            let next = if old_bits == 0 || rtt > old {
                rtt
            } else {
                let elapsed = now.saturating_sub(self.ewma_at.load(Ordering::Relaxed)) as f64;
                let keep = decay_factor(elapsed, tau);
                old * keep + rtt * (1.0 - keep)
            };
            match self.ewma_bits.compare_exchange_weak(
                old_bits,
                next.max(1.0).to_bits(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => old_bits = actual,
            }
        }
        // Two concurrent samples may store their times in either order; the estimate is what
        // matters and the times differ by the time between two reports.
        self.ewma_at.store(now, Ordering::Relaxed);
    }

    /// The estimate decayed to `now` (towards zero, as if the time since the last sample had
    /// passed without a request), or `None` before the first sample.
    #[inline]
    pub(crate) fn estimate_at(&self, now: u64, decay: Duration) -> Option<f64> {
        let bits = self.ewma_bits.load(Ordering::Relaxed);
        if bits == 0 {
            return None;
        }
        let elapsed = now.saturating_sub(self.ewma_at.load(Ordering::Relaxed)) as f64;
        Some(f64::from_bits(bits) * decay_factor(elapsed, nanos_f64(decay)))
    }

    /// The estimate as of its last update, or `None` before the first sample.
    pub(crate) fn last_estimate(&self) -> Option<Duration> {
        let bits = self.ewma_bits.load(Ordering::Relaxed);
        (bits != 0).then(|| Duration::from_secs_f64(f64::from_bits(bits) / 1e9))
    }

    /// Closes the current window: it becomes the last complete one, and counting starts over.
    pub(crate) fn rotate_window(&self) {
        self.last_ok.store(
            self.current_ok.swap(0, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        self.last_fail.store(
            self.current_fail.swap(0, Ordering::Relaxed),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn last_window(&self) -> Window {
        Window {
            successes: self.last_ok.load(Ordering::Relaxed),
            failures: self.last_fail.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn current_window(&self) -> Window {
        Window {
            successes: self.current_ok.load(Ordering::Relaxed),
            failures: self.current_fail.load(Ordering::Relaxed),
        }
    }
}

/// `d` in nanoseconds as a float, without `as_nanos`' u128 (whose conversion to f64 is a
/// software routine on the pick path).
#[inline]
pub(crate) fn nanos_f64(d: Duration) -> f64 {
    d.as_secs() as f64 * 1e9 + f64::from(d.subsec_nanos())
}

/// `e^(-elapsed/tau)`: the share of the old estimate kept after `elapsed`. A zero decay keeps
/// nothing after any time at all, and nothing is kept of an estimate older than 50 τ.
#[inline]
fn decay_factor(elapsed: f64, tau: f64) -> f64 {
    if elapsed <= 0.0 {
        1.0
    } else if tau <= 0.0 || elapsed >= 50.0 * tau {
        0.0
    } else {
        (-elapsed / tau).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanos_f64_agrees_with_as_nanos() {
        for d in [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_millis(30),
            Duration::from_secs(10),
            Duration::new(123_456, 999_999_999),
        ] {
            assert_eq!(nanos_f64(d), d.as_nanos() as f64, "{d:?}");
        }
    }

    const MS: u64 = 1_000_000;
    const TAU: Duration = Duration::from_secs(10);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_peak_replaces_the_estimate_and_lower_samples_decay_into_it() {
        let l = Load::default();
        assert_eq!(l.estimate_at(0, TAU), None);
        l.record(Outcome::Success, ms(20), 0, TAU);
        assert_eq!(l.estimate_at(0, TAU), Some(20.0 * MS as f64));
        l.record(Outcome::Success, ms(100), 0, TAU);
        assert_eq!(
            l.estimate_at(0, TAU),
            Some(100.0 * MS as f64),
            "a peak wins at once"
        );
        // 10 s (one τ) later a 10 ms sample keeps e^-1 of the old estimate.
        let t = 10_000 * MS;
        l.record(Outcome::Success, ms(10), t, TAU);
        let keep = (-1.0f64).exp();
        let want = 100.0 * MS as f64 * keep + 10.0 * MS as f64 * (1.0 - keep);
        let got = l.estimate_at(t, TAU).unwrap();
        assert!((got - want).abs() < 1.0, "{got} vs {want}");
        // Read 20 s later, it has decayed by e^-2 towards zero.
        let later = l.estimate_at(t + 20_000 * MS, TAU).unwrap();
        assert!((later - want * (-2.0f64).exp()).abs() < 1.0);
        assert_eq!(l.last_estimate().unwrap().as_nanos() as f64, got.round());
    }

    #[test]
    fn counts_outcomes_in_total_and_per_window() {
        let l = Load::default();
        for o in [Outcome::Success, Outcome::Failure, Outcome::Success] {
            l.record(o, ms(1), 0, TAU);
        }
        assert_eq!((l.requests(), l.failures()), (3, 1));
        assert_eq!(
            l.current_window(),
            Window {
                successes: 2,
                failures: 1
            }
        );
        assert_eq!(l.last_window(), Window::default());
        l.rotate_window();
        assert_eq!(l.last_window().success_rate(), Some(2.0 / 3.0));
        assert_eq!(l.current_window().success_rate(), None);
    }

    #[test]
    fn extreme_latencies_and_decays_stay_finite() {
        let l = Load::default();
        l.record(Outcome::Success, Duration::ZERO, 0, Duration::ZERO);
        assert_eq!(l.estimate_at(0, Duration::ZERO), Some(1.0));
        l.record(Outcome::Success, Duration::MAX, 5, Duration::MAX);
        assert!(l.estimate_at(u64::MAX, Duration::MAX).unwrap().is_finite());
        assert_eq!(l.estimate_at(u64::MAX, Duration::ZERO), Some(0.0));
        l.start();
        l.start();
        l.finish();
        assert_eq!(l.in_flight(), 1);
    }
}
