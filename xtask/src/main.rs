//! `cargo xtask`: the project's chores, run the same way by a developer and by CI.
//!
//! The alias in `.cargo/config.toml` makes `cargo xtask <command>` run this binary. It has no
//! async runtime and few dependencies: `toml` (manifests), `serde_json` (benchmark results) and
//! plotters with only its SVG backend and line series (the benchmark report's plots), serde's
//! derive (typed JSON rows), jiff (dates and durations), and ureq and base64 (WebDriver over
//! loopback, for `screenshot`).
//!
//! Commands:
//!
//! - `cargo xtask ci [--skip <step>]...` runs every CI step in order and stops at the first
//!   failure: `fmt`, `tidy`, `clippy`, `test` (the command written in README.md), `pingora`
//!   (lb-pingora, a workspace of its own: needs cmake and a C compiler), `doc`, `bench`
//!   (compile only), `soak` (the soak test for 100 seconds) and `deny` (cargo-deny, installed
//!   when missing). `.ci/run` calls it.
//! - `cargo xtask tidy` checks the workspace conventions that no compiler checks: workspace lints,
//!   crate docs, no `ignore` doctests, dependencies declared once in the root manifest, and only the
//!   dependency edges that ARCHITECTURE.md allows. It also runs as a unit test, so
//!   `cargo test --workspace` fails when the tree is untidy.
//! - `cargo xtask bench [--quick]` runs the criterion benches, the quality, memory and
//!   million-backend tables, and the `health_scale` example's passes;
//!   `cargo xtask bench [--quick] --compare pingora` runs the comparison with
//!   pingora-load-balancing; both write `target/lb-report/report.md` with SVG plots from all the
//!   results there (see `bench/mod.rs`).
//! - `cargo xtask select-ab <rev> [--rounds N]` builds the `select` bench of an earlier
//!   revision and of this tree and runs them in turn, N times each: the quiet select rows of
//!   the budget (round robin, random, FNV hash) side by side (see `select_ab.rs`).
//! - `cargo xtask sim [--quick] [--scenario NAME]` builds the load-balancing simulator (`sim/`)
//!   in release mode and runs it: `target/lb-report/sim.md` with its plots, and on a full run of
//!   every scenario `docs/choosing-a-strategy.md`.
//! - `cargo xtask soak [--minutes N]` builds the soak program (`benches/src/bin/soak`) in
//!   release mode and runs it for N minutes (default 3): lb under churn and faults, checked
//!   all along, with its figures printed at the end.
//!
//! - `cargo xtask screenshot [--out PATH]` runs the reverse-proxy example's status page in a
//!   real headless Chromium (Debian's `chromium` and `chromium-driver`, over WebDriver), checks
//!   that every backend appears and that a stopped one turns unhealthy within two refreshes,
//!   and saves `docs/status-page.png`. Only this command needs a browser.
//!
//! Exit status: 0 on success, 1 when a check fails, 2 on a usage error.

mod bench;
mod ci;
mod pingora;
mod readme;
mod screenshot;
mod select_ab;
mod sim;
mod soak;
mod tidy;
mod when;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci [--skip <step>]...  run every CI step in order, stopping at the first failure;
                         steps: fmt, tidy, clippy, test, pingora, doc, bench,
                         soak, deny (pingora builds crates/lb-pingora: needs
                         cmake and a C compiler)
  tidy                   check workspace conventions: lints, crate docs, doctests,
                         dependency declarations and the edges allowed by ARCHITECTURE.md
  bench [--quick] [--compare pingora] [--report-only]
                         run lb's benchmarks and write target/lb-report/report.md with
                         plots; --quick takes about 2 minutes; --compare pingora runs
                         only the comparison with pingora-load-balancing 0.9.1 (needs
                         cmake) and adds it to the report; --report-only re-renders the
                         report from existing results
  select-ab <rev> [--rounds N]
                         the select bench's quiet rows (round robin, random, FNV hash)
                         of this tree against those of revision <rev>, both built and
                         run in turn N times (default 20); fails when a row's fastest
                         figure is more than 10 % above the revision's
  sim [--quick] [--scenario NAME]
                         run the load-balancing simulator (release build) over lb's
                         strategies and write target/lb-report/sim.md with plots; a
                         full run of every scenario also rewrites
                         docs/choosing-a-strategy.md; --quick runs 20 s of virtual
                         time per scenario instead of 60 s
  soak [--minutes N]     run the soak test (release build): 10,000 loopback backends
                         under churn and faults for N minutes (default 3), checked
                         throughout; prints its figures; CI runs it for 100 seconds
  screenshot [--out PATH]
                         check the reverse-proxy example's status page in headless
                         Chromium (apt-get install chromium chromium-driver) and save
                         a screenshot (default docs/status-page.png)
  help                   print this help
";

/// What the command line asked for.
#[derive(Debug, PartialEq)]
enum Command {
    Ci { skip: Vec<ci::StepName> },
    Tidy,
    Bench(bench::Options),
    SelectAb(select_ab::Options),
    Sim(sim::Options),
    Soak(soak::Length),
    Screenshot(screenshot::Options),
    Help,
}

