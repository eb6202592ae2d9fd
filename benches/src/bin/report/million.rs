//! A million backends: a whole load balancer over 1,000,000 backends (health check set), built,
//! changed by one backend, selected from and dropped, each step timed once, and its heap counted
//! by `allocation-counter` (this thread's allocations: every step runs on it).
//!
//! `{"kind":"million",...}` per strategy: `build_ns` (`Backends` with a TCP health check, then
//! the `LoadBalancer`), `delta_add_ns` and `delta_remove_ns` (`apply_delta` of one backend, each
//! the median of `DELTAS` runs), `select_ns` (per `select`, mean over `SELECTS` picks),
//! `drop_ns`; `bytes` the heap the load balancer holds, split into `set_bytes` (the dense
//! backends and the pointers to their states), `state_bytes` (one `Arc<BackendState>` each),
//! `health_bytes` (the rest of `Backends`: the private health registry, which keeps each
//! backend's health in its state and nothing per backend itself) and `selector_bytes` (the rest of the load balancer: the
//! selector and the snapshot);
//! `allocations` the heap blocks it holds, and `build_peak_bytes` / `delta_peak_bytes` the most
//! held at once during the build and a delta. The sizes of the parts come from the types
//! (`size_of`), the totals from the counter.

use std::hint::black_box;
use std::time::{Duration, Instant};

use lb_benches::sets::backend;
use lb_core::{BackendSelection, BackendState, Backends, BoxError, Delta, LoadBalancer};
use lb_health::TcpHealthCheck;
use lb_selection::{Maglev, MaglevConfig, Random, RoundRobin};
use serde_json::{Value, json};

/// Backends in the set.
pub(crate) const N: usize = 1_000_000;

/// One-backend deltas timed per strategy (half adds, half removes).
const DELTAS: usize = 6;

/// Picks timed per strategy (at most 10 per backend, for the tests' small sets).
const SELECTS: u32 = 1_000_000;

/// Each strategy measured: its name and the function that measures it (Maglev with its default
/// table: at a million backends, 5,000,011 slots).
pub(crate) const STRATEGIES: [(&str, Measure); 3] = [
    ("round_robin", |n| measure::<RoundRobin>(n, &())),
    ("random", |n| measure::<Random>(n, &())),
    ("maglev", |n| measure::<Maglev>(n, &MaglevConfig::default())),
];

/// Measures one strategy over the given number of backends.
pub(crate) type Measure = fn(usize) -> Result<Measured, BoxError>;

/// What one strategy's run measured.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Measured {
    pub(crate) n: usize,
    pub(crate) build: Duration,
    pub(crate) delta_add: Duration,
    pub(crate) delta_remove: Duration,
    pub(crate) select: Duration,
    pub(crate) drop: Duration,
    pub(crate) bytes: Bytes,
    pub(crate) allocations: u64,
    pub(crate) build_peak: u64,
    pub(crate) delta_peak: u64,
}

/// The heap of the load balancer, by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bytes {
    pub(crate) set: u64,
    pub(crate) states: u64,
    pub(crate) health: u64,
    pub(crate) selector: u64,
}

impl Bytes {
    pub(crate) fn total(&self) -> u64 {
        self.set + self.states + self.health + self.selector
    }
}

/// The bytes of one `Arc<BackendState>` allocation: the two counts, padded to the state's
/// alignment, then the state.
fn arc_state_bytes() -> u64 {
    let header = 2 * std::mem::size_of::<usize>();
    let align = std::mem::align_of::<BackendState>();
    (header.next_multiple_of(align) + std::mem::size_of::<BackendState>()) as u64
}

