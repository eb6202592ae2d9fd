//! `cargo xtask bench [--quick] [--compare pingora] [--report-only]`: run the benchmarks and
//! write `<target>/lb-report/report.md` with its SVG plots.
//!
//! `cargo xtask bench` runs lb's own benchmarks in two parts; `cargo xtask bench --compare
//! pingora` runs only the comparison with pingora-load-balancing, so that it can be run alone
//! on a quiet machine. Each part leaves its data in `<target>/lb-report/data/` with a
//! `<part>.meta.json` of its conditions (date, mode, load average, commit, time), and the report
//! is rendered from all the data there, so the two commands add up to one report:
//!
//! 1. `criterion`: `cargo bench -p lb-benches` (benches `select`, `build`, `ketama`, `tower`,
//!    `hashing`, `k8s`, `update`) with
//!    `CRITERION_HOME=<target>/lb-report/criterion` (cleared first, so the report holds only this
//!    run) and `LB_BENCH_OUT=data/benches.jsonl` for the figures criterion does not keep.
//!    `--quick` passes `--warm-up-time 0.1 --measurement-time 0.3 --nresamples 5000` to
//!    criterion instead of the benches' own settings.
//! 2. `report`: `cargo run --release -p lb-benches --bin report` (quality, memory, subsetting
//!    and million-backend tables).
//! 3. `health`: `cargo run --release -p lb-examples --example health_scale` (TCP passes over
//!    100,000 loopback backends, HTTP/1.1 over 10,000; `--quick`: 10,000 and 1,000). Backends
//!    marked unhealthy fail the part, after its data is written.
//! 4. `compare` (`--compare pingora`): builds `benches/compare-pingora`, a crate outside the
//!    workspace that depends on pingora-load-balancing 0.9.1 (it needs cmake and a C compiler),
//!    and runs its `compare` and `memory` binaries (`--quick`: fewer rounds). A first-pick
//!    mismatch on IPv4 sets fails the command (after the report is written).
//!
//! `--report-only` runs nothing and renders the report from the data already there.
//! `<target>` is `$CARGO_TARGET_DIR`, else `target` in the workspace root.

mod compare;
mod criterion;
mod data;
mod hashing;
mod health;
mod k8s;
mod machine;
mod million;
mod plot;
mod report;
mod subset;
mod tables;
mod targets;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use self::data::Data;
use self::machine::Meta;

/// What `cargo xtask bench` was asked to do.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    /// Short criterion timings and fewer comparison rounds.
    pub(crate) quick: bool,
    /// Run the pingora comparison (only).
    pub(crate) compare_pingora: bool,
    /// Run nothing; render the report from existing data.
    pub(crate) report_only: bool,
}

impl Options {
    /// Parses the arguments after `bench`; the error is a message for the user.
    pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options::default();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let compare = match arg.strip_prefix("--compare=") {
                Some(value) => Some(value),
                None if arg == "--compare" => Some(
                    rest.next()
                        .map(String::as_str)
                        .ok_or("`--compare` needs a name: `--compare pingora`")?,
                ),
                None => None,
            };
            match (arg.as_str(), compare) {
                (_, Some("pingora")) => options.compare_pingora = true,
                (_, Some(other)) => {
                    return Err(format!(
                        "unknown comparison `{other}`; the one available is `pingora`"
                    ));
                }
                ("--quick", None) => options.quick = true,
                ("--report-only", None) => options.report_only = true,
                (other, None) => return Err(format!("unknown argument to `bench`: `{other}`")),
            }
        }
        if options.report_only && (options.quick || options.compare_pingora) {
            return Err("`--report-only` runs nothing, so it takes no other option".to_owned());
        }
        Ok(options)
    }

    fn mode(&self) -> &'static str {
        if self.quick { "quick" } else { "full" }
    }

    fn command_line(&self) -> String {
        let mut line = "cargo xtask bench".to_owned();
        if self.quick {
            line.push_str(" --quick");
        }
        if self.compare_pingora {
            line.push_str(" --compare pingora");
        }
        if self.report_only {
            line.push_str(" --report-only");
        }
        line
    }
}

/// Where a run reads and writes.
#[derive(Debug)]
struct Paths {
    target: PathBuf,
    report: PathBuf,
    data: PathBuf,
    criterion: PathBuf,
}

