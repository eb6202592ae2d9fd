//! The figures printed at the end of a run, and the verdict.

use std::sync::atomic::Ordering;

use lb_core::LoadBalancer;
use lb_selection::RoundRobin;

use crate::source::Fault;
use crate::state::{Shared, Violation};
use crate::{Args, MAX_MEMORY_SLOPE, Report, faults, memory};

pub(crate) fn print(
    args: &Args,
    shared: &Shared,
    lb: &LoadBalancer<RoundRobin>,
    report: &Report,
    [heap, rss]: [&[(f64, f64)]; 2],
    warm_up: f64,
) {
    const MIB: f64 = 1024.0 * 1024.0;
    let secs = report.elapsed.as_secs_f64();
    let selects = shared.selects.load(Ordering::Relaxed);
    let stats = lb.stats();
    let set = lb.backends().get_backend();
    let ejections: u64 = set.states().iter().map(|s| s.ejections()).sum();
    let (p, c) = (&report.passes, &report.churned);
    println!(
        "soak: {secs:.0} s, {} backends ({} published at the end), {} selecting threads",
        args.backends,
        set.len(),
        args.threads
    );
    println!(
        "  selects           {selects} ({:.2} M/s)",
        selects as f64 / secs / 1e6
    );
    println!(
        "  updates applied   {} ({} discovery changes, {} of the driver's own updates \
         confirmed, {} failed, {} past their deadline)",
        stats.published, c.changes, c.confirmed, c.failed, c.timed_out
    );
    println!(
        "  health passes     {} ({} probes, {} failed, {} flips; {} listeners toggled; \
         longest pass {:.2} s)",
        p.passes,
        p.probes,
        p.failed,
        p.flips,
        p.toggled,
        p.longest.as_secs_f64()
    );
    println!("  passive health    {ejections} ejections of the backends published at the end");
    println!(
        "  discovery errors  {} counted ({} injected)",
        stats.discovery_errors, report.injected_errors
    );
    for fault in [Fault::Error, Fault::Hang, Fault::Garbage] {
        let of: Vec<&faults::Survived> =
            report.faults.iter().filter(|f| f.fault == fault).collect();
        let published: Vec<String> = of.iter().map(|f| f.published.to_string()).collect();
        let recovered: Vec<String> = of
            .iter()
            .map(|f| {
                f.recovered_in.map_or("never".to_owned(), |d| {
                    format!("{:.0}", d.as_secs_f64() * 1e3)
                })
            })
            .collect();
        println!(
            "  discovery {:<7} updates during each: {}; newest answer published after, ms: {}",
            format!("{fault:?}").to_lowercase(),
            published.join(", "),
            recovered.join(", ")
        );
    }
    println!(
        "  faults            {} cycles: discovery errors 3 s, hangs 3 s, garbage 2 s; probes \
         panicking and hanging in waves 4 s (and 20 backends always); {} clock jumps of 2 s",
        report.faults.len() / 3,
        p.jumps
    );
    println!(
        "  peak heap         {:.1} MiB",
        memory::peak_heap() as f64 / MIB
    );
    match memory::status_bytes("VmHWM") {
        Some(peak) => println!("  peak RSS          {:.1} MiB", peak as f64 / MIB),
        None => println!("  peak RSS          unknown (no /proc)"),
    }
    let trend = |name: &str, floors: &[(f64, f64)], judged: &str| {
        let lows: Vec<String> = floors
            .iter()
            .map(|(_, y)| format!("{:.2}", y / MIB))
            .collect();
        match memory::slope(floors) {
            Some((slope, _)) => println!(
                "  {name:<17} {slope:+.2} %/min after {warm_up:.0} s warm-up ({judged}); lowest \
                 of each fault cycle, MiB: {}",
                lows.join(" ")
            ),
            None => println!(
                "  {name:<17} not measured: it needs two fault cycles after the warm-up (a run \
                 of 60 s or more)"
            ),
        }
    };
    trend(
        "heap slope",
        heap,
        &format!("limit {MAX_MEMORY_SLOPE} %/min"),
    );
    trend(
        "RSS slope",
        rss,
        "not judged: it includes what the system allocator keeps after a free",
    );
    let counts: Vec<String> = Violation::ALL
        .iter()
        .map(|v| format!("{} {}", v.name(), shared.count(*v)))
        .collect();
    println!("  checks            {}", counts.join("; "));
    let total = shared.total_violations();
    if total == 0 {
        println!("soak: passed");
    } else {
        println!("soak: FAILED ({total} violations)");
    }
}