/// The bytes of the set's two arrays per backend: the backend and the pointer to its state.
fn set_bytes_each() -> u64 {
    (std::mem::size_of::<lb_core::Backend>() + std::mem::size_of::<usize>()) as u64
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

/// Builds, changes, selects from and drops a load balancer of strategy `S` over `n` backends
/// `10.0.0.1:80`, `10.0.0.2:80`, ... of weight 1.
pub(crate) fn measure<S: BackendSelection>(
    n: usize,
    config: &S::Config,
) -> Result<Measured, BoxError> {
    let started = Instant::now();
    let (backends, counted_backends) = count(|| {
        let mut backends = Backends::fixed((0..n).map(|i| backend(i, 80, 1)));
        backends.set_health_check(Box::new(TcpHealthCheck::new()));
        backends
    });
    let (lb, counted_lb) =
        count(|| LoadBalancer::<S>::from_backends_with_config(backends, config.clone()));
    let build = started.elapsed();
    let set = set_bytes_each() * n as u64;
    let states = arc_state_bytes() * n as u64;
    let bytes = Bytes {
        set,
        states,
        health: counted_backends.retained.saturating_sub(set + states),
        selector: counted_lb.retained,
    };
    let allocations = counted_backends.blocks + counted_lb.blocks;
    if lb.backends().get_backend().len() != n {
        return Err(format!(
            "built {} backends, not {n}",
            lb.backends().get_backend().len()
        )
        .into());
    }

    let (mut adds, mut removes, mut delta_peak) = (Vec::new(), Vec::new(), 0);
    for round in 0..DELTAS / 2 {
        let extra = backend(n + round, 80, 1);
        let add = Delta::new().with_upsert(extra.clone());
        let ((applied, took), counted) = count(|| {
            let started = Instant::now();
            (lb.apply_delta(&add), started.elapsed())
        });
        applied?;
        adds.push(took);
        delta_peak = delta_peak.max(counted.peak);
        let remove = Delta::new().with_removal(extra.addr.clone());
        let started = Instant::now();
        lb.apply_delta(&remove)?;
        removes.push(started.elapsed());
        if lb.backends().get_backend().len() != n {
            return Err("a delta of one backend did not change the set by one".into());
        }
    }

    let selects = SELECTS.min(u32::try_from(n).unwrap_or(u32::MAX).saturating_mul(10));
    let started = Instant::now();
    let mut picked = 0u32;
    for i in 0..selects {
        if let Some(pick) = lb.select(&i.to_le_bytes()) {
            picked += 1;
            drop(black_box(pick));
        }
    }
    let select = started.elapsed() / selects.max(1);
    if picked != selects {
        return Err(format!("{} of {selects} selects found no backend", selects - picked).into());
    }

    let started = Instant::now();
    drop(lb);
    let drop = started.elapsed();
    Ok(Measured {
        n,
        build,
        delta_add: median(adds),
        delta_remove: median(removes),
        select,
        drop,
        bytes,
        allocations,
        build_peak: counted_backends
            .peak
            .max(counted_backends.retained + counted_lb.peak),
        delta_peak,
    })
}

/// What `work` left held on this thread and the most it held at once.
#[derive(Debug, Clone, Copy, Default)]
struct Counted {
    retained: u64,
    blocks: u64,
    peak: u64,
}

/// Runs `work` under the counting allocator, keeping what it returns alive until the count is
/// taken (as `memory::count`, with the number of heap blocks held).
fn count<T>(work: impl FnOnce() -> T) -> (T, Counted) {
    let mut kept = None;
    let info = allocation_counter::measure(|| kept = Some(work()));
    let counted = Counted {
        retained: info.bytes_current.max(0) as u64,
        blocks: info.count_current.max(0) as u64,
        peak: info.bytes_max,
    };
    // `measure` runs the closure exactly once, which stored the value.
    (kept.expect("measure ran the work"), counted)
}

/// The `million` rows.
pub(crate) fn rows() -> Vec<Value> {
    STRATEGIES
        .iter()
        .map(|(strategy, run)| row(strategy, run(N)))
        .collect()
}

pub(crate) fn row(strategy: &str, measured: Result<Measured, BoxError>) -> Value {
    let m = match measured {
        Ok(m) => m,
        Err(err) => {
            eprintln!("million {strategy}: {err}");
            return json!({"kind": "million", "strategy": strategy, "n": N, "error": err.to_string()});
        }
    };
    let per = |b: u64| b as f64 / m.n as f64;
    eprintln!(
        "million {strategy}/{}: build {:.2} s, delta +1 {:.1} ms, -1 {:.1} ms, select {:.1} ns, \
         drop {:.2} s; {:.0} bytes per backend (set {:.0}, states {:.0}, health {:.0}, \
         selector {:.1})",
        m.n,
        m.build.as_secs_f64(),
        m.delta_add.as_secs_f64() * 1e3,
        m.delta_remove.as_secs_f64() * 1e3,
        m.select.as_secs_f64() * 1e9,
        m.drop.as_secs_f64(),
        per(m.bytes.total()),
        per(m.bytes.set),
        per(m.bytes.states),
        per(m.bytes.health),
        per(m.bytes.selector),
    );
    json!({
        "kind": "million", "strategy": strategy, "n": m.n,
        "build_ns": m.build.as_nanos() as u64,
        "delta_add_ns": m.delta_add.as_nanos() as u64,
        "delta_remove_ns": m.delta_remove.as_nanos() as u64,
        "select_ns": m.select.as_secs_f64() * 1e9,
        "drop_ns": m.drop.as_nanos() as u64,
        "bytes": m.bytes.total(),
        "set_bytes": m.bytes.set, "state_bytes": m.bytes.states,
        "health_bytes": m.bytes.health, "selector_bytes": m.bytes.selector,
        "allocations": m.allocations,
        "build_peak_bytes": m.build_peak, "delta_peak_bytes": m.delta_peak,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_strategy_builds_changes_selects_from_and_drops_a_set() {
        let n = 2_000;
        for (strategy, run) in STRATEGIES {
            let m = run(n).unwrap_or_else(|e| panic!("{strategy}: {e}"));
            assert_eq!(m.n, n, "{strategy}");
            let each = n as u64;
            assert_eq!(m.bytes.set, set_bytes_each() * each, "{strategy}");
            assert_eq!(m.bytes.states, arc_state_bytes() * each, "{strategy}");
            // The private registry keeps the health in the states: nothing per backend beside
            // (its fixed part, the health events' channel, barely moves at twice the size).
            let twice = run(2 * n).unwrap_or_else(|e| panic!("{strategy}: {e}"));
            let grew = twice.bytes.health.abs_diff(m.bytes.health);
            assert!(
                grew < each / 8,
                "{strategy}: {grew} more bytes for {each} more backends"
            );
            assert!(m.allocations >= each, "{strategy}: {m:?}");
            assert!(m.build_peak >= m.bytes.total(), "{strategy}: {m:?}");
            let row = row(strategy, Ok(m.clone()));
            assert_eq!(row["bytes"].as_u64(), Some(m.bytes.total()), "{row}");
            assert_eq!(row["strategy"].as_str(), Some(strategy), "{row}");
        }
    }

    #[test]
    fn a_failed_run_is_an_error_row() {
        let row = row("maglev", Err("table too small".into()));
        assert_eq!(row["error"].as_str(), Some("table too small"), "{row}");
        assert!(row.get("bytes").is_none(), "{row}");
    }
}
