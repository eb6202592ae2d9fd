//! Criterion's results: for every benchmark, the median time per iteration from
//! `<criterion home>/**/new/estimates.json`, keyed by the id in the sibling `benchmark.json`
//! (`select/round_robin/pick/10`). Both files are criterion's own stable output format; xtask
//! clears the criterion home before a run, so only this run's benchmarks are found.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// Benchmark id → median time per iteration in nanoseconds.
pub(crate) type Medians = BTreeMap<String, f64>;

/// Reads every benchmark under `home`; unreadable or malformed entries are returned as
/// warnings (`path: why`) and skipped. A missing `home` is no benchmarks.
pub(crate) fn load(home: &Path) -> (Medians, Vec<String>) {
    let mut medians = Medians::new();
    let mut warnings = Vec::new();
    walk(home, &mut medians, &mut warnings);
    (medians, warnings)
}

fn walk(dir: &Path, medians: &mut Medians, warnings: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut subdirs: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    subdirs.sort();
    for sub in subdirs {
        if sub.file_name().is_some_and(|n| n == "new") {
            match read_one(&sub) {
                Ok(Some((id, median))) => {
                    medians.insert(id, median);
                }
                Ok(None) => {}
                Err(why) => warnings.push(format!("{}: {why}", sub.display())),
            }
        } else if sub
            .file_name()
            .is_some_and(|n| n != "base" && n != "change" && n != "report")
        {
            walk(&sub, medians, warnings);
        }
    }
}

/// The id and median of the benchmark whose `new` folder is `dir`; `None` when the folder holds
/// no `benchmark.json` (not a benchmark's).
fn read_one(dir: &Path) -> Result<Option<(String, f64)>, String> {
    let bench = dir.join("benchmark.json");
    if !bench.is_file() {
        return Ok(None);
    }
    let read = |p: &Path| -> Result<Value, String> {
        let text = std::fs::read_to_string(p).map_err(|e| format!("cannot read: {e}"))?;
        serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))
    };
    let id = read(&bench)?
        .get("full_id")
        .and_then(Value::as_str)
        .ok_or("benchmark.json has no `full_id`")?
        .to_owned();
    let median = parse_median(&read(&dir.join("estimates.json"))?)
        .ok_or("estimates.json has no `median.point_estimate`")?;
    Ok(Some((id, median)))
}

/// `median.point_estimate` of an `estimates.json`, in nanoseconds.
pub(crate) fn parse_median(estimates: &Value) -> Option<f64> {
    estimates.get("median")?.get("point_estimate")?.as_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("writable");
        std::fs::write(path, text).expect("writable");
    }

    #[test]
    fn finds_every_benchmark_and_its_median() {
        let home = std::env::temp_dir().join(format!("xtask-criterion-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        let bench = |dir: &str, id: &str, median: f64| {
            write(
                &home.join(dir).join("new/benchmark.json"),
                &format!(r#"{{"group_id":"g","full_id":"{id}","directory_name":"{dir}"}}"#),
            );
            write(
                &home.join(dir).join("new/estimates.json"),
                &format!(
                    r#"{{"mean":{{"point_estimate":99.0}},"median":{{"point_estimate":{median},"standard_error":0.1}}}}"#
                ),
            );
        };
        bench("select_random/pick/10", "select/random/pick/10", 15.25);
        bench("ketama_build/v1/1000", "ketama/build/v1/1000", 2.5e6);
        // A previous run's `base` and criterion's `report` folders are not benchmarks.
        write(
            &home.join("select_random/pick/10/base/benchmark.json"),
            "{}",
        );
        write(&home.join("report/index.html"), "");
        // A benchmark whose estimates are missing is a warning, not a failure.
        write(
            &home.join("broken/new/benchmark.json"),
            r#"{"full_id":"broken"}"#,
        );
        let (medians, warnings) = load(&home);
        std::fs::remove_dir_all(&home).expect("removable");
        assert_eq!(medians.len(), 2, "{medians:?}");
        assert_eq!(medians["select/random/pick/10"], 15.25);
        assert_eq!(medians["ketama/build/v1/1000"], 2.5e6);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("broken"), "{warnings:?}");
    }

    #[test]
    fn a_missing_home_has_no_benchmarks() {
        let (medians, warnings) = load(Path::new("/nonexistent/xtask/criterion"));
        assert!(medians.is_empty() && warnings.is_empty());
    }
}
