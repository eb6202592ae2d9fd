//! Rings large enough to be built on several threads are the rings one thread builds, point for
//! point, and the rings nginx's algorithm gives.

use std::net::{Ipv6Addr, SocketAddr};

use lb_ketama::{Bucket, Builder, Continuum, Version};

use crate::model;

/// 1,400 buckets of every kind and weight 0 to 3 (about 330,000 points, past the 262,144 from which
/// a build uses threads), with names repeated so that whole chains tie and some buckets keep no
/// point at all.
fn mixed() -> Vec<Bucket> {
    (0..1_400u32)
        .map(|i| {
            let weight = i % 4;
            match i % 5 {
                0 => Bucket::new(
                    SocketAddr::from(([10, 1, (i / 250) as u8, i as u8], 80)),
                    weight,
                ),
                1 => Bucket::new(
                    SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16), 443)),
                    weight,
                ),
                2 => Bucket::unix(format!("/run/app-{i}.sock"), weight),
                // Bucket i - 4 has this name: the shorter chain's points all tie.
                3 if i % 7 == 0 => {
                    Bucket::named(format!("app-{}.internal:8080", i - 4), weight + 1)
                }
                // Bucket i - 4's address by name, with no more points: it loses every one of them.
                4 if i % 11 == 0 => Bucket::named(
                    SocketAddr::from(([10, 1, ((i - 4) / 250) as u8, (i - 4) as u8], 80))
                        .to_string(),
                    ((i - 4) % 4).min(weight),
                ),
                _ => Bucket::named(format!("app-{i}.internal:8080"), weight),
            }
        })
        .collect()
}

fn assert_same(a: &Continuum, b: &Continuum, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for i in 0..a.len() {
        assert_eq!(a.point_hash(i), b.point_hash(i), "{what}: point {i}");
        assert_eq!(a.point_bucket(i), b.point_bucket(i), "{what}: point {i}");
    }
}

#[test]
fn any_number_of_threads_builds_nginx_s_ring() {
    let buckets = mixed();
    let points = model(&buckets, 160);
    assert!(points.len() > 1 << 18, "{} points", points.len());
    let ties = buckets
        .iter()
        .map(|b| b.weight() as usize * 160)
        .sum::<usize>()
        - points.len();
    assert!(ties >= 160, "repeated names tie whole chains: {ties} ties");

    let one = Continuum::builder().single_threaded().build(&buckets);
    assert_eq!(one.len(), points.len());
    let losers = (0..buckets.len())
        .filter(|&b| buckets[b].weight() > 0 && points.iter().all(|p| p.1 != b))
        .count();
    assert!(
        losers >= 5,
        "{losers} buckets lose every point to an earlier one"
    );
    for (i, p) in points.iter().enumerate() {
        assert_eq!(one.point_hash(i), Some(p.0), "point {i}");
        assert_eq!(one.point_bucket(i), Some(p.1), "point {i}");
    }
    for threads in [0, 2, 3, 4, 64] {
        let many = Continuum::builder().max_threads(threads).build(&buckets);
        assert_same(&one, &many, &format!("V1 on {threads} threads"));
    }
    assert_same(&one, &Continuum::new(&buckets), "V1 by default");
    assert_same(
        &one,
        &Builder::new().build(&buckets),
        "V1 from Builder::new",
    );

    let v2 = Version::V2 {
        point_multiple: 160,
    };
    let compact = Continuum::builder()
        .version(v2)
        .single_threaded()
        .build(&buckets);
    assert_same(&one, &compact, "V2 on one thread");
    for threads in [2, 4] {
        let many = Continuum::builder()
            .version(v2)
            .max_threads(threads)
            .try_build(&buckets)
            .unwrap();
        assert_same(&compact, &many, &format!("V2 on {threads} threads"));
    }
}

#[test]
fn rings_around_the_threshold_agree() {
    // 1,638 buckets of weight 1 is 262,080 points (one thread), 1,639 is 262,240 (threads).
    for n in [1_638u32, 1_639, 1_640] {
        let buckets: Vec<Bucket> = (0..n)
            .map(|i| Bucket::named(format!("10.2.{}.{}:80", i / 200, i % 200), 1))
            .collect();
        let one = Builder::new().single_threaded().build(&buckets);
        let many = Builder::new().max_threads(4).build(&buckets);
        assert_same(&one, &many, &format!("{n} buckets"));
        let keys = (0..2_000u32).map(|k| k.to_le_bytes());
        for key in keys {
            assert_eq!(one.bucket_idx(&key), many.bucket_idx(&key), "{n} buckets");
        }
    }
}
