//! [`LeastRequest`]: fewest requests in flight per unit of weight, by the power of `N` choices
//! (Envoy's `LEAST_REQUEST`) or by a full scan (nginx's `least_conn`).

use std::cell::Cell;
use std::fmt;

use lb_core::{Backend, BackendIter, BackendSelection, BoxError, States};

use crate::random::{Random, RandomIter};
use crate::rng;

/// How [`LeastRequest`] chooses; see its docs. The default is Envoy's: two choices, bias 1.0.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct LeastRequestConfig {
    /// Weighted random draws compared per pick (Envoy's `choice_count`, default 2; values below
    /// 2 count as 2). Ignored by a full scan.
    pub choice_count: u8,
    /// How strongly requests in flight count (Envoy's `active_request_bias`, default 1.0): the
    /// draw with the lower `in_flight^bias / weight` wins. 0 ignores load (weighted random);
    /// values above 1 favour idle backends more strongly. Values that are not finite and
    /// non-negative count as 1.0.
    pub active_request_bias: f64,
    /// Scan every ready backend instead of drawing (nginx's `least_conn`): for small sets.
    pub full_scan: bool,
}

impl Default for LeastRequestConfig {
    fn default() -> Self {
        LeastRequestConfig {
            choice_count: 2,
            active_request_bias: 1.0,
            full_scan: false,
        }
    }
}

impl LeastRequestConfig {
    /// Sets [`LeastRequestConfig::choice_count`].
    pub fn with_choice_count(mut self, choices: u8) -> Self {
        self.choice_count = choices;
        self
    }

    /// Sets [`LeastRequestConfig::active_request_bias`].
    pub fn with_active_request_bias(mut self, bias: f64) -> Self {
        self.active_request_bias = bias;
        self
    }

    fn bias(&self) -> Bias {
        let b = self.active_request_bias;
        if !b.is_finite() || b < 0.0 || b == 1.0 {
            Bias::One
        } else if b == 0.0 {
            Bias::Zero
        } else {
            Bias::Power(b)
        }
    }
}

/// The bias, sorted so that the usual cases need no floating point.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Bias {
    Zero,
    One,
    Power(f64),
}

/// Least request: the backend with the fewest requests in flight for its weight.
///
/// **Power of `N` choices** (the default, `N` = 2): draw `N` backends at random in proportion to
/// their weights, take the one with the fewest requests in flight per unit of weight,
/// `in_flight^bias / weight` (with equal weights: the fewest requests in flight, as Envoy's
/// `LEAST_REQUEST`, gRPC's `least_request` and tower's `p2c` take). A tie goes to the first draw,
/// so with no load the picks follow the weights. It steers traffic away from slow or overloaded
/// backends, whose requests pile up, at the cost of `N` reads of a counter per pick, and without
/// the herding of a full scan (every client sending to the same idle backend at once). With
/// unequal weights Envoy switches to a weighted round-robin schedule over
/// `weight / (in_flight + 1)^bias`; lb keeps the draws, which need no shared schedule, and
/// applies the bias (`active_request_bias`, default 1.0) to the load per unit of weight, so that
/// picks follow the weights when idle and the least loaded per weight wins under load, as there.
///
/// **Full scan** ([`LeastRequest::full_scan`], nginx's `least_conn`): every ready backend is
/// looked at and the one with the fewest requests in flight per unit of weight wins; ties are
/// broken in turn (each pick starts its scan one backend further). It costs a pass over the set
/// per pick: for small sets.
///
/// **Requests in flight** are counted by the load balancer with no call of yours: the strategy
/// declares that it needs load, so every [`Pick`](lb_core::Pick) counts in flight on its backend
/// from `select` until it is reported or dropped. Outside a load balancer
/// ([`BackendSelection::iter`], no states) it is [`Random`]. It honours slow start.
///
/// **Order after the first pick**, **weight 0** and **memory** are those of [`Random`]: a few
/// more random draws then every other backend once, standbys last; 16 bytes per backend for the
/// draws plus 4 for the weights. [`LeastConnections`] is the same strategy under nginx's name.
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
    config: LeastRequestConfig,
    bias: Bias,
}

/// nginx's name for [`LeastRequest`] (with [`LeastRequest::full_scan`], its `least_conn`).
pub type LeastConnections = LeastRequest;

thread_local! {
    /// Where this thread's next full scan starts: ties are broken in turn.
    static SCAN_START: Cell<usize> = const { Cell::new(0) };
}

