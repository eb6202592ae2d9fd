//! A pingora `Server` in process, running lb's background service and a reverse proxy over it,
//! in front of hyper backends on 127.0.0.1: real HTTP requests through it, distribution,
//! failover when a backend stops (by health check and by passive health), TLS with the server
//! name of the backend's `UpstreamTls`, and a clean shutdown.

use std::sync::Arc;
use std::time::Duration;

use lb::{LoadBalancer, PassiveHealth, RoundRobin, TcpHealthCheck};
use lb_pingora::UpstreamTls;

use crate::support::backend::{Backend, TestPki};
use crate::support::client::{get, listening, refused};
use crate::support::proxy::Proxy;
use crate::support::server::ProxyServer;
use crate::support::within;

async fn three_backends() -> Vec<Backend> {
    vec![
        Backend::start().await,
        Backend::start().await,
        Backend::start().await,
    ]
}

fn round_robin_over(backends: &[Backend]) -> LoadBalancer<RoundRobin> {
    LoadBalancer::<RoundRobin>::try_from_iter(backends.iter().map(Backend::backend))
        .expect("loopback addresses are valid")
}

/// Sends `n` requests through the proxy and asserts that each is answered 200 by a backend.
async fn send_ok(server: &ProxyServer, backends: &[Backend], n: usize) {
    for _ in 0..n {
        let (status, body) = get(server.socket()).await;
        assert_eq!(status, 200, "answer: {body}");
        assert!(
            backends.iter().any(|b| b.addr.to_string() == body),
            "answered by {body}, not one of the backends"
        );
    }
}

