//! Picking a backend, per strategy, both ways lb-core offers, with a health check set.
//!
//! `cargo bench -p lb-benches --bench select`. Every figure is the time of one select.
//!
//! - `select/{strategy}/pick/N`: [`LoadBalancer::select`], which returns an owned `Pick` (`Send`,
//!   any lifetime; two locked atomic operations per pick on the snapshot's reference count). This
//!   is the like-for-like comparison with pingora's `select`, which returns an owned `Backend`.
//! - `select/{strategy}/selector/N`: a per-worker [`Selector`](lb_core::Selector)
//!   (`lb.selector()`), which caches the snapshot and returns a `LocalPick` borrowing it: the fast
//!   path of a proxy worker.
//!
//! Strategies: `round_robin`, `random`, `least_request` (two choices), `peak_ewma`, `fnv_hash`,
//! `consistent`, `maglev`, `rendezvous`, `jump` and `bounded_maglev` (`Bounded<Maglev>`, no
//! request held in flight) over backends of weights 1 to 10 (`1 + i % 10`); `consistent_w1` with
//! every weight 1 (160 ring points per backend, the usual way rings are compared);
//! `round_robin_golden` over weights too uneven to tabulate; `floor`, a
//! strategy that always offers index 0, which measures lb-core's own share of the path. N = 10,
//! 100, 1,000 and 10,000. Keys rotate over 4,096 distinct 16-byte keys.
//!
//! - `select_2threads/{strategy}/{pick,selector}/N`: two threads selecting at once from one load
//!   balancer (each with its own `Selector` in the `selector` case); the figure is the time per
//!   select on each thread (the wall time of `iters` selects per thread, the slower thread), so
//!   the throughput of the pair is two selects per that time.
//! - "quiet" figures (printed, and recorded through `LB_BENCH_OUT` for `cargo xtask bench`): the
//!   same single-thread selects timed in short batches (`lb_benches::quiet`: 2,000 batches of
//!   1,000 for selects of a few ns, fewer and smaller for O(N) ones), as the fastest batch and the
//!   10th percentile. A batch (tens of µs) is shorter than a scheduler time slice, so these stay
//!   meaningful on a machine busy with other work, where criterion's samples absorb every
//!   preemption.
//! - `select_held/{strategy}/{drop,held_1000}/N`: `select` on a thread that drops each pick at
//!   once (`drop`), against one that holds the picks of its last 1,000 requests, as a proxy
//!   worker with 1,000 requests in flight does (`held_1000`): each select then also drops the
//!   oldest held pick. Holding picks takes arc-swap off its fast path (a thread has a few slots
//!   for borrowed generations), and for a load-aware strategy every pick counts in flight.
//! - `select/quiet key_length/...`: hashing strategies pay per byte of key; the quiet estimate at
//!   N = 10,000 for 4- to 64-byte keys.
//! - `select_topology/{strategy}/{case}/N`: `select` through topology, beside the same set
//!   without it (`flat`): `levels`, two priority levels (level 0 healthy); `zones`, three
//!   zones with zone-aware routing on and every request local; `zones_spill`, the same with
//!   half of the local zone down, so 60 % of requests stay and the rest are drawn across zones.
//!
//! `LB_SELECT_ONLY=round_robin,fnv_hash` limits a run to the strategies named (see `wanted`).
//!
//! Timing and sampling are set in the criterion config below, so criterion's command-line
//! options (`--warm-up-time`, `--measurement-time`, `--quick`) override them.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use lb_benches::quiet;
use lb_benches::sets::{SIZES, backends, keys, uneven, weighted};
use lb_core::{
    Backend, BackendIter, BackendSelection, Backends, BoxError, HealthCheck, LoadBalancer,
    Priority, Zone, ZoneRouting, async_trait,
};
use lb_selection::{
    Bounded, Consistent, FnvHash, Jump, LeastRequest, Maglev, PeakEwma, Random, Rendezvous,
    RoundRobin,
};

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

/// Quiet batch timings of `select` over the keys (see `lb_benches::quiet`), recorded as `id`.
fn report_quiet<K: AsRef<[u8]>>(
    id: &str,
    keys: &[K],
    mut select: impl FnMut(&[u8]) -> Option<usize>,
) {
    quiet::report(id, quiet::batches(keys, |key| select(key.as_ref())));
}

/// `iters` selects through `select`, timed as one loop (`iter_custom`): criterion's `iter` adds
/// about 5 ns of harness per call on this machine, a third of what is being measured.
fn timed(
    keys: &[[u8; 16]],
    iters: u64,
    mut select: impl FnMut(&[u8]) -> Option<usize>,
) -> Duration {
    let start = Instant::now();
    for i in 0..iters as usize {
        black_box(select(black_box(&keys[i & 4095])));
    }
    start.elapsed()
}

