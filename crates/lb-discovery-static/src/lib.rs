//! Static backend lists and discovery adapters: [`Static`], a list the application edits at
//! run time, and [`SubsetDiscovery`], which narrows any source to this client's subset
//! ([`Subset`]: deterministic subsetting; [`RandomSubset`]: rendezvous subsetting).
//!
//! It sits between lb-core and the application. [`Static`] is a [`ServiceDiscovery`] source
//! whose answer is whatever the application last set: every change is pushed to the load
//! balancer at once (no polling needed), and concurrent edits from many threads are never lost.
//! The [`subset`] adapters wrap any source (this one, DNS, Kubernetes) so that each client
//! connects to and health-checks only its share of the backends.
//!
//! ```
//! use lb_core::{Backend, Backends, LoadBalancer};
//! use lb_discovery_static::Static;
//! # use lb_core::{BackendIter, BackendSelection, BoxError};
//! # struct First(usize);
//! # struct It(std::ops::Range<usize>);
//! # impl BackendIter for It { fn next(&mut self) -> Option<usize> { self.0.next() } }
//! # impl BackendSelection for First {
//! #     type Config = ();
//! #     type Iter<'a> = It;
//! #     fn build(b: &[Backend], _: &()) -> Result<Self, BoxError> { Ok(First(b.len())) }
//! #     fn iter(&self, _: &[u8]) -> It { It(0..self.0) }
//! # }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let list = Static::try_from_iter(["10.0.0.1:80"]).unwrap();
//! let lb = LoadBalancer::<First>::from_backends(Backends::new(Box::new(list.clone())));
//! lb.update().await.unwrap();
//! assert_eq!(lb.select(b"").unwrap().addr.to_string(), "10.0.0.1:80");
//!
//! list.add(Backend::new("10.0.0.0:80").unwrap()); // a background service would apply this at once
//! lb.update().await.unwrap();
//! assert_eq!(lb.select(b"").unwrap().addr.to_string(), "10.0.0.0:80");
//! # }
//! ```
//!
//! # Feature flags
//!
//! None. lb-discovery-static needs lb-core's `runtime` feature, which it enables.

mod list;
pub mod subset;

pub use list::Static;
pub use subset::{RandomSubset, Subset, SubsetDiscovery, SubsetError, SubsetPolicy};

#[cfg(doc)]
use lb_core::ServiceDiscovery;
