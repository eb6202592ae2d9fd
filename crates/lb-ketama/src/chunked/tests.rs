//! A chunked ring against the flat ring of the same buckets: the same point at every position,
//! and the same answer to every lookup and iteration.

use proptest::prelude::*;

use crate::{Bucket, Builder, Continuum, Layout};

fn both(buckets: &[Bucket], threads: usize) -> (Continuum, Continuum) {
    let b = Builder::new().max_threads(threads);
    let flat = b.layout(Layout::Flat).try_build(buckets).unwrap();
    let chunked = b.layout(Layout::Chunked).try_build(buckets).unwrap();
    (flat, chunked)
}

/// Asserts that `chunked` answers as `flat` for every position, around every `step`-th point,
/// and for `hashes`.
fn assert_same(flat: &Continuum, chunked: &Continuum, hashes: &[u32], step: usize) {
    assert_eq!(chunked.len(), flat.len(), "length");
    let mut probes = hashes.to_vec();
    for i in 0..flat.len() {
        assert_eq!(
            chunked.point_hash(i),
            flat.point_hash(i),
            "hash of point {i}"
        );
        assert_eq!(
            chunked.point_bucket(i),
            flat.point_bucket(i),
            "bucket of point {i}"
        );
        if i % step == 0 {
            let h = flat.point_hash(i).unwrap_or(0);
            probes.extend([h.wrapping_sub(1), h, h.wrapping_add(1)]);
        }
    }
    for &h in &probes {
        let idx = flat.node_idx_by_hash(h);
        assert_eq!(chunked.node_idx_by_hash(h), idx, "position of hash {h:#x}");
        let by_hash: Vec<usize> = chunked.bucket_iter_by_hash(h).take(20).collect();
        assert_eq!(
            by_hash,
            flat.bucket_iter_by_hash(h).take(20).collect::<Vec<_>>()
        );
        let at: Vec<usize> = chunked.bucket_iter_at(idx).take(20).collect();
        assert_eq!(at, by_hash, "from position {idx}");
        let mut it = chunked.bucket_iter_by_hash(h);
        let mut want = flat.bucket_iter_by_hash(h);
        for _ in 0..3 {
            assert_eq!(
                it.position(),
                want.position(),
                "iterator position, hash {h:#x}"
            );
            assert_eq!(it.next(), want.next());
        }
    }
    for k in 0..200u32 {
        let key = k.to_le_bytes();
        assert_eq!(chunked.bucket_idx(&key), flat.bucket_idx(&key), "key {k}");
        assert_eq!(chunked.node(&key), flat.node(&key), "key {k}");
        let nodes: Vec<_> = chunked.node_iter(&key).take(5).collect();
        assert_eq!(
            nodes,
            flat.node_iter(&key).take(5).collect::<Vec<_>>(),
            "key {k}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Small rings of any weights (0 included), names shared now and then (ties), sockets and
    /// Unix paths.
    #[test]
    fn a_chunked_ring_answers_as_the_flat_one(
        spec in prop::collection::vec((0usize..60, 0u32..4, any::<bool>()), 0..80),
        hashes in prop::collection::vec(any::<u32>(), 32),
    ) {
        let buckets: Vec<Bucket> = spec
            .iter()
            .map(|&(name, weight, unix)| {
                if unix {
                    Bucket::unix(format!("/run/{name}.sock"), weight)
                } else {
                    Bucket::new(([10, 4, 0, name as u8], 80).into(), weight)
                }
            })
            .collect();
        let (flat, chunked) = both(&buckets, 1);
        assert_same(&flat, &chunked, &hashes, 3);
    }
}

#[test]
fn a_large_ring_built_on_threads_answers_as_the_flat_one() {
    // 2,000 buckets of weights 1 to 3: about 640,000 points, built on up to 4 threads.
    let buckets: Vec<Bucket> = (0..2000u32)
        .map(|i| {
            Bucket::new(
                ([10, 5, (i / 250) as u8, (i % 250) as u8], 80).into(),
                1 + i % 3,
            )
        })
        .collect();
    let hashes: Vec<u32> = (0..512u32).map(|i| i.wrapping_mul(0x9e37_79b9)).collect();
    for threads in [1, 4] {
        let (flat, chunked) = both(&buckets, threads);
        assert_same(&flat, &chunked, &hashes, 997);
    }
}
