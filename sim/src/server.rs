//! The simulated servers: a latency distribution, a number of requests served at once, a bounded
//! queue for the rest, and a failure rate. No sockets: a server is a few numbers and a queue.

use std::collections::VecDeque;
use std::time::Duration;

use rand::Rng;
use rand_distr::{Distribution, LogNormal};

/// How one server behaves at the start of a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerSpec {
    /// The backend's weight in the load balancer.
    pub weight: u32,
    /// The backend's zone (`lb_core::Zone`), if the scenario has zones.
    pub zone: Option<&'static str>,
    /// The median service time; service times are log-normal around it.
    pub median: Duration,
    /// The log-normal shape σ: 0.5 puts the 99th percentile at 3.2 × the median.
    pub sigma: f64,
    /// Requests served at once; the others wait in the queue.
    pub concurrency: u32,
    /// Requests that may wait; a request that finds the queue full is refused at once (a 503).
    pub queue: u32,
    /// The probability that a served request fails (a 5xx after its service time).
    pub failure: f64,
}

impl ServerSpec {
    /// The default server of the scenarios: 20 ms median, σ 0.5, 8 at once, 64 queued, weight 1.
    pub fn standard() -> Self {
        ServerSpec {
            weight: 1,
            zone: None,
            median: Duration::from_millis(20),
            sigma: 0.5,
            concurrency: 8,
            queue: 64,
            failure: 0.0,
        }
    }

    /// The same server with another weight, its concurrency scaled with it (a bigger machine).
    pub fn weighted(mut self, weight: u32) -> Self {
        self.concurrency = self.concurrency.saturating_mul(weight.max(1));
        self.queue = self.queue.saturating_mul(weight.max(1));
        self.weight = weight;
        self
    }

    /// The same server in `zone`.
    pub fn in_zone(mut self, zone: &'static str) -> Self {
        self.zone = Some(zone);
        self
    }

    /// The mean service time: `median × e^(σ²/2)`.
    pub fn mean(&self) -> Duration {
        self.median.mul_f64((self.sigma * self.sigma / 2.0).exp())
    }

    /// Requests per second the server completes when always busy: concurrency / mean service
    /// time.
    pub fn capacity(&self) -> f64 {
        f64::from(self.concurrency) / self.mean().as_secs_f64()
    }
}

/// What became of a request handed to a server.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Admission {
    /// Served now; it ends after `service`, failed or not.
    Started { service: Duration, failed: bool },
    /// Waiting for a free slot.
    Queued,
    /// Refused at once: the queue is full, or the server is down (connection refused).
    Refused,
}

/// How long a refused request takes to fail (a connection refused, a 503 from a full queue).
pub(crate) const REFUSAL: Duration = Duration::from_millis(1);

/// One server while a scenario runs.
#[derive(Debug)]
pub(crate) struct Server<W> {
    pub(crate) spec: ServerSpec,
    /// Service times are multiplied by this (a server turned slow).
    pub(crate) slowdown: f64,
    /// Down: every request is refused (a lost zone).
    pub(crate) down: bool,
    busy: u32,
    queue: VecDeque<W>,
}

impl<W> Server<W> {
    pub(crate) fn new(spec: ServerSpec) -> Self {
        Server {
            spec,
            slowdown: 1.0,
            down: false,
            busy: 0,
            queue: VecDeque::new(),
        }
    }

    /// A service time and whether the request fails, drawn from `rng`.
    fn serve(&self, rng: &mut impl Rng) -> (Duration, bool) {
        let median = self.spec.median.as_secs_f64() * self.slowdown;
        let seconds = match LogNormal::new(median.max(1e-9).ln(), self.spec.sigma.max(0.0)) {
            Ok(d) => d.sample(rng),
            // Only a σ that is not finite gets here: serve at the median.
            Err(_) => median,
        };
        let failed = self.spec.failure > 0.0 && rng.random_bool(self.spec.failure.min(1.0));
        (Duration::from_secs_f64(seconds.clamp(0.0, 3600.0)), failed)
    }

    /// Hands a request (`waiting`, kept while it queues) to the server.
    pub(crate) fn admit(&mut self, waiting: W, rng: &mut impl Rng) -> (Admission, Option<W>) {
        if self.down {
            return (Admission::Refused, Some(waiting));
        }
        if self.busy < self.spec.concurrency {
            self.busy += 1;
            let (service, failed) = self.serve(rng);
            return (Admission::Started { service, failed }, Some(waiting));
        }
        if self.queue.len() < self.spec.queue as usize {
            self.queue.push_back(waiting);
            return (Admission::Queued, None);
        }
        (Admission::Refused, Some(waiting))
    }

    /// A request ended: frees its slot and starts the next queued one, if any, with its service
    /// time and failure.
    pub(crate) fn finish(&mut self, rng: &mut impl Rng) -> Option<(W, Duration, bool)> {
        self.busy = self.busy.saturating_sub(1);
        if self.down {
            return None;
        }
        let next = self.queue.pop_front()?;
        self.busy += 1;
        let (service, failed) = self.serve(rng);
        Some((next, service, failed))
    }

    /// Takes the server down: its queued requests are refused.
    pub(crate) fn go_down(&mut self) -> Vec<W> {
        self.down = true;
        self.queue.drain(..).collect()
    }

    /// Requests being served or waiting.
    #[cfg(test)]
    pub(crate) fn load(&self) -> usize {
        self.busy as usize + self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn a_full_server_queues_then_refuses_and_serves_the_queue_in_order() {
        let spec = ServerSpec {
            concurrency: 1,
            queue: 1,
            ..ServerSpec::standard()
        };
        let mut server = Server::new(spec);
        let mut rng = SmallRng::seed_from_u64(1);
        assert!(matches!(
            server.admit(1, &mut rng).0,
            Admission::Started { .. }
        ));
        assert_eq!(server.admit(2, &mut rng), (Admission::Queued, None));
        assert_eq!(server.admit(3, &mut rng), (Admission::Refused, Some(3)));
        assert_eq!(server.load(), 2);
        assert_eq!(server.finish(&mut rng).map(|n| n.0), Some(2));
        assert_eq!(server.finish(&mut rng).map(|n| n.0), None);
        assert_eq!(server.load(), 0);
    }

    #[test]
    fn service_times_are_log_normal_around_the_median() {
        let server = Server::<()>::new(ServerSpec::standard());
        let mut rng = SmallRng::seed_from_u64(7);
        let mut times: Vec<f64> = (0..20_000)
            .map(|_| server.serve(&mut rng).0.as_secs_f64())
            .collect();
        times.sort_by(f64::total_cmp);
        let median = times[10_000];
        let p99 = times[19_800];
        assert!((0.019..0.021).contains(&median), "{median}");
        // σ = 0.5: the 99th percentile is e^(2.326 × 0.5) ≈ 3.2 × the median.
        assert!((0.058..0.070).contains(&p99), "{p99}");
        let standard = ServerSpec::standard();
        assert!(
            (standard.capacity() - 352.0).abs() < 1.0,
            "{}",
            standard.capacity()
        );
    }
}
