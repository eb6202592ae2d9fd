//! lb-ketama: building a ring, looking keys up, and memory per point.
//!
//! `cargo bench -p lb-benches --bench ketama`. Groups:
//! - `ketama/build/{v1,v2}/N`: `Continuum::new` over N buckets of weight 1 (160 points each), on as
//!   many threads as the build chooses (rings of 262,144 points or more use up to 4);
//!   `ketama/build/{v1,v2}_single_thread/N` the same with `Builder::single_threaded`.
//! - `ketama/lookup/{v1,v2,binary_search}/N`: one key to its point; `binary_search` is the plain
//!   search over every point's hash that the top-bits index is measured against. `v1` is the
//!   default layout (`Layout::Auto`: flat below 2^20 points, chunked from there, so chunked at
//!   10,000 buckets); `v1_flat` and `v1_chunked` at 10,000 name the layout.
//! - `ketama/first_bucket/{flat,chunked}/10000`: a key's hash to its bucket
//!   (`bucket_iter_by_hash(h).next()`), the lookup `Consistent` selects with.
//! - `ketama/update/{build,delta_1,delta_10}/10000`: 10,000 buckets of weights 1 to 10 (8.8
//!   million points, chunked); `build` builds the ring with one more bucket from scratch,
//!   `delta_N` applies `Continuum::with_changes` to add N buckets, then to remove them again
//!   (each iteration one of the two).
//! - Memory per point is printed before the groups run (`ketama/memory ...` lines): it is a
//!   property of the layout, not a timing.

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lb_ketama::{Bucket, Changes, Continuum, Layout, Version, hash};

const SIZES: [usize; 3] = [10, 1_000, 10_000];
const V2: Version = Version::V2 {
    point_multiple: 160,
};

fn buckets(n: usize) -> Vec<Bucket> {
    (0..n)
        .map(|i| {
            let addr: SocketAddr = format!("10.{}.{}.{}:8080", i >> 16, (i >> 8) & 255, i & 255)
                .parse()
                .expect("a valid address literal");
            Bucket::new(addr, 1)
        })
        .collect()
}

/// Keys spread over the ring; a power of two so the index wraps with a mask.
fn keys() -> Vec<[u8; 8]> {
    (0..4096u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes())
        .collect()
}

fn report_memory() {
    for n in SIZES {
        let b = buckets(n);
        for (name, version) in [("v1", Version::V1), ("v2", V2)] {
            let ring = Continuum::new_with_version(&b, version);
            println!(
                "ketama/memory/{name}/{n}: {} points, {} heap bytes, {:.2} bytes per point",
                ring.len(),
                ring.heap_size(),
                ring.heap_size() as f64 / ring.len() as f64
            );
        }
    }
}

fn build(c: &mut Criterion) {
    report_memory();
    let mut group = c.benchmark_group("ketama/build");
    group.sample_size(20);
    for n in SIZES {
        let b = buckets(n);
        group.throughput(Throughput::Elements(n as u64 * 160));
        group.bench_with_input(BenchmarkId::new("v1", n), &b, |bench, b| {
            bench.iter(|| Continuum::new(black_box(b)))
        });
        group.bench_with_input(BenchmarkId::new("v2", n), &b, |bench, b| {
            bench.iter(|| Continuum::new_with_version(black_box(b), V2))
        });
        if n * 160 >= 1 << 18 {
            let one = Continuum::builder().single_threaded();
            group.bench_with_input(BenchmarkId::new("v1_single_thread", n), &b, |bench, b| {
                bench.iter(|| one.build(black_box(b)))
            });
            let one = one.version(V2);
            group.bench_with_input(BenchmarkId::new("v2_single_thread", n), &b, |bench, b| {
                bench.iter(|| one.build(black_box(b)))
            });
        }
    }
    group.finish();
}

