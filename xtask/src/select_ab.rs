//! `cargo xtask select-ab <rev> [--rounds N]`: the select bench's quiet rows of this tree against
//! those of an earlier revision, measured turn about on this machine.
//!
//! The quiet figure of one row (the fastest of 2,000 batches, `lb_benches::quiet`) is steady
//! within one process but not between processes: on a shared machine one run of a binary may
//! land in a slow mode for a whole row (a quarter to a half slower), the same binary's next run
//! not. Two binaries compared from one run each therefore compare their luck. This command
//! builds the `select` bench of `<rev>` (its source from `git archive`, built in
//! `<target>/select-ab/`) and of the working tree, runs the two in turn `N` times (default 20;
//! the order alternates each round), each run limited to round robin, random and FNV hash
//! (`LB_SELECT_ONLY`; revisions older than that variable run every strategy, only slower), and
//! prints for each row the fastest figure of either binary over all its runs and the median,
//! with their ratios. It writes the same table to `<target>/lb-report/select-ab.md`.
//!
//! Exit status 1 when a row's ratio of fastest figures is above 1.10 (the second edition of
//! lb-core's budget: select within 10 % of what it was).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The strategies the select budget covers.
const STRATEGIES: [&str; 3] = ["round_robin", "random", "fnv_hash"];

/// The largest ratio (this tree / the revision) of a row's fastest figures that passes.
const LIMIT: f64 = 1.10;

/// A criterion filter that matches no benchmark: the runs print their quiet rows only.
const NO_CRITERION: &str = "select-ab-quiet-rows-only";

/// What `cargo xtask select-ab` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    /// The revision compared against (anything `git rev-parse` reads).
    pub(crate) base: String,
    /// Runs of each binary.
    pub(crate) rounds: usize,
}

impl Options {
    /// Parses the arguments after `select-ab`; the error is a message for the user.
    pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
        let mut base = None;
        let mut rounds = 20;
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let value = match arg.strip_prefix("--rounds=") {
                Some(value) => Some(value),
                None if arg == "--rounds" => {
                    Some(rest.next().ok_or("`--rounds` needs a number")?.as_str())
                }
                None => None,
            };
            match value {
                Some(value) => {
                    rounds = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        format!("`--rounds` takes a positive number, not `{value}`")
                    })?;
                }
                None if arg.starts_with('-') => {
                    return Err(format!("unknown argument to `select-ab`: `{arg}`"));
                }
                None if base.is_some() => {
                    return Err(format!(
                        "`select-ab` takes one revision, got a second: `{arg}`"
                    ));
                }
                None => base = Some(arg.clone()),
            }
        }
        let base = base.ok_or("`select-ab` needs the revision to compare with")?;
        Ok(Options { base, rounds })
    }
}

/// One quiet row of a run: `select/<strategy>/<pick|selector>/<n>` and its fastest batch in ns.
/// Reads both the current line (`quiet select/...: fastest batch 8.2 ns, ...`) and the older
/// one (`select/quiet select/...: fastest batch 8.2 ns, ...`).
fn quiet_row(line: &str) -> Option<(String, f64)> {
    let (_, rest) = line.split_once("quiet select/")?;
    let (row, rest) = rest.split_once(": fastest batch ")?;
    let ns = rest.split_once(" ns")?.0.trim().parse::<f64>().ok()?;
    let mut parts = row.split('/');
    let (strategy, kind, n) = (parts.next()?, parts.next()?, parts.next()?);
    let wanted = STRATEGIES.contains(&strategy)
        && matches!(kind, "pick" | "selector")
        && n.parse::<usize>().is_ok()
        && parts.next().is_none();
    (wanted && ns.is_finite()).then(|| (format!("select/{row}"), ns))
}

/// The runs' figures of one row: the revision's, then this tree's.
type Runs = BTreeMap<String, (Vec<f64>, Vec<f64>)>;

/// The sort key of a row: strategy in [`STRATEGIES`] order, pick before selector, by size.
fn row_order(row: &str) -> (usize, String, usize) {
    let mut parts = row.split('/').skip(1);
    let strategy = parts.next().unwrap_or_default();
    let kind = parts.next().unwrap_or_default().to_owned();
    let n = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let at = STRATEGIES.iter().position(|s| *s == strategy);
    (at.unwrap_or(STRATEGIES.len()), kind, n)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn fastest(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NAN, f64::min)
}

/// The table (markdown) and the worst ratio of fastest figures with its row; rows either
/// binary lacks are left out.
fn table(base: &str, rounds: usize, runs: &Runs) -> (String, Option<(f64, String)>) {
    let mut rows: Vec<_> = runs
        .iter()
        .filter(|(_, (b, n))| !b.is_empty() && !n.is_empty())
        .collect();
    rows.sort_by_key(|(row, _)| row_order(row));
    let mut out = format!(
        "Quiet select rows, ns per select: `{base}` against this tree, {rounds} runs of each \
         in turn.\n\n\
         | row | {base} fastest | now fastest | ratio | {base} median | now median | ratio |\n\
         |---|---:|---:|---:|---:|---:|---:|\n"
    );
    let mut worst: Option<(f64, String)> = None;
    for (row, (b, n)) in rows {
        let (bf, nf, bm, nm) = (fastest(b), fastest(n), median(b), median(n));
        let ratio = nf / bf;
        let _ = writeln!(
            out,
            "| {row} | {bf:.1} | {nf:.1} | {ratio:.2} | {bm:.1} | {nm:.1} | {:.2} |",
            nm / bm
        );
        if worst.as_ref().is_none_or(|(w, _)| ratio > *w) {
            worst = Some((ratio, row.clone()));
        }
    }
    (out, worst)
}

