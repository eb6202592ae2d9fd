//! What metrics cost on the request path: a pick and its report (round robin over 100 backends,
//! passive health on, so requests count in flight) with lb-core's `metrics` feature off, on but
//! the load balancer unnamed, named with no recorder installed, and named with
//! metrics-exporter-prometheus' recorder.
//!
//! `cargo bench -p lb-benches --bench metrics` measures the first case;
//! `cargo bench -p lb-benches --features metrics --bench metrics` the others.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use lb_benches::sets::{backends, keys};
use lb_core::{Backends, LoadBalancer, Outcome, PassiveHealth};
use lb_selection::RoundRobin;

fn load_balancer() -> LoadBalancer<RoundRobin> {
    let lb = LoadBalancer::<RoundRobin>::from_backends(Backends::fixed(backends(100, 8080, |_| 1)));
    lb.set_passive_health(Some(PassiveHealth::default()));
    lb
}

/// `iters` picks and reports, timed as one loop.
fn timed(lb: &LoadBalancer<RoundRobin>, keys: &[[u8; 16]], iters: u64) -> Duration {
    let latency = Duration::from_micros(800);
    let start = Instant::now();
    for i in 0..iters as usize {
        let pick = lb
            .select(black_box(&keys[i & 4095]))
            .expect("ready backends");
        pick.report(Outcome::Success, latency);
    }
    start.elapsed()
}

fn metrics(c: &mut Criterion) {
    let keys = keys();
    let mut g = c.benchmark_group("metrics/pick_report");
    let unnamed = load_balancer();
    #[cfg(not(feature = "metrics"))]
    let case = "feature_off";
    #[cfg(feature = "metrics")]
    let case = "unnamed";
    g.bench_function(case, |b| {
        b.iter_custom(|iters| timed(&unnamed, &keys, iters))
    });
    #[cfg(feature = "metrics")]
    {
        use lb_core::metrics::Metrics;
        let noop = load_balancer();
        noop.set_metrics(Metrics::new("noop")).expect("named once");
        g.bench_function("named_no_recorder", |b| {
            b.iter_custom(|iters| timed(&noop, &keys, iters))
        });
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let prometheus = load_balancer();
        metrics::with_local_recorder(&recorder, || {
            prometheus.set_metrics(Metrics::new("prometheus"))
        })
        .expect("named once");
        g.bench_function("named_prometheus", |b| {
            b.iter_custom(|iters| {
                let took = timed(&prometheus, &keys, iters);
                // The exporter keeps histogram values until it renders or runs its upkeep, as a
                // scrape would.
                handle.run_upkeep();
                took
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = metrics
}
criterion_main!(benches);
