//! [`Rendezvous`]: highest random weight hashing, weighted by the logarithmic method.

use std::fmt;

use lb_core::{Backend, BackendIter, BackendSelection, BoxError};

use crate::arith::GOLDEN;
use crate::candidates::{Candidates, DRAWS, Draw};
use crate::layout::Layout;

/// Rendezvous hashing, or highest random weight (Thaler and Ravishankar, 1998): every backend
/// scores the key, and the best score wins.
///
/// A backend's score for a key comes from a 64-bit mix of the key's hash (XXH3) and a hash of
/// the backend's address, so it depends on that backend and that key only. Removing a backend
/// therefore moves exactly its own keys (each to the backend that scored second), and adding one
/// moves only the keys it wins: the least disruption any strategy can have, which is why it is
/// the building block of subsetting. The price is a score per backend per pick: a pick is O(N)
/// (a few arithmetic operations per backend, no memory access beyond two arrays), with no table.
/// Use it for tens to hundreds of backends, or when disruption matters more than nanoseconds.
///
/// **Weights** by the logarithmic method (Schindelhauer and Schomaker, 2005; used by Ceph's
/// straw2): with `u` the backend's hash as a number in (0, 1), the score is `−weight / ln(u)`,
/// which gives each backend exactly its weight's share of keys and keeps the disruption minimal
/// when weights change. With equal weights the score is the hash itself (no logarithm). A
/// logarithm is computed only for a backend that could still beat the best score so far (a
/// cheap bound rules out the others), so weighted picks cost little more than unweighted ones.
/// Scores are floating-point: two machines whose `ln` differ in the last bit could order two
/// backends differently only when their scores agree to the last bit.
///
/// **Order after the first pick**: the next best scores (where the key goes if the better
/// backends leave), at most 8 of them, each found by another pass over the backends; then every
/// other backend once, standbys last.
///
/// **Weight 0** is a standby: no score, never the first pick while a positive-weight backend
/// exists, offered after every one of them. When every weight is 0 they are treated as equal.
///
/// **Memory**: 8 bytes per backend for its hash, 8 more for its weight when weights differ.
///
/// ```
/// use lb_core::LoadBalancer;
/// use lb_selection::Rendezvous;
///
/// let lb = LoadBalancer::<Rendezvous>::try_from_iter(["10.0.0.1:80", "10.0.0.2:80", "unix:/run/c.sock"])
///     .unwrap();
/// let first = lb.select(b"user-42").unwrap().addr.clone();
/// assert_eq!(lb.select(b"user-42").unwrap().addr, first);
/// ```
pub struct Rendezvous {
    layout: Layout,
    /// The hash of each active backend's address, by active position (as in `Layout::order`).
    seeds: Box<[u64]>,
    /// 1 / weight of each active backend, by active position; empty when the weights are equal.
    inverse_weights: Box<[f64]>,
}

impl Rendezvous {
    /// Heap bytes held by the selector.
    pub fn heap_bytes(&self) -> usize {
        self.layout.heap_bytes() + self.seeds.len() * 8 + self.inverse_weights.len() * 8
    }

    /// The active position of the best backend for `hash`, with its rank; `None` for no
    /// active backend. Ranks order backends best first: `(rank, position)` ascending.
    #[inline]
    fn best(&self, hash: u64) -> Option<(u64, usize)> {
        let (&first_seed, rest) = self.seeds.split_first()?;
        if self.inverse_weights.is_empty() {
            // Equal weights: the highest hash wins (rank = !hash); the first on a tie.
            let mut best = (!mix(hash ^ first_seed), 0);
            for (pos, &seed) in rest.iter().enumerate() {
                let rank = !mix(hash ^ seed);
                if rank < best.0 {
                    best = (rank, pos + 1);
                }
            }
            return Some(best);
        }
        // The lowest −ln(u) / weight wins (the highest −weight / ln(u)).
        let score = |pos: usize, u: f64| -u.ln() * self.inverse_weights[pos];
        let mut best = (score(0, unit(mix(hash ^ first_seed))), 0);
        for (pos, &seed) in rest.iter().enumerate() {
            let pos = pos + 1;
            let u = unit(mix(hash ^ seed));
            // −ln(u) ≥ 1 − u, so (1 − u) / weight bounds the score from below; shaved so that a
            // rounding in `ln` can never make the bound exceed the score.
            if (1.0 - u) * self.inverse_weights[pos] * (1.0 - 1e-9) > best.0 {
                continue;
            }
            let t = score(pos, u);
            if t < best.0 {
                best = (t, pos);
            }
        }
        // Non-negative, so its bits order as the number does.
        Some((best.0.to_bits(), best.1))
    }

