//! `cargo xtask ci`: every check CI makes, in order, each with a header and a time.
//!
//! The run stops at the first failing step. Every child process gets a null standard input, so a
//! step that would prompt fails instead of hanging. The last line printed is the test tally
//! (`tests: N passed, N failed, N skipped`), taken from the test step's own output.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::pingora;
use crate::readme::{self, ReadmeError};
use crate::soak;
use crate::tidy;
use crate::when;

/// The version range of cargo-deny whose `deny.toml` format this repository uses; installed when
/// `cargo deny` is missing.
const CARGO_DENY_VERSION: &str = "^0.20";

/// One step of the CI run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepName {
    /// `cargo fmt --all --check`.
    Fmt,
    /// The tidy checks, in-process.
    Tidy,
    /// Clippy on every target and feature, warnings as errors.
    Clippy,
    /// The test command written in README.md.
    Test,
    /// lb-pingora, a workspace of its own: fmt, clippy, docs, tests, no OpenSSL, its example's demo.
    Pingora,
    /// Rustdoc with warnings as errors.
    Doc,
    /// Compiles (never runs) the benches.
    Bench,
    /// The soak test for 100 seconds, built in release mode.
    Soak,
    /// cargo-deny: bans, licenses, sources (and advisories where a database is on the machine).
    Deny,
}

impl StepName {
    /// Every step, in the order CI runs them.
    pub(crate) const ALL: [Self; 9] = [
        Self::Fmt,
        Self::Tidy,
        Self::Clippy,
        Self::Test,
        Self::Pingora,
        Self::Doc,
        Self::Bench,
        Self::Soak,
        Self::Deny,
    ];

    /// The name used on the command line (`--skip <name>`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Fmt => "fmt",
            Self::Tidy => "tidy",
            Self::Clippy => "clippy",
            Self::Test => "test",
            Self::Pingora => "pingora",
            Self::Doc => "doc",
            Self::Bench => "bench",
            Self::Soak => "soak",
            Self::Deny => "deny",
        }
    }
}

impl FromStr for StepName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|step| step.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|step| step.as_str()).collect();
                format!("unknown ci step `{s}`; steps: {}", names.join(", "))
            })
    }
}

/// Why a step failed.
#[derive(Debug)]
enum StepError {
    /// The program could not be started at all.
    Spawn { command: String, source: io::Error },
    /// The program ran and exited unsuccessfully.
    Failed { command: String, status: ExitStatus },
    /// README.md could not be read.
    ReadmeUnreadable { path: PathBuf, source: io::Error },
    /// README.md has no runnable test command.
    Readme(ReadmeError),
    /// Tidy found problems (already printed) or could not read the workspace.
    Tidy(String),
    /// lb-pingora cannot be built here, or its tree brings OpenSSL.
    Pingora(String),
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Spawn { command, source } => write!(f, "could not start `{command}`: {source}"),
            Self::Failed { command, status } => write!(f, "`{command}` failed ({status})"),
            Self::ReadmeUnreadable { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            Self::Readme(err) => err.fmt(f),
            Self::Tidy(message) | Self::Pingora(message) => f.write_str(message),
        }
    }
}

/// The test counts read from libtest's `test result:` lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct TestTally {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl TestTally {
    /// Adds the counts of one `test result: ok. 3 passed; 0 failed; 1 ignored; ...` line; any
    /// other line leaves the tally as it is.
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        // "ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s"
        let Some((_outcome, counts)) = rest.split_once(". ") else {
            return;
        };
        for part in counts.split(';') {
            let mut words = part.split_whitespace();
            let (Some(count), Some(label)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(count) = count.parse::<u64>() else {
                continue;
            };
            match label {
                "passed" => self.passed += count,
                "failed" => self.failed += count,
                "ignored" => self.ignored += count,
                _ => {}
            }
        }
    }
}

impl fmt::Display for TestTally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.ignored
        )
    }
}

