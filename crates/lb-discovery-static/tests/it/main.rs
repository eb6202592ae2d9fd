//! Integration tests of the static discovery source.

use std::sync::Arc;
use std::time::Duration;

use lb_core::{
    AddressError, Backend, BackendIter, BackendSelection, Backends, BoxError, LoadBalancer,
    ServiceDiscovery,
};
use lb_discovery_static::Static;

mod subset;
mod subset_discovery;

/// Candidates in index order: enough to see which backends a load balancer holds.
struct InOrder(usize);
struct InOrderIter(std::ops::Range<usize>);
impl BackendIter for InOrderIter {
    fn next(&mut self) -> Option<usize> {
        self.0.next()
    }
}
impl BackendSelection for InOrder {
    type Config = ();
    type Iter<'a> = InOrderIter;
    fn build(backends: &[Backend], _: &()) -> Result<Self, BoxError> {
        Ok(InOrder(backends.len()))
    }
    fn iter(&self, _key: &[u8]) -> InOrderIter {
        InOrderIter(0..self.0)
    }
}

fn addrs(list: &[Backend]) -> Vec<String> {
    list.iter().map(|b| b.addr.to_string()).collect()
}

#[test]
fn edits_replace_by_address_and_report_what_changed() {
    let list = Static::try_from_iter(["10.0.0.2:80", "10.0.0.1:80"]).unwrap();
    assert_eq!(addrs(&list.get()), ["10.0.0.1:80", "10.0.0.2:80"]);
    assert!(!list.add(Backend::new_with_weight("10.0.0.1:80", 7).unwrap()));
    assert_eq!(list.get()[0].weight, 7, "re-adding replaces the attributes");
    assert!(list.add(Backend::new("unix:/run/a.sock").unwrap()));
    assert!(list.remove(&Backend::new("10.0.0.2:80").unwrap()));
    assert!(!list.remove(&Backend::new("10.0.0.2:80").unwrap()));
    assert_eq!(addrs(&list.get()), ["10.0.0.1:80", "unix:/run/a.sock"]);
    list.set([Backend::new("[::1]:1").unwrap()]);
    assert_eq!(addrs(&list.get()), ["[::1]:1"]);
    assert_eq!(list.len(), 1);
}

#[test]
fn bad_addresses_are_typed_errors_naming_the_input() {
    let err = Static::try_from_iter(["10.0.0.1:80", "10.0.0.1"]).unwrap_err();
    assert_eq!(
        err,
        AddressError::MissingPort {
            input: "10.0.0.1".into()
        }
    );
    assert!(err.to_string().contains("10.0.0.1"));
}

#[test]
fn concurrent_adds_and_removes_lose_no_update() {
    let list = Static::new([]);
    let threads: Vec<_> = (0..8u16)
        .map(|t| {
            let list = list.clone();
            std::thread::spawn(move || {
                for i in 0..500u16 {
                    let b = Backend::from(std::net::SocketAddr::from(([10, 0, t as u8, 1], i + 1)));
                    assert!(list.add(b.clone()));
                    if i % 2 == 0 {
                        assert!(list.remove(&b));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let got = list.get();
    assert_eq!(got.len(), 8 * 250);
    assert!(got.iter().all(|b| b.addr.port().unwrap() % 2 == 0));
}

#[tokio::test(start_paused = true)]
async fn each_edit_is_pushed_to_a_running_load_balancer_without_polling() {
    let list = Static::try_from_iter(["10.0.0.5:80"]).unwrap();
    let lb = Arc::new(LoadBalancer::<InOrder>::from_backends(Backends::new(
        Box::new(list.clone()),
    )));
    assert_eq!(lb.update_frequency, None, "no polling");
    let service = lb.spawn();
    service.ready().await;
    assert_eq!(addrs(&lb.backends().get_backend()), ["10.0.0.5:80"]);

    list.add(Backend::new("10.0.0.1:80").unwrap());
    wait_for(&lb, &["10.0.0.1:80", "10.0.0.5:80"]).await;
    list.remove_addr(&"10.0.0.5:80".parse().unwrap());
    wait_for(&lb, &["10.0.0.1:80"]).await;
    assert_eq!(lb.select(b"").unwrap().addr.to_string(), "10.0.0.1:80");
    service.shutdown().await;
}

/// Waits (in paused time, so instantly) until the load balancer holds exactly `want`.
async fn wait_for(lb: &LoadBalancer<InOrder>, want: &[&str]) {
    let reached = tokio::time::timeout(Duration::from_secs(5), async {
        while addrs(&lb.backends().get_backend()) != want {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "load balancer holds {:?}, want {want:?}",
        addrs(&lb.backends().get_backend())
    );
}

#[tokio::test]
async fn discover_returns_the_current_list_and_subscriptions_fire_on_change() {
    let list = Static::new([]);
    let mut sub = list.subscribe().unwrap();
    assert!(list.discover().await.unwrap().backends.is_empty());
    list.add(Backend::new("10.0.0.1:80").unwrap());
    assert!(sub.changed().await);
    assert_eq!(
        addrs(&list.discover().await.unwrap().backends),
        ["10.0.0.1:80"]
    );
}

#[tokio::test]
async fn edits_reach_the_load_balancer_as_deltas_and_an_unchanged_list_publishes_nothing() {
    let all: Vec<Backend> = (0..10_000u32)
        .map(|i| {
            let [_, a, b, c] = i.to_be_bytes();
            Backend::from(std::net::SocketAddr::from(([10, a, b, c], 80)))
        })
        .collect();
    let list = Static::new(all.clone());
    let lb = LoadBalancer::<InOrder>::from_backends(Backends::new(Box::new(list.clone())));
    lb.update().await.unwrap();
    let v = list.version();

    // One edit: the source answers it alone.
    list.add(Backend::new("10.200.0.1:80").unwrap().with_weight(3));
    match list.discover_changes(Some(v)).await.unwrap() {
        lb_core::Answer::Delta { delta, version } => {
            assert_eq!(addrs(&delta.upsert), ["10.200.0.1:80"]);
            assert!(delta.remove.is_empty());
            assert_eq!(version, list.version());
        }
        other => panic!("not a delta: {other:?}"),
    }
    lb.update().await.unwrap();
    let set = lb.backends().get_backend();
    assert_eq!(set.len(), 10_001);
    assert_eq!(set.backends().last().unwrap().weight, 3);

    // The same list set again: no change, no version, nothing published.
    let published = lb.stats().published;
    let before = list.version();
    list.set(list.get());
    assert_eq!(list.version(), before);
    lb.update().await.unwrap();
    assert_eq!(lb.stats().published, published);

    // A replacement that drops one and reweights one: the difference only.
    let mut next = list.get();
    next.remove(0);
    next[5].weight = 9;
    list.set(next);
    match list.discover_changes(Some(before)).await.unwrap() {
        lb_core::Answer::Delta { delta, .. } => {
            assert_eq!(delta.remove.len(), 1);
            assert_eq!(delta.upsert.len(), 1);
            assert_eq!(delta.upsert[0].weight, 9);
        }
        other => panic!("not a delta: {other:?}"),
    }
    lb.update().await.unwrap();
    assert_eq!(lb.backends().get_backend().len(), 10_000);
    assert!(matches!(
        list.discover_changes(None).await.unwrap(),
        lb_core::Answer::Full { .. }
    ));
}
