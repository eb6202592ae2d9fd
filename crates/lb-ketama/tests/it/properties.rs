//! Property tests: the ring against a plain model of nginx's algorithm, and the consistency that makes
//! a ketama ring worth having.

use std::net::{Ipv6Addr, SocketAddr};

use lb_ketama::{Bucket, Continuum, Version, hash};
use proptest::prelude::*;

use crate::model;

/// The model's answer for a key hash: first point `>=`, wrapping.
fn model_lookup(points: &[(u32, usize)], h: u32) -> usize {
    let i = points.partition_point(|p| p.0 < h);
    if i == points.len() { 0 } else { i }
}

/// The share of the hash space each bucket owns: point i owns `(hash[i-1], hash[i]]`.
fn shares(c: &Continuum, buckets: usize) -> Vec<f64> {
    let mut owned = vec![0u64; buckets];
    let n = c.len();
    for i in 0..n {
        let h = c.point_hash(i).unwrap();
        let prev = c.point_hash((i + n - 1) % n).unwrap();
        owned[c.point_bucket(i).unwrap()] += u64::from(h.wrapping_sub(prev));
    }
    if n == 1 {
        owned[c.point_bucket(0).unwrap()] = 1 << 32;
    }
    owned
        .iter()
        .map(|&o| o as f64 / (1u64 << 32) as f64)
        .collect()
}

fn names() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::from((ip, port)).to_string()),
        (any::<[u16; 8]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((
            Ipv6Addr::from(ip),
            port
        ))
        .to_string()),
        "[a-z]{1,12}(:[0-9]{1,5})?",
        "unix:/[a-z/]{1,20}",
    ]
}

fn rings() -> impl Strategy<Value = Vec<Bucket>> {
    prop::collection::vec((names(), 0u32..5), 1..25)
        .prop_map(|v| v.into_iter().map(|(n, w)| Bucket::named(n, w)).collect())
}

fn distinct_servers(weights: &[u32]) -> Vec<Bucket> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| Bucket::named(format!("10.9.{}.{}:80", i / 200, i % 200), w))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn ring_matches_the_model(buckets in rings(), multiple in prop_oneof![Just(160u32), 1u32..40], keys in prop::collection::vec(any::<u32>(), 200)) {
        let points = model(&buckets, multiple);
        let versions = if multiple == 160 {
            vec![Version::V1, Version::V2 { point_multiple: 160 }]
        } else {
            vec![Version::V2 { point_multiple: multiple }]
        };
        for version in versions {
            let c = Continuum::new_with_version(&buckets, version);
            prop_assert_eq!(c.len(), points.len());
            for (i, p) in points.iter().enumerate() {
                prop_assert_eq!(c.point_hash(i), Some(p.0));
                prop_assert_eq!(c.point_bucket(i), Some(p.1));
            }
            // Random hashes, plus each point's own hash and its neighbours: the edges of the search.
            let probes = keys.iter().copied().chain(points.iter().flat_map(|p| [p.0, p.0.wrapping_add(1), p.0.wrapping_sub(1)]));
            for h in probes {
                if points.is_empty() {
                    prop_assert_eq!(c.node_idx_by_hash(h), 0);
                } else {
                    prop_assert_eq!(c.node_idx_by_hash(h), model_lookup(&points, h), "hash {:#x}", h);
                }
            }
            prop_assert_eq!(c.node_idx(b"k"), c.node_idx_by_hash(hash(b"k")));
        }
    }

    #[test]
    fn adding_a_bucket_moves_keys_only_onto_it(weights in prop::collection::vec(1u32..4, 1..30), new_weight in 1u32..4) {
        let before = distinct_servers(&weights);
        let mut after_weights = weights.clone();
        after_weights.push(new_weight);
        let after = distinct_servers(&after_weights);
        let (a, b) = (Continuum::new(&before), Continuum::new(&after));
        let new = before.len();
        for i in 0..4000u32 {
            let key = i.to_le_bytes();
            let (x, y) = (a.bucket_idx(&key).unwrap(), b.bucket_idx(&key).unwrap());
            prop_assert!(x == y || y == new, "key {} moved from {} to {}", i, x, y);
        }
        // The share that moved is the new bucket's share, about w / (W + w): 1 / (N + 1) for equal
        // weights. With 160 points per unit of weight it varies by about 1 / sqrt(160 w); allow 5 of that.
        let total: u32 = after_weights.iter().sum();
        let expected = f64::from(new_weight) / f64::from(total);
        let moved = shares(&b, after.len())[new];
        let tolerance = 5.0 / (160.0 * f64::from(new_weight)).sqrt();
        prop_assert!((moved / expected - 1.0).abs() <= tolerance, "moved {} expected {}", moved, expected);
    }

    #[test]
    fn removing_a_bucket_moves_only_its_keys(weights in prop::collection::vec(1u32..4, 2..30), pick in any::<prop::sample::Index>()) {
        let gone = pick.index(weights.len());
        let before = distinct_servers(&weights);
        // Removed outright: the indices after it shift down by one.
        let mut after = before.clone();
        after.remove(gone);
        // Removed by weight 0: indices stay.
        let mut zeroed = before.clone();
        zeroed[gone] = Bucket::named(before[gone].node().to_string(), 0);
        let (a, b, z) = (Continuum::new(&before), Continuum::new(&after), Continuum::new(&zeroed));
        for i in 0..4000u32 {
            let key = i.to_le_bytes();
            let x = a.bucket_idx(&key).unwrap();
            let y = b.bucket_idx(&key).unwrap();
            let y = if y >= gone { y + 1 } else { y };
            prop_assert_eq!(z.bucket_idx(&key).unwrap(), y);
            prop_assert_ne!(y, gone);
            if x != gone {
                prop_assert_eq!(x, y, "key {} of bucket {} moved", i, x);
            }
        }
    }

    #[test]
    fn shares_follow_weights(weights in prop::collection::vec(1u32..10, 2..20)) {
        let buckets = distinct_servers(&weights);
        let c = Continuum::new(&buckets);
        let total: u32 = weights.iter().sum();
        for (i, share) in shares(&c, buckets.len()).into_iter().enumerate() {
            let expected = f64::from(weights[i]) / f64::from(total);
            let tolerance = 5.0 / (160.0 * f64::from(weights[i])).sqrt();
            prop_assert!((share / expected - 1.0).abs() <= tolerance, "bucket {} share {} expected {}", i, share, expected);
        }
    }

    #[test]
    fn no_input_panics(names in prop::collection::vec((".{0,30}", prop_oneof![0u32..4, any::<u32>()]), 0..8), key in prop::collection::vec(any::<u8>(), 0..64)) {
        let buckets: Vec<Bucket> = names.into_iter().map(|(n, w)| Bucket::named(n, w)).collect();
        match Continuum::try_new(&buckets) {
            Ok(c) => {
                let b = c.bucket_idx(&key);
                prop_assert_eq!(b.is_some(), !c.is_empty());
                prop_assert!(b.is_none_or(|b| b < buckets.len() && buckets[b].weight() > 0));
                prop_assert_eq!(c.bucket_iter(&key).take(3).count(), if c.is_empty() { 0 } else { 3 });
            }
            Err(e) => prop_assert!(e.to_string().contains("exceeds the limit")),
        }
    }
}