impl Paths {
    fn new(root: &Path, cargo_target_dir: Option<OsString>) -> Paths {
        let target = match cargo_target_dir {
            Some(dir) if !dir.is_empty() => root.join(dir),
            _ => root.join("target"),
        };
        let report = target.join("lb-report");
        Paths {
            data: report.join("data"),
            criterion: report.join("criterion"),
            report,
            target,
        }
    }
}

/// Runs `cargo xtask bench`; returns whether every part succeeded.
pub(crate) fn run(root: &Path, options: &Options) -> bool {
    let paths = Paths::new(root, std::env::var_os("CARGO_TARGET_DIR"));
    if let Err(err) = std::fs::create_dir_all(&paths.data) {
        eprintln!("error: cannot create {}: {err}", paths.data.display());
        return false;
    }
    let cargo = crate::cargo();
    let mut ok = true;
    if !options.report_only {
        let load = machine::load();
        println!("==> load average {load:.2} before the run");
        if load > 1.0 {
            println!(
                "    other work is using the CPUs: timings will be pessimistic; re-run when the \
                 load average is below 1"
            );
        }
        let own: [(&str, PartFn); 3] = [
            ("criterion", criterion_part),
            ("report", report_part),
            ("health", health_part),
        ];
        let compare: [(&str, PartFn); 1] = [("compare", compare_part)];
        let parts: &[(&str, PartFn)] = if options.compare_pingora {
            &compare
        } else {
            &own
        };
        for &(part, body) in parts {
            if let Err(err) = run_part(root, &paths, &cargo, options, part, body) {
                eprintln!("error: bench part `{part}` failed: {err}");
                ok = false;
                // A failed comparison or health run still has data worth a report (the failing
                // check's rows).
                if !matches!(part, "compare" | "health") {
                    return false;
                }
            }
        }
    }
    ok & write_report(&paths, options)
}

type PartFn = fn(&Path, &Paths, &OsString, &Options) -> Result<(), String>;

fn run_part(
    root: &Path,
    paths: &Paths,
    cargo: &OsString,
    options: &Options,
    part: &str,
    body: PartFn,
) -> Result<(), String> {
    println!("\n==> {part}");
    let date = crate::when::now();
    let load_before = machine::load();
    let started = Instant::now();
    let result = body(root, paths, cargo, options);
    let meta = Meta {
        part: part.to_owned(),
        mode: options.mode().to_owned(),
        date,
        cpu: machine::cpu(),
        load_before,
        load_after: machine::load(),
        commit: machine::commit(root),
        seconds: started.elapsed().as_secs_f64(),
    };
    println!(
        "<== {part}: {} in {} (load average {:.2} → {:.2})",
        if result.is_ok() { "ok" } else { "FAILED" },
        crate::when::duration(started.elapsed()),
        meta.load_before,
        meta.load_after
    );
    let path = paths.data.join(format!("{part}.meta.json"));
    let json = serde_json::to_string(&meta).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::write(&path, json + "\n")
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    result
}

fn remove(path: &Path) -> Result<(), String> {
    let removed = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match removed {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("cannot remove {}: {e}", path.display()))
        }
        _ => Ok(()),
    }
}

fn status(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    println!("     {shown}");
    let status = command
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

fn criterion_part(
    root: &Path,
    paths: &Paths,
    cargo: &OsString,
    options: &Options,
) -> Result<(), String> {
    let out = paths.data.join("benches.jsonl");
    remove(&paths.criterion)?;
    remove(&out)?;
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["bench", "-p", "lb-benches"])
        .args([
            "--bench", "select", "--bench", "build", "--bench", "ketama", "--bench", "tower",
            "--bench", "hashing", "--bench", "k8s", "--bench", "update", "--",
        ])
        .env("CRITERION_HOME", &paths.criterion)
        .env("LB_BENCH_OUT", &out);
    if options.quick {
        command.args([
            "--warm-up-time",
            "0.1",
            "--measurement-time",
            "0.3",
            "--nresamples",
            "5000",
        ]);
    }
    status(&mut command)
}

fn report_part(root: &Path, paths: &Paths, cargo: &OsString, _: &Options) -> Result<(), String> {
    let out = paths.data.join("report.jsonl");
    remove(&out)?;
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args([
            "run",
            "--release",
            "-p",
            "lb-benches",
            "--bin",
            "report",
            "--",
            "--out",
        ])
        .arg(&out);
    status(&mut command)
}

