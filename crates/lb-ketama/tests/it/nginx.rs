//! Every vector recorded from a real nginx (`tests/vectors/generate.sh`) maps to the same server.

use std::path::Path;

use lb_ketama::{Bucket, Builder, Continuum, Version};

/// One recorded ring: the configured servers in order and the server nginx picked per key.
struct Vectors {
    servers: Vec<(String, u32)>,
    keys: Vec<(String, String)>,
}

fn load(ring: &str) -> Vectors {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(format!("{ring}.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut v = Vectors {
        servers: Vec::new(),
        keys: Vec::new(),
    };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let parts: Vec<&str> = line.split(' ').collect();
        match parts[..] {
            ["server", name, weight] => v.servers.push((name.into(), weight.parse().unwrap())),
            ["key", key, name] => v.keys.push((key.into(), name.into())),
            _ => panic!("{ring}: bad line {line:?}"),
        }
    }
    assert!(
        !v.servers.is_empty() && !v.keys.is_empty(),
        "{ring}: no vectors"
    );
    v
}

/// Buckets named exactly as in the nginx configuration.
fn named(v: &Vectors) -> Vec<Bucket> {
    v.servers
        .iter()
        .map(|(n, w)| Bucket::named(n.clone(), *w))
        .collect()
}

/// The same servers built the typed way: socket addresses and unix paths where the name is one.
fn typed(v: &Vectors) -> Vec<Bucket> {
    v.servers
        .iter()
        .map(|(n, w)| match (n.parse(), n.strip_prefix("unix:")) {
            (Ok(addr), _) => Bucket::new(addr, *w),
            (_, Some(path)) => Bucket::unix(path, *w),
            _ => Bucket::named(n.clone(), *w),
        })
        .collect()
}

/// Checks every key of `ring` against `buckets`; returns the number of keys checked.
fn check(ring: &str, v: &Vectors, buckets: &[Bucket], builder: Builder) -> usize {
    let c = builder.build(buckets);
    for (key, want) in &v.keys {
        let got = c.bucket_idx(key.as_bytes()).expect("non-empty ring");
        assert_eq!(&v.servers[got].0, want, "{ring} {builder:?}: key {key}");
        // `node` agrees whenever the server is a socket address.
        assert_eq!(
            c.node(key.as_bytes()),
            buckets[got].addr(),
            "{ring}: key {key}"
        );
    }
    v.keys.len()
}

/// Checks `ring` built from names and from typed addresses, as V1 and V2, by builders that keep to
/// the calling thread and that may use four (these rings are too small to use them: `threads.rs`
/// checks rings that do).
fn check_ring(ring: &str, min_keys: usize) {
    let v = load(ring);
    for buckets in [named(&v), typed(&v)] {
        for version in [
            Version::V1,
            Version::V2 {
                point_multiple: 160,
            },
        ] {
            for threads in [1, 4] {
                let builder = Builder::new().version(version).max_threads(threads);
                assert!(check(ring, &v, &buckets, builder) >= min_keys);
            }
        }
    }
}

#[test]
fn ipv4_equal_weights() {
    check_ring("ipv4-equal", 2000);
}

#[test]
fn ipv4_unequal_weights() {
    check_ring("ipv4-weighted", 2000);
}

#[test]
fn ipv6() {
    check_ring("ipv6", 2000);
}

#[test]
fn mixed_ipv4_ipv6_and_unix() {
    check_ring("mixed", 2000);
}

#[test]
fn host_names_missing_ports_and_unix_schemes() {
    check_ring("names", 2000);
}

#[test]
fn two_hundred_servers() {
    let v = load("large");
    assert_eq!(v.servers.len(), 200);
    check_ring("large", 3000);
}

#[test]
fn ties_keep_the_first_configured_server() {
    check_ring("ties", 500);
    // The vectors do exercise ties: with the servers in reverse order, the other server of each tied
    // point wins, and the keys nginx sent to the first one now go elsewhere.
    let v = load("ties");
    let mut reversed = named(&v);
    reversed.reverse();
    let c = Continuum::new(&reversed);
    let moved = v
        .keys
        .iter()
        .filter(|(key, want)| {
            let got = c.bucket_idx(key.as_bytes()).unwrap();
            &v.servers[v.servers.len() - 1 - got].0 != want
        })
        .count();
    assert!(moved >= 100, "only {moved} keys land on tied points");
}

#[test]
fn pingora_style_ipv6_hashing_disagrees_with_nginx() {
    // pingora-ketama hashes `::1` rather than `[::1]`. A bucket named `::1:41100` splits into exactly
    // that host and port, so this ring is pingora's: it must disagree with nginx on many keys.
    let v = load("ipv6");
    let pingora: Vec<Bucket> = v
        .servers
        .iter()
        .map(|(n, w)| Bucket::named(n.replace(['[', ']'], ""), *w))
        .collect();
    let c = Continuum::new(&pingora);
    let wrong = v
        .keys
        .iter()
        .filter(|(key, want)| &v.servers[c.bucket_idx(key.as_bytes()).unwrap()].0 != want)
        .count();
    assert!(
        wrong > v.keys.len() / 4,
        "{wrong} of {} keys differ",
        v.keys.len()
    );
}
