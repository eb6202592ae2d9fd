//! The examples' claims, tested: `reverse_proxy --demo` kills one of three backends mid-run;
//! `health_scale`'s tally, targets and sizing (in `health_scale.rs`).

mod health_scale;

#[path = "../../reverse_proxy/demo.rs"]
mod demo;
#[path = "../../reverse_proxy/proxy.rs"]
mod proxy;

use proxy::Strategy;

/// Without retries, the kill costs at most the passive-health threshold plus the requests in
/// flight on the backend while its failures are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_backend_loses_at_most_its_requests_in_flight_plus_the_threshold() {
    for strategy in ["round-robin", "least-request", "hash"] {
        let strategy: Strategy = strategy.parse().expect("a built-in strategy");
        let report = demo::run(strategy, false).await.expect("the demo runs");
        report.print(&format!("{strategy:?}, retries off"));
        assert!(report.failed <= report.bound(), "{strategy:?}: {report:?}");
        let killed = report
            .served
            .iter()
            .find(|(n, _)| *n == report.killed)
            .unwrap()
            .1;
        for (name, served) in &report.served {
            if *name != report.killed {
                assert!(*served > killed, "{strategy:?}: {report:?}");
            }
        }
        let answered: u64 = report.served.iter().map(|(_, n)| n).sum();
        assert!(answered + report.failed >= report.sent, "{report:?}");
    }
}

/// With retries, no client request fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_retries_killing_a_backend_loses_nothing() {
    for strategy in ["round-robin", "least-request", "hash"] {
        let strategy: Strategy = strategy.parse().expect("a built-in strategy");
        let report = demo::run(strategy, true).await.expect("the demo runs");
        report.print(&format!("{strategy:?}, retries on"));
        assert_eq!(report.failed, 0, "{strategy:?}: {report:?}");
    }
}

/// The proxy's status page lists every backend of its load balancer, as JSON and as the page
/// that renders it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_serves_its_status_page() {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use lb::prelude::Backend;

    let listeners: Vec<_> = futures_util::future::join_all(
        (0..3).map(|_| tokio::net::TcpListener::bind("127.0.0.1:0")),
    )
    .await
    .into_iter()
    .map(|l| l.expect("a listener"))
    .collect();
    let addrs: Vec<_> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    let mut options = proxy::Options::new(addrs.iter().copied().map(Backend::from).collect());
    options.health = proxy::Health::None;
    options.admin = Some("127.0.0.1:0".parse().unwrap());
    options.name = "edge".to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = proxy::start(listener, options)
        .await
        .expect("the proxy starts");
    let admin = proxy.admin.expect("asked for");
    let http = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let get = |path: &str| {
        let uri: http::Uri = format!("http://{admin}{path}").parse().unwrap();
        let http = http.clone();
        async move {
            let response = tokio::time::timeout(std::time::Duration::from_secs(10), http.get(uri))
                .await
                .expect("answered in time")
                .expect("answered");
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    let (status, json) = get("/lb/status.json").await;
    assert_eq!(status, http::StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["load_balancers"][0]["name"], "edge");
    let listed: Vec<String> = json["load_balancers"][0]["status"]["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["address"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = addrs.clone();
    sorted.sort();
    let expected: Vec<String> = sorted.iter().map(|a| a.to_string()).collect();
    assert_eq!(listed, expected);
    let (status, html) = get("/lb/status").await;
    assert_eq!(status, http::StatusCode::OK);
    assert!(html.contains(r#"fetch("status.json""#));
    assert_eq!(
        get("/metrics").await.0,
        http::StatusCode::NOT_FOUND,
        "no recorder given"
    );
    proxy.stop().await;
    drop(listeners);
}
