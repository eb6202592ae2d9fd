//! The computed tables of the benchmark report: load balance and keys moved for the hashing
//! strategies, and each selector's memory counted by a counting allocator.
//!
//! `cargo run --release -p lb-benches --bin report [-- --out FILE] [--only GROUP]` writes one
//! JSON object per line (to FILE, or standard output; `--only quality`, `memory`, `subset` or
//! `million`: that group's lines alone) and a readable summary to standard error;
//! `cargo xtask bench` runs it and turns the lines into tables. These are counts, not timings,
//! so they do not depend on the machine's load (except the million-backend rows' timings).
//!
//! - `{"kind":"quality",...}`: for `fnv_hash`, `consistent`, `maglev`, `rendezvous` and `jump`
//!   at N = 10, 100 and 1,000 backends
//!   of weight 1 over 1,000,000 keys (`user-0`, `user-1`, ...): `max_over_mean` (the busiest
//!   backend's share over the mean share) and the fraction of keys whose first pick moves when
//!   one backend is removed (mean over 5 evenly spaced removals) or added, with the ideal 1/N and
//!   1/(N+1). `{"kind":"quality_baseline",...}` is the same balance for keys spread uniformly at
//!   random: the noise floor at this many keys.
//!   Maglev's rows carry the `table_size` they measured; besides, `maglev_m{size}` at N = 1,000
//!   with larger tables (1,048,583, 5,000,011 and
//!   16,777,259 slots): how Maglev's disruption falls as the table grows.
//! - `{"kind":"slots",...}`: Maglev's default table over 1,000 backends of weight 1 and of
//!   weights 1 to 10: the busiest and lightest backend's slots over their weighted fair share.
//! - `{"kind":"memory",...}`: each strategy's selector built over N = 1,000 and 10,000 backends
//!   of weight 1, weight 10,000, and uneven weights (1 to 100,003): the bytes it still holds
//!   after the build (`retained_bytes`, counted by `allocation-counter` on the building thread),
//!   the peak during the build (`peak_bytes`), and the selector's own `heap_bytes()` as a cross
//!   check (rings built on several threads allocate part of their memory on worker threads,
//!   which the counter does not see). A build over a documented limit is an `error` line.
//! - `{"kind":"subset_balance",...}` and `{"kind":"subset_churn",...}`: deterministic and
//!   random subsetting at 300 clients, 300 backends and subset size 10 (see `subset.rs`).
//! - `{"kind":"million",...}`: a whole load balancer over 1,000,000 backends per strategy:
//!   build, one-backend deltas, select and drop timed once, and its heap by part (see
//!   `million.rs`).

mod memory;
mod million;
mod subset;

use std::io::Write;
use std::process::ExitCode;

use lb_benches::quality::{self, Quality};
use lb_benches::sets::{backends, weighted};
use lb_core::{BackendSelection, BoxError};
use lb_selection::{Consistent, FnvHash, Jump, KetamaConfig, Maglev, MaglevConfig, Rendezvous};
use serde_json::{Value, json};

/// Keys looked up per quality row.
const KEYS: u64 = 1_000_000;

/// Backend removals averaged per quality row.
const REMOVALS: usize = 5;

fn quality_row<S: BackendSelection>(strategy: &str, config: &S::Config, n: usize) -> Value {
    match quality::measure::<S>(config, n, KEYS, REMOVALS) {
        Ok(q) => {
            let Quality {
                n,
                keys,
                max_over_mean,
                moved_on_remove,
                moved_on_add,
            } = q;
            eprintln!(
                "quality {strategy}/{n}: max/mean {max_over_mean:.3}, moved on remove \
                 {moved_on_remove:.4} (ideal {:.4}), on add {moved_on_add:.4} (ideal {:.4})",
                q.ideal_remove(),
                q.ideal_add()
            );
            json!({
                "kind": "quality", "strategy": strategy, "n": n, "keys": keys,
                "max_over_mean": max_over_mean,
                "moved_on_remove": moved_on_remove, "ideal_remove": q.ideal_remove(),
                "moved_on_add": moved_on_add, "ideal_add": q.ideal_add(),
            })
        }
        Err(err) => error_row("quality", strategy, n, &err),
    }
}

/// Maglev's table at `n` backends of weights `weight` (default size): the busiest and the
/// lightest backend's slots over their weighted fair share.
fn slots_row(n: usize, weights: &str, weight: fn(usize) -> u32) -> Value {
    let set = backends(n, 80, weight);
    match Maglev::build(&set, &MaglevConfig::default()) {
        Ok(maglev) => {
            let table = maglev.table();
            let total: f64 = set.iter().map(|b| f64::from(b.weight)).sum();
            let ratios: Vec<f64> = table
                .slot_counts()
                .iter()
                .zip(&set)
                .map(|(&c, b)| c as f64 / (table.size() as f64 * f64::from(b.weight) / total))
                .collect();
            let max = ratios.iter().copied().fold(0.0, f64::max);
            let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
            eprintln!(
                "slots maglev/{n}/w{weights}: table {}, busiest {max:.4} × its fair share, \
                 lightest {min:.4}",
                table.size()
            );
            json!({
                "kind": "slots", "strategy": "maglev", "n": n, "weights": weights,
                "size": table.size(), "max_over_fair": max, "min_over_fair": min,
            })
        }
        Err(err) => error_row("slots", "maglev", n, &err),
    }
}

