//! The name of every metric lb records, and its description. `docs/observing.md` lists them in
//! one table; a test checks that the table and these constants agree.

use metrics::Unit;

/// Counter, per backend: requests picked for the backend (`select`, `select_with`,
/// `LocalPick::to_pick`).
pub const PICKS: &str = "lb_picks_total";
/// Counter, per backend: requests reported with an outcome (`Pick::report`).
pub const REQUESTS: &str = "lb_requests_total";
/// Counter, per backend: requests reported failed.
pub const FAILURES: &str = "lb_request_failures_total";
/// Counter, per backend: requests counted in flight and dropped without a report.
pub const CANCELLATIONS: &str = "lb_request_cancellations_total";
/// Gauge, per backend: requests in flight (counted while the load balancer tracks load).
pub const IN_FLIGHT: &str = "lb_requests_in_flight";
/// Histogram, per backend: the latency reported with each request, in seconds.
pub const REQUEST_DURATION: &str = "lb_request_duration_seconds";
/// Counter, per backend: flips of the backend's health (either way).
pub const HEALTH_CHANGES: &str = "lb_health_changes_total";
/// Counter, per backend: ejections by an outcome policy (passive health).
pub const EJECTIONS: &str = "lb_ejections_total";
/// Counter, per backend: returns to service after an ejection.
pub const READMISSIONS: &str = "lb_readmissions_total";
/// Gauge, per load balancer: 1 in panic mode, else 0.
pub const PANIC_MODE: &str = "lb_panic_mode";
/// Counter, per load balancer: entries into panic mode.
pub const PANIC_ENTRIES: &str = "lb_panic_entries_total";
/// Counter, per load balancer: published updates of the backend set.
pub const UPDATES: &str = "lb_updates_total";
/// Counter, per load balancer: failed discovery calls.
pub const DISCOVERY_ERRORS: &str = "lb_discovery_errors_total";
/// Counter, per load balancer: failed selector builds.
pub const BUILD_ERRORS: &str = "lb_build_errors_total";
/// Histogram, per load balancer: the discovery call of each published update, in seconds.
pub const DISCOVERY_DURATION: &str = "lb_discovery_duration_seconds";
/// Histogram, per load balancer: building the set and selectors of each published update, in
/// seconds.
pub const BUILD_DURATION: &str = "lb_build_duration_seconds";
/// Gauge, per load balancer: backends in the published set.
pub const BACKENDS: &str = "lb_backends";

/// Every metric: its name, its kind (counter, gauge or histogram) and a description.
pub const ALL: &[(&str, &str, &str)] = &[
    (PICKS, "counter", "requests picked for the backend"),
    (REQUESTS, "counter", "requests reported with an outcome"),
    (FAILURES, "counter", "requests reported failed"),
    (
        CANCELLATIONS,
        "counter",
        "requests dropped without a report while load was tracked",
    ),
    (
        IN_FLIGHT,
        "gauge",
        "requests in flight while load is tracked",
    ),
    (
        REQUEST_DURATION,
        "histogram",
        "latency reported with each request, in seconds",
    ),
    (HEALTH_CHANGES, "counter", "flips of the backend's health"),
    (EJECTIONS, "counter", "ejections by passive health"),
    (
        READMISSIONS,
        "counter",
        "returns to service after an ejection",
    ),
    (PANIC_MODE, "gauge", "1 while in panic mode"),
    (PANIC_ENTRIES, "counter", "entries into panic mode"),
    (UPDATES, "counter", "published updates of the backend set"),
    (DISCOVERY_ERRORS, "counter", "failed discovery calls"),
    (BUILD_ERRORS, "counter", "failed selector builds"),
    (
        DISCOVERY_DURATION,
        "histogram",
        "discovery time of each published update, in seconds",
    ),
    (
        BUILD_DURATION,
        "histogram",
        "build time of each published update, in seconds",
    ),
    (BACKENDS, "gauge", "backends in the published set"),
];

/// Describes every metric to the installed recorder (exporters print descriptions and units).
pub(super) fn describe() {
    for &(name, kind, description) in ALL {
        let unit = if name.ends_with("_seconds") {
            Some(Unit::Seconds)
        } else if kind == "counter" {
            Some(Unit::Count)
        } else {
            None
        };
        match (kind, unit) {
            ("counter", Some(u)) => metrics::describe_counter!(name, u, description),
            ("histogram", Some(u)) => metrics::describe_histogram!(name, u, description),
            ("gauge", _) => metrics::describe_gauge!(name, description),
            _ => metrics::describe_histogram!(name, description),
        }
    }
}
