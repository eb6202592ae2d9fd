//! What both policies share: the backends made distinct by address, and orders of them by the
//! hash of each address.
//!
//! A backend's place in an order depends only on its own address and the order's seed, so
//! adding or removing one backend moves no other backend relative to the rest: that is what
//! keeps the subsets' churn small.

use std::fmt::Write;

use lb_core::{Address, Backend};
use twox_hash::XxHash64;

/// The backends of `backends` sorted by address, one per address: the first occurrence of an
/// address wins (as it does in a load balancer's set), so the answer does not depend on the
/// input's order unless the input repeats an address with different attributes.
pub(crate) fn distinct(backends: &[Backend]) -> Vec<&Backend> {
    let mut distinct: Vec<&Backend> = backends.iter().collect();
    // A stable sort keeps equal addresses in input order, so `dedup_by` keeps the first.
    distinct.sort_by(|a, b| a.addr.cmp(&b.addr));
    distinct.dedup_by(|later, earlier| later.addr == earlier.addr);
    distinct
}

/// `backends` in the order of xxHash64 (seeded with `seed`) of each address's text form
/// (`10.0.0.1:80`, `[::1]:80`, `unix:/path`), lowest first; equal hashes are ordered by address,
/// so the order is total and the same on every machine.
pub(crate) fn hash_order<'a>(backends: &[&'a Backend], seed: u64) -> Vec<&'a Backend> {
    let mut text = String::new();
    let mut keyed: Vec<(u64, &Backend)> = backends
        .iter()
        .map(|backend| (address_hash(&mut text, seed, &backend.addr), *backend))
        .collect();
    keyed.sort_unstable_by(|(ha, a), (hb, b)| ha.cmp(hb).then_with(|| a.addr.cmp(&b.addr)));
    keyed.into_iter().map(|(_, backend)| backend).collect()
}

/// xxHash64 of `addr`'s text form with `seed`; `text` is a buffer reused between calls.
fn address_hash(text: &mut String, seed: u64, addr: &Address) -> u64 {
    text.clear();
    // Formatting into a `String` cannot fail: `Address`'s `Display` only writes.
    let _ = write!(text, "{addr}");
    XxHash64::oneshot(seed, text.as_bytes())
}

/// `chosen` cloned and sorted by address: the answer handed to the load balancer.
pub(crate) fn owned_by_address<'a>(chosen: impl IntoIterator<Item = &'a Backend>) -> Vec<Backend> {
    let mut out: Vec<Backend> = chosen.into_iter().cloned().collect();
    out.sort_unstable_by(|a, b| a.addr.cmp(&b.addr));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(addr: &str, weight: u32) -> Backend {
        Backend::new_with_weight(addr, weight).unwrap()
    }

    #[test]
    fn distinct_keeps_the_first_of_each_address_in_address_order() {
        let input = [
            backend("10.0.0.2:80", 1),
            backend("10.0.0.1:80", 5),
            backend("10.0.0.2:80", 9),
        ];
        let got = distinct(&input);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].addr.to_string(), "10.0.0.1:80");
        assert_eq!(
            (got[1].addr.to_string(), got[1].weight),
            ("10.0.0.2:80".into(), 1)
        );
    }

    #[test]
    fn hash_orders_depend_on_the_seed_and_not_on_the_input_order() {
        let input: Vec<Backend> = (1..=50)
            .map(|i| backend(&format!("10.0.0.{i}:80"), 1))
            .collect();
        let forward: Vec<&Backend> = input.iter().collect();
        let backward: Vec<&Backend> = input.iter().rev().collect();
        let a = hash_order(&forward, 7);
        assert_eq!(a, hash_order(&backward, 7));
        assert_ne!(a, hash_order(&forward, 8), "another seed, another order");
        assert_ne!(a, forward, "not the address order");
    }

    #[test]
    fn the_hash_is_xxhash64_of_the_address_text() {
        let mut text = String::new();
        let addr: Address = "[::1]:8080".parse().unwrap();
        assert_eq!(
            address_hash(&mut text, 3, &addr),
            XxHash64::oneshot(3, b"[::1]:8080")
        );
        let unix = Address::unix("/run/a.sock").unwrap();
        assert_eq!(
            address_hash(&mut text, 0, &unix),
            XxHash64::oneshot(0, b"unix:/run/a.sock")
        );
    }
}
