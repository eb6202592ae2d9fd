//! `SubsetDiscovery` end to end: a real source, a real strategy, a real load balancer.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lb_core::{
    Address, Backend, Backends, BoxError, ChangeSubscription, Discovered, Enablement, LoadBalancer,
    ServiceDiscovery,
};
use lb_discovery_static::{RandomSubset, Static, Subset, SubsetDiscovery, SubsetPolicy};
use lb_selection::RoundRobin;

use crate::subset::fleet;

fn addrs(backends: &[Backend]) -> Vec<String> {
    backends.iter().map(|b| b.addr.to_string()).collect()
}

fn held(lb: &LoadBalancer<RoundRobin>) -> Vec<String> {
    addrs(lb.backends().get_backend().backends())
}

/// The backends `select` offers over enough picks to see every ready one.
fn picked(lb: &LoadBalancer<RoundRobin>) -> BTreeSet<String> {
    (0..200)
        .filter_map(|_| lb.select(b""))
        .map(|pick| pick.backend().addr.to_string())
        .collect()
}

fn balancer<P: SubsetPolicy>(list: &Static, policy: P) -> LoadBalancer<RoundRobin> {
    let source = SubsetDiscovery::new(list.clone(), policy);
    LoadBalancer::from_backends(Backends::new(Box::new(source)))
}

#[tokio::test]
async fn the_load_balancer_holds_exactly_the_subset_after_each_edit() {
    let list = Static::new(fleet(40));
    let subset = Subset::new(5, 8, 6).unwrap();
    let lb = balancer(&list, subset);
    lb.update().await.unwrap();
    let first = subset.select(&list.get());
    assert_eq!(first.len(), 6);
    assert_eq!(held(&lb), addrs(&first));
    assert_eq!(picked(&lb), addrs(&first).into_iter().collect());

    // Add a backend (the 41st), then remove one of the subset: each time the load balancer
    // holds exactly the new subset, and the strategy picks only within it.
    list.add(fleet(41).pop().unwrap());
    lb.update().await.unwrap();
    let second = subset.select(&list.get());
    assert_eq!(held(&lb), addrs(&second));
    assert!(list.remove(&second[2]));
    lb.update().await.unwrap();
    let third = subset.select(&list.get());
    assert_eq!(third.len(), 6);
    assert!(!third.contains(&second[2]));
    assert_eq!(held(&lb), addrs(&third));
    assert_eq!(picked(&lb), addrs(&third).into_iter().collect());
}

#[tokio::test]
async fn a_random_subset_and_a_policy_chosen_at_run_time_work_alike() {
    let list = Static::new(fleet(25));
    let policy: Box<dyn SubsetPolicy> = Box::new(RandomSubset::with_seed(99, 4).unwrap());
    let want = policy.select(&list.get());
    let lb = balancer(&list, policy);
    lb.update().await.unwrap();
    assert_eq!(held(&lb), addrs(&want));
    assert_eq!(
        want,
        RandomSubset::with_seed(99, 4).unwrap().select(&list.get())
    );
}

#[tokio::test(start_paused = true)]
async fn pushes_of_the_source_reach_a_running_load_balancer() {
    let list = Static::new(fleet(30));
    let subset = Subset::new(0, 3, 10).unwrap();
    let lb = Arc::new(balancer(&list, subset));
    assert_eq!(lb.update_frequency, None, "the source pushes: no polling");
    let service = lb.spawn();
    service.ready().await;
    assert_eq!(held(&lb), addrs(&subset.select(&list.get())));

    // Remove a backend of the subset: the push goes through the adapter's subscription.
    let gone = subset.select(&list.get())[0].clone();
    list.remove(&gone);
    let want = addrs(&subset.select(&list.get()));
    let reached = tokio::time::timeout(Duration::from_secs(5), async {
        while held(&lb) != want {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    assert!(reached.is_ok(), "holds {:?}, want {want:?}", held(&lb));
    service.shutdown().await;
}

/// A source with an opinion on enablement (as Kubernetes has on terminating endpoints).
struct WithEnablement {
    list: Static,
    enablement: Mutex<HashMap<Address, Enablement>>,
}

#[lb_core::async_trait]
impl ServiceDiscovery for WithEnablement {
    async fn discover(&self) -> Result<Discovered, BoxError> {
        let mut answer = self.list.discover().await?;
        answer.enablement = self.enablement.lock().unwrap().clone();
        Ok(answer)
    }

    fn subscribe(&self) -> Option<ChangeSubscription> {
        self.list.subscribe()
    }
}

#[tokio::test]
async fn enablement_is_kept_for_the_subset_and_dropped_for_the_rest() {
    let list = Static::new(fleet(20));
    let subset = Subset::new(1, 4, 5).unwrap();
    let mine = subset.select(&list.get());
    let other = list.get().into_iter().find(|b| !mine.contains(b)).unwrap();
    let opinions = HashMap::from([
        (mine[0].addr.clone(), Enablement::Disabled),
        (mine[1].addr.clone(), Enablement::Draining),
        (other.addr.clone(), Enablement::Disabled),
    ]);
    let source = SubsetDiscovery::new(
        WithEnablement {
            list: list.clone(),
            enablement: Mutex::new(opinions),
        },
        subset,
    );
    let answer = source.discover().await.unwrap();
    assert_eq!(addrs(&answer.backends), addrs(&mine));
    assert_eq!(
        answer.enablement,
        HashMap::from([
            (mine[0].addr.clone(), Enablement::Disabled),
            (mine[1].addr.clone(), Enablement::Draining),
        ])
    );

    // In a load balancer, the disabled and draining backends of the subset are never picked.
    let lb = LoadBalancer::<RoundRobin>::from_backends(Backends::new(Box::new(source)));
    lb.update().await.unwrap();
    assert_eq!(held(&lb), addrs(&mine));
    assert_eq!(picked(&lb), addrs(&mine[2..]).into_iter().collect());
}

/// A source that fails while `fail` is set.
struct Flaky {
    list: Static,
    fail: Arc<AtomicBool>,
}

#[lb_core::async_trait]
impl ServiceDiscovery for Flaky {
    async fn discover(&self) -> Result<Discovered, BoxError> {
        if self.fail.load(Ordering::Relaxed) {
            return Err("the source is down".into());
        }
        self.list.discover().await
    }
}

#[tokio::test]
async fn a_source_error_passes_through_and_the_last_subset_stays() {
    let list = Static::new(fleet(12));
    let fail = Arc::new(AtomicBool::new(false));
    let source = SubsetDiscovery::new(
        Flaky {
            list: list.clone(),
            fail: fail.clone(),
        },
        RandomSubset::with_seed(7, 3).unwrap(),
    );
    assert!(
        source.subscribe().is_none(),
        "a source that only polls stays so"
    );
    let lb = LoadBalancer::<RoundRobin>::from_backends(Backends::new(Box::new(source)));
    lb.update().await.unwrap();
    let before = held(&lb);
    assert_eq!(before.len(), 3);
    fail.store(true, Ordering::Relaxed);
    list.set(fleet(3));
    let err = lb.update().await.unwrap_err();
    assert!(
        lb_core::error_chain(&err).contains("the source is down"),
        "{err}"
    );
    assert_eq!(held(&lb), before);
}
