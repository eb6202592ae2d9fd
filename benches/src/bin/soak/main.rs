//! The soak test: one process runs lb's background service over 10,000 loopback backends for
//! minutes, with health checks flapping a share of them, a discovery source churning every few
//! milliseconds, passive health fed by failing picks, and several threads selecting and
//! reporting; it checks the load balancer's promises all along, injects faults (discovery that
//! errors, hangs or answers garbage; probes that panic or hang; a clock jump), and prints its
//! figures. `cargo xtask soak` builds it in release mode and runs it.
//!
//! ```text
//! soak [--minutes N | --seconds N] [--backends N] [--threads N]
//! ```
//!
//! Exit status: 0 when every check held, 1 when one did not, 2 when the soak could not run.
//! Linux only: the backends listen on `127.1.x.y` and memory is read from `/proc`.

mod churn;
mod faults;
mod memory;
mod passes;
mod probe;
mod report;
mod rng;
mod select;
mod source;
mod state;
mod world;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lb_core::{Backends, HealthRegistry, LoadBalancer, PassiveHealth};
use lb_selection::RoundRobin;
use tokio::time::Instant;

use crate::faults::Window;
use crate::passes::Plan;
use crate::source::{ChurnSource, Fault};
use crate::state::{Layout, Shared, Violation};
use crate::world::World;

/// The most growth of the heap after warm-up, in percent per minute.
const MAX_MEMORY_SLOPE: f64 = 1.0;

#[derive(Debug)]
struct Args {
    duration: Duration,
    backends: usize,
    threads: usize,
}

const USAGE: &str = "usage: soak [--minutes N | --seconds N] [--backends N] [--threads N]";

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut out = Args {
        duration: Duration::from_secs(180),
        backends: 10_000,
        threads: 3,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("`{flag}` needs a value"))?;
        let number = |v: &str| {
            v.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n > 0.0)
                .ok_or_else(|| format!("`{flag}` takes a positive number, not `{v}`"))
        };
        match flag.as_str() {
            "--minutes" => out.duration = Duration::from_secs_f64(number(value)? * 60.0),
            "--seconds" => out.duration = Duration::from_secs_f64(number(value)?),
            "--backends" => out.backends = number(value)? as usize,
            "--threads" => out.threads = number(value)? as usize,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if !(100..=65_280).contains(&out.backends) {
        return Err("`--backends` must be 100 to 65,280 (the addresses of 127.1.0.0/16)".into());
    }
    if out.duration < Duration::from_secs(30) {
        return Err("a soak needs at least 30 seconds".into());
    }
    Ok(out)
}

/// The soft limit on open files, where `/proc` tells it.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&args) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("soak: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("soak: cannot run: {message}");
            ExitCode::from(2)
        }
    }
}

/// Runs the soak; `Ok(passed)`, or why it could not run.
fn run(args: &Args) -> Result<bool, String> {
    let needed = args.backends as u64 + 1024;
    if let Some(limit) = open_files_limit().filter(|l| *l < needed) {
        return Err(format!(
            "{} backends need about {needed} open files; the limit is {limit} (raise `ulimit -n`)",
            args.backends
        ));
    }
    probe::quiet_injected_panics();
    let port = world::pick_port().map_err(|e| format!("no port free on 127.1.0.1: {e}"))?;
    let shared = Arc::new(Shared::new(Layout {
        n: args.backends,
        port,
    }));

    // The backends live on a runtime of their own, on their own thread.
    let peers = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the backends' runtime: {e}"))?;
    let world = World::new(peers.handle().clone(), args.backends);
    let (end_peers, peers_end) = tokio::sync::oneshot::channel::<()>();
    let peers = std::thread::spawn(move || {
        peers.block_on(async {
            let _ = peers_end.await;
        });
    });
    for id in 0..args.backends {
        world
            .open(&shared, id)
            .map_err(|e| format!("cannot listen on {}: {e}", shared.layout.socket(id)))?;
    }

    let source = ChurnSource::new(Arc::clone(&shared));
    let check = probe::SoakCheck::new(Arc::clone(&shared));
    let registry = HealthRegistry::with_health_check(Box::new(check));
    let backends = Backends::new(Box::new(source.clone())).with_health_registry(registry.clone());
    let mut lb = LoadBalancer::<RoundRobin>::from_backends(backends);
    lb.update_frequency = None;
    lb.set_passive_health(Some(
        PassiveHealth::default()
            .with_consecutive_failures(5)
            .with_ejection(Duration::from_millis(500), Duration::from_secs(5)),
    ));
    let lb = Arc::new(lb);

    let memory_stop = Arc::new(AtomicBool::new(false));
    let memory = memory::sample(Arc::clone(&memory_stop));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the load balancer's runtime: {e}"))?;
    let report = runtime.block_on(soak(args, &shared, &world, &registry, &lb, &source))?;
    drop(runtime);
    memory_stop.store(true, Ordering::Relaxed);
    let samples = memory.join().unwrap_or_default();
    let _ = end_peers.send(());
    let _ = peers.join();

    let warm_up = WARM_UP.as_secs_f64();
    // Seconds since the run's start (after the mass flip), from which the fault cycles count.
    let series = |f: fn(&memory::Sample) -> Option<f64>| -> Vec<(f64, f64)> {
        samples
            .iter()
            .filter(|s| s.at >= report.started)
            .filter_map(|s| f(s).map(|b| ((s.at - report.started).as_secs_f64(), b)))
            .collect()
    };
    let (cycle, until) = (CYCLE.as_secs_f64(), args.duration.as_secs_f64());
    let heap = memory::floors(&series(|s| Some(s.heap)), warm_up, until, cycle);
    let rss = memory::floors(&series(|s| s.rss), warm_up, until, cycle);
    if let Some((slope, _)) = memory::slope(&heap)
        && slope >= MAX_MEMORY_SLOPE
    {
        shared.violation(Violation::MemoryGrew, || {
            format!("the heap grew {slope:+.2} %/min after {warm_up:.0} s of warm-up")
        });
    }
    report::print(args, &shared, &lb, &report, [&heap, &rss], warm_up);
    Ok(shared.total_violations() == 0)
}

