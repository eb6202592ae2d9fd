//! `report.md`: the tables of one benchmark run, with links to the plots.
//!
//! Every section says what its figures are (which API, which statistic) and comes from one part
//! of the run, whose conditions (date, mode, load, commit) head the report. A section whose data
//! is absent is left out.

use std::fmt::Write;
use std::time::Duration;

use super::compare;
use super::criterion::Medians;
use super::data::Data;
use super::machine::Meta;

/// Everything the report is made of.
#[derive(Debug)]
pub(crate) struct Inputs<'a> {
    pub(crate) medians: &'a Medians,
    pub(crate) data: &'a Data,
    pub(crate) metas: &'a [Meta],
    /// SVG file names (relative to the report) and their titles.
    pub(crate) plots: &'a [(String, String)],
}

/// Strategies of the select benches, in table order.
const SELECT_STRATEGIES: [&str; 13] = [
    "floor",
    "round_robin",
    "round_robin_golden",
    "random",
    "least_request",
    "peak_ewma",
    "fnv_hash",
    "consistent",
    "consistent_w1",
    "maglev",
    "rendezvous",
    "jump",
    "bounded_maglev",
];

/// Backend counts of the select benches.
const SIZES: [u64; 4] = [10, 100, 1_000, 10_000];

/// A duration given in ns: tenths of a ns below 100 ns, else three significant digits in the
/// largest unit that keeps the number at 1 or more.
pub(crate) fn time(ns: f64) -> String {
    fn three(v: f64) -> String {
        match v {
            v if v < 10.0 => format!("{v:.2}"),
            v if v < 100.0 => format!("{v:.1}"),
            v => format!("{v:.0}"),
        }
    }
    match ns {
        ns if !ns.is_finite() => "-".to_owned(),
        ns if ns < 100.0 => format!("{ns:.1} ns"),
        ns if ns < 1e3 => format!("{ns:.0} ns"),
        ns if ns < 1e6 => format!("{} µs", three(ns / 1e3)),
        ns if ns < 1e9 => format!("{} ms", three(ns / 1e6)),
        ns => format!("{} s", three(ns / 1e9)),
    }
}

/// Orders `w1` < `w1-10` < `w10000`: runs of digits compare as numbers.
pub(crate) fn natural_key(s: &str) -> Vec<(String, u64)> {
    let mut key = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (text, tail) = rest.split_at(split);
        let digits = tail
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (number, tail) = tail.split_at(digits);
        key.push((text.to_owned(), number.parse().unwrap_or(0)));
        rest = tail;
    }
    key
}

/// `10000` as `10,000`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A markdown table.
pub(crate) fn table(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
    out.push_str(&line(header));
    out.push_str(&line(&vec!["---".to_owned(); header.len()]));
    for row in rows {
        out.push_str(&line(row));
    }
    out.push('\n');
}

fn size_header(first: &str) -> Vec<String> {
    std::iter::once(first.to_owned())
        .chain(SIZES.iter().map(|n| format!("N = {}", thousands(*n))))
        .collect()
}

/// Rows of `strategies` × `SIZES`, a cell from `cell(strategy, n)`; rows without any figure are
/// dropped.
fn grid(strategies: &[&str], cell: impl Fn(&str, u64) -> Option<String>) -> Vec<Vec<String>> {
    strategies
        .iter()
        .filter_map(|s| {
            let cells: Vec<Option<String>> = SIZES.iter().map(|n| cell(s, *n)).collect();
            cells.iter().any(Option::is_some).then(|| {
                std::iter::once(format!("`{s}`"))
                    .chain(cells.into_iter().map(|c| c.unwrap_or_else(|| "-".into())))
                    .collect()
            })
        })
        .collect()
}

fn conditions(out: &mut String, metas: &[Meta]) {
    out.push_str("| part | mode | date | load average before → after | time | commit |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- |\n");
    for m in metas {
        let time =
            crate::when::duration(Duration::try_from_secs_f64(m.seconds).unwrap_or_default());
        let (part, mode, date, commit) = (&m.part, &m.mode, &m.date, &m.commit);
        let (before, after) = (m.load_before, m.load_after);
        let _ = writeln!(
            out,
            "| {part} | {mode} | {date} | {before:.2} → {after:.2} | {time} | `{commit}` |"
        );
    }
    if let Some(cpu) = metas.first().map(|m| &m.cpu) {
        let _ = writeln!(out, "\nMachine: {cpu}.");
    }
    out.push_str(
        "The load average counts the benchmarks themselves (about 1 while one thread runs, 2 \
         during the two-thread benches), so only the figure before the first part tells whether \
         other work was running: above 1 on a 2-CPU machine, the timings are pessimistic.\n\n",
    );
}