fn error_row(kind: &str, strategy: &str, n: usize, err: &BoxError) -> Value {
    eprintln!("{kind} {strategy}/{n}: {err}");
    json!({"kind": kind, "strategy": strategy, "n": n, "error": err.to_string()})
}

fn quality_rows() -> Vec<Value> {
    let mut rows = Vec::new();
    for n in [10, 100, 1_000] {
        let baseline = quality::uniform_baseline(n, KEYS);
        eprintln!("quality uniform/{n}: max/mean {baseline:.3}");
        rows.push(
            json!({"kind": "quality_baseline", "n": n, "keys": KEYS, "max_over_mean": baseline}),
        );
        rows.push(quality_row::<FnvHash>("fnv_hash", &(), n));
        rows.push(quality_row::<Consistent>(
            "consistent",
            &KetamaConfig::default(),
            n,
        ));
        rows.push(with_table_size(
            quality_row::<Maglev>("maglev", &MaglevConfig::default(), n),
            lb_maglev::default_size(n),
        ));
        rows.push(quality_row::<Rendezvous>("rendezvous", &(), n));
        rows.push(quality_row::<Jump>("jump", &Default::default(), n));
    }
    for (weights, weight) in [("1", (|_| 1) as fn(usize) -> u32), ("1-10", weighted)] {
        rows.push(slots_row(1_000, weights, weight));
    }
    // Maglev's disruption falls as its table grows: N = 1,000 at sizes past the default
    // (131,101), up to Envoy's largest and beyond, as `maglev_m{size}`.
    for size in MAGLEV_SIZES {
        let config = MaglevConfig {
            table_size: Some(size),
            ..MaglevConfig::default()
        };
        rows.push(with_table_size(
            quality_row::<Maglev>(&format!("maglev_m{size}"), &config, 1_000),
            size,
        ));
    }
    rows
}

/// A Maglev quality row with the size of the table it measured.
fn with_table_size(mut row: Value, size: u64) -> Value {
    if let Some(fields) = row.as_object_mut() {
        fields.insert("table_size".to_owned(), json!(size));
    }
    row
}

/// Maglev table sizes (primes) whose disruption the report measures at N = 1,000 besides the
/// default: about 1,000, 5,000 (Envoy's largest) and 16,800 slots per backend.
const MAGLEV_SIZES: [u64; 3] = [1_048_583, 5_000_011, 16_777_259];

/// Computes a group's rows.
type Group = fn() -> Vec<Value>;

/// The groups of rows, by the name `--only` takes.
const GROUPS: [(&str, Group); 4] = [
    ("quality", quality_rows),
    ("memory", memory::rows),
    ("subset", subset::rows),
    ("million", million::rows),
];

/// The command line: where to write, and which group alone (all when `None`).
#[derive(Debug, Default, PartialEq, Eq)]
struct Args {
    out: Option<String>,
    only: Option<String>,
}

/// Parses `[--out FILE] [--only GROUP]`.
fn parse_args(args: &[String]) -> Result<Args, String> {
    let usage = || {
        let groups: Vec<&str> = GROUPS.iter().map(|(name, _)| *name).collect();
        format!(
            "usage: report [--out FILE] [--only {}]; got `{}`",
            groups.join("|"),
            args.join(" ")
        )
    };
    let mut parsed = Args::default();
    for pair in args.chunks(2) {
        match pair {
            [flag, file] if flag == "--out" => parsed.out = Some(file.clone()),
            [flag, group] if flag == "--only" && GROUPS.iter().any(|(g, _)| g == group) => {
                parsed.only = Some(group.clone());
            }
            _ => return Err(usage()),
        }
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Args { out, only } = match parse_args(&args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let groups = GROUPS
        .iter()
        .filter(|(name, _)| only.as_deref().is_none_or(|only| only == *name));
    let text: String = groups
        .flat_map(|(_, rows)| rows())
        .map(|row| format!("{row}\n"))
        .collect();
    let written = match &out {
        Some(path) => std::fs::write(path, text),
        None => std::io::stdout().lock().write_all(text.as_bytes()),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!(
                "report: cannot write {}: {err}",
                out.as_deref().unwrap_or("standard output")
            );
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_out() {
        assert_eq!(parse_args(&[]), Ok(Args::default()));
        let out = Some("a.jsonl".to_owned());
        assert_eq!(
            parse_args(&args("--out a.jsonl")),
            Ok(Args {
                out: out.clone(),
                only: None
            })
        );
        assert_eq!(
            parse_args(&args("--only million --out a.jsonl")),
            Ok(Args {
                out,
                only: Some("million".to_owned())
            })
        );
        assert!(parse_args(&args("--out")).is_err());
        assert!(parse_args(&args("--only speed")).is_err());
        assert!(parse_args(&args("--quick")).is_err());
    }

    #[test]
    fn a_ring_over_the_limit_is_an_error_row() {
        let row = quality_row::<Consistent>(
            "consistent",
            &KetamaConfig {
                point_multiple: Some(0),
            },
            10,
        );
        assert_eq!(row["kind"], "quality");
        assert!(
            row["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{row}"
        );
    }
}