/// The path of the `select` bench executable that `cargo bench --no-run` built, from its JSON
/// messages.
fn select_executable(messages: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "select")
        .filter(|m| {
            m["target"]["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "bench"))
        })
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
}

/// Builds the `select` bench of the tree at `dir` (with `target_dir` as its target directory
/// when given) and returns its executable.
fn build(cargo: &OsString, dir: &Path, target_dir: Option<&Path>) -> Result<PathBuf, String> {
    let mut command = Command::new(cargo);
    command
        .args(["bench", "-p", "lb-benches", "--bench", "select", "--no-run"])
        .args(["--message-format", "json-render-diagnostics"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(target_dir) = target_dir {
        command.env("CARGO_TARGET_DIR", target_dir);
    }
    println!("     building the select bench in {}", dir.display());
    let output = command
        .output()
        .map_err(|e| format!("could not start cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "building the select bench in {} failed ({})",
            dir.display(),
            output.status
        ));
    }
    select_executable(&String::from_utf8_lossy(&output.stdout))
        .ok_or_else(|| format!("cargo built no `select` bench in {}", dir.display()))
}

/// The full commit name of `rev`.
fn resolve(root: &Path, rev: &str) -> Result<String, String> {
    let output = Command::new("git")
        .args(["rev-parse", "--verify", "--quiet"])
        .arg(format!("{rev}^{{commit}}"))
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not start git: {e}"))?;
    let sha = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() && !sha.is_empty() {
        Ok(sha)
    } else {
        Err(format!("`{rev}` names no commit of this repository"))
    }
}

/// The source of commit `sha` in `dir` (`git archive`, kept for the next run).
fn extract(root: &Path, sha: &str, dir: &Path) -> Result<(), String> {
    if dir.join("Cargo.toml").is_file() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut git = Command::new("git")
        .args(["archive", "--format=tar", sha])
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start git archive: {e}"))?;
    let archive = git.stdout.take().ok_or("git archive gave no output")?;
    let tar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(dir)
        .stdin(archive)
        .status()
        .map_err(|e| format!("could not start tar: {e}"))?;
    let git = git.wait().map_err(|e| format!("git archive: {e}"))?;
    if git.success() && tar.success() {
        Ok(())
    } else {
        // Half an extraction must not pass for a whole one next time.
        let _ = std::fs::remove_dir_all(dir);
        Err(format!(
            "extracting {sha} into {} failed (git {git}, tar {tar})",
            dir.display()
        ))
    }
}

/// One run of `exe`: its quiet rows of the budget's strategies.
fn run_once(exe: &Path) -> Result<Vec<(String, f64)>, String> {
    let output = Command::new(exe)
        .args(["--bench", NO_CRITERION])
        .env("LB_SELECT_ONLY", STRATEGIES.join(","))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("could not start {}: {e}", exe.display()))?;
    if !output.status.success() {
        return Err(format!("{} failed ({})", exe.display(), output.status));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(quiet_row)
        .collect())
}

/// Runs `cargo xtask select-ab`; whether every row is within the budget.
pub(crate) fn run(root: &Path, options: &Options) -> bool {
    match compare(root, options) {
        Ok(within) => within,
        Err(err) => {
            eprintln!("error: select-ab: {err}");
            false
        }
    }
}

