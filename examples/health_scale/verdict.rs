//! What a pass left behind: the backends it marked unhealthy, grouped by the reason of their
//! last failed probe.

use std::collections::BTreeMap;

use lb::BackendSet;

/// The unhealthy backends of a set.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Unhealthy {
    /// How many backends are unhealthy.
    pub(crate) count: usize,
    /// How many failed for each reason, the backend's own address replaced by `<backend>` so
    /// that backends that failed alike count together.
    pub(crate) reasons: BTreeMap<String, usize>,
}

/// The backends of `set` whose health (from their probes) is unhealthy. Enablement, passive
/// health and panic mode play no part: this is what the probes decided.
pub(crate) fn unhealthy(set: &BackendSet) -> Unhealthy {
    let mut tally = Unhealthy::default();
    for (backend, state) in set.backends().iter().zip(set.states()) {
        if state.is_healthy() {
            continue;
        }
        let why = state.last_error().map_or_else(
            || "set unhealthy without a failed probe".to_owned(),
            |e| e.replace(&backend.addr.to_string(), "<backend>"),
        );
        tally.count += 1;
        *tally.reasons.entry(why).or_default() += 1;
    }
    tally
}
