//! [`DnsError`]: everything that can go wrong configuring or running DNS discovery.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A cause kept behind an `Arc` so that [`DnsError`] stays `Clone` (the last error is both kept
/// in the statistics and returned from `discover`).
pub(crate) type Cause = Arc<dyn StdError + Send + Sync + 'static>;

/// Why a DNS lookup failed without telling whether the name exists: the cases that keep the last
/// good set and are retried with backoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// The server answered SERVFAIL.
    ServFail,
    /// The server answered REFUSED.
    Refused,
    /// No answer before the query deadline (after the configured attempts).
    Timeout,
    /// The nameserver could not be reached (connection refused, reset, no route).
    Network,
    /// The server answered with another error code (FORMERR, NOTIMP...) or an answer that could
    /// not be decoded.
    BadResponse,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailureKind::ServFail => "the server answered servfail",
            FailureKind::Refused => "the server refused the query",
            FailureKind::Timeout => "the query timed out",
            FailureKind::Network => "the nameserver could not be reached",
            FailureKind::BadResponse => "the server sent an unusable response",
        })
    }
}

/// An error of DNS discovery: a configuration that cannot work (from
/// [`DnsDiscoveryBuilder::build`](crate::DnsDiscoveryBuilder::build)), or a refresh that did not
/// produce a backend set (returned by `discover` while no set has been found yet, and kept as
/// [`DnsStats::last_error`](crate::DnsStats::last_error)).
///
/// Messages are lowercase and name the culprit (the DNS name, the record type, the setting);
/// underlying causes are available through [`std::error::Error::source`].
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The name to resolve is not a valid DNS name.
    #[error("invalid dns name `{name}`")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        #[source]
        source: Cause,
    },
    /// A host name was given with port 0, which cannot be connected to.
    #[error("port 0 given for dns name `{name}`")]
    PortZero {
        /// The name the port was given for.
        name: String,
    },
    /// A setting is out of its range.
    #[error("invalid dns discovery setting `{setting}`: {reason}")]
    InvalidSetting {
        /// The setting's builder method.
        setting: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Explicit nameservers were requested but the list is empty.
    #[error("no nameservers configured for dns discovery")]
    NoNameservers,
    /// The system resolver configuration (`/etc/resolv.conf`) could not be read.
    #[error("reading the system dns configuration failed")]
    SystemConfig {
        /// The reason from the resolver.
        #[source]
        source: Cause,
    },
    /// The resolver could not be built from the configuration.
    #[error("building the dns resolver failed")]
    Resolver {
        /// The reason from the resolver.
        #[source]
        source: Cause,
    },
    /// A lookup failed in a way that says nothing about the name (SERVFAIL, REFUSED, timeout,
    /// unreachable nameserver). The last good set is kept and the lookup is retried with backoff.
    #[error("dns lookup of {record_type} records for `{name}` failed: {kind}")]
    Lookup {
        /// The name looked up.
        name: String,
        /// The record type looked up (`A`, `AAAA`, `SRV`).
        record_type: &'static str,
        /// What went wrong.
        kind: FailureKind,
        /// The resolver's error, when there is one.
        #[source]
        source: Option<Cause>,
    },
    /// The name does not exist (NXDOMAIN).
    #[error("dns name `{name}` does not exist (nxdomain)")]
    NotFound {
        /// The name looked up.
        name: String,
    },
    /// The name exists but has no usable records of the type asked (an empty answer, a CNAME to
    /// a name without such records, or an SRV record set that only says "no service").
    #[error("dns name `{name}` has no usable {record_type} records")]
    NoRecords {
        /// The name looked up.
        name: String,
        /// The record type looked up (`A/AAAA`, `SRV`).
        record_type: &'static str,
    },
    /// SRV records were found, but none of their targets resolved to an address.
    #[error("none of the {targets} srv targets of `{name}` resolved to an address")]
    NoUsableTargets {
        /// The SRV name.
        name: String,
        /// How many distinct targets the records named.
        targets: usize,
    },
    /// The answer followed more CNAME records than allowed.
    #[error("dns name `{name}` leads through more than {limit} cname records")]
    CnameChainTooLong {
        /// The name looked up.
        name: String,
        /// The longest chain followed ([`MAX_CNAME_CHAIN`](crate::MAX_CNAME_CHAIN)).
        limit: usize,
    },
    /// One refresh (all its lookups together) overran its deadline.
    #[error("dns refresh of `{name}` took longer than {timeout:?}")]
    RefreshTimeout {
        /// The name being refreshed.
        name: String,
        /// The deadline ([`DnsDiscoveryBuilder::refresh_timeout`](crate::DnsDiscoveryBuilder::refresh_timeout)).
        timeout: Duration,
    },
}

impl DnsError {
    /// Whether this error is a negative answer (the name does not exist or has no usable
    /// records) rather than a failure to get an answer. Negative answers follow the
    /// negative-answer grace policy; failures keep the last good set indefinitely.
    pub fn is_negative(&self) -> bool {
        matches!(
            self,
            DnsError::NotFound { .. }
                | DnsError::NoRecords { .. }
                | DnsError::NoUsableTargets { .. }
        )
    }

    /// The kind of lookup failure, for [`DnsError::Lookup`].
    pub fn failure_kind(&self) -> Option<FailureKind> {
        match self {
            DnsError::Lookup { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_and_name_the_culprit() {
        let e = DnsError::Lookup {
            name: "_http._tcp.example.".into(),
            record_type: "SRV",
            kind: FailureKind::ServFail,
            source: None,
        };
        assert_eq!(
            e.to_string(),
            "dns lookup of SRV records for `_http._tcp.example.` failed: the server answered servfail"
        );
        assert!(!e.is_negative());
        assert_eq!(e.failure_kind(), Some(FailureKind::ServFail));
        let nx = DnsError::NotFound {
            name: "gone.example.".into(),
        };
        assert_eq!(
            nx.to_string(),
            "dns name `gone.example.` does not exist (nxdomain)"
        );
        assert!(nx.is_negative());
        assert_eq!(nx.failure_kind(), None);
        let cause: Cause = Arc::new(std::io::Error::other("boom"));
        let built = DnsError::Resolver { source: cause };
        assert_eq!(
            built.source().map(|s| s.to_string()).as_deref(),
            Some("boom"),
            "the cause is reachable through source()"
        );
    }
}
