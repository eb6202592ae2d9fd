//! The computed tables of the report (not timings): selector memory and hashing quality.

use std::fmt::Write;

use super::data::Data;
use super::report::{table, thousands};

/// Memory per backend, one decimal.
pub(crate) fn per_backend(bytes: u64, n: u64) -> String {
    format!("{:.1}", bytes as f64 / n.max(1) as f64)
}

/// `10000` as `10,000`, `1-100003` as `1-100,003`.
pub(crate) fn weights_label(weights: &str) -> String {
    weights
        .split('-')
        .map(|w| w.parse::<u64>().map_or_else(|_| w.to_owned(), thousands))
        .collect::<Vec<_>>()
        .join("-")
}

pub(crate) fn memory_section(out: &mut String, data: &Data) {
    if data.memory.is_empty() {
        return;
    }
    let mut columns: Vec<(u64, String)> = Vec::new();
    let mut strategies: Vec<String> = Vec::new();
    for row in &data.memory {
        if !columns.contains(&(row.n, row.weights.clone())) {
            columns.push((row.n, row.weights.clone()));
        }
        if !strategies.contains(&row.strategy) {
            strategies.push(row.strategy.clone());
        }
    }
    let header: Vec<String> = std::iter::once("strategy".to_owned())
        .chain(
            columns
                .iter()
                .map(|(n, w)| format!("N = {}, weight {}", thousands(*n), weights_label(w))),
        )
        .collect();
    let mut notes: Vec<String> = Vec::new();
    let rows: Vec<Vec<String>> = strategies
        .iter()
        .map(|s| {
            std::iter::once(format!("`{s}`"))
                .chain(columns.iter().map(|(n, w)| {
                    let row = data
                        .memory
                        .iter()
                        .find(|r| &r.strategy == s && r.n == *n && &r.weights == w);
                    match row.map(|r| &r.bytes) {
                        Some(Ok(bytes)) => per_backend(*bytes, *n),
                        Some(Err(err)) => {
                            notes.push(format!(
                                "`{s}`, N = {}, weight {}: {err}",
                                thousands(*n),
                                weights_label(w)
                            ));
                            format!("refused [{}]", notes.len())
                        }
                        None => "-".to_owned(),
                    }
                }))
                .collect()
        })
        .collect();
    out.push_str(
        "## Memory\n\nBytes per backend held by each selector after its build, counted with a \
         counting allocator (`allocation-counter`) in the `report` binary and checked against \
         the selector's own `heap_bytes()` (the larger is shown). The backends themselves live \
         once in the load balancer's set and are not counted here.\n\n",
    );
    table(out, &header, &rows);
    for (i, note) in notes.iter().enumerate() {
        let _ = writeln!(out, "[{}] {note}\n", i + 1);
    }
}

pub(crate) fn quality_section(out: &mut String, data: &Data) {
    if data.quality.is_empty() {
        return;
    }
    out.push_str(
        "## Hashing quality\n\nComputed, not timed: 1,000,000 keys (`user-0`, `user-1`, ...) \
         over N backends of weight 1. **Balance** is the busiest backend's share of keys over \
         the mean share (1.0 is perfect); *uniform* is the same figure for keys placed uniformly \
         at random, the noise floor at this many keys. **Moved** is the fraction of keys whose \
         first pick changes when one backend is removed (mean of 5 evenly spaced removals) or \
         one is added; the ideal moves only the keys that must move: 1/N and 1/(N+1). \
         `fnv_hash` is pingora's `FNVHash` (the key's hash modulo the total weight), not a \
         consistent hash: nearly every key moves, by design.\n\n",
    );
    let header = [
        "strategy",
        "N",
        "balance (max/mean)",
        "uniform",
        "moved on remove",
        "ideal",
        "moved on add",
        "ideal",
    ]
    .map(str::to_owned);
    let rows: Vec<Vec<String>> = data
        .quality
        .iter()
        .map(|q| {
            let baseline = data
                .baselines
                .iter()
                .find(|b| b.n == q.n)
                .map_or_else(|| "-".to_owned(), |b| format!("{:.3}", b.max_over_mean));
            vec![
                format!("`{}`", q.strategy),
                thousands(q.n),
                format!("{:.3}", q.max_over_mean),
                baseline,
                format!("{:.4}", q.moved_on_remove),
                format!("{:.4}", q.ideal_remove),
                format!("{:.4}", q.moved_on_add),
                format!("{:.4}", q.ideal_add),
            ]
        })
        .collect();
    table(out, &header, &rows);
}

#[cfg(test)]
mod tests {
    use super::super::data::{Baseline, Memory, Quality};
    use super::*;

    #[test]
    fn memory_table_has_a_column_per_size_and_weight_and_notes_refusals() {
        let data = Data {
            memory: vec![
                Memory {
                    strategy: "random".into(),
                    n: 1_000,
                    weights: "1".into(),
                    bytes: Ok(20_000),
                },
                Memory {
                    strategy: "random".into(),
                    n: 1_000,
                    weights: "10000".into(),
                    bytes: Ok(20_000),
                },
                Memory {
                    strategy: "consistent".into(),
                    n: 1_000,
                    weights: "10000".into(),
                    bytes: Err("ring of 1600000000 points exceeds the limit".into()),
                },
            ],
            ..Data::default()
        };
        let mut out = String::new();
        memory_section(&mut out, &data);
        assert!(
            out.contains("| strategy | N = 1,000, weight 1 | N = 1,000, weight 10,000 |"),
            "{out}"
        );
        assert!(out.contains("| `random` | 20.0 | 20.0 |"), "{out}");
        assert!(out.contains("| `consistent` | - | refused [1] |"), "{out}");
        assert!(
            out.contains("[1] `consistent`, N = 1,000, weight 10,000: ring of 1600000000"),
            "{out}"
        );
    }

    #[test]
    fn quality_rows_carry_the_baseline_and_ideals() {
        let data = Data {
            quality: vec![Quality {
                strategy: "consistent".into(),
                n: 100,
                max_over_mean: 1.2061,
                moved_on_remove: 0.01,
                ideal_remove: 0.01,
                moved_on_add: 0.01,
                ideal_add: 1.0 / 101.0,
                table_size: None,
            }],
            baselines: vec![Baseline {
                n: 100,
                max_over_mean: 1.028,
            }],
            ..Data::default()
        };
        let mut out = String::new();
        quality_section(&mut out, &data);
        assert!(
            out.contains(
                "| `consistent` | 100 | 1.206 | 1.028 | 0.0100 | 0.0100 | 0.0100 | 0.0099 |"
            ),
            "{out}"
        );
        let mut empty = String::new();
        quality_section(&mut empty, &Data::default());
        assert!(empty.is_empty());
    }

    #[test]
    fn weight_labels_read_well() {
        assert_eq!(weights_label("1-100003"), "1-100,003");
        assert_eq!(weights_label("10000"), "10,000");
    }
}
