//! Filling a table: the Maglev paper's listing 1 with Envoy's weighted turns, computed so that
//! the result is exactly Envoy's table, fast.
//!
//! Each entry has an offset and a skip from two xxHash64 hashes of its name (seeds 0 and 1), and
//! so a permutation of the slots: `(offset + skip × j) mod M` for `j = 0, 1, ...`. Entries take
//! turns in rounds ("iterations", from 1); in its turn an entry takes the first slot of its
//! permutation that is still empty. Envoy weighs the turns: an entry of normalized weight `w`
//! (its weight over the sum) takes its turn in iteration `k` unless `k × w < target`, and each
//! turn raises its `target` by the largest normalized weight, so the heaviest entry plays every
//! iteration and one of a third of its weight every third. The comparisons are Envoy's, in the
//! same floating-point arithmetic, so the turns, and the table, are the same.
//!
//! Two things make it fast without changing the result:
//!
//! - **Whose turn.** With weights within a factor of 8 of their mean, the rounds are walked as
//!   Envoy walks them. With more uneven weights most entries would skip most rounds (a round is
//!   O(N) and there can be M rounds), so each entry's next turn is computed from its target and
//!   the turns are taken from a heap in (iteration, entry) order: the same sequence.
//! - **The last empty slots.** Probing a permutation for an empty slot costs about M / E probes
//!   when E slots are empty, so most of a fill's probes happen at its very end. Once at most
//!   √M / 2 slots are empty, an entry's next slot is found directly: every slot before its position
//!   in its permutation is taken, so its next slot is the empty one that comes first in its
//!   permutation, the one with the smallest `j = (slot − offset) × skip⁻¹ mod M`.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use twox_hash::XxHash64;

use crate::fastmod::FastMod;

/// An index type of a table's slots.
pub(crate) trait Slot: Copy + Default {
    /// `index` as a slot; the table's width was chosen so that every entry index fits.
    fn from_index(index: u32) -> Self;
    /// The entry index in the slot.
    fn index(self) -> usize;
}

macro_rules! slot {
    ($t:ty) => {
        impl Slot for $t {
            #[inline]
            fn from_index(index: u32) -> Self {
                index as $t
            }
            #[inline]
            fn index(self) -> usize {
                self as usize
            }
        }
    };
}
slot!(u8);
slot!(u16);
slot!(u32);

/// One entry of positive weight being placed.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The entry's index in the caller's slice.
    index: u32,
    offset: u64,
    skip: u64,
    /// The next slot of its permutation to try: every slot before it there is taken.
    pos: u64,
    /// The normalized weight.
    weight: f64,
    target: f64,
}

impl Plan {
    /// The plan of entry `index`, named `name`, of normalized weight `weight`, in a table of
    /// `size` slots (a prime, at least 2).
    pub(crate) fn new(index: u32, name: &[u8], weight: f64, size: u64) -> Plan {
        let offset = XxHash64::oneshot(0, name) % size;
        let skip = XxHash64::oneshot(1, name) % (size - 1) + 1;
        Plan {
            index,
            offset,
            skip,
            pos: offset,
            weight,
            target: 0.0,
        }
    }
}

/// Fills a table of `size` slots (a prime) from `plans`, in Envoy's entry order, where
/// `max_weight` is the largest normalized weight.
pub(crate) fn fill<T: Slot>(plans: &mut [Plan], size: u64, max_weight: f64) -> Box<[T]> {
    // `size` fits in memory as a table, so in usize.
    let mut fill = Fill {
        size,
        modulo: FastMod::new(size),
        table: vec![T::default(); size as usize],
        occupied: vec![0; size.div_ceil(64) as usize],
        filled: 0,
        // Past this point a direct search (one multiplication per empty slot) beats probing
        // (about M / E probes, each a little cheaper): measured, about √M / 2.
        end_at: (size as f64).sqrt() as u64 / 2,
        end: None,
        max_weight,
    };
    if plans.is_empty() {
        return Box::default();
    }
    if max_weight * plans.len() as f64 <= 8.0 {
        fill.by_rounds(plans);
    } else {
        fill.by_heap(plans);
    }
    fill.table.into_boxed_slice()
}

struct Fill<T> {
    size: u64,
    modulo: FastMod,
    table: Vec<T>,
    /// One bit per slot, until the end phase.
    occupied: Vec<u64>,
    filled: u64,
    /// The end phase starts when this many slots or fewer are empty.
    end_at: u64,
    end: Option<End>,
    max_weight: f64,
}

/// The end phase: the empty slots, and each plan's skip⁻¹ mod M.
struct End {
    empty: Vec<u64>,
    inverse: Vec<u64>,
}

impl<T: Slot> Fill<T> {
    /// Envoy's loops: every entry, every iteration.
    fn by_rounds(&mut self, plans: &mut [Plan]) {
        let mut iteration: u64 = 1;
        while self.filled < self.size {
            for i in 0..plans.len() {
                if self.filled == self.size {
                    break;
                }
                if (iteration as f64) * plans[i].weight < plans[i].target {
                    continue;
                }
                self.place(plans, i);
            }
            iteration += 1;
        }
    }

