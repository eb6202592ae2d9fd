//! [`Backoff`]: the wait between retries of a failing operation, shared by every retry loop of lb
//! (the background service's discovery loop, DNS refreshes, Kubernetes watches).

use std::time::Duration;

use crate::rng::Rng;

/// Exponential backoff with optional jitter: the first wait is `min`, each failure in a row
/// doubles the step up to `max`, and [`Backoff::reset`] (a success) starts over from `min`.
///
/// With a jitter `j` (a fraction in `[0, 1]`), each wait is drawn uniformly from
/// `[step × (1 − j), step]`, so that many clients that failed together do not retry together.
/// `with_jitter(0.5)` is the "equal jitter" of AWS's backoff study: never less than half the step.
/// Without jitter (the default) waits are exact, which keeps schedules testable to the nanosecond.
///
/// Durations saturate: `Duration::MAX` is a valid `max` and the step never overflows.
///
/// ```
/// use std::time::Duration;
/// use lb_core::Backoff;
///
/// let ms = Duration::from_millis;
/// let mut b = Backoff::new(ms(100), ms(500));
/// let waits: Vec<_> = (0..5).map(|_| b.next_delay()).collect();
/// assert_eq!(waits, [ms(100), ms(200), ms(400), ms(500), ms(500)]);
/// b.reset();
/// assert_eq!(b.next_delay(), ms(100));
/// ```
#[derive(Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    step: Duration,
    jitter: f64,
    rng: Rng,
}

impl Backoff {
    /// A backoff from `min` doubling to `max`, without jitter. A `max` below `min` counts as `min`.
    pub fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max: max.max(min),
            step: min,
            jitter: 0.0,
            rng: Rng::new(),
        }
    }

    /// Sets the jitter fraction (clamped to `[0, 1]`; NaN counts as 0).
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        self
    }

    /// The shortest wait.
    pub fn min(&self) -> Duration {
        self.min
    }

    /// The longest wait.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The step the next wait is drawn from (before jitter).
    pub fn step(&self) -> Duration {
        self.step
    }

    /// The wait before the next retry; the step then doubles, up to `max`.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.step;
        self.step = step.saturating_mul(2).min(self.max);
        if self.jitter == 0.0 {
            return step;
        }
        // `unit` is in [0, 1), so the factor is in (1 - jitter, 1]: never more than the step.
        // Rounding can push a huge step past `Duration::MAX` in floating point: keep the step then.
        let factor = 1.0 - self.jitter * self.rng.unit();
        Duration::try_from_secs_f64(step.as_secs_f64() * factor).map_or(step, |d| d.min(step))
    }

    /// Back to the shortest wait, after a success.
    pub fn reset(&mut self) {
        self.step = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_to_the_maximum_and_resets() {
        let mut b = Backoff::new(100 * MS, 800 * MS);
        let waits: Vec<_> = (0..6).map(|_| b.next_delay()).collect();
        assert_eq!(
            waits,
            [100 * MS, 200 * MS, 400 * MS, 800 * MS, 800 * MS, 800 * MS]
        );
        b.reset();
        assert_eq!(b.next_delay(), 100 * MS);
        assert_eq!(b.step(), 200 * MS);
    }

    #[test]
    fn jitter_stays_between_the_floor_and_the_step() {
        let mut b = Backoff::new(1000 * MS, 1000 * MS).with_jitter(0.5);
        let waits: Vec<_> = (0..2_000).map(|_| b.next_delay()).collect();
        assert!(waits.iter().all(|w| (500 * MS..=1000 * MS).contains(w)));
        let low = waits.iter().filter(|w| **w < 750 * MS).count();
        assert!(
            (800..1_200).contains(&low),
            "{low} of 2000 below the middle"
        );
    }

    #[test]
    fn extreme_settings_neither_panic_nor_overflow() {
        let mut b = Backoff::new(Duration::MAX, Duration::MAX).with_jitter(f64::NAN);
        assert_eq!(b.next_delay(), Duration::MAX);
        assert_eq!(b.next_delay(), Duration::MAX);
        let mut zero = Backoff::new(Duration::ZERO, Duration::ZERO).with_jitter(7.0);
        assert_eq!(zero.next_delay(), Duration::ZERO);
        let upside_down = Backoff::new(5 * MS, MS);
        assert_eq!(upside_down.max(), 5 * MS);
        let mut full = Backoff::new(Duration::MAX, Duration::MAX).with_jitter(1.0);
        assert!(full.next_delay() <= Duration::MAX);
    }
}
