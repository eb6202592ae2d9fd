//! The `Discover` adapter: its inserts and removes follow discovery and health.

use std::sync::Arc;

use futures_util::StreamExt;
use lb_core::{Address, Backend, Backends, LoadBalancer};
use lb_discovery_static::Static;
use lb_selection::RoundRobin;
use tower::discover::Change;

use crate::support::within;

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

/// The next change, as `("+", addr)` or `("-", addr)`.
async fn next<S>(stream: &mut S) -> (&'static str, String)
where
    S: futures_util::Stream<Item = Result<Change<Address, Backend>, std::convert::Infallible>>
        + Unpin,
{
    match within("a change", stream.next()).await {
        Some(Ok(Change::Insert(addr, backend))) => {
            assert_eq!(addr, backend.addr);
            ("+", addr.to_string())
        }
        Some(Ok(Change::Remove(addr))) => ("-", addr.to_string()),
        None => panic!("the stream ended"),
    }
}

#[tokio::test]
async fn inserts_and_removes_follow_discovery_and_health() {
    let list = Static::try_from_iter(["127.0.0.1:1", "127.0.0.1:2"]).unwrap();
    let lb = Arc::new(LoadBalancer::<RoundRobin>::from_backends(Backends::new(
        Box::new(list.clone()),
    )));
    lb.update().await.unwrap();
    let mut changes = lb_tower::discover(&lb);
    assert_eq!(next(&mut changes).await, ("+", "127.0.0.1:1".into()));
    assert_eq!(next(&mut changes).await, ("+", "127.0.0.1:2".into()));
    assert!(
        futures_util::poll!(changes.next()).is_pending(),
        "nothing else yet"
    );

    // Discovery.
    list.add(Backend::new("127.0.0.1:3").unwrap());
    lb.update().await.unwrap();
    assert_eq!(next(&mut changes).await, ("+", "127.0.0.1:3".into()));
    list.remove_addr(&addr("127.0.0.1:2"));
    lb.update().await.unwrap();
    assert_eq!(next(&mut changes).await, ("-", "127.0.0.1:2".into()));

    // Health flips.
    let one = Backend::new("127.0.0.1:1").unwrap();
    lb.backends().set_health(&one, false);
    assert_eq!(next(&mut changes).await, ("-", "127.0.0.1:1".into()));
    lb.backends().set_health(&one, true);
    assert_eq!(next(&mut changes).await, ("+", "127.0.0.1:1".into()));

    // A disabled backend leaves at once (no set is published), and comes back when enabled.
    let three = Backend::new("127.0.0.1:3").unwrap();
    let generation = lb.backends().get_backend().generation();
    lb.backends().set_enable(&three, false);
    assert_eq!(next(&mut changes).await, ("-", "127.0.0.1:3".into()));
    lb.backends().set_enable(&three, true);
    assert_eq!(next(&mut changes).await, ("+", "127.0.0.1:3".into()));
    // An update that finds discovery unchanged publishes nothing and changes nothing.
    lb.update().await.unwrap();
    assert_eq!(lb.backends().get_backend().generation(), generation);
    assert!(futures_util::poll!(changes.next()).is_pending());
    lb.backends().set_enable(&three, false);
    assert_eq!(next(&mut changes).await, ("-", "127.0.0.1:3".into()));
    lb.backends().set_enable(&three, true);
    assert_eq!(next(&mut changes).await, ("+", "127.0.0.1:3".into()));
    assert!(futures_util::poll!(changes.next()).is_pending());

    // The stream ends with the load balancer.
    drop(lb);
    assert!(within("the end", changes.next()).await.is_none());
}

#[tokio::test]
async fn discover_with_feeds_tower_p2c() {
    use tower::{Service, ServiceExt};
    let lb = Arc::new(
        LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:1", "127.0.0.1:2"]).unwrap(),
    );
    let services = lb_tower::discover_with(&lb, |backend: &Backend| {
        let addr = backend.addr.to_string();
        tower::load::Constant::new(
            tower::service_fn(move |_: ()| {
                let addr = addr.clone();
                async move { Ok::<_, std::convert::Infallible>(addr) }
            }),
            0,
        )
    });
    let mut p2c = tower::balance::p2c::Balance::new(services);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..64 {
        let answer = within("p2c", p2c.ready())
            .await
            .unwrap()
            .call(())
            .await
            .unwrap();
        seen.insert(answer);
    }
    assert_eq!(seen.len(), 2);
    lb.backends()
        .set_health(&Backend::new("127.0.0.1:1").unwrap(), false);
    // p2c applies the removal on its next poll_ready.
    for _ in 0..64 {
        let answer = within("p2c", p2c.ready())
            .await
            .unwrap()
            .call(())
            .await
            .unwrap();
        assert_eq!(answer, "127.0.0.1:2");
    }
}
