//! End to end with lb-core's LoadBalancer: SRV priorities 10, 20, 30 are priority levels that
//! fail over one by one through real health checks,
//! and DNS changes are pushed to a running load balancer without polling.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use lb_core::{
    Backend, BackendIter, BackendSelection, Backends, BoxError, HealthCheck, LoadBalancer,
    Priority, async_trait,
};
use lb_discovery_dns::testing::SrvSpec;
use lb_discovery_dns::{IpFamily, SrvTarget};
use tokio::net::TcpListener;

use crate::support::*;

/// The simplest strategy that keeps lb-core's contract: positive-weight backends in address
/// order, then the standbys (weight 0). All-zero weights count as equal.
pub(crate) struct Standby(Vec<usize>);

pub(crate) struct InOrder<'a>(std::slice::Iter<'a, usize>);

impl BackendIter for InOrder<'_> {
    fn next(&mut self) -> Option<usize> {
        self.0.next().copied()
    }
}

impl BackendSelection for Standby {
    type Config = ();
    type Iter<'a> = InOrder<'a>;

    fn build(backends: &[Backend], _: &()) -> Result<Self, BoxError> {
        let (mut order, standby): (Vec<usize>, Vec<usize>) =
            (0..backends.len()).partition(|&i| backends[i].weight > 0);
        order.extend(standby);
        Ok(Standby(order))
    }

    fn iter(&self, _key: &[u8]) -> InOrder<'_> {
        InOrder(self.0.iter())
    }
}

/// A real probe: a TCP connection to the backend.
struct TcpConnect;

#[async_trait]
impl HealthCheck for TcpConnect {
    async fn check(&self, target: &Backend) -> Result<(), BoxError> {
        let addr = target.socket_addr().ok_or("not an ip backend")?;
        tokio::net::TcpStream::connect(addr).await?;
        Ok(())
    }

    fn health_threshold(&self, _success: bool) -> usize {
        1
    }
}

async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

fn port(l: &TcpListener) -> u16 {
    l.local_addr().unwrap().port()
}

fn picked_port(lb: &LoadBalancer<Standby>) -> Option<u16> {
    lb.select(b"").and_then(|p| p.addr.port())
}

/// The SRV priority of each of `n` picks.
fn picked_priorities(lb: &LoadBalancer<Standby>, n: usize) -> Vec<u16> {
    let mut seen: Vec<u16> = (0..n)
        .filter_map(|_| lb.select(b""))
        .map(|p| p.ext.get::<SrvTarget>().unwrap().priority)
        .collect();
    seen.sort_unstable();
    seen.dedup();
    seen
}

