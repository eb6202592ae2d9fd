//! [`DnsDiscoveryBuilder`]: every setting of a DNS discovery source, validated by `build`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::proto::rr::Name;

use crate::config::{
    DEFAULT_ATTEMPTS, DEFAULT_MAX_RECORDS, DEFAULT_MAX_REFRESH, DEFAULT_MIN_REFRESH,
    DEFAULT_NEGATIVE_GRACE, DEFAULT_QUERY_TIMEOUT, DEFAULT_REFRESH_TIMEOUT, DEFAULT_RETRY_MAX,
    DEFAULT_RETRY_MIN, IpFamily, LONGEST_WAIT, Nameserver, PriorityPolicy,
};
use crate::discovery::DnsDiscovery;
use crate::error::DnsError;
use crate::resolve::{Lookups, Target};
use crate::resolver::{ResolverChoice, build_resolver};
use crate::schedule::Policy;

/// What to look up, as the user gave it.
#[derive(Clone, Debug)]
enum Query {
    Host { name: String, port: u16 },
    Srv { name: String },
}

/// The settings of a [`DnsDiscovery`], from [`DnsDiscovery::a_aaaa`] or [`DnsDiscovery::srv`].
///
/// Every setting has a default (the `DEFAULT_*` constants of this crate); [`build`] checks them
/// together and builds the resolver. A duration may be as long as `Duration::MAX`, read as
/// "never": waits and query deadlines are then cut to 30 years.
///
/// [`build`]: DnsDiscoveryBuilder::build
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct DnsDiscoveryBuilder {
    query: Query,
    family: IpFamily,
    weight: u32,
    resolver: ResolverChoice,
    min_refresh: Duration,
    max_refresh: Duration,
    retry_min: Duration,
    retry_max: Duration,
    negative_grace: Duration,
    priority: PriorityPolicy,
    max_records: usize,
    query_timeout: Duration,
    attempts: usize,
    refresh_timeout: Duration,
}

/// The validated settings a discovery source runs with.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) target: Target,
    pub(crate) lookups: Lookups,
    pub(crate) policy: Policy,
    pub(crate) refresh_timeout: Duration,
}

