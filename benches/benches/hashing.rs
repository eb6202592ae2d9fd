//! Consistent hashing side by side: each strategy's own lookup, the outside references in the
//! same run, and bounded loads when every backend is busy.
//!
//! `cargo bench -p lb-benches --bench hashing`. Backends of weight 1, N = 10, 1,000 and 10,000;
//! keys rotate over 4,096 distinct 16-byte keys (`u64` keys where the API takes one).
//!
//! - `hashing/lookup/{row}/N` (quiet figures, recorded for `cargo xtask bench`, and criterion):
//!   - `consistent`, `maglev`, `rendezvous`, `jump`: the strategy's first pick,
//!     `S::iter(key).next()`, without lb-core (no snapshot, no readiness); `maglev_envoy_keys`:
//!     `maglev` with Envoy's key mapping (xxHash64 and a remainder) instead of the default
//!     (XXH3 and a multiplication);
//!   - `lb_maglev`: `lb_maglev::Table::get` (Envoy's key hash and slot), `jump_bucket`:
//!     lb-selection's jump function on a `u64` key;
//!   - outside references: `maglev_crate` (crates.io `maglev` 0.2: SipHash of the key, table of
//!     `N × 100` rounded up to a prime; not at N = 10,000, where its build would hold an
//!     N × M permutation of 80 GB) and `jump_consistent_hash_crate` (crates.io
//!     `jump-consistent-hash` 0.1, on the same `u64` keys as `jump_bucket`).
//! - `hashing/bounded_busy/{inner}/N` (quiet): `LoadBalancer::select` of `Bounded<inner>` while
//!   every backend carries 4 requests in flight, so that each pick sums the loads of the set to
//!   judge its first candidate (the worst case of the bound's cost); `hashing/bounded_idle/...`
//!   the same with no request in flight.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use lb_benches::quiet;
use lb_benches::sets::{backends, keys};
use lb_core::{Backend, BackendIter, BackendSelection, Backends, LoadBalancer, Pick};
use lb_maglev::{Entry, KeyMapping, Table};
use lb_selection::{Bounded, Consistent, Jump, Maglev, MaglevConfig, Rendezvous, jump_bucket};
use maglev::ConsistentHasher;

const SIZES: [usize; 3] = [10, 1_000, 10_000];

fn set(n: usize) -> Vec<Backend> {
    backends(n, 80, |_| 1)
}

fn u64_keys() -> Vec<u64> {
    keys()
        .iter()
        .map(|k| u64::from_le_bytes(k[8..].try_into().expect("8 bytes")))
        .collect()
}

/// Quiet figures and a criterion benchmark of `op` over `items`, as `hashing/lookup/{row}/{n}`.
fn lookup<T: ?Sized, R>(
    c: &mut Criterion,
    row: &str,
    n: usize,
    items: &[&T],
    mut op: impl FnMut(&T) -> R,
) {
    quiet::report(
        &format!("hashing/lookup/{row}/{n}"),
        quiet::batches(items, |item| op(item)),
    );
    let mut g = c.benchmark_group(format!("hashing/lookup/{row}"));
    g.bench_function(BenchmarkId::from_parameter(n), |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 1) & (items.len() - 1);
            op(black_box(items[i]))
        })
    });
    g.finish();
}

fn strategy<S: BackendSelection>(c: &mut Criterion, row: &str, config: &S::Config) {
    let keys = keys();
    let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
    for n in SIZES {
        let selector = S::build(&set(n), config).expect("builds");
        lookup(c, row, n, &refs, |key: &[u8]| selector.iter(key).next());
    }
}

fn references(c: &mut Criterion) {
    let keys = keys();
    let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
    let numbers = u64_keys();
    let number_refs: Vec<&u64> = numbers.iter().collect();
    for n in SIZES {
        let names: Vec<String> = set(n).iter().map(|b| b.addr.to_string()).collect();
        let entries: Vec<Entry> = names.iter().map(|name| Entry::named(name, 1)).collect();
        let table = Table::new(&entries).expect("builds");
        lookup(c, "lb_maglev", n, &refs, |key: &[u8]| table.get(key));
        let buckets = n as u32;
        lookup(c, "jump_bucket", n, &number_refs, |k: &u64| {
            jump_bucket(*k, buckets)
        });
        lookup(
            c,
            "jump_consistent_hash_crate",
            n,
            &number_refs,
            |k: &u64| jump_consistent_hash::hash(*k, n),
        );
        if n <= 1_000 {
            let outside = maglev::Maglev::new(names.clone());
            lookup(c, "maglev_crate", n, &refs, |key: &[u8]| {
                outside.get(key).map(String::len)
            });
        } else {
            println!("hashing/lookup/maglev_crate/{n}: not built (an N × M permutation, 80 GB)");
        }
    }
}

/// Holds `count` requests in flight on every backend of `lb` (a load balancer whose strategy
/// needs load, so its picks count in flight until dropped).
fn load_all<S: BackendSelection>(lb: &LoadBalancer<S>, count: usize) -> Vec<Pick<S>> {
    let set = lb.backends().get_backend();
    set.backends()
        .iter()
        .flat_map(|b| {
            (0..count).map(move |_| {
                lb.select_with(b"", usize::MAX, |x, _| x.addr == b.addr)
                    .expect("the backend exists")
            })
        })
        .collect()
}

fn bounded<S: BackendSelection>(name: &str)
where
    S::Config: Default,
{
    let keys = keys();
    for n in SIZES {
        let lb = LoadBalancer::<Bounded<S>>::from_backends(Backends::fixed(set(n)));
        quiet::report(
            &format!("hashing/bounded_idle/{name}/{n}"),
            quiet::batches(&keys, |key| lb.select(key).map(|p| p.index())),
        );
        let held = load_all(&lb, 4);
        quiet::report(
            &format!("hashing/bounded_busy/{name}/{n}"),
            quiet::batches(&keys, |key| lb.select(key).map(|p| p.index())),
        );
        drop(held);
    }
}

fn hashing(c: &mut Criterion) {
    strategy::<Consistent>(c, "consistent", &Default::default());
    strategy::<Maglev>(c, "maglev", &Default::default());
    strategy::<Maglev>(
        c,
        "maglev_envoy_keys",
        &MaglevConfig {
            key_mapping: KeyMapping::Envoy,
            ..MaglevConfig::default()
        },
    );
    strategy::<Rendezvous>(c, "rendezvous", &());
    strategy::<Jump>(c, "jump", &Default::default());
    references(c);
    bounded::<Consistent>("consistent");
    bounded::<Maglev>("maglev");
    bounded::<Rendezvous>("rendezvous");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = hashing
}
criterion_main!(benches);