fn select_section(out: &mut String, inputs: &Inputs<'_>) {
    let m = inputs.medians;
    let med = |id: String| m.get(&id).map(|ns| time(*ns));
    let pick = grid(&SELECT_STRATEGIES, |s, n| {
        med(format!("select/{s}/pick/{n}"))
    });
    if pick.is_empty() {
        return;
    }
    out.push_str("## Select\n\n");
    out.push_str(
        "Time per select, one thread, criterion median; backends of weights 1 to 10 \
         (`consistent_w1`: weight 1; `round_robin_golden`: weights 1 to 100,003; `bounded_maglev`: \
         `Bounded<Maglev>` with no request in flight), a health check \
         set, 4,096 rotating 16-byte keys. `floor` is a strategy that always offers backend 0: \
         lb-core's own share of the path. Figures of a few ns move with code layout alone (where \
         the compiler inlines `select` into the timing loop, and the stores in flight around the \
         `Pick`'s two locked operations): `floor` can come out above strategies that do more. \
         The quiet table below times the same code in short batches.\n\n\
         **`LoadBalancer::select` → `Pick`** (owned, `Send`, keeps its generation alive; two \
         locked atomic operations per pick). This is what compares like for like with pingora's \
         `select`, which returns an owned `Backend`.\n\n",
    );
    table(out, &size_header("strategy"), &pick);
    out.push_str(
        "**`Selector::select` → `LocalPick`** (one `Selector` per worker caches the generation; \
         the pick borrows it). The fast path of a proxy worker.\n\n",
    );
    let selector = grid(&SELECT_STRATEGIES, |s, n| {
        med(format!("select/{s}/selector/{n}"))
    });
    table(out, &size_header("strategy"), &selector);
    let two = grid(&SELECT_STRATEGIES, |s, n| {
        let p = m.get(&format!("select_2threads/{s}/pick/{n}"))?;
        let l = m.get(&format!("select_2threads/{s}/selector/{n}"))?;
        Some(format!("{} / {}", time(*p), time(*l)))
    });
    if !two.is_empty() {
        out.push_str(
            "**Two threads** selecting at once from one load balancer: time per select on each \
             thread (the pair does two selects in that time), `Pick` / `Selector`.\n\n",
        );
        table(out, &size_header("strategy"), &two);
    }
    let quiet = |id: &str| inputs.data.quiet.iter().find(|q| q.id == id);
    let batches = grid(&SELECT_STRATEGIES, |s, n| {
        let p = quiet(&format!("select/{s}/pick/{n}"))?;
        let l = quiet(&format!("select/{s}/selector/{n}"))?;
        Some(format!("{} / {}", time(p.p10_ns), time(l.p10_ns)))
    });
    if !batches.is_empty() {
        out.push_str(
            "**Quiet batches**: the same selects in 2,000 batches of 1,000, 10th-percentile batch \
             (a batch is shorter than a scheduler time slice, so this resists other load), \
             `Pick` / `Selector`.\n\n",
        );
        table(out, &size_header("strategy"), &batches);
    }
    let held: Vec<Vec<String>> = ["round_robin", "least_request"]
        .iter()
        .filter_map(|s| {
            let cells: Vec<String> = [10, 10_000]
                .iter()
                .filter_map(|n| {
                    let drop = quiet(&format!("select_held/{s}/drop/{n}"))?;
                    let held = quiet(&format!("select_held/{s}/held_1000/{n}"))?;
                    Some(format!("{} / {}", time(drop.p10_ns), time(held.p10_ns)))
                })
                .collect();
            (cells.len() == 2).then(|| std::iter::once(format!("`{s}`")).chain(cells).collect())
        })
        .collect();
    if !held.is_empty() {
        out.push_str(
            "**Picks held**: `LoadBalancer::select` on a thread that drops each pick at once, \
             against one that holds the picks of its last 1,000 requests (a proxy worker with \
             1,000 requests in flight), quiet p10, dropped / held.\n\n",
        );
        let header = ["strategy", "N = 10", "N = 10,000"].map(str::to_owned);
        table(out, &header, &held);
    }
    let topology: Vec<Vec<String>> = ["round_robin", "consistent"]
        .iter()
        .flat_map(|s| [12, 10_002].map(move |n| (s, n)))
        .filter_map(|(s, n)| {
            let cells: Vec<String> = ["flat", "levels", "zones", "zones_spill"]
                .iter()
                .filter_map(|case| quiet(&format!("select_topology/{s}/{case}/{n}")))
                .map(|q| time(q.p10_ns))
                .collect();
            (cells.len() == 4).then(|| {
                std::iter::once(format!("`{s}`, N = {}", thousands(n)))
                    .chain(cells)
                    .collect()
            })
        })
        .collect();
    if !topology.is_empty() {
        out.push_str(
            "**Topology**: `Pick` through priority levels and zones, quiet p10: the set without \
             topology; two priority levels (level 0 healthy); three zones with zone-aware \
             routing, every request local; the same with half of the local zone down (60 % \
             local, the rest drawn across zones).\n\n",
        );
        let header = [
            "strategy",
            "flat",
            "2 levels",
            "3 zones",
            "3 zones, spilling",
        ]
        .map(str::to_owned);
        table(out, &header, &topology);
    }
    let lengths: Vec<Vec<String>> = ["fnv_hash", "consistent", "maglev"]
        .iter()
        .filter_map(|s| {
            let cells: Vec<String> = [4, 8, 16, 64]
                .iter()
                .filter_map(|len| quiet(&format!("key_length/{s}/pick/10000/{len}B")))
                .map(|q| time(q.p10_ns))
                .collect();
            (cells.len() == 4).then(|| std::iter::once(format!("`{s}`")).chain(cells).collect())
        })
        .collect();
    if !lengths.is_empty() {
        out.push_str("**Key length**: `Pick` at N = 10,000, quiet p10, by key length.\n\n");
        let header = ["strategy", "4 B", "8 B", "16 B", "64 B"].map(str::to_owned);
        table(out, &header, &lengths);
    }
}

