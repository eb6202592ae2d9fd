use super::*;
use crate::test_util::{all_candidates, backends, chi_square_ok};
use proptest::prelude::*;

fn first(sel: &Consistent, key: &[u8]) -> usize {
    sel.iter(key).next().unwrap()
}

#[test]
fn first_picks_match_pingora_ketama_own_test() {
    // pingora-load-balancing 0.9.1, selection/consistent.rs, `test_ketama`.
    let mut set: Vec<Backend> = ["1.1.1.1:80", "1.0.0.1:80", "1.0.0.255:80"]
        .iter()
        .map(|a| Backend::new(a).unwrap())
        .collect();
    set.sort();
    let name = |i: usize| set[i].addr.to_string();
    let sel = Consistent::build(&set, &KetamaConfig::default()).unwrap();
    let want = [
        "1.0.0.1:80",
        "1.1.1.1:80",
        "1.1.1.1:80",
        "1.1.1.1:80",
        "1.1.1.1:80",
        "1.0.0.255:80",
        "1.1.1.1:80",
        "1.0.0.255:80",
        "1.1.1.1:80",
        "1.0.0.1:80",
    ];
    for (k, want) in want.iter().enumerate() {
        let key = format!("test{k}");
        assert_eq!(name(first(&sel, key.as_bytes())), *want, "key {key}");
    }
}

#[test]
fn first_pick_is_the_ring_lookup_and_unix_sockets_count() {
    let set = vec![
        Backend::new("10.0.0.1:80").unwrap(),
        Backend::new("[2001:db8::1]:80").unwrap(),
        Backend::new("unix:/run/a.sock").unwrap(),
    ];
    let sel = Consistent::build(&set, &KetamaConfig::default()).unwrap();
    let ring = Continuum::new(&[
        Bucket::new("10.0.0.1:80".parse().unwrap(), 1),
        Bucket::new("[2001:db8::1]:80".parse().unwrap(), 1),
        Bucket::unix("/run/a.sock", 1),
    ]);
    let mut hit_unix = false;
    for k in 0..300u32 {
        let key = k.to_le_bytes();
        let got = first(&sel, &key);
        assert_eq!(Some(got), ring.bucket_idx(&key));
        hit_unix |= got == 2;
    }
    assert!(hit_unix, "unix-socket backends get keys");
}

#[test]
fn proportions_follow_weights() {
    let sel = Consistent::build(&backends(&[1, 2, 4, 0]), &KetamaConfig::default()).unwrap();
    let mut counts = [0u64; 4];
    for k in 0..70_000u32 {
        counts[first(&sel, &k.to_le_bytes())] += 1;
    }
    assert_eq!(counts[3], 0, "a standby is never first");
    // A ring's shares are close to, not exactly, the weights: allow 15%.
    let n = 70_000.0;
    for (i, w) in [1.0, 2.0, 4.0].iter().enumerate() {
        let share = counts[i] as f64 / n;
        assert!(
            (share - w / 7.0).abs() < 0.15 * w / 7.0,
            "backend {i}: {counts:?}"
        );
    }
}

#[test]
fn all_zero_weights_are_equal_weights() {
    let sel = Consistent::build(&backends(&[0, 0, 0]), &KetamaConfig::default()).unwrap();
    let mut counts = [0u64; 3];
    for k in 0..30_000u32 {
        counts[first(&sel, &k.to_le_bytes())] += 1;
    }
    assert!(counts.iter().all(|&c| c > 7_000), "{counts:?}");
    // The same ring as all weights 1.
    let ones = Consistent::build(&backends(&[1, 1, 1]), &KetamaConfig::default()).unwrap();
    for k in 0..1000u32 {
        assert_eq!(
            first(&sel, &k.to_le_bytes()),
            first(&ones, &k.to_le_bytes())
        );
    }
}