/// Parses the arguments that follow `cargo xtask`; the error is a message for the user.
fn parse_args(args: &[String]) -> Result<Command, String> {
    let Some((command, rest)) = args.split_first() else {
        return Err("missing command".to_owned());
    };
    match command.as_str() {
        "ci" => {
            let mut skip = Vec::new();
            let mut rest = rest.iter();
            while let Some(arg) = rest.next() {
                let value = match arg.strip_prefix("--skip=") {
                    Some(value) => value,
                    None if arg == "--skip" => rest
                        .next()
                        .ok_or_else(|| "`--skip` needs a step name".to_owned())?,
                    None => return Err(format!("unknown argument to `ci`: `{arg}`")),
                };
                skip.push(value.parse::<ci::StepName>()?);
            }
            Ok(Command::Ci { skip })
        }
        "tidy" if rest.is_empty() => Ok(Command::Tidy),
        "tidy" => Err(format!(
            "`tidy` takes no arguments, got `{}`",
            rest.join(" ")
        )),
        "bench" => bench::Options::parse(rest).map(Command::Bench),
        "select-ab" => select_ab::Options::parse(rest).map(Command::SelectAb),
        "sim" => sim::Options::parse(rest).map(Command::Sim),
        "soak" => soak::Length::parse(rest).map(Command::Soak),
        "screenshot" => screenshot::Options::parse(rest).map(Command::Screenshot),
        "help" | "--help" | "-h" => Ok(Command::Help),
        other => Err(format!("unknown command `{other}`")),
    }
}

/// The cargo that runs xtask (`$CARGO`), else `cargo` from the path.
fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Where cargo builds: `$CARGO_TARGET_DIR` (under `root` when relative), else `root/target`.
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

/// The workspace root: the parent of this crate's folder, known at compile time, so the tool
/// works from any current directory.
fn workspace_root() -> PathBuf {
    let xtask_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask_dir.parent().unwrap_or(xtask_dir).to_path_buf()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse_args(&args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("xtask: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let root = workspace_root();
    match command {
        Command::Help => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Command::Tidy => {
            if tidy::run(&root) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Bench(options) => {
            if bench::run(&root, &options) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::SelectAb(options) => {
            if select_ab::run(&root, &options) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Sim(options) => {
            if sim::run(&root, &options) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Soak(length) => {
            if soak::run(&root, length) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Screenshot(options) => {
            if screenshot::run(&root, &options) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Ci { skip } => {
            if ci::run(&root, &skip) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command line's arguments, split on whitespace (the test helper of every command's
    /// argument parser).
    pub(crate) fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_commands() {
        assert_eq!(parse_args(&args("tidy")), Ok(Command::Tidy));
        assert_eq!(parse_args(&args("help")), Ok(Command::Help));
        assert_eq!(
            parse_args(&args("screenshot --out x.png")),
            Ok(Command::Screenshot(screenshot::Options {
                out: Some("x.png".into())
            }))
        );
        assert_eq!(parse_args(&args("--help")), Ok(Command::Help));
        assert_eq!(
            parse_args(&args("select-ab 297dc5a --rounds 4")),
            Ok(Command::SelectAb(select_ab::Options {
                base: "297dc5a".into(),
                rounds: 4
            }))
        );
        assert_eq!(parse_args(&args("ci")), Ok(Command::Ci { skip: vec![] }));
        assert_eq!(
            parse_args(&args("soak --minutes 2")),
            Ok(Command::Soak(soak::Length::Minutes(2.0)))
        );
        assert_eq!(
            parse_args(&args("ci --skip deny --skip=doc")),
            Ok(Command::Ci {
                skip: vec![ci::StepName::Deny, ci::StepName::Doc]
            })
        );
    }

    #[test]
    fn rejects_bad_usage() {
        assert_eq!(parse_args(&[]), Err("missing command".to_owned()));
        assert_eq!(
            parse_args(&args("bench --quick")),
            Ok(Command::Bench(bench::Options {
                quick: true,
                ..bench::Options::default()
            }))
        );
        assert_eq!(
            parse_args(&args("lint")),
            Err("unknown command `lint`".to_owned())
        );
        assert_eq!(
            parse_args(&args("ci --skip")),
            Err("`--skip` needs a step name".to_owned())
        );
        assert_eq!(
            parse_args(&args("ci --skip lint")),
            Err(
                "unknown ci step `lint`; steps: fmt, tidy, clippy, test, pingora, doc, bench, soak, deny"
                    .to_owned()
            )
        );
        assert_eq!(
            parse_args(&args("ci --fast")),
            Err("unknown argument to `ci`: `--fast`".to_owned())
        );
        assert_eq!(
            parse_args(&args("tidy now")),
            Err("`tidy` takes no arguments, got `now`".to_owned())
        );
    }

    #[test]
    fn workspace_root_holds_the_root_manifest() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml"))
            .expect("the root manifest is readable");
        assert!(manifest.contains("[workspace]"));
    }
}