/// A table of every criterion id `prefix/<row>/<column>`; rows and columns in id order.
fn prefix_table(out: &mut String, medians: &Medians, prefix: &str, first: &str) -> bool {
    let mut rows: Vec<(String, Vec<(String, f64)>)> = Vec::new();
    let mut columns: Vec<String> = Vec::new();
    for (id, ns) in medians.range(format!("{prefix}/")..) {
        let Some(rest) = id.strip_prefix(&format!("{prefix}/")) else {
            break;
        };
        let Some((row, column)) = rest.rsplit_once('/') else {
            continue;
        };
        if !columns.iter().any(|c| c == column) {
            columns.push(column.to_owned());
        }
        match rows.iter_mut().find(|(r, _)| r == row) {
            Some((_, cells)) => cells.push((column.to_owned(), *ns)),
            None => rows.push((row.to_owned(), vec![(column.to_owned(), *ns)])),
        }
    }
    if rows.is_empty() {
        return false;
    }
    rows.sort_by_key(|(row, _)| natural_key(row));
    columns.sort_by_key(|c| natural_key(c));
    let header: Vec<String> = std::iter::once(first.to_owned())
        .chain(columns.iter().map(|c| match c.parse::<u64>() {
            Ok(n) => format!("N = {}", thousands(n)),
            Err(_) => c.clone(),
        }))
        .collect();
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|(row, cells)| {
            std::iter::once(format!("`{row}`"))
                .chain(columns.iter().map(|c| {
                    cells
                        .iter()
                        .find(|(col, _)| col == c)
                        .map_or_else(|| "-".to_owned(), |(_, ns)| time(*ns))
                }))
                .collect()
        })
        .collect();
    table(out, &header, &body);
    true
}

