//! The contract between a load balancer and a selection strategy, and [`States`], the view of
//! the backends' runtime state that load-aware strategies read.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::Backend;
use crate::change::SetChange;
use crate::clock;
use crate::error::BoxError;
use crate::pool::Pool;
use crate::set::BackendSet;
use crate::signals::LoadSignals;
use crate::state::BackendState;

/// A selection strategy: built from the current backends, it orders candidate backends for a key.
///
/// A load balancer builds one selector per backend set and asks it, per request, for candidate
/// *indices* into the backend slice it was built from, in preference order. The load balancer
/// takes the first candidate that is ready, so the strategy never needs to know about health.
///
/// # Contract
///
/// - `build` sees the backends sorted by address, without duplicates. Building from an empty
///   slice must succeed (a selector that yields nothing). A build may fail (a hash ring whose
///   total weight is too large, say); the load balancer then keeps its previous set and reports
///   the error. It must not panic on any input: weight 0, weight `u32::MAX`, a million backends.
/// - `iter` must not allocate on the heap, lock, or hash a [`Backend`]; it is the select path.
/// - The iterator yields indices in `0..backends.len()`, **visits each distinct backend at most
///   once, and reaches every backend** before it ends, so that `select` finds a ready backend
///   whenever one exists. It may end after the last backend; it must not loop forever.
/// - Weight 0 means *standby*: such a backend is never the first candidate while a backend of
///   positive weight exists, and comes after every positive-weight backend in the order.
///
/// The load balancer stops after `2 * len + 16` candidates as a defence against a strategy that
/// breaks the contract (it then logs a warning once and scans the set for a ready backend
/// itself), and skips indices out of range. lb-selection's `testing::check_contract` checks
/// the contract of a strategy in your own tests.
///
/// # Load
///
/// A strategy that reads requests in flight or latencies sets [`BackendSelection::NEEDS_LOAD`]
/// and reads them through [`BackendSelection::iter_with_states`]. The load balancer then counts
/// every [`Pick`](crate::Pick) in flight from `select` until it is reported or dropped. A
/// strategy that needs no load pays nothing for this.
pub trait BackendSelection: Sized + Send + Sync + 'static {
    /// Build-time options (for example the number of points of a hash ring). `Default` is what
    /// [`LoadBalancer::from_backends`](crate::LoadBalancer::from_backends) uses.
    type Config: Clone + Default + Send + Sync + 'static;

    /// The candidate iterator for one key.
    type Iter<'a>: BackendIter
    where
        Self: 'a;

    /// Whether the strategy reads load (requests in flight, latency): then every pick counts in
    /// flight until it ends. `false` by default.
    const NEEDS_LOAD: bool = false;

    /// Whether the strategy picks by weight, so that slow start ([`SlowStart`](crate::SlowStart))
    /// applies to it: a ramping backend is then taken with the probability of its weight factor
    /// and otherwise the load balancer asks the strategy for a fresh pick. Round robin, random,
    /// least request and Peak EWMA say yes; hashing strategies no (a key keeps its backend).
    /// `false` by default.
    const HONOURS_SLOW_START: bool = false;

    /// Whether the strategy picks by the request key (consistent hashing): then, when the set
    /// is divided into priority levels or zones ([`Priority`](crate::Priority),
    /// [`ZoneRouting`](crate::ZoneRouting)), the level and zone a request goes to are drawn from
    /// a hash of its key too, so that a key keeps its backend while the traffic split holds.
    /// Other strategies draw them at random. `false` by default.
    const USES_KEY: bool = false;

    /// Builds a selector over `backends`.
    fn build(backends: &[Backend], config: &Self::Config) -> Result<Self, BoxError>;

    /// Builds the selector for a new backend set, given the one it replaces. Strategies with
    /// state worth keeping across rebuilds (a round-robin position) override this; the default
    /// builds from scratch.
    fn rebuild(&self, backends: &[Backend], config: &Self::Config) -> Result<Self, BoxError> {
        Self::build(backends, config)
    }

    /// Builds the selector for the next set from this one when only `change` differs (backends
    /// joined, left or changed weight): for strategies that can update a selector in time
    /// proportional to the change (a hash ring inserting one backend's points). The result must
    /// select as [`BackendSelection::build`] over `backends` would: the same candidates for
    /// every key for a deterministic strategy, the same probabilities for a random one.
    /// `None` (the default) lets the load balancer call [`BackendSelection::rebuild`].
    fn apply_change(
        &self,
        backends: &[Backend],
        change: &SetChange<'_>,
        config: &Self::Config,
    ) -> Option<Result<Self, BoxError>> {
        let _ = (backends, change, config);
        None
    }

    /// The candidates for `key`, best first. Strategies that ignore keys (round robin, random)
    /// ignore it.
    fn iter(&self, key: &[u8]) -> Self::Iter<'_>;

    /// The candidates for `key` given the runtime state of every backend (`states.get(i)` is
    /// backend `i` of the slice the selector was built from): what the load balancer calls.
    /// Load-aware strategies override it to read requests in flight or latency; the default
    /// ignores the states and calls [`BackendSelection::iter`]. The same contract holds, and
    /// reading a state must stay a few atomic loads.
    #[inline]
    fn iter_with_states<'a>(&'a self, key: &[u8], states: States<'a>) -> Self::Iter<'a> {
        let _ = states;
        self.iter(key)
    }
}