impl LeastRequest {
    /// The configuration of a full scan (nginx's `least_conn`).
    pub fn full_scan() -> LeastRequestConfig {
        LeastRequestConfig {
            full_scan: true,
            ..LeastRequestConfig::default()
        }
    }

    /// The configuration of the power of `choices` choices.
    pub fn choices(choices: u8) -> LeastRequestConfig {
        LeastRequestConfig::default().with_choice_count(choices)
    }

    /// Heap bytes held by the selector.
    pub fn heap_bytes(&self) -> usize {
        self.random.heap_bytes() + self.weights.len() * 4
    }

    /// Whether backend `a` (in flight `ra`) is strictly less loaded per unit of weight than
    /// `b` (in flight `rb`).
    #[inline]
    fn beats(&self, a: usize, ra: u64, b: usize, rb: u64) -> bool {
        let (Some(&wa), Some(&wb)) = (self.weights.get(a), self.weights.get(b)) else {
            return false;
        };
        match self.bias {
            Bias::Zero => false,
            // ra / wa < rb / wb, exactly.
            Bias::One => u128::from(ra) * u128::from(wb) < u128::from(rb) * u128::from(wa),
            Bias::Power(bias) => {
                let load = |r: u64, w: u32| (r as f64).powf(bias) / f64::from(w.max(1));
                load(ra, wa) < load(rb, wb)
            }
        }
    }

    /// The best of `choice_count` weighted draws.
    #[inline]
    fn best_of_draws(&self, states: States<'_>) -> usize {
        let mut best = self.random.pick(rng::next_u64());
        let mut best_load = states.in_flight(best);
        for _ in 1..self.config.choice_count.max(2) {
            let other = self.random.pick(rng::next_u64());
            let load = states.in_flight(other);
            if other != best && self.beats(other, load, best, best_load) {
                (best, best_load) = (other, load);
            }
        }
        best
    }

    /// The ready active backend with the fewest requests in flight per unit of weight, the scan
    /// starting one further each pick; `None` when no active backend is ready.
    #[cold]
    fn best_of_scan(&self, states: States<'_>) -> Option<usize> {
        let layout = self.random.layout();
        let active = &layout.order()[..layout.active()];
        if active.is_empty() {
            return None;
        }
        let start = SCAN_START.with(|s| {
            let start = s.get();
            s.set(start.wrapping_add(1));
            start % active.len()
        });
        let mut best: Option<(usize, u64)> = None;
        for &i in active[start..].iter().chain(&active[..start]) {
            let i = i as usize;
            if !states.is_ready(i) {
                continue;
            }
            let load = states.in_flight(i);
            // Fewest per unit of weight: load_i / w_i < load_best / w_best, exactly.
            let better = best.is_none_or(|(b, bl)| {
                let (wi, wb) = (self.weights[i], self.weights[b]);
                u128::from(load) * u128::from(wb) < u128::from(bl) * u128::from(wi)
            });
            if better {
                best = Some((i, load));
            }
        }
        best.map(|(i, _)| i)
    }
}

impl BackendSelection for LeastRequest {
    type Config = LeastRequestConfig;
    type Iter<'a> = LeastRequestIter<'a>;

    const NEEDS_LOAD: bool = true;
    const HONOURS_SLOW_START: bool = true;

    fn build(backends: &[Backend], config: &LeastRequestConfig) -> Result<Self, BoxError> {
        let random = Random::build(backends, &())?;
        let weights = backends.iter().map(|b| random.layout().weight(b)).collect();
        Ok(LeastRequest {
            random,
            weights,
            config: *config,
            bias: config.bias(),
        })
    }

    #[inline]
    fn iter(&self, key: &[u8]) -> LeastRequestIter<'_> {
        LeastRequestIter(self.random.iter(key))
    }

    #[inline]
    fn iter_with_states<'a>(&'a self, _key: &[u8], states: States<'a>) -> LeastRequestIter<'a> {
        let first = if self.random.is_empty() {
            None
        } else if self.config.full_scan {
            // No ready active backend: the draws and the fallback order take over.
            Some(
                self.best_of_scan(states)
                    .unwrap_or_else(|| self.random.pick(rng::next_u64())),
            )
        } else {
            Some(self.best_of_draws(states))
        };
        LeastRequestIter(self.random.candidates_after(first))
    }
}

impl fmt::Debug for LeastRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeastRequest")
            .field("backends", &self.weights.len())
            .field("config", &self.config)
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
