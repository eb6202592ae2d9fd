//! The health-check section: `examples/health_scale`'s passes (TCP over 100,000 loopback
//! backends, HTTP/1.1 over 10,000 with connection reuse off and on), from its `health_scale`
//! lines, and issue 18's target judged on this run.

use std::fmt::Write;

use serde::Deserialize;

use super::report::{table, thousands, time};

/// The target: a TCP pass over this many backends ...
const TARGET_BACKENDS: u64 = 100_000;

/// ... under this many nanoseconds, with no backend marked unhealthy.
const TARGET_NS: f64 = 3e9;

/// One pass (a `health_scale` line).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct HealthPass {
    pub(crate) probe: String,
    pub(crate) reuse: bool,
    pub(crate) backends: u64,
    pub(crate) concurrency: u64,
    pub(crate) threads: u64,
    pub(crate) pass: u64,
    pub(crate) failed: u64,
    pub(crate) unhealthy: u64,
    pub(crate) accepted: u64,
    pub(crate) elapsed_ns: f64,
    #[serde(default)]
    pub(crate) cpu_ns: Option<f64>,
    #[serde(default)]
    pub(crate) peer_cpu_ns: Option<f64>,
    #[serde(rename = "lb_bytes_per_backend")]
    pub(crate) lb_bytes: f64,
    #[serde(rename = "peak_bytes_per_backend")]
    pub(crate) peak_bytes: f64,
    #[serde(default)]
    pub(crate) load: Option<f64>,
}

impl HealthPass {
    fn kind(&self) -> String {
        match (self.probe.as_str(), self.reuse) {
            ("http", true) => "HTTP/1.1, reuse on".to_owned(),
            ("http", false) => "HTTP/1.1, reuse off".to_owned(),
            (probe, _) => probe.to_uppercase(),
        }
    }
}

/// Appends the section when the run has health passes.
pub(crate) fn section(out: &mut String, passes: &[HealthPass]) {
    let Some(first) = passes.first() else {
        return;
    };
    let _ = write!(
        out,
        "## Health checks at scale\n\n`cargo run --release --example health_scale`: one load \
         balancer (round robin, each backend's health in its state) probes every backend once per pass, \
         at most `concurrency` probes at once, on a tokio runtime of {} worker threads. The \
         backends are distinct loopback addresses `127.a.b.c` answered by one listener on \
         `0.0.0.0` on a thread of the same process (TCP: accepts and closes; HTTP/1.1: an \
         in-process hyper server answering 200), so the pass's CPU time (the whole \
         process's, system time included) includes the backends' side; the backends' thread's \
         own share is beside it. Every backend is up: any backend marked unhealthy is \
         a false verdict. Heap per backend counted by a counting allocator: the load balancer \
         with its health records, and the most the pass held above that (probes in flight; with \
         reuse, the idle connections, both ends of which are in this process).\n\n",
        first.threads
    );
    let header = [
        "probe",
        "backends",
        "concurrency",
        "pass",
        "time",
        "CPU time",
        "(backends' thread)",
        "load average",
        "failed",
        "unhealthy",
        "connections opened",
        "bytes per backend (balancer)",
        "(pass peak)",
    ]
    .map(str::to_owned);
    let rows: Vec<Vec<String>> = passes
        .iter()
        .map(|p| {
            vec![
                p.kind(),
                thousands(p.backends),
                p.concurrency.to_string(),
                p.pass.to_string(),
                time(p.elapsed_ns),
                p.cpu_ns.map_or("-".to_owned(), time),
                p.peer_cpu_ns.map_or("-".to_owned(), time),
                p.load.map_or("-".to_owned(), |l| format!("{l:.2}")),
                p.failed.to_string(),
                p.unhealthy.to_string(),
                thousands(p.accepted),
                format!("{:.0}", p.lb_bytes),
                format!("{:.0}", p.peak_bytes),
            ]
        })
        .collect();
    table(out, &header, &rows);
    let _ = writeln!(out, "{}\n", verdict(passes));
}

