//! "Backends": the `Backend` type, identity, parsing, `try_from_iter`, the backend view and
//! enablement.

use std::collections::BTreeSet;
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use lb::Enablement;
use pingora_load_balancing as plb;

#[test]
fn weight_is_a_u32_and_addr_an_address() {
    let theirs = plb::Backend::new_with_weight("10.0.0.1:80", 3).unwrap();
    let ours = lb::Backend::new_with_weight("10.0.0.1:80", 3).unwrap();
    let _: usize = theirs.weight;
    let _: u32 = ours.weight;
    assert!(matches!(
        theirs.addr,
        pingora_core::protocols::l4::socket::SocketAddr::Inet(_)
    ));
    assert_eq!(ours.addr, lb::Address::Inet("10.0.0.1:80".parse().unwrap()));
    // Unix sockets too, as pingora's `SocketAddr::Unix` (which pingora's `Backend::new` cannot
    // parse).
    assert!(matches!(
        lb::Backend::new("unix:/run/app.sock").unwrap().addr,
        lb::Address::Unix(_)
    ));
    assert!(plb::Backend::new("unix:/run/app.sock").is_err());
}

#[test]
fn backend_new_parses_what_pingora_parses_and_names_bad_input() {
    for input in [
        "10.0.0.1:80",
        "[::1]:8080",
        "[fe80::1]:443",
        "255.255.255.255:65535",
    ] {
        let theirs = plb::Backend::new(input).unwrap();
        let ours = lb::Backend::new(input).unwrap();
        assert_eq!(
            theirs.addr.as_inet().copied(),
            ours.socket_addr(),
            "{input}"
        );
    }
    for input in ["10.0.0.1", "example.com:80", "", "10.0.0.1:http"] {
        assert!(
            plb::Backend::new(input).is_err(),
            "pingora parsed {input:?}"
        );
        let err = lb::Backend::new(input).expect_err(input);
        if !input.is_empty() {
            assert!(
                err.to_string().contains(input),
                "`{err}` does not name {input:?}"
            );
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Pool(u32);

#[test]
fn ext_has_the_api_of_http_extensions() {
    let mut theirs = plb::Backend::new("10.0.0.1:80").unwrap().ext;
    let mut ours = lb::Backend::new("10.0.0.1:80").unwrap().ext;
    let _: &mut http::Extensions = &mut theirs;
    assert_eq!(theirs.insert(Pool(1)), None);
    assert_eq!(ours.insert(Pool(1)), None);
    assert_eq!(theirs.insert(Pool(2)), Some(Pool(1)));
    assert_eq!(ours.insert(Pool(2)), Some(Pool(1)));
    theirs.get_mut::<Pool>().unwrap().0 += 1;
    ours.get_mut::<Pool>().unwrap().0 += 1;
    assert_eq!(theirs.get::<Pool>(), ours.get::<Pool>());
    assert_eq!(
        (theirs.len(), theirs.is_empty()),
        (ours.len(), ours.is_empty())
    );
    assert_eq!(theirs.remove::<Pool>(), ours.remove::<Pool>());
    theirs.clear();
    ours.clear();
    assert!(theirs.is_empty() && ours.is_empty());
}

#[test]
fn identity_is_the_address_where_pingora_counts_the_weight() {
    let (a1, a2) = (
        plb::Backend::new_with_weight("10.0.0.1:80", 1).unwrap(),
        plb::Backend::new_with_weight("10.0.0.1:80", 2).unwrap(),
    );
    assert_ne!(a1, a2);
    let (b1, b2) = (
        lb::Backend::new_with_weight("10.0.0.1:80", 1).unwrap(),
        lb::Backend::new_with_weight("10.0.0.1:80", 2).unwrap(),
    );
    assert_eq!(b1, b2);
    let state = RandomState::new();
    assert_eq!(state.hash_one(&b1), state.hash_one(&b2));
    // pingora's hash covers the weight too (its health and enablement maps are keyed by it).
    assert_ne!(state.hash_one(&a1), state.hash_one(&a2));
}

/// A pingora discovery source whose set the test replaces.
struct Swappable(Arc<Mutex<BTreeSet<plb::Backend>>>);

#[async_trait::async_trait]
impl plb::discovery::ServiceDiscovery for Swappable {
    async fn discover(
        &self,
    ) -> pingora_core::Result<(BTreeSet<plb::Backend>, std::collections::HashMap<u64, bool>)> {
        let set = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Ok((set, std::collections::HashMap::new()))
    }
}

/// A pingora probe that fails every backend.
struct Fails;

#[async_trait::async_trait]
impl plb::health_check::HealthCheck for Fails {
    async fn check(&self, _: &plb::Backend) -> pingora_core::Result<()> {
        Err(pingora_core::Error::new(
            pingora_core::ErrorType::ConnectRefused,
        ))
    }

    fn health_threshold(&self, _: bool) -> usize {
        1
    }
}

#[tokio::test]
async fn a_weight_change_keeps_health_in_lb_and_resets_it_in_pingora() {
    let addr = "10.0.0.1:80";
    let set = Arc::new(Mutex::new(BTreeSet::from([plb::Backend::new_with_weight(
        addr, 1,
    )
    .unwrap()])));
    let mut backends = plb::Backends::new(Box::new(Swappable(Arc::clone(&set))));
    backends.set_health_check(Box::new(Fails));
    backends.update(|_| {}).await.unwrap();
    backends.run_health_check(false).await;
    assert!(!backends.ready(&plb::Backend::new_with_weight(addr, 1).unwrap()));
    *set.lock().unwrap() = BTreeSet::from([plb::Backend::new_with_weight(addr, 2).unwrap()]);
    backends.update(|_| {}).await.unwrap();
    // A new backend to pingora: healthy again, unprobed.
    assert!(backends.ready(&plb::Backend::new_with_weight(addr, 2).unwrap()));

    let source = lb::discovery::Static::new([lb::Backend::new_with_weight(addr, 1).unwrap()]);
    let ours = lb::LoadBalancer::<lb::RoundRobin>::from_backends(lb::Backends::new(Box::new(
        source.clone(),
    )));
    ours.update().await.unwrap();
    ours.backends()
        .set_health(&lb::Backend::new(addr).unwrap(), false);
    source.set([lb::Backend::new_with_weight(addr, 2).unwrap()]);
    ours.update().await.unwrap();
    let current = ours.backends().get_backend();
    assert_eq!(current[0].weight, 2);
    assert!(
        !current.states()[0].is_healthy(),
        "the weight change reset health"
    );
}

#[test]
fn try_from_iter_parses_and_never_resolves_names() {
    // pingora resolves host names with a blocking lookup (here from /etc/hosts).
    assert!(
        plb::LoadBalancer::<plb::selection::RoundRobin>::try_from_iter(["localhost:80"]).is_ok()
    );
    let err = lb::LoadBalancer::<lb::RoundRobin>::try_from_iter(["localhost:80"]).unwrap_err();
    assert!(err.to_string().contains("localhost:80"), "{err}");
    // Strings, socket addresses, addresses and backends.
    let addr: SocketAddr = "10.0.0.1:80".parse().unwrap();
    assert!(lb::LoadBalancer::<lb::RoundRobin>::try_from_iter(["10.0.0.1:80"]).is_ok());
    assert!(lb::LoadBalancer::<lb::RoundRobin>::try_from_iter([addr]).is_ok());
    assert!(lb::LoadBalancer::<lb::RoundRobin>::try_from_iter([lb::Address::Inet(addr)]).is_ok());
    assert!(lb::LoadBalancer::<lb::RoundRobin>::try_from_iter([lb::Backend::from(addr)]).is_ok());
}

#[test]
fn from_backends_with_config_takes_the_config_itself() {
    let theirs = plb::LoadBalancer::<plb::selection::Consistent>::from_backends_with_config(
        plb::Backends::new(plb::discovery::Static::new(BTreeSet::new())),
        Some(plb::selection::consistent::KetamaConfig {
            point_multiple: Some(40),
        }),
    );
    let ours = lb::LoadBalancer::<lb::Consistent>::from_backends_with_config(
        lb::Backends::fixed([]),
        lb::KetamaConfig {
            point_multiple: Some(40),
        },
    );
    assert_eq!(ours.config().point_multiple, Some(40));
    drop(theirs);
}

#[test]
fn get_backend_is_sorted_by_address_as_pingoras_set_is() {
    let inputs = [
        "[::1]:80",
        "10.0.0.2:80",
        "10.0.0.1:8080",
        "10.0.0.1:80",
        "[fe80::1]:80",
        "192.168.0.1:1",
        "9.255.255.255:443",
    ];
    let theirs = plb::LoadBalancer::<plb::selection::RoundRobin>::try_from_iter(inputs).unwrap();
    let theirs: Arc<BTreeSet<plb::Backend>> = theirs.backends().get_backend();
    let ours = lb::LoadBalancer::<lb::RoundRobin>::try_from_iter(inputs).unwrap();
    let ours: Arc<lb::BackendSet> = ours.backends().get_backend();
    let their_order: Vec<_> = theirs.iter().map(|b| b.addr.as_inet().copied()).collect();
    let our_order: Vec<_> = ours.iter().map(lb::Backend::socket_addr).collect();
    assert_eq!(our_order, their_order);
}

#[test]
fn set_enable_says_whether_the_backend_is_in_the_set_and_draining_exists() {
    let theirs =
        plb::LoadBalancer::<plb::selection::RoundRobin>::try_from_iter(["10.0.0.1:80"]).unwrap();
    let () = theirs
        .backends()
        .set_enable(&plb::Backend::new("10.0.0.1:80").unwrap(), false);

    let ours =
        lb::LoadBalancer::<lb::RoundRobin>::try_from_iter(["10.0.0.1:80", "10.0.0.2:80"]).unwrap();
    let first = lb::Backend::new("10.0.0.1:80").unwrap();
    assert!(ours.backends().set_enable(&first, false));
    assert!(
        !ours
            .backends()
            .set_enable(&lb::Backend::new("10.9.9.9:80").unwrap(), false)
    );
    assert!(ours.backends().set_enablement(&first, Enablement::Draining));
    assert!((0..10).all(|_| ours.select(b"").unwrap().addr != first.addr));
}
