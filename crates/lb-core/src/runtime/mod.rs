//! The async side of lb-core, on tokio, behind the `runtime` feature: discovery sources and
//! their change signals, health checks and their passes, the background service that runs both,
//! the async `update`, and the streams users and tests wait on (health events, published
//! generations). Nothing here is on the select path.

mod backends;
mod check;
mod discovery;
mod generations;
pub(crate) mod hooks;
mod pass;
mod probe;
mod service;
mod update;
mod watch;

pub use backends::EnablementChanges;
pub use check::{HealthCheck, HealthEvent, HealthSchedule, PassReport};
pub use discovery::{ChangeNotifier, ChangeSubscription, Discovery, ServiceDiscovery};
pub use generations::Generations;
pub use service::ServiceHandle;
pub use watch::HealthWatch;
