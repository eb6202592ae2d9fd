//! [`SubsetDiscovery`]: any discovery source, narrowed to this client's subset.

use lb_core::{BoxError, ChangeSubscription, Discovered, ServiceDiscovery};

use super::policy::SubsetPolicy;

/// A discovery source that answers with this client's subset of another source's answer.
///
/// It wraps any [`ServiceDiscovery`] (a [`Static`](crate::Static) list, DNS, Kubernetes, your
/// own): each [`discover`](ServiceDiscovery::discover) asks the source and keeps the backends
/// the policy selects, with the source's enablement opinions on those backends (the others are
/// dropped with their backends); [`subscribe`](ServiceDiscovery::subscribe) is the source's, so
/// a source that pushes changes still does. An error of the source is returned as it is (the
/// load balancer keeps its last good set).
///
/// It only chooses the eligible set, so it composes with every strategy, health check and
/// policy: the load balancer sees a smaller source, connects to and probes only the subset.
#[derive(Debug, Clone)]
pub struct SubsetDiscovery<D, P> {
    source: D,
    policy: P,
}

impl<D, P> SubsetDiscovery<D, P> {
    /// `source`, narrowed by `policy` ([`Subset`](super::Subset) or
    /// [`RandomSubset`](super::RandomSubset)).
    pub fn new(source: D, policy: P) -> Self {
        SubsetDiscovery { source, policy }
    }

    /// The wrapped source.
    pub fn source(&self) -> &D {
        &self.source
    }

    /// The policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// The wrapped source and the policy.
    pub fn into_parts(self) -> (D, P) {
        (self.source, self.policy)
    }
}

#[lb_core::async_trait]
impl<D, P> ServiceDiscovery for SubsetDiscovery<D, P>
where
    D: ServiceDiscovery,
    P: SubsetPolicy,
{
    async fn discover(&self) -> Result<Discovered, BoxError> {
        let all = self.source.discover().await?;
        let subset = self.policy.select(&all.backends);
        let mut enablement = all.enablement;
        // Policies return their subsets sorted by address; a policy of the user's may not.
        let mut kept: Vec<_> = subset.iter().map(|b| &b.addr).collect();
        kept.sort_unstable();
        enablement.retain(|addr, _| kept.binary_search(&addr).is_ok());
        let mut answer = Discovered::new(subset);
        answer.enablement = enablement;
        Ok(answer)
    }

    fn subscribe(&self) -> Option<ChangeSubscription> {
        self.source.subscribe()
    }
}
