//! `docs/choosing-a-strategy.md`: which strategy for which situation, each answer computed from
//! the simulator's figures (the winner of the scenario by its measure) and shown with its
//! pictures, so that the page is rewritten, never edited, when lb changes.

use std::fmt::Write;
use std::io;
use std::path::{Path, PathBuf};

use crate::report::{Run, ms, percent, plot_names, scenario_table, steer, table, write_plots};
use crate::scenario::Scenario;
use crate::strategy::Strategy;
use crate::summary::Summary;

/// The file name of the guide in `docs/`.
pub const GUIDE: &str = "choosing-a-strategy.md";

/// The summaries of one scenario, by strategy name.
struct Figures<'a> {
    scenario: &'a Scenario,
    summaries: Vec<Summary>,
}

impl Figures<'_> {
    fn get(&self, strategy: Strategy) -> Option<&Summary> {
        self.summaries
            .iter()
            .find(|s| s.strategy == strategy.name())
    }

    /// The summary with the least `key` among `eligible` strategies (ties: the first).
    fn best(
        &self,
        eligible: impl Fn(Strategy) -> bool,
        key: impl Fn(&Summary) -> f64,
    ) -> Option<&Summary> {
        self.summaries
            .iter()
            .filter(|s| Strategy::from_name(s.strategy).is_some_and(&eligible))
            .filter(|s| key(s).is_finite())
            .min_by(|a, b| key(a).total_cmp(&key(b)))
    }

    fn picture(&self, which: usize) -> String {
        let (file, _) = &plot_names(self.scenario)[which];
        format!(
            "[{}](sim/{file})",
            if which == 0 { "latency" } else { "load" }
        )
    }
}

/// One row of the guide's table.
struct Row {
    situation: &'static str,
    choose: String,
    evidence: String,
    picture: String,
}

fn name(s: &Summary) -> String {
    format!("`{}`", s.strategy)
}

fn rows(run: &Run) -> Vec<Row> {
    let figures: Vec<Figures<'_>> = run
        .scenarios
        .iter()
        .map(|scenario| Figures {
            scenario,
            summaries: run.summaries(scenario),
        })
        .collect();
    let of = |n: &str| figures.iter().find(|f| f.scenario.name == n);
    let spread = |f: &Figures<'_>, key: fn(&Summary) -> f64| {
        let values: Vec<f64> = f
            .summaries
            .iter()
            .map(key)
            .filter(|v| v.is_finite())
            .collect();
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(0.0, f64::max);
        (lo, hi)
    };
    let mut rows = Vec::new();
    let all_equal_p99 = |s: Strategy| of("all-equal").and_then(|f| f.get(s)).map(|s| s.p99);
    if let Some(f) = of("all-equal")
        && let Some(w) = f.best(|s| !s.hashes(), |s| s.busiest)
    {
        let (lo, hi) = spread(f, |s| s.p99);
        rows.push(Row {
            situation: "Backends alike, requests without keys",
            choose: name(w),
            evidence: format!(
                "busiest server at {:.2} × its fair share; every strategy's p99 between {} and {}: \
                 with nothing going wrong the choice does not show in latency, so take the \
                 cheapest even spread",
                w.busiest,
                ms(lo),
                ms(hi)
            ),
            picture: f.picture(1),
        });
    }
    if let Some(f) = of("slow-backend")
        && let Some(w) = f.best(|_| true, |s| s.p99)
        && let Some(rr) = f.get(Strategy::RoundRobin)
    {
        let base = Strategy::from_name(w.strategy).and_then(all_equal_p99);
        let never: Vec<String> = f
            .summaries
            .iter()
            .filter(|s| s.steer == Some(crate::summary::Steer::Never))
            .map(name)
            .collect();
        rows.push(Row {
            situation: "A backend can turn slow (a slow dependency, a noisy neighbour)",
            choose: name(w),
            evidence: format!(
                "p99 {} (all alike: {}) against round robin's {}; traffic steered away after {}, \
                 where {} never steer",
                ms(w.p99),
                base.map_or_else(|| "-".to_owned(), ms),
                ms(rr.p99),
                w.steer.map_or_else(|| "-".to_owned(), steer),
                never.join(", ")
            ),
            picture: f.picture(0),
        });
    }
    if let Some(f) = of("overload")
        && let Some(w) = f.best(|_| true, |s| s.p99)
        && let Some(random) = f.get(Strategy::Random)
        && let Some(rr) = f.get(Strategy::RoundRobin)
    {
        rows.push(Row {
            situation: "Running near capacity",
            choose: name(w),
            evidence: format!(
                "p99 {} at 90 % load, against round robin's {} and random's {} (random choices \
                 queue up on the unlucky servers)",
                ms(w.p99),
                ms(rr.p99),
                ms(random.p99)
            ),
            picture: f.picture(0),
        });
    }
    if let Some(f) = of("failing-backend") {
        let (lo, hi) = spread(f, Summary::failed_share);
        let after = f
            .summaries
            .iter()
            .filter_map(|s| s.failed_after_ejection)
            .fold(0.0, f64::max);
        rows.push(Row {
            situation: "A backend fails some of its requests",
            choose: "any strategy, with `PassiveHealth` on".to_owned(),
            evidence: format!(
                "one server failing half its requests costs {} to {} of all requests, and at \
                 most {} after its first ejection: passive health, not the strategy, does the work",
                percent(lo),
                percent(hi),
                percent(after)
            ),
            picture: f.picture(1),
        });
    }
    if let Some(f) = of("weights")
        && let Some(w) = f.best(|_| true, |s| s.busiest)
        && let Some(jump) = f.get(Strategy::Jump)
    {
        rows.push(Row {
            situation: "Backends of different sizes (weights)",
            choose: format!("{} (any strategy with weights)", name(w)),
            evidence: format!(
                "busiest server at {:.2} × its weighted share; `jump`, which has no weights, \
                 sends its busiest server {:.2} × its weighted share and fails {} of requests",
                w.busiest,
                jump.busiest,
                percent(jump.failed_share())
            ),
            picture: f.picture(1),
        });
    }
    if let Some(f) = of("churn")
        && let Some(w) = f.best(Strategy::hashes, |s| {
            s.moved_on_remove.map_or(f64::NAN, |m| m.1) * 1e6 + s.moved_on_add.unwrap_or(1.0)
        })
    {
        let moved = |s: Strategy| {
            f.get(s)
                .and_then(|s| s.moved_on_remove)
                .map_or_else(|| "-".to_owned(), |m| percent(m.1))
        };
        rows.push(Row {
            situation: "Requests must stick to a backend by key (caches, sessions) while the set \
                        changes",
            choose: name(w),
            evidence: format!(
                "when a server leaves, {} of the other keys move ({} with `maglev`, {} with \
                 `jump`, {} with `fnv_hash`); when one joins, {} of all keys move (ideal: 1 in \
                 {})",
                w.moved_on_remove
                    .map_or_else(|| "-".to_owned(), |m| percent(m.1)),
                moved(Strategy::Maglev),
                moved(Strategy::Jump),
                moved(Strategy::FnvHash),
                w.moved_on_add.map_or_else(|| "-".to_owned(), percent),
                f.scenario.servers.len()
            ),
            picture: f.picture(1),
        });
    }
    if let Some(f) = of("hot-key")
        && let Some(w) = f.best(Strategy::hashes, |s| s.busiest)
        && let Some(plain) = f.get(Strategy::Consistent)
    {
        rows.push(Row {
            situation: "Keys stick, but some keys are hot",
            choose: name(w),
            evidence: format!(
                "busiest server at {:.2} × its share, p99 {}, {} failed; plain `consistent`: \
                 {:.2} ×, p99 {}, {} failed",
                w.busiest,
                ms(w.p99),
                percent(w.failed_share()),
                plain.busiest,
                ms(plain.p99),
                percent(plain.failed_share())
            ),
            picture: f.picture(1),
        });
    }
    if let Some(f) = of("zone-lost") {
        let (lo, hi) = spread(f, Summary::failed_share);
        let steered = f.summaries.first().and_then(|s| s.steer);
        rows.push(Row {
            situation: "A zone can be lost",
            choose: "`ZoneRouting` and an active health check (any strategy)".to_owned(),
            evidence: format!(
                "every strategy fails {} to {} of requests and steers away after {}: the health \
                 check's two failed probes 2 s apart decide, so shorten its interval rather than \
                 change the strategy",
                percent(lo),
                percent(hi),
                steered.map_or_else(|| "-".to_owned(), steer)
            ),
            picture: f.picture(1),
        });
    }
    rows
}

