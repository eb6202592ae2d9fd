//! Selector memory, counted with `allocation-counter` (the global allocator of this binary only).

use lb_benches::sets::{backends, uneven};
use lb_core::{BackendSelection, BoxError};
use lb_selection::{
    Consistent, FnvHash, Jump, KetamaConfig, LeastRequest, Maglev, PeakEwma, Random, Rendezvous,
    RoundRobin,
};
use serde_json::{Value, json};

/// What building one selector cost and left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counted {
    /// Bytes allocated during the build and still held after it (by the selector).
    pub(crate) retained: u64,
    /// The most bytes held at once during the build.
    pub(crate) peak: u64,
}

/// Runs `build` under the counting allocator, keeping what it returns alive until the count is
/// taken. Counts only allocations made on this thread.
pub(crate) fn count<T>(build: impl FnOnce() -> T) -> (T, Counted) {
    let mut kept = None;
    let info = allocation_counter::measure(|| kept = Some(build()));
    let counted = Counted {
        retained: info.bytes_current.max(0) as u64,
        peak: info.bytes_max,
    };
    // `measure` runs the closure exactly once, which stored the value.
    (kept.expect("measure ran the build"), counted)
}

/// A weight profile: its label and the weight of backend `i`.
type Profile = (&'static str, fn(usize) -> u32);

/// The weight profiles of the memory table.
const PROFILES: [Profile; 3] = [("1", |_| 1), ("10000", |_| 10_000), ("1-100003", uneven)];

fn row<S: BackendSelection>(
    strategy: &str,
    config: &S::Config,
    heap_bytes: fn(&S) -> usize,
    n: usize,
    weights: &str,
    weight: fn(usize) -> u32,
) -> Value {
    let set = backends(n, 80, weight);
    let (built, counted): (Result<S, BoxError>, Counted) = count(|| S::build(&set, config));
    match built {
        Ok(selector) => {
            let heap = heap_bytes(&selector);
            eprintln!(
                "memory {strategy}/{n}/w{weights}: {:.1} bytes per backend retained \
                 (heap_bytes {:.1}), build peak {:.1}",
                counted.retained as f64 / n as f64,
                heap as f64 / n as f64,
                counted.peak as f64 / n as f64,
            );
            json!({
                "kind": "memory", "strategy": strategy, "n": n, "weights": weights,
                "retained_bytes": counted.retained, "peak_bytes": counted.peak,
                "heap_bytes": heap,
            })
        }
        Err(err) => {
            eprintln!("memory {strategy}/{n}/w{weights}: not built: {err}");
            json!({
                "kind": "memory", "strategy": strategy, "n": n, "weights": weights,
                "error": err.to_string(),
            })
        }
    }
}

/// Every memory row: each strategy, N = 1,000 and 10,000, each weight profile.
pub(crate) fn rows() -> Vec<Value> {
    let mut rows = Vec::new();
    for n in [1_000, 10_000] {
        for (weights, weight) in PROFILES {
            rows.push(row::<RoundRobin>(
                "round_robin",
                &(),
                RoundRobin::heap_bytes,
                n,
                weights,
                weight,
            ));
            rows.push(row::<Random>(
                "random",
                &(),
                Random::heap_bytes,
                n,
                weights,
                weight,
            ));
            rows.push(row::<LeastRequest>(
                "least_request",
                &Default::default(),
                LeastRequest::heap_bytes,
                n,
                weights,
                weight,
            ));
            rows.push(row::<PeakEwma>(
                "peak_ewma",
                &(),
                PeakEwma::heap_bytes,
                n,
                weights,
                weight,
            ));
            rows.push(row::<FnvHash>(
                "fnv_hash",
                &(),
                FnvHash::heap_bytes,
                n,
                weights,
                weight,
            ));
            rows.push(row::<Consistent>(
                "consistent",
                &KetamaConfig::default(),
                Consistent::heap_bytes,
                n,
                weights,
                weight,
            ));
            rows.push(row::<Maglev>(
                "maglev",
                &Default::default(),
                Maglev::heap_bytes,
                n,
                weights,
                weight,
            ));
            rows.push(row::<Rendezvous>(
                "rendezvous",
                &(),
                Rendezvous::heap_bytes,
                n,
                weights,
                weight,
            ));
            rows.push(row::<Jump>(
                "jump",
                &Default::default(),
                Jump::heap_bytes,
                n,
                weights,
                weight,
            ));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_the_build_keeps_and_its_peak() {
        let (kept, counted) = count(|| {
            let scratch = vec![0u8; 4_000];
            drop(std::hint::black_box(scratch));
            vec![0u8; 1_000]
        });
        assert_eq!(kept.len(), 1_000);
        assert_eq!(counted.retained, 1_000);
        assert_eq!(counted.peak, 4_000);
    }

    #[test]
    fn counted_bytes_agree_with_heap_bytes_for_single_threaded_builds() {
        let set = backends(1_000, 80, |i| 1 + (i % 10) as u32);
        let (fnv, counted) = count(|| FnvHash::build(&set, &()).expect("builds"));
        assert_eq!(counted.retained, fnv.heap_bytes() as u64);
        let (random, counted) = count(|| Random::build(&set, &()).expect("builds"));
        assert_eq!(counted.retained, random.heap_bytes() as u64);
        let (maglev, counted) = count(|| Maglev::build(&set, &Default::default()).expect("builds"));
        assert_eq!(counted.retained, maglev.heap_bytes() as u64);
        let (rendezvous, counted) = count(|| Rendezvous::build(&set, &()).expect("builds"));
        assert_eq!(counted.retained, rendezvous.heap_bytes() as u64);
    }

    #[test]
    fn a_build_over_the_limit_is_an_error_row() {
        let row = row::<Consistent>(
            "consistent",
            &KetamaConfig::default(),
            Consistent::heap_bytes,
            1_000,
            "10000",
            |_| 10_000,
        );
        assert!(
            row["error"].as_str().is_some_and(|e| e.contains("ring")),
            "{row}"
        );
        assert!(row.get("retained_bytes").is_none());
    }
}