/// Runs the CI steps not in `skip`, in order; returns whether all of them passed.
pub(crate) fn run(root: &Path, skip: &[StepName]) -> bool {
    let runner = Runner {
        cargo: crate::cargo(),
        root: root.to_path_buf(),
    };
    let started = Instant::now();
    let mut tally: Option<TestTally> = None;
    // Each step run, with its outcome and time; `None` for a skipped step.
    let mut report: Vec<(StepName, Option<(&str, Duration)>)> = Vec::new();
    let total = StepName::ALL.len();
    let mut ok = true;
    for (index, step) in StepName::ALL.into_iter().enumerate() {
        let name = step.as_str();
        if skip.contains(&step) {
            println!(
                "\n==> [{}/{total}] {name}: skipped (--skip {name})",
                index + 1
            );
            report.push((step, None));
            continue;
        }
        println!("\n==> [{}/{total}] {name}", index + 1);
        let step_started = Instant::now();
        let result = runner.step(step, &mut tally);
        let elapsed = step_started.elapsed();
        let outcome = if result.is_ok() { "ok" } else { "FAILED" };
        report.push((step, Some((outcome, elapsed))));
        match result {
            Ok(()) => println!("<== {name}: ok in {}", when::duration(elapsed)),
            Err(err) => {
                println!("<== {name}: FAILED in {}", when::duration(elapsed));
                eprintln!("error: ci step `{name}` failed: {err}");
                ok = false;
                break;
            }
        }
    }
    println!("\n==> ci summary");
    for (step, run) in &report {
        let (outcome, time) = match run {
            Some((outcome, elapsed)) => (*outcome, when::duration(*elapsed)),
            None => ("skipped", String::new()),
        };
        let row = format!("  {:<8} {outcome:<8} {time:>9}", step.as_str());
        println!("{}", row.trim_end());
    }
    let verdict = if ok { "ok" } else { "FAILED" };
    println!("ci: {verdict} in {}", when::duration(started.elapsed()));
    if let Some(tally) = tally {
        println!("tests: {tally}");
    }
    ok
}

/// Runs the commands of the steps from the workspace root.
#[derive(Debug)]
struct Runner {
    cargo: OsString,
    root: PathBuf,
}