/// Whether `strategy` is among those `LB_SELECT_ONLY` names (a comma-separated list; all when
/// unset): the quiet passes and builds of the others are skipped, which criterion's own filter
/// cannot do, so that one strategy can be measured or profiled alone.
fn wanted(strategy: &str) -> bool {
    std::env::var("LB_SELECT_ONLY").map_or(true, |only| only.split(',').any(|s| s == strategy))
}

fn bench_one<S: BackendSelection>(c: &mut Criterion, strategy: &str, weight: fn(usize) -> u32) {
    if !wanted(strategy) {
        return;
    }
    let keys = keys();
    let lbs: Vec<(usize, LoadBalancer<S>)> = SIZES
        .iter()
        .map(|&n| (n, load_balancer::<S>(&backends(n, 8080, weight))))
        .collect();
    for (n, lb) in &lbs {
        report_quiet(&format!("select/{strategy}/pick/{n}"), &keys, |key| {
            lb.select(key).map(|p| p.index())
        });
        let mut selector = lb.selector();
        report_quiet(&format!("select/{strategy}/selector/{n}"), &keys, |key| {
            selector.select(key).map(|p| p.index())
        });
    }
    let mut g = c.benchmark_group(format!("select/{strategy}"));
    for (n, lb) in &lbs {
        g.bench_function(BenchmarkId::new("pick", n), |b| {
            b.iter_custom(|iters| timed(&keys, iters, |key| lb.select(key).map(|p| p.index())))
        });
        let mut selector = lb.selector();
        g.bench_function(BenchmarkId::new("selector", n), |b| {
            b.iter_custom(|iters| {
                timed(&keys, iters, |key| selector.select(key).map(|p| p.index()))
            })
        });
    }
    g.finish();
}

/// Runs `run` on this thread and one more at once, started together; returns the slower
/// thread's time.
fn on_two_threads(run: impl Fn() -> Duration + Sync) -> Duration {
    let barrier = Barrier::new(2);
    let go = || {
        barrier.wait();
        run()
    };
    std::thread::scope(|s| {
        let other = s.spawn(go);
        let mine = go();
        // A panic in the other thread is a bench failure worth seeing.
        mine.max(other.join().expect("bench thread panicked"))
    })
}

fn bench_two_threads<S: BackendSelection>(c: &mut Criterion, strategy: &str) {
    if !wanted(strategy) {
        return;
    }
    let keys = keys();
    let mut g = c.benchmark_group(format!("select_2threads/{strategy}"));
    for n in SIZES {
        let lb = load_balancer::<S>(&backends(n, 8080, weighted));
        g.bench_function(BenchmarkId::new("pick", n), |b| {
            b.iter_custom(|iters| {
                on_two_threads(|| timed(&keys, iters, |key| lb.select(key).map(|p| p.index())))
            })
        });
        g.bench_function(BenchmarkId::new("selector", n), |b| {
            b.iter_custom(|iters| {
                on_two_threads(|| {
                    let mut selector = lb.selector();
                    timed(&keys, iters, |key| selector.select(key).map(|p| p.index()))
                })
            })
        });
    }
    g.finish();
}

/// `select` with the picks of the thread's last 1,000 requests held, beside select-then-drop.
fn bench_held<S: BackendSelection>(c: &mut Criterion, strategy: &str) {
    if !wanted(strategy) {
        return;
    }
    const HELD: usize = 1_000;
    let keys = keys();
    let mut g = c.benchmark_group(format!("select_held/{strategy}"));
    for n in [10, 10_000] {
        let lb = load_balancer::<S>(&backends(n, 8080, weighted));
        g.bench_function(BenchmarkId::new("drop", n), |b| {
            b.iter_custom(|iters| timed(&keys, iters, |key| lb.select(key).map(|p| p.index())))
        });
        let mut held = std::collections::VecDeque::with_capacity(HELD + 1);
        for i in 0..HELD {
            held.push_back(lb.select(&keys[i & 4095]).expect("a backend"));
        }
        g.bench_function(BenchmarkId::new("held_1000", n), |b| {
            b.iter_custom(|iters| {
                timed(&keys, iters, |key| {
                    let pick = lb.select(key)?;
                    let index = pick.index();
                    held.push_back(pick);
                    drop(held.pop_front());
                    Some(index)
                })
            })
        });
        report_quiet(
            &format!("select_held/{strategy}/held_1000/{n}"),
            &keys,
            |key| {
                let pick = lb.select(key)?;
                let index = pick.index();
                held.push_back(pick);
                drop(held.pop_front());
                Some(index)
            },
        );
        report_quiet(&format!("select_held/{strategy}/drop/{n}"), &keys, |key| {
            lb.select(key).map(|p| p.index())
        });
    }
    g.finish();
}