/// A reason without an underlying error type.
#[derive(Debug)]
struct Reason(&'static str);

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Reason {}

impl DnsDiscoveryBuilder {
    fn new(query: Query) -> Self {
        DnsDiscoveryBuilder {
            query,
            family: IpFamily::default(),
            weight: 1,
            resolver: ResolverChoice::System,
            min_refresh: DEFAULT_MIN_REFRESH,
            max_refresh: DEFAULT_MAX_REFRESH,
            retry_min: DEFAULT_RETRY_MIN,
            retry_max: DEFAULT_RETRY_MAX,
            negative_grace: DEFAULT_NEGATIVE_GRACE,
            priority: PriorityPolicy::default(),
            max_records: DEFAULT_MAX_RECORDS,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            attempts: DEFAULT_ATTEMPTS,
            refresh_timeout: DEFAULT_REFRESH_TIMEOUT,
        }
    }

    pub(crate) fn host(name: String, port: u16) -> Self {
        Self::new(Query::Host { name, port })
    }

    pub(crate) fn srv(name: String) -> Self {
        Self::new(Query::Srv { name })
    }

    /// Which address records to look up (for the host name, and for SRV targets). Default:
    /// [`IpFamily::Both`].
    pub fn ip_family(mut self, family: IpFamily) -> Self {
        self.family = family;
        self
    }

    /// The weight of every address of an A/AAAA host name (default 1). All addresses share
    /// it, so it does not change their shares of traffic; it matters to strategies whose
    /// resolution follows the weight (a hash ring places points per unit of weight), and 0
    /// makes every address a standby, which lb-core treats as equal weights. SRV discovery takes
    /// weights from the records and ignores this.
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// Queries these nameservers instead of the system's, with no search domains and without
    /// the hosts file. Replaces any list given before.
    pub fn nameservers(mut self, servers: impl IntoIterator<Item = Nameserver>) -> Self {
        self.resolver = ResolverChoice::Explicit(servers.into_iter().collect());
        self
    }

    /// Adds one nameserver to query instead of the system's (see
    /// [`nameservers`](Self::nameservers)).
    pub fn nameserver(mut self, server: Nameserver) -> Self {
        match &mut self.resolver {
            ResolverChoice::Explicit(list) => list.push(server),
            ResolverChoice::System => self.resolver = ResolverChoice::Explicit(vec![server]),
        }
        self
    }

    /// Uses the system's resolver configuration (`/etc/resolv.conf` on Unix: nameservers,
    /// search domains, `ndots`), the default. Query deadlines and attempts are still this
    /// builder's.
    pub fn system_resolver(mut self) -> Self {
        self.resolver = ResolverChoice::System;
        self
    }

    /// Bounds of the wait between refreshes. The wait is the smallest TTL of the records used,
    /// clamped to `[min, max]`. Defaults: [`DEFAULT_MIN_REFRESH`](crate::DEFAULT_MIN_REFRESH),
    /// [`DEFAULT_MAX_REFRESH`](crate::DEFAULT_MAX_REFRESH). `min` must be positive and at most
    /// `max`.
    pub fn refresh_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.min_refresh = min;
        self.max_refresh = max;
        self
    }

    /// Retry waits after failed refreshes: `min` after the first failure, doubling up to `max`.
    /// Defaults: [`DEFAULT_RETRY_MIN`](crate::DEFAULT_RETRY_MIN),
    /// [`DEFAULT_RETRY_MAX`](crate::DEFAULT_RETRY_MAX). `min` must be positive and at most `max`.
    pub fn retry_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.retry_min = min;
        self.retry_max = max;
        self
    }

    /// How long negative answers (NXDOMAIN, no records, no SRV target resolving) keep the last
    /// good set before it is replaced by an empty one. `Duration::ZERO` empties at the first
    /// negative answer; `Duration::MAX` never empties. Default:
    /// [`DEFAULT_NEGATIVE_GRACE`](crate::DEFAULT_NEGATIVE_GRACE).
    pub fn negative_grace(mut self, grace: Duration) -> Self {
        self.negative_grace = grace;
        self
    }

    /// How SRV priorities map onto the load balancer. Default: [`PriorityPolicy::Failover`].
    pub fn priority_policy(mut self, policy: PriorityPolicy) -> Self {
        self.priority = policy;
        self
    }

    /// The most records used from one answer: addresses of one name, SRV records, and backends
    /// of an SRV answer. The first ones in a deterministic order are kept (addresses sorted,
    /// SRV records by priority, then weight descending, then target and port) and the rest are
    /// counted in [`DnsStats::dropped_records`](crate::DnsStats::dropped_records). Default:
    /// [`DEFAULT_MAX_RECORDS`](crate::DEFAULT_MAX_RECORDS); must be positive.
    pub fn max_records(mut self, max: usize) -> Self {
        self.max_records = max;
        self
    }

    /// The deadline of one DNS query attempt. Default:
    /// [`DEFAULT_QUERY_TIMEOUT`](crate::DEFAULT_QUERY_TIMEOUT); must be positive.
    pub fn query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = timeout;
        self
    }

    /// How many times a query is retried after a timeout or a transport error. Default:
    /// [`DEFAULT_ATTEMPTS`](crate::DEFAULT_ATTEMPTS).
    pub fn attempts(mut self, attempts: usize) -> Self {
        self.attempts = attempts;
        self
    }

    /// The deadline of one whole refresh (the SRV lookup and every target lookup). An overrun
    /// is a failure: the last good set stays. Default:
    /// [`DEFAULT_REFRESH_TIMEOUT`](crate::DEFAULT_REFRESH_TIMEOUT); must be positive.
    pub fn refresh_timeout(mut self, timeout: Duration) -> Self {
        self.refresh_timeout = timeout;
        self
    }

    fn invalid(setting: &'static str, reason: &'static str) -> DnsError {
        DnsError::InvalidSetting { setting, reason }
    }

    fn check(&self) -> Result<(), DnsError> {
        if self.min_refresh.is_zero() {
            return Err(Self::invalid(
                "refresh_bounds",
                "the minimum must be positive",
            ));
        }
        if self.min_refresh > self.max_refresh {
            return Err(Self::invalid(
                "refresh_bounds",
                "the minimum is larger than the maximum",
            ));
        }
        if self.retry_min.is_zero() {
            return Err(Self::invalid(
                "retry_backoff",
                "the minimum must be positive",
            ));
        }
        if self.retry_min > self.retry_max {
            return Err(Self::invalid(
                "retry_backoff",
                "the minimum is larger than the maximum",
            ));
        }
        if self.max_records == 0 {
            return Err(Self::invalid("max_records", "must be positive"));
        }
        if self.query_timeout.is_zero() {
            return Err(Self::invalid("query_timeout", "must be positive"));
        }
        if self.refresh_timeout.is_zero() {
            return Err(Self::invalid("refresh_timeout", "must be positive"));
        }
        Ok(())
    }

    fn target(&self) -> Result<Target, DnsError> {
        let parse = |raw: &str| -> Result<Name, DnsError> {
            let name = raw.trim();
            if name.is_empty() {
                return Err(DnsError::InvalidName {
                    name: raw.to_string(),
                    source: Arc::new(Reason("the name is empty")),
                });
            }
            Name::from_utf8(name).map_err(|e| DnsError::InvalidName {
                name: raw.to_string(),
                source: Arc::new(e),
            })
        };
        match &self.query {
            Query::Host { name, port } => {
                if *port == 0 {
                    return Err(DnsError::PortZero { name: name.clone() });
                }
                let bare = name.trim().trim_start_matches('[').trim_end_matches(']');
                if let Ok(ip) = bare.parse::<IpAddr>() {
                    return Ok(Target::Literal(SocketAddr::new(ip, *port)));
                }
                Ok(Target::Host {
                    name: parse(name)?,
                    port: *port,
                })
            }
            Query::Srv { name } => Ok(Target::Srv { name: parse(name)? }),
        }
    }

    /// Checks the settings, builds the resolver and returns the discovery source. Nothing is
    /// queried yet: the refresh task starts on the first `discover` or `subscribe`.
    ///
    /// Errors: an invalid name ([`DnsError::InvalidName`]), port 0 ([`DnsError::PortZero`]), a
    /// setting out of range ([`DnsError::InvalidSetting`]), an empty nameserver list
    /// ([`DnsError::NoNameservers`]), or an unreadable system configuration
    /// ([`DnsError::SystemConfig`]).
    pub fn build(self) -> Result<DnsDiscovery, DnsError> {
        self.check()?;
        let target = self.target()?;
        // hickory-resolver adds the query deadline to an instant: keep it representable.
        let query_timeout = self.query_timeout.min(LONGEST_WAIT);
        let resolver = build_resolver(&self.resolver, query_timeout, self.attempts)?;
        let settings = Settings {
            target,
            lookups: Lookups {
                family: self.family,
                weight: self.weight,
                priority: self.priority,
                max_records: self.max_records,
            },
            policy: Policy {
                min_refresh: self.min_refresh,
                max_refresh: self.max_refresh,
                retry_min: self.retry_min,
                retry_max: self.retry_max,
                negative_grace: self.negative_grace,
            },
            refresh_timeout: self.refresh_timeout,
        };
        Ok(DnsDiscovery::from_settings(settings, resolver))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> Nameserver {
        Nameserver::udp("127.0.0.1:53".parse().unwrap())
    }

    fn setting_of(e: DnsError) -> &'static str {
        match e {
            DnsError::InvalidSetting { setting, .. } => setting,
            other => panic!("expected an invalid setting, got {other}"),
        }
    }

    #[test]
    fn settings_out_of_range_are_named() {
        let s = Duration::from_secs(1);
        let b = || DnsDiscovery::a_aaaa("svc.example.", 80).nameserver(local());
        let e = b().refresh_bounds(Duration::ZERO, s).build().unwrap_err();
        assert_eq!(setting_of(e), "refresh_bounds");
        let e = b().refresh_bounds(2 * s, s).build().unwrap_err();
        assert_eq!(setting_of(e), "refresh_bounds");
        let e = b().retry_backoff(2 * s, s).build().unwrap_err();
        assert_eq!(setting_of(e), "retry_backoff");
        let e = b().retry_backoff(Duration::ZERO, s).build().unwrap_err();
        assert_eq!(setting_of(e), "retry_backoff");
        let e = b().max_records(0).build().unwrap_err();
        assert_eq!(setting_of(e), "max_records");
        assert!(e_text(b().max_records(0)).contains("max_records"));
        let e = b().query_timeout(Duration::ZERO).build().unwrap_err();
        assert_eq!(setting_of(e), "query_timeout");
        let e = b().refresh_timeout(Duration::ZERO).build().unwrap_err();
        assert_eq!(setting_of(e), "refresh_timeout");
        let e = b().nameservers([]).build().unwrap_err();
        assert!(matches!(e, DnsError::NoNameservers));
        assert!(b().build().is_ok());
    }

    fn e_text(b: DnsDiscoveryBuilder) -> String {
        b.build().unwrap_err().to_string()
    }

    #[test]
    fn names_and_ports_are_checked() {
        let e = DnsDiscovery::a_aaaa("svc.example.", 0)
            .nameserver(local())
            .build()
            .unwrap_err();
        assert!(matches!(e, DnsError::PortZero { ref name } if name == "svc.example."));
        let e = DnsDiscovery::srv("  ")
            .nameserver(local())
            .build()
            .unwrap_err();
        assert_eq!(e.to_string(), "invalid dns name `  `");
        let long = "a".repeat(64);
        let e = DnsDiscovery::srv(format!("{long}.example."))
            .nameserver(local())
            .build()
            .unwrap_err();
        assert!(
            matches!(e, DnsError::InvalidName { .. }),
            "a 64-byte label: {e}"
        );
        assert!(std::error::Error::source(&e).is_some());
        let e = DnsDiscovery::a_aaaa("bad..name", 80)
            .nameserver(local())
            .build()
            .unwrap_err();
        assert!(matches!(e, DnsError::InvalidName { .. }));
    }

    #[test]
    fn ip_literals_need_no_lookup() {
        let b = DnsDiscovery::a_aaaa("[::1]", 8080).nameserver(local());
        assert!(matches!(
            b.target().unwrap(),
            Target::Literal(addr) if addr == "[::1]:8080".parse::<SocketAddr>().unwrap()
        ));
        let b = DnsDiscovery::a_aaaa("10.1.2.3", 80).nameserver(local());
        assert!(matches!(b.target().unwrap(), Target::Literal(_)));
        let b = DnsDiscovery::a_aaaa("svc.example", 80).nameserver(local());
        assert!(matches!(b.target().unwrap(), Target::Host { port: 80, .. }));
    }
}
