//! Updates whose cost follows the change: one or ten backends of 10,000 changed, through each
//! way a set reaches a load balancer.
//!
//! `cargo bench -p lb-benches --bench update`. Groups `update/{strategy}/{path}/10000`, weights
//! 1 to 10, each iteration toggling the changed backends (joined, then gone again), so the set
//! keeps its size:
//! - `delta_1`, `delta_10`: `LoadBalancer::apply_delta` of a delta naming the change (what a
//!   source that tracks its changes answers: `Static`'s edits, Kubernetes watch events, a DNS
//!   answer compared with the last).
//! - `full_1`: `LoadBalancer::apply` of the whole set of 10,000 with one backend changed (what a
//!   polled source answers), merged with the current set.
//!
//! Strategies: `round_robin`, `random`, `fnv_hash`, `least_request`, `peak_ewma`, `consistent`
//! and `maglev`. Each strategy that updates its selector in place
//! (`BackendSelection::apply_change`) does so here; the others rebuild it.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use lb_benches::sets::{backend, backends, weighted};
use lb_core::{Backend, BackendSelection, Backends, Delta, LoadBalancer};
use lb_selection::{Consistent, FnvHash, LeastRequest, Maglev, PeakEwma, Random, RoundRobin};

const N: usize = 10_000;

/// `count` backends outside the set (another port), to toggle in and out.
fn extra(count: usize) -> Vec<Backend> {
    (0..count)
        .map(|i| backend(i * 997, 81, weighted(i)))
        .collect()
}

fn bench_update<S: BackendSelection>(c: &mut Criterion, name: &str) {
    let mut g = c.benchmark_group(format!("update/{name}"));
    g.sample_size(20);
    let base = backends(N, 80, weighted);
    for count in [1, 10] {
        let lb = LoadBalancer::<S>::from_backends(Backends::fixed(base.clone()));
        let added = extra(count);
        let join = added
            .iter()
            .fold(Delta::new(), |d, b| d.with_upsert(b.clone()));
        let leave = added
            .iter()
            .fold(Delta::new(), |d, b| d.with_removal(b.addr.clone()));
        let mut inside = false;
        g.bench_function(BenchmarkId::new(format!("delta_{count}"), N), |b| {
            b.iter(|| {
                inside = !inside;
                let delta = if inside { &join } else { &leave };
                lb.apply_delta(black_box(delta)).expect("the set builds");
            })
        });
    }
    let lb = LoadBalancer::<S>::from_backends(Backends::fixed(base.clone()));
    let mut with_one = base.clone();
    with_one.extend(extra(1));
    let sets = [base, with_one];
    let mut turn = 0;
    g.bench_function(BenchmarkId::new("full_1", N), |b| {
        b.iter(|| {
            turn ^= 1;
            lb.apply(sets[turn].clone()).expect("the set builds");
        })
    });
    g.finish();
}

fn update(c: &mut Criterion) {
    bench_update::<RoundRobin>(c, "round_robin");
    bench_update::<Random>(c, "random");
    bench_update::<FnvHash>(c, "fnv_hash");
    bench_update::<LeastRequest>(c, "least_request");
    bench_update::<PeakEwma>(c, "peak_ewma");
    bench_update::<Consistent>(c, "consistent");
    bench_update::<Maglev>(c, "maglev");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = update
}
criterion_main!(benches);