#[test]
fn point_multiple_160_maps_as_nginx_and_0_is_an_error() {
    let set = backends(&[1, 3, 2]);
    let v1 = Consistent::build(&set, &KetamaConfig::default()).unwrap();
    let v2 = Consistent::build(
        &set,
        &KetamaConfig {
            point_multiple: Some(160),
        },
    )
    .unwrap();
    for k in 0..2000u32 {
        assert_eq!(first(&v1, &k.to_le_bytes()), first(&v2, &k.to_le_bytes()));
    }
    assert!(v2.heap_bytes() < v1.heap_bytes());
    let err = Consistent::build(
        &set,
        &KetamaConfig {
            point_multiple: Some(0),
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "consistent-hash ring: point multiple of 0 gives no bucket a point"
    );
}

#[test]
fn a_ring_over_the_point_limit_is_an_error_naming_the_heaviest_backend() {
    let set = backends(&[1, u32::MAX, 1]);
    let err = Consistent::build(&set, &KetamaConfig::default()).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("consistent-hash ring: ring of "), "{text}");
    assert!(
        text.contains("10.0.0.2:80") && text.contains("4294967295"),
        "{text}"
    );
    // Fewer points per unit of weight fit more weight.
    let set = backends(&[100_000, 300_000, 400_000]);
    assert!(Consistent::build(&set, &KetamaConfig::default()).is_err());
    let compact = KetamaConfig {
        point_multiple: Some(1),
    };
    let sel = Consistent::build(&set, &compact).unwrap();
    let mut counts = [0u64; 3];
    for k in 0..16_000u32 {
        counts[first(&sel, &k.to_le_bytes())] += 1;
    }
    assert!(
        chi_square_ok(&counts, &[1, 3, 4]) || counts[2] > counts[1] && counts[1] > counts[0],
        "{counts:?}"
    );
}

#[test]
fn a_down_backends_keys_go_where_removal_would_send_them() {
    let set = backends(&[1, 1, 1, 1, 1]);
    let sel = Consistent::build(&set, &KetamaConfig::default()).unwrap();
    let without: Vec<Backend> = set
        .iter()
        .filter(|b| b.addr != set[2].addr)
        .cloned()
        .collect();
    let smaller = Consistent::build(&without, &KetamaConfig::default()).unwrap();
    for k in 0..2000u32 {
        let key = k.to_le_bytes();
        let mut it = sel.iter(&key);
        let mut pick = it.next().unwrap();
        if pick == 2 {
            pick = it.next().unwrap();
        }
        assert_eq!(
            set[pick].addr,
            without[first(&smaller, &key)].addr,
            "key {k}"
        );
    }
}

#[test]
fn empty_set_yields_nothing() {
    let sel = Consistent::build(&[], &KetamaConfig::default()).unwrap();
    assert_eq!(sel.iter(b"k").next(), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn candidates_visit_each_backend_once_standby_last(
        weights in prop::collection::vec(prop_oneof![Just(0u32), 1u32..4], 1..30),
        key: u64,
    ) {
        let sel = Consistent::build(&backends(&weights), &KetamaConfig::default()).unwrap();
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
    fn removing_one_backend_moves_only_its_keys(
        n in 2usize..20,
        gone: prop::sample::Index,
    ) {
        let set = backends(&vec![1; n]);
        let gone = gone.index(n);
        let without: Vec<Backend> = set.iter().enumerate().filter(|&(i, _)| i != gone).map(|(_, b)| b.clone()).collect();
        let before = Consistent::build(&set, &KetamaConfig::default()).unwrap();
        let after = Consistent::build(&without, &KetamaConfig::default()).unwrap();
        let mut moved = 0;
        for k in 0..2000u32 {
            let key = k.to_le_bytes();
            let a = &set[first(&before, &key)].addr;
            let b = &without[first(&after, &key)].addr;
            if a != b {
                prop_assert_eq!(a, &set[gone].addr, "a key of a staying backend moved");
                moved += 1;
            }
        }
        // The removed backend had about 1/n of the keys.
        prop_assert!(f64::from(moved) < 2000.0 * 2.0 / n as f64 + 50.0, "{} keys moved", moved);
    }
}

/// The backend of pool entry `i`: an address of its own (a Unix socket now and then).
fn pooled(i: usize, weight: u32) -> Backend {
    let addr = if i.is_multiple_of(17) {
        format!("unix:/run/b{i}.sock")
    } else {
        format!("10.9.{}.{}:80", i / 250, i % 250)
    };
    Backend::new_with_weight(&addr, weight).unwrap()
}

/// What a load balancer's merge finds between two sets sorted by address: the indices of the
/// backends that left (in `old`), joined (in `new`) and changed weight (in `new`).
fn diff(old: &[Backend], new: &[Backend]) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let (mut removed, mut added, mut changed) = (Vec::new(), Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a.addr == b.addr => {
                if a.weight != b.weight {
                    changed.push(j);
                }
                (i, j) = (i + 1, j + 1);
            }
            (Some(a), Some(b)) if a.addr < b.addr => {
                removed.push(i);
                i += 1;
            }
            (Some(_), None) => {
                removed.push(i);
                i += 1;
            }
            _ => {
                added.push(j);
                j += 1;
            }
        }
    }
    (removed, added, changed)
}

