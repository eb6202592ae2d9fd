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
//! | [`LeastRequest`] | the fewest requests in flight per unit of weight of two (or `N`) weighted random draws (the power of two choices), or of every ready backend ([`LeastRequest::full_scan`], nginx's `least_conn`) | two random numbers and two counter loads (a full scan: a pass over the set) | 24 bytes |
//! | [`PeakEwma`] | the lower `latency × (in_flight + 1) / weight` of two weighted random draws (Finagle's, tower's and linkerd's Peak EWMA) | two random numbers, two counter loads, two latency estimates | 24 bytes |
//! | [`Weighted`], [`FnvHash`] | hash of the key modulo the total weight: **the same as pingora's `FNVHash`** | one hash of the key | at most 28 bytes |
//! | [`Consistent`], [`KetamaHashing`] | nginx's ketama ring (`hash $key consistent`) | CRC32 of the key and an indexed ring lookup | about 10 bytes per ring point (160 points per unit of weight) |
//! | [`Maglev`] | Envoy's `MAGLEV` table (shares within about 1% of the weights) | XXH3 of the key, a multiplication and one table load (or Envoy's xxHash64 and a remainder) | about 100 table slots of 1 to 4 bytes |
//! | [`Rendezvous`] | highest random weight, weighted by the logarithmic method (least disruption) | a hash of the key and a score per backend: O(N) | 8 or 16 bytes |
//! | [`Jump`] | Lamping and Veach's jump consistent hash (no weights: shards `0..n`) | a hash of the key and about ln(N) steps | 4 bytes |
//! | [`Bounded<S>`](Bounded) | `S`'s order, skipping backends over a cap on requests in flight (HAProxy's `hash-balance-factor`) | `S`'s pick and a load per backend looked at; the total load summed only as far as a decision needs | `S`'s and 4 bytes |
//!
//! A pick through `LoadBalancer::select` is lb-core's part (one atomic load of the published
//! generation, one readiness load per candidate, two atomic operations to own the generation)
//! plus the strategy's column above; a [`Selector`](lb_core::Selector) drops the two atomic
//! operations. The measured figures are in the README and the bench report
//! (`cargo xtask bench`).
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
//! # Writing a strategy
//!
//! The [`kit`] holds what the built-in strategies are made of. Here is a complete strategy, the
//! least latency of two weighted random choices, built from it; [`testing::check_contract`]
//! checks it as every built-in strategy is checked:
//!
//! ```
//! use lb_core::{Backend, BackendSelection, BoxError, LoadBalancer, Outcome, States};
//! use lb_selection::kit::{AliasTable, Candidates, Draw, Layout, random_u64};
//!
//! /// Two weighted random draws; the one with the lower latency estimate wins.
//! struct LeastLatency {
//!     layout: Layout,
//!     table: AliasTable,
//! }
//!
//! /// After the first pick: more weighted draws, then the shared scan.
//! struct Redraw<'a>(&'a AliasTable);
//!
//! impl Draw for Redraw<'_> {
//!     fn draw(&mut self) -> usize { self.0.pick(random_u64()) }
//!     fn scan_seed(&self) -> u64 { random_u64() }
//! }
//!
//! impl BackendSelection for LeastLatency {
//!     type Config = ();
//!     type Iter<'a> = Candidates<'a, Redraw<'a>>;
//!     const NEEDS_LOAD: bool = true; // it reads latency estimates
//!
//!     fn build(backends: &[Backend], _: &()) -> Result<Self, BoxError> {
//!         let layout = Layout::new(backends)?;
//!         let table = AliasTable::new(&layout, backends);
//!         Ok(LeastLatency { layout, table })
//!     }
//!
//!     fn iter(&self, _key: &[u8]) -> Self::Iter<'_> {
//!         let first = (!self.table.is_empty()).then(|| self.table.pick(random_u64()));
//!         Candidates::from_layout(first, Redraw(&self.table), &self.layout)
//!     }
//!
//!     fn iter_with_states<'a>(&'a self, _key: &[u8], states: States<'a>) -> Self::Iter<'a> {
//!         let first = (!self.table.is_empty()).then(|| {
//!             let (a, b) = (self.table.pick(random_u64()), self.table.pick(random_u64()));
//!             let now = states.now();
//!             if states.latency(b, now).0 < states.latency(a, now).0 { b } else { a }
//!         });
//!         Candidates::from_layout(first, Redraw(&self.table), &self.layout)
//!     }
//! }
//!
//! let lb = LoadBalancer::<LeastLatency>::try_from_iter(["10.0.0.1:80", "10.0.0.2:80"]).unwrap();
//! let slow = lb.select(b"").unwrap();
//! let slow_addr = slow.addr.clone();
//! slow.report(Outcome::Success, std::time::Duration::from_secs(2));
//! // The other backend, with no sample yet, is estimated at 30 ms: it wins whenever drawn.
//! let picks = (0..1000).filter(|_| lb.select(b"").unwrap().addr != slow_addr).count();
//! assert!(picks > 650, "{picks}");
//! # #[cfg(feature = "testing")]
//! # lb_selection::testing::check_contract::<LeastLatency>(&()).unwrap();
//! ```
//!
//! # Feature flags
//!
//! - `testing`: [`testing::check_contract`], the contract's property checks for your own
//!   strategies' tests (it links a counting global allocator: enable it in
//!   `[dev-dependencies]`).
//!
//! Every strategy is always built, and lb-core's `runtime` feature is not needed.

mod alias;
mod arith;
mod bounded;
mod candidates;
mod cdf;
mod consistent;
mod error;
mod jump;
pub mod kit;
mod layout;
mod least_request;
mod maglev;
mod peak_ewma;
mod random;
mod rendezvous;
mod rng;
mod round_robin;
mod weighted;

#[cfg(feature = "testing")]
pub mod testing;

#[cfg(test)]
mod test_util;

pub use bounded::{Bounded, BoundedConfig, BoundedIter, DEFAULT_BALANCE_FACTOR};
pub use consistent::{Consistent, ConsistentIter, KetamaConfig, KetamaHashing};
pub use error::SelectionError;
pub use jump::{Jump, JumpIter, JumpKey, jump_bucket};
pub use least_request::{LeastConnections, LeastRequest, LeastRequestConfig, LeastRequestIter};
pub use maglev::{Maglev, MaglevConfig, MaglevIter};
pub use peak_ewma::{PeakEwma, PeakEwmaIter};
pub use random::{Random, RandomIter};
pub use rendezvous::{Rendezvous, RendezvousIter};
pub use round_robin::{Regime, RoundRobin, RoundRobinIter};
#[allow(deprecated)]
pub use weighted::{FNVHash, FVNHash, FnvHash, Weighted, WeightedIter};
