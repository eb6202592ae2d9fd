//! Tests of `cargo xtask bench`: options, paths, and a report rendered from data on disk.

use super::*;

use crate::tests::args;

#[test]
fn parses_options() {
    assert_eq!(Options::parse(&[]), Ok(Options::default()));
    let all = Options::parse(&args("--quick --compare pingora")).expect("valid");
    assert!(all.quick && all.compare_pingora && !all.report_only);
    assert_eq!(
        all.command_line(),
        "cargo xtask bench --quick --compare pingora"
    );
    assert_eq!(
        Options::parse(&args("--compare=pingora")).map(|o| o.compare_pingora),
        Ok(true)
    );
    assert_eq!(
        Options::parse(&args("--report-only")).map(|o| o.report_only),
        Ok(true)
    );
}

#[test]
fn rejects_bad_options() {
    assert_eq!(
        Options::parse(&args("--compare")),
        Err("`--compare` needs a name: `--compare pingora`".to_owned())
    );
    assert_eq!(
        Options::parse(&args("--compare nginx")),
        Err("unknown comparison `nginx`; the one available is `pingora`".to_owned())
    );
    assert_eq!(
        Options::parse(&args("--fast")),
        Err("unknown argument to `bench`: `--fast`".to_owned())
    );
    assert!(Options::parse(&args("--report-only --quick")).is_err());
}

#[test]
fn paths_follow_cargo_target_dir() {
    let root = Path::new("/w");
    assert_eq!(
        Paths::new(root, None).report,
        Path::new("/w/target/lb-report")
    );
    assert_eq!(
        Paths::new(root, Some("target-bench".into())).data,
        Path::new("/w/target-bench/lb-report/data")
    );
    assert_eq!(
        Paths::new(root, Some("/t".into())).criterion,
        Path::new("/t/lb-report/criterion")
    );
}

#[test]
fn report_only_renders_existing_data() {
    let dir = std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let paths = Paths::new(Path::new("/unused"), Some(dir.clone().into()));
    std::fs::create_dir_all(&paths.data).expect("writable");
    std::fs::write(
        paths.data.join("report.jsonl"),
        "{\"kind\":\"quality\",\"strategy\":\"consistent\",\"n\":10,\"keys\":1000000,\
         \"max_over_mean\":1.136,\"moved_on_remove\":0.1,\"ideal_remove\":0.1,\
         \"moved_on_add\":0.0894,\"ideal_add\":0.0909}\n\
         {\"kind\":\"quality\",\"strategy\":\"consistent\",\"n\":100,\"keys\":1000000,\
         \"max_over_mean\":1.2,\"moved_on_remove\":0.01,\"ideal_remove\":0.01,\
         \"moved_on_add\":0.01,\"ideal_add\":0.0099}\n",
    )
    .expect("writable");
    let meta = Meta {
        part: "report".into(),
        mode: "quick".into(),
        date: crate::when::date(0),
        cpu: "test CPU".into(),
        load_before: 0.1,
        load_after: 0.2,
        commit: "abc".into(),
        seconds: 3.0,
    };
    std::fs::write(
        paths.data.join("report.meta.json"),
        serde_json::to_string(&meta).expect("serializable"),
    )
    .expect("writable");
    let options = Options {
        report_only: true,
        ..Options::default()
    };
    assert!(write_report(&paths, &options));
    let report = std::fs::read_to_string(paths.report.join("report.md")).expect("written");
    assert!(
        report.contains("| report | quick | 1970-01-01 00:00 UTC | 0.10 → 0.20 |"),
        "{report}"
    );
    assert!(report.contains("Machine: test CPU."), "{report}");
    assert!(report.contains("## Hashing quality"), "{report}");
    assert!(report.contains("![balance"), "{report}");
    assert!(paths.report.join("balance.svg").is_file());
    assert!(
        !paths.report.join("select.svg").exists(),
        "no select data, no select plot"
    );
    std::fs::remove_dir_all(&dir).expect("removable");
}