fn health_part(
    root: &Path,
    paths: &Paths,
    cargo: &OsString,
    options: &Options,
) -> Result<(), String> {
    let out = paths.data.join("health.jsonl");
    remove(&out)?;
    let mut command = Command::new(cargo);
    command.current_dir(root).args([
        "run",
        "--release",
        "-p",
        "lb-examples",
        "--example",
        "health_scale",
        "--",
    ]);
    if options.quick {
        command.arg("--quick");
    }
    command.arg("--out").arg(&out);
    status(&mut command)
}

fn compare_part(
    root: &Path,
    paths: &Paths,
    cargo: &OsString,
    options: &Options,
) -> Result<(), String> {
    let has_cmake = Command::new("cmake")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_cmake {
        return Err(
            "the comparison builds pingora-core, whose zlib-ng build needs cmake and a C \
                    compiler: install them (Debian: `apt-get install cmake build-essential`)"
                .to_owned(),
        );
    }
    let manifest = root.join("benches/compare-pingora/Cargo.toml");
    let outputs = [
        ("compare", paths.data.join("compare.jsonl")),
        ("memory", paths.data.join("compare-memory.jsonl")),
    ];
    for (_, out) in &outputs {
        remove(out)?;
    }
    let mut first_error = None;
    for (bin, out) in &outputs {
        let mut command = Command::new(cargo);
        command
            .current_dir(root)
            .args(["run", "--release", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&paths.target)
            .args(["--bin", bin, "--"]);
        if options.quick && *bin == "compare" {
            command.arg("--quick");
        }
        command.arg("--out").arg(out);
        if let Err(err) = status(&mut command) {
            first_error.get_or_insert(err);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Every `*.jsonl` and `*.meta.json` in the data folder, in name order.
fn load(paths: &Paths) -> (Data, Vec<Meta>, Vec<String>) {
    let mut data = Data::default();
    let mut metas = Vec::new();
    let mut warnings = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&paths.data)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for file in &files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(text) = std::fs::read_to_string(file) else {
            warnings.push(format!("{}: unreadable", file.display()));
            continue;
        };
        if name.ends_with(".meta.json") {
            match serde_json::from_str(&text) {
                Ok(meta) => metas.push(meta),
                Err(e) => {
                    warnings.push(format!("{}: not a part's conditions: {e}", file.display()))
                }
            }
        } else if name.ends_with(".jsonl") {
            warnings.extend(data.add_lines(&name, &text));
        }
    }
    // The parts in the order they run.
    let order = |m: &Meta| {
        ["criterion", "report", "health", "compare"]
            .iter()
            .position(|p| *p == m.part)
    };
    metas.sort_by_key(order);
    (data, metas, warnings)
}

fn write_report(paths: &Paths, options: &Options) -> bool {
    let (medians, mut warnings) = criterion::load(&paths.criterion);
    let (data, metas, more) = load(paths);
    warnings.extend(more);
    let mut plots = Vec::new();
    let strategies = [
        "floor",
        "round_robin",
        "random",
        "least_request",
        "peak_ewma",
        "fnv_hash",
        "consistent",
        "maglev",
    ];
    let charts = [
        (
            "select.svg",
            plot::select_chart(&medians, &strategies, &[10, 100, 1_000, 10_000]),
        ),
        ("balance.svg", plot::balance_chart(&data)),
        ("disruption.svg", plot::disruption_chart(&data)),
    ];
    for (file, chart) in charts {
        if chart.series.is_empty() {
            continue;
        }
        match plot::draw(&chart, &paths.report.join(file)) {
            Ok(()) => plots.push((file.to_owned(), chart.title.clone())),
            Err(err) => warnings.push(format!("plot {file}: {err}")),
        }
    }
    let inputs = report::Inputs {
        medians: &medians,
        data: &data,
        metas: &metas,
        plots: &plots,
    };
    let text = report::render(&inputs, &options.command_line());
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    let path = paths.report.join("report.md");
    if let Err(err) = std::fs::write(&path, text) {
        eprintln!("error: cannot write {}: {err}", path.display());
        return false;
    }
    if !data.compare_select.is_empty() {
        let when = metas
            .iter()
            .find(|m| m.part == "compare")
            .map_or_else(String::new, |m| format!(" (measured {})", m.date));
        println!(
            "\n==> lb / pingora-load-balancing 0.9.1{when}\n{}",
            compare::summary(&data)
        );
    }
    println!(
        "\nreport: {} ({} benchmarks, {} plots)",
        path.display(),
        medians.len(),
        plots.len()
    );
    true
}

#[cfg(test)]
mod tests;