fn counts(backends: &[Backend]) -> Vec<u64> {
    backends.iter().map(Backend::requests).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_spreads_requests_evenly_and_reports_every_outcome() {
    let backends = three_backends().await;
    let lb = Arc::new(round_robin_over(&backends));
    let proxy = Proxy::new(Arc::clone(&lb));
    let reports = Arc::clone(&proxy.reports);
    let server = ProxyServer::start(Arc::clone(&lb), proxy);
    listening(server.socket()).await;

    send_ok(&server, &backends, 30).await;
    // One proxy thread takes round robin's turns in one sequence: exactly a third each.
    assert_eq!(counts(&backends), [10, 10, 10]);
    assert_eq!((reports.successes(), reports.failures()), (30, 0));
    // Each report reached the backend's state, and no pick is left in flight.
    let set = lb.backends().get_backend();
    for state in set.states() {
        assert_eq!((state.requests(), state.failures()), (10, 0));
        assert_eq!(state.in_flight(), 0);
    }

    // A 5xx answer is a failure, reported with the response.
    backends[0].answer(503);
    for _ in 0..3 {
        get(server.socket()).await;
    }
    assert_eq!((reports.successes(), reports.failures()), (32, 1));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_the_load_balancer_service_and_the_proxy() {
    let backends = three_backends().await;
    let mut lb = round_robin_over(&backends);
    lb.set_health_check(Box::new(TcpHealthCheck::new()));
    lb.health_check_frequency = Some(Duration::from_millis(50));
    let lb = Arc::new(lb);
    let server = ProxyServer::start(Arc::clone(&lb), Proxy::new(Arc::clone(&lb)));
    listening(server.socket()).await;
    send_ok(&server, &backends, 3).await;

    let socket = server.socket().to_path_buf();
    let returned = server.lb_service_returned.clone();
    assert!(!*returned.borrow(), "the service runs until shutdown");
    server.shutdown().await;
    // The service returned on pingora's shutdown watch, before its runtime was torn down (a
    // task dropped with its runtime would never have said so).
    assert!(
        *returned.borrow(),
        "lb's background service ignored the shutdown watch"
    );
    assert!(
        refused(&socket).await,
        "the proxy still accepts connections"
    );
    // pingora dropped everything it held of the load balancer.
    assert_eq!(Arc::strong_count(&lb), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_fails_its_tcp_health_check_gets_no_more_requests() {
    let backends = three_backends().await;
    let mut lb = round_robin_over(&backends);
    lb.set_health_check(Box::new(TcpHealthCheck::new()));
    lb.health_check_frequency = Some(Duration::from_millis(50));
    let lb = Arc::new(lb);
    let mut health = lb.backends().health_watch();
    let proxy = Proxy::new(Arc::clone(&lb));
    let reports = Arc::clone(&proxy.reports);
    let server = ProxyServer::start(Arc::clone(&lb), proxy);
    listening(server.socket()).await;
    send_ok(&server, &backends, 9).await;
    assert_eq!(counts(&backends), [3, 3, 3]);

    let stopped = backends[1].addr;
    backends[1].stop();
    within("the stopped backend's health check to fail", async {
        while let Some(event) = health.next().await {
            if event.backend.addr == lb::Address::Inet(stopped) && !event.healthy {
                return;
            }
        }
        panic!("the health watch ended");
    })
    .await;

    send_ok(&server, &backends, 20).await;
    // No request was even tried on the stopped backend: the probe took it out first.
    assert_eq!(counts(&backends), [13, 3, 13]);
    assert_eq!((reports.successes(), reports.failures()), (29, 0));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passive_health_ejects_a_backend_whose_requests_fail() {
    let backends = three_backends().await;
    // No active health check: only the outcomes the proxy reports can take the backend out.
    let lb = Arc::new(round_robin_over(&backends));
    lb.set_passive_health(Some(PassiveHealth::default()));
    let consecutive = PassiveHealth::default().consecutive_failures;
    let proxy = Proxy::new(Arc::clone(&lb));
    let reports = Arc::clone(&proxy.reports);
    let server = ProxyServer::start(Arc::clone(&lb), proxy);
    listening(server.socket()).await;
    send_ok(&server, &backends, 9).await;

    let [first, stopped, third] = <[Backend; 3]>::try_from(backends).expect("three backends");
    let stopped_addr = stopped.backend().addr;
    stopped.stopped().await;
    let live = [first, third];
    // Each request whose attempt on the stopped backend fails is retried on a new pick, so every
    // request is answered; the stopped backend is ejected after `consecutive` failures in a row
    // and is not tried again.
    send_ok(&server, &live, 60).await;
    assert_eq!(reports.failures(), u64::from(consecutive));
    let set = lb.backends().get_backend();
    let state = set.state_of(&stopped_addr).expect("still in the set");
    assert!(state.is_ejected() && !state.is_ready());
    assert_eq!(state.failures(), u64::from(consecutive));
    assert_eq!(live[0].requests() + live[1].requests(), 6 + 60);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_backends_get_the_server_name_of_their_upstream_tls() {
    let pki = TestPki::new("backend.test");
    let backend = Backend::start_tls(pki.acceptor.clone()).await;
    let tls = |name: &str| {
        backend
            .backend()
            .with_ext(UpstreamTls::new(name).expect("a valid server name"))
    };

    let lb = Arc::new(LoadBalancer::<RoundRobin>::try_from_iter([tls("backend.test")]).unwrap());
    let server = ProxyServer::start(
        Arc::clone(&lb),
        Proxy::new(Arc::clone(&lb)).trusting(&pki.ca_der),
    );
    listening(server.socket()).await;
    let (status, body) = get(server.socket()).await;
    assert_eq!((status, body), (200, backend.addr.to_string()));
    assert_eq!(backend.server_names(), [Some("backend.test".to_owned())]);
    server.shutdown().await;

    // The certificate is checked against that name: another name fails the handshake, which is
    // reported as the backend's failure.
    let lb = Arc::new(LoadBalancer::<RoundRobin>::try_from_iter([tls("other.test")]).unwrap());
    let proxy = Proxy::new(Arc::clone(&lb)).trusting(&pki.ca_der);
    let reports = Arc::clone(&proxy.reports);
    let server = ProxyServer::start(Arc::clone(&lb), proxy);
    listening(server.socket()).await;
    let (status, _) = get(server.socket()).await;
    assert_eq!(status, 502);
    assert_eq!(
        backend.requests(),
        1,
        "no request passed the failed handshake"
    );
    assert!(reports.failures() >= 1);
    server.shutdown().await;
}