/// A fault cycle starts every this long from the first set's publication, as long as it ends
/// (18 s) before the run does.
const CYCLE: Duration = Duration::from_secs(20);
/// Memory is judged after the first fault cycle, by when every kind of fault has made its
/// allocations once, on the lowest point of each later cycle.
const WARM_UP: Duration = CYCLE;

/// The faults of a run of `duration`, in cycles of 18 s, one every [`CYCLE`]: discovery
/// fails for 3 s, then hangs for 3 s, then answers garbage for 2 s; then probes panic and
/// hang in waves for 4 s; then the clock jumps 2 s.
fn schedule(duration: Duration) -> (Vec<Window>, Plan) {
    let secs = Duration::from_secs;
    let mut windows = Vec::new();
    let mut plan = Plan {
        probe_faults: Vec::new(),
        jumps: Vec::new(),
        jump: secs(2),
    };
    let mut start = Duration::ZERO;
    while start + secs(18) <= duration {
        for (fault, from, to) in [
            (Fault::Error, 0, 3),
            (Fault::Hang, 4, 7),
            (Fault::Garbage, 8, 10),
        ] {
            windows.push(Window {
                fault,
                from: start + secs(from),
                to: start + secs(to),
            });
        }
        plan.probe_faults.push((start + secs(11), start + secs(15)));
        plan.jumps.push(start + secs(16));
        start += CYCLE;
    }
    (windows, plan)
}

/// What the run did, for the report.
struct Report {
    started: std::time::Instant,
    elapsed: Duration,
    passes: passes::Passes,
    churned: churn::Churned,
    faults: Vec<faults::Survived>,
    injected_errors: u64,
}

async fn soak(
    args: &Args,
    shared: &Arc<Shared>,
    world: &World,
    registry: &HealthRegistry,
    lb: &Arc<LoadBalancer<RoundRobin>>,
    source: &ChurnSource,
) -> Result<Report, String> {
    let service = lb.spawn();
    tokio::time::timeout(Duration::from_secs(30), service.ready())
        .await
        .map_err(|_| "no backend set was published within 30 s".to_owned())?;
    let cx = passes::Context {
        shared,
        world,
        registry,
        lb,
        threads: args.threads,
    };
    let flipped = passes::mass_flip(&cx).await;
    let started = Instant::now();
    let until = started + args.duration;
    let (windows, plan) = schedule(args.duration);
    let selectors: Vec<_> = (0..args.threads)
        .map(|_| {
            let (shared, lb) = (Arc::clone(shared), Arc::clone(lb));
            std::thread::spawn(move || select::run(&shared, &lb))
        })
        .collect();
    let monitor = tokio::spawn(faults::monitor(Arc::clone(shared), Arc::clone(lb)));
    let churn = tokio::spawn(churn::drive(
        Arc::clone(shared),
        Arc::clone(lb),
        source.clone(),
    ));
    let (passes, faults) = tokio::join!(
        passes::run(cx, started, until, &plan, flipped),
        faults::inject(shared, lb, source, &service, started, &windows),
    );
    let elapsed = started.elapsed();
    shared.stop.store(true, Ordering::Relaxed);
    for selector in selectors {
        // A panic in a selecting thread has been printed; the run fails below if it broke a
        // check, and the join only waits for the thread's end.
        let _ = selector.join();
    }
    let churned = churn.await.unwrap_or_default();
    let _ = monitor.await;
    if service.is_finished() {
        shared.violation(Violation::FaultNotSurvived, || {
            "the background service ended during the soak".into()
        });
    }
    service.shutdown().await;
    Ok(Report {
        started: started.into_std(),
        elapsed,
        passes,
        churned,
        faults,
        injected_errors: source.injected_errors(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<Args, String> {
        let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        parse_args(&words)
    }

    #[test]
    fn arguments_parse_and_bad_ones_are_refused() {
        let a = args("--minutes 1.5 --backends 2000 --threads 2").unwrap();
        assert_eq!(
            (a.duration, a.backends, a.threads),
            (Duration::from_secs(90), 2000, 2)
        );
        assert_eq!(
            args("--seconds 60").unwrap().duration,
            Duration::from_secs(60)
        );
        assert!(args("--seconds 20").is_err());
        assert!(args("--backends 100000").is_err());
        assert!(args("--minutes").is_err());
        assert!(args("--minutes -1").is_err());
        assert!(args("--fast 1").is_err());
    }
}
