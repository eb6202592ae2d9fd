//! The results sink: figures that criterion does not keep (the "quiet" batch timings, key-length
//! timings) are appended as JSON lines to the file named by `LB_BENCH_OUT`, which
//! `cargo xtask bench` sets and reads back into its report. Without the variable, the figures are
//! only printed.
//!
//! One line per figure: `{"kind":"quiet","id":"select/round_robin/pick/10","fastest_ns":4.1,
//! "p10_ns":4.3}`. Consumers ignore kinds and fields they do not know.

use std::io::{self, Write};
use std::path::Path;

use serde_json::Value;

/// The environment variable naming the JSON-lines file to append to.
pub const ENV: &str = "LB_BENCH_OUT";

/// Appends `record` as one line to the file named by [`ENV`], when it is set. A file that cannot
/// be written is reported on standard error once per record; the bench goes on.
pub fn record(record: &Value) {
    let Some(path) = std::env::var_os(ENV) else {
        return;
    };
    let path = Path::new(&path);
    if let Err(err) = append(path, record) {
        eprintln!(
            "lb-benches: cannot append to {} ({ENV}): {err}",
            path.display()
        );
    }
}

/// Appends `record` as one JSON line to `path`, creating the file if needed.
pub fn append(path: &Path, record: &Value) -> io::Result<()> {
    let line = format!("{record}\n");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(line.as_bytes())
}

/// Per-select time of the fastest batch and of the 10th-percentile batch, in ns, from per-batch
/// times in ns per select. `None` for no batches.
pub fn fastest_and_p10(mut batches: Vec<f64>) -> Option<(f64, f64)> {
    batches.sort_by(f64::total_cmp);
    let fastest = *batches.first()?;
    Some((fastest, batches[batches.len() / 10]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_writes_one_json_line_per_record() {
        let path =
            std::env::temp_dir().join(format!("lb-benches-record-{}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&path);
        append(&path, &serde_json::json!({"kind": "quiet", "p10_ns": 4.5})).expect("writable");
        append(&path, &serde_json::json!({"kind": "quiet", "id": "a\"b"})).expect("writable");
        let text = std::fs::read_to_string(&path).expect("readable");
        std::fs::remove_file(&path).expect("removable");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["p10_ns"], 4.5);
        assert_eq!(lines[1]["id"], "a\"b");
    }

    #[test]
    fn fastest_and_p10_pick_order_statistics() {
        let batches: Vec<f64> = (0..20).rev().map(f64::from).collect();
        assert_eq!(fastest_and_p10(batches), Some((0.0, 2.0)));
        assert_eq!(fastest_and_p10(vec![3.5]), Some((3.5, 3.5)));
        assert_eq!(fastest_and_p10(Vec::new()), None);
    }
}
