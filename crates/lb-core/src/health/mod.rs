//! Health: the cells that hold each probe target's health and the [`HealthRegistry`] that shares
//! them between load balancers. Probing itself (the `HealthCheck` trait, passes, the watch of
//! health events) is async and lives in `runtime/`.

pub(crate) mod cell;
pub(crate) mod registry;

pub use cell::{HealthKey, HealthStatus, InitialHealth};
pub use registry::HealthRegistry;
pub(crate) use registry::{Registrar, Source};

/// The default bound on concurrent probes of a parallel health-check pass: far below a
/// listener's usual accept backlog, so that probing thousands of backends on one host cannot
/// overflow it.
pub const DEFAULT_HEALTH_CHECK_CONCURRENCY: usize = 128;