/// `select` through priority levels and zones, beside the same set without topology.
fn bench_topology<S: BackendSelection>(c: &mut Criterion, strategy: &str) {
    if !wanted(strategy) {
        return;
    }
    let keys = keys();
    let mut g = c.benchmark_group(format!("select_topology/{strategy}"));
    for n in [12, 10_002] {
        let plain = backends(n, 8080, weighted);
        let level = |i: usize, b: Backend| b.with_ext(Priority(u32::from(i % 2 == 1)));
        let zone = |i: usize, b: Backend| b.with_ext(Zone::new(["a", "b", "c"][i % 3]));
        let with = |f: &dyn Fn(usize, Backend) -> Backend| -> Vec<Backend> {
            plain
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, b)| f(i, b))
                .collect()
        };
        let flat = load_balancer::<S>(&plain);
        let levels = load_balancer::<S>(&with(&level));
        let zoned = with(&zone);
        let zones = load_balancer::<S>(&zoned);
        zones.set_zone_routing(Some(ZoneRouting::new("a"))).unwrap();
        let spill = load_balancer::<S>(&zoned);
        spill.set_zone_routing(Some(ZoneRouting::new("a"))).unwrap();
        for b in zoned.iter().step_by(6) {
            spill.backends().set_health(b, false);
        }
        for (case, lb) in [
            ("flat", &flat),
            ("levels", &levels),
            ("zones", &zones),
            ("zones_spill", &spill),
        ] {
            report_quiet(
                &format!("select_topology/{strategy}/{case}/{n}"),
                &keys,
                |key| lb.select(key).map(|p| p.index()),
            );
            g.bench_function(BenchmarkId::new(case, n), |b| {
                b.iter_custom(|iters| timed(&keys, iters, |key| lb.select(key).map(|p| p.index())))
            });
        }
    }
    g.finish();
}

/// Hashing strategies pay per byte of key (FNV-1a is a serial multiply per byte, as pingora's
/// `FNVHash` requires): the quiet estimate at N = 10,000 for several key lengths.
fn report_key_lengths() {
    fn line<S: BackendSelection>(name: &str) {
        if !wanted(name) {
            return;
        }
        let lb = load_balancer::<S>(&backends(10_000, 8080, weighted));
        for len in [4usize, 8, 16, 64] {
            let keys: Vec<Vec<u8>> = (0..4096u64)
                .map(|i| {
                    let bytes = i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes();
                    (0..len).map(|j| bytes[j % 8] ^ j as u8).collect()
                })
                .collect();
            report_quiet(
                &format!("key_length/{name}/pick/10000/{len}B"),
                &keys,
                |key| lb.select(key).map(|p| p.index()),
            );
        }
    }
    line::<FnvHash>("fnv_hash");
    line::<Consistent>("consistent");
    line::<Maglev>("maglev");
}

fn select(c: &mut Criterion) {
    report_key_lengths();
    bench_one::<Floor>(c, "floor", weighted);
    bench_one::<RoundRobin>(c, "round_robin", weighted);
    bench_one::<RoundRobin>(c, "round_robin_golden", uneven);
    bench_one::<Random>(c, "random", weighted);
    bench_one::<LeastRequest>(c, "least_request", weighted);
    bench_one::<PeakEwma>(c, "peak_ewma", weighted);
    bench_one::<FnvHash>(c, "fnv_hash", weighted);
    bench_one::<Consistent>(c, "consistent", weighted);
    bench_one::<Consistent>(c, "consistent_w1", |_| 1);
    bench_one::<Maglev>(c, "maglev", weighted);
    bench_one::<Rendezvous>(c, "rendezvous", weighted);
    bench_one::<Jump>(c, "jump", weighted);
    bench_one::<Bounded<Maglev>>(c, "bounded_maglev", weighted);
    bench_topology::<RoundRobin>(c, "round_robin");
    bench_topology::<Consistent>(c, "consistent");
    bench_held::<RoundRobin>(c, "round_robin");
    bench_held::<LeastRequest>(c, "least_request");
    bench_two_threads::<Floor>(c, "floor");
    bench_two_threads::<RoundRobin>(c, "round_robin");
    bench_two_threads::<Random>(c, "random");
    bench_two_threads::<LeastRequest>(c, "least_request");
    bench_two_threads::<PeakEwma>(c, "peak_ewma");
    bench_two_threads::<FnvHash>(c, "fnv_hash");
    bench_two_threads::<Consistent>(c, "consistent");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = select
}
criterion_main!(benches);
