//! lb against pingora-load-balancing 0.9.1, in one process, on the same machine, keys and
//! backend sets: what `cargo xtask bench --compare pingora` runs.
//!
//! Two binaries share this library:
//!
//! - `compare` times `select` (lb's owned `Pick`, lb's per-worker `Selector`, pingora's `select`),
//!   selector builds and updates that change one or ten backends, interleaving the contenders batch by batch so that a change in the
//!   machine's load hits all of them alike, and checks that lb's `FnvHash` and `Consistent` pick
//!   the same first backend as pingora's `FNVHash` and `KetamaHashing` (an assertion on IPv4
//!   sets; on IPv6 sets the differing keys of the ring are counted, since lb follows nginx there).
//! - `memory` counts each selector's bytes with a counting global allocator. It is a separate
//!   process because that allocator taxes every allocation, and pingora's `select` allocates (its
//!   `UniqueIterator` inserts into a `HashSet`) while lb's does not: sharing the process would
//!   bias the timings in lb's favour.
//!
//! Both write JSON lines (`--out FILE`) that xtask folds into `target/lb-report/report.md`.
//!
//! ```
//! use lb_compare_pingora::sets::{Spec, ipv4};
//!
//! let specs: Vec<Spec> = ipv4(3, |i| 1 + i as u32);
//! assert_eq!(specs[2].addr.to_string(), "10.0.0.3:8080");
//! assert_eq!(specs[2].weight, 3);
//! ```
//!
//! # Feature flags
//!
//! None.

pub mod args;
pub mod sets;
pub mod timing;
pub mod update;
