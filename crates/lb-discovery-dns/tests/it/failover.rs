//! End to end with lb-core's LoadBalancer: SRV priorities fail over through real health checks,
//! and DNS changes are pushed to a running load balancer without polling.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use lb_core::{
    Backend, BackendIter, BackendSelection, Backends, BoxError, HealthCheck, LoadBalancer,
    async_trait,
};
use lb_discovery_dns::IpFamily;
use lb_discovery_dns::testing::SrvSpec;
use tokio::net::TcpListener;

use crate::support::*;

/// The simplest strategy that keeps lb-core's contract: positive-weight backends in address
/// order, then the standbys (weight 0). All-zero weights count as equal.
struct Standby(Vec<usize>);

struct InOrder<'a>(std::slice::Iter<'a, usize>);

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

#[tokio::test(start_paused = true)]
async fn the_higher_priority_group_takes_over_when_the_active_group_is_down_and_gives_back() {
    let server = server().await;
    let (p1, p2, s1) = (listener().await, listener().await, listener().await);
    let (p1_port, p2_port, s1_port) = (port(&p1), port(&p2), port(&s1));
    server.set_a("primary.test.", 30, [Ipv4Addr::LOCALHOST]);
    server.set_a("standby.test.", 30, [Ipv4Addr::LOCALHOST]);
    server.set_srv(
        "_svc._tcp.test.",
        30,
        [
            SrvSpec::new(10, 5, p1_port, "primary.test."),
            SrvSpec::new(10, 5, p2_port, "primary.test."),
            SrvSpec::new(20, 5, s1_port, "standby.test."),
        ],
    );
    let dns = srv(&server, "_svc._tcp.test.")
        .ip_family(IpFamily::V4)
        .build()
        .unwrap();
    let mut lb = LoadBalancer::<Standby>::from_backends(Backends::new(Box::new(dns)));
    lb.set_health_check(Box::new(TcpConnect));
    lb.update().await.unwrap();
    assert_eq!(lb.backends().get_backend().len(), 3);

    lb.backends().run_health_check(false).await;
    for _ in 0..10 {
        let p = picked_port(&lb).unwrap();
        assert!(
            p == p1_port || p == p2_port,
            "the active group serves: got {p}"
        );
    }

    // The whole active group goes down: the probe sees it, and the standby takes over.
    drop(p1);
    drop(p2);
    lb.backends().run_health_check(false).await;
    assert_eq!(picked_port(&lb), Some(s1_port));

    // One primary comes back: traffic returns to it.
    let back = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], p1_port)))
        .await
        .expect("rebind the primary's port");
    lb.backends().run_health_check(false).await;
    assert_eq!(picked_port(&lb), Some(p1_port));

    // Everything down: panic mode (Envoy's, on by default) balances over the active group as if
    // it were healthy; with panic mode off, nothing is picked.
    drop(back);
    drop(s1);
    lb.backends().run_health_check(false).await;
    assert!(lb.in_panic());
    let p = picked_port(&lb).unwrap();
    assert!(
        p == p1_port || p == p2_port,
        "panic picks the active group: got {p}"
    );
    lb.set_panic_threshold(0);
    assert_eq!(picked_port(&lb), None);
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
