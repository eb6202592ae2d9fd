use std::sync::Arc;
use std::time::Duration;

use lb_core::{Backend, LoadBalancer};
use lb_selection::RoundRobin;
use tower::Service;

use super::*;

fn get(path: &str) -> Request<()> {
    Request::get(path).body(()).unwrap()
}

fn two() -> (Arc<LoadBalancer<RoundRobin>>, Arc<LoadBalancer<RoundRobin>>) {
    let api = LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:1", "127.0.0.1:2"]).unwrap();
    api.backends()
        .set_health(&Backend::new("127.0.0.1:2").unwrap(), false);
    let db = LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:3"]).unwrap();
    (Arc::new(api), Arc::new(db))
}

#[test]
fn the_json_holds_every_load_balancer_and_backend_and_counts_answers() {
    let (api, db) = two();
    let page = StatusPage::new()
        .with_load_balancer("api", &api)
        .with_load_balancer("db", &db);
    let first: serde_json::Value = serde_json::from_str(&page.json()).unwrap();
    let second: serde_json::Value = serde_json::from_str(&page.clone().json()).unwrap();
    assert_eq!(
        (first["sequence"].as_u64(), second["sequence"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(first["refresh_seconds"], 2.0);
    let lbs = first["load_balancers"].as_array().unwrap();
    assert_eq!(lbs[0]["name"], "api");
    assert_eq!(lbs[1]["name"], "db");
    let backends = lbs[0]["status"]["backends"].as_array().unwrap();
    assert_eq!(backends[0]["address"], "127.0.0.1:1");
    assert_eq!(backends[1]["healthy"], false);
    assert_eq!(lbs[1]["status"]["backends"][0]["address"], "127.0.0.1:3");
}

#[test]
fn the_page_loads_nothing_from_elsewhere_and_refreshes_at_its_interval() {
    let (api, _) = two();
    let page = StatusPage::new()
        .with_load_balancer("api", &api)
        .with_refresh(Duration::from_millis(1500));
    let html = page.respond(&get("/lb/status")).unwrap();
    assert_eq!(html.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    let html = html.into_body();
    assert!(html.contains("const REFRESH_MS = 1500;"));
    assert!(!html.contains("__REFRESH_MS__"));
    for external in ["src=", "href=", "http://", "https://", "@import", "url("] {
        assert!(
            !html.contains(external),
            "the page names an external asset: {external}"
        );
    }
    assert!(
        html.contains(r#"fetch("status.json""#),
        "relative: works under any prefix"
    );
    assert!(!html.contains("innerHTML"), "strings are rendered as text");
}

#[test]
fn other_paths_and_methods_are_left_to_the_server_or_answered_404() {
    let (api, _) = two();
    let mut page = StatusPage::new().with_load_balancer("api", &api);
    assert!(page.respond(&get("/")).is_none());
    assert!(
        page.respond(&Request::post("/lb/status").body(()).unwrap())
            .is_none()
    );
    #[cfg(not(feature = "prometheus"))]
    assert!(page.respond(&get("/metrics")).is_none());
    let response = std::future::Future::poll(
        std::pin::pin!(page.call(get("/nope"))),
        &mut Context::from_waker(std::task::Waker::noop()),
    );
    let Poll::Ready(Ok(response)) = response else {
        unreachable!("ready at once")
    };
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let json = page.respond(&get("/lb/status.json")).unwrap();
    assert_eq!(json.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(json.headers()[CACHE_CONTROL], "no-store");
}

#[cfg(feature = "prometheus")]
#[test]
fn metrics_are_served_in_prometheus_text_format() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let lb = Arc::new(LoadBalancer::<RoundRobin>::try_from_iter(["127.0.0.1:1"]).unwrap());
    metrics::with_local_recorder(&recorder, || {
        lb.set_metrics(lb_core::metrics::Metrics::new("api"))
            .unwrap();
    });
    for _ in 0..3 {
        lb.select(b"")
            .unwrap()
            .report(lb_core::Outcome::Success, Duration::from_millis(2));
    }
    let page = StatusPage::new()
        .with_load_balancer("api", &lb)
        .with_prometheus(handle);
    let text = page.respond(&get("/metrics")).unwrap().into_body();
    assert!(
        text.contains(r#"lb_picks_total{lb="api",backend="127.0.0.1:1"} 3"#),
        "{text}"
    );
    assert!(text.contains(r#"lb_requests_total{lb="api",backend="127.0.0.1:1"} 3"#));
    assert!(text.contains(r#"lb_backends{lb="api"} 1"#), "{text}");
}
