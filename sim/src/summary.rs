//! The figures of one run: latency percentiles, balance, failures, keys moved, and how fast the
//! traffic left a bad server.

use std::time::Duration;

use crate::record::{BUCKET, Bucket, Record};
use crate::scenario::Scenario;

/// How fast a strategy steered traffic away from the servers a scenario made bad.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Steer {
    /// The bad servers' share of requests fell below half of what it was before, and stayed
    /// there for the next two seconds, this long after they turned bad (to the end of the first
    /// 100 ms bucket of those two seconds).
    After(Duration),
    /// It never did.
    Never,
}

/// The figures of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The strategy's name.
    pub strategy: &'static str,
    /// Latency percentiles of the successful requests, in milliseconds: p50, p99, p99.9.
    pub p50: f64,
    /// See [`Summary::p50`].
    pub p99: f64,
    /// See [`Summary::p50`].
    pub p999: f64,
    /// Requests that arrived.
    pub requests: u64,
    /// Requests that failed.
    pub failed: u64,
    /// The busiest server's requests over its fair share (by weight), among the servers in the
    /// set for the whole run and not made bad by the scenario: 1.0 is perfect balance.
    pub busiest: f64,
    /// Keys moved when a server was removed: the share of the removed server's keys that moved,
    /// and the share of the other keys that moved (hashing strategies only).
    pub moved_on_remove: Option<(f64, f64)>,
    /// Keys moved when a server was added: the share of all keys that moved (hashing
    /// strategies only).
    pub moved_on_add: Option<f64>,
    /// How fast traffic left the bad servers, in scenarios that have some.
    pub steer: Option<Steer>,
    /// When passive health first ejected a server, from the start of the run.
    pub first_ejection: Option<Duration>,
    /// The share of requests that failed among those that arrived after the first ejection.
    pub failed_after_ejection: Option<f64>,
}

/// The `q` quantile (0 to 1) of sorted `values`, in milliseconds.
fn quantile(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted_us.len() as f64).ceil() as usize;
    f64::from(sorted_us[rank.clamp(1, sorted_us.len()) - 1]) / 1000.0
}

impl Summary {
    /// The figures of `record`, a run of `scenario`.
    pub fn of(scenario: &Scenario, record: &Record) -> Summary {
        let lat = &record.latencies_us;
        let (moved_on_remove, moved_on_add) = if record.uses_key {
            let removal = record.key_moves.iter().find(|m| !m.added).and_then(|m| {
                Some((
                    m.moved(Some(m.server), false)?,
                    m.moved(Some(m.server), true)?,
                ))
            });
            let addition = record
                .key_moves
                .iter()
                .find(|m| m.added)
                .and_then(|m| m.moved(None, false));
            (removal, addition)
        } else {
            (None, None)
        };
        let failed_after_ejection = record.first_ejection.map(|at| {
            let first = (at.as_nanos() / BUCKET.as_nanos()) as usize + 1;
            let (requests, failed) = record.buckets[first.min(record.buckets.len())..]
                .iter()
                .fold((0, 0), |(r, f), b| {
                    (r + u64::from(b.requests), f + u64::from(b.failed))
                });
            ratio(failed, requests)
        });
        Summary {
            strategy: record.strategy,
            p50: quantile(lat, 0.5),
            p99: quantile(lat, 0.99),
            p999: quantile(lat, 0.999),
            requests: record.requests,
            failed: record.failed,
            busiest: busiest(scenario, record),
            moved_on_remove,
            moved_on_add,
            steer: steer(scenario, record),
            first_ejection: record.first_ejection,
            failed_after_ejection,
        }
    }

    /// The share of requests that failed.
    pub fn failed_share(&self) -> f64 {
        ratio(self.failed, self.requests)
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Busiest over fair share among the servers present from start to end that the scenario does
/// not make bad.
fn busiest(scenario: &Scenario, record: &Record) -> f64 {
    let bad = scenario.bad_event().map(|(_, bad)| bad).unwrap_or_default();
    let steady: Vec<usize> = (0..record.initial_servers)
        .filter(|&i| record.present_at_end.get(i).copied().unwrap_or(false) && !bad.contains(&i))
        .collect();
    let picks: Vec<u64> = steady
        .iter()
        .map(|&i| record.buckets.iter().map(|b| u64::from(b.picks[i])).sum())
        .collect();
    let total: u64 = picks.iter().sum();
    let weight: u64 = steady.iter().map(|&i| u64::from(record.weights[i])).sum();
    if total == 0 || weight == 0 {
        return f64::NAN;
    }
    steady
        .iter()
        .zip(&picks)
        .map(|(&i, &p)| {
            let fair = total as f64 * f64::from(record.weights[i]) / weight as f64;
            p as f64 / fair
        })
        .fold(0.0, f64::max)
}

/// How long the bad servers' share must stay low to count as steered away.
const STEADY: Duration = Duration::from_secs(2);

/// When the bad servers' share of picks fell below half its level before they turned bad, and
/// stayed there for [`STEADY`].
fn steer(scenario: &Scenario, record: &Record) -> Option<Steer> {
    let (at, bad) = scenario.bad_event()?;
    let width = BUCKET.as_nanos();
    let first = (at.as_nanos() / width) as usize;
    let share = |b: &Bucket| -> Option<f64> {
        let total: u64 = b.picks.iter().map(|&p| u64::from(p)).sum();
        let ours: u64 = bad.iter().map(|&i| u64::from(b.picks[i])).sum();
        (total > 0).then(|| ours as f64 / total as f64)
    };
    let before: Vec<f64> = record.buckets[..first.min(record.buckets.len())]
        .iter()
        .filter_map(share)
        .collect();
    if before.is_empty() {
        return None;
    }
    let threshold = before.iter().sum::<f64>() / before.len() as f64 / 2.0;
    // The share over the two seconds that follow each bucket: a share that only dips by chance
    // for a bucket or two (a random strategy's noise) does not count as steering.
    let after = &record.buckets[first.min(record.buckets.len())..];
    let window = (STEADY.as_nanos() / width) as usize;
    let found = (0..after.len()).find(|&i| {
        let span = &after[i..(i + window).min(after.len())];
        let total: u64 = span
            .iter()
            .flat_map(|b| &b.picks)
            .map(|&p| u64::from(p))
            .sum();
        let ours: u64 = span
            .iter()
            .map(|b| bad.iter().map(|&s| u64::from(b.picks[s])).sum::<u64>())
            .sum();
        let low = |ours: u64, total: u64| total > 0 && (ours as f64 / total as f64) < threshold;
        let first = &after[i];
        let first_total: u64 = first.picks.iter().map(|&p| u64::from(p)).sum();
        let first_ours: u64 = bad.iter().map(|&s| u64::from(first.picks[s])).sum();
        span.len() * 2 >= window && low(ours, total) && low(first_ours, first_total)
    });
    Some(match found {
        Some(i) => {
            let end = Duration::from_nanos(((first + i + 1) as u128 * width) as u64);
            Steer::After(end.saturating_sub(at))
        }
        None => Steer::Never,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_take_the_rank_above() {
        let v: Vec<u32> = (1..=1000).map(|ms| ms * 1000).collect();
        assert_eq!(quantile(&v, 0.5), 500.0);
        assert_eq!(quantile(&v, 0.99), 990.0);
        assert_eq!(quantile(&v, 0.999), 999.0);
        assert_eq!(quantile(&v[..1], 0.999), 1.0);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
