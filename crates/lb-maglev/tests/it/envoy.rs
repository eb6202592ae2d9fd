//! Tables equal Envoy's: the expected assignments of Envoy's own Maglev tests
//! (`test/extensions/load_balancing_policies/maglev/maglev_lb_test.cc`), where request `i` has
//! hash `i` and so lands in slot `i mod M`.

use lb_maglev::{Entry, Table};

fn hosts(names: &[&str], weights: &[u32]) -> Vec<Entry> {
    names
        .iter()
        .zip(weights)
        .map(|(n, &w)| Entry::named(n, w))
        .collect()
}

fn assignments(table: &Table) -> Vec<usize> {
    (0..table.size())
        .map(|h| table.get_by_hash(h).expect("a full table"))
        .collect()
}

#[test]
fn envoy_basic() {
    // `MaglevLoadBalancerTest.Basic`: six hosts of weight 1, table size 7.
    let names = [
        "127.0.0.1:90",
        "127.0.0.1:91",
        "127.0.0.1:92",
        "127.0.0.1:93",
        "127.0.0.1:94",
        "127.0.0.1:95",
    ];
    let table = Table::with_size(&hosts(&names, &[1; 6]), 7).unwrap();
    assert_eq!(assignments(&table), [2, 4, 0, 1, 5, 0, 3]);
    // Envoy's stats: min and max entries per host.
    let counts = table.slot_counts();
    assert_eq!(counts.iter().min(), Some(&1));
    assert_eq!(counts.iter().max(), Some(&2));
    // The same hosts as socket addresses are named the same way.
    let addrs: Vec<Entry> = names
        .iter()
        .map(|n| Entry::new(n.parse().unwrap(), 1))
        .collect();
    assert_eq!(
        assignments(&Table::with_size(&addrs, 7).unwrap()),
        [2, 4, 0, 1, 5, 0, 3]
    );
}

#[test]
fn envoy_basic_with_host_name() {
    // `BasicWithHostName`: hashed by host name ("90" ... "95").
    let names = ["90", "91", "92", "93", "94", "95"];
    let table = Table::with_size(&hosts(&names, &[1; 6]), 7).unwrap();
    assert_eq!(assignments(&table), [2, 5, 0, 3, 4, 1, 0]);
}

#[test]
fn envoy_basic_order_does_not_matter() {
    // Envoy sorts hosts by name before filling, so the table does not depend on their order.
    let names = [
        "127.0.0.1:95",
        "127.0.0.1:93",
        "127.0.0.1:90",
        "127.0.0.1:94",
        "127.0.0.1:91",
        "127.0.0.1:92",
    ];
    let table = Table::with_size(&hosts(&names, &[1; 6]), 7).unwrap();
    let got: Vec<&str> = assignments(&table).iter().map(|&i| names[i]).collect();
    let want = [2, 4, 0, 1, 5, 0, 3].map(|p| {
        [
            "127.0.0.1:90",
            "127.0.0.1:91",
            "127.0.0.1:92",
            "127.0.0.1:93",
            "127.0.0.1:94",
            "127.0.0.1:95",
        ][p]
    });
    assert_eq!(got, want);
}

#[test]
fn envoy_weighted() {
    // `MaglevLoadBalancerTest.Weighted`: weights 1 and 2, table size 17.
    let table = Table::with_size(&hosts(&["127.0.0.1:90", "127.0.0.1:91"], &[1, 2]), 17).unwrap();
    assert_eq!(
        assignments(&table),
        [1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1]
    );
    let counts = table.slot_counts();
    assert_eq!(counts, [6, 11]);
}

#[test]
fn envoy_retry_attempts() {
    // `BasicWithRetryHostPredicate`: hash 10 is host 1 (slot 3); the second attempt (hash
    // 10 ^ (2^64 - 1)) picks host 0, and the third host 5.
    let names = [
        "127.0.0.1:90",
        "127.0.0.1:91",
        "127.0.0.1:92",
        "127.0.0.1:93",
        "127.0.0.1:94",
        "127.0.0.1:95",
    ];
    let table = Table::with_size(&hosts(&names, &[1; 6]), 7).unwrap();
    let attempts: Vec<usize> = table.candidates_by_hash(10).take(3).collect();
    assert_eq!(attempts, [1, 0, 5]);
}
