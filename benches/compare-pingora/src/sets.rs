//! One backend set, built as lb's and as pingora's load balancer.

use std::collections::BTreeSet;
use std::net::{Ipv6Addr, SocketAddr};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use lb_core::{Backend, BackendSelection, Backends, BoxError, HealthCheck, async_trait};
use pingora_load_balancing as pingora;
use pingora_load_balancing::health_check::TcpHealthCheck;
use pingora_load_balancing::selection::{BackendIter, BackendSelection as PingoraSelection};

/// One backend: an address and a weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// The backend's address.
    pub addr: SocketAddr,
    /// Its weight.
    pub weight: u32,
}

/// The IPv4 set of lb's own benches (`lb_benches::sets::backends`): `10.0.0.1:8080` onwards.
pub fn ipv4(n: usize, weight: impl Fn(usize) -> u32) -> Vec<Spec> {
    lb_benches::sets::backends(n, 8080, weight)
        .into_iter()
        .map(|b| Spec {
            addr: b
                .addr
                .as_inet()
                // `backends` builds every backend from an IPv4 socket address.
                .expect("an IP backend"),
            weight: b.weight,
        })
        .collect()
}

/// `n` IPv6 backends `[2001:db8::1]:8080` onwards.
pub fn ipv6(n: usize, weight: impl Fn(usize) -> u32) -> Vec<Spec> {
    (0..n)
        .map(|i| {
            let ip = Ipv6Addr::from(0x2001_0db8_u128 << 96 | (i as u128 + 1));
            Spec {
                addr: SocketAddr::from((ip, 8080)),
                weight: weight(i),
            }
        })
        .collect()
}

/// The set as lb's backends.
pub fn lb_backends(specs: &[Spec]) -> Vec<Backend> {
    specs
        .iter()
        .map(|s| Backend::from(s.addr).with_weight(s.weight))
        .collect()
}

/// The set as pingora's backends (its `BackendSelection::build` input).
pub fn pingora_backends(specs: &[Spec]) -> BTreeSet<pingora::Backend> {
    specs
        .iter()
        .map(|s| {
            pingora::Backend::new_with_weight(&s.addr.to_string(), s.weight as usize)
                // A `SocketAddr` printed by std parses back.
                .expect("a socket address parses")
        })
        .collect()
}

/// Set but never run: it puts readiness filtering on lb's select path, as in production.
#[derive(Debug)]
struct Probe;

#[async_trait]
impl HealthCheck for Probe {
    async fn check(&self, _backend: &Backend) -> Result<(), BoxError> {
        Ok(())
    }
    fn health_threshold(&self, _success: bool) -> usize {
        1
    }
}

/// lb's load balancer over the set, with a health check set (never run).
pub fn lb_load_balancer<S: BackendSelection>(
    specs: &[Spec],
    config: S::Config,
) -> lb_core::LoadBalancer<S> {
    let backends = Backends::fixed(lb_backends(specs));
    let mut lb = lb_core::LoadBalancer::<S>::from_backends_with_config(backends, config);
    lb.set_health_check(Box::new(Probe));
    lb
}

/// pingora's load balancer over the set, with a TCP health check set (never run), after its
/// first `update` (a static discovery completes on the first poll).
pub fn pingora_load_balancer<S>(
    specs: &[Spec],
    config: Option<S::Config>,
) -> Result<pingora::LoadBalancer<S>, String>
where
    S: PingoraSelection + 'static,
    S::Iter: BackendIter,
{
    let discovery = pingora::discovery::Static::new(pingora_backends(specs));
    let mut lb = pingora::LoadBalancer::<S>::from_backends_with_config(
        pingora::Backends::new(discovery),
        config,
    );
    lb.set_health_check(TcpHealthCheck::new());
    let polled = pin!(lb.update()).poll(&mut Context::from_waker(Waker::noop()));
    match polled {
        Poll::Ready(Ok(())) => Ok(lb),
        Poll::Ready(Err(err)) => Err(format!("pingora update failed: {err}")),
        Poll::Pending => Err("pingora's static discovery did not complete at once".into()),
    }
}

#[cfg(test)]
mod tests {
    use lb_selection::RoundRobin;

    use super::*;

    #[test]
    fn both_sides_see_the_same_backends() {
        let specs = ipv4(5, |i| 1 + i as u32);
        let lb = lb_load_balancer::<RoundRobin>(&specs, ());
        let ours: Vec<String> = lb
            .backends()
            .get_backend()
            .backends()
            .iter()
            .map(|b| format!("{}={}", b.addr, b.weight))
            .collect();
        let theirs = pingora_load_balancer::<pingora::selection::RoundRobin>(&specs, None)
            .expect("static discovery");
        let theirs: Vec<String> = theirs
            .backends()
            .get_backend()
            .iter()
            .map(|b| format!("{}={}", b.addr, b.weight))
            .collect();
        assert_eq!(ours, theirs);
        assert_eq!(ours[4], "10.0.0.5:8080=5");
    }

    #[test]
    fn ipv6_sets_are_distinct_and_sorted() {
        let specs = ipv6(300, |_| 1);
        assert!(specs.windows(2).all(|w| w[0].addr < w[1].addr));
        assert_eq!(specs[0].addr.to_string(), "[2001:db8::1]:8080");
    }
}
