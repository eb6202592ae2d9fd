//! The million-backend section of the report: a whole load balancer over 1,000,000 backends,
//! from the `report` binary's `million` lines (its timings and its heap by part).

use std::fmt::Write;

use serde::Deserialize;

use super::report::{table, thousands, time};

/// The round-robin bytes per backend that issue 18 asks the whole load balancer to stay under.
pub(crate) const TARGET_BYTES: f64 = 300.0;

/// A `million` line: a run's figures, or why it failed.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum MillionLine {
    Failed {
        strategy: String,
        n: u64,
        error: String,
    },
    Row(Million),
}

impl From<MillionLine> for Million {
    fn from(line: MillionLine) -> Million {
        match line {
            MillionLine::Failed { strategy, n, error } => Million {
                error: Some(error),
                ..Million::failed(strategy, n)
            },
            MillionLine::Row(row) => row,
        }
    }
}

/// One strategy's load balancer over a million backends.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Million {
    pub(crate) strategy: String,
    pub(crate) n: u64,
    /// What went wrong, when the run failed; the figures are then zero.
    #[serde(default)]
    pub(crate) error: Option<String>,
    pub(crate) build_ns: f64,
    pub(crate) delta_add_ns: f64,
    pub(crate) delta_remove_ns: f64,
    pub(crate) select_ns: f64,
    pub(crate) drop_ns: f64,
    pub(crate) bytes: u64,
    pub(crate) set_bytes: u64,
    pub(crate) state_bytes: u64,
    pub(crate) health_bytes: u64,
    pub(crate) selector_bytes: u64,
    pub(crate) allocations: u64,
    pub(crate) build_peak_bytes: u64,
    pub(crate) delta_peak_bytes: u64,
}

impl Million {
    fn failed(strategy: String, n: u64) -> Million {
        Million {
            strategy,
            n,
            error: None,
            build_ns: 0.0,
            delta_add_ns: 0.0,
            delta_remove_ns: 0.0,
            select_ns: 0.0,
            drop_ns: 0.0,
            bytes: 0,
            set_bytes: 0,
            state_bytes: 0,
            health_bytes: 0,
            selector_bytes: 0,
            allocations: 0,
            build_peak_bytes: 0,
            delta_peak_bytes: 0,
        }
    }

    fn per(&self, bytes: u64) -> String {
        if self.n == 0 {
            return "-".to_owned();
        }
        let per = bytes as f64 / self.n as f64;
        if per < 10.0 {
            format!("{per:.2}")
        } else {
            format!("{per:.0}")
        }
    }
}

/// Writes the section; nothing when there is no such data.
pub(crate) fn section(out: &mut String, rows: &[Million]) {
    let Some(first) = rows.first() else {
        return;
    };
    let _ = write!(
        out,
        "## A million backends\n\n\
         A whole `LoadBalancer` over {} backends (`10.0.0.1:80` up, weight 1, a TCP health \
         check set), measured by the `report` binary on one thread: each step timed once on \
         this machine (`apply_delta` of one backend: the median of 3 adds and of 3 removes; \
         `select`: the mean of 1,000,000 picks), and the heap it holds counted by a counting \
         allocator (bytes asked for; the system allocator adds its own overhead to each \
         block). The parts: `set` the dense backends and the pointers to their states, \
         `states` one `Arc<BackendState>` each (sizes from the types), `health` the rest of \
         `Backends` (the private health registry: each backend's health lives in its state), \
         `selector` the rest \
         of the load balancer (the selector and the snapshot). Issue 18's target: under {} \
         bytes per backend for round robin.\n\n",
        thousands(first.n),
        TARGET_BYTES
    );
    let header = [
        "strategy",
        "build",
        "add one",
        "remove one",
        "select",
        "drop",
    ]
    .map(str::to_owned);
    let mut failed = Vec::new();
    let timings: Vec<Vec<String>> = rows
        .iter()
        .filter(|m| match &m.error {
            Some(e) => {
                failed.push(format!("`{}`: {e}", m.strategy));
                false
            }
            None => true,
        })
        .map(|m| {
            vec![
                format!("`{}`", m.strategy),
                time(m.build_ns),
                time(m.delta_add_ns),
                time(m.delta_remove_ns),
                time(m.select_ns),
                time(m.drop_ns),
            ]
        })
        .collect();
    if !timings.is_empty() {
        table(out, &header, &timings);
        let header = [
            "strategy",
            "bytes per backend",
            "set",
            "states",
            "health",
            "selector",
            "heap blocks per backend",
            "build peak",
            "delta peak",
        ]
        .map(str::to_owned);
        let bytes: Vec<Vec<String>> = rows
            .iter()
            .filter(|m| m.error.is_none())
            .map(|m| {
                vec![
                    format!("`{}`", m.strategy),
                    m.per(m.bytes),
                    m.per(m.set_bytes),
                    m.per(m.state_bytes),
                    m.per(m.health_bytes),
                    m.per(m.selector_bytes),
                    m.per(m.allocations),
                    m.per(m.build_peak_bytes),
                    m.per(m.delta_peak_bytes),
                ]
            })
            .collect();
        table(out, &header, &bytes);
    }
    for line in failed {
        let _ = writeln!(out, "Not measured: {line}.\n");
    }
    let _ = writeln!(out, "{}\n", verdict(rows));
}