impl Runner {
    fn step(&self, step: StepName, tally: &mut Option<TestTally>) -> Result<(), StepError> {
        match step {
            StepName::Fmt => self.cargo(&["fmt", "--all", "--check"]),
            StepName::Tidy => {
                println!("     cargo xtask tidy (in-process)");
                let problems = tidy::report(&self.root);
                match problems {
                    0 => Ok(()),
                    n => Err(StepError::Tidy(format!(
                        "tidy found {n} problem(s), listed above"
                    ))),
                }
            }
            StepName::Clippy => self.cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ]),
            StepName::Test => self.test(tally),
            StepName::Pingora => self.pingora(tally),
            StepName::Doc => self.doc(&["doc", "--workspace", "--all-features", "--no-deps"]),
            // Compiling and linking the benches with the test profile reuses what the test step
            // has just built; `cargo bench --no-run` would rebuild the whole tree optimized.
            StepName::Bench => self.cargo(&[
                "test",
                "--workspace",
                "--all-features",
                "--benches",
                "--no-run",
            ]),
            StepName::Soak => run_command(&mut soak::command(
                &self.cargo,
                &self.root,
                soak::Length::CI,
            )),
            StepName::Deny => self.deny(),
        }
    }

    /// Runs README's test command, echoing its output and counting the tests.
    fn test(&self, tally: &mut Option<TestTally>) -> Result<(), StepError> {
        let path = self.root.join("README.md");
        let text = std::fs::read_to_string(&path)
            .map_err(|source| StepError::ReadmeUnreadable { path, source })?;
        let words = readme::test_command(&text).map_err(StepError::Readme)?;
        println!("     from README.md: {}", words.join(" "));
        let args: Vec<&str> = words.iter().skip(1).map(String::as_str).collect();
        let mut command = self.command(&args);
        let counts = tally.get_or_insert_with(TestTally::default);
        run_counting_tests(&mut command, counts, &mut io::stdout().lock())
    }

    /// Runs `cargo doc` with `args`, rustdoc's warnings as errors.
    fn doc(&self, args: &[&str]) -> Result<(), StepError> {
        let flags = match std::env::var("RUSTDOCFLAGS") {
            Ok(existing) if !existing.trim().is_empty() => format!("{existing} -D warnings"),
            _ => "-D warnings".to_owned(),
        };
        println!("     RUSTDOCFLAGS=\"{flags}\"");
        let mut command = self.command(args);
        command.env("RUSTDOCFLAGS", flags);
        run_command(&mut command)
    }

    /// Checks, tests and runs lb-pingora (see `pingora.rs`), adding its tests to the tally.
    fn pingora(&self, tally: &mut Option<TestTally>) -> Result<(), StepError> {
        let missing = pingora::missing_tools();
        if !missing.is_empty() {
            return Err(StepError::Pingora(pingora::missing_tools_message(&missing)));
        }
        let manifest = pingora::MANIFEST;
        self.cargo(&["fmt", "--manifest-path", manifest, "--check"])?;
        self.cargo(&[
            "clippy",
            "--manifest-path",
            manifest,
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])?;
        self.doc(&["doc", "--manifest-path", manifest, "--no-deps"])?;
        let mut test = self.command(&["test", "--manifest-path", manifest]);
        let counts = tally.get_or_insert_with(TestTally::default);
        run_counting_tests(&mut test, counts, &mut io::stdout().lock())?;
        let args = [
            "tree",
            "--manifest-path",
            manifest,
            "--edges",
            "normal,build,dev",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ];
        let mut tree = self.command(&args);
        println!("     {}", describe(&tree));
        let output = tree
            .stderr(Stdio::inherit())
            .output()
            .map_err(|source| StepError::Spawn {
                command: describe(&tree),
                source,
            })?;
        check(output.status, describe(&tree))?;
        let banned = pingora::banned_in(&String::from_utf8_lossy(&output.stdout));
        if !banned.is_empty() {
            return Err(StepError::Pingora(format!(
                "lb-pingora's tree brings {}: TLS is rustls only",
                banned.join(", ")
            )));
        }
        // The example's demo sends traffic through a pingora proxy and exits by itself.
        self.cargo(&[
            "run",
            "--quiet",
            "--manifest-path",
            manifest,
            "--example",
            "reverse_proxy",
            "--",
            "--demo",
        ])
    }

    /// Installs cargo-deny when missing, then checks bans, licenses and sources offline (and
    /// advisories when a database is already on this machine).
    fn deny(&self) -> Result<(), StepError> {
        // `--offline` reads the manifests of every package in Cargo.lock, for every target.
        self.cargo(&["fetch"])?;
        let installed = self
            .command(&["deny", "--version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !installed {
            println!("     cargo-deny is missing: installing it");
            self.cargo(&[
                "install",
                "--locked",
                "cargo-deny",
                "--version",
                CARGO_DENY_VERSION,
            ])?;
        }
        let mut args = vec!["deny", "--offline", "check", "bans", "licenses", "sources"];
        match advisory_db(&cargo_home()) {
            Some(db) => {
                println!("     advisory database found at {}", db.display());
                args.push("advisories");
            }
            None => println!(
                "     advisories: not checked (no advisory database under {}; this machine \
                 cannot fetch one)",
                cargo_home().display()
            ),
        }
        self.cargo(&args)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.cargo);
        command
            .args(args)
            .current_dir(&self.root)
            .stdin(Stdio::null());
        command
    }

    fn cargo(&self, args: &[&str]) -> Result<(), StepError> {
        run_command(&mut self.command(args))
    }
}

/// The command as a user would type it, for headers and errors.
fn describe(command: &Command) -> String {
    let program = Path::new(command.get_program())
        .file_name()
        .unwrap_or(command.get_program())
        .to_string_lossy()
        .into_owned();
    let args = command
        .get_args()
        .map(|arg| arg.to_string_lossy().into_owned());
    std::iter::once(program)
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

fn run_command(command: &mut Command) -> Result<(), StepError> {
    let described = describe(command);
    println!("     {described}");
    let status = command.status().map_err(|source| StepError::Spawn {
        command: described.clone(),
        source,
    })?;
    check(status, described)
}

fn check(status: ExitStatus, command: String) -> Result<(), StepError> {
    if status.success() {
        Ok(())
    } else {
        Err(StepError::Failed { command, status })
    }
}

/// Runs `command`, copying its standard output to `echo` line by line and counting the
/// `test result:` lines; standard error is passed through untouched.
fn run_counting_tests(
    command: &mut Command,
    tally: &mut TestTally,
    echo: &mut dyn Write,
) -> Result<(), StepError> {
    let described = describe(command);
    println!("     {described}");
    let spawn_error = |source| StepError::Spawn {
        command: described.clone(),
        source,
    };
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    if let Some(stdout) = child.stdout.take() {
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    tally.add_line(&String::from_utf8_lossy(&line));
                    // Echoing is best effort: if our own stdout is closed we still drain the
                    // child's so that it never blocks on a full pipe.
                    let _ = echo.write_all(&line).and_then(|()| echo.flush());
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }
    let status = child.wait().map_err(spawn_error)?;
    check(status, described)
}

/// Cargo's home: `$CARGO_HOME`, else `~/.cargo`.
fn cargo_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        return PathBuf::from(home);
    }
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cargo")
}

