//! Subsetting quality at the SRE book's example (300 clients, 300 backends, subset size 10),
//! computed with lb-discovery-static's own `Subset` and `RandomSubset`.
//!
//! - `{"kind":"subset_balance",...}`: connections per backend (how many clients hold it) when
//!   every client takes its subset: `min`, `max`, `mean`. Deterministic clients have ids
//!   `0..clients`; random clients have seeds `0..clients` (fixed, so runs agree; any other
//!   seeds give other extremes of the same spread). Also random subsetting at subset size 90,
//!   the case of the book's Figure 20-3.
//! - `{"kind":"subset_churn",...}`: backends changed in a client's subset (new ones it connects
//!   to, which equals the ones it drops) when one backend is added or removed: `max` and `mean`
//!   over every client and every trial, a trial per backend removed (each of them in turn) or
//!   per distinct address added. For deterministic subsetting also across a subset-count step
//!   (295 backends → 294 rounds 30 subsets per round down to 29).

use lb_benches::sets::{backend, backends};
use lb_core::Backend;
use lb_discovery_static::{RandomSubset, Subset, SubsetPolicy};
use serde_json::{Value, json};

/// The SRE book's example.
const CLIENTS: u64 = 300;
const BACKENDS: usize = 300;
const SIZE: usize = 10;
/// The subset size of the book's random-subsetting figure (30 % of 300).
const BOOK_RANDOM_SIZE: usize = 90;

/// Clients per backend when each of `clients` takes its subset of `set`.
pub(crate) fn loads<P: SubsetPolicy>(clients: &[P], set: &[Backend]) -> Vec<u64> {
    let mut load = vec![0u64; set.len()];
    for client in clients {
        for held in client.select(set) {
            // `set` is sorted by address (as `backends` builds it) and subsets hold only its
            // backends.
            let index = set
                .binary_search(&held)
                .expect("a subset holds only backends of the set");
            load[index] += 1;
        }
    }
    load
}

/// Backends of `after` not in `before` (both sorted by address): the connections a client opens.
pub(crate) fn changed(before: &[Backend], after: &[Backend]) -> u64 {
    after
        .iter()
        .filter(|b| before.binary_search(b).is_err())
        .count() as u64
}

/// Churn over `trials` changes of `before` (each made by `change(trial)`): max and mean over
/// clients and trials of the backends changed in a client's subset (the larger of those
/// opened and those dropped, which are equal when both subsets are full).
pub(crate) fn churn<P: SubsetPolicy>(
    clients: &[P],
    before: &[Backend],
    trials: usize,
    change: impl Fn(usize) -> Vec<Backend>,
) -> (u64, f64) {
    let old: Vec<Vec<Backend>> = clients.iter().map(|c| c.select(before)).collect();
    let (mut max, mut total) = (0, 0);
    for trial in 0..trials {
        let after = change(trial);
        for (client, old) in clients.iter().zip(&old) {
            let new = client.select(&after);
            let n = changed(old, &new).max(changed(&new, old));
            max = max.max(n);
            total += n;
        }
    }
    (max, total as f64 / (trials * clients.len()).max(1) as f64)
}

fn deterministic() -> Vec<Subset> {
    (0..CLIENTS)
        .map(|id| Subset::new(id, CLIENTS, SIZE).expect("ids below the count, a positive size"))
        .collect()
}

fn random(size: usize) -> Vec<RandomSubset> {
    (0..CLIENTS)
        .map(|seed| RandomSubset::with_seed(seed, size).expect("a positive size"))
        .collect()
}

fn balance_row<P: SubsetPolicy>(policy: &str, clients: &[P], size: usize) -> Value {
    let load = loads(clients, &backends(BACKENDS, 80, |_| 1));
    let min = load.iter().copied().min().unwrap_or(0);
    let max = load.iter().copied().max().unwrap_or(0);
    let mean = load.iter().sum::<u64>() as f64 / load.len().max(1) as f64;
    eprintln!(
        "subset balance {policy}/{size}: min {min}, max {max}, mean {mean:.2} ({:.0} % to {:.0} %)",
        100.0 * min as f64 / mean,
        100.0 * max as f64 / mean
    );
    json!({
        "kind": "subset_balance", "policy": policy, "clients": CLIENTS,
        "backends": BACKENDS, "subset_size": size, "min": min, "max": max, "mean": mean,
    })
}

