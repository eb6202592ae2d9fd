//! `jump_bucket` is the paper's reference function: equal on 12,000 vectors that the listing
//! itself computed (see `vectors/README.md`).

use lb_core::{Backends, LoadBalancer};
use lb_selection::{Jump, JumpKey, jump_bucket};

use crate::support::backends;

#[test]
fn jump_bucket_equals_the_reference_listing() {
    let mut lines = 0;
    for line in include_str!("vectors/jump/jump.txt").lines() {
        let fields: Vec<u64> = line
            .split(' ')
            .map(|f| f.parse().expect("a number"))
            .collect();
        let [key, buckets, want] = fields[..] else {
            panic!("malformed line {line:?}");
        };
        let buckets = u32::try_from(buckets).expect("a 32-bit count");
        assert_eq!(
            u64::from(jump_bucket(key, buckets)),
            want,
            "jump({key}, {buckets})"
        );
        lines += 1;
    }
    assert_eq!(lines, 12_000);
}

#[test]
fn a_load_balancer_picks_the_jump_of_a_little_endian_key() {
    let lb = LoadBalancer::<Jump>::from_backends_with_config(
        Backends::fixed(backends(&[1, 1, 0, 1, 1])),
        JumpKey::LittleEndianU64,
    );
    for key in [0u64, 1, 2, 42, u64::MAX] {
        // Buckets are the backends of positive weight: 0, 1, 3, 4.
        let want = [0, 1, 3, 4][jump_bucket(key, 4) as usize];
        assert_eq!(
            lb.select(&key.to_le_bytes()).unwrap().index(),
            want,
            "{key}"
        );
    }
}
