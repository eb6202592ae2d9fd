//! Shared helpers: backend sets and a health check that is set but never run.

use lb_core::{Backend, BoxError, HealthCheck, async_trait};

/// Backends of the given weights at 10.0.0.1:80, 10.0.0.2:80, ... (index order = address order).
pub(crate) fn backends(weights: &[u32]) -> Vec<Backend> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let ip = std::net::Ipv4Addr::from(0x0a00_0001 + i as u32);
            Backend::from(std::net::SocketAddr::from((ip, 80))).with_weight(w)
        })
        .collect()
}

/// A health check that always succeeds. The tests set it so that readiness filtering runs on
/// the select path as it does in production, and drive health by hand with `set_health`.
pub(crate) struct AlwaysUp;

#[async_trait]
impl HealthCheck for AlwaysUp {
    async fn check(&self, _backend: &Backend) -> Result<(), BoxError> {
        Ok(())
    }

    fn health_threshold(&self, _success: bool) -> usize {
        1
    }

    fn backend_summary(&self, backend: &Backend) -> String {
        backend.addr.to_string()
    }
}
