//! `lb-sim`: runs the simulator's scenarios and writes the report (and the strategy guide).
//!
//! ```text
//! lb-sim --out DIR [--quick] [--scenario NAME] [--seed N] [--docs DIR] [--command TEXT]
//! ```
//!
//! `cargo xtask sim` runs it in release mode: `--out` is `<target>/lb-report`, and `--docs` the
//! workspace's `docs/` on a full run of every scenario.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use lb_sim::report::{Run, ms, percent};
use lb_sim::{Size, Strategy, Summary, catalogue, guide, report, run_all};

/// The command line.
#[derive(Debug, Default)]
struct Args {
    quick: bool,
    scenario: Option<String>,
    seed: u64,
    out: Option<PathBuf>,
    docs: Option<PathBuf>,
    command: Option<String>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        seed: 1,
        ..Args::default()
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("`{name}` needs a value"));
        match arg.as_str() {
            "--quick" => parsed.quick = true,
            "--scenario" => parsed.scenario = Some(value("--scenario")?),
            "--seed" => {
                let v = value("--seed")?;
                parsed.seed = v
                    .parse()
                    .map_err(|_| format!("`--seed {v}`: not a number"))?;
            }
            "--out" => parsed.out = Some(value("--out")?.into()),
            "--docs" => parsed.docs = Some(value("--docs")?.into()),
            "--command" => parsed.command = Some(value("--command")?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("lb-sim: {message}");
            return ExitCode::from(2);
        }
    };
    let Some(out) = args.out.clone() else {
        eprintln!("lb-sim: `--out DIR` is required");
        return ExitCode::from(2);
    };
    let size = if args.quick { Size::Quick } else { Size::Full };
    let all = catalogue(size);
    let scenarios: Vec<_> = match &args.scenario {
        None => all,
        Some(name) => all.into_iter().filter(|s| s.name == *name).collect(),
    };
    if scenarios.is_empty() {
        let names: Vec<&str> = catalogue(size).iter().map(|s| s.name).collect();
        eprintln!(
            "lb-sim: no scenario `{}`; the scenarios are: {}",
            args.scenario.unwrap_or_default(),
            names.join(", ")
        );
        return ExitCode::from(2);
    }
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let started = Instant::now();
    let records = run_all(&scenarios, &Strategy::ALL, args.seed, threads);
    let elapsed = started.elapsed();
    let run = Run {
        scenarios,
        records,
        seed: args.seed,
        command: args.command.unwrap_or_else(|| "lb-sim".to_owned()),
    };
    for scenario in &run.scenarios {
        println!("{} ({} requests/s)", scenario.title, scenario.rate);
        for s in run.summaries(scenario) {
            print_line(&s);
        }
    }
    println!(
        "simulated {} runs in {:.1} s on {threads} threads",
        run.records.len(),
        elapsed.as_secs_f64()
    );
    let mut ok = true;
    match report::write(&run, &out) {
        Ok(path) => println!("report: {}", path.display()),
        Err(err) => {
            eprintln!("lb-sim: cannot write the report: {err}");
            ok = false;
        }
    }
    if let Some(docs) = &args.docs {
        match guide::write(&run, docs) {
            Ok(path) => println!("guide: {}", path.display()),
            Err(err) => {
                eprintln!("lb-sim: cannot write the guide: {err}");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print_line(s: &Summary) {
    println!(
        "  {:<20} p50 {:>9}  p99 {:>9}  p99.9 {:>9}  busiest {:>5.2}  failed {:>8}",
        s.strategy,
        ms(s.p50),
        ms(s.p99),
        ms(s.p999),
        s.busiest,
        percent(s.failed_share())
    );
}
