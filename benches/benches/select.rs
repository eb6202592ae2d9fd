//! `LoadBalancer::select` per strategy: the select path, with a health check set.
//!
//! `cargo bench -p lb-benches --bench select`. Groups:
//! - `select/{round_robin,random,fnv_hash,consistent}/N` for N = 10, 100, 1,000, 10,000 backends
//!   of weights 1 to 10 (`1 + i % 10`), one thread. Keys rotate over 4,096 distinct 16-byte keys.
//! - `select/consistent_w1/N`: consistent hashing with every weight 1 (160 ring points per
//!   backend rather than 880 on average), the usual way rings are compared.
//! - `select/round_robin_golden/N`: round robin over weights too uneven to tabulate (the golden-ratio
//!   regime).
//! - `select/floor/N`: a strategy that always offers index 0: what lb-core's part of the path costs
//!   (load the snapshot, build the iterator, one readiness load, the `Pick`).
//! - `select_2threads/{strategy}/10000`: two threads selecting at once from one load balancer;
//!   the time is per select, per thread (wall time of `iters` selects on each thread).
//! - Memory per backend of each selector is printed first (`select/memory ...` lines).
//! - `select/quiet ...` lines: the same single-thread selects timed in 2,000 batches of 1,000,
//!   reporting the fastest batch and the 10th percentile. A batch (~30 µs) is shorter than a
//!   scheduler time slice, so these stay meaningful on a machine busy with other work, where
//!   criterion's 20 ms samples absorb every preemption.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use lb_core::{
    Backend, BackendIter, BackendSelection, Backends, BoxError, HealthCheck, LoadBalancer,
    async_trait,
};
use lb_selection::{Consistent, FnvHash, KetamaConfig, Random, RoundRobin};

const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

fn backends(n: usize, weight: impl Fn(usize) -> u32) -> Vec<Backend> {
    (0..n)
        .map(|i| {
            let ip = std::net::Ipv4Addr::from(0x0a00_0001 + i as u32);
            Backend::from(std::net::SocketAddr::from((ip, 8080))).with_weight(weight(i))
        })
        .collect()
}

fn weighted(i: usize) -> u32 {
    1 + (i % 10) as u32
}

/// Weights with no common structure (a prime spread), so round robin cannot tabulate them.
fn uneven(i: usize) -> u32 {
    1 + ((i as u32).wrapping_mul(2_654_435_761) % 100_003)
}

fn keys() -> Vec<[u8; 16]> {
    (0..4096u64)
        .map(|i| {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(b"session-");
            k[8..].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
            k
        })
        .collect()
}

/// Set but never run: it puts readiness filtering on the path, as in production.
struct Probe;

#[async_trait]
impl HealthCheck for Probe {
    async fn check(&self, _backend: &Backend) -> Result<(), BoxError> {
        Ok(())
    }
    fn health_threshold(&self, _success: bool) -> usize {
        1
    }
}

/// The cheapest possible strategy: always index 0. Measures lb-core's share of the path.
struct Floor(bool);
struct FloorIter(bool);
impl BackendIter for FloorIter {
    #[inline]
    fn next(&mut self) -> Option<usize> {
        std::mem::take(&mut self.0).then_some(0)
    }
}
impl BackendSelection for Floor {
    type Config = ();
    type Iter<'a> = FloorIter;
    fn build(backends: &[Backend], _: &()) -> Result<Self, BoxError> {
        Ok(Floor(!backends.is_empty()))
    }
    #[inline]
    fn iter(&self, _key: &[u8]) -> FloorIter {
        FloorIter(self.0)
    }
}

fn load_balancer<S: BackendSelection>(set: &[Backend]) -> LoadBalancer<S> {
    let mut lb = LoadBalancer::<S>::from_backends(Backends::fixed(set.to_vec()));
    lb.set_health_check(Box::new(Probe));
    assert!(lb.select(b"warm").is_some(), "the selector was built");
    lb
}

/// Per-select time of the fastest batch and of the 10th percentile batch, in ns.
fn quiet<S: BackendSelection>(lb: &LoadBalancer<S>, keys: &[[u8; 16]]) -> (f64, f64) {
    const BATCH: usize = 1_000;
    let mut batches: Vec<f64> = (0..2_000)
        .map(|b| {
            let start = Instant::now();
            for i in 0..BATCH {
                black_box(
                    lb.select(black_box(&keys[(b * BATCH + i) & 4095]))
                        .map(|p| p.index()),
                );
            }
            start.elapsed().as_nanos() as f64 / BATCH as f64
        })
        .collect();
    batches.sort_by(f64::total_cmp);
    (batches[0], batches[batches.len() / 10])
}

