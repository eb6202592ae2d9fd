//! The table of names at the top of the document: each pingora name and the lb name that
//! replaces it, resolved in both crates (a rename in either fails to compile).

use std::any::TypeId;

use pingora_load_balancing as plb;

// The kit's building blocks, public.
#[allow(unused_imports)]
use lb::selection::kit::{AliasTable as _, Candidates as _, Draw as _, Layout as _};

/// Whether two types are the same type.
fn same<A: 'static, B: 'static>() -> bool {
    TypeId::of::<A>() == TypeId::of::<B>()
}

#[test]
fn load_balancer_and_group_keep_their_names() {
    let _: Option<plb::LoadBalancer<plb::selection::RoundRobin>> = None;
    let _: Option<plb::LoadBalancerGroup<plb::selection::RoundRobin>> = None;
    // `lb::LoadBalancer` is lb-core's, and a group is the same type built with several
    // configurations.
    assert!(same::<
        lb::LoadBalancer<lb::RoundRobin>,
        lb::core::LoadBalancer<lb::RoundRobin>,
    >());
    assert!(same::<
        lb::LoadBalancerGroup<lb::RoundRobin>,
        lb::LoadBalancer<lb::RoundRobin>,
    >());
    let group = lb::LoadBalancerGroup::<lb::KetamaHashing>::from_backends_with_configs(
        lb::Backends::fixed([lb::Backend::new("10.0.0.1:80").unwrap()]),
        [
            lb::KetamaConfig::default(),
            lb::KetamaConfig {
                point_multiple: Some(40),
            },
        ],
    );
    assert_eq!(group.selector_count(), 2);
}

#[test]
fn backends_discovery_and_health_names() {
    let _: Option<(plb::Backend, plb::Backends, plb::BackendView)> = None;
    let _: Option<(lb::Backend, lb::Backends)> = None;
    let _: Option<Box<dyn plb::discovery::ServiceDiscovery>> = None;
    let _: Option<plb::discovery::Static> = None;
    let _: Option<Box<dyn lb::ServiceDiscovery>> = None;
    let _: Option<Box<dyn lb::discovery::Discovery>> = None;
    let _: Option<lb::discovery::Static> = None;
    let _: Option<Box<dyn plb::health_check::HealthCheck>> = None;
    let _: Option<(
        plb::health_check::TcpHealthCheck,
        plb::health_check::HttpHealthCheck,
    )> = None;
    let _: Option<Box<dyn lb::HealthCheck>> = None;
    let _: Option<(
        lb::health::TcpHealthCheck,
        lb::health::HttpHealthCheck,
        lb::health::GrpcHealthCheck,
    )> = None;
    let _: Option<(plb::HealthRegistry, plb::HealthCheckService)> = None;
    // The registry's `spawn` is the service.
    let _ = lb::HealthRegistry::spawn;
}

#[test]
#[allow(deprecated)]
fn strategy_names() {
    use plb::selection as p;
    let _: Option<(p::RoundRobin, p::Random, p::FNVHash, p::FVNHash)> = None;
    let _: Option<(p::Consistent, p::consistent::KetamaHashing)> = None;
    let _: Option<(
        lb::RoundRobin,
        lb::Random,
        lb::FnvHash,
        lb::Consistent,
        lb::KetamaHashing,
    )> = None;
    // The pingora spellings stay, deprecated.
    assert!(same::<lb::selection::FNVHash, lb::FnvHash>());
    assert!(same::<lb::selection::FVNHash, lb::FnvHash>());
    // Least request has no pingora counterpart.
    let _: Option<lb::LeastRequest> = None;
    // The kit and the contract check.
    let _ = lb::selection::testing::check_contract::<lb::RoundRobin>;
}

#[test]
fn selection_traits_and_ketama_names() {
    fn pingora_strategy<S: plb::selection::BackendSelection>() {}
    fn lb_strategy<S: lb::BackendSelection>() {}
    pingora_strategy::<plb::selection::RoundRobin>();
    lb_strategy::<lb::RoundRobin>();
    let _: Option<Box<dyn plb::selection::BackendIter>> = None;
    let _: Option<Box<dyn lb::BackendIter>> = None;
    let _: Option<(pingora_ketama::Bucket, pingora_ketama::Continuum)> = None;
    let _: Option<(lb_ketama::Bucket, lb_ketama::Continuum)> = None;
}
