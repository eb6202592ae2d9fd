//! [`RoundRobin`]: nginx's smooth weighted round robin, lock-free.

mod smooth;
mod spread;
mod turn;

use std::fmt;
use std::sync::Arc;

use lb_core::{Backend, BackendIter, BackendSelection, BoxError, States};

use crate::arith::{FastMod, GOLDEN, fastrange, gcd};
use crate::candidates::{Candidates, DRAWS, Draw};
use crate::cdf::Cdf;
use crate::layout::Layout;
use turn::Turn;

/// The smooth table is used while its period (the sum of the weights divided by their greatest
/// common divisor) is at most this many entries per backend...
const TABLE_PER_BACKEND: u64 = 16;
/// ...or at most this many entries in all, whichever is larger (16 KiB: small sets of uneven
/// weights, such as 100, 1, 1, keep nginx's exact sequence).
const TABLE_FLOOR: u64 = 4096;
/// ...and while computing it costs at most this many steps (period × distinct weights), so that
/// a build, which every change of the set's weights needs, stays a fraction of a millisecond
/// (a larger set of uneven weights takes the golden-ratio sequence, built in one pass).
const TABLE_WORK: u64 = 1 << 17;
/// The most turns a select takes past down backends, looking for a ready one, before the
/// fallback order decides (see the type's docs).
const READY_WALK: u32 = 256;

/// Weighted round robin, smooth: weights 5, 1, 1 give `a a b a c a a`, not `a a a a a b c`.
///
/// Each pick takes the next *turn* and maps it to a backend, without a lock; the mapping depends
/// on the weights (`W` is their sum after dividing by their greatest common divisor, `n` the
/// number of backends):
///
/// - **Equal weights**: plain round robin in address order.
/// - **`W ≤ max(16·n, 4096)`** (and `W × distinct weights ≤ 128 K`): **exactly nginx's smooth
///   weighted round robin** (with the backends in address order as nginx's peer list), read from a
///   table of `W` entries computed at build time. Turn `t` is entry `t mod W`.
/// - **`W ≤ max(16·n, 4096)`, nginx's table too costly to compute at every update** (as for
///   10,000 backends of weights 1 to 10): a table of `W` entries built in one pass, with no
///   simulation: the turns sweep the line of the weights laid end to end a short step at a time
///   (a permutation of its positions), so each backend gets exactly its weight per period, its
///   turns evenly spaced and never two in a row, and consecutive picks move through the set in
///   order. Any window of turns gives each backend its share within a few turns, as nginx's
///   does. Turn `t` is entry `t mod W`.
/// - **Otherwise** (weights too uneven to tabulate in O(n) memory, such as 10,000 and 1): turn
///   `t` picks the backend whose share of the cumulative weight line contains the fraction `t/φ mod 1` (a golden-ratio
///   Weyl sequence). Over any `m` consecutive turns each backend gets `m·w/W` picks within a
///   few, and by the three-gap theorem the gaps between a backend's successive picks take at
///   most three distinct values: picks are spread evenly, never bunched. Memory stays at
///   16 bytes per backend whatever the weights.
///
/// **Threads.** As each nginx worker process and each Envoy worker thread does, each thread
/// follows the sequence from its own position, so a pick writes nothing shared: the first
/// thread starts at turn 0 (a single-threaded program sees the exact sequence), and each further
/// thread starts at a golden-ratio-spread turn. Every thread's picks are smooth and
/// proportional, and so is their union.
///
/// **Position.** The positions belong to the selector *and the selectors rebuilt from it* by
/// [`BackendSelection::rebuild`], so when the backends and weights are unchanged the sequence
/// continues exactly where it was (the load balancer also keeps the selector itself in that
/// case). When they change, the count goes on in the new sequence.
///
/// **Down backends.** In a load balancer, a select takes turns until one's backend is ready,
/// using each turn up as a pick would: a down backend's turns go, in sequence order, to the
/// backends after them, so the others share its load in proportion to their weights and keep
/// the smooth order (nginx leaves down peers out of its sequence to the same effect). With
/// weights 5, 1, 1 and the second backend down, the picks are `a a a c a a`, nginx's sequence
/// for 5, 1. A select takes at most 256 turns this way (the `max_iterations` pingora users
/// pass), about a microsecond at worst; only when down backends hold more than 256 turns in a
/// row (weights like 10000, 1, 1 with the first down) does the fallback order below decide, and
/// the first ready backend after such a run then takes a larger share (about 66 % / 34 % in that
/// example). Outside a load balancer ([`BackendSelection::iter`], which
/// sees no states) the first candidate is the next turn's backend.
///
/// **Fallback.** After the first pick come the next turns of the sequence (up to 8, skipping
/// backends already offered, each turn used up), then every other backend from a position that
/// depends on the turn.
///
/// **Weights.** Weight 0 is a standby: never picked while a positive-weight backend exists,
/// offered only after all of them. When every weight is 0 they are treated as equal.
///
/// ```
/// use lb_core::{Backend, LoadBalancer};
/// use lb_selection::RoundRobin;
///
/// let lb = LoadBalancer::<RoundRobin>::try_from_iter([
///     Backend::new_with_weight("10.0.0.1:80", 5).unwrap(),
///     Backend::new_with_weight("10.0.0.2:80", 1).unwrap(),
///     Backend::new_with_weight("10.0.0.3:80", 1).unwrap(),
/// ])
/// .unwrap();
/// let picks: String = (0..7)
///     .map(|_| match lb.select(b"").unwrap().addr.to_string().as_str() {
///         "10.0.0.1:80" => 'a',
///         "10.0.0.2:80" => 'b',
///         _ => 'c',
///     })
///     .collect();
/// assert_eq!(picks, "aabacaa");
/// ```
pub struct RoundRobin {
    turn: Arc<Turn>,
    layout: Layout,
    mode: Mode,
}

