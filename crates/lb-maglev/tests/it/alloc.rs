//! Lookups allocate nothing.

use lb_maglev::{Entry, Table};

#[test]
fn lookups_and_candidates_allocate_nothing() {
    let entries: Vec<Entry> = (0..1_000)
        .map(|i| Entry::named(format!("backend-{i}"), 1 + i % 7))
        .collect();
    let table = Table::new(&entries).unwrap();
    let info = allocation_counter::measure(|| {
        for k in 0..10_000u32 {
            let key = k.to_le_bytes();
            std::hint::black_box(table.get(&key));
            std::hint::black_box(table.candidates(&key).take(8).sum::<usize>());
        }
    });
    assert_eq!(info.count_total, 0, "{info:?}");
    // The counter sees allocations (so the test cannot pass vacuously).
    let info = allocation_counter::measure(|| {
        std::hint::black_box(Box::new(1u8));
    });
    assert_eq!(info.count_total, 1);
}
