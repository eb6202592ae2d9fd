//! [`Candidates`]: the candidate order every strategy shares after its first pick.
//!
//! 1. The first pick (the strategy's choice for this key or this turn).
//! 2. Up to [`DRAWS`] more picks drawn *the strategy's way* (the next turns of a round robin,
//!    rehashes of a key, more random draws, the next points of a hash ring), skipping backends
//!    already offered. A failed backend's traffic thus spreads over the others in proportion to
//!    their weights, rather than landing on its neighbour.
//! 3. A scan of every backend not offered yet: active ones from a position that depends on the
//!    key or turn, wrapping around, then standby ones (weight 0) in address order.
//!
//! Each backend is offered at most once (a fixed array remembers the at most `1 + DRAWS`
//! backends of steps 1 and 2, and step 3 visits each index once, skipping those), every backend
//! is offered before the iterator ends, and nothing is allocated.

use lb_core::BackendIter;

use crate::arith::fastrange;
use crate::layout::Layout;

/// How many distinct backends step 2 offers at most.
pub const DRAWS: usize = 8;

/// The backends offered in steps 1 and 2.
const SEEN: usize = DRAWS + 1;

/// A strategy's way of drawing more candidates after its first pick (see [`Candidates`]).
pub trait Draw {
    /// The next draw: a backend index. Repeats and indices out of range are allowed; they are
    /// skipped. Draw active backends only (a standby drawn here would come before active ones).
    fn draw(&mut self) -> usize;

    /// A number from which the scan's starting position among active backends is derived (a
    /// random number, or one derived from the key, so that scans of different picks start in
    /// different places).
    fn scan_seed(&self) -> u64;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    First,
    Draw,
    Scan,
    Done,
}

/// The candidate order every lb strategy shares after its first pick, for strategies of your own:
/// it keeps the [`BackendSelection`](lb_core::BackendSelection) contract (each backend offered
/// exactly once, every backend reached, standbys last) by construction, and allocates nothing.
///
/// 1. The first pick (the strategy's choice for this key or this turn).
/// 2. Up to [`DRAWS`] more backends drawn *the strategy's way* ([`Draw::draw`]: the next turns
///    of a round robin, rehashes of a key, more random draws), skipping those already offered, so
///    that a down backend's traffic spreads over the others as the strategy would spread it.
/// 3. A scan of every backend not offered yet: active ones from a position derived from
///    [`Draw::scan_seed`], wrapping around, then standby ones (weight 0) in index order.
///
/// The common case (the first pick is ready) costs one branch: steps 2 and 3 set their state up
/// only when asked for a second candidate.
#[derive(Debug)]
pub struct Candidates<'a, D> {
    draw: D,
    /// Every index, active ones first (see `Layout::order`).
    order: &'a [u32],
    active: u32,
    phase: Phase,
    first: u32,
    attempts: u8,
    /// The state of steps 2 and 3, set up only when a caller asks past the first pick, so that
    /// the common case (the first pick is ready) does not pay for it.
    tail: Option<Tail>,
}

#[derive(Debug)]
struct Tail {
    draws_left: u8,
    seen_len: u8,
    seen: [u32; SEEN],
    /// Step 3: the next position of `order` to visit (0..len), and where the active part starts.
    cursor: u32,
    start: u32,
}

impl Tail {
    fn seen(&self, i: u32) -> bool {
        self.seen[..usize::from(self.seen_len)].contains(&i)
    }
}

impl<'a, D: Draw> Candidates<'a, D> {
    /// Candidates starting with `first` (a backend index; `None` for an empty set), then up to
    /// [`DRAWS`] backends from `draw` (at most `DRAWS` draws), then the rest of `layout`.
    #[inline]
    pub fn from_layout(first: Option<usize>, draw: D, layout: &'a Layout) -> Self {
        Self::new(first, draw, DRAWS as u8, layout.order(), layout.active())
    }

    /// Candidates starting with `first` (a backend index; `None` for an empty set).
    ///
    /// `attempts` bounds the draws of step 2 (repeats included); step 2 also ends once it has
    /// offered [`DRAWS`] backends. `order` lists every backend index once, the `active` first
    /// ([`Layout::order`], [`Layout::active`]).
    #[inline]
    pub fn new(
        first: Option<usize>,
        draw: D,
        attempts: u8,
        order: &'a [u32],
        active: usize,
    ) -> Self {
        Candidates {
            draw,
            order,
            // Indices and counts fit in u32: `Layout::new` refuses larger sets.
            active: active as u32,
            phase: if first.is_some() {
                Phase::First
            } else {
                Phase::Done
            },
            first: first.unwrap_or(0) as u32,
            attempts,
            tail: None,
        }
    }

    /// The next candidate (also [`BackendIter::next`]).
    #[inline]
    pub(crate) fn next(&mut self) -> Option<usize> {
        match self.phase {
            Phase::First => {
                self.phase = Phase::Draw;
                Some(self.first as usize)
            }
            Phase::Draw => self.next_drawn(),
            Phase::Scan => self.next_scanned(),
            Phase::Done => None,
        }
    }

