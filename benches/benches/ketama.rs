//! lb-ketama: building a ring, looking keys up, and memory per point.
//!
//! `cargo bench -p lb-benches --bench ketama`. Groups:
//! - `ketama/build/{v1,v2}/N`: `Continuum::new` over N buckets of weight 1 (160 points each), on as
//!   many threads as the build chooses (rings of 262,144 points or more use up to 4);
//!   `ketama/build/{v1,v2}_single_thread/N` the same with `Builder::single_threaded`.
//! - `ketama/lookup/{v1,v2,binary_search}/N`: one key to its point; `binary_search` is the plain
//!   search over every point's hash that the top-bits index is measured against.
//! - Memory per point is printed before the groups run (`ketama/memory ...` lines): it is a
//!   property of the layout, not a timing.

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lb_ketama::{Bucket, Continuum, Version, hash};

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

criterion_group!(benches, build, lookup);
criterion_main!(benches);