#[tokio::test(start_paused = true)]
async fn srv_priorities_10_20_30_fail_over_level_by_level_and_give_back() {
    let server = server().await;
    let (p1, p2) = (listener().await, listener().await);
    let (s1, t1) = (listener().await, listener().await);
    let (p1_port, p2_port) = (port(&p1), port(&p2));
    let (s1_port, t1_port) = (port(&s1), port(&t1));
    server.set_a("primary.test.", 30, [Ipv4Addr::LOCALHOST]);
    server.set_a("second.test.", 30, [Ipv4Addr::LOCALHOST]);
    server.set_a("third.test.", 30, [Ipv4Addr::LOCALHOST]);
    server.set_srv(
        "_svc._tcp.test.",
        30,
        [
            SrvSpec::new(10, 5, p1_port, "primary.test."),
            SrvSpec::new(10, 5, p2_port, "primary.test."),
            SrvSpec::new(20, 5, s1_port, "second.test."),
            SrvSpec::new(30, 5, t1_port, "third.test."),
        ],
    );
    let dns = srv(&server, "_svc._tcp.test.")
        .ip_family(IpFamily::V4)
        .build()
        .unwrap();
    let mut lb = LoadBalancer::<Standby>::from_backends(Backends::new(Box::new(dns)));
    lb.set_health_check(Box::new(TcpConnect));
    lb.update().await.unwrap();
    assert_eq!(lb.backends().get_backend().len(), 4);
    let mut levels: Vec<_> = lb
        .backends()
        .get_backend()
        .iter()
        .map(|b| b.ext.get::<Priority>().unwrap().0)
        .collect();
    levels.sort_unstable();
    assert_eq!(levels, [10, 10, 20, 30], "each SRV priority is a level");

    lb.backends().run_health_check(false).await;
    assert_eq!(lb.priority_load(), [100, 0, 0]);
    assert_eq!(picked_priorities(&lb, 50), [10]);

    // Half of priority 10 down: 50 % ready x 1.4 keeps 70 % there and sends 30 % to 20
    // (Envoy's priority load), never yet to 30.
    drop(p1);
    lb.backends().run_health_check(false).await;
    assert_eq!(lb.priority_load(), [70, 30, 0]);
    assert_eq!(picked_priorities(&lb, 500), [10, 20]);

    // All of 10 down: 20 takes everything; then 20 down too: 30 does.
    drop(p2);
    lb.backends().run_health_check(false).await;
    assert_eq!(lb.priority_load(), [0, 100, 0]);
    assert_eq!(picked_priorities(&lb, 50), [20]);
    drop(s1);
    lb.backends().run_health_check(false).await;
    assert_eq!(lb.priority_load(), [0, 0, 100]);
    assert_eq!(picked_priorities(&lb, 50), [30]);
    assert!(!lb.in_panic(), "the levels together are 100 % available");

    // One primary comes back: traffic returns to priority 10 as far as it can take it.
    let back = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], p1_port)))
        .await
        .expect("rebind the primary's port");
    lb.backends().run_health_check(false).await;
    assert_eq!(lb.priority_load(), [70, 0, 30]);
    assert_eq!(picked_priorities(&lb, 500), [10, 30]);

    // Everything down: every level in panic (Envoy's, on by default) balances over all of them
    // by weight as if they were healthy; with panic mode off, nothing is picked.
    drop(back);
    drop(t1);
    lb.backends().run_health_check(false).await;
    assert!(lb.in_panic());
    assert_eq!(lb.priority_load(), [50, 25, 25]);
    assert!(picked_port(&lb).is_some());
    lb.set_panic_threshold(0);
    assert_eq!(picked_port(&lb), None);
    let _ = p2_port;
}

#[tokio::test(start_paused = true)]
async fn a_running_load_balancer_follows_dns_changes_without_polling() {
    let server = server().await;
    server.set_a("web.test.", 5, [Ipv4Addr::new(127, 0, 0, 1)]);
    let dns = host(&server, "web.test.", 80)
        .ip_family(IpFamily::V4)
        .build()
        .unwrap();
    let monitor = dns.monitor();
    let lb = Arc::new(LoadBalancer::<Standby>::from_backends(Backends::new(
        Box::new(dns),
    )));
    assert_eq!(lb.update_frequency, None, "no polling");
    let service = lb.spawn();
    tokio::time::timeout(DEADLINE, service.ready())
        .await
        .unwrap();
    assert_eq!(addrs(&lb.backends().get_backend()), ["127.0.0.1:80"]);

    let mut changes = monitor.subscribe();
    server.set_a("web.test.", 5, [Ipv4Addr::new(127, 0, 0, 2)]);
    next_change(&mut changes).await;
    // The load balancer got the same signal; give its service a moment (virtual time) to apply it.
    let applied = tokio::time::timeout(DEADLINE, async {
        while addrs(&lb.backends().get_backend()) != ["127.0.0.2:80"] {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        applied.is_ok(),
        "the load balancer applied the pushed change"
    );

    // Unchanged refreshes push nothing: the load balancer publishes no new set.
    let published = lb.stats().published;
    let refreshes = monitor.stats().refreshes;
    monitor.wait_for_refreshes(refreshes + 3).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(lb.stats().published, published);
    service.shutdown().await;
}
