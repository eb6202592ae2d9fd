//! One backend as DNS described it, and the SRV metadata kept in its extensions.

use std::net::SocketAddr;

use lb_core::{Backend, Discovered, Priority};

/// The SRV record a backend came from, stored in [`Backend::ext`](lb_core::Backend::ext) of every
/// backend that SRV discovery publishes.
///
/// ```
/// # use lb_core::Backend;
/// # use lb_discovery_dns::SrvTarget;
/// fn priority(backend: &Backend) -> Option<u16> {
///     backend.ext.get::<SrvTarget>().map(|srv| srv.priority)
/// }
/// # assert_eq!(priority(&Backend::new("10.0.0.1:80").unwrap()), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct SrvTarget {
    /// The record's target host name, lowercase, with its final dot (`web-1.example.com.`).
    pub target: String,
    /// The record's port.
    pub port: u16,
    /// The record's priority (lower is preferred).
    pub priority: u16,
    /// The record's weight, as in the record (before the mapping of weight 0).
    pub weight: u16,
}

/// One backend of an answer. Two answers are the same when their entries are equal, which is
/// what decides whether the load balancer is told about a change.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub(crate) addr: SocketAddr,
    pub(crate) weight: u32,
    pub(crate) srv: Option<SrvTarget>,
    /// The load balancer's priority for the backend (the SRV priority under
    /// [`PriorityPolicy::Failover`](crate::PriorityPolicy::Failover)).
    pub(crate) priority: Option<u32>,
}

impl Entry {
    pub(crate) fn to_backend(&self) -> Backend {
        let mut backend = Backend::from(self.addr).with_weight(self.weight);
        if let Some(srv) = &self.srv {
            backend = backend.with_ext(srv.clone());
        }
        if let Some(priority) = self.priority {
            backend = backend.with_ext(Priority(priority));
        }
        backend
    }
}

/// The answer as lb-core wants it. The source has no opinion on enablement: an operator's
/// `set_enable` survives refreshes.
pub(crate) fn to_discovered(entries: &[Entry]) -> Discovered {
    Discovered::new(entries.iter().map(Entry::to_backend))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_become_backends_with_weight_and_srv_metadata() {
        let srv = SrvTarget {
            target: "web.example.".into(),
            port: 8080,
            priority: 10,
            weight: 0,
        };
        let entries = vec![
            Entry {
                addr: "10.0.0.1:8080".parse().unwrap(),
                weight: 1,
                srv: Some(srv.clone()),
                priority: Some(10),
            },
            Entry {
                addr: "[::1]:80".parse().unwrap(),
                weight: 7,
                srv: None,
                priority: None,
            },
        ];
        let d = to_discovered(&entries);
        assert_eq!(d.backends.len(), 2);
        assert!(d.enablement.is_empty());
        assert_eq!(d.backends[0].weight, 1);
        assert_eq!(d.backends[0].ext.get::<SrvTarget>(), Some(&srv));
        assert_eq!(d.backends[0].ext.get::<Priority>(), Some(&Priority(10)));
        assert_eq!(d.backends[1].addr.to_string(), "[::1]:80");
        assert_eq!(d.backends[1].weight, 7);
        assert!(d.backends[1].ext.get::<SrvTarget>().is_none());
        assert!(d.backends[1].ext.get::<Priority>().is_none());
    }
}
