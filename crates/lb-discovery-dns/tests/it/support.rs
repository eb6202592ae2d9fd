//! Helpers shared by the integration tests: the server, test-sized settings, waits.

use std::time::Duration;

use lb_core::{Backend, ChangeSubscription, Discovered};
use lb_discovery_dns::testing::TestDnsServer;
use lb_discovery_dns::{DnsDiscovery, DnsDiscoveryBuilder, DnsError};

/// How long a test waits for an event before failing. Under the paused clock this is virtual
/// time, so it costs nothing when the event comes.
pub(crate) const DEADLINE: Duration = Duration::from_secs(600);

pub(crate) const S: Duration = Duration::from_secs(1);

pub(crate) async fn server() -> TestDnsServer {
    TestDnsServer::start()
        .await
        .expect("bind the test dns server on 127.0.0.1")
}

/// Test-sized settings: short query deadlines, no retries, refresh bounds of 1 s to 60 s.
pub(crate) fn sized(builder: DnsDiscoveryBuilder, server: &TestDnsServer) -> DnsDiscoveryBuilder {
    builder
        .nameserver(server.nameserver())
        .query_timeout(Duration::from_millis(500))
        .attempts(0)
        .refresh_bounds(S, 60 * S)
        .retry_backoff(S, 8 * S)
        .refresh_timeout(10 * S)
}

pub(crate) fn host(server: &TestDnsServer, name: &str, port: u16) -> DnsDiscoveryBuilder {
    sized(DnsDiscovery::a_aaaa(name, port), server)
}

pub(crate) fn srv(server: &TestDnsServer, name: &str) -> DnsDiscoveryBuilder {
    sized(DnsDiscovery::srv(name), server)
}

/// Waits for the next change signal, failing the test after [`DEADLINE`].
pub(crate) async fn next_change(sub: &mut ChangeSubscription) {
    let alive = tokio::time::timeout(DEADLINE, sub.changed())
        .await
        .expect("no change signal before the deadline");
    assert!(alive, "the notifier is gone");
}

/// Whether a change signal is pending right now, without waiting.
pub(crate) async fn change_pending(sub: &mut ChangeSubscription) -> bool {
    tokio::time::timeout(Duration::ZERO, sub.changed())
        .await
        .is_ok()
}

pub(crate) fn addrs(backends: &[Backend]) -> Vec<String> {
    backends.iter().map(|b| b.addr.to_string()).collect()
}

pub(crate) fn weighted(backends: &[Backend]) -> Vec<(String, u32)> {
    backends
        .iter()
        .map(|b| (b.addr.to_string(), b.weight))
        .collect()
}

pub(crate) fn sorted(d: &Discovered) -> Vec<Backend> {
    let mut list = d.backends.clone();
    list.sort();
    list
}

/// The `DnsError` inside a discovery error.
pub(crate) fn dns_error(e: &lb_core::BoxError) -> &DnsError {
    e.downcast_ref::<DnsError>()
        .unwrap_or_else(|| panic!("not a DnsError: {e}"))
}
