//! `poll_ready`, fail-fast and the idle timeout (on tokio's paused clock), over in-process
//! services: what is tested here is lb-tower's own bookkeeping, not a protocol.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lb_core::{Backend, LoadBalancer};
use lb_selection::RoundRobin;
use lb_tower::{BalanceLayer, ErrIsFailure, Error};
use tower::{Service, ServiceExt};

use crate::support::within;

/// An inner service that answers its backend's address, and counts how many of it are alive.
#[derive(Clone)]
struct Answer {
    addr: String,
    _alive: Arc<()>,
}

impl Service<&'static str> for Answer {
    type Response = String;
    type Error = Infallible;
    type Future = std::future::Ready<Result<String, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: &'static str) -> Self::Future {
        std::future::ready(Ok(self.addr.clone()))
    }
}

#[tokio::test]
async fn poll_ready_waits_for_a_backend_and_wakes_on_a_health_flip() {
    let backend = Backend::new("127.0.0.1:9").unwrap();
    let lb = Arc::new(LoadBalancer::<RoundRobin>::try_from_iter([backend.clone()]).unwrap());
    // One backend down would be panic mode (picked anyway): this test is about none being ready.
    lb.set_panic_threshold(0);
    lb.backends().set_health(&backend, false);
    let alive = Arc::new(());
    let make = {
        let alive = Arc::clone(&alive);
        move |b: &Backend| Answer {
            addr: b.addr.to_string(),
            _alive: Arc::clone(&alive),
        }
    };
    let mut balance = BalanceLayer::new(Arc::clone(&lb))
        .classify(ErrIsFailure)
        .build(make.clone());
    {
        let mut ready = std::pin::pin!(balance.ready());
        assert!(
            futures_util::poll!(ready.as_mut()).is_pending(),
            "no ready backend: not ready"
        );
        lb.backends().set_health(&backend, true);
        within("poll_ready after the flip", ready).await.unwrap();
    }
    assert_eq!(balance.call("hi").await.unwrap(), "127.0.0.1:9");

    // Fail fast: always ready, and a request with no backend fails at once, typed.
    lb.backends().set_health(&backend, false);
    let mut fast = BalanceLayer::new(lb)
        .classify(ErrIsFailure)
        .fail_fast(true)
        .build(make);
    let error = fast.ready().await.unwrap().call("hi").await.unwrap_err();
    assert!(
        matches!(error.downcast_ref::<Error>(), Some(Error::NoReadyBackend)),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn idle_services_are_dropped_after_the_idle_timeout() {
    let lb = Arc::new(
        LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:1", "127.0.0.1:2"]).unwrap(),
    );
    let alive = Arc::new(());
    let made = Arc::new(AtomicUsize::new(0));
    let make = {
        let (alive, made) = (Arc::clone(&alive), Arc::clone(&made));
        move |b: &Backend| {
            made.fetch_add(1, Ordering::SeqCst);
            Answer {
                addr: b.addr.to_string(),
                _alive: Arc::clone(&alive),
            }
        }
    };
    let idle = Duration::from_secs(60);
    let balance = BalanceLayer::new(lb)
        .classify(ErrIsFailure)
        .idle_timeout(Some(idle))
        .build(make);
    for _ in 0..2 {
        balance.clone().oneshot("hi").await.unwrap();
    }
    // The test's, the factory's, and one per cached service.
    assert_eq!(
        (balance.cached_services(), Arc::strong_count(&alive)),
        (2, 4)
    );
    // Used again at 40 s: one backend only.
    tokio::time::sleep(Duration::from_secs(40)).await;
    let mut one = balance.clone();
    one.ready().await.unwrap().call("hi").await.unwrap();
    tokio::time::sleep(Duration::from_secs(40)).await;
    assert_eq!(balance.cached_services(), 1, "unused for 80 s: dropped");
    assert_eq!(Arc::strong_count(&alive), 3);
    tokio::time::sleep(Duration::from_secs(40)).await;
    assert_eq!(balance.cached_services(), 0, "the other after 60 s to 75 s");
    assert_eq!(Arc::strong_count(&alive), 2);
    balance.clone().oneshot("hi").await.unwrap();
    assert_eq!(made.load(Ordering::SeqCst), 3, "made again when used again");
}

#[tokio::test]
async fn the_maintenance_task_ends_with_the_last_clone() {
    let lb = Arc::new(LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:1"]).unwrap());
    let alive = Arc::new(());
    let make = {
        let alive = Arc::clone(&alive);
        move |b: &Backend| Answer {
            addr: b.addr.to_string(),
            _alive: Arc::clone(&alive),
        }
    };
    let balance = BalanceLayer::new(Arc::clone(&lb))
        .classify(ErrIsFailure)
        .build(make);
    balance.clone().oneshot("hi").await.unwrap();
    assert_eq!(
        Arc::strong_count(&alive),
        3,
        "the factory's and the cached service's"
    );
    drop(balance);
    within("the maintenance task to end", async {
        while Arc::strong_count(&alive) > 1 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(Arc::strong_count(&lb), 1, "nothing keeps the load balancer");
}

/// An inner service that is never ready, or that fails on readiness, per backend port.
#[derive(Clone)]
struct Stuck {
    port: u16,
}

impl Service<&'static str> for Stuck {
    type Response = u16;
    type Error = lb_core::BoxError;
    type Future = std::future::Ready<Result<u16, lb_core::BoxError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), lb_core::BoxError>> {
        match self.port {
            1 => std::task::Poll::Pending,
            2 => std::task::Poll::Ready(Err("refused at readiness".into())),
            _ => std::task::Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, _: &'static str) -> Self::Future {
        std::future::ready(Ok(self.port))
    }
}

#[tokio::test(start_paused = true)]
async fn a_backend_not_ready_in_time_or_failing_readiness_counts_a_failure() {
    let stuck = |b: &Backend| Stuck {
        port: b.addr.port().unwrap_or(0),
    };
    // Only the stuck backend: the wait is bounded.
    let lb = Arc::new(LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:1"]).unwrap());
    let balance = BalanceLayer::new(Arc::clone(&lb))
        .classify(ErrIsFailure)
        .ready_timeout(Duration::from_secs(2))
        .build(stuck);
    let started = tokio::time::Instant::now();
    let error = balance.clone().oneshot("hi").await.unwrap_err();
    assert!(
        matches!(error.downcast_ref::<Error>(), Some(Error::ReadyTimeout { after, .. }) if *after == Duration::from_secs(2)),
        "{error}"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    let state = lb.backends().get_backend().states()[0].clone();
    assert_eq!((state.failures(), state.in_flight()), (1, 0));

    // A readiness error is the inner service's error, and a failure of its backend.
    let lb = Arc::new(LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:2"]).unwrap());
    let balance = BalanceLayer::new(Arc::clone(&lb))
        .classify(ErrIsFailure)
        .build(stuck);
    let error = balance.oneshot("hi").await.unwrap_err();
    assert_eq!(error.to_string(), "refused at readiness");
    assert_eq!(lb.backends().get_backend().states()[0].failures(), 1);

    // With retries, a request that never left goes to another backend, whatever it is.
    let lb = Arc::new(
        LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"])
            .unwrap(),
    );
    let balance = BalanceLayer::new(Arc::clone(&lb))
        .classify(ErrIsFailure)
        .ready_timeout(Duration::from_secs(2))
        // `NoRetry`-like: no request is copied, yet unsent ones are retried.
        .retry(
            |_: &&'static str| None::<&'static str>,
            lb_tower::Retries::new().max_retries(2),
        )
        .build(stuck);
    for _ in 0..3 {
        assert_eq!(balance.clone().oneshot("hi").await.unwrap(), 3);
    }
    let failures: Vec<u64> = lb
        .backends()
        .get_backend()
        .states()
        .iter()
        .map(|s| s.failures())
        .collect();
    assert_eq!(failures[2], 0);
    assert!(failures[0] >= 1 && failures[1] >= 1, "{failures:?}");
}

#[tokio::test(start_paused = true)]
async fn retries_stop_when_the_budget_is_spent() {
    let fails_on_port_2 = |b: &Backend| Stuck {
        port: b.addr.port().unwrap_or(0),
    };
    let lb = Arc::new(
        LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:2", "127.0.0.1:3"]).unwrap(),
    );
    // No share of the traffic, one retry per second over a one-second window: one retry.
    let budget = lb_tower::RetryBudget::new(Duration::from_secs(1), 1, 0.0).unwrap();
    let retries = lb_tower::Retries::new().budget(Arc::new(budget));
    let balance = BalanceLayer::new(Arc::clone(&lb))
        .classify(ErrIsFailure)
        .retry(|r: &&'static str| Some(*r), retries)
        .build(fails_on_port_2);
    // Each attempt is reported on its backend: attempts beyond the 10 requests are retries.
    let attempts = || -> u64 {
        lb.backends()
            .get_backend()
            .states()
            .iter()
            .map(|s| s.requests())
            .sum()
    };
    for _ in 0..10 {
        let _ = balance.clone().oneshot("hi").await;
    }
    assert_eq!(attempts(), 10 + 1, "one retry, then the budget is spent");
    // A new window brings the minimum back.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for _ in 0..10 {
        let _ = balance.clone().oneshot("hi").await;
    }
    assert_eq!(attempts(), 20 + 2);
}