    /// The best backend whose rank comes after `after` (see [`Rendezvous::best`]): the next in
    /// the order, one pass over the backends; `None` when none is left.
    fn best_after(&self, hash: u64, after: (u64, usize)) -> Option<(u64, usize)> {
        let mut best: Option<(u64, usize)> = None;
        if self.inverse_weights.is_empty() {
            for (pos, &seed) in self.seeds.iter().enumerate() {
                let rank = !mix(hash ^ seed);
                if (rank, pos) > after && best.is_none_or(|b| (rank, pos) < b) {
                    best = Some((rank, pos));
                }
            }
        } else {
            for (pos, (&seed, &inverse)) in
                self.seeds.iter().zip(&*self.inverse_weights).enumerate()
            {
                let u = unit(mix(hash ^ seed));
                if let Some((b, _)) = best {
                    // The same bound as in `best`.
                    let bound = (1.0 - u) * inverse * (1.0 - 1e-9);
                    if bound.to_bits() > b {
                        continue;
                    }
                }
                let rank = (-u.ln() * inverse).to_bits();
                if (rank, pos) > after && best.is_none_or(|b| (rank, pos) < b) {
                    best = Some((rank, pos));
                }
            }
        }
        best
    }
}

/// A 64-bit mix with full avalanche (the splitmix64 finalizer): a backend's hash for a key.
#[inline]
fn mix(x: u64) -> u64 {
    let x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// `x`'s top 53 bits as a number in (0, 1): never 0, so its logarithm is finite.
#[inline]
fn unit(x: u64) -> f64 {
    ((x >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

impl BackendSelection for Rendezvous {
    type Config = ();
    type Iter<'a> = RendezvousIter<'a>;

    /// The key picks the backend; with priority levels or zones it picks those too.
    const USES_KEY: bool = true;

    fn build(backends: &[Backend], _config: &()) -> Result<Self, BoxError> {
        let layout = Layout::new(backends)?;
        let active = &layout.order()[..layout.active()];
        let seeds = active
            .iter()
            .map(|&i| {
                lb_maglev::KeyMapping::Fast.hash(backends[i as usize].addr.to_string().as_bytes())
            })
            .collect();
        let weights: Vec<u64> = layout.active_weights(backends).collect();
        let equal = weights.windows(2).all(|w| w[0] == w[1]);
        let inverse_weights = if equal {
            Box::default()
        } else {
            weights.iter().map(|&w| 1.0 / w as f64).collect()
        };
        Ok(Rendezvous {
            layout,
            seeds,
            inverse_weights,
        })
    }

    #[inline]
    fn iter(&self, key: &[u8]) -> RendezvousIter<'_> {
        let hash = lb_maglev::KeyMapping::Fast.hash(key);
        let first = self.best(hash);
        RendezvousIter {
            inner: Candidates::new(
                first.map(|(_, pos)| self.layout.active_index(pos)),
                NextBest {
                    selector: self,
                    hash,
                    last: first,
                },
                DRAWS as u8,
                self.layout.order(),
                self.layout.active(),
            ),
        }
    }
}

impl fmt::Debug for Rendezvous {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendezvous")
            .field("backends", &self.layout.len())
            .field("weighted", &!self.inverse_weights.is_empty())
            .finish()
    }
}

/// Fallback draws of [`Rendezvous`]: the next best score, one pass each.
struct NextBest<'a> {
    selector: &'a Rendezvous,
    hash: u64,
    last: Option<(u64, usize)>,
}

impl Draw for NextBest<'_> {
    fn draw(&mut self) -> usize {
        let Some(last) = self.last else {
            return usize::MAX;
        };
        self.last = self.selector.best_after(self.hash, last);
        // Out of range once every active backend was offered; skipped.
        self.last.map_or(usize::MAX, |(_, pos)| {
            self.selector.layout.active_index(pos)
        })
    }

    fn scan_seed(&self) -> u64 {
        self.hash.wrapping_mul(GOLDEN)
    }
}

/// The candidates of a [`Rendezvous`] selector for one key.
pub struct RendezvousIter<'a> {
    inner: Candidates<'a, NextBest<'a>>,
}

impl BackendIter for RendezvousIter<'_> {
    #[inline]
    fn next(&mut self) -> Option<usize> {
        self.inner.next()
    }
}

impl fmt::Debug for RendezvousIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RendezvousIter").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
