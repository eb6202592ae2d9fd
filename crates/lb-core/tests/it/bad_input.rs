//! Bad and extreme inputs: typed errors, documented behavior, no panic.

use std::net::{Ipv4Addr, SocketAddr};

use lb_core::{AddressError, Backend, Backends, LoadBalancer, LoadBalancerError, UpdateError};

use crate::support::{Limited, Rotate};

#[test]
fn unparsable_addresses_are_typed_errors_naming_the_input() {
    for (input, want) in [
        (
            "10.0.0.1",
            AddressError::MissingPort {
                input: "10.0.0.1".into(),
            },
        ),
        (
            "host.example:80",
            AddressError::Invalid {
                input: "host.example:80".into(),
            },
        ),
        (
            "10.0.0.1:0",
            AddressError::PortZero {
                input: "10.0.0.1:0".into(),
            },
        ),
        ("", AddressError::Empty),
        ("unix:", AddressError::UnixPathEmpty),
    ] {
        match LoadBalancer::<Rotate>::try_from_iter(["10.0.0.2:80", input]) {
            Err(LoadBalancerError::InvalidBackend(e)) => assert_eq!(e, want, "{input:?}"),
            other => panic!("{input:?}: {other:?}"),
        }
    }
}

#[test]
fn weight_zero_and_the_maximum_weight_are_accepted() {
    let lb = LoadBalancer::<Rotate>::try_from_iter([
        Backend::new_with_weight("10.0.0.1:1", 0).unwrap(),
        Backend::new_with_weight("10.0.0.2:1", u32::MAX).unwrap(),
    ])
    .unwrap();
    let set = lb.backends().get_backend();
    assert_eq!(set[0].weight, 0);
    assert_eq!(set[1].weight, u32::MAX);
    assert!(lb.select(b"k").is_some());
}

#[test]
fn an_empty_set_selects_nothing() {
    let lb = LoadBalancer::<Rotate>::try_from_iter(Vec::<&str>::new()).unwrap();
    assert!(lb.select(b"").is_none());
    assert!(lb.select_with(b"", usize::MAX, |_, _| true).is_none());
    assert!(lb.backends().get_backend().is_empty());
}

#[test]
fn a_hundred_thousand_backends_work() {
    let backends: Vec<Backend> = (0..100_000u32)
        .map(|i| Backend::from(SocketAddr::from((Ipv4Addr::from(0x0a00_0000 + i), 80))))
        .collect();
    let lb = LoadBalancer::<Rotate>::try_from_iter(backends.clone()).unwrap();
    lb.set_panic_threshold(0); // all but one down: the point is finding that one
    assert_eq!(lb.backends().get_backend().len(), 100_000);
    // Every backend down but the last one in rotation order: select still finds it.
    for b in &backends[..99_999] {
        lb.backends().set_health(b, false);
    }
    assert_eq!(lb.select(b"").unwrap().addr.to_string(), "10.1.134.159:80");
    lb.apply(backends[50_000..].to_vec()).unwrap();
    assert_eq!(lb.backends().get_backend().len(), 50_000);
    assert!(
        !lb.backends().ready(&backends[50_000]),
        "health carried over"
    );
}

#[test]
fn a_failing_build_keeps_the_last_good_set_and_says_why() {
    let lb = LoadBalancer::<Limited>::try_from_iter(["10.0.0.1:1"]).unwrap();
    let too_many: Vec<Backend> = (1..=4u16)
        .map(|p| Backend::from(SocketAddr::from(([10, 0, 0, 2], p))))
        .collect();
    match lb.apply(too_many.clone()) {
        Err(UpdateError::Build(e)) => assert!(e.to_string().contains("4 backends")),
        other => panic!("{other:?}"),
    }
    assert_eq!(lb.select(b"").unwrap().addr.to_string(), "10.0.0.1:1");
    assert_eq!(lb.stats().build_errors, 1);
    assert!(lb.stats().last_error.unwrap().contains("4 backends"));
    match LoadBalancer::<Limited>::try_from_iter(too_many) {
        Err(LoadBalancerError::Build(e)) => assert!(e.to_string().contains("more than 3")),
        other => panic!("{other:?}"),
    }
    // from_backends cannot fail: it selects nothing until an update succeeds.
    let lb = LoadBalancer::<Limited>::from_backends(Backends::fixed(
        (1..=5u16).map(|p| Backend::from(SocketAddr::from(([10, 0, 0, 3], p)))),
    ));
    assert!(lb.select(b"").is_none());
    lb.apply(vec![Backend::new("10.0.0.9:9").unwrap()]).unwrap();
    assert!(lb.select(b"").is_some());
}
