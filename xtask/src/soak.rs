//! `cargo xtask soak [--minutes N]`: builds the soak program (the `soak` binary of the
//! `lb-benches` member) in release mode and runs it. The program does the work and the checks;
//! this only starts it, so that a developer and CI run the same thing.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};

/// How long the soak runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Length {
    Minutes(f64),
    Seconds(f64),
}

impl Default for Length {
    /// A few minutes: long enough for several fault cycles and a memory trend.
    fn default() -> Self {
        Length::Minutes(3.0)
    }
}

impl Length {
    /// The version CI runs: four fault cycles after the warm-up's, so that the heap's trend is
    /// fitted to four cycles' lowest points (with the two of a 60-second run, their noise alone,
    /// some 30 KB of 13 MiB, gave slopes from -0.7 to +1.1 %/min against a limit of 1).
    pub(crate) const CI: Length = Length::Seconds(100.0);

    /// Parses the arguments that follow `cargo xtask soak`.
    pub(crate) fn parse(args: &[String]) -> Result<Self, String> {
        let mut length = Length::default();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let make: fn(f64) -> Length = match arg.as_str() {
                "--minutes" => Length::Minutes,
                "--seconds" => Length::Seconds,
                other => return Err(format!("unknown argument to `soak`: `{other}`")),
            };
            let value = rest
                .next()
                .ok_or_else(|| format!("`{arg}` needs a number"))?;
            let number = value
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n > 0.0)
                .ok_or_else(|| format!("`{arg}` takes a positive number, not `{value}`"))?;
            length = make(number);
        }
        Ok(length)
    }

    fn args(self) -> [String; 2] {
        match self {
            Length::Minutes(m) => ["--minutes".into(), m.to_string()],
            Length::Seconds(s) => ["--seconds".into(), s.to_string()],
        }
    }
}

/// `cargo run --release -p lb-benches --bin soak -- <length>`, from the workspace root, with a
/// null standard input.
pub(crate) fn command(cargo: &OsString, root: &Path, length: Length) -> Command {
    let mut command = Command::new(cargo);
    command
        .args([
            "run",
            "--release",
            "--quiet",
            "-p",
            "lb-benches",
            "--bin",
            "soak",
            "--",
        ])
        .args(length.args())
        .current_dir(root)
        .stdin(Stdio::null());
    command
}

/// Runs the soak; whether it passed.
pub(crate) fn run(root: &Path, length: Length) -> bool {
    let cargo = crate::cargo();
    let mut command = command(&cargo, root, length);
    match command.status() {
        Ok(status) => status.success(),
        Err(e) => {
            eprintln!("xtask: could not start cargo for the soak: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn lengths_parse_and_become_the_programs_arguments() {
        assert_eq!(Length::parse(&[]), Ok(Length::Minutes(3.0)));
        assert_eq!(
            Length::parse(&words("--minutes 10")),
            Ok(Length::Minutes(10.0))
        );
        assert_eq!(
            Length::parse(&words("--seconds 60")),
            Ok(Length::Seconds(60.0))
        );
        assert!(Length::parse(&words("--minutes")).is_err());
        assert!(Length::parse(&words("--minutes 0")).is_err());
        assert!(Length::parse(&words("--hours 1")).is_err());
        let command = command(&"cargo".into(), Path::new("/w"), Length::CI);
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args.join(" "),
            "run --release --quiet -p lb-benches --bin soak -- --seconds 100"
        );
    }
}
