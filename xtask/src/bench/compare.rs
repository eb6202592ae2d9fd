//! The pingora comparison: its report section and the lines printed after a run.

use std::fmt::Write;

use super::data::{Data, PingoraBytes};
use super::report::{table, thousands, time};
use super::tables::{per_backend, weights_label};
use super::targets;

fn ratio(lb: f64, pingora: f64) -> String {
    if lb.is_finite() && pingora.is_finite() && pingora > 0.0 {
        format!("{:.3}", lb / pingora)
    } else {
        "-".to_owned()
    }
}

/// The comparison's section of the report; nothing when the run had no comparison.
pub(crate) fn section(out: &mut String, data: &Data) {
    if data.compare_select.is_empty()
        && data.compare_build.is_empty()
        && data.compare_update.is_empty()
    {
        return;
    }
    out.push_str("## lb against pingora-load-balancing 0.9.1\n\n");
    out.push_str(
        "Measured in one process (`benches/compare-pingora`, `--bin compare`), same machine, \
         same keys, same backend sets, lb's and pingora's batches interleaved. Ratios are \
         lb / pingora: below 1, lb is faster or smaller.\n\n",
    );
    if let Some(meta) = &data.compare_meta {
        let _ = writeln!(
            out,
            "pingora's `select(key, max_iterations)` is called with max_iterations = {} (the \
             value of pingora's documentation and examples; it only matters when backends are \
             down). Select: the median of {} timed batches of {} selects per contender, taken in \
             turns by blocks that each start with untimed batches of the same contender (so no \
             one is timed on caches another left); build: the median of {} builds, lb's and \
             pingora's alternating.\n",
            meta.max_iterations, meta.select_rounds, meta.batch, meta.build_rounds
        );
    }
    if !data.compare_select.is_empty() {
        out.push_str(
            "**Select**, ns per select, backends of weights 1 to 10 (`consistent_w1`: weight \
             1), a health check set on both sides. lb `Pick` is the owned handle of \
             `LoadBalancer::select` (like for like with pingora's owned `Backend`); lb \
             `Selector` is the per-worker fast path.\n\n",
        );
        let header = [
            "strategy",
            "N",
            "lb Pick",
            "lb Selector",
            "pingora",
            "Pick / pingora",
            "Selector / pingora",
        ]
        .map(str::to_owned);
        let rows: Vec<Vec<String>> = data
            .compare_select
            .iter()
            .map(|r| {
                vec![
                    format!("`{}`", r.strategy),
                    thousands(r.n),
                    time(r.lb_pick),
                    time(r.lb_selector),
                    time(r.pingora),
                    ratio(r.lb_pick, r.pingora),
                    ratio(r.lb_selector, r.pingora),
                ]
            })
            .collect();
        table(out, &header, &rows);
    }
    if !data.compare_build.is_empty() {
        out.push_str(
            "**Build** of one selector (`BackendSelection::build`). lb's `consistent` builds \
             its ring on up to 4 threads (no more than the machine has CPUs); \
             `consistent_ring_1thread` is lb-ketama's ring alone on one thread, against pingora's whole single-threaded build, weight \
             1.\n\n",
        );
        let header = ["strategy", "N", "lb", "pingora", "lb / pingora"].map(str::to_owned);
        let rows: Vec<Vec<String>> = data
            .compare_build
            .iter()
            .map(|r| {
                vec![
                    format!("`{}`", r.strategy),
                    thousands(r.n),
                    time(r.lb),
                    time(r.pingora),
                    ratio(r.lb, r.pingora),
                ]
            })
            .collect();
        table(out, &header, &rows);
    }
    if !data.compare_update.is_empty() {
        out.push_str(
            "**Update**: `changed` backends of N added, then removed again, in turn; the \
             median update. pingora: `LoadBalancer::update` over a source answering the two \
             sets in turn (it diffs the answer and rebuilds the selector). lb: `apply_delta` of \
             the change (what lb's sources that track their changes answer: `Static`, \
             Kubernetes, DNS), and `apply` of the whole set (a polled source).\n\n",
        );
        let header = [
            "strategy",
            "N",
            "changed",
            "lb delta",
            "lb whole set",
            "pingora",
            "delta / pingora",
            "whole set / pingora",
        ]
        .map(str::to_owned);
        let rows: Vec<Vec<String>> = data
            .compare_update
            .iter()
            .map(|r| {
                vec![
                    format!("`{}`", r.strategy),
                    thousands(r.n),
                    r.changed.to_string(),
                    time(r.lb_delta),
                    time(r.lb_full),
                    time(r.pingora),
                    ratio(r.lb_delta, r.pingora),
                    ratio(r.lb_full, r.pingora),
                ]
            })
            .collect();
        table(out, &header, &rows);
    }
    memory(out, data);
    first_picks(out, data);
    out.push_str("**Targets** (ratios lb / pingora in this run):\n\n");
    for t in targets::evaluate(data) {
        let _ = write!(out, "- {} <= {}: **{}**", t.what, t.limit, t.verdict());
        if let Some(note) = &t.note {
            let _ = write!(out, "; {note}");
        }
        out.push('\n');
    }
    out.push('\n');
}

