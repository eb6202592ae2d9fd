//! [`LeastRequest`]: the power of two choices over requests in flight, weighted.

use std::fmt;

use lb_core::{Backend, BackendIter, BackendSelection, BoxError, States};

use crate::random::{Random, RandomIter};
use crate::rng;

/// Least request by the *power of two choices*: draw two backends at random (in proportion to
/// their weights), pick the one with fewer requests in flight per unit of weight.
///
/// This is the default of Envoy (`LEAST_REQUEST`), gRPC's `least_request` and tower's `p2c`:
/// it steers traffic away from slow or overloaded backends, whose requests pile up, at the cost
/// of two reads of a counter per pick, and without the herding of a full least-loaded scan
/// (every client sending to the same idle backend at once). pingora has no load-aware strategy.
///
/// **Requests in flight** are counted by the load balancer with no call of yours: the strategy
/// declares that it needs load, so every [`Pick`](lb_core::Pick) counts in flight on its backend
/// from `select` until it is reported or dropped. Outside a load balancer
/// ([`BackendSelection::iter`], no states) it is [`Random`].
///
/// **Comparison.** Backend `a` beats `b` when `in_flight(a) / weight(a)` is lower (compared
/// exactly as `in_flight(a) * weight(b) < in_flight(b) * weight(a)`); a tie goes to the first
/// draw, so with no load the picks follow the weights. Both draws may be the same backend.
///
/// **Order after the first pick**, **weight 0** and **memory** are those of [`Random`]: a few
/// more random draws then every other backend once, standbys last; 16 bytes per backend for the
/// draws plus 4 for the weights.
///
/// ```
/// use lb_core::{Backend, LoadBalancer};
/// use lb_selection::LeastRequest;
///
/// let lb = LoadBalancer::<LeastRequest>::try_from_iter(["10.0.0.1:80", "10.0.0.2:80"]).unwrap();
/// // A long request keeps one backend busy while it is in flight...
/// let busy = lb.select(b"").unwrap();
/// // ...so new requests go to the other whenever it is one of the two draws: 3 times in 4 here.
/// let other = (0..1000).filter(|_| lb.select(b"").unwrap().addr != busy.addr).count();
/// assert!(other > 650, "{other}");
/// ```
pub struct LeastRequest {
    random: Random,
    /// The weight each backend is compared with, by backend index: its own, or 1 when every
    /// weight is 0.
    weights: Box<[u32]>,
}

impl LeastRequest {
    /// Heap bytes held by the selector.
    pub fn heap_bytes(&self) -> usize {
        self.random.heap_bytes() + self.weights.len() * 4
    }

    /// The better of backends `a` and `b` by requests in flight per unit of weight; `a` on a tie
    /// or when a state is missing.
    #[inline]
    fn better(&self, states: States<'_>, a: usize, b: usize) -> usize {
        if a == b {
            return a;
        }
        let (Some(sa), Some(sb), Some(&wa), Some(&wb)) = (
            states.get(a),
            states.get(b),
            self.weights.get(a),
            self.weights.get(b),
        ) else {
            return a;
        };
        let load_a = u128::from(sa.in_flight()) * u128::from(wb);
        let load_b = u128::from(sb.in_flight()) * u128::from(wa);
        if load_b < load_a { b } else { a }
    }
}

impl BackendSelection for LeastRequest {
    type Config = ();
    type Iter<'a> = LeastRequestIter<'a>;

    const NEEDS_LOAD: bool = true;

    fn build(backends: &[Backend], config: &()) -> Result<Self, BoxError> {
        let random = Random::build(backends, config)?;
        let weights = backends.iter().map(|b| random.layout().weight(b)).collect();
        Ok(LeastRequest { random, weights })
    }

    #[inline]
    fn iter(&self, key: &[u8]) -> LeastRequestIter<'_> {
        LeastRequestIter(self.random.iter(key))
    }

    #[inline]
    fn iter_with_states<'a>(&'a self, _key: &[u8], states: States<'a>) -> LeastRequestIter<'a> {
        let first = if self.random.is_empty() {
            None
        } else {
            let a = self.random.pick(rng::next_u64());
            let b = self.random.pick(rng::next_u64());
            Some(self.better(states, a, b))
        };
        LeastRequestIter(self.random.candidates_after(first))
    }
}

impl fmt::Debug for LeastRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeastRequest")
            .field("backends", &self.weights.len())
            .finish()
    }
}

/// The candidates of a [`LeastRequest`] selector for one pick.
pub struct LeastRequestIter<'a>(RandomIter<'a>);

impl BackendIter for LeastRequestIter<'_> {
    #[inline]
    fn next(&mut self) -> Option<usize> {
        self.0.next()
    }
}

impl fmt::Debug for LeastRequestIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeastRequestIter").finish_non_exhaustive()
    }
}
