//! The health check: lb-health's TCP probe, with faults injected for some backends (a probe
//! that panics, a probe that never ends).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use lb_core::{Backend, BoxError, HealthCheck};
use lb_health::TcpHealthCheck;

use crate::state::Shared;

/// The payload of an injected panic; the panic hook keeps these quiet.
pub(crate) const INJECTED_PANIC: &str = "soak: injected probe panic";

/// [`TcpHealthCheck::probe`] for every backend, except those whose probe is to panic or hang.
#[derive(Debug)]
pub(crate) struct SoakCheck {
    tcp: TcpHealthCheck,
    shared: Arc<Shared>,
}

impl SoakCheck {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        SoakCheck {
            tcp: TcpHealthCheck::new()
                .with_connect_timeout(Duration::from_millis(300))
                .with_deadline(Duration::from_millis(400)),
            shared,
        }
    }
}

#[lb_core::async_trait]
impl HealthCheck for SoakCheck {
    async fn check(&self, target: &Backend) -> Result<(), BoxError> {
        if let Some(id) = self.shared.layout.id_of(&target.addr) {
            let pass = self.shared.pass.load(Ordering::Relaxed);
            if self.shared.probe_panics(id, pass) {
                std::panic::panic_any(INJECTED_PANIC);
            }
            if self.shared.probe_hangs(id, pass) {
                // Ended by the pass's deadline for one probe.
                std::future::pending::<()>().await;
            }
        }
        Ok(self.tcp.probe(target).await?)
    }

    fn health_threshold(&self, _success: bool) -> usize {
        1
    }
}

/// Keeps injected probe panics off the terminal; any other panic is reported as usual.
pub(crate) fn quiet_injected_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&INJECTED_PANIC) {
            default(info);
        }
    }));
}