/// An iterator over candidate backend indices. See [`BackendSelection`] for the contract.
pub trait BackendIter {
    /// The next candidate index, or `None` when every backend has been offered.
    fn next(&mut self) -> Option<usize>;
}

/// The runtime state of every backend of one set, as a strategy reads it in
/// [`BackendSelection::iter_with_states`]: readiness, requests in flight and latency, each a few
/// atomic loads. Index `i` is backend `i` of the set the selector was built from.
#[derive(Clone, Copy)]
pub struct States<'a> {
    states: &'a [Arc<BackendState>],
    signals: &'a LoadSignals,
    /// The pool's handle, not the pool: making a view reads no pointer beyond the snapshot
    /// (`select` makes one per pick; only Peak EWMA's coarse clock reads the pool).
    pool: Option<&'a Arc<Pool>>,
}

static DEFAULT_SIGNALS: LoadSignals = LoadSignals {
    decay: Duration::from_secs(10),
    default_latency: Duration::from_millis(30),
    window: Duration::from_secs(10),
};

impl<'a> States<'a> {
    /// A view of the states of `set` kept with `signals`.
    pub fn new(set: &'a BackendSet, signals: &'a LoadSignals) -> Self {
        States {
            states: set.states(),
            signals,
            pool: None,
        }
    }

    pub(crate) fn with_pool(
        set: &'a BackendSet,
        signals: &'a LoadSignals,
        pool: &'a Arc<Pool>,
    ) -> Self {
        States::of_slice(set.states(), signals, pool)
    }

    /// A view of some states (a partition's) kept with `signals` in `pool`.
    #[inline]
    pub(crate) fn of_slice(
        states: &'a [Arc<BackendState>],
        signals: &'a LoadSignals,
        pool: &'a Arc<Pool>,
    ) -> Self {
        States {
            states,
            signals,
            pool: Some(pool),
        }
    }

    /// A view of the states of `set` kept with the default [`LoadSignals`] (for tests and for
    /// strategies used outside a load balancer).
    pub fn with_default_signals(set: &'a BackendSet) -> Self {
        States::new(set, &DEFAULT_SIGNALS)
    }

    /// The number of states (the size of the set).
    #[inline]
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether the set is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The state of backend `i`.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&'a BackendState> {
        self.states.get(i).map(|s| &**s)
    }

    /// Every state, by backend index.
    #[inline]
    pub fn as_slice(&self) -> &'a [Arc<BackendState>] {
        self.states
    }

    /// Whether backend `i` is ready ([`BackendState::is_ready`]); `false` for an index out of
    /// range.
    #[inline]
    pub fn is_ready(&self, i: usize) -> bool {
        self.get(i).is_some_and(BackendState::is_ready)
    }

    /// Requests in flight on backend `i` (0 for an index out of range).
    #[inline]
    pub fn in_flight(&self, i: usize) -> u64 {
        self.get(i).map_or(0, BackendState::in_flight)
    }

    /// How the signals are kept.
    pub fn signals(&self) -> &'a LoadSignals {
        self.signals
    }

    /// The current time as the latency estimates count it: pass it to [`States::latency`] (read
    /// it once per pick; it is a clock read).
    #[inline]
    pub fn now(&self) -> SignalTime {
        SignalTime(clock::now_nanos())
    }

    /// A recent time, for strategies that must not read the clock per pick: the time of the
    /// load balancer's latest report (kept to the millisecond), one atomic load. Estimates
    /// decayed to it are a little high when reports are rare, and exact under traffic. Outside a
    /// load balancer it is [`States::now`].
    #[inline]
    pub fn recent(&self) -> SignalTime {
        match self.pool {
            Some(pool) => SignalTime(pool.recent()),
            None => self.now(),
        }
    }

    /// The latency estimate of backend `i` at `now`, in nanoseconds: its peak EWMA decayed to
    /// `now`, or [`LoadSignals::default_latency`] when it has no sample yet (or `i` is out of
    /// range). The second value says whether it has a sample.
    #[inline]
    pub fn latency(&self, i: usize, now: SignalTime) -> (f64, bool) {
        match self
            .get(i)
            .and_then(|s| s.load.estimate_at(now.0, self.signals.decay))
        {
            Some(ns) => (ns, true),
            None => (crate::state::nanos_f64(self.signals.default_latency), false),
        }
    }
}

impl fmt::Debug for States<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("States")
            .field("len", &self.states.len())
            .field("signals", self.signals)
            .finish()
    }
}

/// A point in time as load signals count it (see [`States::now`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SignalTime(u64);
