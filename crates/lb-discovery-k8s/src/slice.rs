//! One EndpointSlice to backend entries: the selected port, one entry per address.

use std::net::{IpAddr, SocketAddr};

use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use lb_core::{Backend, Enablement, Zone, ZoneHints};

use crate::conditions::enablement;
use crate::meta::{EndpointMeta, TargetRef};
use crate::port::Port;

/// The label the EndpointSlice controller puts on every slice of a Service.
pub(crate) const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// One backend as Kubernetes describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) addr: SocketAddr,
    pub(crate) enablement: Enablement,
    pub(crate) meta: EndpointMeta,
}

impl Entry {
    /// The entry's backend: its metadata, and its zone and hints as lb-core's topology reads
    /// them (zone-aware routing, `ZoneRouting`).
    pub(crate) fn backend(&self) -> Backend {
        let mut b = Backend::from(self.addr).with_ext(self.meta.clone());
        if let Some(zone) = &self.meta.zone {
            b = b.with_ext(Zone::new(zone.as_str()));
        }
        if !self.meta.for_zones.is_empty() {
            b = b.with_ext(ZoneHints::new(
                self.meta.for_zones.iter().map(String::as_str),
            ));
        }
        b
    }

    /// Where the entry's state ranks when an address is in several slices: the most available
    /// first (enabled, then draining, then disabled).
    pub(crate) fn rank(&self) -> u8 {
        match self.enablement {
            Enablement::Enabled => 0,
            Enablement::Draining => 1,
            _ => 2,
        }
    }
}

/// The entries of `slice` for `service` on `port`, in the slice's order.
///
/// Nothing here trusts the API server: a slice of another Service (a server that ignored the
/// label selector), a missing or out-of-range port, an address that is not an IP, or an FQDN
/// slice contributes nothing, with a warning naming the slice.
///
/// It takes the slice: each endpoint's metadata moves into its entry rather than being copied
/// (a 1,000-endpoint slice, one watch event, would otherwise cost some ten thousand string
/// allocations and as many frees).
pub(crate) fn entries(mut slice: EndpointSlice, service: &str, port: &Port) -> Vec<Entry> {
    let endpoints = std::mem::take(&mut slice.endpoints);
    let name = slice.metadata.name.as_deref().unwrap_or_default();
    let labelled = slice
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SERVICE_NAME_LABEL));
    if labelled.map(String::as_str) != Some(service) {
        tracing::warn!(
            slice = name,
            label = ?labelled,
            service,
            "ignoring an endpointslice that does not belong to the service"
        );
        return Vec::new();
    }
    if slice.address_type != "IPv4" && slice.address_type != "IPv6" {
        tracing::warn!(
            slice = name,
            address_type = %slice.address_type,
            "ignoring an endpointslice whose addresses are not IPs"
        );
        return Vec::new();
    }
    let Some(port_number) = select_port(slice.ports.as_deref().unwrap_or_default(), port, name)
    else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(endpoints.len());
    for mut endpoint in endpoints {
        let state = enablement(endpoint.conditions.as_ref());
        let addresses = std::mem::take(&mut endpoint.addresses);
        let mut meta = Some(meta_of(endpoint, name));
        let last = addresses.len().saturating_sub(1);
        for (i, address) in addresses.iter().enumerate() {
            match address.parse::<IpAddr>() {
                // The last address takes the metadata, the others a copy: an endpoint has one
                // address nearly always, and a copy is a handful of string allocations.
                Ok(ip) => out.push(Entry {
                    addr: SocketAddr::new(ip, port_number),
                    enablement: state,
                    meta: if i == last {
                        meta.take().unwrap_or_default()
                    } else {
                        meta.clone().unwrap_or_default()
                    },
                }),
                Err(_) => tracing::warn!(
                    slice = name,
                    address = %address,
                    "ignoring an endpoint address that is not an IP address"
                ),
            }
        }
    }
    out
}

/// The number of the selected port, or `None` (with a warning) when the slice has none usable.
fn select_port(ports: &[EndpointPort], wanted: &Port, slice: &str) -> Option<u16> {
    let found = match wanted {
        Port::Only => match ports {
            [one] => Some(one),
            [] => None,
            _ => {
                tracing::warn!(
                    slice,
                    ports = ports.len(),
                    "the endpointslice has several ports: select one by name or number"
                );
                return None;
            }
        },
        Port::Name(name) => ports
            .iter()
            .find(|p| p.name.as_deref().unwrap_or_default() == name),
        Port::Number(n) => ports.iter().find(|p| p.port == Some(i32::from(*n))),
    };
    let Some(found) = found else {
        tracing::warn!(slice, port = %wanted, "the endpointslice does not have the selected port");
        return None;
    };
    match found
        .port
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
    {
        Some(p) => Some(p),
        None => {
            tracing::warn!(slice, port = ?found.port, "the endpointslice's port number is missing or out of range");
            None
        }
    }
}

fn meta_of(endpoint: Endpoint, slice: &str) -> EndpointMeta {
    EndpointMeta {
        zone: endpoint.zone,
        node_name: endpoint.node_name,
        hostname: endpoint.hostname,
        target: endpoint.target_ref.map(|t| TargetRef {
            kind: t.kind,
            namespace: t.namespace,
            name: t.name,
            uid: t.uid,
        }),
        for_zones: endpoint
            .hints
            .and_then(|h| h.for_zones)
            .map(|zones| zones.into_iter().map(|z| z.name).collect())
            .unwrap_or_default(),
        slice: slice.to_owned(),
    }
}

#[cfg(test)]
mod tests;
