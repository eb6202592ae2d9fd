//! `Balance` over hyper-util clients, against hyper HTTP/1.1 and h2c servers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lb_core::{Backend, LoadBalancer, PassiveHealth};
use lb_selection::{Consistent, LeastRequest, RoundRobin};
use lb_tower::{Balance, BalanceLayer, Header, Idempotent, Retries};
use tower::{Service, ServiceExt};

use crate::support::{HttpServer, client_for, get, received_total, text, within};

async fn servers(n: usize) -> Vec<HttpServer> {
    let mut servers = Vec::new();
    for _ in 0..n {
        servers.push(HttpServer::start().await);
    }
    servers
}

#[tokio::test]
async fn requests_spread_by_the_strategys_weights() {
    let servers = servers(3).await;
    let backends = servers
        .iter()
        .zip([1, 2, 3])
        .map(|(s, w)| s.backend().with_weight(w));
    let lb = Arc::new(LoadBalancer::<RoundRobin>::try_from_iter(backends).unwrap());
    let mut balance = Balance::new(lb, |b: &Backend| client_for(b, false));
    for _ in 0..600 {
        let response = balance.ready().await.unwrap().call(get("/")).await.unwrap();
        assert_eq!(response.status(), 200);
    }
    let counts: Vec<u64> = servers.iter().map(HttpServer::requests).collect();
    assert_eq!(
        counts,
        [100, 200, 300],
        "smooth weighted round robin, weights 1:2:3"
    );
    assert_eq!(balance.cached_services(), 3);
}

#[tokio::test]
async fn a_backend_answering_503_is_ejected_by_passive_health_alone() {
    let servers = servers(3).await;
    let lb =
        LoadBalancer::<RoundRobin>::try_from_iter(servers.iter().map(HttpServer::backend)).unwrap();
    lb.set_passive_health(Some(PassiveHealth::default()));
    let lb = Arc::new(lb);
    let balance = Balance::new(Arc::clone(&lb), |b: &Backend| client_for(b, false));
    for _ in 0..30 {
        balance.clone().oneshot(get("/")).await.unwrap();
    }
    servers[1].answer(503);
    let mut failed = 0;
    for _ in 0..120 {
        let response = balance.clone().oneshot(get("/")).await.unwrap();
        failed += usize::from(response.status() == 503);
    }
    assert_eq!(failed, 5, "the passive-health threshold, then no more");
    let state = lb.backends().state(&servers[1].backend()).unwrap();
    assert!(state.is_ejected(), "{state:?}");
    assert_eq!(servers[1].requests(), 10 + 5);
    assert_eq!(servers[0].requests() + servers[2].requests(), 20 + 115);
}

#[tokio::test]
async fn consistent_hashing_keeps_each_key_on_one_backend_over_h2c() {
    let servers = servers(3).await;
    let lb =
        LoadBalancer::<Consistent>::try_from_iter(servers.iter().map(HttpServer::backend)).unwrap();
    let balance = BalanceLayer::new(Arc::new(lb))
        .key(Header::named("x-user").unwrap())
        .build(|b: &Backend| client_for(b, true));
    let mut homes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for round in 0..5 {
        for user in 0..40 {
            let mut request = get(&format!("/round/{round}"));
            request
                .headers_mut()
                .insert("x-user", format!("user-{user}").parse().unwrap());
            let response = balance.clone().oneshot(request).await.unwrap();
            assert_eq!(response.version(), http::Version::HTTP_2);
            homes
                .entry(format!("user-{user}"))
                .or_default()
                .insert(text(response).await);
        }
    }
    assert!(homes.values().all(|h| h.len() == 1), "{homes:?}");
    let used: BTreeSet<_> = homes.values().flatten().collect();
    assert_eq!(used.len(), 3, "40 keys reach every backend");
}

#[tokio::test]
async fn a_removed_backends_client_is_dropped_and_its_connections_closed() {
    let servers = servers(2).await;
    let lb =
        LoadBalancer::<RoundRobin>::try_from_iter(servers.iter().map(HttpServer::backend)).unwrap();
    let lb = Arc::new(lb);
    let balance = Balance::new(Arc::clone(&lb), |b: &Backend| client_for(b, false));
    // Concurrent requests open several connections on each server.
    let requests = (0..8).map(|_| balance.clone().oneshot(get("/")));
    for response in futures_util::future::join_all(requests).await {
        assert_eq!(response.unwrap().status(), 200);
    }
    let (opened, closed) = servers[1].connections();
    assert!(
        opened >= 1 && closed == 0,
        "{opened} opened, {closed} closed"
    );
    assert_eq!(balance.cached_services(), 2);

    lb.apply(vec![servers[0].backend()]).unwrap();
    servers[1].all_connections_closed(opened).await;
    assert_eq!(balance.cached_services(), 1);
    assert_eq!(
        servers[0].connections().1,
        0,
        "the staying backend keeps its connections"
    );
    let before = servers[1].requests();
    for _ in 0..4 {
        balance.clone().oneshot(get("/")).await.unwrap();
    }
    assert_eq!(servers[1].requests(), before);
}

