//! [`Bounded`]: consistent hashing with bounded loads over any strategy's candidate order.

mod skipped;

use std::fmt;

use lb_core::{Backend, BackendIter, BackendSelection, BoxError, States};

use self::skipped::Skipped;
use crate::error::SelectionError;
use crate::layout::Layout;

/// The balance factor of [`BoundedConfig::default`]: at most 1.25 times the average load, the
/// paper's example and a common production setting.
pub const DEFAULT_BALANCE_FACTOR: u32 = 125;

/// How many states are summed at a time while a cap is still in doubt.
const CHUNK: usize = 64;

/// Options of [`Bounded`]: the balance factor and the inner strategy's options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BoundedConfig<C> {
    /// The cap on a backend's requests in flight, as a percentage of the average per unit of
    /// weight, like HAProxy's `hash-balance-factor` and Envoy's `hash_balance_factor`: 125 lets a
    /// backend carry at most 1.25 times its share. At least 100; 0 turns the bound off (the
    /// inner strategy's order unchanged); 1 to 99 is a build error.
    pub factor: u32,
    /// The inner strategy's options.
    pub inner: C,
}

impl<C: Default> Default for BoundedConfig<C> {
    fn default() -> Self {
        BoundedConfig {
            factor: DEFAULT_BALANCE_FACTOR,
            inner: C::default(),
        }
    }
}

/// Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, 2018; HAProxy's
/// `hash-balance-factor`, Envoy's `hash_balance_factor`) over the candidate order of another
/// strategy: [`Consistent`](crate::Consistent), [`Maglev`](crate::Maglev) or
/// [`Rendezvous`](crate::Rendezvous) (any [`BackendSelection`] works).
///
/// A key goes to its backend as the inner strategy orders them, unless that backend already
/// carries its share of the requests in flight: walking the inner strategy's own order, the
/// first backend whose load, with this request, stays within its cap is offered first. A hot key
/// thus spills to the backends that would take it if its own were gone, and no backend carries
/// much more than the average, whatever the keys do.
///
/// **The cap** of backend `i` with weight `w_i` (of `W` in all), `T` requests in flight in all and
/// factor `f` (a percentage): `ceil(f/100 × (T + 1) × w_i / W)`. A backend is passed over when its
/// requests in flight are not below its cap, that is when this request would take it past it
/// (the paper's rule and HAProxy's: the `+ 1` counts this request). With equal weights the cap is
/// `ceil(f/100 × (T + 1) / N)`. As the caps add up to at least `T + 1`, some backend is always
/// under its cap.
///
/// **Order.** The backends under their cap in the inner order, then the ones passed over in the
/// order they were met, then the standbys (weight 0) in the inner order. Each backend is offered
/// once.
///
/// **Load** is each backend's requests in flight, read through
/// [`iter_with_states`](BackendSelection::iter_with_states), which the load balancer calls:
/// `Bounded` declares [`NEEDS_LOAD`](BackendSelection::NEEDS_LOAD), so every
/// [`Pick`](lb_core::Pick) counts in flight from `select` until it is reported or dropped.
/// [`BackendSelection::iter`] (no states) is the inner order.
///
/// **Cost.** A backend with no request in flight is under any cap, and a backend whose load is
/// under the cap computed from a partial sum of the loads is under the true cap too, so the
/// total is summed only as far as a decision needs: nothing when the first backend is idle, all
/// N counters when it is busy and near its cap (then the pick is O(N), one relaxed load per
/// backend; the sum is reused for the rest of the walk). Backends skipped past the first 16 are
/// remembered in a per-thread buffer that grows once.
///
/// ```
/// use lb_core::LoadBalancer;
/// use lb_selection::{Bounded, Consistent};
///
/// let lb = LoadBalancer::<Bounded<Consistent>>::try_from_iter(["10.0.0.1:80", "10.0.0.2:80"]).unwrap();
/// // A hot key: its requests stay in flight.
/// let mut held = Vec::new();
/// for _ in 0..100 {
///     held.push(lb.select(b"hot").unwrap());
/// }
/// // Neither backend carries more than 1.25 times its half of the load.
/// for state in lb.backends().get_backend().states() {
///     assert!(state.in_flight() <= 63, "{}", state.in_flight());
/// }
/// ```
pub struct Bounded<S> {
    inner: S,
    factor: u32,
    /// Each backend's weight as the inner strategies see it (standbys 0), by index.
    weights: Box<[u32]>,
    total_weight: u64,
}

impl<S> Bounded<S> {
    /// The inner strategy.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The balance factor (0: off).
    pub fn factor(&self) -> u32 {
        self.factor
    }
}

impl<S: BackendSelection> Bounded<S> {
    fn wrap(inner: S, backends: &[Backend], factor: u32) -> Result<Self, BoxError> {
        if (1..100).contains(&factor) {
            return Err(SelectionError::BalanceFactor { factor }.into());
        }
        let layout = Layout::new(backends)?;
        let weights: Box<[u32]> = backends.iter().map(|b| layout.weight(b)).collect();
        let total_weight = weights.iter().map(|&w| u64::from(w)).sum();
        Ok(Bounded {
            inner,
            factor,
            weights,
            total_weight,
        })
    }
}

impl<S: BackendSelection> BackendSelection for Bounded<S> {
    type Config = BoundedConfig<S::Config>;
    type Iter<'a> = BoundedIter<'a, S>;

    /// The bound reads requests in flight.
    const NEEDS_LOAD: bool = true;
    const HONOURS_SLOW_START: bool = S::HONOURS_SLOW_START;
    const USES_KEY: bool = S::USES_KEY;

