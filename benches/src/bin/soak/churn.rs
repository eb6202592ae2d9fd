//! The churn driver: changes the discovery source every few milliseconds (each change is pushed
//! to the background service), and every fourth time also runs an update itself, so that it
//! knows when an update that includes its change has returned.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use lb_core::{LoadBalancer, UpdateError};
use lb_selection::RoundRobin;

use crate::rng::Rng;
use crate::source::ChurnSource;
use crate::state::Shared;

/// How long the driver waits for its own update (a hanging discovery ends it here).
const UPDATE_DEADLINE: Duration = Duration::from_secs(1);

/// What the driver did.
#[derive(Debug, Default)]
pub(crate) struct Churned {
    pub(crate) changes: u64,
    /// Its own updates that returned having published its change (or a newer answer).
    pub(crate) confirmed: u64,
    /// Its own updates that failed (while discovery fails) or ran past their deadline (while
    /// it hangs).
    pub(crate) failed: u64,
    pub(crate) timed_out: u64,
}

pub(crate) async fn drive(
    shared: Arc<Shared>,
    lb: Arc<LoadBalancer<RoundRobin>>,
    source: ChurnSource,
) -> Churned {
    let mut rng = Rng::new();
    let mut out = Churned::default();
    while !shared.stop.load(Ordering::Relaxed) {
        let pause = 1_000 + rng.below(4_000) as u64;
        tokio::time::sleep(Duration::from_micros(pause)).await;
        let generation = source.churn(&mut rng);
        out.changes += 1;
        if !out.changes.is_multiple_of(4) {
            continue;
        }
        match tokio::time::timeout(UPDATE_DEADLINE, lb.update()).await {
            // Superseded: an update that began after this one, so after the change, published.
            Ok(Ok(()) | Err(UpdateError::Superseded)) => {
                shared.confirmed_gen.fetch_max(generation, Ordering::AcqRel);
                out.confirmed += 1;
            }
            Ok(Err(_)) => out.failed += 1,
            Err(_) => out.timed_out += 1,
        }
    }
    out
}
