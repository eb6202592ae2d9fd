//! "Hash rings": the same ring as pingora's for IPv4, nginx's bracketed names for IPv6, Unix
//! sockets kept, and an oversized ring as an error.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use pingora_load_balancing as plb;

use super::now;

fn keys() -> impl Iterator<Item = String> {
    (0..5_000).map(|k| format!("/objects/{k}"))
}

#[test]
fn consistent_picks_pingoras_backend_for_ipv4_sets() {
    for n in [1, 2, 7, 25] {
        let addrs: Vec<SocketAddr> = (0..n)
            .map(|i| SocketAddr::from(([10, 1, (i / 250) as u8, (i % 250) as u8 + 1], 8080)))
            .collect();
        let weight = |i: usize| 1 + (i as u32 * 3) % 4;
        // The rings themselves, key for key.
        let theirs = pingora_ketama::Continuum::new(
            &addrs
                .iter()
                .enumerate()
                .map(|(i, a)| pingora_ketama::Bucket::new(*a, weight(i)))
                .collect::<Vec<_>>(),
        );
        let ours = lb_ketama::Continuum::new(
            &addrs
                .iter()
                .enumerate()
                .map(|(i, a)| lb_ketama::Bucket::new(*a, weight(i)))
                .collect::<Vec<_>>(),
        );
        // And through the load balancers.
        let their_lb = plb::LoadBalancer::<plb::selection::Consistent>::from_backends(
            plb::Backends::new(plb::discovery::Static::new(
                addrs
                    .iter()
                    .enumerate()
                    .map(|(i, a)| {
                        plb::Backend::new_with_weight(&a.to_string(), weight(i) as usize).unwrap()
                    })
                    .collect(),
            )),
        );
        now(their_lb.update()).unwrap();
        let our_lb = lb::LoadBalancer::<lb::Consistent>::try_from_iter(
            addrs
                .iter()
                .enumerate()
                .map(|(i, a)| lb::Backend::from(*a).with_weight(weight(i))),
        )
        .unwrap();
        for key in keys() {
            assert_eq!(
                ours.node(key.as_bytes()),
                theirs.node(key.as_bytes()),
                "{key}"
            );
            assert_eq!(
                our_lb.select(key.as_bytes()).unwrap().socket_addr(),
                their_lb
                    .select(key.as_bytes(), 1)
                    .unwrap()
                    .addr
                    .as_inet()
                    .copied(),
                "{key} over {n} backends"
            );
        }
    }
}

#[test]
fn ipv6_rings_differ_because_nginx_hashes_the_brackets() {
    let addrs: Vec<SocketAddr> = (1..=5u16)
        .map(|i| SocketAddr::from(([0xfd00, 0, 0, 0, 0, 0, 0, i], 80)))
        .collect();
    let theirs = pingora_ketama::Continuum::new(
        &addrs
            .iter()
            .map(|a| pingora_ketama::Bucket::new(*a, 1))
            .collect::<Vec<_>>(),
    );
    let ours = lb_ketama::Continuum::new(
        &addrs
            .iter()
            .map(|a| lb_ketama::Bucket::new(*a, 1))
            .collect::<Vec<_>>(),
    );
    let differ = keys()
        .filter(|k| ours.node(k.as_bytes()) != theirs.node(k.as_bytes()))
        .count();
    assert!(differ > 0, "the IPv6 rings agree on every key");
}

#[test]
fn consistent_keeps_unix_socket_backends_that_pingora_drops() {
    let unix = std::os::unix::net::SocketAddr::from_pathname("/run/app.sock").unwrap();
    let mut set: BTreeSet<plb::Backend> = ["10.0.0.1:80", "10.0.0.2:80"]
        .iter()
        .map(|a| plb::Backend::new(a).unwrap())
        .collect();
    set.insert(plb::Backend {
        addr: pingora_core::protocols::l4::socket::SocketAddr::Unix(unix),
        weight: 1,
        ext: Default::default(),
    });
    let theirs = plb::LoadBalancer::<plb::selection::Consistent>::from_backends(
        plb::Backends::new(plb::discovery::Static::new(set)),
    );
    now(theirs.update()).unwrap();
    assert!(keys().all(|k| {
        theirs
            .select(k.as_bytes(), 1)
            .unwrap()
            .addr
            .as_unix()
            .is_none()
    }));

    let ours = lb::LoadBalancer::<lb::Consistent>::try_from_iter([
        "10.0.0.1:80",
        "10.0.0.2:80",
        "unix:/run/app.sock",
    ])
    .unwrap();
    assert!(keys().any(|k| matches!(
        ours.select(k.as_bytes()).unwrap().addr,
        lb::Address::Unix(_)
    )));
}

#[test]
fn an_oversized_ring_is_an_error_naming_the_heaviest_backend() {
    let buckets = [
        lb_ketama::Bucket::new(SocketAddr::from(([10, 0, 0, 1], 80)), 1),
        lb_ketama::Bucket::new(SocketAddr::from(([10, 0, 0, 2], 80)), u32::MAX),
    ];
    let err = lb_ketama::Continuum::try_new(&buckets).unwrap_err();
    assert!(err.to_string().contains("10.0.0.2"), "{err}");
    let _ = lb_ketama::Continuum::builder().single_threaded();
}
