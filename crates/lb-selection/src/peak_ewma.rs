//! [`PeakEwma`]: the power of two choices over latency × load, as tower's and linkerd2-proxy's
//! balancers choose, with weights, standbys and the shared fallback order.

use std::fmt;

use lb_core::{Backend, BackendIter, BackendSelection, BoxError, States};

use crate::random::{Random, RandomIter};
use crate::rng;

/// The cost of a backend whose latency is not known yet while it has requests pending
/// (Finagle's penalty): above any real cost, so that a new backend takes one request at a time
/// until it answers, and lower the fewer it has pending.
const PENALTY: f64 = (i64::MAX >> 16) as f64;

/// Peak EWMA: draw two backends at random in proportion to their weights and take the one with
/// the lower cost, `latency × (in_flight + 1) / weight`.
///
/// This is Finagle's `PeakEwma`, as tower (`tower::load::PeakEwma` with `p2c`) and
/// linkerd2-proxy balance: **latency** is each backend's peak-EWMA estimate kept by lb-core from
/// the latencies given to [`Pick::report`](lb_core::Pick::report) (a slower answer than the
/// estimate replaces it at once; faster ones pull it down with a decay of 10 s; see
/// [`LoadSignals`](lb_core::LoadSignals)), decayed to the time of the load balancer's latest
/// report so that a pick reads no clock; **in flight** is the backend's requests in flight,
/// counted by the lifecycle of every [`Pick`](lb_core::Pick). A backend that turns slow is
/// seen at its first slow answer and avoided at once; one that recovers is tried again as its
/// estimate decays.
///
/// - A backend with no latency sample yet is estimated at
///   [`LoadSignals::default_latency`](lb_core::LoadSignals::default_latency) (30 ms, tower's
///   default) while it has nothing pending, and at Finagle's penalty (above any real cost)
///   while it has requests pending, so that a new backend takes one request at a time until it
///   answers.
/// - **Weights** divide the cost and weight the draws; **weight 0** is a standby; **the order
///   after the first pick** and **memory** are [`Random`]'s; it honours slow start. tower's and
///   linkerd's balancers have no weights, no standbys and no fallback order.
/// - Outside a load balancer ([`BackendSelection::iter`], no states) it is [`Random`].
///
/// ```
/// use std::time::Duration;
/// use lb_core::{LoadBalancer, Outcome};
/// use lb_selection::PeakEwma;
///
/// let lb = LoadBalancer::<PeakEwma>::try_from_iter(["10.0.0.1:80", "10.0.0.2:80"]).unwrap();
/// let slow = lb.select(b"").unwrap();
/// let slow_addr = slow.addr.clone();
/// slow.report(Outcome::Success, Duration::from_millis(900));
/// // 900 ms against the other's 30 ms default: the slow one wins only when drawn twice.
/// let other = (0..1000).filter(|_| lb.select(b"").unwrap().addr != slow_addr).count();
/// assert!(other > 650, "{other}");
/// ```
pub struct PeakEwma {
    random: Random,
    /// The weight each backend's cost is divided by: its own, or 1 when every weight is 0.
    weights: Box<[u32]>,
}

impl PeakEwma {
    /// Heap bytes held by the selector.
    pub fn heap_bytes(&self) -> usize {
        self.random.heap_bytes() + self.weights.len() * 4
    }

    /// The cost of backend `i` now.
    #[inline]
    fn cost(&self, states: &States<'_>, i: usize, now: lb_core::SignalTime) -> f64 {
        let pending = states.in_flight(i);
        let (latency, sampled) = states.latency(i, now);
        let weight = f64::from(self.weights.get(i).copied().unwrap_or(1).max(1));
        if !sampled && pending > 0 {
            return PENALTY + pending as f64;
        }
        latency * (pending as f64 + 1.0) / weight
    }
}

impl BackendSelection for PeakEwma {
    type Config = ();
    type Iter<'a> = PeakEwmaIter<'a>;

    const NEEDS_LOAD: bool = true;
    const HONOURS_SLOW_START: bool = true;

    fn build(backends: &[Backend], _config: &()) -> Result<Self, BoxError> {
        let random = Random::build(backends, &())?;
        let weights = backends.iter().map(|b| random.layout().weight(b)).collect();
        Ok(PeakEwma { random, weights })
    }

    #[inline]
    fn iter(&self, key: &[u8]) -> PeakEwmaIter<'_> {
        PeakEwmaIter(self.random.iter(key))
    }

    #[inline]
    fn iter_with_states<'a>(&'a self, _key: &[u8], states: States<'a>) -> PeakEwmaIter<'a> {
        let first = if self.random.is_empty() {
            None
        } else {
            let a = self.random.pick(rng::next_u64());
            let b = self.random.pick(rng::next_u64());
            if a == b {
                Some(a)
            } else {
                let now = states.recent();
                let better = self.cost(&states, b, now) < self.cost(&states, a, now);
                Some(if better { b } else { a })
            }
        };
        PeakEwmaIter(self.random.candidates_after(first))
    }
}

impl fmt::Debug for PeakEwma {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeakEwma")
            .field("backends", &self.weights.len())
            .finish()
    }
}

/// The candidates of a [`PeakEwma`] selector for one pick.
pub struct PeakEwmaIter<'a>(RandomIter<'a>);

impl BackendIter for PeakEwmaIter<'_> {
    #[inline]
    fn next(&mut self) -> Option<usize> {
        self.0.next()
    }
}

impl fmt::Debug for PeakEwmaIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeakEwmaIter").finish_non_exhaustive()
    }
}