/// One churn case: what changes, the backend counts before and after, and how many trials.
struct Case {
    change: &'static str,
    from: usize,
    to: usize,
    trials: usize,
}

fn churn_rows<P: SubsetPolicy>(policy: &str, clients: &[P]) -> Vec<Value> {
    let without = |set: &[Backend], gone: usize| {
        let mut fewer = set.to_vec();
        fewer.remove(gone);
        fewer
    };
    let mut cases = vec![
        // One trial per added address, as many as there are backends.
        Case {
            change: "add",
            from: BACKENDS,
            to: BACKENDS + 1,
            trials: BACKENDS,
        },
        // One trial per backend removed.
        Case {
            change: "remove",
            from: BACKENDS,
            to: BACKENDS - 1,
            trials: BACKENDS,
        },
    ];
    if policy == "deterministic" {
        // 295 / 10 rounds to 30 subsets per round, 294 / 10 to 29.
        cases.push(Case {
            change: "remove_at_step",
            from: 295,
            to: 294,
            trials: 295,
        });
    }
    cases
        .into_iter()
        .map(
            |Case {
                 change,
                 from,
                 to,
                 trials,
             }| {
                let set = backends(from, 80, |_| 1);
                let (max, mean) = churn(clients, &set, trials, |trial| {
                    if to > from {
                        let mut more = set.clone();
                        more.push(backend(from + trial, 80, 1));
                        more
                    } else {
                        without(&set, trial)
                    }
                });
                eprintln!(
                    "subset churn {policy} {change} {from} -> {to}: max {max}, mean {mean:.3}"
                );
                json!({
                    "kind": "subset_churn", "policy": policy, "change": change,
                    "clients": CLIENTS, "subset_size": SIZE, "from": from, "to": to,
                    "trials": trials, "max": max, "mean": mean,
                })
            },
        )
        .collect()
}

/// Every subsetting row.
pub(crate) fn rows() -> Vec<Value> {
    let (det, rnd) = (deterministic(), random(SIZE));
    let mut rows = vec![
        balance_row("deterministic", &det, SIZE),
        balance_row("random", &rnd, SIZE),
        balance_row("random", &random(BOOK_RANDOM_SIZE), BOOK_RANDOM_SIZE),
    ];
    rows.extend(churn_rows("deterministic", &det));
    rows.extend(churn_rows("random", &rnd));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_count_the_clients_of_each_backend() {
        let set = backends(6, 80, |_| 1);
        // Two clients of sets of 3: each holds every backend exactly once per round of two.
        let clients: Vec<Subset> = (0..2).map(|id| Subset::new(id, 2, 3).unwrap()).collect();
        assert_eq!(loads(&clients, &set), [1; 6]);
        let all: Vec<RandomSubset> = (0..4)
            .map(|s| RandomSubset::with_seed(s, 6).unwrap())
            .collect();
        assert_eq!(loads(&all, &set), [4; 6]);
    }

    #[test]
    fn churn_counts_backends_opened_or_dropped() {
        let set = backends(4, 80, |_| 1);
        assert_eq!(changed(&set[..3], &set[1..]), 1);
        assert_eq!(changed(&set[..3], &set[..3]), 0);
        assert_eq!(changed(&set[..2], &set[2..]), 2);
        // Every client keeps everything (size 4 of 4); removing one backend drops one for all.
        let clients = [RandomSubset::with_seed(1, 4).unwrap(); 3];
        let (max, mean) = churn(&clients, &set, 4, |gone| {
            let mut fewer = set.clone();
            fewer.remove(gone);
            fewer
        });
        assert_eq!((max, mean), (1, 1.0));
    }
}
