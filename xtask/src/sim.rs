//! `cargo xtask sim [--quick] [--scenario NAME]`: builds the simulator (`lb-sim`, the `sim`
//! member) in release mode and runs it. The simulator does the work and writes
//! `<target>/lb-report/sim.md` with its plots; a full run of every scenario also rewrites
//! `docs/choosing-a-strategy.md` and its pictures. This only starts it.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};

/// What `cargo xtask sim` was asked to do.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    /// Shorter runs (20 s of virtual time instead of 60 s); the guide is left alone.
    pub(crate) quick: bool,
    /// Only this scenario; the guide is left alone.
    pub(crate) scenario: Option<String>,
}

impl Options {
    /// Parses the arguments after `sim`; the error is a message for the user.
    pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options::default();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--scenario" => {
                    let name = rest.next().ok_or("`--scenario` needs a name")?;
                    options.scenario = Some(name.clone());
                }
                other => match other.strip_prefix("--scenario=") {
                    Some(name) => options.scenario = Some(name.to_owned()),
                    None => return Err(format!("unknown argument to `sim`: `{other}`")),
                },
            }
        }
        Ok(options)
    }

    /// Whether this run rewrites the guide: a full run of every scenario.
    fn writes_guide(&self) -> bool {
        !self.quick && self.scenario.is_none()
    }

    fn command_line(&self) -> String {
        let mut line = "cargo xtask sim".to_owned();
        if self.quick {
            line.push_str(" --quick");
        }
        if let Some(name) = &self.scenario {
            line.push_str(" --scenario ");
            line.push_str(name);
        }
        line
    }
}

/// `cargo run --release -p lb-sim -- --out <target>/lb-report ...`, from the workspace root.
pub(crate) fn command(cargo: &OsString, root: &Path, target: &Path, options: &Options) -> Command {
    let mut command = Command::new(cargo);
    command
        .args(["run", "--release", "--quiet", "-p", "lb-sim", "--"])
        .arg("--out")
        .arg(target.join("lb-report"))
        .args(["--command", &options.command_line()])
        .current_dir(root)
        .stdin(Stdio::null());
    if options.quick {
        command.arg("--quick");
    }
    if let Some(name) = &options.scenario {
        command.args(["--scenario", name]);
    }
    if options.writes_guide() {
        command.arg("--docs").arg(root.join("docs"));
    }
    command
}

/// Runs the simulator; whether it succeeded.
pub(crate) fn run(root: &Path, options: &Options) -> bool {
    let cargo = crate::cargo();
    let target = crate::target_dir(root);
    match command(&cargo, root, &target, options).status() {
        Ok(status) => status.success(),
        Err(e) => {
            eprintln!("xtask: could not start cargo for the simulator: {e}");
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

    fn args(options: &Options) -> String {
        let command = command(
            &"cargo".into(),
            Path::new("/w"),
            Path::new("/w/target"),
            options,
        );
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        args.join(" ")
    }

    #[test]
    fn options_parse_and_become_the_simulators_arguments() {
        assert_eq!(Options::parse(&[]), Ok(Options::default()));
        let quick = Options::parse(&words("--quick --scenario churn")).expect("valid");
        assert_eq!(
            quick,
            Options {
                quick: true,
                scenario: Some("churn".to_owned())
            }
        );
        assert_eq!(
            Options::parse(&words("--scenario=churn")).map(|o| o.scenario),
            Ok(Some("churn".to_owned()))
        );
        assert!(Options::parse(&words("--scenario")).is_err());
        assert!(Options::parse(&words("--slow")).is_err());
        // Only a full run of every scenario rewrites the guide.
        assert_eq!(
            args(&Options::default()),
            "run --release --quiet -p lb-sim -- --out /w/target/lb-report --command cargo xtask sim --docs /w/docs"
        );
        assert_eq!(
            args(&quick),
            "run --release --quiet -p lb-sim -- --out /w/target/lb-report --command cargo xtask sim --quick --scenario churn --quick --scenario churn"
        );
    }
}
