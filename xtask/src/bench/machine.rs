//! Where and when a part of the benchmarks ran: the date, the CPU, the load average before and
//! after, the commit. Stored next to each part's data and printed at the top of the report, so
//! every figure carries the conditions it was measured in.

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

/// The conditions of one part's run, stored as `<part>.meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Meta {
    /// Which part: `criterion`, `report`, `compare`.
    pub(crate) part: String,
    /// `quick` or `full`.
    pub(crate) mode: String,
    /// UTC date and time the part started, `YYYY-MM-DD HH:MM UTC`.
    pub(crate) date: String,
    /// The CPU model and logical CPU count.
    pub(crate) cpu: String,
    /// The 1-minute load average before and after the part.
    pub(crate) load_before: f64,
    pub(crate) load_after: f64,
    /// `git describe`-style commit of the tree measured.
    pub(crate) commit: String,
    /// Wall time of the part, in seconds.
    pub(crate) seconds: f64,
}

/// The CPU as `/proc/cpuinfo` names it, with the logical CPU count: `Intel(R) Xeon(R) ... (2
/// CPUs, 2600 MHz)`. `unknown CPU` where there is no `/proc/cpuinfo`.
pub(crate) fn cpu() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .map_or_else(|_| "unknown CPU".to_owned(), |t| describe_cpu(&t))
}

pub(crate) fn describe_cpu(cpuinfo: &str) -> String {
    let field = |name: &str| {
        cpuinfo.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == name).then(|| value.trim().to_owned())
        })
    };
    let count = cpuinfo
        .lines()
        .filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor"))
        .count();
    let model = field("model name").unwrap_or_else(|| "unknown CPU".to_owned());
    match field("cpu MHz").and_then(|m| m.parse::<f64>().ok()) {
        Some(mhz) => format!("{model} ({count} CPUs, {mhz:.0} MHz)"),
        None => format!("{model} ({count} CPUs)"),
    }
}

/// The 1-minute load average from `/proc/loadavg`; 0 where it cannot be read.
pub(crate) fn load() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| parse_load(&t))
        .unwrap_or(0.0)
}

pub(crate) fn parse_load(loadavg: &str) -> Option<f64> {
    loadavg.split_whitespace().next()?.parse().ok()
}

/// The short commit hash of `root`'s HEAD, with `+dirty` when tracked files differ from it;
/// `unknown` outside a git checkout.
pub(crate) fn commit(root: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .stdin(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(hash) => match git(&["status", "--porcelain", "--untracked-files=no"]) {
            Some(changes) if !changes.is_empty() => format!("{hash}+dirty"),
            _ => hash,
        },
        None => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_the_cpu() {
        let info = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\ncpu MHz\t\t: 2593.906\n\
                    processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Processor\n";
        assert_eq!(
            describe_cpu(info),
            "Intel(R) Xeon(R) Processor (2 CPUs, 2594 MHz)"
        );
        assert_eq!(describe_cpu(""), "unknown CPU (0 CPUs)");
    }

    #[test]
    fn parses_the_load_average() {
        assert_eq!(parse_load("0.31 0.67 1.65 2/86 14722\n"), Some(0.31));
        assert_eq!(parse_load(""), None);
    }

    #[test]
    fn meta_round_trips_through_json() {
        let meta = Meta {
            part: "compare".into(),
            mode: "quick".into(),
            date: crate::when::date(0),
            cpu: "x".into(),
            load_before: 0.5,
            load_after: 1.25,
            commit: "abc1234".into(),
            seconds: 12.5,
        };
        let json = serde_json::to_string(&meta).expect("serializable");
        assert_eq!(serde_json::from_str::<Meta>(&json).ok(), Some(meta));
        assert!(serde_json::from_str::<Meta>(r#"{"part": "x"}"#).is_err());
    }
}