fn bench_one<S: BackendSelection>(c: &mut Criterion, group: &str, weight: fn(usize) -> u32) {
    let keys = keys();
    for n in SIZES {
        let lb = load_balancer::<S>(&backends(n, weight));
        let (min, p10) = quiet(&lb, &keys);
        println!("select/quiet {group}/{n}: fastest batch {min:.1} ns, p10 {p10:.1} ns per select");
    }
    let mut g = c.benchmark_group(group);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    for n in SIZES {
        let lb = load_balancer::<S>(&backends(n, weight));
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            // A plain loop timed as a whole (`iter_custom`): criterion's `iter` adds about 5 ns
            // of harness per call on this machine, a third of what is being measured.
            b.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters as usize {
                    black_box(lb.select(black_box(&keys[i & 4095])).map(|p| p.index()));
                }
                start.elapsed()
            })
        });
    }
    g.finish();
}

fn bench_two_threads<S: BackendSelection>(c: &mut Criterion, name: &str) {
    let keys = keys();
    let lb = load_balancer::<S>(&backends(10_000, weighted));
    let mut g = c.benchmark_group("select_2threads");
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    g.bench_function(BenchmarkId::new(name, 10_000), |b| {
        b.iter_custom(|iters| {
            let barrier = Barrier::new(2);
            let elapsed: Vec<Duration> = std::thread::scope(|s| {
                let run = || {
                    barrier.wait();
                    let start = Instant::now();
                    for i in 0..iters as usize {
                        black_box(lb.select(&keys[i & 4095]).map(|p| p.index()));
                    }
                    start.elapsed()
                };
                let other = s.spawn(run);
                let mine = run();
                // A panic in the other thread is a bench failure worth seeing.
                vec![mine, other.join().expect("bench thread panicked")]
            });
            elapsed.into_iter().max().unwrap_or_default()
        })
    });
    g.finish();
}

/// Hashing strategies pay per byte of key (FNV-1a is a serial multiply per byte, as pingora's
/// `FNVHash` requires): the quiet estimate at N = 10,000 for several key lengths.
fn report_key_lengths() {
    fn line<S: BackendSelection>(name: &str) {
        let lb = load_balancer::<S>(&backends(10_000, weighted));
        for len in [4usize, 8, 16, 64] {
            let keys: Vec<Vec<u8>> = (0..4096u64)
                .map(|i| {
                    let bytes = i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes();
                    (0..len).map(|j| bytes[j % 8] ^ j as u8).collect()
                })
                .collect();
            let mut batches: Vec<f64> = (0..2_000)
                .map(|b| {
                    let start = Instant::now();
                    for i in 0..1_000 {
                        let key = &keys[(b * 1_000 + i) & 4095];
                        black_box(lb.select(black_box(key)).map(|p| p.index()));
                    }
                    start.elapsed().as_nanos() as f64 / 1_000.0
                })
                .collect();
            batches.sort_by(f64::total_cmp);
            println!(
                "select/quiet key_length/{name}/10000/{len}B: fastest batch {:.1} ns, p10 {:.1} ns per select",
                batches[0],
                batches[batches.len() / 10]
            );
        }
    }
    line::<FnvHash>("fnv_hash");
    line::<Consistent>("consistent");
}

fn report_memory() {
    for n in [1_000, 10_000] {
        let set = backends(n, weighted);
        let per = |bytes: usize| bytes as f64 / n as f64;
        let rr = RoundRobin::build(&set, &()).expect("builds");
        let rr_uneven = RoundRobin::build(&backends(n, uneven), &()).expect("builds");
        let random = Random::build(&set, &()).expect("builds");
        let fnv = FnvHash::build(&set, &()).expect("builds");
        let ring = Consistent::build(&set, &KetamaConfig::default()).expect("builds");
        println!(
            "select/memory/{n} (bytes per backend, weights 1..10): round_robin {:.1} ({:?}), \
             round_robin_golden {:.1}, random {:.1}, fnv_hash {:.1}, consistent {:.1} \
             ({} ring points)",
            per(rr.heap_bytes()),
            rr.regime(),
            per(rr_uneven.heap_bytes()),
            per(random.heap_bytes()),
            per(fnv.heap_bytes()),
            per(ring.heap_bytes()),
            ring.ring().len(),
        );
    }
}

fn select(c: &mut Criterion) {
    report_memory();
    report_key_lengths();
    bench_one::<Floor>(c, "select/floor", weighted);
    bench_one::<RoundRobin>(c, "select/round_robin", weighted);
    bench_one::<RoundRobin>(c, "select/round_robin_golden", uneven);
    bench_one::<Random>(c, "select/random", weighted);
    bench_one::<FnvHash>(c, "select/fnv_hash", weighted);
    bench_one::<Consistent>(c, "select/consistent", weighted);
    bench_one::<Consistent>(c, "select/consistent_w1", |_| 1);
    bench_two_threads::<Floor>(c, "floor");
    bench_two_threads::<RoundRobin>(c, "round_robin");
    bench_two_threads::<Random>(c, "random");
    bench_two_threads::<FnvHash>(c, "fnv_hash");
    bench_two_threads::<Consistent>(c, "consistent");
}

criterion_group!(benches, select);
criterion_main!(benches);
