//! "Discovery": the trait's answer, pushing sources, `Static` as a handle, failed discoveries.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use lb::{Discovered, Enablement};
use pingora_load_balancing as plb;

use crate::support::within;

/// A source that answers once and then fails, in each crate's shape.
#[derive(Default)]
struct OnceThenFail(AtomicU32);

impl OnceThenFail {
    fn first(&self) -> bool {
        self.0.fetch_add(1, Ordering::SeqCst) == 0
    }
}

#[async_trait::async_trait]
impl plb::discovery::ServiceDiscovery for OnceThenFail {
    async fn discover(&self) -> pingora_core::Result<(BTreeSet<plb::Backend>, HashMap<u64, bool>)> {
        if self.first() {
            let set = BTreeSet::from([plb::Backend::new("10.0.0.1:80").unwrap()]);
            Ok((set, HashMap::new()))
        } else {
            Err(pingora_core::Error::new(
                pingora_core::ErrorType::ConnectRefused,
            ))
        }
    }
}

#[async_trait::async_trait]
impl lb::ServiceDiscovery for OnceThenFail {
    async fn discover(&self) -> Result<Discovered, lb::BoxError> {
        if self.first() {
            let draining: lb::Address = "10.0.0.2:80".parse()?;
            Ok(Discovered::new([
                lb::Backend::new("10.0.0.1:80")?,
                lb::Backend::from_address(draining.clone(), 1),
            ])
            .with_enablement(draining, Enablement::Draining))
        } else {
            Err("the source is down".into())
        }
    }
}

#[tokio::test]
async fn a_failed_discovery_keeps_the_last_good_set_in_both_and_lb_counts_it() {
    let theirs = plb::LoadBalancer::<plb::selection::RoundRobin>::from_backends(
        plb::Backends::new(Box::new(OnceThenFail::default())),
    );
    theirs.update().await.unwrap();
    assert!(theirs.update().await.is_err());
    assert_eq!(theirs.backends().get_backend().len(), 1);
    assert!(theirs.select(b"", 256).is_some());

    let ours = lb::LoadBalancer::<lb::RoundRobin>::from_backends(lb::Backends::new(Box::new(
        OnceThenFail::default(),
    )));
    ours.update().await.unwrap();
    // The enablement map keys by address: the draining backend is in the set, never picked.
    let set = ours.backends().get_backend();
    assert_eq!(set.len(), 2);
    assert_eq!(set.states()[1].enablement(), Enablement::Draining);
    assert!(ours.update().await.is_err());
    assert_eq!(ours.backends().get_backend().len(), 2);
    assert!((0..10).all(|_| ours.select(b"").unwrap().addr.to_string() == "10.0.0.1:80"));
    let stats = ours.stats();
    assert_eq!(stats.discovery_errors, 1);
    assert!(stats.last_error.unwrap().contains("the source is down"));
}

#[tokio::test(start_paused = true)]
async fn static_is_a_cloneable_handle_that_pushes_its_changes() {
    // pingora: a boxed source built from a set.
    let _: Box<plb::discovery::Static> = plb::discovery::Static::new(BTreeSet::new());

    let source = lb::discovery::Static::new([lb::Backend::new("10.0.0.1:80").unwrap()]);
    let handle = source.clone();
    let lb = Arc::new(lb::LoadBalancer::<lb::RoundRobin>::from_backends(
        lb::Backends::new(Box::new(source)),
    ));
    assert_eq!(lb.update_frequency, None, "no polling");
    let mut generations = lb.generations();
    let service = lb.spawn();
    service.ready().await;
    let first = within("the first set", generations.next()).await.unwrap();
    assert_eq!(first.len(), 1);
    handle.add(lb::Backend::new("10.0.0.2:80").unwrap());
    let second = within("the pushed set", generations.next()).await.unwrap();
    assert_eq!(second.len(), 2);
    service.shutdown().await;
}