/// cargo-deny's advisory databases (its default `db-path`, `$CARGO_HOME/advisory-dbs`), when one
/// has been fetched into it.
fn advisory_db(cargo_home: &Path) -> Option<PathBuf> {
    let dir = cargo_home.join("advisory-dbs");
    let mut entries = std::fs::read_dir(&dir).ok()?;
    entries.next().is_some().then_some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_names_round_trip_in_ci_order() {
        let names: Vec<&str> = StepName::ALL.iter().map(|step| step.as_str()).collect();
        assert_eq!(
            names,
            [
                "fmt", "tidy", "clippy", "test", "pingora", "doc", "bench", "soak", "deny"
            ]
        );
        for step in StepName::ALL {
            assert_eq!(step.as_str().parse::<StepName>(), Ok(step));
        }
        assert!("Fmt".parse::<StepName>().is_err());
    }

    #[test]
    fn tally_sums_libtest_result_lines() {
        let mut tally = TestTally::default();
        for line in [
            "running 3 tests",
            "test a ... ok",
            "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            "",
            "test result: FAILED. 4 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.20s",
            "   Doc-tests lb_ketama",
            "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            "test result: garbage",
        ] {
            tally.add_line(line);
        }
        assert_eq!(
            tally,
            TestTally {
                passed: 7,
                failed: 2,
                ignored: 1
            }
        );
        assert_eq!(tally.to_string(), "7 passed, 2 failed, 1 skipped");
    }

    #[test]
    fn run_counting_tests_echoes_counts_and_reports_failure() {
        let mut tally = TestTally::default();
        let mut command = Command::new("sh");
        command.args([
            "-c",
            "echo 'test result: ok. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out'; exit 3",
        ]);
        let mut echoed = Vec::new();
        let err = run_counting_tests(&mut command, &mut tally, &mut echoed)
            .expect_err("exit 3 is a failure");
        assert!(matches!(err, StepError::Failed { ref status, .. } if status.code() == Some(3)));
        assert_eq!(tally.passed, 2);
        assert_eq!(tally.failed, 1);
        assert_eq!(
            String::from_utf8_lossy(&echoed),
            "test result: ok. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn children_get_a_null_stdin() {
        let runner = Runner {
            cargo: "sh".into(),
            root: std::env::temp_dir(),
        };
        let stdin_is_null = "test \"$(readlink /proc/self/fd/0)\" = /dev/null";
        let result = run_command(&mut runner.command(&["-c", stdin_is_null]));
        assert!(result.is_ok(), "{result:?}");
        // The same probe fails when stdin is something else, so the check above can fail.
        let mut inherited = Command::new("sh");
        inherited.args(["-c", stdin_is_null]).stdin(Stdio::piped());
        assert!(run_command(&mut inherited).is_err());
    }

    #[test]
    fn a_missing_program_is_a_spawn_error_naming_it() {
        let mut command = Command::new("xtask-no-such-program");
        let err = run_command(&mut command).expect_err("the program does not exist");
        assert!(matches!(err, StepError::Spawn { .. }));
        assert!(err.to_string().contains("`xtask-no-such-program`"));
    }

    #[test]
    fn advisory_db_needs_a_non_empty_folder() {
        let home = std::env::temp_dir().join(format!("xtask-cargo-home-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        assert_eq!(advisory_db(&home), None);
        std::fs::create_dir_all(home.join("advisory-dbs")).expect("temp dir is writable");
        assert_eq!(advisory_db(&home), None);
        std::fs::create_dir_all(home.join("advisory-dbs/github.com-abc"))
            .expect("temp dir is writable");
        assert_eq!(advisory_db(&home), Some(home.join("advisory-dbs")));
        std::fs::remove_dir_all(&home).expect("temp dir is removable");
    }
}