fn memory(out: &mut String, data: &Data) {
    if data.compare_memory.is_empty() {
        return;
    }
    out.push_str(
        "**Selector memory**, bytes per backend, counted by a counting allocator in a separate \
         process (`--bin memory`: the counter would tax pingora's allocating `select` in the \
         timing process). pingora's selectors keep a copy of each `Backend` besides their \
         table; lb's hold indices.\n\n",
    );
    let header = ["strategy", "N", "weights", "lb", "pingora", "lb / pingora"].map(str::to_owned);
    let rows: Vec<Vec<String>> = data
        .compare_memory
        .iter()
        .map(|r| {
            let lb = match &r.lb {
                Ok(bytes) => per_backend(*bytes, r.n),
                Err(_) => "refused (over `MAX_POINTS`)".to_owned(),
            };
            let (pingora, ratio) = match (&r.pingora, &r.lb) {
                (PingoraBytes::Counted(p), Ok(l)) => {
                    (per_backend(*p, r.n), ratio(*l as f64, *p as f64))
                }
                (PingoraBytes::Counted(p), Err(_)) => (per_backend(*p, r.n), "-".to_owned()),
                (PingoraBytes::Estimated(p), _) => (
                    format!(
                        "not built: {:.1} GB computed from its point layout",
                        *p as f64 / 1e9
                    ),
                    "-".to_owned(),
                ),
            };
            vec![
                format!("`{}`", r.strategy),
                thousands(r.n),
                weights_label(&r.weights),
                lb,
                pingora,
                ratio,
            ]
        })
        .collect();
    table(out, &header, &rows);
}

fn first_picks(out: &mut String, data: &Data) {
    if data.first_picks.is_empty() {
        return;
    }
    out.push_str(
        "**Same first pick**: `user-0` ... `user-9999` on sets of 1 to 10,000 backends, weight \
         1 and weights 1 to 10. On IPv4 sets any difference fails the run, except keys on a ring \
         *tie* (two backends with a point of the same hash: lb keeps the first backend's, as \
         nginx does; pingora's unstable sort keeps either). On IPv6 sets lb follows nginx, which \
         hashes `[addr]:port` with brackets, and pingora does not: nearly every key differs.\n\n",
    );
    let header = [
        "strategy",
        "family",
        "sets",
        "keys checked",
        "keys differing",
        "of which ties",
    ]
    .map(str::to_owned);
    let mut rows: Vec<Vec<String>> = Vec::new();
    for strategy in ["fnv_hash", "consistent"] {
        for family in ["ipv4", "ipv6"] {
            let sets: Vec<_> = data
                .first_picks
                .iter()
                .filter(|r| r.strategy == strategy && r.family == family)
                .collect();
            if sets.is_empty() {
                continue;
            }
            rows.push(vec![
                format!("`{strategy}`"),
                family.to_owned(),
                sets.len().to_string(),
                thousands(sets.iter().map(|r| r.keys).sum()),
                thousands(sets.iter().map(|r| r.differ).sum()),
                thousands(sets.iter().map(|r| r.ties).sum()),
            ]);
        }
    }
    table(out, &header, &rows);
}

