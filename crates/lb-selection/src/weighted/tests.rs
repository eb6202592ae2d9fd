use super::*;
use crate::test_util::{all_candidates, backends, chi_square_ok};

#[test]
fn first_picks_match_pingora_fnvhash_own_test() {
    // pingora-load-balancing 0.9.1, selection/weighted.rs, `test_fnv`: the same backends, keys
    // and expected first picks.
    let b1 = Backend::new("1.1.1.1:80").unwrap();
    let b2 = Backend::new_with_weight("1.0.0.1:80", 10).unwrap();
    let b3 = Backend::new("1.0.0.255:80").unwrap();
    let mut set = vec![b1.clone(), b2.clone(), b3.clone()];
    set.sort();
    let sel = FnvHash::build(&set, &()).unwrap();
    let first = |key: &[u8]| set[sel.iter(key).next().unwrap()].clone();
    for (key, want) in [
        (&b"test"[..], &b2),
        (b"test1", &b2),
        (b"test2", &b2),
        (b"test3", &b3),
        (b"test4", &b1),
        (b"test5", &b2),
        (b"test6", &b2),
        (b"test7", &b2),
    ] {
        assert_eq!(&first(key), want, "key {:?}", String::from_utf8_lossy(key));
    }
}

#[test]
fn first_pick_is_the_documented_formula() {
    let set = backends(&[3, 0, 5, 1]);
    let sel = FnvHash::build(&set, &()).unwrap();
    for k in 0..500u32 {
        let key = format!("k{k}");
        let mut h = FnvHasher::default();
        h.write(key.as_bytes());
        let mut p = h.finish() % 9;
        let mut want = 0;
        for (i, b) in set.iter().enumerate() {
            if p < u64::from(b.weight) {
                want = i;
                break;
            }
            p -= u64::from(b.weight);
        }
        assert_eq!(sel.iter(key.as_bytes()).next(), Some(want), "key {key}");
    }
}

#[test]
fn proportions_follow_weights() {
    let w = [1, 2, 3, 10, 0];
    let set = backends(&w);
    let sel = FnvHash::build(&set, &()).unwrap();
    let mut counts = [0u64; 5];
    for k in 0..80_000u32 {
        counts[sel.iter(&k.to_le_bytes()).next().unwrap()] += 1;
    }
    assert_eq!(counts[4], 0, "a standby is never first");
    assert!(chi_square_ok(&counts[..4], &[1, 2, 3, 10]), "{counts:?}");
}

#[test]
fn standby_comes_after_every_active_backend_and_all_are_reached() {
    let set = backends(&[0, 2, 0, 1, 1]);
    let sel = FnvHash::build(&set, &()).unwrap();
    for k in 0..200u32 {
        let got = all_candidates(sel.iter(&k.to_le_bytes()));
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2, 3, 4]);
        let tail: Vec<usize> = got[3..].to_vec();
        assert!(tail == [0, 2], "standby last, in address order: {got:?}");
    }
}

#[test]
fn all_zero_weights_are_equal_weights() {
    let set = backends(&[0, 0, 0]);
    let sel = FnvHash::build(&set, &()).unwrap();
    let mut counts = [0u64; 3];
    for k in 0..30_000u32 {
        counts[sel.iter(&k.to_le_bytes()).next().unwrap()] += 1;
    }
    assert!(chi_square_ok(&counts, &[1, 1, 1]), "{counts:?}");
}

#[test]
fn huge_weights_and_many_backends_stay_small() {
    let set = backends(&vec![10_000; 1000]);
    let sel = FnvHash::build(&set, &()).unwrap();
    // pingora would hold 10 million u16 entries (20 MB); this holds a few per backend.
    assert!(sel.heap_bytes() < 1000 * 24, "{} bytes", sel.heap_bytes());
    let set = backends(&vec![u32::MAX; 70_000]);
    let sel = FnvHash::build(&set, &()).unwrap();
    assert!(
        sel.iter(b"x").next().unwrap() < 70_000,
        "more than 65,536 backends"
    );
}

#[test]
fn empty_set_yields_nothing() {
    let sel = FnvHash::build(&[], &()).unwrap();
    assert_eq!(sel.iter(b"k").next(), None);
}

#[test]
fn any_hasher_works() {
    let set = backends(&[1, 1, 1, 1]);
    let sel = Weighted::<std::collections::hash_map::DefaultHasher>::build(&set, &()).unwrap();
    let mut seen = [false; 4];
    for k in 0..100u32 {
        seen[sel.iter(&k.to_le_bytes()).next().unwrap()] = true;
    }
    assert_eq!(seen, [true; 4]);
}
