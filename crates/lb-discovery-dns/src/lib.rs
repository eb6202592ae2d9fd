//! DNS service discovery for lb: a [`ServiceDiscovery`](lb_core::ServiceDiscovery) source that
//! follows the A/AAAA records of a host name or the SRV records of a service, refreshed as the
//! records' TTLs run out, and robust to DNS failures and hostile answers.
//!
//! It sits between the DNS and lb-core's [`LoadBalancer`](lb_core::LoadBalancer): give a
//! [`DnsDiscovery`] to [`Backends::new`](lb_core::Backends::new), run the load balancer's
//! background service, and the backend set follows the DNS. Resolution is done by
//! [hickory-resolver](https://docs.rs/hickory-resolver), with the system's configuration or
//! explicit nameservers.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use lb_core::{Backends, LoadBalancer};
//! use lb_discovery_dns::{DnsDiscovery, Nameserver};
//! # use lb_core::{Backend, BackendIter, BackendSelection, BoxError};
//! # struct First(usize);
//! # struct It(std::ops::Range<usize>);
//! # impl BackendIter for It { fn next(&mut self) -> Option<usize> { self.0.next() } }
//! # impl BackendSelection for First {
//! #     type Config = ();
//! #     type Iter<'a> = It;
//! #     fn build(b: &[Backend], _: &()) -> Result<Self, BoxError> { Ok(First(b.len())) }
//! #     fn iter(&self, _: &[u8]) -> It { It(0..self.0) }
//! # }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dns = DnsDiscovery::srv("_http._tcp.api.example.com.")
//!     .nameserver(Nameserver::udp_and_tcp("10.0.0.53:53".parse()?))
//!     .refresh_bounds(Duration::from_secs(5), Duration::from_secs(300))
//!     .build()?;
//! let monitor = dns.monitor();
//! let lb = Arc::new(LoadBalancer::<First>::from_backends(Backends::new(Box::new(dns))));
//! let service = lb.spawn(); // refreshes follow the TTLs; changes are pushed at once
//! service.ready().await;
//! if let Some(backend) = lb.select(b"") {
//!     println!("{}: {:?}", backend.addr, monitor.stats());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # What is resolved
//!
//! - [`DnsDiscovery::a_aaaa`]: the `A` and/or `AAAA` records of a host name
//!   ([`IpFamily`]); every address is a backend on the given port, with the same weight
//!   ([`DnsDiscoveryBuilder::weight`], default 1). An IP address instead of a name is one fixed
//!   backend.
//! - [`DnsDiscovery::srv`]: the SRV records of a service name; every address of every target is
//!   a backend on the record's port. The record's priority and weight are kept in the backend's
//!   extensions as [`SrvTarget`]. When the SRV answer carries a target's addresses in its
//!   additional section they are used as they are; other targets are looked up (at most 16 at
//!   once).
//!
//! # SRV priorities and weights
//!
//! RFC 2782 asks clients to use the lowest priority value they can reach and to spread load
//! within it by weight. [`PriorityPolicy::Failover`] (the default) maps SRV onto lb-core's
//! priority levels:
//!
//! - Every backend keeps its record's SRV weight, and carries the record's priority as an
//!   [`lb_core::Priority`]. Each distinct priority value is a level of the load balancer, the
//!   lowest first (priorities 10, 20 and 30 are levels 0, 1 and 2).
//! - Traffic goes to the lowest level while it is healthy enough, spread by weight, and fails
//!   over level by level as the health check (or an operator) takes its backends out: Envoy's
//!   priority load, which keeps a level's full share while 1/1.4 of its weight is ready and
//!   sends the shortfall to the next levels in order. When backends come back, traffic
//!   returns to them.
//!
//! [`PriorityPolicy::LowestOnly`] publishes only the lowest priority value among records whose
//! targets resolved (no failover), and [`PriorityPolicy::Ignore`] publishes every record with
//! its weight and no level.
//!
//! **SRV weight 0**: lb weights are integer shares and the smallest positive share is 1, so a
//! record of weight 0 gets weight 1. Records of weight 0 among themselves share equally, as
//! RFC 2782 asks; next to records of positive weight they get the share of weight 1 (zones that
//! want them to have "a very small chance" give the others large weights, such as 100).
//! Every address of a target gets the record's full weight.
//!
//! # Refresh and change notification
//!
//! A background task (started on the first `discover` or `subscribe`, stopped when the source
//! is dropped) refreshes when the smallest TTL of the records used runs out (SRV records, CNAME
//! records on the way, and target addresses), clamped to
//! [`refresh_bounds`](DnsDiscoveryBuilder::refresh_bounds) (default 1 s to 60 s). The resolver's
//! cache is cleared before each refresh, so every refresh asks the nameservers. The load
//! balancer is notified only when the answer changes: addresses, weights or SRV metadata.
//! `discover` returns the current answer without querying (the first call waits for the first
//! refresh).
//!
//! # Failure policy
//!
//! - **Failures** (SERVFAIL, REFUSED, timeout, unreachable nameserver, undecodable or otherwise
//!   erroneous answer, a CNAME chain too long, the refresh deadline): the last good set stays
//!   and the refresh is retried with exponential backoff
//!   ([`retry_backoff`](DnsDiscoveryBuilder::retry_backoff), default 1 s doubling to 30 s). With
//!   `IpFamily::Both`, a failure of either family fails the refresh.
//! - **Negative answers** (NXDOMAIN, an empty answer, SRV records all with target `.`, no SRV
//!   target resolving): the last good set stays for a grace period
//!   ([`negative_grace`](DnsDiscoveryBuilder::negative_grace), default 30 s) from the first
//!   negative answer of a run, with refreshes at the negative TTL (from the SOA record, or the
//!   minimum interval); the first negative answer at or after the end of the grace period
//!   publishes an empty set. Any answer with records ends the run.
//! - **One SRV target** that fails is kept at its previous addresses (and the next refresh comes
//!   no later than the retry backoff); one that does not exist is left out.
//! - Before the first answer, `discover` returns the last error; an empty set is published
//!   only once a grace period of negative answers has passed.
//!
//! Every failure is logged with `tracing` and counted in [`DnsStats`] (from
//! [`DnsDiscovery::monitor`]); nothing panics.
//!
//! # Bad answers
//!
//! - **Records**: at most [`max_records`](DnsDiscoveryBuilder::max_records) (default 1,000)
//!   addresses per name, SRV records, and backends per answer; the first in a deterministic
//!   order are kept (addresses sorted, IPv4 first; SRV records by priority, weight descending,
//!   target, port), the rest counted as dropped.
//! - **Addresses** `0.0.0.0`, `::`, multicast and broadcast are left out; duplicates are merged
//!   (for SRV, the best record keeps the address).
//! - **SRV records** with port 0 are left out; target `.` means "no service".
//! - **CNAME chains** are followed through the answer up to [`MAX_CNAME_CHAIN`] (8) records; a
//!   longer complete chain is a failure ([`DnsError::CnameChainTooLong`]). Records not on the
//!   chain from the name asked (other names, other classes) are ignored, so an answer cannot
//!   inject addresses for another name. For chains an answer leaves incomplete,
//!   hickory-resolver issues follow-up queries, at most 8 deep; a chain that still has no end
//!   then (a loop, or a very long chain served one link at a time) ends as an empty answer, a
//!   negative answer here.
//! - **TTLs**: hickory-resolver caps every TTL at one day (86,400 s) before this crate sees it,
//!   so an absurd TTL (even one with the high bit set, which RFC 2181 reads as 0) counts as a
//!   day; every TTL is then clamped to the refresh bounds, so it waits `max` at most.
//! - **Size and time**: UDP answers are bounded by the EDNS payload size the resolver
//!   advertises, TCP answers by DNS's 64 KiB message limit; truncated UDP answers are retried
//!   over TCP (unless [`Transport::Udp`]). Every query has a deadline
//!   ([`query_timeout`](DnsDiscoveryBuilder::query_timeout), default 2 s, and
//!   [`attempts`](DnsDiscoveryBuilder::attempts), default 2) and every refresh too
//!   ([`refresh_timeout`](DnsDiscoveryBuilder::refresh_timeout), default 30 s).
//!
//! # Testing
//!
//! [`testing::TestDnsServer`] is a small authoritative DNS server for tests and demos: UDP and
//! TCP on loopback, a zone that the test edits while the resolver runs, and failure injection
//! (SERVFAIL, REFUSED, NXDOMAIN, silence).
//!
//! # Feature flags
//!
//! None. The crate enables lb-core's `runtime` feature and hickory-resolver's `tokio` and
//! `system-config` features, and no DNS-over-TLS/HTTPS or DNSSEC feature (so no TLS provider).

mod answer;
mod builder;
mod config;
mod discovery;
mod entry;
mod error;
mod monitor;
mod resolve;
mod resolver;
mod schedule;
mod srv;
pub mod testing;

pub use builder::DnsDiscoveryBuilder;
pub use config::{
    DEFAULT_ATTEMPTS, DEFAULT_MAX_RECORDS, DEFAULT_MAX_REFRESH, DEFAULT_MIN_REFRESH,
    DEFAULT_NEGATIVE_GRACE, DEFAULT_QUERY_TIMEOUT, DEFAULT_REFRESH_TIMEOUT, DEFAULT_RETRY_MAX,
    DEFAULT_RETRY_MIN, IpFamily, MAX_CNAME_CHAIN, Nameserver, PriorityPolicy, Transport,
};
pub use discovery::DnsDiscovery;
pub use entry::SrvTarget;
pub use error::{DnsError, FailureKind};
pub use monitor::{DnsMonitor, DnsStats};
