//! Where and when a part of the benchmarks ran: the date, the CPU, the load average before and
//! after, the commit. Stored next to each part's data and printed at the top of the report, so
//! every figure carries the conditions it was measured in.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// The conditions of one part's run.
#[derive(Debug, Clone, PartialEq)]
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

impl Meta {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "part": self.part, "mode": self.mode, "date": self.date, "cpu": self.cpu,
            "load_before": self.load_before, "load_after": self.load_after,
            "commit": self.commit, "seconds": self.seconds,
        })
    }

    pub(crate) fn from_json(v: &Value) -> Option<Meta> {
        let s = |k: &str| v.get(k)?.as_str().map(str::to_owned);
        let f = |k: &str| v.get(k)?.as_f64();
        Some(Meta {
            part: s("part")?,
            mode: s("mode")?,
            date: s("date")?,
            cpu: s("cpu")?,
            load_before: f("load_before")?,
            load_after: f("load_after")?,
            commit: s("commit")?,
            seconds: f("seconds")?,
        })
    }
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

/// Now, as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

/// `secs` since the Unix epoch as `YYYY-MM-DD HH:MM UTC` (proleptic Gregorian calendar).
pub(crate) fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let (hour, minute) = ((secs % 86_400) / 3_600, (secs % 3_600) / 60);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_utc(1_735_689_599), "2024-12-31 23:59 UTC");
        assert_eq!(format_utc(1_740_787_200 + 3_660), "2025-03-01 01:01 UTC");
    }

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
            date: format_utc(0),
            cpu: "x".into(),
            load_before: 0.5,
            load_after: 1.25,
            commit: "abc1234".into(),
            seconds: 12.5,
        };
        assert_eq!(Meta::from_json(&meta.to_json()), Some(meta));
        assert_eq!(Meta::from_json(&json!({"part": "x"})), None);
    }
}
