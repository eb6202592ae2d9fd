//! Lookups never allocate: checked with a counting global allocator (this binary's allocator).

use allocation_counter::measure;
use lb_ketama::{Bucket, Continuum, Version};

use crate::sa;

#[test]
fn lookups_and_iterators_do_not_allocate() {
    let mut buckets: Vec<Bucket> = (0..50u32)
        .map(|i| Bucket::new(sa(&format!("10.0.0.{i}:80")), 1 + i % 3))
        .collect();
    buckets.push(Bucket::unix("/run/a.sock", 2));
    buckets.push(Bucket::named("app.internal:8080", 1));
    for version in [
        Version::V1,
        Version::V2 {
            point_multiple: 160,
        },
    ] {
        let c = Continuum::new_with_version(&buckets, version);
        let mut found = 0usize;
        let info = measure(|| {
            for i in 0..1000u32 {
                let key = i.to_le_bytes();
                found += c.node_idx(&key);
                found += c.bucket_idx(&key).unwrap_or(0);
                found += c.node(&key).map_or(0, |a| usize::from(a.port()));
                found += c.bucket_iter(&key).take(10).sum::<usize>();
                found += c
                    .node_iter(&key)
                    .take(10)
                    .map(|a| usize::from(a.port()))
                    .sum::<usize>();
                let mut idx = c.node_idx(&key);
                found += c.get_addr(&mut idx).map_or(0, |a| usize::from(a.port()));
            }
        });
        assert!(found > 0);
        assert_eq!(
            info.count_total, 0,
            "{version:?}: lookups allocated {info:?}"
        );
    }
    // The counter does count: building a ring allocates.
    let info = measure(|| drop(Continuum::new(&buckets)));
    assert!(info.count_total > 0);
}
