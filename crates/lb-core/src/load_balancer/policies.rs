//! What a load balancer does with the outcomes of its requests: passive health and the load
//! signals. A change applies at once, to every generation, and is published with the set.

use std::sync::Arc;

use super::LoadBalancer;
use crate::passive::PassiveHealth;
use crate::selection::BackendSelection;
use crate::signals::LoadSignals;
use crate::snapshot::Snapshot;

impl<S: BackendSelection> LoadBalancer<S> {
    /// Sets the passive-health policy: backends whose reported requests
    /// ([`Pick::report`](crate::Pick::report)) fail repeatedly are ejected for a while (see
    /// [`PassiveHealth`]). Off by default. It applies at once, to every generation; `None` turns
    /// it off and readmits every ejected backend. While it is on, picks count in flight.
    pub fn set_passive_health(&self, policy: Option<PassiveHealth>) {
        self.policies
            .passive
            .set(policy, self.cell.load().set.states());
        self.republish(|s| s);
    }

    /// The passive-health policy, if any.
    pub fn passive_health(&self) -> Option<PassiveHealth> {
        self.policies.passive.get()
    }

    /// Sets how the backends' load signals are kept (latency decay, the estimate of a backend
    /// with no sample, the outcome window); see [`LoadSignals`]. It applies to requests picked
    /// from now on.
    pub fn set_load_signals(&self, signals: LoadSignals) {
        self.republish(|s| Snapshot { signals, ..s });
    }

    /// How the backends' load signals are kept.
    pub fn load_signals(&self) -> LoadSignals {
        self.cell.load().signals
    }

    /// Publishes the current snapshot again with what `change` does to it, and with whether the
    /// policies now need load, under the lock every publication takes.
    fn republish(&self, change: impl FnOnce(Snapshot<S>) -> Snapshot<S>) {
        let _publishing = self.updates().publishing();
        let current = self.cell.load();
        let next = change(current.with_set(Arc::clone(&current.set)));
        let next = Snapshot {
            policies_need_load: self.policies.need_load(),
            ..next
        };
        drop(current);
        self.cell.store(Arc::new(next));
    }
}
