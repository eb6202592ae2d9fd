//! Subsetting: each client keeps a subset of a discovery source's backends, so that it connects
//! to and health-checks only those: [`SubsetDiscovery`] over any [`ServiceDiscovery`], with a
//! [`Subset`] (deterministic) or a [`RandomSubset`] (rendezvous) policy.
//!
//! When every client talks to every backend, connections and health probes grow as clients ×
//! backends. With subsetting each client keeps `subset_size` backends. The subset is chosen from
//! the source's whole answer, ready or not: a backend that fails stays in the subsets that hold
//! it (the load balancer stops picking it, as it would without subsetting), so health flips move
//! no connection. The strategy then picks within the subset as within any set: subsetting
//! composes with every strategy, health check and policy.
//!
//! ```
//! use lb_core::{Backends, LoadBalancer};
//! use lb_discovery_static::{Static, Subset, SubsetDiscovery};
//! use lb_selection::RoundRobin;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let list = Static::try_from_iter((1..=300).map(|i| format!("10.0.{}.{}:80", i / 200, i % 200 + 1)))
//!     .unwrap();
//! // Client 42 of 300 connects to 10 backends; every backend serves exactly 10 clients.
//! let subset = Subset::new(42, 300, 10).unwrap();
//! let source = SubsetDiscovery::new(list.clone(), subset);
//! let lb = LoadBalancer::<RoundRobin>::from_backends(Backends::new(Box::new(source)));
//! lb.update().await.unwrap();
//! assert_eq!(lb.backends().get_backend().backends(), subset.select(&list.get()));
//! # }
//! ```
//!
//! # Deterministic subsetting: [`Subset`]
//!
//! Google's SRE book (chapter 20) for clients with stable ids `0..client_count`. With `n`
//! distinct backends and `k` per client, a **round** of `subset_count = n / k` clients (rounded
//! to the nearest whole number, at least 1) shares one order of the backends and cuts it into
//! consecutive windows of `k`: client `id` is in round `id / subset_count` and takes window
//! `id % subset_count`. Each round orders the backends differently, so that the clients of a
//! failed backend spread over many others.
//!
//! The book shuffles the list with the round as the random seed; here a round's order is the
//! backends sorted by the hash of their address seeded with the round (**hash-ordered rounds**:
//! xxHash64 of the address's text form, ties broken by address). A backend's place in the
//! order then depends on its own address only: adding or removing one inserts or deletes one
//! position and moves no other backend relative to the rest, where a shuffle of the list would
//! deal every position anew. The order of the input never matters (backends are taken one per
//! address, sorted by address first).
//!
//! When `n` is a multiple of `k` and the ids in use fill whole rounds (`client_count` a multiple
//! of `n / k`), every backend has exactly `client_count × k / n` clients.
//!
//! **The remainder.** When `k` does not divide `n`, a round's windows do not cover its order
//! exactly. If `n / k` was rounded down, the last `n mod k` backends of the order (fewer than
//! `k / 2`) are in no window of that round; if it was rounded up, the last window runs past the
//! end and wraps to the start, so the first few backends of the order (at most `k / 2`) are in
//! two windows of that round. Since every round orders the backends differently, the backends
//! left out or doubled change from round to round, and the load stays within a few clients of
//! the mean over several rounds. Every client still gets exactly `k` distinct backends.
//!
//! **Churn.** While `subset_count` stays the same, adding or removing a backend shifts the
//! windows that come after its position in each round's order by one: each client whose window
//! is at or after it exchanges one backend (two where a window wraps), and the clients before
//! it keep theirs, so about half the clients change one backend. When the change makes
//! `subset_count` itself change (when `n / k` crosses a half, as from 295 backends of size 10 to
//! 294), rounds are regrouped and most clients get a new subset: this is deterministic
//! subsetting's known weakness (Google replaced it with Rocksteady for services that resize
//! often). Rounding to the nearest whole number puts these steps half-way between multiples
//! of `k`, so that a set sized as a multiple of `k` can gain or lose up to `k / 2 - 1`
//! backends without one.
//!
//! # Random subsetting: [`RandomSubset`]
//!
//! gRPC's A68 draft: each client draws a random seed and keeps the `k` backends whose address
//! hashes lowest under it (rendezvous hashing, xxHash64 as A68 suggests). Clients need no id and
//! no coordination, and churn is minimal: a backend added or removed changes at most one
//! backend of a client's subset, and only for the clients whose subset it enters or leaves (on
//! average `k / n` of them). The price is balance: each backend's number of clients is a sum of
//! independent draws, so some backends get far more clients than others, the more so the
//! smaller `clients × k / n` is.
//!
//! # Which to use
//!
//! - Clients with stable ids (StatefulSet ordinals, task indices) and a backend count that
//!   changes rarely: [`Subset`], for an exact balance of connections.
//! - Clients without ids (autoscaled replicas, serverless), or backends that resize often:
//!   [`RandomSubset`], for minimal churn at the cost of an uneven spread; pick `k` large enough
//!   that `clients × k / n` is in the tens or more.
//!
//! The bench report (`cargo xtask bench`) and the README give the measured spread and churn of
//! both at the SRE book's 300 clients, 300 backends and subset size 10.
//!
//! # Weights
//!
//! Membership ignores weights: a subset keeps each chosen backend as it is (weight, extensions),
//! and the strategy weighs them within the subset. Standbys (weight 0) are chosen like any
//! other backend.

mod deterministic;
mod discovery;
mod error;
mod order;
mod policy;
mod random;

pub use deterministic::Subset;
pub use discovery::SubsetDiscovery;
pub use error::SubsetError;
pub use policy::SubsetPolicy;
pub use random::RandomSubset;

#[cfg(doc)]
use lb_core::ServiceDiscovery;
