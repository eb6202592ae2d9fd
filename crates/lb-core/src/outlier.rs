//! Outlier detection by statistics over an outcome window: Envoy's *success-rate* and
//! *failure-percentage* ejection, as pure functions over the windows of a set. The policy that
//! acts on them (cap, ejection time, never the last ready backend) is passive health's
//! (`passive.rs`).

use crate::state::Window;

/// Success-rate ejection (Envoy's `success_rate_*` settings, with Envoy's defaults): at the end
/// of each outcome window, among the backends that received at least `request_volume` requests
/// in it (there must be at least `minimum_hosts` of them), a backend whose success rate is below
/// `mean − stdev_factor × stdev` of their success rates is ejected.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct SuccessRateEjection {
    /// Backends with enough requests needed for the statistics to mean anything. Default: 5.
    pub minimum_hosts: u32,
    /// Requests in the window a backend needs to be judged. Default: 100.
    pub request_volume: u32,
    /// How many standard deviations below the mean is an outlier. Default: 1.9 (Envoy's
    /// `success_rate_stdev_factor` of 1900).
    pub stdev_factor: f64,
}

impl Default for SuccessRateEjection {
    fn default() -> Self {
        SuccessRateEjection {
            minimum_hosts: 5,
            request_volume: 100,
            stdev_factor: 1.9,
        }
    }
}

/// Failure-percentage ejection (Envoy's `failure_percentage_*` settings, with Envoy's defaults):
/// at the end of each outcome window, a backend that received at least `request_volume`
/// requests in it and failed at least `threshold` percent of them is ejected, provided at least
/// `minimum_hosts` backends received that many requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailurePercentageEjection {
    /// The failure percentage that ejects. Default: 85.
    pub threshold: u8,
    /// Backends with enough requests needed before any is judged. Default: 5.
    pub minimum_hosts: u32,
    /// Requests in the window a backend needs to be judged. Default: 50.
    pub request_volume: u32,
}

impl Default for FailurePercentageEjection {
    fn default() -> Self {
        FailurePercentageEjection {
            threshold: 85,
            minimum_hosts: 5,
            request_volume: 50,
        }
    }
}

/// The backends of `windows` (index, last window) that success-rate ejection finds outliers,
/// with the reason.
pub(crate) fn by_success_rate(
    windows: &[(usize, Window)],
    config: &SuccessRateEjection,
) -> Vec<(usize, String)> {
    let judged: Vec<(usize, f64)> = windows
        .iter()
        .filter(|(_, w)| w.requests() >= u64::from(config.request_volume.max(1)))
        .filter_map(|&(i, w)| w.success_rate().map(|r| (i, r * 100.0)))
        .collect();
    if judged.is_empty() || judged.len() < config.minimum_hosts as usize {
        return Vec::new();
    }
    let n = judged.len() as f64;
    let mean = judged.iter().map(|(_, r)| r).sum::<f64>() / n;
    let variance = judged.iter().map(|(_, r)| (r - mean).powi(2)).sum::<f64>() / n;
    let factor = if config.stdev_factor.is_finite() {
        config.stdev_factor
    } else {
        1.9
    };
    let limit = mean - factor * variance.sqrt();
    judged
        .into_iter()
        .filter(|&(_, rate)| rate < limit)
        .map(|(i, rate)| {
            (
                i,
                format!(
                    "success rate {rate:.1}% below {limit:.1}% (mean {mean:.1}%, stdev {:.2})",
                    variance.sqrt()
                ),
            )
        })
        .collect()
}

/// The backends of `windows` that failure-percentage ejection finds outliers, with the reason.
pub(crate) fn by_failure_percentage(
    windows: &[(usize, Window)],
    config: &FailurePercentageEjection,
) -> Vec<(usize, String)> {
    let judged: Vec<(usize, Window)> = windows
        .iter()
        .copied()
        .filter(|(_, w)| w.requests() >= u64::from(config.request_volume.max(1)))
        .collect();
    if judged.len() < config.minimum_hosts as usize {
        return Vec::new();
    }
    let threshold = u64::from(config.threshold.min(100));
    judged
        .into_iter()
        .filter(|(_, w)| u64::from(w.failures) * 100 >= threshold * w.requests())
        .map(|(i, w)| {
            let percent = u64::from(w.failures) * 100 / w.requests();
            (i, format!("{percent}% of {} requests failed", w.requests()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(successes: u32, failures: u32) -> Window {
        Window::default().with(successes, failures)
    }

    #[test]
    fn success_rate_finds_exactly_the_outlier_of_ten() {
        // Nine at 99 %, one at 70 %.
        let mut windows: Vec<_> = (0..9).map(|i| (i, window(990, 10))).collect();
        windows.push((9, window(700, 300)));
        let out = by_success_rate(&windows, &SuccessRateEjection::default());
        assert_eq!(out.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [9]);
        assert!(
            out[0].1.starts_with("success rate 70.0% below"),
            "{}",
            out[0].1
        );
        // All equal: nobody is an outlier.
        let equal: Vec<_> = (0..10).map(|i| (i, window(950, 50))).collect();
        assert!(by_success_rate(&equal, &SuccessRateEjection::default()).is_empty());
    }

    #[test]
    fn success_rate_needs_enough_backends_with_enough_requests() {
        let mut windows: Vec<_> = (0..4).map(|i| (i, window(990, 10))).collect();
        windows.push((4, window(0, 1000)));
        // Five judged: the failing one is out.
        assert_eq!(
            by_success_rate(&windows, &SuccessRateEjection::default()).len(),
            1
        );
        // One of them below the request volume: four judged, too few.
        windows[0].1 = window(99, 0);
        assert!(by_success_rate(&windows, &SuccessRateEjection::default()).is_empty());
    }

    #[test]
    fn failure_percentage_ejects_at_the_threshold_with_enough_requests() {
        let mut windows: Vec<_> = (0..5).map(|i| (i, window(50, 0))).collect();
        windows.push((5, window(15, 85)));
        windows.push((6, window(16, 84)));
        windows.push((7, window(0, 49)));
        let out = by_failure_percentage(&windows, &FailurePercentageEjection::default());
        assert_eq!(out.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [5]);
        assert_eq!(out[0].1, "85% of 100 requests failed");
    }
}
