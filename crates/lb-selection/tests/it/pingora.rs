//! First picks identical to pingora-load-balancing 0.9.1, checked against vectors recorded by
//! running pingora itself (see `vectors/README.md`).

use lb_core::{Backend, Backends, LoadBalancer};
use lb_selection::{Consistent, FnvHash};

/// `(backends, [(key, expected first pick)])` per set of a vector file.
type Case = (Vec<Backend>, Vec<(String, String)>);

fn parse(text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        if let Some(set) = line.strip_prefix("set ") {
            let backends = set
                .split(' ')
                .map(|item| {
                    let (addr, weight) = item.rsplit_once('=').expect("addr=weight");
                    Backend::new_with_weight(addr, weight.parse().expect("weight")).expect(addr)
                })
                .collect();
            cases.push((backends, Vec::new()));
        } else {
            let (key, want) = line.rsplit_once(' ').expect("key and address");
            let key = if key == "\"\"" { "" } else { key };
            cases
                .last_mut()
                .expect("a set line comes first")
                .1
                .push((key.to_owned(), want.to_owned()));
        }
    }
    cases
}

#[test]
fn fnv_hash_first_picks_equal_pingora_fnvhash() {
    let cases = parse(include_str!("vectors/pingora_fnv.txt"));
    assert!(cases.len() >= 30, "the vector file was read");
    let mut checked = 0;
    let mut ipv6_or_unix = 0;
    for (backends, keys) in cases {
        // Through the load balancer, which sorts by address as pingora's BTreeSet does.
        let lb = LoadBalancer::<FnvHash>::from_backends(Backends::fixed(backends.clone()));
        if backends
            .iter()
            .any(|b| b.addr.as_inet().is_none_or(|a| a.is_ipv6()))
        {
            ipv6_or_unix += 1;
        }
        for (key, want) in keys {
            let got = lb.select(key.as_bytes()).expect("a ready backend");
            assert_eq!(got.addr.to_string(), want, "key {key:?} over {backends:?}");
            checked += 1;
        }
    }
    assert!(
        checked >= 900 && ipv6_or_unix >= 5,
        "{checked} keys, {ipv6_or_unix} mixed sets"
    );
}

#[test]
fn consistent_first_picks_equal_pingora_ketama_on_ipv4() {
    let cases = parse(include_str!("vectors/pingora_ketama.txt"));
    assert!(cases.len() >= 30, "the vector file was read");
    let mut checked = 0;
    for (backends, keys) in cases {
        assert!(
            backends
                .iter()
                .all(|b| b.addr.as_inet().is_some_and(|a| a.is_ipv4()))
        );
        let lb = LoadBalancer::<Consistent>::from_backends(Backends::fixed(backends.clone()));
        for (key, want) in keys {
            let got = lb.select(key.as_bytes()).expect("a ready backend");
            assert_eq!(got.addr.to_string(), want, "key {key:?} over {backends:?}");
            checked += 1;
        }
    }
    assert!(checked >= 900, "{checked} keys");
}
