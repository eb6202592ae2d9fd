//! The subsetting policies on their own: determinism, sizes, balance and churn at the SRE book's
//! 300 clients, 300 backends and subset size 10.

use std::collections::HashMap;

use lb_core::{Address, Backend};
use lb_discovery_static::{RandomSubset, Subset, SubsetPolicy};

const CLIENTS: u64 = 300;
const SIZE: usize = 10;

/// `n` backends of weight 1 with distinct addresses, the first `n` of one fixed sequence (so
/// that `fleet(301)` is `fleet(300)` plus one).
pub(crate) fn fleet(n: usize) -> Vec<Backend> {
    (0..n).map(address).map(Backend::from).collect()
}

fn address(i: usize) -> Address {
    format!("10.{}.{}.{}:8080", i / 62_500, i / 250 % 250, i % 250 + 1)
        .parse()
        .unwrap()
}

fn deterministic(clients: u64) -> Vec<Subset> {
    (0..clients)
        .map(|id| Subset::new(id, clients, SIZE).unwrap())
        .collect()
}

/// One client per seed 0..clients: random seeds in effect, the same on every run.
fn random(clients: u64, size: usize) -> Vec<RandomSubset> {
    (0..clients)
        .map(|seed| RandomSubset::with_seed(seed, size).unwrap())
        .collect()
}

/// Clients per backend (every backend listed, so a backend no client chose counts 0).
fn loads<P: SubsetPolicy>(clients: &[P], backends: &[Backend]) -> Vec<usize> {
    let mut load: HashMap<&Address, usize> = backends.iter().map(|b| (&b.addr, 0)).collect();
    for client in clients {
        for b in client.select(backends) {
            *load
                .get_mut(&b.addr)
                .expect("a subset holds only listed backends") += 1;
        }
    }
    load.into_values().collect()
}

/// How many of `before`'s backends are not in `after`: the connections a client closes.
fn changed(before: &[Backend], after: &[Backend]) -> usize {
    before.iter().filter(|b| !after.contains(b)).count()
}

/// Per client, the backends changed from `before` to `after`: (max, mean).
fn churn<P: SubsetPolicy>(clients: &[P], before: &[Backend], after: &[Backend]) -> (usize, f64) {
    let per_client: Vec<usize> = clients
        .iter()
        .map(|c| {
            let (old, new) = (c.select(before), c.select(after));
            changed(&old, &new).max(changed(&new, &old))
        })
        .collect();
    let max = per_client.iter().copied().max().unwrap_or(0);
    (
        max,
        per_client.iter().sum::<usize>() as f64 / clients.len() as f64,
    )
}

fn without(backends: &[Backend], index: usize) -> Vec<Backend> {
    let mut fewer = backends.to_vec();
    fewer.remove(index);
    fewer
}

#[test]
fn subsets_do_not_depend_on_the_input_order_or_the_instance() {
    let all = fleet(97);
    // A fixed permutation: 97 is prime, so i -> 7i mod 97 visits every index once.
    let shuffled: Vec<Backend> = (0..97).map(|i| all[i * 7 % 97].clone()).collect();
    assert_ne!(shuffled, all);
    for id in [0, 1, 8, 9, 40, 99] {
        let a = Subset::new(id, 100, 9).unwrap();
        let b = Subset::new(id, 100, 9).unwrap();
        assert_eq!(a.select(&all), b.select(&shuffled), "client {id}");
        let r = RandomSubset::with_seed(id, 9).unwrap();
        assert_eq!(r.select(&all), r.select(&shuffled), "seed {id}");
    }
}

#[test]
fn every_subset_has_subset_size_distinct_backends_when_enough_exist() {
    for n in [SIZE, SIZE + 1, 14, 15, 19, 20, 29, 31, 150] {
        let all = fleet(n);
        for id in 0..40 {
            let subsets = [
                Subset::new(id, 40, SIZE).unwrap().select(&all),
                RandomSubset::with_seed(id, SIZE).unwrap().select(&all),
            ];
            for subset in subsets {
                let mut addrs: Vec<&Address> = subset.iter().map(|b| &b.addr).collect();
                addrs.dedup();
                assert_eq!(addrs.len(), SIZE, "n = {n}, client {id}: {subset:?}");
                assert!(subset.iter().all(|b| all.contains(b)));
            }
        }
    }
    // Fewer than the subset size: all of them.
    assert_eq!(Subset::new(0, 1, SIZE).unwrap().select(&fleet(4)), fleet(4));
}

#[test]
fn subsets_keep_the_backends_as_they_are() {
    let all: Vec<Backend> = fleet(30)
        .into_iter()
        .enumerate()
        .map(|(i, b)| b.with_weight(i as u32).with_ext(i))
        .collect();
    for subset in [
        Subset::new(3, 10, 4).unwrap().select(&all),
        RandomSubset::with_seed(3, 4).unwrap().select(&all),
    ] {
        for b in subset {
            let i = all.iter().position(|a| a == &b).unwrap();
            assert_eq!(b.weight, i as u32);
            assert_eq!(b.ext.get::<usize>(), Some(&i));
        }
    }
}

