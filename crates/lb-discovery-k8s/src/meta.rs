//! [`EndpointMeta`]: what Kubernetes says about an endpoint, kept on its backend.

/// The Kubernetes metadata of one endpoint, stored in the backend's extensions.
///
/// ```
/// # fn f(backend: &lb_core::Backend) {
/// use lb_discovery_k8s::EndpointMeta;
/// if let Some(meta) = backend.ext.get::<EndpointMeta>() {
///     println!("{} in zone {:?} on node {:?}", backend.addr, meta.zone, meta.node_name);
/// }
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct EndpointMeta {
    /// The zone the endpoint is in (`topology.kubernetes.io/zone` of its node).
    pub zone: Option<String>,
    /// The name of the node hosting the endpoint.
    pub node_name: Option<String>,
    /// The endpoint's hostname (set for StatefulSet pods behind a headless Service).
    pub hostname: Option<String>,
    /// The object behind the endpoint, usually a Pod.
    pub target: Option<TargetRef>,
    /// The zones this endpoint should serve under topology-aware routing (`hints.forZones`).
    pub for_zones: Vec<String>,
    /// The name of the EndpointSlice the endpoint came from.
    pub slice: String,
}

impl EndpointMeta {
    /// The name of the Pod behind the endpoint, when the target is a Pod.
    pub fn pod_name(&self) -> Option<&str> {
        let target = self.target.as_ref()?;
        (target.kind.as_deref() == Some("Pod"))
            .then_some(target.name.as_deref())
            .flatten()
    }
}

/// A reference to the object behind an endpoint (an EndpointSlice endpoint's `targetRef`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TargetRef {
    /// The object's kind, `"Pod"` for endpoints made by the EndpointSlice controller.
    pub kind: Option<String>,
    /// Its namespace.
    pub namespace: Option<String>,
    /// Its name.
    pub name: Option<String>,
    /// Its UID, which changes when a Pod of the same name is recreated.
    pub uid: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_name_only_for_pods() {
        let mut meta = EndpointMeta {
            target: Some(TargetRef {
                kind: Some("Pod".into()),
                name: Some("web-0".into()),
                ..TargetRef::default()
            }),
            ..EndpointMeta::default()
        };
        assert_eq!(meta.pod_name(), Some("web-0"));
        if let Some(t) = meta.target.as_mut() {
            t.kind = Some("VirtualMachine".into());
        }
        assert_eq!(meta.pod_name(), None);
        assert_eq!(EndpointMeta::default().pod_name(), None);
    }
}
