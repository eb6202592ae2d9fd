//! A pass over thousands of loopback targets with bounded concurrency: every up backend stays
//! healthy, every down one is found, and no more probes run at once than the schedule allows.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lb_core::{Backend, Backends, BoxError, HealthCheck, HealthSchedule, LoadBalancer};
use lb_health::TcpHealthCheck;
use tokio::net::TcpSocket;

use crate::support::InOrder;

/// A probe that counts the probes in flight around lb-health's TCP probe.
struct Counting {
    inner: TcpHealthCheck,
    in_flight: AtomicUsize,
    most: Arc<AtomicUsize>,
}

#[lb_core::async_trait]
impl HealthCheck for Counting {
    async fn check(&self, target: &Backend) -> Result<(), BoxError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        let result = self.inner.check(target).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }

    fn health_threshold(&self, success: bool) -> usize {
        self.inner.health_threshold(success)
    }
}

/// `127.a.b.c:port` for target `i` (`a` from `first`): Linux routes all of 127.0.0.0/8 to
/// loopback, and a listener on `0.0.0.0` answers every such address.
fn target(first: u8, i: usize, port: u16) -> Backend {
    let [_, _, b, c] = u32::try_from(i).unwrap().to_be_bytes();
    Backend::from(SocketAddr::from((
        Ipv4Addr::new(127, first, b, c.wrapping_add(1)),
        port,
    )))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounded_pass_over_two_thousand_targets_marks_only_the_down_ones_unhealthy() {
    const UP: usize = 2_000;
    const DOWN: usize = 40;
    const CONCURRENCY: usize = 64;
    // One listener on every loopback address, accepting and closing as fast as it can. A probe
    // is done when its connect completes, before the listener accepts; should the listener
    // fall behind by a whole backlog (a busy test machine), the kernel drops a SYN and retries
    // it a second later, which the probes' connect timeout below leaves room for: this test is
    // about the pass, not the listener's pace.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("0.0.0.0:0".parse().unwrap()).unwrap();
    let listener = socket.listen(4096).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (accepted_tx, mut accepted) = tokio::sync::watch::channel(0usize);
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            accepted_tx.send_modify(|n| *n += 1);
            drop(stream);
        }
    });
    // A port where nothing listens, on any address.
    let closed = {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("0.0.0.0:0".parse().unwrap()).unwrap();
        socket.local_addr().unwrap().port()
    };
    let up: Vec<Backend> = (0..UP).map(|i| target(2, i, port)).collect();
    let down: Vec<Backend> = (0..DOWN).map(|i| target(3, i, closed)).collect();

    let most = Arc::new(AtomicUsize::new(0));
    let check = Counting {
        inner: TcpHealthCheck::new()
            .with_connect_timeout(Duration::from_secs(4))
            .with_deadline(Duration::from_secs(5)),
        in_flight: AtomicUsize::new(0),
        most: Arc::clone(&most),
    };
    let mut backends = Backends::fixed(up.iter().chain(&down).cloned());
    backends.set_health_check(Box::new(check));
    let lb = LoadBalancer::<InOrder>::from_backends(backends);
    let schedule = HealthSchedule::default()
        .with_parallelism(CONCURRENCY)
        .with_timeout(Duration::from_secs(6));
    let registry = lb.backends().health_registry();

    for pass in 1..=2 {
        let report = registry.check_once(&schedule).await;
        assert_eq!(report.checked, UP + DOWN, "pass {pass}");
        assert_eq!(report.failed, DOWN, "pass {pass}: {report:?}");
        let set = lb.backends().get_backend();
        let unhealthy: Vec<&Backend> = set
            .backends()
            .iter()
            .zip(set.states())
            .filter(|(_, state)| !state.is_healthy())
            .map(|(backend, _)| backend)
            .collect();
        assert_eq!(unhealthy.len(), DOWN, "pass {pass}");
        assert!(
            unhealthy.iter().all(|b| down.contains(b)),
            "pass {pass}: an up backend was marked unhealthy"
        );
        let most = most.swap(0, Ordering::SeqCst);
        assert!(most <= CONCURRENCY, "pass {pass}: {most} probes at once");
        assert!(most > 1, "pass {pass}: the probes ran one at a time");
    }
    // Every up backend's probe reached the listener, in both passes (a probe is done when its
    // connect completes, which may be before the listener accepts it).
    let reached =
        tokio::time::timeout(Duration::from_secs(10), accepted.wait_for(|n| *n >= 2 * UP))
            .await
            .map(|n| n.map(|n| *n));
    assert_eq!(reached.ok().and_then(Result::ok), Some(2 * UP));
    server.abort();
}