fn compare(root: &Path, options: &Options) -> Result<bool, String> {
    let cargo = crate::cargo();
    let target = crate::target_dir(root);
    let sha = resolve(root, &options.base)?;
    let short = &sha[..sha.len().min(12)];
    let work = target.join("select-ab");
    let source = work.join(format!("src-{short}"));
    extract(root, &sha, &source)?;
    let base_exe = build(&cargo, &source, Some(&work.join("target")))?;
    let now_exe = build(&cargo, root, None)?;
    println!(
        "==> {} runs of each, in turn (about {} s)",
        options.rounds,
        options.rounds * 3
    );
    let mut runs = Runs::new();
    for round in 0..options.rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            let exe = if which == 0 { &base_exe } else { &now_exe };
            for (row, ns) in run_once(exe)? {
                let entry = runs.entry(row).or_default();
                if which == 0 {
                    &mut entry.0
                } else {
                    &mut entry.1
                }
                .push(ns);
            }
        }
    }
    let (text, worst) = table(short, options.rounds, &runs);
    let (verdict, within) = match &worst {
        Some((ratio, row)) if *ratio <= LIMIT => (
            format!("every row within {LIMIT:.2} of {short}: worst {ratio:.2} ({row})"),
            true,
        ),
        Some((ratio, row)) => (
            format!("past {LIMIT:.2} of {short}: {ratio:.2} ({row})"),
            false,
        ),
        None => ("no row measured by both binaries".to_owned(), false),
    };
    let text = format!("{text}\n{verdict}\n");
    print!("\n{text}");
    let out = target.join("lb-report").join("select-ab.md");
    std::fs::create_dir_all(target.join("lb-report"))
        .and_then(|()| std::fs::write(&out, &text))
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!("(written to {})", out.display());
    Ok(within)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::args;

    #[test]
    fn parses_a_revision_and_rounds() {
        let o = Options::parse(&args("297dc5a")).unwrap();
        assert_eq!((o.base.as_str(), o.rounds), ("297dc5a", 20));
        let o = Options::parse(&args("--rounds 5 main~3")).unwrap();
        assert_eq!((o.base.as_str(), o.rounds), ("main~3", 5));
        assert_eq!(Options::parse(&args("v1 --rounds=7")).unwrap().rounds, 7);
        assert!(
            Options::parse(&args(""))
                .unwrap_err()
                .contains("needs the revision")
        );
        assert!(Options::parse(&args("a b")).unwrap_err().contains("second"));
        assert!(
            Options::parse(&args("a --rounds 0"))
                .unwrap_err()
                .contains("positive")
        );
        assert!(
            Options::parse(&args("a --rounds"))
                .unwrap_err()
                .contains("needs a number")
        );
        assert!(
            Options::parse(&args("a --fast"))
                .unwrap_err()
                .contains("`--fast`")
        );
    }

    #[test]
    fn reads_both_line_formats_and_only_the_budgets_rows() {
        assert_eq!(
            quiet_row(
                "quiet select/round_robin/pick/10: fastest batch 11.4 ns, p10 11.9 ns per operation"
            ),
            Some(("select/round_robin/pick/10".to_owned(), 11.4))
        );
        assert_eq!(
            quiet_row(
                "select/quiet select/fnv_hash/selector/10000: fastest batch 17.0 ns, p10 17.8 ns per select"
            ),
            Some(("select/fnv_hash/selector/10000".to_owned(), 17.0))
        );
        // Other strategies, other benches and broken lines are not rows of the budget.
        assert_eq!(
            quiet_row("quiet select/maglev/pick/10: fastest batch 9.0 ns"),
            None
        );
        assert_eq!(
            quiet_row("quiet key_length/fnv_hash/pick/10000/4B: fastest batch 9.0 ns"),
            None
        );
        assert_eq!(
            quiet_row("quiet select/random/pick/10: fastest batch fast ns"),
            None
        );
        assert_eq!(
            quiet_row("quiet select/random/pick/10/x: fastest batch 1.0 ns"),
            None
        );
        assert_eq!(quiet_row("Benchmarking select/random/pick/10"), None);
    }

    #[test]
    fn the_table_orders_rows_and_judges_the_fastest_figures() {
        let mut runs = Runs::new();
        runs.insert(
            "select/fnv_hash/pick/10".into(),
            (vec![17.0, 30.0, 17.2], vec![24.0, 17.5, 23.0]),
        );
        runs.insert(
            "select/round_robin/pick/100".into(),
            (vec![11.0, 11.2], vec![11.5, 11.1]),
        );
        runs.insert(
            "select/round_robin/pick/10".into(),
            (vec![10.0], vec![12.0]),
        );
        // Measured by one binary only: left out.
        runs.insert("select/random/pick/10".into(), (vec![], vec![9.0]));
        let (text, worst) = table("abc", 3, &runs);
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("| select/"))
            .collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("| select/round_robin/pick/10 | 10.0 | 12.0 | 1.20 |"));
        assert!(lines[1].starts_with("| select/round_robin/pick/100 | 11.0 | 11.1 | 1.01 |"));
        // Fastest 17.0 against 17.5; medians 17.2 against 23.0.
        assert_eq!(
            lines[2],
            "| select/fnv_hash/pick/10 | 17.0 | 17.5 | 1.03 | 17.2 | 23.0 | 1.34 |"
        );
        let (ratio, row) = worst.unwrap();
        assert!((ratio - 1.2).abs() < 1e-9);
        assert_eq!(row, "select/round_robin/pick/10");
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(table("abc", 1, &Runs::new()).1.is_none());
    }

    #[test]
    fn finds_the_select_bench_among_cargos_messages() {
        let messages = [
            r#"{"reason":"compiler-artifact","target":{"name":"lb_core","kind":["lib"]},"executable":null}"#,
            r#"{"reason":"compiler-artifact","target":{"name":"select","kind":["lib"]},"executable":null}"#,
            "not json",
            r#"{"reason":"compiler-artifact","target":{"name":"select","kind":["bench"]},"executable":"/t/release/deps/select-1"}"#,
            r#"{"reason":"build-finished","success":true}"#,
        ]
        .join("\n");
        assert_eq!(
            select_executable(&messages),
            Some(PathBuf::from("/t/release/deps/select-1"))
        );
        assert_eq!(select_executable(r#"{"reason":"build-finished"}"#), None);
    }
}
