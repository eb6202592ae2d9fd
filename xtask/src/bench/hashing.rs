//! The consistent-hashing section: every consistent strategy side by side (lookup, select, build,
//! memory, balance, disruption), the outside references timed in the same run, and issue 15's
//! targets for Maglev judged on this run.

use std::fmt::Write;

use super::criterion::Medians;
use super::data::Data;
use super::report::{table, time};
use super::tables::per_backend;

/// lb's consistent strategies, in table order.
const STRATEGIES: [&str; 4] = ["consistent", "maglev", "rendezvous", "jump"];

/// Rows with a lookup time only: lb's raw functions and the outside references.
const LOOKUP_ONLY: [(&str, &str); 5] = [
    (
        "maglev_envoy_keys",
        "`maglev` with Envoy's key mapping (`KeyMapping::Envoy`)",
    ),
    ("lb_maglev", "`lb_maglev::Table::get` (Envoy's key mapping)"),
    ("jump_bucket", "`lb_selection::jump_bucket` (a `u64` key)"),
    ("maglev_crate", "crates.io `maglev` 0.2 (outside reference)"),
    (
        "jump_consistent_hash_crate",
        "crates.io `jump-consistent-hash` 0.1 (outside reference, a `u64` key)",
    ),
];

/// One target of the issue and how this run fared.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Target {
    pub(crate) what: &'static str,
    /// The figure measured, formatted, or `None` without data.
    pub(crate) measured: Option<String>,
    pub(crate) met: Option<bool>,
}

fn quiet(data: &Data, id: &str) -> Option<f64> {
    data.quiet.iter().find(|q| q.id == id).map(|q| q.p10_ns)
}

fn quality<'a>(data: &'a Data, s: &str, n: u64) -> Option<&'a super::data::Quality> {
    data.quality.iter().find(|q| q.strategy == s && q.n == n)
}

/// The targets of issue 15 for Maglev, judged on `data` and `medians`.
pub(crate) fn targets(data: &Data, medians: &Medians) -> Vec<Target> {
    let maglev = quiet(data, "select/maglev/selector/10000");
    let ketama = quiet(data, "select/consistent/selector/10000");
    let build = medians.get("build/maglev/w1/10000").copied();
    let slots = data.slots.iter().find(|s| s.n == 1_000 && s.weights == "1");
    let balance = quality(data, "maglev", 1_000).and_then(|q| {
        let floor = data.baselines.iter().find(|b| b.n == 1_000)?;
        Some((q.max_over_mean, floor.max_over_mean))
    });
    let moved = data
        .quality
        .iter()
        .filter(|q| q.strategy == "maglev")
        .map(|q| (q.moved_on_remove / q.ideal_remove, q.n))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    vec![
        Target {
            what: "Maglev select through `Selector`, N = 10,000, quiet p10 ≤ 15 ns",
            measured: maglev.map(time),
            met: maglev.map(|ns| ns <= 15.0),
        },
        Target {
            what: "Maglev ≥ 3× faster than ketama through `Selector`, N = 10,000, same run",
            measured: maglev
                .zip(ketama)
                .map(|(m, k)| format!("{:.1}× ({} / {})", k / m, time(k), time(m))),
            met: maglev.zip(ketama).map(|(m, k)| k / m >= 3.0),
        },
        Target {
            what: "Maglev build, N = 10,000, default table, < 40 ms",
            measured: build.map(time),
            met: build.map(|ns| ns < 40e6),
        },
        Target {
            what: "busiest backend's share of Maglev slots, N = 1,000, ≤ 1.02 × its fair share",
            measured: slots.map(|s| format!("{:.4}", s.max_over_fair)),
            met: slots.map(|s| s.max_over_fair <= 1.02),
        },
        Target {
            what: "Maglev key balance, N = 1,000, within 0.02 of the uniform floor",
            measured: balance.map(|(b, f)| format!("{b:.3} (floor {f:.3})")),
            met: balance.map(|(b, f)| b - f <= 0.02),
        },
        Target {
            what: "Maglev keys moved when one backend leaves ≤ 1.5 × the ideal 1/N (worst N)",
            measured: moved.map(|(r, n)| format!("{r:.2}× at N = {n}")),
            met: moved.map(|(r, _)| r <= 1.5),
        },
    ]
}

