//! The subsetting section of the report: connections per backend and churn of deterministic and
//! random subsetting, from the `report` binary's `subset_balance` and `subset_churn` lines.

use std::fmt::Write;

use serde::Deserialize;

use super::report::{table, thousands};

/// Connections per backend under one policy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Balance {
    pub(crate) policy: String,
    pub(crate) clients: u64,
    pub(crate) backends: u64,
    pub(crate) subset_size: u64,
    pub(crate) min: u64,
    pub(crate) max: u64,
    pub(crate) mean: f64,
}

/// Backends changed in a client's subset when the set changes by one backend.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Churn {
    pub(crate) policy: String,
    /// `add`, `remove` or `remove_at_step`.
    pub(crate) change: String,
    pub(crate) from: u64,
    pub(crate) to: u64,
    pub(crate) trials: u64,
    pub(crate) max: u64,
    pub(crate) mean: f64,
}

/// Every subsetting row read.
#[derive(Debug, Default)]
pub(crate) struct Subsets {
    pub(crate) balance: Vec<Balance>,
    pub(crate) churn: Vec<Churn>,
}

fn percent(part: f64, mean: f64) -> String {
    if mean > 0.0 {
        format!("{:.0} %", 100.0 * part / mean)
    } else {
        "-".to_owned()
    }
}

fn change_label(change: &str) -> &str {
    match change {
        "add" => "one added",
        "remove" => "one removed",
        "remove_at_step" => "one removed across a subset-count step",
        other => other,
    }
}

/// Writes the section; nothing when there is no subsetting data.
pub(crate) fn section(out: &mut String, data: &Subsets) {
    let Some(first) = data.balance.first() else {
        return;
    };
    let _ = writeln!(
        out,
        "## Subsetting ({} clients, {} backends, subset size {})\n",
        thousands(first.clients),
        thousands(first.backends),
        first.subset_size
    );
    let last_id = first.clients.saturating_sub(1);
    let _ = write!(
        out,
        "Computed by the `report` binary with lb-discovery-static's own code, not timed. \
         **Connections per backend**: how many clients hold each backend when every client \
         takes its subset; `deterministic` is `Subset` (client ids 0 to {last_id}), `random` is \
         `RandomSubset` (gRPC A68, seeds 0 to {last_id}: one fleet; other seeds give other \
         extremes of the same spread). The SRE book (chapter 20) reports every backend at \
         exactly the same count for deterministic subsetting, and 63 % to 121 % of the mean for \
         random subsetting at subset size 90 of 300 backends (its Figure 20-3).\n\n",
    );
    let header = [
        "policy",
        "subset size",
        "min",
        "max",
        "mean",
        "min / mean",
        "max / mean",
    ]
    .map(str::to_owned);
    let rows: Vec<Vec<String>> = data
        .balance
        .iter()
        .map(|b| {
            vec![
                format!("`{}`", b.policy),
                b.subset_size.to_string(),
                b.min.to_string(),
                b.max.to_string(),
                format!("{:.1}", b.mean),
                percent(b.min as f64, b.mean),
                percent(b.max as f64, b.mean),
            ]
        })
        .collect();
    table(out, &header, &rows);
    if data.churn.is_empty() {
        return;
    }
    out.push_str(
        "**Churn**: backends changed in a client's subset (connections opened, which equals \
         those closed) when one backend is added or removed, max and mean over every client and \
         every trial (a trial per backend removed, or per new address added). The ideal is at \
         most one, for the clients whose subset the backend enters or leaves. Deterministic \
         subsetting shifts the windows after the change by one; when the change moves the \
         number of subsets per round, its rounds regroup and most subsets change.\n\n",
    );
    let header = ["policy", "change", "backends", "max", "mean", "trials"].map(str::to_owned);
    let rows: Vec<Vec<String>> = data
        .churn
        .iter()
        .map(|c| {
            vec![
                format!("`{}`", c.policy),
                change_label(&c.change).to_owned(),
                format!("{} → {}", thousands(c.from), thousands(c.to)),
                c.max.to_string(),
                format!("{:.3}", c.mean),
                thousands(c.trials),
            ]
        })
        .collect();
    table(out, &header, &rows);
}

#[cfg(test)]
mod tests {
    use super::super::data::Data;
    use super::*;

    const LINES: &str = r#"
{"kind":"subset_balance","policy":"deterministic","clients":300,"backends":300,"subset_size":10,"min":10,"max":10,"mean":10.0}
{"kind":"subset_balance","policy":"random","clients":300,"backends":300,"subset_size":90,"min":69,"max":112,"mean":90.0}
{"kind":"subset_churn","policy":"deterministic","change":"remove_at_step","clients":300,"subset_size":10,"from":295,"to":294,"trials":295,"max":10,"mean":9.0244}
{"kind":"subset_churn","policy":"random","change":"add","clients":300,"subset_size":10,"from":300,"to":301,"trials":300,"max":1,"mean":0.0344}
"#;

    #[test]
    fn reads_the_report_lines_and_renders_both_tables() {
        let mut data = Data::default();
        let warnings = data.add_lines("report.jsonl", LINES);
        assert!(warnings.is_empty(), "{warnings:?}");
        let mut out = String::new();
        section(&mut out, &data.subsets);
        assert!(
            out.starts_with("## Subsetting (300 clients, 300 backends, subset size 10)\n"),
            "{out}"
        );
        assert!(
            out.contains("| `deterministic` | 10 | 10 | 10 | 10.0 | 100 % | 100 % |"),
            "{out}"
        );
        assert!(
            out.contains("| `random` | 90 | 69 | 112 | 90.0 | 77 % | 124 % |"),
            "{out}"
        );
        assert!(
            out.contains(
                "| `deterministic` | one removed across a subset-count step | 295 → 294 | 10 | \
                 9.024 | 295 |"
            ),
            "{out}"
        );
        assert!(
            out.contains("| `random` | one added | 300 → 301 | 1 | 0.034 | 300 |"),
            "{out}"
        );
    }

    #[test]
    fn a_line_missing_a_field_is_a_warning_and_no_data_no_section() {
        let mut data = Data::default();
        let warnings = data.add_lines(
            "report.jsonl",
            r#"{"kind":"subset_churn","policy":"random","change":"add"}"#,
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(data.subsets.churn.is_empty());
        let mut out = String::new();
        section(&mut out, &data.subsets);
        assert!(out.is_empty());
    }
}
