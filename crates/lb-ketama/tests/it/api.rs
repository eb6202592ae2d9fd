//! The public API at its edges, and the behaviour pingora-ketama users rely on.

use lb_ketama::{Bucket, Continuum, Error, MAX_POINTS, Version};

use crate::sa;

fn v2(point_multiple: u32) -> Version {
    Version::V2 { point_multiple }
}

const VERSIONS: [Version; 3] = [
    Version::V1,
    Version::V2 {
        point_multiple: 160,
    },
    Version::V2 { point_multiple: 7 },
];

#[test]
fn pingora_sample_keys() {
    // The answers pingora-ketama's own tests take from nginx for these two servers.
    let c = Continuum::new(&[
        Bucket::new(sa("127.0.0.1:7777"), 1),
        Bucket::new(sa("127.0.0.1:7778"), 1),
    ]);
    for (key, want) in [
        ("/some/path", "127.0.0.1:7778"),
        ("/some/longer/path", "127.0.0.1:7777"),
        ("/sad/zaidoon", "127.0.0.1:7778"),
        ("/g", "127.0.0.1:7777"),
        (
            "/pingora/team/is/cool/and/this/is/a/long/uri",
            "127.0.0.1:7778",
        ),
        ("/i/am/not/confident/in/this/code", "127.0.0.1:7777"),
    ] {
        assert_eq!(c.node(key.as_bytes()), Some(sa(want)), "{key}");
    }
}

#[test]
fn node_iter_walks_the_ring_like_pingora() {
    let ring = |hosts: &[&str]| {
        Continuum::new(
            &hosts
                .iter()
                .map(|h| Bucket::new(sa(h), 1))
                .collect::<Vec<_>>(),
        )
    };
    let c = ring(&["127.0.0.1:7777", "127.0.0.1:7778", "127.0.0.1:7779"]);
    let got: Vec<_> = c.node_iter(b"doghash").take(8).map(|a| a.port()).collect();
    assert_eq!(got, [7778, 7779, 7779, 7777, 7777, 7778, 7778, 7779]);

    // Without 7778, the other servers keep their places.
    let c = ring(&["127.0.0.1:7777", "127.0.0.1:7779"]);
    let got: Vec<_> = c.node_iter(b"doghash").take(5).map(|a| a.port()).collect();
    assert_eq!(got, [7779, 7779, 7777, 7777, 7779]);

    // The iterator wraps around forever, back to its first point after one lap.
    let c = ring(&["127.0.0.1:7777"]);
    let start = c.node_idx(b"doghash");
    let mut it = c.bucket_iter(b"doghash");
    assert_eq!(it.position(), start);
    for _ in 0..c.len() {
        assert_eq!(it.next(), Some(0));
    }
    assert_eq!(it.position(), start);
}

#[test]
fn get_addr_advances_and_wraps() {
    let c = Continuum::new(&[
        Bucket::new(sa("10.0.0.1:1"), 1),
        Bucket::new(sa("10.0.0.2:1"), 1),
    ]);
    let mut idx = c.len() - 1;
    let last = *c.get_addr(&mut idx).unwrap();
    assert_eq!(
        Some(last),
        c.bucket_addr(c.point_bucket(c.len() - 1).unwrap()).copied()
    );
    assert_eq!(idx, 0);
    let mut past = c.len();
    assert_eq!(c.get_addr(&mut past), None);
    assert_eq!(past, c.len(), "an index past the end does not move");
}

#[test]
fn empty_rings_answer_none() {
    let none: [Bucket; 0] = [];
    let zero = [Bucket::new(sa("10.0.0.1:80"), 0), Bucket::unix("/x", 0)];
    for version in VERSIONS {
        for buckets in [&none[..], &zero[..]] {
            let c = Continuum::new_with_version(buckets, version);
            assert!(c.is_empty());
            assert_eq!(c.bucket_count(), buckets.len());
            assert_eq!(c.node(b"k"), None);
            assert_eq!(c.bucket_idx(b"k"), None);
            assert_eq!(c.node_idx(b"k"), 0);
            assert_eq!(c.node_iter(b"k").next(), None);
            assert_eq!(c.bucket_iter(b"k").next(), None);
            assert_eq!(c.point_hash(0), None);
            assert_eq!(c.get_addr(&mut 0), None);
        }
    }
    assert!(Continuum::default().is_empty());
}

