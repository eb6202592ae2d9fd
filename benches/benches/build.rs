//! Building each strategy's selector, and a whole `LoadBalancer::apply` (the update path).
//!
//! `cargo bench -p lb-benches --bench build`. Groups:
//! - `build/{strategy}/{w1,w1-10,w10000}/N` for `round_robin`, `random`, `least_request`,
//!   `fnv_hash`, `consistent`, `maglev`, `rendezvous` and `jump`: `S::build` over N
//!   backends of weight 1, weights 1 to 10, or weight 10,000, for N = 1,000 and 10,000.
//!   Consistent at weight 10,000 would be a ring of 1.6 billion points, over lb-ketama's limit (a
//!   build error, by design); it is measured with `point_multiple: Some(1)` where that fits.
//!   Maglev's table is the default size: 131,101 slots at N = 1,000, 1,048,583 at 10,000.
//! - `build/round_robin_golden/N`: round robin over weights too uneven to tabulate.
//! - `apply/{strategy}/10000`: `LoadBalancer::apply` of a 10,000-backend set that differs from
//!   the current one (so the selector is rebuilt), weights 1 to 10: the whole update.
//!
//! Warm-up and measurement times are set in the criterion config below, so criterion's
//! command-line options (`--warm-up-time`, `--measurement-time`, `--quick`) override them; the
//! sample size (10) is per group.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use lb_benches::sets::{backends, uneven, weighted};
use lb_core::{BackendSelection, Backends, LoadBalancer};
use lb_selection::{
    Consistent, FnvHash, Jump, KetamaConfig, LeastRequest, Maglev, Random, Rendezvous, RoundRobin,
};

type Weights = (&'static str, fn(usize) -> u32);

const WEIGHTS: [Weights; 3] = [("w1", |_| 1), ("w1-10", weighted), ("w10000", |_| 10_000)];

fn bench_build<S: BackendSelection>(
    c: &mut Criterion,
    name: &str,
    config: impl Fn(&str) -> S::Config,
    weights: &[Weights],
) {
    let mut g = c.benchmark_group(format!("build/{name}"));
    g.sample_size(10);
    for &(label, weight) in weights {
        for n in [1_000, 10_000] {
            let set = backends(n, 80, weight);
            let config = config(label);
            if S::build(&set, &config).is_err() {
                println!("build/{name}/{label}/{n}: not buildable (over a documented limit)");
                continue;
            }
            g.bench_function(BenchmarkId::new(label, n), |b| {
                b.iter(|| black_box(S::build(black_box(&set), &config).map(|_| ()).is_ok()))
            });
        }
    }
    g.finish();
}

fn bench_apply<S: BackendSelection>(c: &mut Criterion, name: &str) {
    let mut g = c.benchmark_group("apply");
    g.sample_size(10);
    let sets = [
        backends(10_000, 80, weighted),
        backends(10_000, 81, weighted),
    ];
    let lb = LoadBalancer::<S>::from_backends(Backends::fixed(sets[0].clone()));
    let mut turn = 0;
    g.bench_function(BenchmarkId::new(name, 10_000), |b| {
        b.iter(|| {
            turn ^= 1;
            lb.apply(sets[turn].clone()).expect("the set builds");
        })
    });
    g.finish();
}

fn build(c: &mut Criterion) {
    bench_build::<RoundRobin>(c, "round_robin", |_| (), &WEIGHTS);
    bench_build::<RoundRobin>(c, "round_robin_golden", |_| (), &[("uneven", uneven)]);
    bench_build::<Random>(c, "random", |_| (), &WEIGHTS);
    bench_build::<LeastRequest>(c, "least_request", |_| Default::default(), &WEIGHTS);
    bench_build::<FnvHash>(c, "fnv_hash", |_| (), &WEIGHTS);
    bench_build::<Consistent>(
        c,
        "consistent",
        |label| KetamaConfig {
            point_multiple: (label == "w10000").then_some(1),
        },
        &WEIGHTS,
    );
    bench_build::<Maglev>(c, "maglev", |_| Default::default(), &WEIGHTS);
    bench_build::<Rendezvous>(c, "rendezvous", |_| (), &WEIGHTS);
    bench_build::<Jump>(c, "jump", |_| Default::default(), &WEIGHTS);
    bench_apply::<RoundRobin>(c, "round_robin");
    bench_apply::<Random>(c, "random");
    bench_apply::<FnvHash>(c, "fnv_hash");
    bench_apply::<Consistent>(c, "consistent");
    bench_apply::<Maglev>(c, "maglev");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    targets = build
}
criterion_main!(benches);