fn build_section(out: &mut String, medians: &Medians) {
    let mut text = String::new();
    let mut any = false;
    for strategy in [
        "round_robin",
        "round_robin_golden",
        "random",
        "least_request",
        "fnv_hash",
        "consistent",
        "maglev",
        "rendezvous",
        "jump",
    ] {
        let prefix = format!("build/{strategy}");
        if medians.keys().any(|k| k.starts_with(&format!("{prefix}/"))) {
            let _ = writeln!(text, "`{strategy}`, by weights:\n");
            any |= prefix_table(&mut text, medians, &prefix, "weights");
        }
    }
    if !any {
        return;
    }
    out.push_str(
        "## Build\n\nBuilding one selector (`BackendSelection::build`), criterion median. \
         Weights `w1` = 1, `w1-10` = 1 to 10, `w10000` = 10,000 (consistent at `w10000`: \
         `point_multiple: Some(1)`, as 160 points per unit would exceed lb-ketama's limit), \
         `uneven` = 1 to 100,003.\n\n",
    );
    out.push_str(&text);
    if medians.keys().any(|k| k.starts_with("apply/")) {
        out.push_str(
            "The whole update, `LoadBalancer::apply` of a changed 10,000-backend set (weights \
             1 to 10):\n\n",
        );
        prefix_table(out, medians, "apply", "strategy");
    }
    if medians.keys().any(|k| k.starts_with("update/")) {
        out.push_str(
            "An update by change (the `update` bench): `delta_1` and `delta_10` apply a delta \
             adding or removing 1 or 10 backends of 10,000 (`LoadBalancer::apply_delta`, what \
             sources that track their changes answer), `full_1` applies the whole set with one \
             backend changed (`LoadBalancer::apply`, a polled source), criterion median:\n\n",
        );
        prefix_table(out, medians, "update", "strategy / change");
    }
}

fn ketama_section(out: &mut String, medians: &Medians) {
    let mut text = String::new();
    let build = prefix_table(&mut text, medians, "ketama/build", "ring build");
    let lookup = prefix_table(&mut text, medians, "ketama/lookup", "lookup");
    if build || lookup {
        out.push_str(
            "## lb-ketama\n\nRing build (N backends of weight 1, 160 points each; `v1` is \
             nginx's layout, `v2` the compact one; `_single_thread` forced onto one thread) and \
             lookup of one key (`binary_search` is the plain search the index is measured \
             against), criterion median.\n\n",
        );
        out.push_str(&text);
    }
}

fn tower_section(out: &mut String, medians: &Medians) {
    let mut text = String::new();
    if prefix_table(&mut text, medians, "tower/call", "service") {
        out.push_str(
            "## lb-tower\n\nOne request (`poll_ready`, `call`, one poll of the response) over \
             N inner services that answer at once, criterion median: `direct` is the inner \
             service alone, `lb_*` lb-tower's `Balance` over that strategy, `tower_p2c` \
             tower's p2c balancer over the same services with `PendingRequests`.\n\n",
        );
        out.push_str(&text);
    }
}

