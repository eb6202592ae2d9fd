//! What a load balancer does with the outcomes of its requests: passive health and the load
//! signals. A change applies at once, to every generation, and is published with the set.

use std::sync::Arc;

use super::LoadBalancer;
use crate::passive::PassiveHealth;
use crate::pool::SlowStart;
use crate::selection::BackendSelection;
use crate::signals::LoadSignals;
use crate::snapshot::Snapshot;

impl<S: BackendSelection> LoadBalancer<S> {
    /// Sets the passive-health policy: backends whose reported requests
    /// ([`Pick::report`](crate::Pick::report)) fail repeatedly are ejected for a while (see
    /// [`PassiveHealth`]). Off by default. It applies at once, to every generation; `None` turns
    /// it off and readmits every ejected backend. While it is on, picks count in flight.
    pub fn set_passive_health(&self, policy: Option<PassiveHealth>) {
        let probe = policy.and_then(|p| p.probation.then_some(p.base_ejection));
        self.policies.pool.set_probe_time(probe);
        self.policies.passive.set(policy, &self.cell.load().set);
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

    /// Sets the panic threshold, in percent (Envoy's `healthy_panic_threshold`; default 50, at
    /// most 100; 0 turns panic mode off).
    ///
    /// When less than that share of the enabled backends' weight is ready (healthy and not
    /// ejected; standbys count as weight 1), the load balancer is in *panic mode*: `select` takes
    /// the strategy's pick whenever it is enabled, healthy or not, balancing across every enabled
    /// backend as if all were healthy. The reason is Envoy's: when most of a set looks down at
    /// once, the cause is more often the health checking (a network partition between the
    /// prober and the backends, a probe that changed) than the backends, and sending everything
    /// to the few that still look healthy would overload them and take the service down for
    /// real. Draining and disabled backends are never picked. Entering and leaving panic mode is
    /// logged (`warn`, `info`) and counted in [`LoadBalancer::stats`]. The ready weight is kept
    /// by every change of readiness as it happens, so deciding costs no scan of the set.
    pub fn set_panic_threshold(&self, percent: u8) {
        self.policies.pool.set_panic_threshold(percent);
    }

    /// The panic threshold, in percent.
    pub fn panic_threshold(&self) -> u8 {
        self.policies.pool.panic_threshold()
    }

    /// Whether [`LoadBalancer::select`] would pick a backend now: one is ready, or one is kept
    /// out only by an outcome policy (its last resort), or panic mode would pick an enabled one.
    /// A few atomic loads, no scan: for a service's readiness (`poll_ready`).
    pub fn can_select(&self) -> bool {
        self.policies.pool.can_select()
    }

    /// Whether the load balancer is in panic mode (see [`LoadBalancer::set_panic_threshold`]).
    pub fn in_panic(&self) -> bool {
        self.policies.pool.in_panic()
    }

    /// Sets slow start (see [`SlowStart`]): backends that become ready from now on ramp up to
    /// their weight over its window. `None` (the default) turns it off; backends ramping then
    /// finish at once.
    pub fn set_slow_start(&self, slow_start: Option<SlowStart>) {
        self.policies.pool.set_slow_start(slow_start);
    }

    /// The slow-start setting.
    pub fn slow_start(&self) -> Option<SlowStart> {
        self.policies.pool.slow_start()
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