/// Issue 18's target, judged on the round-robin row.
fn verdict(rows: &[Million]) -> String {
    let target = format!(
        "Target (issue 18): a whole round-robin load balancer over a million backends in under \
         {TARGET_BYTES:.0} bytes per backend"
    );
    match rows
        .iter()
        .find(|m| m.strategy == "round_robin" && m.error.is_none() && m.n > 0)
    {
        Some(m) => {
            let per = m.bytes as f64 / m.n as f64;
            let met = if per < TARGET_BYTES { "met" } else { "missed" };
            format!("{target}: **{met}** ({per:.0} bytes).")
        }
        None => format!("{target}: not measured."),
    }
}

#[cfg(test)]
mod tests {
    use super::super::data::Data;
    use super::*;

    const LINES: &str = r#"
{"kind":"million","strategy":"round_robin","n":1000000,"build_ns":2.5e9,"delta_add_ns":31000000,"delta_remove_ns":29500000,"select_ns":41.25,"drop_ns":350000000,"bytes":612000000,"set_bytes":56000000,"state_bytes":256000000,"health_bytes":296000000,"selector_bytes":4000000,"allocations":3000000,"build_peak_bytes":900000000,"delta_peak_bytes":60000000}
{"kind":"million","strategy":"maglev","n":1000000,"error":"table of 65537 entries too small"}
"#;

    #[test]
    fn reads_the_lines_and_renders_timings_and_bytes_per_backend() {
        let mut data = Data::default();
        let warnings = data.add_lines("report.jsonl", LINES);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(data.million.len(), 2);
        let mut out = String::new();
        section(&mut out, &data.million);
        assert!(out.starts_with("## A million backends\n"), "{out}");
        assert!(out.contains("over 1,000,000 backends"), "{out}");
        assert!(
            out.contains("| `round_robin` | 2.50 s | 31.0 ms | 29.5 ms | 41.2 ns | 350 ms |"),
            "{out}"
        );
        assert!(
            out.contains("| `round_robin` | 612 | 56 | 256 | 296 | 4.00 | 3.00 | 900 | 60 |"),
            "{out}"
        );
        assert!(
            out.contains("Not measured: `maglev`: table of 65537 entries too small."),
            "{out}"
        );
        assert!(!out.contains("| `maglev` |"), "{out}");
        assert!(
            out.contains("per backend: **missed** (612 bytes)."),
            "{out}"
        );
    }

    #[test]
    fn a_line_missing_a_field_is_a_warning_and_no_data_no_section() {
        let mut data = Data::default();
        let warnings = data.add_lines(
            "report.jsonl",
            r#"{"kind":"million","strategy":"random","n":1000000,"build_ns":1.0}"#,
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let mut out = String::new();
        section(&mut out, &data.million);
        assert!(out.is_empty());
        let mut small = Million::failed("round_robin".to_owned(), 1_000_000);
        small.bytes = 299_000_000;
        assert!(verdict(&[small]).ends_with("**met** (299 bytes)."));
        assert!(verdict(&[]).ends_with("not measured."));
    }
}
