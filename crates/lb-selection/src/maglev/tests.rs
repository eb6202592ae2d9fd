use super::*;
use crate::test_util::{all_candidates, backends, chi_square_ok};
use proptest::prelude::*;

fn first(sel: &Maglev, key: &[u8]) -> usize {
    sel.iter(key).next().unwrap()
}

#[test]
fn first_pick_is_the_table_lookup_and_unix_sockets_count() {
    let set = vec![
        Backend::new("10.0.0.1:80").unwrap(),
        Backend::new("[2001:db8::1]:80").unwrap(),
        Backend::new("unix:/run/a.sock").unwrap(),
    ];
    let sel = Maglev::build(&set, &MaglevConfig::default()).unwrap();
    let envoy = Maglev::build(
        &set,
        &MaglevConfig {
            key_mapping: KeyMapping::Envoy,
            ..MaglevConfig::default()
        },
    )
    .unwrap();
    let table = Table::new(&[
        Entry::named("10.0.0.1:80", 1),
        Entry::named("[2001:db8::1]:80", 1),
        Entry::named("/run/a.sock", 1),
    ])
    .unwrap();
    let mut hit_unix = false;
    let mut differ = 0;
    for k in 0..300u32 {
        let key = k.to_le_bytes();
        let got = first(&sel, &key);
        assert_eq!(Some(got), table.get_with(&key, KeyMapping::Fast));
        // With Envoy's key hash, Envoy's slot for the key.
        assert_eq!(Some(first(&envoy, &key)), table.get(&key));
        differ += usize::from(first(&envoy, &key) != got);
        hit_unix |= got == 2;
    }
    assert!(hit_unix, "unix-socket backends get keys");
    assert!(differ > 100, "the two key hashes are different functions");
}

#[test]
fn fallbacks_are_envoys_retry_rehashes() {
    let set = backends(&[1; 20]);
    let sel = Maglev::build(&set, &MaglevConfig::default()).unwrap();
    for k in 0..200u32 {
        let key = k.to_le_bytes();
        // The attempts, repeats dropped, as far as the draws go.
        let mut want: Vec<usize> = Vec::new();
        // Envoy's retry rehash, mapped to slots by the configured mapping.
        let hash = KeyMapping::Fast.hash(&key);
        let attempts = (0..=u64::from(RETRIES)).map(|a| {
            sel.table()
                .get_by_hash_with(hash ^ a.wrapping_neg(), KeyMapping::Fast)
                .unwrap()
        });
        for i in attempts {
            if !want.contains(&i) && want.len() < 9 {
                want.push(i);
            }
        }
        let got = all_candidates(sel.iter(&key));
        assert_eq!(got[..want.len()], want[..], "key {k}");
    }
}

#[test]
fn proportions_follow_weights() {
    let sel = Maglev::build(&backends(&[1, 2, 4, 0]), &MaglevConfig::default()).unwrap();
    let mut counts = [0u64; 4];
    for k in 0..70_000u32 {
        counts[first(&sel, &k.to_le_bytes())] += 1;
    }
    assert_eq!(counts[3], 0, "a standby is never first");
    assert!(chi_square_ok(&counts[..3], &[1, 2, 4]), "{counts:?}");
}

#[test]
fn all_zero_weights_are_equal_weights() {
    let sel = Maglev::build(&backends(&[0, 0, 0]), &MaglevConfig::default()).unwrap();
    let ones = Maglev::build(&backends(&[1, 1, 1]), &MaglevConfig::default()).unwrap();
    for k in 0..1000u32 {
        let key = k.to_le_bytes();
        assert_eq!(first(&sel, &key), first(&ones, &key));
    }
}

#[test]
fn the_table_size_is_configurable_and_checked() {
    let set = backends(&[1, 3, 2]);
    let sel = Maglev::build(
        &set,
        &MaglevConfig {
            table_size: Some(101),
            ..MaglevConfig::default()
        },
    )
    .unwrap();
    assert_eq!(sel.table().size(), 101);
    assert_eq!(sel.heap_bytes(), 101 + 3 * 4);
    let err = Maglev::build(
        &set,
        &MaglevConfig {
            table_size: Some(8),
            ..MaglevConfig::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "maglev table: table size 8 is not a prime number"
    );
    let default = Maglev::build(&backends(&[1; 1_000]), &MaglevConfig::default()).unwrap();
    assert_eq!(default.table().size(), 131_101);
}

#[test]
fn empty_set_yields_nothing() {
    let sel = Maglev::build(&[], &MaglevConfig::default()).unwrap();
    assert_eq!(sel.iter(b"k").next(), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn candidates_visit_each_backend_once_standby_last(
        weights in prop::collection::vec(prop_oneof![Just(0u32), 1u32..4, Just(u32::MAX)], 1..30),
        key: u64,
    ) {
        let sel = Maglev::build(&backends(&weights), &MaglevConfig::default()).unwrap();
        let got = all_candidates(sel.iter(&key.to_le_bytes()));
        let mut sorted = got.clone();
        sorted.sort_unstable();
        prop_assert_eq!(sorted, (0..weights.len()).collect::<Vec<_>>());
        if weights.iter().any(|&w| w > 0) {
            let active = weights.iter().filter(|&&w| w > 0).count();
            prop_assert!(got[..active].iter().all(|&i| weights[i] > 0), "{:?}", got);
        }
    }
}