#[test]
fn deterministic_subsetting_gives_every_backend_the_same_number_of_clients() {
    // The SRE book's example: 300 clients, 300 backends, 10 each: 30 clients per round, 10
    // rounds, so each backend is in exactly one window of each round.
    let all = fleet(300);
    let load = loads(&deterministic(CLIENTS), &all);
    assert_eq!(load.len(), 300);
    assert_eq!(
        (load.iter().min(), load.iter().max()),
        (Some(&10), Some(&10))
    );
}

#[test]
fn random_subsetting_spreads_the_same_clients_much_more_widely() {
    let all = fleet(300);
    let load = loads(&random(CLIENTS, SIZE), &all);
    let mean = load.iter().sum::<usize>() as f64 / load.len() as f64;
    assert_eq!(mean, 10.0, "every client holds 10");
    let (min, max) = (*load.iter().min().unwrap(), *load.iter().max().unwrap());
    // Each backend's load is a sum of 300 independent draws of probability 1/30: about
    // Poisson(10), whose extremes over 300 backends sit near 3 and 19.
    assert!(max as f64 / mean > 1.3, "max {max}");
    assert!((min as f64) < mean * 0.7, "min {min}");
}

#[test]
fn the_remainder_keeps_deterministic_loads_close_to_the_mean() {
    // 300 clients over 291..=309 backends: a round leaves out (or doubles) fewer than 5 backends,
    // a different few each round, so no backend strays far from the mean of 3000 / n.
    for n in 291..=309 {
        let load = loads(&deterministic(CLIENTS), &fleet(n));
        let mean = 3000.0 / n as f64;
        let (min, max) = (*load.iter().min().unwrap(), *load.iter().max().unwrap());
        assert!(
            (max as f64) <= mean + 3.0 && (min as f64) >= mean - 3.0,
            "n = {n}: min {min}, max {max}, mean {mean:.2}"
        );
        assert_eq!(load.iter().sum::<usize>(), 3000, "n = {n}");
    }
}

/// Churn over several trials: each removes (or adds) a different backend.
fn churn_trials<P: SubsetPolicy>(clients: &[P], n: usize, trials: usize) -> [(usize, f64); 2] {
    let all = fleet(n);
    let more = fleet(n + 1);
    let mut remove = (0, 0.0);
    let mut add = (0, 0.0);
    for trial in 0..trials {
        let gone = trial * n / trials;
        let (max, mean) = churn(clients, &all, &without(&all, gone));
        remove = (remove.0.max(max), remove.1 + mean / trials as f64);
        // Add a backend other than the last: a different new address each trial.
        let added = without(&more, n);
        let mut plus = all.clone();
        plus.push(Backend::from(address(n + 1 + trial)));
        let (max, mean) = churn(clients, &added, &plus);
        add = (add.0.max(max), add.1 + mean / trials as f64);
    }
    [remove, add]
}

#[test]
fn one_backend_more_or_less_changes_at_most_two_of_a_deterministic_subset() {
    // While the subset count stays 30 (n from 295 to 304), a change shifts the windows after
    // its position in each round's order by one: those clients exchange one backend (two when
    // their window wraps past the end), those before keep theirs. Where the position falls is
    // uniform, so about half the clients change one.
    for (what, (max, mean)) in
        ["remove", "add"]
            .into_iter()
            .zip(churn_trials(&deterministic(CLIENTS), 300, 8))
    {
        assert!(max <= 2, "{what}: max {max}");
        assert!((0.2..0.8).contains(&mean), "{what}: mean {mean}");
    }
}

#[test]
fn one_backend_more_or_less_changes_at_most_one_of_a_random_subset() {
    // Rendezvous: the other backends keep their hashes, so a client's lowest ten change only if
    // the backend enters or leaves them: at most one, for about 10/300 of the clients.
    for (what, (max, mean)) in
        ["remove", "add"]
            .into_iter()
            .zip(churn_trials(&random(CLIENTS, SIZE), 300, 8))
    {
        assert!(max <= 1, "{what}: max {max}");
        assert!(mean < 0.1, "{what}: mean {mean}");
    }
}

#[test]
fn crossing_a_subset_count_step_regroups_the_deterministic_rounds() {
    // 295 backends of size 10 round to 30 subsets per round, 294 to 29: the documented step
    // where most clients get a new subset.
    let all = fleet(295);
    let (max, mean) = churn(&deterministic(CLIENTS), &all, &without(&all, 100));
    assert_eq!(max, SIZE);
    assert!(mean > SIZE as f64 / 2.0, "mean {mean}");
}