/// Issue 18's target, judged on the TCP passes over at least 100,000 backends.
fn verdict(passes: &[HealthPass]) -> String {
    let tcp: Vec<&HealthPass> = passes
        .iter()
        .filter(|p| p.probe == "tcp" && p.backends >= TARGET_BACKENDS)
        .collect();
    let Some(slowest) = tcp.iter().map(|p| p.elapsed_ns).reduce(f64::max) else {
        return format!(
            "Target (issue 18): a TCP pass over {} backends in under 3 s on 2 CPUs, none \
             marked unhealthy: not run at that size (`--quick`).",
            thousands(TARGET_BACKENDS)
        );
    };
    let unhealthy: u64 = tcp.iter().map(|p| p.unhealthy).max().unwrap_or(0);
    let loaded = tcp.iter().filter_map(|p| p.load).reduce(f64::max);
    let met = slowest < TARGET_NS && unhealthy == 0;
    format!(
        "Target (issue 18): a TCP pass over {} backends in under 3 s on 2 CPUs, none marked \
         unhealthy: **{}** (slowest pass {}, at most {unhealthy} unhealthy{}).",
        thousands(TARGET_BACKENDS),
        if met { "met" } else { "missed" },
        time(slowest),
        match loaded {
            Some(load) if load > 1.0 => format!(
                "; the load average reached {load:.2}: other work shared the CPUs, so the \
                 times are pessimistic"
            ),
            _ => String::new(),
        }
    )
}

#[cfg(test)]
mod tests {
    use super::super::data::Data;
    use super::*;

    const LINES: &str = r#"
{"kind":"health_scale","probe":"tcp","reuse":false,"backends":100000,"concurrency":256,"threads":2,"pass":1,"checked":100000,"failed":0,"unhealthy":0,"accepted":100000,"elapsed_ns":2400000000,"cpu_ns":4100000000,"peer_cpu_ns":900000000,"lb_bytes_per_backend":480.4,"peak_bytes_per_backend":17.2,"load":0.4}
{"kind":"health_scale","probe":"http","reuse":true,"backends":9616,"concurrency":256,"threads":2,"pass":2,"checked":9616,"failed":0,"unhealthy":0,"accepted":0,"elapsed_ns":696000000,"cpu_ns":null,"lb_bytes_per_backend":589.0,"peak_bytes_per_backend":132.0,"load":null}
"#;

    #[test]
    fn renders_the_passes_and_judges_the_tcp_target() {
        let mut data = Data::default();
        let warnings = data.add_lines("health.jsonl", LINES);
        assert!(warnings.is_empty(), "{warnings:?}");
        let mut out = String::new();
        section(&mut out, &data.health);
        assert!(out.starts_with("## Health checks at scale\n"), "{out}");
        assert!(
            out.contains(
                "| TCP | 100,000 | 256 | 1 | 2.40 s | 4.10 s | 900 ms | 0.40 | 0 | 0 | 100,000 | 480 | 17 |"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "| HTTP/1.1, reuse on | 9,616 | 256 | 2 | 696 ms | - | - | - | 0 | 0 | 0 |"
            ),
            "{out}"
        );
        assert!(
            out.contains("**met** (slowest pass 2.40 s, at most 0 unhealthy)."),
            "{out}"
        );
    }

    #[test]
    fn a_slow_or_false_pass_misses_the_target_and_says_the_load() {
        let pass = |elapsed_ns: f64, unhealthy: u64, load: f64| HealthPass {
            probe: "tcp".to_owned(),
            reuse: false,
            backends: 100_000,
            concurrency: 256,
            threads: 2,
            pass: 1,
            failed: unhealthy,
            unhealthy,
            accepted: 100_000,
            elapsed_ns,
            cpu_ns: None,
            peer_cpu_ns: None,
            lb_bytes: 480.0,
            peak_bytes: 17.0,
            load: Some(load),
        };
        let slow = verdict(&[pass(2e9, 0, 0.2), pass(3.5e9, 0, 7.5)]);
        assert!(slow.contains("**missed** (slowest pass 3.50 s"), "{slow}");
        assert!(slow.contains("the load average reached 7.50"), "{slow}");
        let false_verdict = verdict(&[pass(1e9, 3, 0.2)]);
        assert!(false_verdict.contains("**missed**"), "{false_verdict}");
        assert!(!false_verdict.contains("load average"), "{false_verdict}");
        let mut small = pass(1e9, 0, 0.2);
        small.backends = 10_000;
        assert!(verdict(&[small]).contains("not run at that size"));
        let mut out = String::new();
        section(&mut out, &[]);
        assert!(out.is_empty());
    }
}