    #[cold]
    fn next_drawn(&mut self) -> Option<usize> {
        let len = self.order.len();
        let (first, attempts) = (self.first, self.attempts);
        let tail = self.tail.get_or_insert_with(|| {
            let mut seen = [0; SEEN];
            seen[0] = first;
            Tail {
                draws_left: attempts,
                seen_len: 1,
                seen,
                cursor: 0,
                start: 0,
            }
        });
        // Stop drawing once every backend has been offered (a set of one, say).
        while tail.draws_left > 0 && usize::from(tail.seen_len) < SEEN.min(len) {
            tail.draws_left -= 1;
            let i = self.draw.draw();
            let Ok(i32) = u32::try_from(i) else { continue };
            if i < len && !tail.seen(i32) {
                tail.seen[usize::from(tail.seen_len)] = i32;
                tail.seen_len += 1;
                return Some(i);
            }
        }
        tail.start = if self.active == 0 {
            0
        } else {
            fastrange(self.draw.scan_seed(), u64::from(self.active)) as u32
        };
        self.phase = Phase::Scan;
        self.next_scanned()
    }

    fn next_scanned(&mut self) -> Option<usize> {
        let len = self.order.len() as u32;
        let Some(tail) = self.tail.as_mut() else {
            // The scan starts from the draw phase, which sets the tail up.
            self.phase = Phase::Done;
            return None;
        };
        if u32::from(tail.seen_len) >= len {
            self.phase = Phase::Done;
            return None;
        }
        while tail.cursor < len {
            let c = tail.cursor;
            tail.cursor += 1;
            let pos = if c < self.active {
                // Active positions rotated by `start < active`, without an overflowing sum.
                let to_end = self.active - tail.start;
                if c < to_end {
                    tail.start + c
                } else {
                    c - to_end
                }
            } else {
                c
            };
            let i = self.order[pos as usize];
            if !tail.seen(i) {
                return Some(i as usize);
            }
        }
        self.phase = Phase::Done;
        None
    }
}

impl<D: Draw> BackendIter for Candidates<'_, D> {
    #[inline]
    fn next(&mut self) -> Option<usize> {
        Candidates::next(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Draws from a fixed list, cycling.
    struct Scripted {
        draws: Vec<usize>,
        at: usize,
        seed: u64,
    }

    impl Draw for Scripted {
        fn draw(&mut self) -> usize {
            let d = self.draws[self.at % self.draws.len()];
            self.at += 1;
            d
        }
        fn scan_seed(&self) -> u64 {
            self.seed
        }
    }

    fn collect(mut c: Candidates<'_, Scripted>) -> Vec<usize> {
        let mut out = Vec::new();
        while let Some(i) = c.next() {
            out.push(i);
            assert!(out.len() <= 10_000, "the iterator must end");
        }
        out
    }

    #[test]
    fn draws_then_a_rotated_scan_then_standby() {
        // Backends 0..6; 4 and 5 are standby.
        let order = [0, 1, 2, 3, 4, 5];
        let draws = Scripted {
            draws: vec![2, 2, 0, 9, 1],
            at: 0,
            seed: 1 << 63, // starts the scan half way through the 4 active ones
        };
        let got = collect(Candidates::new(Some(0), draws, 8, &order, 4));
        // First 0; draws 2 and 1 (0 is a repeat, 9 is out of range); scan from position 2: 3.
        assert_eq!(got, [0, 2, 1, 3, 4, 5]);
    }

    #[test]
    fn empty_set_yields_nothing() {
        let order: [u32; 0] = [];
        let draws = Scripted {
            draws: vec![0],
            at: 0,
            seed: 0,
        };
        assert!(collect(Candidates::new(None, draws, 8, &order, 0)).is_empty());
    }

    #[test]
    fn a_set_of_one_ends_after_the_first() {
        let order = [0];
        let draws = Scripted {
            draws: vec![0],
            at: 0,
            seed: 0,
        };
        let mut c = Candidates::new(Some(0), draws, 8, &order, 1);
        assert_eq!(c.next(), Some(0));
        assert_eq!(c.next(), None);
        assert_eq!(c.draw.at, 0, "no draw is wasted on a set of one");
    }

    proptest! {
        #[test]
        fn offers_each_backend_exactly_once_active_before_standby(
            len in 1usize..40,
            standby_frac in 0usize..4,
            draws in prop::collection::vec(0usize..50, 1..20),
            seed: u64,
            first_pos: usize,
            attempts in 0u8..40,
        ) {
            let standby = (len * standby_frac / 4).min(len - 1);
            let active = len - standby;
            // A shuffled order, as for a set whose standby backends are interleaved.
            let mut order: Vec<u32> = (0..len as u32).collect();
            order.rotate_left(seed as usize % len);
            let first = order[first_pos % active] as usize;
            // Draws only return active backends, as weighted draws do.
            let draws: Vec<usize> = draws.iter().map(|d| order[d % active] as usize).collect();
            let got = collect(Candidates::new(Some(first), Scripted { draws, at: 0, seed }, attempts, &order, active));
            let mut sorted = got.clone();
            sorted.sort_unstable();
            prop_assert_eq!(sorted, (0..len).collect::<Vec<_>>());
            prop_assert_eq!(got[0], first);
            let standby_set: Vec<usize> = order[active..].iter().map(|&i| i as usize).collect();
            let first_standby = got.iter().position(|i| standby_set.contains(i)).unwrap_or(len);
            prop_assert!(got[first_standby..].iter().all(|i| standby_set.contains(i)));
            prop_assert_eq!(first_standby, active);
        }
    }
}