    fn build(backends: &[Backend], config: &Self::Config) -> Result<Self, BoxError> {
        let inner = S::build(backends, &config.inner)?;
        Bounded::wrap(inner, backends, config.factor)
    }

    fn rebuild(&self, backends: &[Backend], config: &Self::Config) -> Result<Self, BoxError> {
        let inner = self.inner.rebuild(backends, &config.inner)?;
        Bounded::wrap(inner, backends, config.factor)
    }

    #[inline]
    fn iter(&self, key: &[u8]) -> BoundedIter<'_, S> {
        BoundedIter {
            inner: self.inner.iter(key),
            load: None,
            skipped: None,
            phase: Phase::Walk,
        }
    }

    #[inline]
    fn iter_with_states<'a>(&'a self, key: &[u8], states: States<'a>) -> BoundedIter<'a, S> {
        let load = (self.factor > 0).then_some(Load {
            states,
            weights: &self.weights,
            total_weight: self.total_weight,
            factor: self.factor,
            summed: 0,
            partial: 0,
        });
        BoundedIter {
            inner: self.inner.iter_with_states(key, states),
            load,
            skipped: None,
            phase: Phase::Walk,
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for Bounded<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bounded")
            .field("factor", &self.factor)
            .field("inner", &self.inner)
            .finish()
    }
}

/// The loads of one walk, and the part of their sum read so far.
struct Load<'a> {
    states: States<'a>,
    weights: &'a [u32],
    total_weight: u64,
    factor: u32,
    /// `states[..summed]` are summed into `partial`.
    summed: usize,
    partial: u64,
}

impl Load<'_> {
    /// Whether backend `i` is a standby (weight 0 as the strategies see it).
    fn is_standby(&self, i: usize) -> bool {
        self.weights.get(i) == Some(&0)
    }

    /// Whether backend `i`, with this request, stays within its cap.
    fn under_cap(&mut self, i: usize) -> bool {
        let (Some(state), Some(&weight)) = (self.states.get(i), self.weights.get(i)) else {
            // Not a backend of this set (the inner strategy broke its contract): no load known.
            return true;
        };
        if weight == 0 {
            return false;
        }
        let load = state.in_flight();
        if load == 0 {
            // Every cap of a positive-weight backend is at least 1.
            return true;
        }
        loop {
            // A lower bound of the total: the part summed so far, and this backend's own load if
            // it is not in that part yet. The cap only grows with the total, so a backend under
            // the cap of a lower bound is under its true cap.
            let known = self.partial + if i >= self.summed { load } else { 0 };
            // load < ceil(x) ⇔ load < x for an integer load, so compare
            // load × 100 × W < f × (T + 1) × w exactly, without a division.
            let lhs = u128::from(load)
                .saturating_mul(100)
                .saturating_mul(u128::from(self.total_weight));
            let rhs = u128::from(self.factor)
                .saturating_mul(u128::from(known) + 1)
                .saturating_mul(u128::from(weight));
            if lhs < rhs {
                return true;
            }
            if self.summed == self.states.len() {
                return false;
            }
            let end = (self.summed + CHUNK).min(self.states.len());
            self.partial += self.states.as_slice()[self.summed..end]
                .iter()
                .map(|s| s.in_flight())
                .sum::<u64>();
            self.summed = end;
        }
    }
}

/// The candidates of a [`Bounded`] selector for one key.
pub struct BoundedIter<'a, S: BackendSelection + 'a> {
    inner: S::Iter<'a>,
    /// `None`: no bound (no states, or factor 0): the inner order.
    load: Option<Load<'a>>,
    /// Set up at the first backend skipped, so that the common walk (the first backend is
    /// under its cap) does not pay for it.
    skipped: Option<Skipped>,
    phase: Phase,
}

/// Where a bounded walk is.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Walking the inner order, offering the backends under their cap and skipping the others.
    Walk,
    /// The inner order's active backends are done: offering the skipped ones, then `standby`
    /// (the first standby met, if any).
    Replay { next: usize, standby: Option<usize> },
    /// The rest of the inner order, standbys, as it comes.
    Standby,
}

impl<'a, S: BackendSelection + 'a> BackendIter for BoundedIter<'a, S> {
    #[inline]
    fn next(&mut self) -> Option<usize> {
        let Some(load) = self.load.as_mut() else {
            return self.inner.next();
        };
        match self.phase {
            Phase::Walk => {
                while let Some(i) = self.inner.next() {
                    if load.under_cap(i) {
                        return Some(i);
                    }
                    if load.is_standby(i) {
                        // Standbys come after every active backend in the inner order: offer the
                        // skipped active ones now, then this one and the rest as they come.
                        self.phase = Phase::Replay {
                            next: 0,
                            standby: Some(i),
                        };
                        return self.next();
                    }
                    // Indices fit in u32 (`Layout::new` refuses larger sets); one that does not
                    // is out of range, and the load balancer skips those.
                    if let Ok(i) = u32::try_from(i) {
                        self.skipped.get_or_insert_with(Skipped::default).push(i);
                    }
                }
                self.phase = Phase::Replay {
                    next: 0,
                    standby: None,
                };
                self.next()
            }
            Phase::Replay { next, standby } => {
                match self.skipped.as_ref().and_then(|s| s.get(next)) {
                    Some(i) => {
                        self.phase = Phase::Replay {
                            next: next + 1,
                            standby,
                        };
                        Some(i as usize)
                    }
                    None => {
                        self.phase = Phase::Standby;
                        standby.or_else(|| self.inner.next())
                    }
                }
            }
            Phase::Standby => self.inner.next(),
        }
    }
}

impl<'a, S: BackendSelection + 'a> fmt::Debug for BoundedIter<'a, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedIter")
            .field("bounded", &self.load.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