    /// The same turns, in the same order, from a heap of each entry's next iteration.
    fn by_heap(&mut self, plans: &mut [Plan]) {
        // Every entry plays in iteration 1 (its target is 0).
        let mut heap: BinaryHeap<Reverse<(u64, u32)>> =
            (0..plans.len() as u32).map(|i| Reverse((1, i))).collect();
        while self.filled < self.size {
            // The heaviest entry plays every iteration, so the heap never empties before the
            // table is full.
            let Some(Reverse((iteration, i))) = heap.pop() else {
                break;
            };
            let i = i as usize;
            self.place(plans, i);
            if let Some(next) = next_turn(iteration, &plans[i], self.size) {
                heap.push(Reverse((next, i as u32)));
            }
        }
    }

    /// Entry `i` takes its turn: the first empty slot of its permutation.
    fn place(&mut self, plans: &mut [Plan], i: usize) {
        if self.end.is_none() && self.size - self.filled <= self.end_at {
            self.start_end(plans);
        }
        let plan = &mut plans[i];
        plan.target += self.max_weight;
        let slot = match &mut self.end {
            None => {
                let mut slot = plan.pos;
                while self.occupied[(slot / 64) as usize] & (1 << (slot % 64)) != 0 {
                    slot = wrap(slot + plan.skip, self.size);
                }
                self.occupied[(slot / 64) as usize] |= 1 << (slot % 64);
                slot
            }
            Some(end) => end.take(plan, i, self.size, self.modulo),
        };
        plan.pos = wrap(slot + plan.skip, self.size);
        self.table[slot as usize] = T::from_index(plan.index);
        self.filled += 1;
    }

    fn start_end(&mut self, plans: &[Plan]) {
        let empty = (0..self.size)
            .filter(|&slot| self.occupied[(slot / 64) as usize] & (1 << (slot % 64)) == 0)
            .collect();
        let inverse = plans
            .iter()
            .map(|p| inverse_mod(p.skip, self.size))
            .collect();
        self.occupied = Vec::new();
        self.end = Some(End { empty, inverse });
    }
}

impl End {
    /// Takes the empty slot that comes first in the permutation of `plan` (plan `i`) in a table
    /// of `size` slots.
    fn take(&mut self, plan: &Plan, i: usize, size: u64, modulo: FastMod) -> u64 {
        let inverse = self.inverse[i];
        let mut best = (u64::MAX, 0);
        for (k, &slot) in self.empty.iter().enumerate() {
            let from_offset = wrap(slot + size - plan.offset, size);
            // Both factors are below the table size (at most 2^26), so the product fits.
            let j = modulo.rem(from_offset * inverse);
            if j < best.0 {
                best = (j, k);
            }
        }
        // The caller places only while the table is not full, so some slot is empty.
        self.empty.swap_remove(best.1)
    }
}

/// `x mod size` for `x < 2 × size`.
#[inline]
fn wrap(x: u64, size: u64) -> u64 {
    if x >= size { x - size } else { x }
}

/// The smallest iteration after `iteration` in which `plan` takes a turn (Envoy's test:
/// `!(k × weight < target)`), or `None` if that is after iteration `size`, by which the table is
/// full (the heaviest entry takes a turn every iteration).
fn next_turn(iteration: u64, plan: &Plan, size: u64) -> Option<u64> {
    // Envoy skips a turn when `k × weight < target`; a NaN (no such thing here: weights are
    // positive and finite) would play, as in Envoy.
    let plays = |k: u64| (k as f64 * plan.weight).partial_cmp(&plan.target) != Some(Ordering::Less);
    let estimate = plan.target / plan.weight;
    // `None` for NaN too: a weight that underflowed to 0 never plays again.
    if estimate
        .partial_cmp(&((size + 1) as f64))
        .is_none_or(Ordering::is_gt)
    {
        return None;
    }
    // The estimate is within a rounding of the answer; iterations up to `size + 2` are exact in
    // f64, so these loops take a step or two.
    let mut k = (estimate.ceil() as u64).max(iteration + 1);
    while k > iteration + 1 && plays(k - 1) {
        k -= 1;
    }
    while !plays(k) {
        k += 1;
    }
    (k <= size).then_some(k)
}

/// `a⁻¹ mod m` for a prime `m` and `0 < a < m` (extended Euclid).
fn inverse_mod(a: u64, m: u64) -> u64 {
    let (mut r0, mut r1) = (i128::from(m), i128::from(a));
    let (mut t0, mut t1) = (0i128, 1i128);
    while r1 != 0 {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (t0, t1) = (t1, t0 - q * t1);
    }
    // r0 == 1 as m is prime and a is not a multiple of it; t0 is the inverse up to sign.
    t0.rem_euclid(i128::from(m)) as u64
}

#[cfg(test)]
mod tests;