/// Asserts that `got` selects as `want`: the same ring, point for point, and the same candidates
/// for every key.
fn assert_selects_as(got: &Consistent, want: &Consistent, keys: u32, what: &str) {
    let (a, b) = (got.ring(), want.ring());
    assert_eq!(a.len(), b.len(), "{what}: ring length");
    for i in 0..b.len() {
        assert_eq!(
            a.point_hash(i),
            b.point_hash(i),
            "{what}: hash of point {i}"
        );
        assert_eq!(
            a.point_bucket(i),
            b.point_bucket(i),
            "{what}: bucket of point {i}"
        );
    }
    for k in 0..keys {
        let key = k.to_le_bytes();
        assert_eq!(
            all_candidates(got.iter(&key)),
            all_candidates(want.iter(&key)),
            "{what}: candidates of key {k}"
        );
    }
}

#[test]
fn apply_change_falls_back_when_every_weight_was_zero() {
    let zero: Vec<Backend> = (1..40).map(|i| pooled(i, 0)).collect();
    let chunked = Continuum::builder().layout(lb_ketama::Layout::Chunked);
    let sel = Consistent::build_with(&zero, &chunked).unwrap();
    let mut next = zero.clone();
    next[5] = pooled(6, 3);
    let (removed, added, changed) = diff(&zero, &next);
    assert_eq!(changed, [5]);
    let change = SetChange::new(&zero, &removed, &added, &changed);
    let got = sel
        .apply_change(&next, &change, &KetamaConfig::default())
        .expect("the ring updates itself")
        .unwrap();
    let want = Consistent::build(&next, &KetamaConfig::default()).unwrap();
    assert_selects_as(&got, &want, 500, "all zero, then one positive");
    assert_eq!(
        got.ring().len(),
        480,
        "only the positive backend has points"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random sets and random sequences of joins, departures and weight changes applied with
    /// `apply_change` to a chunked ring (the layout that updates in place): each result is the
    /// ring and the candidates a build from scratch gives.
    #[test]
    fn apply_change_selects_as_a_build_from_scratch(
        seed in any::<u64>(),
        n in 1usize..120,
        steps in 1usize..5,
    ) {
        // xorshift64: one seed draws the whole sequence of changes.
        let mut state = seed | 1;
        let mut below = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let pool = 400;
        let mut members: Vec<(usize, u32)> = Vec::new();
        for _ in 0..n {
            members.push((below(pool), below(5) as u32));
        }
        let set_of = |members: &[(usize, u32)]| {
            let mut set: Vec<Backend> = members.iter().map(|&(i, w)| pooled(i, w)).collect();
            set.sort();
            set.dedup_by(|a, b| a.addr == b.addr);
            set
        };
        let cfg = KetamaConfig::default();
        let mut set = set_of(&members);
        let chunked = Continuum::builder().layout(lb_ketama::Layout::Chunked);
        let mut sel = Consistent::build_with(&set, &chunked).unwrap();
        for step in 0..steps {
            for _ in 0..1 + below(3) {
                match below(3) {
                    0 if members.len() > 1 => {
                        members.swap_remove(below(members.len()));
                    }
                    1 => members.push((below(pool), below(5) as u32)),
                    _ => {
                        let at = below(members.len());
                        members[at].1 = below(5) as u32;
                    }
                }
            }
            let next = set_of(&members);
            let (removed, added, changed) = diff(&set, &next);
            let change = SetChange::new(&set, &removed, &added, &changed);
            let got = sel.apply_change(&next, &change, &cfg).expect("the ring updates itself").unwrap();
            let want = Consistent::build(&next, &cfg).unwrap();
            assert_selects_as(&got, &want, 300, &format!("step {step}"));
            (sel, set) = (got, next);
        }
    }
}