fn lookup(c: &mut Criterion) {
    let keys = keys();
    let mut group = c.benchmark_group("ketama/lookup");
    group.throughput(Throughput::Elements(1));
    for n in SIZES {
        let b = buckets(n);
        for (name, version) in [("v1", Version::V1), ("v2", V2)] {
            let ring = Continuum::new_with_version(&b, version);
            group.bench_function(BenchmarkId::new(name, n), |bench| {
                let mut i = 0usize;
                bench.iter(|| {
                    i = (i + 1) & (keys.len() - 1);
                    ring.node_idx(black_box(&keys[i]))
                })
            });
        }
        if n == 10_000 {
            for (name, layout) in [("v1_flat", Layout::Flat), ("v1_chunked", Layout::Chunked)] {
                let ring = Continuum::builder().layout(layout).build(&b);
                group.bench_function(BenchmarkId::new(name, n), |bench| {
                    let mut i = 0usize;
                    bench.iter(|| {
                        i = (i + 1) & (keys.len() - 1);
                        ring.node_idx(black_box(&keys[i]))
                    })
                });
            }
        }
        // The baseline: the same CRC32 and a binary search over all points' hashes.
        let ring = Continuum::new(&b);
        let hashes: Vec<u32> = (0..ring.len()).filter_map(|i| ring.point_hash(i)).collect();
        group.bench_function(BenchmarkId::new("binary_search", n), |bench| {
            let mut i = 0usize;
            bench.iter(|| {
                i = (i + 1) & (keys.len() - 1);
                let h = hash(black_box(&keys[i]));
                let p = hashes.partition_point(|&x| x < h);
                if p == hashes.len() { 0 } else { p }
            })
        });
    }
    group.finish();
}

fn first_bucket(c: &mut Criterion) {
    let hashes: Vec<u32> = keys().iter().map(|k| hash(k)).collect();
    let b = buckets(10_000);
    let mut group = c.benchmark_group("ketama/first_bucket");
    group.throughput(Throughput::Elements(1));
    for (name, layout) in [("flat", Layout::Flat), ("chunked", Layout::Chunked)] {
        let ring = Continuum::builder().layout(layout).build(&b);
        group.bench_function(BenchmarkId::new(name, 10_000), |bench| {
            let mut i = 0usize;
            bench.iter(|| {
                i = (i + 1) & (hashes.len() - 1);
                ring.bucket_iter_by_hash(black_box(hashes[i])).next()
            })
        });
    }
    group.finish();
}

/// 10,000 buckets of weights 1 to 10, and the same with `extra` more (each just after bucket
/// `i * 997`, as a load balancer's address order puts port 81 after port 80 of the same host),
/// with the indices of the extra buckets in the larger set.
fn weighted_sets(extra: usize) -> (Vec<Bucket>, Vec<Bucket>, Vec<usize>) {
    let bucket = |i: usize, port: u16| {
        let ip = std::net::Ipv4Addr::from(0x0a00_0001_u32 + i as u32);
        Bucket::new(SocketAddr::from((ip, port)), 1 + (i % 10) as u32)
    };
    let base: Vec<Bucket> = (0..10_000).map(|i| bucket(i, 80)).collect();
    let mut with = Vec::with_capacity(base.len() + extra);
    let mut added = Vec::with_capacity(extra);
    for (i, b) in base.iter().enumerate() {
        with.push(b.clone());
        if i % 997 == 0 && i / 997 < extra {
            added.push(with.len());
            with.push(bucket(i, 81));
        }
    }
    (base, with, added)
}

fn update(c: &mut Criterion) {
    let mut group = c.benchmark_group("ketama/update");
    group.sample_size(20);
    let (_, with, _) = weighted_sets(1);
    group.bench_function(BenchmarkId::new("build", 10_000), |bench| {
        bench.iter(|| Continuum::new(black_box(&with)))
    });
    for extra in [1, 10] {
        let (base_set, with_set, added) = weighted_sets(extra);
        let mut ring = Continuum::new(&base_set);
        let mut inside = false;
        group.bench_function(
            BenchmarkId::new(format!("delta_{extra}"), 10_000),
            |bench| {
                bench.iter(|| {
                    inside = !inside;
                    ring = if inside {
                        ring.with_changes(&with_set, &Changes::new(&[], &added))
                    } else {
                        ring.with_changes(&base_set, &Changes::new(&added, &[]))
                    }
                    .expect("the ring fits");
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, build, lookup, first_bucket, update);
criterion_main!(benches);
