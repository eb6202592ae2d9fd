//! The update against a fresh build: every point, every lookup and the failover order the same,
//! through the incremental path itself (not the fallback build).

use proptest::prelude::*;

use super::*;
use crate::Builder;

fn chunked() -> Builder {
    Builder::new().layout(Layout::Chunked)
}

/// A tiny generator, so that a proptest case can draw a sequence of changes from one seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Asserts that `got` is the ring `want` is: the same points at every position, and the same
/// point, bucket and failover order for every hash of `hashes` and around every point.
fn assert_same(got: &Continuum, want: &Continuum, hashes: &[u32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    assert_eq!(got.bucket_count(), want.bucket_count(), "{what}: buckets");
    let mut probes = hashes.to_vec();
    for i in 0..want.len() {
        let h = want.point_hash(i);
        assert_eq!(got.point_hash(i), h, "{what}: hash of point {i}");
        assert_eq!(
            got.point_bucket(i),
            want.point_bucket(i),
            "{what}: bucket of point {i}"
        );
        if i % 7 == 0 {
            let h = h.unwrap_or(0);
            probes.extend([h.wrapping_sub(1), h, h.wrapping_add(1)]);
        }
    }
    for &h in &probes {
        assert_eq!(
            got.node_idx_by_hash(h),
            want.node_idx_by_hash(h),
            "{what}: hash {h:#x}"
        );
        let a: Vec<usize> = got.bucket_iter_by_hash(h).take(12).collect();
        let b: Vec<usize> = want.bucket_iter_by_hash(h).take(12).collect();
        assert_eq!(a, b, "{what}: failover order of hash {h:#x}");
    }
    for b in 0..want.bucket_count() {
        assert_eq!(
            got.bucket_addr(b),
            want.bucket_addr(b),
            "{what}: address of {b}"
        );
    }
}

/// Applies `changes` to `ring` through the chunked update; `None` when it chose to build afresh.
fn update(ring: &Continuum, buckets: &[Bucket], changes: &Changes<'_>) -> Option<Continuum> {
    let Points::Chunked(c) = &ring.points else {
        panic!("a chunked ring was expected")
    };
    ring.update(c, buckets, changes).expect("the ring fits")
}

/// A random change of `buckets`: `ops` removals, additions or weight changes; names come from a
/// small pool, so that buckets share names (and all their points tie).
fn change(rng: &mut Rng, buckets: &[Bucket], ops: usize) -> (Vec<Bucket>, Vec<usize>, Vec<usize>) {
    // (old index or None, bucket)
    let mut next: Vec<(Option<usize>, Bucket)> = buckets
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, b)| (Some(i), b))
        .collect();
    for _ in 0..ops {
        let weight = rng.below(4) as u32;
        match rng.below(3) {
            0 if next.len() > 1 => {
                next.remove(rng.below(next.len()));
            }
            1 => {
                let at = rng.below(next.len() + 1);
                let name = format!("10.0.{}.{}:80", rng.below(3), rng.below(90));
                next.insert(at, (None, Bucket::named(name, weight)));
            }
            _ => {
                let at = rng.below(next.len());
                let name = next[at].1.node().to_string();
                next[at].1 = Bucket::named(name, weight);
            }
        }
    }
    let kept: Vec<usize> = next.iter().filter_map(|(o, _)| *o).collect();
    let removed = (0..buckets.len()).filter(|i| !kept.contains(i)).collect();
    let added = (0..next.len()).filter(|&i| next[i].0.is_none()).collect();
    (next.into_iter().map(|(_, b)| b).collect(), removed, added)
}