#[tokio::test]
async fn dropped_response_futures_leave_nothing_in_flight() {
    let servers = servers(2).await;
    for server in &servers {
        server.delay(std::time::Duration::from_secs(30));
    }
    let lb = LoadBalancer::<LeastRequest>::try_from_iter(servers.iter().map(HttpServer::backend))
        .unwrap();
    let lb = Arc::new(lb);
    let balance = Balance::new(Arc::clone(&lb), |b: &Backend| client_for(b, false));
    let tasks: Vec<_> = (0..10)
        .map(|_| tokio::spawn(balance.clone().oneshot(get("/slow"))))
        .collect();
    received_total(&servers, 10).await;
    let set = lb.backends().get_backend();
    let in_flight: u64 = set.states().iter().map(|s| s.in_flight()).sum();
    assert_eq!(in_flight, 10, "every request in flight");
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        assert!(task.await.unwrap_err().is_cancelled());
    }
    for state in set.states() {
        assert_eq!(state.in_flight(), 0);
        assert_eq!(state.requests(), 0, "a cancelled request is not reported");
    }
    let cancelled: u64 = set.states().iter().map(|s| s.cancellations()).sum();
    assert_eq!(cancelled, 10);
}

#[tokio::test]
async fn failed_requests_are_retried_on_another_backend_and_never_twice_on_one() {
    let servers = servers(3).await;
    servers[1].answer(503);
    let lb = Arc::new(
        LoadBalancer::<RoundRobin>::try_from_iter(servers.iter().map(HttpServer::backend)).unwrap(),
    );
    let balance = BalanceLayer::new(Arc::clone(&lb))
        .retry(Idempotent, Retries::new())
        .build(|b: &Backend| client_for(b, false));
    for _ in 0..30 {
        let response = balance.clone().oneshot(get("/")).await.unwrap();
        assert_eq!(response.status(), 200);
    }
    assert!(servers[1].requests() >= 9, "the failing backend was tried");
    // A POST is not idempotent: its 503 comes back as it is.
    let post = http::Request::post("/")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = balance.clone().oneshot(post.clone()).await.unwrap();
        statuses.push(response.status().as_u16());
    }
    assert!(statuses.contains(&503), "{statuses:?}");

    // Every backend failing: each is tried once, and the last failure is the answer.
    for server in &servers {
        server.answer(500);
    }
    let before: u64 = servers.iter().map(HttpServer::requests).sum();
    let balance = BalanceLayer::new(lb)
        .retry(Idempotent, Retries::new().max_retries(10))
        .build(|b: &Backend| client_for(b, false));
    let response = balance.oneshot(get("/")).await.unwrap();
    assert_eq!(response.status(), 500);
    let after: u64 = servers.iter().map(HttpServer::requests).sum();
    assert_eq!(after - before, 3, "three backends, one attempt each");
}

#[tokio::test]
async fn a_stopped_backends_connect_errors_are_retried_elsewhere() {
    let servers = servers(2).await;
    let lb = Arc::new(
        LoadBalancer::<RoundRobin>::try_from_iter(servers.iter().map(HttpServer::backend)).unwrap(),
    );
    let balance = BalanceLayer::new(Arc::clone(&lb))
        .retry(Idempotent, Retries::new())
        .build(|b: &Backend| client_for(b, false));
    servers[0].stop();
    within("twenty requests", async {
        for _ in 0..20 {
            let response = balance.clone().oneshot(get("/")).await.unwrap();
            assert_eq!(response.status(), 200);
        }
    })
    .await;
    let stopped = lb.backends().state(&servers[0].backend()).unwrap();
    assert!(stopped.failures() >= 1, "{stopped:?}");
}

#[test]
fn balance_and_its_futures_are_send_and_balance_is_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let lb = Arc::new(LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:1"]).unwrap());
    let mut balance = Balance::new(lb, |b: &Backend| client_for(b, false));
    send_sync(&balance);
    let future = balance.call(get("/"));
    send(&future);
}
