//! Health: the [`HealthCheck`] trait, the [`HealthRegistry`] that runs probes and shares them
//! between load balancers, and the stream of health changes.

/// The default bound on concurrent probes of a parallel health-check pass: far below a
/// listener's usual accept backlog, so that probing thousands of backends on one host cannot
/// overflow it.
pub const DEFAULT_HEALTH_CHECK_CONCURRENCY: usize = 128;

mod registry;
pub use registry::HealthRegistry;

#[cfg(feature = "runtime")]
mod check;
#[cfg(feature = "runtime")]
pub use check::{HealthCheck, HealthEvent, HealthSchedule, PassReport};

#[cfg(feature = "runtime")]
mod pass;

#[cfg(feature = "runtime")]
mod watch;
#[cfg(feature = "runtime")]
pub use watch::HealthWatch;
