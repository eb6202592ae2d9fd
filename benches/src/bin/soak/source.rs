//! The discovery source: a model of the population that the churn driver changes every few
//! milliseconds (adds and removes, weights, enablement), pushed to the load balancer on every
//! change, and that can be told to fail: answer an error, hang, or answer garbage.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use lb_core::{
    Address, Backend, BoxError, ChangeNotifier, ChangeSubscription, Discovered, Enablement,
    ServiceDiscovery,
};

use crate::rng::Rng;
use crate::state::{Role, Shared};

/// Carried by the first backend of every answer (the sentinel, which sorts first): the answer's
/// generation and how many distinct backends it holds. A published set whose length differs,
/// or whose first backend has no tag, mixes answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tag {
    pub(crate) generation: u64,
    pub(crate) len: usize,
}

/// The sentinel's address: below every backend's `127.1.x.y`, and nothing listens on port 1.
fn sentinel() -> Address {
    Address::Inet(std::net::SocketAddr::from(([127, 0, 0, 1], 1)))
}

/// How long a hanging discovery call hangs.
pub(crate) const HANG: Duration = Duration::from_millis(1500);

/// What the source does when asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Fault {
    None = 0,
    Error = 1,
    Hang = 2,
    Garbage = 3,
}

#[derive(Debug)]
struct Model {
    generation: u64,
    present: Vec<bool>,
    weight: Vec<u32>,
    enablement: Vec<Enablement>,
}

/// The churning source. Cloning shares it.
#[derive(Clone, Debug)]
pub(crate) struct ChurnSource {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    model: Mutex<Model>,
    notifier: ChangeNotifier,
    fault: AtomicU8,
    /// Discovery calls answered with an injected error.
    injected_errors: AtomicU64,
}

impl ChurnSource {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let n = shared.layout.n;
        let core = shared.layout.core();
        let model = Model {
            generation: 1,
            // Every other backend of the churn pool starts present.
            present: (0..n).map(|id| id < core || id % 2 == 0).collect(),
            weight: (0..n)
                .map(|id| match shared.layout.role(id) {
                    Role::Steady => 1,
                    _ => 1 + (id % 10) as u32,
                })
                .collect(),
            enablement: vec![Enablement::Enabled; n],
        };
        ChurnSource {
            inner: Arc::new(Inner {
                shared,
                model: Mutex::new(model),
                notifier: ChangeNotifier::new(),
                fault: AtomicU8::new(Fault::None as u8),
                injected_errors: AtomicU64::new(0),
            }),
        }
    }

    fn model(&self) -> MutexGuard<'_, Model> {
        // The model is changed whole under the lock; a panic elsewhere cannot tear it.
        self.inner.model.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current generation of the model.
    pub(crate) fn generation(&self) -> u64 {
        self.model().generation
    }

    pub(crate) fn set_fault(&self, fault: Fault) {
        self.inner.fault.store(fault as u8, Ordering::Relaxed);
    }

    pub(crate) fn injected_errors(&self) -> u64 {
        self.inner.injected_errors.load(Ordering::Relaxed)
    }

    /// One change of the model, pushed: two backends of the pool come or go, three weights
    /// change (0, a standby, to 10), one toggled backend changes its enablement. Returns the
    /// new generation.
    pub(crate) fn churn(&self, rng: &mut Rng) -> u64 {
        let layout = &self.inner.shared.layout;
        let (n, core) = (layout.n, layout.core());
        let generation = {
            let mut model = self.model();
            model.generation += 1;
            let generation = model.generation;
            for _ in 0..2 {
                let id = core + rng.below(n - core);
                model.present[id] = !model.present[id];
            }
            for _ in 0..3 {
                let id = rng.below(n);
                if matches!(layout.role(id), Role::Reweighted | Role::Churned) {
                    model.weight[id] = rng.below(11) as u32;
                }
            }
            // Toggled backends are the ids 20k + 3 of the core.
            let id = rng.below(core / 20) * 20 + 3;
            if layout.role(id) == Role::Toggled {
                let enablement = [
                    Enablement::Enabled,
                    Enablement::Draining,
                    Enablement::Disabled,
                ][rng.below(3)];
                model.enablement[id] = enablement;
                // Recorded before any answer of this generation exists.
                let off = &self.inner.shared.off_since[id];
                if enablement == Enablement::Enabled {
                    off.store(0, Ordering::Release);
                } else if off.load(Ordering::Acquire) == 0 {
                    off.store(generation, Ordering::Release);
                }
            }
            generation
        };
        self.inner.notifier.notify();
        generation
    }

    /// The model as a discovery answer, the sentinel first; with `garbage`, also duplicates
    /// with other weights, extreme weights, addresses of no backend of ours, and enablement for
    /// addresses not in the answer.
    fn answer(&self, garbage: bool) -> Discovered {
        let layout = &self.inner.shared.layout;
        let model = self.model();
        let mut backends = Vec::with_capacity(layout.n + 8);
        // A standby, so that it is never picked while a backend of ours is ready.
        backends.push(Backend::from_address(sentinel(), 0));
        let mut enablement = Vec::new();
        for id in 0..layout.n {
            if !model.present[id] {
                continue;
            }
            let mut weight = model.weight[id];
            if garbage && layout.role(id) == Role::Reweighted && id % 100 == 9 {
                weight = u32::MAX;
            }
            backends.push(Backend::from_address(layout.address(id), weight));
            if layout.role(id) == Role::Toggled {
                enablement.push((layout.address(id), model.enablement[id]));
            }
        }
        let mut len = backends.len();
        if garbage {
            let duplicates: Vec<Backend> = backends[1..]
                .iter()
                .step_by(50)
                .map(|b| Backend::from_address(b.addr.clone(), 7))
                .collect();
            backends.extend(duplicates);
            let mut extra = HashSet::new();
            for text in ["[::1]:1", "unix:/nonexistent/lb-soak.sock"] {
                // Both parse: they are constants of the right form.
                if let Ok(b) = Backend::new_with_weight(text, 3) {
                    extra.insert(b.addr.clone());
                    backends.push(b);
                }
            }
            len += extra.len();
            for id in 0..layout.n {
                if !model.present[id] && id % 7 == 0 {
                    enablement.push((layout.address(id), Enablement::Disabled));
                }
            }
        }
        let tag = Tag {
            generation: model.generation,
            len,
        };
        drop(model);
        backends[0].ext.insert(tag);
        let mut discovered = Discovered::new(backends);
        discovered.enablement.extend(enablement);
        discovered
    }
}

#[lb_core::async_trait]
impl ServiceDiscovery for ChurnSource {
    async fn discover(&self) -> Result<Discovered, BoxError> {
        match self.inner.fault.load(Ordering::Relaxed) {
            1 => {
                self.inner.injected_errors.fetch_add(1, Ordering::Relaxed);
                Err("soak: injected discovery failure".into())
            }
            2 => {
                tokio::time::sleep(HANG).await;
                Ok(self.answer(false))
            }
            3 => Ok(self.answer(true)),
            _ => Ok(self.answer(false)),
        }
    }

    fn subscribe(&self) -> Option<ChangeSubscription> {
        Some(self.inner.notifier.subscribe())
    }
}
