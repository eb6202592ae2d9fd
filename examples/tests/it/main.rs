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