#[test]
fn weight_zero_is_never_picked() {
    let buckets = [
        Bucket::new(sa("10.0.0.1:80"), 0),
        Bucket::new(sa("10.0.0.2:80"), 1),
        Bucket::new(sa("10.0.0.3:80"), 0),
    ];
    for version in VERSIONS {
        let c = Continuum::new_with_version(&buckets, version);
        assert_eq!(c.len(), version.point_multiple() as usize);
        for i in 0..500u32 {
            assert_eq!(c.bucket_idx(&i.to_le_bytes()), Some(1));
        }
        assert!(c.bucket_iter(b"k").take(c.len()).all(|b| b == 1));
    }
}

#[test]
fn more_than_65536_buckets_keep_their_indices() {
    // 70,000 buckets: only the last three have weight, so their indices are above 2^16.
    let mut buckets: Vec<Bucket> = (0..70_000u32)
        .map(|i| Bucket::named(format!("h{i}:80"), 0))
        .collect();
    for b in &mut buckets[69_997..] {
        *b = Bucket::named(b.node().to_string(), 1);
    }
    for version in VERSIONS {
        let c = Continuum::new_with_version(&buckets, version);
        let mut seen = [false; 3];
        for i in 0..2000u32 {
            let b = c.bucket_idx(&i.to_le_bytes()).unwrap();
            assert!(b >= 69_997, "{version:?}: bucket {b} has weight 0");
            seen[b - 69_997] = true;
        }
        assert_eq!(seen, [true; 3], "{version:?}");
    }

    // 70,000 weighted buckets on a compact ring: every index appears, none truncated to 16 bits.
    let buckets: Vec<Bucket> = (0..70_000u32)
        .map(|i| Bucket::named(format!("h{i}:80"), 1))
        .collect();
    let c = Continuum::new_with_version(&buckets, v2(1));
    let mut owners = vec![false; buckets.len()];
    for i in 0..c.len() {
        owners[c.point_bucket(i).unwrap()] = true;
    }
    let owned = owners.iter().filter(|&&o| o).count();
    assert!(owned > 69_990, "{owned} buckets own a point");
    assert!(owners[65_536..].iter().filter(|&&o| o).count() > 4_400);
}

#[test]
fn huge_weights_are_an_error_naming_the_bucket() {
    let buckets = [
        Bucket::new(sa("10.0.0.1:80"), 1),
        Bucket::new(sa("10.0.0.2:80"), u32::MAX),
    ];
    let err = Continuum::try_new(&buckets).unwrap_err();
    assert_eq!(
        err,
        Error::TooManyPoints {
            points: 160 + 160 * u64::from(u32::MAX),
            limit: MAX_POINTS,
            bucket: 1,
            name: "10.0.0.2:80".into(),
            weight: u32::MAX,
        }
    );
    assert!(
        err.to_string()
            .contains("bucket 1 (10.0.0.2:80) has weight 4294967295")
    );

    // Just over the limit fails; at the limit it builds.
    let at = (MAX_POINTS / 160) as u32;
    let err = Continuum::try_new_with_version(&[Bucket::named("a", at + 1)], Version::V1);
    assert!(matches!(err, Err(Error::TooManyPoints { .. })));
    assert_eq!(
        Continuum::try_new_with_version(&[Bucket::named("a", 3)], v2(0)).unwrap_err(),
        Error::ZeroPointMultiple
    );
    assert!(Continuum::new_with_version(&[Bucket::named("a", 3)], v2(0)).is_empty());
}

#[test]
fn unix_and_named_buckets_are_found_by_index() {
    let buckets = [
        Bucket::unix("/run/a.sock", 1),
        Bucket::named("app.internal:8080", 1),
    ];
    let c = Continuum::new(&buckets);
    let mut seen = [0usize; 2];
    for i in 0..1000u32 {
        let b = c.bucket_idx(&i.to_le_bytes()).unwrap();
        seen[b] += 1;
        assert_eq!(
            c.node(&i.to_le_bytes()),
            None,
            "no socket address to return"
        );
    }
    assert!(seen.iter().all(|&n| n > 300), "{seen:?}");
    // No point has a socket address: the node iterator ends at once instead of spinning.
    assert_eq!(c.node_iter(b"k").next(), None);

    // With one socket server among them, the node iterator yields only it.
    let mixed = [
        Bucket::unix("/run/a.sock", 3),
        Bucket::new(sa("10.0.0.1:80"), 1),
    ];
    let c = Continuum::new(&mixed);
    assert!(c.node_iter(b"k").take(50).all(|a| *a == sa("10.0.0.1:80")));
}

