//! "Quiet" timings: an operation timed in short batches, reported as the fastest batch and the
//! 10th-percentile one. A batch is shorter than a scheduler time slice, so these figures resist
//! other work on the machine, where criterion's samples absorb every preemption.

use std::hint::black_box;
use std::time::Instant;

use serde_json::json;

use crate::record::{fastest_and_p10, record};

/// Batch sizes and counts: batches of at most 1,000 operations and about 20 µs (at least 10
/// operations), 200 to 2,000 of them, about 2 s in all at most (for operations of a few ns: 2,000
/// batches of 1,000, as the select benches always used).
fn plan(estimate_ns: f64) -> (usize, usize) {
    let per_batch = (20_000.0 / estimate_ns.max(0.1)).clamp(10.0, 1_000.0) as usize;
    let batches = (2e9 / (per_batch as f64 * estimate_ns.max(0.1))).clamp(200.0, 2_000.0) as usize;
    (per_batch, batches)
}

/// Runs `op` over `items` (cycling; the length must be a power of two) in batches; returns the
/// time per operation of each batch in ns.
///
/// The items are passed by reference, so a fixed-size key (`[u8; 16]`) reaches `op` as a thin
/// pointer: a table of `&[u8]` would make every operation load a two-word slice first, a cost
/// of the harness, not of what is measured.
pub fn batches<T, R>(items: &[T], mut op: impl FnMut(&T) -> R) -> Vec<f64> {
    assert!(items.len().is_power_of_two(), "items cycle with a mask");
    let mask = items.len() - 1;
    // Calibrate on 100 operations.
    let start = Instant::now();
    for item in items.iter().cycle().take(100) {
        black_box(op(black_box(item)));
    }
    let (per_batch, count) = plan(start.elapsed().as_nanos() as f64 / 100.0);
    (0..count)
        .map(|b| {
            let start = Instant::now();
            for i in 0..per_batch {
                black_box(op(black_box(&items[(b * per_batch + i) & mask])));
            }
            start.elapsed().as_nanos() as f64 / per_batch as f64
        })
        .collect()
}

/// Prints the fastest and 10th-percentile batch of `times` and records them as a `quiet` line
/// under `id` (see [`record`]).
pub fn report(id: &str, times: Vec<f64>) {
    if let Some((fastest, p10)) = fastest_and_p10(times) {
        println!("quiet {id}: fastest batch {fastest:.1} ns, p10 {p10:.1} ns per operation");
        record(&json!({"kind": "quiet", "id": id, "fastest_ns": fastest, "p10_ns": p10}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_operations_keep_the_old_plan_and_slow_ones_shrink_it() {
        assert_eq!(plan(5.0), (1_000, 2_000));
        assert_eq!(plan(20_000.0), (10, 2_000));
        let (per, count) = plan(1_000_000.0);
        assert_eq!((per, count), (10, 200));
    }

    #[test]
    fn batches_time_every_batch() {
        let items: Vec<&[u8]> = vec![b"a", b"b", b"c", b"d"];
        let times = batches(&items, |k: &&[u8]| k.len());
        assert!(times.len() >= 200 && times.iter().all(|t| *t >= 0.0));
    }
}