/// Renders the whole report.
pub(crate) fn render(inputs: &Inputs<'_>, command: &str) -> String {
    let mut out = String::from("# lb benchmark report\n\n");
    let _ = writeln!(
        out,
        "Written by `{command}`. Figures are this machine's, from the run whose conditions \
         follow; compare ratios measured in one run, not figures across runs.\n"
    );
    conditions(&mut out, inputs.metas);
    for (file, title) in inputs.plots {
        let _ = writeln!(out, "![{title}]({file})\n");
    }
    select_section(&mut out, inputs);
    build_section(&mut out, inputs.medians);
    ketama_section(&mut out, inputs.medians);
    tower_section(&mut out, inputs.medians);
    super::tables::memory_section(&mut out, inputs.data);
    super::tables::quality_section(&mut out, inputs.data);
    super::hashing::section(&mut out, inputs.data, inputs.medians);
    super::k8s::section(&mut out, inputs.medians);
    super::subset::section(&mut out, &inputs.data.subsets);
    compare::section(&mut out, inputs.data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_and_counts() {
        assert_eq!(time(5.25), "5.2 ns");
        assert_eq!(time(150.0), "150 ns");
        assert_eq!(time(4_582.0), "4.58 µs");
        assert_eq!(time(41_352.0), "41.4 µs");
        assert_eq!(time(1_359_600.0), "1.36 ms");
        assert_eq!(time(62_060_000.0), "62.1 ms");
        assert_eq!(time(2.5e10), "25.0 s");
        assert_eq!(time(f64::NAN), "-");
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn natural_order_compares_numbers_as_numbers() {
        let mut labels = vec!["w10000", "w1-10", "w1", "uneven", "v1_single_thread", "v1"];
        labels.sort_by_key(|l| natural_key(l));
        assert_eq!(
            labels,
            ["uneven", "v1", "v1_single_thread", "w1", "w1-10", "w10000"]
        );
        let mut sizes = vec!["10000", "10", "1000"];
        sizes.sort_by_key(|l| natural_key(l));
        assert_eq!(sizes, ["10", "1000", "10000"]);
    }

    #[test]
    fn prefix_tables_order_columns_by_size() {
        let medians: Medians = [
            ("ketama/build/v1/10000", 1.0e7),
            ("ketama/build/v1/10", 1.0e4),
            ("ketama/build/v2/10", 2.0e4),
            ("ketama/lookup/v1/10", 9.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let mut out = String::new();
        assert!(prefix_table(&mut out, &medians, "ketama/build", "ring"));
        assert_eq!(
            out,
            "| ring | N = 10 | N = 10,000 |\n| --- | --- | --- |\n\
             | `v1` | 10.0 µs | 10.0 ms |\n| `v2` | 20.0 µs | - |\n\n"
        );
        assert!(!prefix_table(&mut String::new(), &medians, "build", "x"));
    }

    #[test]
    fn the_select_section_shows_both_ways_to_pick() {
        let medians: Medians = [
            ("select/random/pick/10", 15.3),
            ("select/random/selector/10", 4.4),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let data = Data::default();
        let inputs = Inputs {
            medians: &medians,
            data: &data,
            metas: &[],
            plots: &[("select.svg".into(), "Select latency".into())],
        };
        let text = render(&inputs, "cargo xtask bench --quick");
        assert!(text.contains("`cargo xtask bench --quick`"), "{text}");
        assert!(text.contains("![Select latency](select.svg)"), "{text}");
        assert!(
            text.contains("**`LoadBalancer::select` → `Pick`**"),
            "{text}"
        );
        assert!(
            text.contains("| `random` | 15.3 ns | - | - | - |"),
            "{text}"
        );
        assert!(text.contains("| `random` | 4.4 ns | - | - | - |"), "{text}");
        // No data, no section.
        assert!(!text.contains("## Build"), "{text}");
        assert!(!text.contains("pingora-load-balancing 0.9.1"), "{text}");
    }

    #[test]
    fn the_topology_table_shows_a_row_per_strategy_and_size_with_all_four_cases() {
        let medians: Medians = [("select/round_robin/pick/10", 11.0)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let mut data = Data::default();
        for (case, ns) in [
            ("flat", 11.5),
            ("levels", 21.0),
            ("zones", 25.5),
            ("zones_spill", 35.1),
        ] {
            data.quiet.push(super::super::data::Quiet {
                id: format!("select_topology/round_robin/{case}/10002"),
                fastest_ns: ns,
                p10_ns: ns,
            });
        }
        // A row with a case missing is left out.
        data.quiet.push(super::super::data::Quiet {
            id: "select_topology/consistent/flat/12".into(),
            fastest_ns: 20.0,
            p10_ns: 20.0,
        });
        let inputs = Inputs {
            medians: &medians,
            data: &data,
            metas: &[],
            plots: &[],
        };
        let text = render(&inputs, "cargo xtask bench");
        assert!(
            text.contains("| `round_robin`, N = 10,002 | 11.5 ns | 21.0 ns | 25.5 ns | 35.1 ns |"),
            "{text}"
        );
        assert!(!text.contains("`consistent`, N = 12"), "{text}");
    }

    #[test]
    fn the_tower_section_lists_each_service() {
        let mut medians = Medians::new();
        medians.insert("tower/call/direct/10".to_owned(), 1.5);
        medians.insert("tower/call/tower_p2c/10".to_owned(), 400.0);
        let mut out = String::new();
        tower_section(&mut out, &medians);
        assert!(out.starts_with("## lb-tower"), "{out}");
        assert!(
            out.contains("`direct`") && out.contains("`tower_p2c`"),
            "{out}"
        );
        let mut none = String::new();
        tower_section(&mut none, &Medians::new());
        assert!(none.is_empty());
    }
}
