use super::*;
use crate::test_util::{all_candidates, backends};
use proptest::prelude::*;

fn first(sel: &Jump, key: &[u8]) -> usize {
    sel.iter(key).next().unwrap()
}

#[test]
fn growing_at_the_end_moves_keys_only_onto_the_new_backend() {
    for n in [1usize, 2, 7, 30] {
        let small = Jump::build(&backends(&vec![1; n]), &JumpKey::Hashed).unwrap();
        let big = Jump::build(&backends(&vec![1; n + 1]), &JumpKey::Hashed).unwrap();
        let mut moved = 0u32;
        for k in 0..20_000u32 {
            let key = k.to_le_bytes();
            let (a, b) = (first(&small, &key), first(&big, &key));
            if a != b {
                assert_eq!(b, n, "a key moved between old backends");
                moved += 1;
            }
        }
        let ideal = 20_000.0 / (n + 1) as f64;
        assert!(
            (f64::from(moved) - ideal).abs() < 5.0 * ideal.sqrt() + 1.0,
            "n {n}: {moved} moved, ideal {ideal:.0}"
        );
    }
}

#[test]
fn a_standby_is_not_a_bucket() {
    // A standby in the middle renumbers nothing: the buckets are the other three.
    let sel = Jump::build(&backends(&[1, 0, 1, 1]), &JumpKey::Hashed).unwrap();
    for k in 0..2_000u32 {
        let key = k.to_le_bytes();
        let want = [0, 2, 3][jump_bucket(lb_maglev::KeyMapping::Fast.hash(&key), 3) as usize];
        assert_eq!(first(&sel, &key), want);
    }
}

#[test]
fn keys_map_by_their_hash_or_as_little_endian_u64() {
    let set = backends(&[1; 10]);
    let hashed = Jump::build(&set, &JumpKey::Hashed).unwrap();
    let raw = Jump::build(&set, &JumpKey::LittleEndianU64).unwrap();
    for k in [0u64, 1, 2, 1 << 40, u64::MAX] {
        let key = k.to_le_bytes();
        assert_eq!(first(&raw, &key), jump_bucket(k, 10) as usize);
        assert_eq!(
            first(&hashed, &key),
            jump_bucket(lb_maglev::KeyMapping::Fast.hash(&key), 10) as usize
        );
    }
    // Other lengths are hashed either way.
    assert_eq!(first(&raw, b"user-7"), first(&hashed, b"user-7"));
}

#[test]
fn shares_are_equal_whatever_the_positive_weights() {
    let sel = Jump::build(&backends(&[1, 5, 100]), &JumpKey::Hashed).unwrap();
    let mut counts = [0u64; 3];
    for k in 0..30_000u32 {
        counts[first(&sel, &k.to_le_bytes())] += 1;
    }
    assert!(
        crate::test_util::chi_square_ok(&counts, &[1, 1, 1]),
        "{counts:?}"
    );
}

#[test]
fn zero_buckets_and_empty_sets() {
    assert_eq!(jump_bucket(12345, 0), 0);
    assert_eq!(jump_bucket(12345, 1), 0);
    assert!(jump_bucket(u64::MAX, u32::MAX) < u32::MAX);
    let sel = Jump::build(&[], &JumpKey::Hashed).unwrap();
    assert_eq!(sel.iter(b"k").next(), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn candidates_visit_each_backend_once_standby_last(
        weights in prop::collection::vec(prop_oneof![Just(0u32), 1u32..4, Just(u32::MAX)], 1..30),
        key: u64,
    ) {
        let sel = Jump::build(&backends(&weights), &JumpKey::Hashed).unwrap();
        let got = all_candidates(sel.iter(&key.to_le_bytes()));
        let mut sorted = got.clone();
        sorted.sort_unstable();
        prop_assert_eq!(sorted, (0..weights.len()).collect::<Vec<_>>());
        if weights.iter().any(|&w| w > 0) {
            let active = weights.iter().filter(|&&w| w > 0).count();
            prop_assert!(got[..active].iter().all(|&i| weights[i] > 0), "{:?}", got);
        }
    }

    #[test]
    fn jump_buckets_stay_in_range(key: u64, buckets in 1u32..) {
        prop_assert!(jump_bucket(key, buckets) < buckets);
    }
}
