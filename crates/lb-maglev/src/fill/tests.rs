use super::*;
use proptest::prelude::*;

/// Envoy's `OriginalMaglevTable::constructImplementationInternals`, line for line: every entry
/// every iteration, permutations probed with `(offset + skip × next) % M`.
fn envoy(names: &[Vec<u8>], weights: &[u32], size: u64) -> Vec<Option<u32>> {
    let sum: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    struct E {
        index: u32,
        offset: u64,
        skip: u64,
        weight: f64,
        target: f64,
        next: u64,
    }
    let mut entries: Vec<E> = names
        .iter()
        .zip(weights)
        .enumerate()
        .filter(|(_, (_, w))| **w > 0)
        .map(|(i, (name, &w))| E {
            index: i as u32,
            offset: XxHash64::oneshot(0, name) % size,
            skip: XxHash64::oneshot(1, name) % (size - 1) + 1,
            weight: f64::from(w) / sum as f64,
            target: 0.0,
            next: 0,
        })
        .collect();
    let max = entries.iter().map(|e| e.weight).fold(0.0, f64::max);
    let mut table = vec![None; size as usize];
    if entries.is_empty() {
        return table;
    }
    let mut table_index = 0;
    let mut iteration: u32 = 1;
    while table_index < size {
        for entry in entries.iter_mut() {
            if table_index == size {
                break;
            }
            if f64::from(iteration) * entry.weight < entry.target {
                continue;
            }
            entry.target += max;
            let mut c = (entry.offset + entry.skip * entry.next) % size;
            while table[c as usize].is_some() {
                entry.next += 1;
                c = (entry.offset + entry.skip * entry.next) % size;
            }
            table[c as usize] = Some(entry.index);
            entry.next += 1;
            table_index += 1;
        }
        iteration += 1;
    }
    table
}

fn fast(names: &[Vec<u8>], weights: &[u32], size: u64) -> Vec<Option<u32>> {
    let sum: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    let mut plans: Vec<Plan> = names
        .iter()
        .zip(weights)
        .enumerate()
        .filter(|(_, (_, w))| **w > 0)
        .map(|(i, (name, &w))| Plan::new(i as u32, name, f64::from(w) / sum as f64, size))
        .collect();
    let max = plans.iter().map(|p| p.weight).fold(0.0, f64::max);
    let table: Box<[u32]> = fill(&mut plans, size, max);
    if table.is_empty() {
        return vec![None; size as usize];
    }
    table.iter().map(|&i| Some(i)).collect()
}

fn names(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("10.0.{}.{}:80", i / 250, i % 250).into_bytes())
        .collect()
}

const PRIMES: [u64; 8] = [2, 3, 7, 17, 101, 1_009, 4_099, 65_537];

#[test]
fn equal_weights_fill_as_envoy_does() {
    for n in [1, 2, 6, 50, 300] {
        for size in [7, 1_009, 65_537] {
            let names = names(n);
            let weights = vec![1; n];
            assert_eq!(fast(&names, &weights, size), envoy(&names, &weights, size));
        }
    }
}

#[test]
fn very_uneven_weights_take_the_heap_and_fill_as_envoy_does() {
    // The heaviest entry is far above the mean: the turns come from the heap.
    let names = names(40);
    let mut weights: Vec<u32> = (0..40).map(|i| 1 + i % 3).collect();
    weights[7] = 10_000;
    weights[8] = u32::MAX;
    assert_eq!(
        fast(&names, &weights, 4_099),
        envoy(&names, &weights, 4_099)
    );
    assert_eq!(fast(&names, &weights, 17), envoy(&names, &weights, 17));
}

#[test]
fn next_turn_is_the_first_iteration_that_plays() {
    // Weight a third of the largest: every third iteration.
    let mut plan = Plan::new(0, b"a", 1.0 / 3.0, 101);
    let max = 1.0;
    let mut turns = vec![1];
    plan.target += max;
    while let Some(k) = next_turn(*turns.last().unwrap(), &plan, 20) {
        turns.push(k);
        plan.target += max;
    }
    // In floating point 3 × (1/3) is 1.0, not below the target of 1.0.
    assert_eq!(turns, [1, 3, 6, 9, 12, 15, 18]);
    // An entry whose next turn is past the table's last iteration is dropped.
    let heavy = Plan {
        target: 1e300,
        ..Plan::new(0, b"b", 1e-300, 101)
    };
    assert_eq!(next_turn(1, &heavy, 101), None);
}

#[test]
fn inverses_are_inverses() {
    for m in PRIMES.into_iter().skip(1) {
        for a in [1, 2, m / 2, m - 1] {
            assert_eq!((inverse_mod(a, m) * a) % m, 1, "{a} mod {m}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_weights_fill_as_envoy_does(
        weights in prop::collection::vec(prop_oneof![Just(0u32), 1u32..5, 1u32..1_000, Just(u32::MAX)], 1..40),
        size in prop::sample::select(PRIMES.to_vec()),
    ) {
        let names = names(weights.len());
        prop_assert_eq!(fast(&names, &weights, size), envoy(&names, &weights, size));
    }
}