fn start(rng: &mut Rng, n: usize) -> Vec<Bucket> {
    (0..n)
        .map(|_| {
            let name = format!("10.0.{}.{}:80", rng.below(3), rng.below(90));
            Bucket::named(name, 1 + rng.below(3) as u32)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random rings and random sequences of removals, additions and weight changes: each update
    /// is the ring a build makes, and the first is always incremental.
    #[test]
    fn updates_build_the_ring_a_build_builds(
        seed in 1u64..,
        n in 60usize..200,
        steps in 1usize..6,
        hashes in prop::collection::vec(any::<u32>(), 64),
    ) {
        let mut rng = Rng(seed);
        let mut buckets = start(&mut rng, n);
        let mut ring = chunked().try_build(&buckets).unwrap();
        let mut incremental = 0;
        for step in 0..steps {
            let ops = 1 + rng.below(2);
            let (next, removed, added) = change(&mut rng, &buckets, ops);
            let changes = Changes::new(&removed, &added);
            let want = chunked().try_build(&next).unwrap();
            let got = match update(&ring, &next, &changes) {
                Some(got) => {
                    incremental += 1;
                    got
                }
                None => ring.with_changes(&next, &changes).unwrap(),
            };
            assert_same(&got, &want, &hashes, &format!("step {step}"));
            prop_assert_eq!(got.with_changes(&next, &Changes::default()).unwrap().len(), want.len());
            ring = got;
            buckets = next;
        }
        prop_assert!(incremental >= 1, "no update took the incremental path");
    }
}

#[test]
fn when_the_winner_of_a_tie_leaves_the_next_bucket_takes_its_points() {
    // Buckets 1 (weight 2) and 3 (weight 3) share a name: bucket 3's first 320 points tie with
    // bucket 1's, which win them.
    let mut buckets: Vec<Bucket> = (0..200)
        .map(|i| Bucket::named(format!("10.1.0.{i}:80"), 1 + i % 2))
        .collect();
    buckets[3] = Bucket::named("10.1.0.1:80", 3);
    let ring = chunked().try_build(&buckets).unwrap();
    let owned = |r: &Continuum, b: usize| {
        (0..r.len())
            .filter(|&i| r.point_bucket(i) == Some(b))
            .count()
    };
    assert_eq!(
        owned(&ring, 3),
        160,
        "bucket 3 wins only the points past bucket 1's chain"
    );

    // Bucket 1 leaves: bucket 3 (now index 2) owns its whole chain.
    let mut after = buckets.clone();
    after.remove(1);
    let got = update(&ring, &after, &Changes::new(&[1], &[])).expect("incremental");
    assert_same(
        &got,
        &chunked().try_build(&after).unwrap(),
        &[0, 1 << 31],
        "leave",
    );
    assert_eq!(owned(&got, 2), 480);

    // A bucket of the same name joins first: it wins every tie.
    let mut again = after.clone();
    again.insert(0, Bucket::named("10.1.0.1:80", 1));
    let back = update(&got, &again, &Changes::new(&[], &[0])).expect("incremental");
    assert_same(&back, &chunked().try_build(&again).unwrap(), &[7], "join");
    assert_eq!(owned(&back, 0), 160);
    assert_eq!(
        owned(&back, 3),
        320,
        "the old winner keeps the points past the newcomer's"
    );
}

#[test]
fn many_updates_keep_few_buffers_and_the_same_ring() {
    let mut rng = Rng(42);
    let mut buckets: Vec<Bucket> = (0..2000)
        .map(|i| {
            Bucket::named(
                format!("10.2.{}.{}:80", i / 250, i % 250),
                1 + (i % 3) as u32,
            )
        })
        .collect();
    let mut ring = chunked().try_build(&buckets).unwrap();
    let mut incremental = 0;
    for step in 0..60 {
        // One bucket's weight changes, one leaves and one joins.
        let at = rng.below(buckets.len());
        let w = buckets[at].weight() % 3 + 1;
        buckets[at] = Bucket::named(buckets[at].node().to_string(), w);
        let gone = rng.below(buckets.len());
        let mut next = buckets.clone();
        next.remove(gone);
        let at = rng.below(next.len() + 1);
        next.insert(at, Bucket::named(format!("10.3.{step}.1:80"), 2));
        let (removed, added) = ([gone], [at]);
        let changes = Changes::new(&removed, &added);
        match update(&ring, &next, &changes) {
            Some(got) => {
                incremental += 1;
                ring = got;
            }
            None => ring = ring.with_changes(&next, &changes).unwrap(),
        }
        buckets = next;
        if let Points::Chunked(c) = &ring.points {
            assert!(
                c.deltas.len() < crate::chunked::entry::MAX_BUFFERS,
                "step {step}"
            );
            let held: usize = c.base.len() + c.deltas.iter().map(|d| d.len()).sum::<usize>();
            assert!(
                held <= 3 * c.len,
                "step {step}: {held} points held for {}",
                c.len
            );
        }
        if step % 10 == 9 {
            assert_same(
                &ring,
                &chunked().try_build(&buckets).unwrap(),
                &[1, 2, 3],
                "many",
            );
        }
    }
    assert!(
        incremental >= 40,
        "{incremental} of 60 updates were incremental"
    );
}

#[test]
fn flat_compact_and_oversized_rings_are_built_afresh() {
    let buckets: Vec<Bucket> = (0..50)
        .map(|i| Bucket::named(format!("a{i}:1"), 1))
        .collect();
    let mut after = buckets.clone();
    after.push(Bucket::named("z:1", 2));
    let changes = Changes::new(&[], &[50]);
    for builder in [
        Builder::new(),
        Builder::new().layout(Layout::Flat),
        Builder::new().version(Version::V2 {
            point_multiple: 160,
        }),
        chunked(),
    ] {
        let ring = builder.try_build(&buckets).unwrap();
        let got = ring.with_changes(&after, &changes).unwrap();
        assert_same(&got, &builder.try_build(&after).unwrap(), &[9], "afresh");
        assert_eq!(got.version(), builder.try_build(&after).unwrap().version());
    }
    // Over the limit: the build's error.
    let ring = chunked().try_build(&buckets).unwrap();
    let mut huge = buckets.clone();
    huge[7] = Bucket::named("a7:1", u32::MAX);
    let err = ring.with_changes(&huge, &Changes::default()).unwrap_err();
    assert_eq!(err, chunked().try_build(&huge).unwrap_err());
    // Changes that do not fit the counts: built afresh, not trusted.
    let got = ring.with_changes(&after, &Changes::new(&[3], &[])).unwrap();
    assert_same(&got, &chunked().try_build(&after).unwrap(), &[5], "misfit");
}
