//! [`Turn`]: whose turn it is, per thread, without a shared write per pick.
//!
//! A shared atomic counter costs a locked read-modify-write per pick (more than the rest of a
//! round-robin pick, and a cache line bouncing between cores under load: far more). Like nginx
//! (each worker process keeps its own smooth-round-robin state) and Envoy (each worker thread has
//! its own load balancer), each thread follows the sequence from its own position: a thread's
//! position lives in a small thread-local cache, keyed by the `Turn`'s identity, and a pick is a
//! thread-local read and write.
//!
//! A thread's first pick (or its first after its slot was taken by another `Turn`) *claims* a
//! starting turn from the shared counter: claim `c` starts at turn `c · φ⁻¹ · 2⁶⁴`, so the first
//! thread starts at turn 0 (a single-threaded user sees the exact sequence from its start) and
//! later threads start at golden-ratio-spread positions, never bunched at the start of the
//! sequence.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::arith::GOLDEN;

/// Thread-local position slots (direct-mapped by `Turn` id). A thread alternating between more
/// round-robin load balancers than this (with colliding ids) re-claims its start when it comes
/// back, which costs one shared atomic add and restarts its smooth run.
const SLOTS: usize = 8;

thread_local! {
    /// `(turn id, next turn)` per slot; id 0 is never used, so zeroed slots are empty.
    static POSITIONS: [Cell<(u64, u64)>; SLOTS] = const { [const { Cell::new((0, 0)) }; SLOTS] };
}

/// Gives out identities; starts at 1 so that 0 marks an empty slot.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The turn state a round-robin selector shares with the selectors rebuilt from it.
#[derive(Debug)]
pub(crate) struct Turn {
    id: u64,
    /// How many starting positions have been claimed.
    claims: AtomicU64,
}

impl Default for Turn {
    fn default() -> Self {
        Turn {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            claims: AtomicU64::new(0),
        }
    }
}

impl Turn {
    /// This thread's next turn.
    #[inline]
    pub(crate) fn next(&self) -> u64 {
        POSITIONS.with(|slots| {
            let slot = &slots[(self.id % SLOTS as u64) as usize];
            let (id, next) = slot.get();
            let t = if id == self.id { next } else { self.claim() };
            slot.set((self.id, t.wrapping_add(1)));
            t
        })
    }

    #[cold]
    fn claim(&self) -> u64 {
        self.claims
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(GOLDEN)
    }

    /// How many starting positions threads have claimed.
    #[cfg(test)]
    fn claims(&self) -> u64 {
        self.claims.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_counts_from_zero_then_other_threads_start_spread() {
        let turn = Turn::default();
        assert_eq!(
            (0..5).map(|_| turn.next()).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        let other = std::thread::scope(|s| s.spawn(|| (turn.next(), turn.next())).join().unwrap());
        assert_eq!(other, (GOLDEN, GOLDEN + 1));
        assert_eq!(turn.next(), 5, "this thread's position is its own");
        assert_eq!(turn.claims(), 2);
    }

    /// The slot a turn's position takes in every thread.
    fn slot(t: &Turn) -> u64 {
        t.id % SLOTS as u64
    }

    /// A new turn whose slot is (or is not) `t`'s. Other tests create turns concurrently, so
    /// consecutive ids are not assured: draw until one fits (at most a few dozen).
    fn turn_sharing_slot_with(t: &Turn, shared: bool) -> Turn {
        std::iter::repeat_with(Turn::default)
            .find(|u| (slot(u) == slot(t)) == shared)
            .expect("ids cycle through every slot")
    }

    #[test]
    fn positions_of_different_turns_do_not_mix() {
        let a = Turn::default();
        let b = turn_sharing_slot_with(&a, false);
        assert_eq!(a.next(), 0);
        assert_eq!(b.next(), 0);
        assert_eq!(a.next(), 1);
        assert_eq!(b.next(), 1);
    }

    #[test]
    fn colliding_turns_reclaim_rather_than_share() {
        let first = Turn::default();
        let last = turn_sharing_slot_with(&first, true);
        assert_eq!(first.next(), 0);
        assert_eq!(
            last.next(),
            0,
            "a fresh claim, not the other turn's position"
        );
        assert_eq!(first.next(), GOLDEN, "came back: a second claim");
    }
}
