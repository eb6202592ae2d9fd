//! The small configuration types of DNS discovery and their defaults.

use std::net::SocketAddr;
use std::time::Duration;

/// The shortest wait between two refreshes by default: a TTL of 0 (or 1) refreshes once a second.
pub const DEFAULT_MIN_REFRESH: Duration = Duration::from_secs(1);
/// The longest wait between two refreshes by default, whatever the TTL says.
pub const DEFAULT_MAX_REFRESH: Duration = Duration::from_secs(60);
/// The first retry after a failed refresh, by default; it doubles on each failure in a row.
pub const DEFAULT_RETRY_MIN: Duration = Duration::from_secs(1);
/// The longest wait between retries of a failing refresh, by default.
pub const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(30);
/// How long negative answers (NXDOMAIN, empty) keep the last good set by default.
pub const DEFAULT_NEGATIVE_GRACE: Duration = Duration::from_secs(30);
/// The most records used from one answer by default (addresses of a name, or SRV records).
pub const DEFAULT_MAX_RECORDS: usize = 1000;
/// The deadline of one DNS query (per attempt) by default.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(2);
/// How many times a query that timed out or failed in transit is retried, by default.
pub const DEFAULT_ATTEMPTS: usize = 2;
/// The deadline of one whole refresh (every lookup it needs) by default.
pub const DEFAULT_REFRESH_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest CNAME chain followed from the name asked to the records used. A longer chain is a
/// lookup failure ([`DnsError::CnameChainTooLong`](crate::DnsError::CnameChainTooLong)). It is
/// also hickory-resolver's own limit on follow-up queries for chains that an answer does not
/// complete.
pub const MAX_CNAME_CHAIN: usize = 8;

/// The longest wait this crate hands to a timer. A setting may be `Duration::MAX` ("never"), but
/// an instant that far ahead overflows (and panics); longer waits are cut to this, 30 years.
pub(crate) const LONGEST_WAIT: Duration = Duration::from_secs(30 * 365 * 86_400);

/// Which address families to look up: `A` records (IPv4), `AAAA` records (IPv6), or both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IpFamily {
    /// `A` records only.
    V4,
    /// `AAAA` records only.
    V6,
    /// `A` and `AAAA` records, queried concurrently (the default). A name with only one family
    /// is not an error; a lookup failure of either family fails the refresh.
    #[default]
    Both,
}

impl IpFamily {
    pub(crate) fn wants_v4(self) -> bool {
        matches!(self, IpFamily::V4 | IpFamily::Both)
    }

    pub(crate) fn wants_v6(self) -> bool {
        matches!(self, IpFamily::V6 | IpFamily::Both)
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            IpFamily::V4 => "A",
            IpFamily::V6 => "AAAA",
            IpFamily::Both => "A/AAAA",
        }
    }
}

/// How queries reach a nameserver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// UDP only. A truncated answer is a failure.
    Udp,
    /// TCP only.
    Tcp,
    /// UDP first, and TCP when an answer is truncated (the default, as stub resolvers do).
    #[default]
    UdpAndTcp,
}

/// One nameserver to query, with the transport to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Nameserver {
    /// Its IP address and port (53 for a standard server).
    pub addr: SocketAddr,
    /// How to reach it.
    pub transport: Transport,
}

impl Nameserver {
    /// A nameserver at `addr` reached over UDP, and over TCP when an answer is truncated.
    pub fn udp_and_tcp(addr: SocketAddr) -> Self {
        Nameserver {
            addr,
            transport: Transport::UdpAndTcp,
        }
    }

    /// A nameserver at `addr` reached over UDP only.
    pub fn udp(addr: SocketAddr) -> Self {
        Nameserver {
            addr,
            transport: Transport::Udp,
        }
    }

    /// A nameserver at `addr` reached over TCP only.
    pub fn tcp(addr: SocketAddr) -> Self {
        Nameserver {
            addr,
            transport: Transport::Tcp,
        }
    }
}

/// How the priorities of SRV records map onto the load balancer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PriorityPolicy {
    /// The default. Every record's backends are published with their SRV weight (an SRV weight
    /// of 0 becomes 1, see the crate docs) and their SRV priority as an
    /// [`lb_core::Priority`]: each distinct priority value is a priority level of the load
    /// balancer, lowest first. Traffic goes to the lowest level while at least 1/1.4 of its
    /// weight is ready, and spills to the next levels one by one as it fails (Envoy's priority
    /// load; see lb-core's topology documentation), spread by weight within each level.
    #[default]
    Failover,
    /// Only the *active group* is published: the records of the lowest priority value among
    /// those whose targets resolved to at least one address. No failover to the others.
    LowestOnly,
    /// Priorities are ignored: every record's backends are published with their SRV weight.
    Ignore,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_nameserver_constructors() {
        assert!(IpFamily::Both.wants_v4() && IpFamily::Both.wants_v6());
        assert!(IpFamily::V4.wants_v4() && !IpFamily::V4.wants_v6());
        assert!(!IpFamily::V6.wants_v4() && IpFamily::V6.wants_v6());
        assert_eq!(IpFamily::default(), IpFamily::Both);
        let addr: SocketAddr = "127.0.0.1:5353".parse().unwrap();
        assert_eq!(Nameserver::udp(addr).transport, Transport::Udp);
        assert_eq!(Nameserver::tcp(addr).transport, Transport::Tcp);
        assert_eq!(
            Nameserver::udp_and_tcp(addr).transport,
            Transport::UdpAndTcp
        );
        assert_eq!(PriorityPolicy::default(), PriorityPolicy::Failover);
    }
}
