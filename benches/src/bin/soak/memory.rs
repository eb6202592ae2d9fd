//! Memory: the bytes the heap holds (counted by the global allocator) and resident memory (from
//! `/proc/self/status`, Linux), sampled on a thread of their own, and their trends after
//! warm-up as least-squares slopes.
//!
//! The heap's count is what judges a leak: it is what the program holds. Resident memory also
//! holds what the system allocator keeps after a free (glibc's arenas grow by steps under the
//! many large sets built and dropped on several threads, and shrink rarely), so its trend over
//! a few minutes says as much about the allocator as about the program; it is reported beside.

use std::alloc::System;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cap::Cap;

#[global_allocator]
static HEAP: Cap<System> = Cap::new(System, usize::MAX);

/// The most bytes the heap has held at once.
pub(crate) fn peak_heap() -> usize {
    HEAP.max_allocated()
}

/// How often memory is read.
const EVERY: Duration = Duration::from_millis(100);

/// One reading: when, bytes the heap holds, resident bytes (when known).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    pub(crate) at: Instant,
    pub(crate) heap: f64,
    pub(crate) rss: Option<f64>,
}

/// A field of `/proc/self/status` in bytes (`VmRSS`, `VmHWM`); `None` where there is no such
/// file (not Linux).
pub(crate) fn status_bytes(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line
        .trim_start_matches(field)
        .trim_start_matches(':')
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Samples memory until `stop` is set.
pub(crate) fn sample(stop: Arc<AtomicBool>) -> JoinHandle<Vec<Sample>> {
    std::thread::spawn(move || {
        let mut samples = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            samples.push(Sample {
                at: Instant::now(),
                heap: HEAP.allocated() as f64,
                rss: status_bytes("VmRSS").map(|b| b as f64),
            });
            std::thread::sleep(EVERY);
        }
        samples
    })
}

/// The lowest value of each whole `period` seconds of a series of (seconds, bytes) between
/// `from` and `until` seconds, at the middle of its period.
///
/// A period is one fault cycle, so that every point is taken at the same phase of the run (its
/// quietest): what stays held, without the sets built and dropped many times a second, which
/// make a single sample jump by several percent either way. A leak raises that floor; churn
/// does not.
pub(crate) fn floors(
    samples: &[(f64, f64)],
    from: f64,
    until: f64,
    period: f64,
) -> Vec<(f64, f64)> {
    let periods = ((until - from) / period).floor();
    let end = from + periods.max(0.0) * period;
    let mut floors: Vec<(f64, f64)> = Vec::new();
    for &(t, y) in samples.iter().filter(|(t, _)| *t >= from && *t < end) {
        let bucket = ((t - from) / period).floor();
        let mid = from + (bucket + 0.5) * period;
        match floors.last_mut() {
            Some((at, low)) if *at == mid => *low = low.min(y),
            _ => floors.push((mid, y)),
        }
    }
    floors
}

/// The least-squares slope of `points` in percent of their mean per minute, and the mean;
/// `None` with fewer than two points.
pub(crate) fn slope(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_t = points.iter().map(|(t, _)| t).sum::<f64>() / n;
    let mean_y = points.iter().map(|(_, y)| y).sum::<f64>() / n;
    let covariance: f64 = points
        .iter()
        .map(|(t, y)| (t - mean_t) * (y - mean_y))
        .sum();
    let variance: f64 = points.iter().map(|(t, _)| (t - mean_t).powi(2)).sum();
    if variance == 0.0 || mean_y == 0.0 {
        return None;
    }
    let per_second = covariance / variance;
    Some((per_second * 60.0 / mean_y * 100.0, mean_y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_its_slope_and_a_flat_series_none() {
        // 100 MB growing by 1 MB a minute: 1 % per minute of a mean of 100.5 MB, about.
        let line: Vec<(f64, f64)> = (0..=60)
            .map(|s| (f64::from(s), 100e6 + f64::from(s) * 1e6 / 60.0))
            .collect();
        let (growth, mean) = slope(&line).unwrap();
        assert!((growth - 100.0 / 100.5).abs() < 1e-6, "{growth}");
        assert!((mean - 100.5e6).abs() < 1.0);
        let flat: Vec<(f64, f64)> = (0..10).map(|s| (f64::from(s), 5e6)).collect();
        assert_eq!(slope(&flat).map(|t| t.0), Some(0.0));
        assert!(floors(&flat, 100.0, 200.0, 5.0).is_empty());
        // Only whole periods count: [0, 5) and [5, 10), not the 9.5 s left after them.
        assert_eq!(floors(&flat, 0.0, 9.5, 5.0).len(), 1);
        assert_eq!(floors(&flat, 0.0, 10.0, 5.0).len(), 2);
    }

    #[test]
    fn peaks_above_a_flat_floor_are_no_growth_but_a_rising_floor_is() {
        // Every second sample is a set in flight, more of them late in the run.
        let spiky: Vec<(f64, f64)> = (0..600)
            .map(|i| {
                let t = f64::from(i) / 10.0;
                let peak = if i % 2 == 1 { 3e6 * t / 60.0 } else { 0.0 };
                (t, 30e6 + peak)
            })
            .collect();
        let (flat, _) = slope(&floors(&spiky, 10.0, 60.0, 5.0)).unwrap();
        assert!(flat.abs() < 0.01, "{flat}");
        let leaking: Vec<(f64, f64)> = spiky
            .iter()
            .map(|(t, y)| (*t, y + 0.6e6 * t / 60.0))
            .collect();
        let (growth, _) = slope(&floors(&leaking, 10.0, 60.0, 5.0)).unwrap();
        assert!(growth > 1.5, "{growth}");
    }
}
