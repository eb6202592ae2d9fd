//! `sim.md`: the figures of every run, a table per scenario, with its plots.

use std::fmt::Write;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::plot;
use crate::record::Record;
use crate::scenario::Scenario;
use crate::summary::{Steer, Summary};

/// A finished simulation: the scenarios run, every record, and how it was run.
#[derive(Debug)]
pub struct Run {
    /// The scenarios, in report order.
    pub scenarios: Vec<Scenario>,
    /// The records, in scenario order then strategy order.
    pub records: Vec<Record>,
    /// The seed of every run.
    pub seed: u64,
    /// The command that made it (`cargo xtask sim --quick`).
    pub command: String,
}

impl Run {
    /// The records of `scenario`.
    pub fn records_of<'a>(&'a self, scenario: &str) -> Vec<&'a Record> {
        self.records
            .iter()
            .filter(|r| r.scenario == scenario)
            .collect()
    }

    /// The summaries of `scenario`'s records, in strategy order.
    pub fn summaries(&self, scenario: &Scenario) -> Vec<Summary> {
        self.records_of(scenario.name)
            .into_iter()
            .map(|r| Summary::of(scenario, r))
            .collect()
    }
}

/// `63.1 ms`, `1.49 s`.
pub fn ms(v: f64) -> String {
    match v {
        v if !v.is_finite() => "-".to_owned(),
        v if v >= 1000.0 => format!("{:.2} s", v / 1000.0),
        v if v >= 100.0 => format!("{v:.0} ms"),
        v => format!("{v:.1} ms"),
    }
}

/// `0.52 %`, `0 %`.
pub fn percent(share: f64) -> String {
    match share {
        0.0 => "0 %".to_owned(),
        s if s < 0.001 => format!("{:.3} %", s * 100.0),
        s if s < 0.1 => format!("{:.2} %", s * 100.0),
        s => format!("{:.1} %", s * 100.0),
    }
}

/// `0.3 s`, `never`.
pub fn steer(steer: Steer) -> String {
    match steer {
        Steer::After(d) => seconds(d),
        Steer::Never => "never".to_owned(),
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// A markdown table.
pub fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", " --- |".repeat(header.len()));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out.push('\n');
}

/// The plots of one scenario, as `(file name, alt text)`: latency, then load.
pub fn plot_names(scenario: &Scenario) -> [(String, String); 2] {
    [
        (
            format!("{}-latency.svg", scenario.name),
            format!("{}: latency per strategy", scenario.title),
        ),
        (
            format!("{}-load.svg", scenario.name),
            format!("{}: requests per second per server", scenario.title),
        ),
    ]
}

/// Writes both plots of every scenario into `dir`.
pub fn write_plots(run: &Run, dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for scenario in &run.scenarios {
        let records = run.records_of(scenario.name);
        let [(latency, _), (load, _)] = plot_names(scenario);
        let title = format!("{}: requests slower than each latency", scenario.title);
        plot::write(&dir.join(latency), |p| plot::latency(&records, &title, p))?;
        let title = format!("{}: requests per second to each server", scenario.title);
        plot::write(&dir.join(load), |p| plot::load(&records, &title, p))?;
    }
    Ok(())
}

/// One scenario's table.
pub fn scenario_table(out: &mut String, scenario: &Scenario, summaries: &[Summary]) {
    let keys = summaries
        .iter()
        .any(|s| s.moved_on_remove.is_some() || s.moved_on_add.is_some());
    let steers = summaries.iter().any(|s| s.steer.is_some());
    let mut header = vec![
        "strategy",
        "p50",
        "p99",
        "p99.9",
        "busiest / fair",
        "failed",
    ];
    if keys {
        header.extend([
            "keys moved on remove: its own / others",
            "keys moved on add",
        ]);
    }
    if steers {
        header.push("steered away after");
    }
    let _ = scenario;
    let rows: Vec<Vec<String>> = summaries
        .iter()
        .map(|s| {
            let mut row = vec![
                format!("`{}`", s.strategy),
                ms(s.p50),
                ms(s.p99),
                ms(s.p999),
                format!("{:.2}", s.busiest),
                percent(s.failed_share()),
            ];
            if keys {
                row.push(s.moved_on_remove.map_or_else(
                    || "-".to_owned(),
                    |(own, others)| format!("{} / {}", percent(own), percent(others)),
                ));
                row.push(s.moved_on_add.map_or_else(|| "-".to_owned(), percent));
            }
            if steers {
                row.push(s.steer.map_or_else(|| "-".to_owned(), steer));
            }
            row
        })
        .collect();
    table(out, &header, &rows);
}

/// Renders `sim.md`, its plots in `sim/` beside it.
pub fn render(run: &Run) -> String {
    let mut out = String::from("# lb simulator report\n\n");
    let _ = writeln!(
        out,
        "Written by `{}`, seed {}. Every figure comes from lb's own strategies and policies \
         driven in virtual time (tokio's paused clock) by `lb-sim`: requests arrive at random \
         (Poisson), go through `LoadBalancer::select` and report their outcome and latency \
         through their `Pick` when they end; servers have log-normal service times, serve a \
         number of requests at once, queue up to 8 times that many and refuse the rest. \
         Passive health (its defaults: 5 failures in a row or success-rate outlier detection \
         eject a backend for 30 s, then probation; at most 10 % of the backends ejected at once) \
         and slow start (10 s) are on in every run, and an active health check probes every 2 s \
         (2 results in a row flip a server's health).\n",
        run.command, run.seed
    );
    out.push_str(
        "**Columns.** Latency percentiles of the successful requests (queueing included). \
         **busiest / fair**: the busiest server's requests over its fair share by weight, among \
         the servers the scenario leaves alone (1.00 is perfect). **failed**: refused, failed \
         by the server, or no backend. **keys moved** (hashing strategies): of the keys seen on \
         both sides of a change, the share whose server changed; on removal, for the removed \
         server's keys (which must all move) and for the others (ideally none). **steered away \
         after**: how long after a server turned bad its share of requests fell below half of \
         what it was, and stayed there for two seconds.\n\n",
    );
    for scenario in &run.scenarios {
        let _ = writeln!(out, "## {}\n", scenario.title);
        let _ = writeln!(
            out,
            "{} {} requests per second ({:.0} % of the fleet's capacity of {:.0}), {} of \
             virtual time.\n",
            scenario.description,
            scenario.rate,
            100.0 * scenario.rate / scenario.capacity(),
            scenario.capacity(),
            seconds(scenario.duration)
        );
        scenario_table(&mut out, scenario, &run.summaries(scenario));
        for (file, alt) in plot_names(scenario) {
            let _ = writeln!(out, "![{alt}](sim/{file})\n");
        }
    }
    out
}

/// Writes `sim.md` and its plots into `dir`; returns the report's path.
pub fn write(run: &Run, dir: &Path) -> io::Result<PathBuf> {
    write_plots(run, &dir.join("sim"))?;
    let path = dir.join("sim.md");
    std::fs::write(&path, render(run))?;
    Ok(path)
}
