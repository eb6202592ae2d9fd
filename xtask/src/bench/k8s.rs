//! The Kubernetes section: one watch event through lb-discovery-k8s to a published set (the
//! `k8s` bench), and issue 18's target for it judged on this run: under 1 ms of processing for
//! an event changing one endpoint of a 10,000-endpoint Service.

use std::fmt::Write;

use super::criterion::Medians;
use super::report::{table, time};

/// The target, in nanoseconds.
const TARGET_NS: f64 = 1e6;

/// The rows: bench name under `k8s/watch_event/`, and what it measures.
const ROWS: [(&str, &str); 5] = [
    (
        "state",
        "one endpoint starts or stops terminating: store, change log, `discover_changes` (a \
         one-state delta), `update`",
    ),
    (
        "metadata",
        "one endpoint changes zone: the same, a one-backend upsert",
    ),
    (
        "store",
        "the state event in the store and the change log alone",
    ),
    (
        "unchanged",
        "the same slice again: nothing found, `update` answered unchanged",
    ),
    (
        "full_rebuild",
        "the state event as before: the whole merged set recomputed and compared, a backend \
         built per endpoint, `update` from the whole set",
    ),
];

/// Appends the section when the run has the `k8s` bench.
pub(crate) fn section(out: &mut String, medians: &Medians) {
    let median = |row: &str| {
        medians
            .get(&format!("k8s/watch_event/{row}/10000"))
            .copied()
    };
    let rows: Vec<Vec<String>> = ROWS
        .iter()
        .filter_map(|(row, what)| {
            let ns = median(row)?;
            Some(vec![format!("`{row}`"), (*what).to_owned(), time(ns)])
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    out.push_str(
        "## Kubernetes watch events\n\nOne watch event (`Apply` of one decoded 1,000-endpoint \
         EndpointSlice) of a Service of 10,000 endpoints in 10 slices, processed through \
         lb-discovery-k8s (fed by hand: `testing::Feed`, no network) to a published \
         `LoadBalancer<RoundRobin>` set; criterion median.\n\n",
    );
    table(
        out,
        &["event".into(), "what is timed".into(), "median".into()],
        &rows,
    );
    let verdict = match median("state").zip(median("metadata")) {
        Some((state, metadata)) => {
            let worst = state.max(metadata);
            format!(
                "{} (worst {})",
                if worst < TARGET_NS { "met" } else { "missed" },
                time(worst)
            )
        }
        None => "no data".to_owned(),
    };
    let _ = writeln!(
        out,
        "Target (issue 18): an event changing one endpoint of a 10,000-endpoint Service reaches \
         a published set in under 1 ms of processing (`state` and `metadata`): {verdict}.\n"
    );
    if let (Some(new), Some(old)) = (median("state"), median("full_rebuild")) {
        let _ = writeln!(
            out,
            "The same event costs {:.3} of the whole-set path (`state` / `full_rebuild`).\n",
            new / old
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn medians(rows: &[(&str, f64)]) -> Medians {
        rows.iter()
            .map(|(row, ns)| (format!("k8s/watch_event/{row}/10000"), *ns))
            .collect()
    }

    #[test]
    fn judges_the_worst_of_the_one_endpoint_events() {
        let mut out = String::new();
        section(
            &mut out,
            &medians(&[("state", 300e3), ("metadata", 400e3), ("full_rebuild", 6e6)]),
        );
        assert!(out.contains("| `state` |"), "{out}");
        assert!(out.contains("met (worst 400 µs)"), "{out}");
        assert!(out.contains("0.050 of the whole-set path"), "{out}");
        let mut out = String::new();
        section(&mut out, &medians(&[("state", 300e3), ("metadata", 1.2e6)]));
        assert!(out.contains("missed (worst 1.20 ms)"), "{out}");
        assert!(!out.contains("whole-set path"), "{out}");
    }

    #[test]
    fn nothing_without_the_bench() {
        let mut out = String::new();
        section(&mut out, &Medians::new());
        assert!(out.is_empty());
    }
}