#[derive(Debug)]
enum Mode {
    /// No backend.
    Empty,
    /// Turn `t` is active backend `t mod active`.
    Uniform(FastMod),
    /// Turn `t` is `table[t mod table.len()]` (backend indices): nginx's sequence, or with
    /// `spread` the evenly spread one.
    Table {
        table: Box<[u32]>,
        modulo: FastMod,
        spread: bool,
    },
    /// Turn `t` is the owner of `fastrange(t·GOLDEN, total)` on the line.
    Weyl(Cdf),
}

/// How a regime was chosen; exposed for tests and benches through [`RoundRobin::regime`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Regime {
    /// No backend.
    Empty,
    /// Equal weights: plain round robin.
    Uniform,
    /// nginx's exact smooth sequence from a table of this many entries.
    Table(usize),
    /// The evenly spread sequence from a table of this many entries.
    Spread(usize),
    /// The golden-ratio sequence over the cumulative weight line.
    Golden,
}

impl RoundRobin {
    fn with_turn(backends: &[Backend], turn: Arc<Turn>) -> Result<Self, BoxError> {
        let layout = Layout::new(backends)?;
        let weights: Vec<u64> = layout.active_weights(backends).collect();
        let mode = to_backend_indices(choose_mode(&weights), &layout);
        Ok(RoundRobin { turn, layout, mode })
    }

    /// Which sequence this selector follows (see the type docs).
    pub fn regime(&self) -> Regime {
        match &self.mode {
            Mode::Empty => Regime::Empty,
            Mode::Uniform(_) => Regime::Uniform,
            Mode::Table {
                table,
                spread: false,
                ..
            } => Regime::Table(table.len()),
            Mode::Table { table, .. } => Regime::Spread(table.len()),
            Mode::Weyl(_) => Regime::Golden,
        }
    }

    /// Bytes of heap memory held by this selector.
    pub fn heap_bytes(&self) -> usize {
        let mode = match &self.mode {
            Mode::Empty | Mode::Uniform(_) => 0,
            Mode::Table { table, .. } => table.len() * 4,
            Mode::Weyl(cdf) => cdf.heap_bytes(),
        };
        self.layout.heap_bytes() + mode + std::mem::size_of::<Turn>()
    }

    /// The backend of turn `t`. The set is not empty.
    #[inline]
    fn backend_at(&self, t: u64) -> usize {
        match &self.mode {
            Mode::Empty => 0,
            Mode::Uniform(m) => self.layout.active_index(m.rem(t) as usize),
            Mode::Table { table, modulo, .. } => table[modulo.rem(t) as usize] as usize,
            Mode::Weyl(cdf) => self
                .layout
                .active_index(cdf.locate(fastrange(t.wrapping_mul(GOLDEN), cdf.total()))),
        }
    }
}

fn choose_mode(weights: &[u64]) -> Mode {
    let Some(&first) = weights.first() else {
        return Mode::Empty;
    };
    if weights.iter().all(|&w| w == first) {
        return Mode::Uniform(FastMod::new(weights.len() as u64));
    }
    // The common divisor; most sets reach 1 within a few weights, and then neither the rest of
    // the fold nor the division below costs a division per weight.
    let g = weights
        .iter()
        .try_fold(0, |g, &w| match gcd(g, w) {
            1 => None,
            g => Some(g),
        })
        .unwrap_or(1);
    let reduced: Vec<u64> = if g == 1 {
        weights.to_vec()
    } else {
        weights.iter().map(|&w| w / g).collect()
    };
    // At most 2^32 weights of at most 2^32 each: the sum fits in 64 bits.
    let period: u64 = reduced.iter().sum();
    let n = weights.len() as u64;
    let fits = period <= (TABLE_PER_BACKEND * n).max(TABLE_FLOOR);
    let most_distinct = usize::try_from(TABLE_WORK / period.max(1)).unwrap_or(usize::MAX);
    if fits && period <= u64::from(u32::MAX) {
        let (table, spread) = if smooth::distinct_at_most(&reduced, most_distinct) {
            (smooth::smooth_sequence(&reduced), false)
        } else {
            (spread::spread_sequence(&reduced), true)
        };
        return Mode::Table {
            modulo: FastMod::new(table.len() as u64),
            table: table.into_boxed_slice(),
            spread,
        };
    }
    Mode::Weyl(Cdf::new(weights.iter().copied()))
}