/// Renders the guide; its pictures are in `sim/` beside it.
pub fn render(run: &Run) -> String {
    let mut out = String::from("# Choosing a strategy\n\n");
    let _ = writeln!(
        out,
        "<!-- Written by `{}`: do not edit by hand; change lb-sim's `guide.rs` and run it. -->\n",
        run.command
    );
    out.push_str(
        "Every answer below is computed by lb's simulator (`lb-sim`, run by `cargo xtask sim`), \
         which drives lb's own strategies and policies through each situation in virtual time: \
         the strategy named is the one that did best there, by the measure in the evidence, and \
         the figures and pictures are that run's. The settings of every run (servers, load, \
         passive health, slow start, health check) are in the sections after the table; the \
         latency pictures show how many requests were slower than each latency (both axes \
         logarithmic, so the tail shows), the load pictures the requests each server received \
         per second.\n\n",
    );
    let body: Vec<Vec<String>> = rows(run)
        .into_iter()
        .map(|r| vec![r.situation.to_owned(), r.choose, r.evidence, r.picture])
        .collect();
    table(
        &mut out,
        &["situation", "choose", "evidence (simulated)", "picture"],
        &body,
    );
    out.push_str(
        "Where the answer is a policy rather than a strategy, the strategy column of the \
         scenario's table shows why: every strategy fares alike there.\n\n",
    );
    for scenario in &run.scenarios {
        let _ = writeln!(out, "## {}\n\n{}\n", scenario.title, scenario.description);
        scenario_table(&mut out, scenario, &run.summaries(scenario));
        for (file, alt) in plot_names(scenario) {
            let _ = writeln!(out, "![{alt}](sim/{file})\n");
        }
    }
    out
}

/// Writes the guide and its pictures into `docs`; returns the guide's path.
pub fn write(run: &Run, docs: &Path) -> io::Result<PathBuf> {
    write_plots(run, &docs.join("sim"))?;
    let path = docs.join(GUIDE);
    std::fs::write(&path, render(run))?;
    Ok(path)
}
