//! `memory`: the bytes each selector holds, lb's and pingora's, counted by `allocation-counter`
//! (this binary's global allocator) on the same backend sets.
//!
//! `cargo run --release --manifest-path benches/compare-pingora/Cargo.toml --bin memory --
//! [--out FILE]`. A selector's memory is what its build allocated and still holds afterwards.
//! pingora's selectors keep a copy of every `Backend` besides their table; lb's selectors hold
//! indices only (the backends live once in the load balancer's set), so that copy is part of
//! the difference. Rows: N = 1,000 backends of weight 10,000 (the comparison), of
//! weight 1, and of weights 1 to 10.
//!
//! A consistent ring of 1,000 backends of weight 10,000 has 1.6 billion points. lb refuses it (a
//! typed error: over `lb_ketama::MAX_POINTS`); pingora would allocate them, 8 bytes each (12.8
//! GB), which this program does not attempt: that row reports the size computed from pingora's
//! point layout instead of a count.

use std::process::ExitCode;
use std::sync::Arc;

use lb_benches::sets::weighted;
use lb_compare_pingora::args::Args;
use lb_compare_pingora::sets::{Spec, ipv4, lb_backends, pingora_backends};
use lb_core::BackendSelection;
use lb_selection::{Consistent, FnvHash, KetamaConfig, Random, RoundRobin};
use pingora_load_balancing::selection as ps;
use ps::BackendSelection as PingoraSelection;
use serde_json::{Value, json};

/// Bytes allocated by `build` on this thread and still held once it returns (with its value).
fn retained<T>(build: impl FnOnce() -> T) -> (T, u64) {
    let mut kept = None;
    let info = allocation_counter::measure(|| kept = Some(build()));
    // `measure` runs the closure exactly once, which stored the value.
    (
        kept.expect("measure ran the build"),
        info.bytes_current.max(0) as u64,
    )
}

/// A weight profile: its label and the weight of backend `i`.
type Profile = (&'static str, fn(usize) -> u32);

/// pingora's ring point (`PointV1`: node `u32`, hash `u32`).
const PINGORA_POINT_BYTES: u64 = 8;

fn row<L, P>(
    strategy: &str,
    specs: &[Spec],
    weights: &str,
    config: &L::Config,
    heap_bytes: fn(&L) -> usize,
) -> Value
where
    L: BackendSelection,
    P: PingoraSelection,
{
    let n = specs.len();
    let ours = lb_backends(specs);
    let (built, lb_bytes) = retained(|| L::build(&ours, config));
    let lb = match built {
        Ok(selector) => {
            let heap = heap_bytes(&selector);
            // The counter sees only this thread's allocations; a ring built on worker threads
            // would be undercounted, so the larger of the two figures is reported.
            json!({"bytes": lb_bytes.max(heap as u64), "counted_bytes": lb_bytes, "heap_bytes": heap})
        }
        Err(err) => json!({"error": err.to_string()}),
    };
    let total_weight: u64 = specs.iter().map(|s| u64::from(s.weight)).sum();
    let pingora = if strategy.starts_with("consistent") && total_weight * 160 > 1 << 28 {
        json!({
            "not_built": "ring too large to allocate here",
            "estimated_bytes": total_weight * 160 * PINGORA_POINT_BYTES,
        })
    } else {
        let theirs = pingora_backends(specs);
        let (selector, bytes) = retained(|| Arc::new(P::build(&theirs)));
        drop(selector);
        json!({"bytes": bytes})
    };
    let show = |v: &Value| match v.get("bytes").and_then(Value::as_u64) {
        Some(bytes) => format!("{:.1} bytes per backend", bytes as f64 / n as f64),
        None => format!("{}", v),
    };
    println!(
        "memory {strategy:<12} N={n} weights {weights:<6} lb {}  pingora {}",
        show(&lb),
        show(&pingora)
    );
    json!({
        "kind": "compare_memory", "strategy": strategy, "n": n, "weights": weights,
        "lb": lb, "pingora": pingora,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match Args::parse(&args) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("memory: {message}");
            return ExitCode::from(2);
        }
    };
    let mut out = Vec::new();
    let profiles: [Profile; 3] = [("10000", |_| 10_000), ("1", |_| 1), ("1-10", weighted)];
    for (weights, weight) in profiles {
        let specs = ipv4(1_000, weight);
        out.push(row::<RoundRobin, ps::RoundRobin>(
            "round_robin",
            &specs,
            weights,
            &(),
            RoundRobin::heap_bytes,
        ));
        out.push(row::<Random, ps::Random>(
            "random",
            &specs,
            weights,
            &(),
            Random::heap_bytes,
        ));
        out.push(row::<FnvHash, ps::FNVHash>(
            "fnv_hash",
            &specs,
            weights,
            &(),
            FnvHash::heap_bytes,
        ));
        out.push(row::<Consistent, ps::Consistent>(
            "consistent",
            &specs,
            weights,
            &KetamaConfig::default(),
            Consistent::heap_bytes,
        ));
    }
    match args.write(&out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("memory: cannot write the results: {err}");
            ExitCode::FAILURE
        }
    }
}