/// Table positions are active positions; map them to backend indices once, at build time.
fn to_backend_indices(mode: Mode, layout: &Layout) -> Mode {
    match mode {
        Mode::Table {
            mut table,
            modulo,
            spread,
        } => {
            // In place: a second table of this size would cost fresh pages at every update.
            for k in table.iter_mut() {
                *k = layout.active_index(*k as usize) as u32;
            }
            Mode::Table {
                table,
                modulo,
                spread,
            }
        }
        other => other,
    }
}

impl BackendSelection for RoundRobin {
    type Config = ();
    type Iter<'a> = RoundRobinIter<'a>;

    const HONOURS_SLOW_START: bool = true;

    fn build(backends: &[Backend], _config: &()) -> Result<Self, BoxError> {
        Self::with_turn(backends, Arc::default())
    }

    fn rebuild(&self, backends: &[Backend], _config: &()) -> Result<Self, BoxError> {
        Self::with_turn(backends, Arc::clone(&self.turn))
    }

    #[inline]
    fn iter(&self, _key: &[u8]) -> RoundRobinIter<'_> {
        let (first, t) = if self.layout.is_empty() {
            (None, 0)
        } else {
            let t = self.turn.next();
            (Some(self.backend_at(t)), t)
        };
        self.candidates(first, t, None)
    }

    #[inline]
    fn iter_with_states<'a>(&'a self, _key: &[u8], states: States<'a>) -> RoundRobinIter<'a> {
        if self.layout.is_empty() {
            return self.candidates(None, 0, None);
        }
        let t = self.turn.next();
        self.candidates(Some(self.backend_at(t)), t, Some(states))
    }
}

impl RoundRobin {
    /// The candidate order that starts with `first`, the backend of turn `t`; the next turns
    /// walk past down backends when `states` are known.
    #[inline]
    fn candidates<'a>(
        &'a self,
        first: Option<usize>,
        t: u64,
        states: Option<States<'a>>,
    ) -> RoundRobinIter<'a> {
        RoundRobinIter {
            inner: Candidates::new(
                first,
                NextTurns {
                    sel: self,
                    turn: t,
                    states,
                },
                DRAWS as u8,
                self.layout.order(),
                self.layout.active(),
            ),
        }
    }
}

impl fmt::Debug for RoundRobin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoundRobin")
            .field("backends", &self.layout.len())
            .field("regime", &self.regime())
            .field("turn", &self.turn)
            .finish()
    }
}

/// Fallback draws of [`RoundRobin`]: the turns after the first pick's.
struct NextTurns<'a> {
    sel: &'a RoundRobin,
    turn: u64,
    /// The backends' states, in a load balancer: each draw then walks past down backends.
    states: Option<States<'a>>,
}

impl Draw for NextTurns<'_> {
    fn draw(&mut self) -> usize {
        // Take the thread's next turn, as the next pick would: a down backend's turn then goes
        // to the backend of the following turn and the sequence moves on past it, so the
        // remaining backends share the load in proportion to their weights. (Reusing `turn + 1`
        // without taking it would hand every skipped turn to the same neighbour, doubling its
        // load.) In a load balancer, turns whose backend is down are taken and passed over, up
        // to `READY_WALK` of them: the first draw after a down first pick is the backend of the
        // first turn after it whose backend is ready, as a pick of that turn would have been.
        self.turn = self.sel.turn.next();
        let mut i = self.sel.backend_at(self.turn);
        if let Some(states) = self.states {
            let mut walked = 0;
            while walked < READY_WALK && states.get(i).is_some_and(|s| !s.is_ready()) {
                self.turn = self.sel.turn.next();
                i = self.sel.backend_at(self.turn);
                walked += 1;
            }
        }
        i
    }

    fn scan_seed(&self) -> u64 {
        self.turn.wrapping_mul(GOLDEN)
    }
}

/// The candidates of a [`RoundRobin`] selector for one pick.
pub struct RoundRobinIter<'a> {
    inner: Candidates<'a, NextTurns<'a>>,
}

impl BackendIter for RoundRobinIter<'_> {
    #[inline]
    fn next(&mut self) -> Option<usize> {
        self.inner.next()
    }
}

impl fmt::Debug for RoundRobinIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoundRobinIter").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