/// Maglev's keys moved on a removal at N = 1,000 by table size: every Maglev row that says the
/// size of its table (the default's, `maglev`, and the larger tables', `maglev_m{size}`).
fn disruption_by_size(out: &mut String, data: &Data) {
    let mut sizes: Vec<(u64, &super::data::Quality)> = data
        .quality
        .iter()
        .filter(|q| q.n == 1_000 && q.strategy.starts_with("maglev"))
        .filter_map(|q| Some((q.table_size?, q)))
        .collect();
    if sizes.len() < 2 {
        return;
    }
    sizes.sort_by_key(|(size, _)| *size);
    out.push_str(
        "**Maglev's disruption by table size**, N = 1,000 of weight 1 (the default table is \
         131,101 slots; 5,000,011 is Envoy's largest): keys moved when one backend leaves, × the \
         ideal 1/N.\n\n",
    );
    let rows: Vec<Vec<String>> = sizes
        .iter()
        .map(|(size, q)| {
            vec![
                format!("{size}"),
                format!("{}", size / 1_000),
                ratio(q.moved_on_remove, q.ideal_remove),
                format!("{:.3}", q.max_over_mean),
            ]
        })
        .collect();
    table(
        out,
        &[
            "table size",
            "slots per backend",
            "moved on remove",
            "balance",
        ]
        .map(str::to_owned),
        &rows,
    );
}

fn ratio(moved: f64, ideal: f64) -> String {
    format!("{moved:.4} ({:.2}×)", moved / ideal)
}

pub(crate) fn section(out: &mut String, data: &Data, medians: &Medians) {
    let lookups_of = |row: &str| -> Vec<String> {
        [10, 1_000, 10_000]
            .iter()
            .map(|n| {
                quiet(data, &format!("hashing/lookup/{row}/{n}")).map_or_else(|| "-".into(), time)
            })
            .collect()
    };
    let mut rows: Vec<Vec<String>> = Vec::new();
    for s in STRATEGIES {
        let q = quality(data, s, 1_000);
        let mut row = vec![format!("`{s}`")];
        row.extend(lookups_of(s));
        row.push(
            quiet(data, &format!("select/{s}/selector/10000")).map_or_else(|| "-".into(), time),
        );
        row.push(
            medians
                .get(&format!("build/{s}/w1/10000"))
                .map_or_else(|| "-".into(), |ns| time(*ns)),
        );
        row.push(
            data.memory
                .iter()
                .find(|m| m.strategy == s && m.n == 10_000 && m.weights == "1")
                .and_then(|m| m.bytes.as_ref().ok())
                .map_or_else(|| "-".into(), |b| per_backend(*b, 10_000)),
        );
        row.push(q.map_or_else(|| "-".into(), |q| format!("{:.3}", q.max_over_mean)));
        row.push(q.map_or_else(|| "-".into(), |q| ratio(q.moved_on_remove, q.ideal_remove)));
        row.push(q.map_or_else(|| "-".into(), |q| ratio(q.moved_on_add, q.ideal_add)));
        rows.push(row);
    }
    for (row_id, label) in LOOKUP_ONLY {
        let lookups = lookups_of(row_id);
        if lookups.iter().all(|l| l == "-") {
            continue;
        }
        let mut row = vec![label.to_owned()];
        row.extend(lookups);
        row.extend(std::iter::repeat_n("-".to_owned(), 6));
        rows.push(row);
    }
    if rows.iter().all(|r| r[1..].iter().all(|c| c == "-")) {
        return;
    }
    out.push_str(
        "## Consistent hashing side by side\n\n**Lookup**: the strategy's first pick alone \
         (`S::iter(key).next()`, no lb-core), quiet p10, backends of weight 1, 16-byte keys; the \
         outside references in the same run (the `maglev` crate is not built at N = 10,000: it \
         precomputes an N × M permutation, 80 GB). **`Selector`**: the whole select through a \
         per-worker `Selector`, quiet p10, weights 1 to 10. **Build** and **bytes per backend**: \
         N = 10,000 of weight 1 (criterion median; counted allocations). **Balance** and \
         **moved** (× the ideal): N = 1,000, 1,000,000 keys, as in the quality table; `jump`'s \
         removals are from the middle, which it does not promise to handle well (it moves keys \
         only onto a backend added at the end).\n\n",
    );
    let floor = data
        .baselines
        .iter()
        .find(|b| b.n == 1_000)
        .map_or_else(String::new, |b| {
            format!(" (uniform {:.3})", b.max_over_mean)
        });
    let header: Vec<String> = [
        "strategy".to_owned(),
        "lookup N = 10".to_owned(),
        "N = 1,000".to_owned(),
        "N = 10,000".to_owned(),
        "`Selector` N = 10,000".to_owned(),
        "build N = 10,000".to_owned(),
        "bytes per backend".to_owned(),
        format!("balance N = 1,000{floor}"),
        "moved on remove".to_owned(),
        "moved on add".to_owned(),
    ]
    .to_vec();
    table(out, &header, &rows);
    let busy: Vec<Vec<String>> = ["consistent", "maglev", "rendezvous"]
        .iter()
        .filter_map(|s| {
            let cells: Vec<String> = [10, 1_000, 10_000]
                .iter()
                .flat_map(|n| {
                    ["idle", "busy"].map(|state| {
                        quiet(data, &format!("hashing/bounded_{state}/{s}/{n}"))
                            .map_or_else(|| "-".into(), time)
                    })
                })
                .collect();
            (!cells.iter().all(|c| c == "-")).then(|| {
                std::iter::once(format!("`Bounded<{s}>`"))
                    .chain(cells)
                    .collect()
            })
        })
        .collect();
    if !busy.is_empty() {
        out.push_str(
            "**Bounded loads**: `LoadBalancer::select` of `Bounded<S>` (factor 125), quiet p10, \
             with no request in flight (*idle*) and with 4 in flight on every backend (*busy*: \
             the first candidate is near its cap, so the pick sums the loads of the set).\n\n",
        );
        let header = [
            "strategy",
            "N = 10 idle",
            "busy",
            "N = 1,000 idle",
            "busy",
            "N = 10,000 idle",
            "busy",
        ]
        .map(str::to_owned);
        table(out, &header, &busy);
    }
    let targets = targets(data, medians);
    if targets.iter().any(|t| t.measured.is_some()) {
        out.push_str("**Issue 15's targets for Maglev**, on this run:\n\n");
        let rows: Vec<Vec<String>> = targets
            .iter()
            .map(|t| {
                vec![
                    t.what.to_owned(),
                    t.measured.clone().unwrap_or_else(|| "no data".into()),
                    match t.met {
                        Some(true) => "met".into(),
                        Some(false) => "missed".into(),
                        None => "-".into(),
                    },
                ]
            })
            .collect();
        table(
            out,
            &["target", "measured", "verdict"].map(str::to_owned),
            &rows,
        );
        let _ = writeln!(
            out,
            "Maglev favours balance over minimal disruption: see lb-maglev's docs on disruption.\n"
        );
        disruption_by_size(out, data);
    }
}