#[test]
fn socket_and_named_buckets_hash_alike() {
    let addrs = ["10.0.0.1:80", "[2001:db8::1]:443", "[::ffff:10.0.0.1]:80"];
    let typed: Vec<Bucket> = addrs.iter().map(|a| Bucket::new(sa(a), 2)).collect();
    let named: Vec<Bucket> = addrs.iter().map(|a| Bucket::named(*a, 2)).collect();
    let (a, b) = (Continuum::new(&typed), Continuum::new(&named));
    assert_eq!(a.len(), b.len());
    assert!(
        (0..a.len())
            .all(|i| a.point_hash(i) == b.point_hash(i) && a.point_bucket(i) == b.point_bucket(i))
    );
    for i in 0..300u32 {
        assert_eq!(a.node(&i.to_le_bytes()), b.node(&i.to_le_bytes()));
    }
}

#[test]
fn v2_stores_the_same_points_as_v1() {
    let buckets: Vec<Bucket> = (0..300u32)
        .map(|i| Bucket::named(format!("10.1.{}.{}:8080", i / 250, i % 250), 1 + i % 4))
        .collect();
    let a = Continuum::new(&buckets);
    let b = Continuum::new_with_version(&buckets, v2(160));
    assert_eq!(a.len(), b.len());
    for i in 0..a.len() {
        assert_eq!(a.point_hash(i), b.point_hash(i), "point {i}");
        assert_eq!(a.point_bucket(i), b.point_bucket(i), "point {i}");
    }
    assert_eq!(b.version(), v2(160));
}

#[test]
fn v2_gives_no_rank_to_a_bucket_that_loses_every_point() {
    // Bucket 2 repeats bucket 0's name with fewer points: all of them tie and go to bucket 0, so it
    // needs a rank no more than a bucket of weight 0 does.
    for threads in [1, 4] {
        let build = |third: Bucket| {
            let buckets = [
                Bucket::named("10.1.0.1:80", 1_000),
                Bucket::named("10.1.0.2:80", 1_000),
                third,
            ];
            Continuum::builder()
                .version(v2(160))
                .max_threads(threads)
                .build(&buckets)
        };
        let tied = build(Bucket::named("10.1.0.1:80", 500));
        let zero = build(Bucket::named("10.1.0.3:80", 0));
        assert!(
            tied.len() > 1 << 18,
            "{} points: enough for threads",
            tied.len()
        );
        assert!((0..tied.len()).all(|i| tied.point_bucket(i) != Some(2)));
        assert_eq!(tied.len(), zero.len());
        assert_eq!(tied.heap_size(), zero.heap_size(), "{threads} threads");
    }
}

#[test]
fn v2_memory_per_point_at_ten_thousand_buckets() {
    let buckets: Vec<Bucket> = (0..10_000u32)
        .map(|i| {
            Bucket::named(
                format!("10.{}.{}.{}:80", i >> 16, (i >> 8) & 255, i & 255),
                1,
            )
        })
        .collect();
    let v1 = Continuum::new(&buckets);
    let v2 = Continuum::new_with_version(&buckets, v2(160));
    let per_point = |c: &Continuum| c.heap_size() as f64 / c.len() as f64;
    assert!(
        per_point(&v2) <= 6.0,
        "V2 takes {} bytes per point",
        per_point(&v2)
    );
    assert!(
        per_point(&v1) <= 12.0,
        "V1 takes {} bytes per point",
        per_point(&v1)
    );
    assert!(per_point(&v2) < per_point(&v1) / 2.0);
}

#[test]
fn rings_are_shared_across_threads() {
    fn shareable<T: Send + Sync + Clone + 'static>(_: &T) {}
    let c = Continuum::new(&[Bucket::new(sa("10.0.0.1:80"), 1)]);
    shareable(&c);
    let copy = c.clone();
    let from_thread = std::thread::spawn(move || copy.node(b"k")).join().unwrap();
    assert_eq!(from_thread, c.node(b"k"));
}
