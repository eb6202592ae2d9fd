//! Backend selection strategies for lb: smooth weighted round robin, weighted random, least
//! request (power of two choices), weighted hashing, and consistent hashing (nginx-identical
//! ketama, Envoy-identical Maglev, rendezvous, jump, and bounded loads over any of them), each
//! allocation-free and lock-free per pick.
//!
//! lb-selection sits on top of lb-core: each strategy implements
//! [`BackendSelection`](lb_core::BackendSelection) and plugs into a
//! [`LoadBalancer`](lb_core::LoadBalancer), which publishes it together with the backends and
//! their health. `Consistent` builds on lb-ketama's ring and `Maglev` on lb-maglev's table. It
//! needs lb-core without its `runtime` feature, so it works without tokio.
//!
//! ```
//! use lb_core::{Backend, LoadBalancer};
//! use lb_selection::{Consistent, FnvHash, Random, RoundRobin};
//!
//! let backends = || {
//!     [
//!         Backend::new_with_weight("10.0.0.1:80", 2).unwrap(),
//!         Backend::new_with_weight("10.0.0.2:80", 1).unwrap(),
//!         Backend::new_with_weight("unix:/run/spare.sock", 0).unwrap(), // a standby
//!     ]
//! };
//! let rr = LoadBalancer::<RoundRobin>::try_from_iter(backends()).unwrap();
//! let picks: Vec<String> = (0..3).map(|_| rr.select(b"").unwrap().addr.to_string()).collect();
//! assert_eq!(picks, ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.1:80"]);
//!
//! let hash = LoadBalancer::<Consistent>::try_from_iter(backends()).unwrap();
//! let a = hash.select(b"session-7").unwrap().addr.clone();
//! assert_eq!(hash.select(b"session-7").unwrap().addr, a, "a key sticks to its backend");
//!
//! // Every strategy offers every backend once, so `select` finds a ready one if any is.
//! let random = LoadBalancer::<Random>::try_from_iter(backends()).unwrap();
//! for b in random.backends().get_backend().iter().take(2) {
//!     random.backends().set_enable(b, false);
//! }
//! assert_eq!(random.select(b"").unwrap().addr.to_string(), "unix:/run/spare.sock");
//! # let _ = LoadBalancer::<FnvHash>::try_from_iter(backends()).unwrap();
//! ```
//!
//! # Strategies
//!
//! | strategy | first pick | per pick | memory per backend |
//! | --- | --- | --- | --- |
//! | [`RoundRobin`] | nginx's smooth weighted round robin (an evenly spread golden-ratio sequence for weights too uneven to tabulate) | a thread-local counter, no shared write | 4 to 68 bytes (small sets of uneven weights: up to 16 KiB in all) |
//! | [`Random`] | weighted random (alias method) | one per-thread random number | 20 bytes |
//! | [`LeastRequest`] | the fewer requests in flight per unit of weight of two weighted random draws (power of two choices) | two random numbers and two counter loads | 24 bytes |
//! | [`Weighted`], [`FnvHash`] | hash of the key modulo the total weight: **the same as pingora's `FNVHash`** | one hash of the key | at most 20 bytes |
//! | [`Consistent`], [`KetamaHashing`] | nginx's ketama ring (`hash $key consistent`) | CRC32 of the key and an indexed ring lookup | about 10 bytes per ring point (160 points per unit of weight) |
//! | [`Maglev`] | Envoy's `MAGLEV` table (shares within about 1% of the weights) | XXH3 of the key, a multiplication and one table load (or Envoy's xxHash64 and a remainder) | about 100 table slots of 1 to 4 bytes |
//! | [`Rendezvous`] | highest random weight, weighted by the logarithmic method (least disruption) | a hash of the key and a score per backend: O(N) | 8 or 16 bytes |
//! | [`Jump`] | Lamping and Veach's jump consistent hash (no weights: shards `0..n`) | a hash of the key and about ln(N) steps | 4 bytes |
//! | [`Bounded<S>`](Bounded) | `S`'s order, skipping backends over a cap on requests in flight (HAProxy's `hash-balance-factor`) | `S`'s pick and a load per backend looked at; the total load summed only as far as a decision needs | `S`'s and 4 bytes |
//!
//! Measured on a 2-core Xeon (2.6 GHz) with 10,000 backends of weights 1 to 10 and a health
//! check set, `LoadBalancer::select` takes about 15 ns with `RoundRobin` and `Random`, 18 ns
//! with `LeastRequest`, 19 to 26 ns with `FnvHash` (4- to 16-byte keys) and 36 to 44 ns with
//! `Consistent` (weight 1 to weights 1 to 10), of which about 12 ns is lb-core's part (the
//! snapshot load, the readiness check and the `Pick`); see `benches/benches/select.rs`.
//!
//! # Candidate order and weights
//!
//! After the first pick every strategy offers more candidates *its own way* (the next turns of
//! the round robin, rehashes of the key, more random draws, the next points of the ring), at most
//! 8 distinct backends, then every remaining backend; so each backend is offered **exactly
//! once**, and a down backend's traffic spreads over the others by weight.
//!
//! Weight 0 is a **standby** in every strategy: never the first pick while a backend of positive
//! weight exists, and offered only after every one of them (in address order), so `select`
//! returns it only when no positive-weight backend is ready. When every weight is 0, the backends
//! are treated as equal. [`Jump`] gives every positive weight an equal share (jump has no
//! weights). Weights up to `u32::MAX` work in every strategy but [`Consistent`], whose
//! ring holds at most [`lb_ketama::MAX_POINTS`] points: a heavier set is a build error naming the
//! heaviest backend (see its docs). No strategy expands weights into a table, and none is limited
//! to 65,536 backends.
//!
//! # Feature flags
//!
//! None: every strategy is always built. (lb-core's `runtime` feature is not needed.)

mod arith;
mod bounded;
mod candidates;
mod cdf;
mod consistent;
mod error;
mod jump;
mod layout;
mod least_request;
mod maglev;
mod random;
mod rendezvous;
mod rng;
mod round_robin;
mod weighted;

#[cfg(test)]
mod test_util;

pub use bounded::{Bounded, BoundedConfig, BoundedIter, DEFAULT_BALANCE_FACTOR};
pub use consistent::{Consistent, ConsistentIter, KetamaConfig, KetamaHashing};
pub use error::SelectionError;
pub use jump::{Jump, JumpIter, JumpKey, jump_bucket};
pub use least_request::{LeastRequest, LeastRequestIter};
pub use maglev::{Maglev, MaglevConfig, MaglevIter};
pub use random::{Random, RandomIter};
pub use rendezvous::{Rendezvous, RendezvousIter};
pub use round_robin::{Regime, RoundRobin, RoundRobinIter};
#[allow(deprecated)]
pub use weighted::{FNVHash, FVNHash, FnvHash, Weighted, WeightedIter};