#[cfg(test)]
mod tests {
    use super::super::data::{Baseline, Quality, Quiet, Slots};
    use super::*;

    fn quiet(id: &str, p10: f64) -> Quiet {
        Quiet {
            id: id.into(),
            fastest_ns: p10,
            p10_ns: p10,
        }
    }

    #[test]
    fn targets_are_judged_on_the_run() {
        let data = Data {
            quiet: vec![
                quiet("select/maglev/selector/10000", 12.0),
                quiet("select/consistent/selector/10000", 48.0),
            ],
            quality: vec![Quality {
                strategy: "maglev".into(),
                n: 1_000,
                max_over_mean: 1.125,
                moved_on_remove: 0.0067,
                ideal_remove: 0.001,
                moved_on_add: 0.001,
                ideal_add: 1.0 / 1001.0,
                table_size: Some(131_101),
            }],
            baselines: vec![Baseline {
                n: 1_000,
                max_over_mean: 1.112,
            }],
            slots: vec![Slots {
                n: 1_000,
                weights: "1".into(),
                max_over_fair: 1.01,
                min_over_fair: 0.99,
            }],
            ..Data::default()
        };
        let medians: Medians = [("build/maglev/w1/10000".to_owned(), 30e6)]
            .into_iter()
            .collect();
        let t = targets(&data, &medians);
        let verdicts: Vec<Option<bool>> = t.iter().map(|t| t.met).collect();
        assert_eq!(
            verdicts,
            [
                Some(true),
                Some(true),
                Some(true),
                Some(true),
                Some(true),
                Some(false)
            ]
        );
        assert_eq!(t[1].measured.as_deref(), Some("4.0× (48.0 ns / 12.0 ns)"));
        assert_eq!(t[5].measured.as_deref(), Some("6.70× at N = 1000"));
        let mut out = String::new();
        section(&mut out, &data, &medians);
        assert!(
            out.contains(
                "| `maglev` | - | - | - | 12.0 ns | 30.0 ms | - | 1.125 | 0.0067 (6.70×) |"
            ),
            "{out}"
        );
        assert!(
            out.contains("| Maglev keys moved when one backend leaves"),
            "{out}"
        );
        let mut empty = String::new();
        section(&mut empty, &Data::default(), &Medians::new());
        assert!(empty.is_empty(), "{empty}");
        assert!(!out.contains("by table size"), "one size alone: no table");

        // A larger table's row adds the disruption-by-size table, smallest table first.
        let mut data = data;
        data.quality.push(Quality {
            strategy: "maglev_m5000011".into(),
            moved_on_remove: 0.00168,
            table_size: Some(5_000_011),
            ..data.quality[0].clone()
        });
        let mut out = String::new();
        section(&mut out, &data, &medians);
        let at = |needle: &str| {
            out.find(needle)
                .unwrap_or_else(|| panic!("{needle}: {out}"))
        };
        assert!(
            at("| 131101 | 131 | 0.0067 (6.70×) | 1.125 |")
                < at("| 5000011 | 5000 | 0.0017 (1.68×) |")
        );
    }
}
