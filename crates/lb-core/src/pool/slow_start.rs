//! [`SlowStart`]: the settings of slow start and Envoy's weight factor.

use std::time::Duration;

/// Slow start: a backend that becomes ready takes a growing share of its weight's traffic
/// instead of all of it at once. See
/// [`LoadBalancer::set_slow_start`](crate::LoadBalancer::set_slow_start).
///
/// The semantics and defaults are Envoy's (`slow_start_config`): a backend that becomes ready
/// (new in the set, back from unhealthy, or readmitted after an ejection) is picked with the
/// weight `weight × max(min_weight_percent / 100, time_factor^(1 / aggression))`, where
/// `time_factor = max(t, 1 s) / window` and `t` is the time since it became ready, until the
/// window ends. The backends of a load balancer's first set do not ramp (they start together).
///
/// Strategies that pick by weight honour it (round robin, random, least request, Peak EWMA):
/// lb-core accepts a ramping backend with the probability of its weight factor and otherwise asks
/// the strategy for another pick, so no selector is rebuilt while a backend ramps, and a backend
/// that is not ramping costs nothing more (its readiness word says so in the same load). Hashing
/// strategies do not ramp: a key keeps its backend.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct SlowStart {
    /// How long a backend ramps. Envoy has no default; lb's is 30 s.
    pub window: Duration,
    /// The share of its weight a backend starts with, in percent (at most 100). Default: 10.
    pub min_weight_percent: u8,
    /// How fast the weight grows: 1.0 is linear; larger values grow faster early. Default: 1.0.
    /// Values that are not finite and positive count as 1.0.
    pub aggression: f64,
}

impl Default for SlowStart {
    fn default() -> Self {
        SlowStart {
            window: Duration::from_secs(30),
            min_weight_percent: 10,
            aggression: 1.0,
        }
    }
}

impl SlowStart {
    /// A slow start over `window`, other settings default.
    pub fn over(window: Duration) -> Self {
        SlowStart {
            window,
            ..Self::default()
        }
    }

    /// Sets [`SlowStart::min_weight_percent`].
    pub fn with_min_weight_percent(mut self, percent: u8) -> Self {
        self.min_weight_percent = percent;
        self
    }

    /// Sets [`SlowStart::aggression`].
    pub fn with_aggression(mut self, aggression: f64) -> Self {
        self.aggression = aggression;
        self
    }

    /// The share of its weight a backend ramping for `elapsed` gets: Envoy's formula.
    pub fn weight_factor(&self, elapsed: Duration) -> f64 {
        let window = self.window.as_secs_f64();
        if window <= 0.0 || elapsed >= self.window {
            return 1.0;
        }
        let aggression = if self.aggression.is_finite() && self.aggression > 0.0 {
            self.aggression
        } else {
            1.0
        };
        let time_factor = elapsed.max(Duration::from_secs(1)).as_secs_f64() / window;
        let min = f64::from(self.min_weight_percent.min(100)) / 100.0;
        time_factor.powf(1.0 / aggression).clamp(min, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn slow_start_follows_envoys_formula() {
        // Window 100 s, aggression 1: linear from 10 % (the floor holds until 10 s).
        let s = SlowStart::over(100 * S);
        assert_eq!(s.weight_factor(Duration::ZERO), 0.1);
        assert_eq!(s.weight_factor(5 * S), 0.1);
        assert!((s.weight_factor(25 * S) - 0.25).abs() < 1e-12);
        assert!((s.weight_factor(50 * S) - 0.5).abs() < 1e-12);
        assert_eq!(s.weight_factor(100 * S), 1.0);
        // Aggression 2: the square root of the time factor.
        let s = s.with_aggression(2.0);
        assert!((s.weight_factor(25 * S) - 0.5).abs() < 1e-12);
        assert!((s.weight_factor(50 * S) - 0.5f64.sqrt()).abs() < 1e-12);
        // max(t, 1 s): at 0 the time factor is 1 s / window.
        let s = SlowStart::over(4 * S).with_min_weight_percent(0);
        assert!((s.weight_factor(Duration::ZERO) - 0.25).abs() < 1e-12);
        // Nonsense settings neither panic nor leave [0, 1].
        let s = SlowStart::over(Duration::ZERO).with_aggression(f64::NAN);
        assert_eq!(s.weight_factor(S), 1.0);
        let s = SlowStart::over(10 * S)
            .with_aggression(-3.0)
            .with_min_weight_percent(250);
        assert_eq!(s.weight_factor(S), 1.0);
    }
}
