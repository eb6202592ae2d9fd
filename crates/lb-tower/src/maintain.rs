//! The maintenance task of a [`Balance`](crate::Balance): it follows the load balancer's published
//! sets (dropping the services of backends that leave), wakes callers waiting in `poll_ready`
//! when the set or a backend's health changes, and drops services left idle.

use std::sync::Arc;
use std::time::Duration;

use lb_core::{Generations, HealthWatch};
use tokio::sync::{Notify, oneshot};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::cache::Cache;

/// The shortest time between two idle sweeps.
const MIN_SWEEP: Duration = Duration::from_millis(10);

/// What the task needs; it ends when `stop`'s sender (held by the `Balance`'s shared state) is
/// dropped, or when the load balancer is.
pub(crate) struct Maintenance<Svc> {
    pub(crate) cache: Arc<Cache<Svc>>,
    pub(crate) changed: Arc<Notify>,
    pub(crate) sets: Generations,
    pub(crate) health: HealthWatch,
    pub(crate) idle: Option<Duration>,
    pub(crate) stop: oneshot::Receiver<()>,
}

impl<Svc: Clone + Send + Sync + 'static> Maintenance<Svc> {
    pub(crate) async fn run(self) {
        let Maintenance {
            cache,
            changed,
            mut sets,
            mut health,
            idle,
            mut stop,
        } = self;
        // Sweeping four times per idle time drops a service between `idle` and 1.25 × `idle`
        // after its last use.
        let mut sweeps = idle.map(|idle| {
            let every = (idle / 4).max(MIN_SWEEP);
            let mut interval = tokio::time::interval_at(Instant::now() + every, every);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            interval
        });
        let mut health_open = true;
        loop {
            tokio::select! {
                _ = &mut stop => return,
                set = sets.next() => match set {
                    Some(set) => {
                        cache.follow(set);
                        changed.notify_waiters();
                    }
                    None => return,
                },
                event = health.next(), if health_open => match event {
                    Some(_) => changed.notify_waiters(),
                    None => health_open = false,
                },
                () = tick(&mut sweeps) => {
                    if let Some(idle) = idle {
                        let dropped = cache.sweep(Instant::now(), idle);
                        if dropped > 0 {
                            tracing::debug!(dropped, ?idle, "dropped the services of idle backends");
                        }
                    }
                }
            }
        }
    }
}

/// The next tick of `interval`; never when there is none.
async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}