/// The comparison as printed after a run: each pair and its ratio, then the targets.
pub(crate) fn summary(data: &Data) -> String {
    let mut out = String::new();
    for r in &data.compare_select {
        let _ = writeln!(
            out,
            "select {:<14} N={:<6} lb Pick {:>9}  lb Selector {:>9}  pingora {:>9}  Pick/pingora {}  Selector/pingora {}",
            r.strategy,
            r.n,
            time(r.lb_pick),
            time(r.lb_selector),
            time(r.pingora),
            ratio(r.lb_pick, r.pingora),
            ratio(r.lb_selector, r.pingora)
        );
    }
    for r in &data.compare_build {
        let _ = writeln!(
            out,
            "build  {:<24} N={:<6} lb {:>9}  pingora {:>9}  lb/pingora {}",
            r.strategy,
            r.n,
            time(r.lb),
            time(r.pingora),
            ratio(r.lb, r.pingora)
        );
    }
    for r in &data.compare_update {
        let _ = writeln!(
            out,
            "update {:<14} N={:<6} changed {:<3} lb delta {:>9}  lb whole {:>9}  pingora {:>9}  delta/pingora {}  whole/pingora {}",
            r.strategy,
            r.n,
            r.changed,
            time(r.lb_delta),
            time(r.lb_full),
            time(r.pingora),
            ratio(r.lb_delta, r.pingora),
            ratio(r.lb_full, r.pingora)
        );
    }
    for t in targets::evaluate(data) {
        let _ = writeln!(out, "target: {} <= {}: {}", t.what, t.limit, t.verdict());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::data::{CompareBuild, CompareSelect, FirstPick};
    use super::*;

    fn data() -> Data {
        Data {
            compare_select: vec![CompareSelect {
                strategy: "random".into(),
                n: 10_000,
                lb_pick: 21.7,
                lb_selector: 11.6,
                pingora: 263.2,
            }],
            compare_build: vec![CompareBuild {
                strategy: "consistent".into(),
                n: 10_000,
                lb: 62.06e6,
                pingora: 249.8e6,
            }],
            first_picks: vec![
                FirstPick {
                    strategy: "consistent".into(),
                    family: "ipv4".into(),
                    n: 10_000,
                    weights: "1-10".into(),
                    keys: 10_000,
                    differ: 2,
                    ties: 2,
                },
                FirstPick {
                    strategy: "consistent".into(),
                    family: "ipv4".into(),
                    n: 10,
                    weights: "1".into(),
                    keys: 10_000,
                    differ: 0,
                    ties: 0,
                },
            ],
            ..Data::default()
        }
    }

    #[test]
    fn the_section_shows_pairs_ratios_and_targets() {
        let mut out = String::new();
        section(&mut out, &data());
        assert!(
            out.contains("| `random` | 10,000 | 21.7 ns | 11.6 ns | 263 ns | 0.082 | 0.044 |"),
            "{out}"
        );
        assert!(
            out.contains("| `consistent` | 10,000 | 62.1 ms | 250 ms | 0.248 |"),
            "{out}"
        );
        assert!(
            out.contains("| `consistent` | ipv4 | 2 | 20,000 | 2 | 2 |"),
            "{out}"
        );
        assert!(
            out.contains("**missed (worst 0.082, random N=10000)**"),
            "{out}"
        );
        assert!(
            out.contains("**met (worst 0.044, random N=10000)**"),
            "{out}"
        );
        assert!(
            out.contains("weights 1-10, lb / pingora <= 0.2: **missed (worst 0.248"),
            "{out}"
        );
    }

    #[test]
    fn no_comparison_no_section() {
        let mut out = String::new();
        section(&mut out, &Data::default());
        assert!(out.is_empty());
    }

    #[test]
    fn the_summary_prints_each_pair() {
        let text = summary(&data());
        assert!(text.contains("Pick/pingora 0.082"), "{text}");
        assert!(text.contains("lb/pingora 0.248"), "{text}");
        assert!(
            text.contains("target: consistent build, N = 10,000, weight 1"),
            "{text}"
        );
    }
}
