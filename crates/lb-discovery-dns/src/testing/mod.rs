//! A small authoritative DNS server for tests and demos: [`TestDnsServer`].
//!
//! It answers over UDP and TCP on one loopback port from a zone held in memory, which the test
//! edits while resolvers query it, and injects faults (SERVFAIL, REFUSED, NXDOMAIN, silence)
//! per name. An answer larger than the transport allows (the client's EDNS payload size over
//! UDP, 512 bytes without EDNS; 64 KiB over TCP) first drops its additional section; a UDP answer
//! still too large is truncated (TC set), so clients retry over TCP as with real servers, and a
//! TCP answer still too large becomes SERVFAIL.
//!
//! It is not a production DNS server: no zone files, no wildcards, no DNSSEC, no zone transfers.
//! Every read is bounded: UDP datagrams by a 4 KiB buffer, TCP messages by their 2-byte length
//! prefix, and each TCP connection by an idle deadline.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use lb_discovery_dns::testing::TestDnsServer;
//! use lb_discovery_dns::DnsDiscovery;
//! use lb_core::ServiceDiscovery;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let server = TestDnsServer::start().await?;
//! server.set_a("web.test.", 30, [Ipv4Addr::new(127, 0, 0, 1)]);
//! let dns = DnsDiscovery::a_aaaa("web.test.", 8080)
//!     .nameserver(server.nameserver())
//!     .build()
//!     .unwrap();
//! let answer = dns.discover().await.unwrap();
//! assert_eq!(answer.backends[0].addr.to_string(), "127.0.0.1:8080");
//! # Ok(())
//! # }
//! ```

mod serve;
mod zone;

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::task::JoinHandle;

use crate::config::Nameserver;
use zone::Zone;

/// A fault the server injects for a name instead of answering from the zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// Answer SERVFAIL.
    ServFail,
    /// Answer REFUSED.
    Refused,
    /// Answer NXDOMAIN even if the zone has records.
    NxDomain,
    /// Do not answer at all: the client times out.
    Silent,
}

/// The record types the server holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordKind {
    /// IPv4 addresses.
    A,
    /// IPv6 addresses.
    Aaaa,
    /// Service records.
    Srv,
    /// An alias.
    Cname,
}

/// One SRV record to serve.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SrvSpec {
    /// Lower is preferred.
    pub priority: u16,
    /// Relative weight within a priority.
    pub weight: u16,
    /// The service's port.
    pub port: u16,
    /// The target host name (`.` for "no service").
    pub target: String,
}

impl SrvSpec {
    /// An SRV record.
    pub fn new(priority: u16, weight: u16, port: u16, target: impl Into<String>) -> Self {
        SrvSpec {
            priority,
            weight,
            port,
            target: target.into(),
        }
    }
}

/// An authoritative DNS server on loopback, for tests and demos. See the [module
/// docs](self).
///
/// Names are case-insensitive and may be given with or without the final dot. The server stops
/// when dropped.
pub struct TestDnsServer {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    queries: Arc<AtomicU64>,
    tasks: Vec<JoinHandle<()>>,
}

fn lock(zone: &Mutex<Zone>) -> MutexGuard<'_, Zone> {
    // Zone edits are single assignments; a panic elsewhere cannot leave one half done.
    zone.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TestDnsServer {
    /// Starts a server on `127.0.0.1`, UDP and TCP on the same free port.
    pub async fn start() -> io::Result<Self> {
        Self::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST)).await
    }

    /// Starts a server on `ip` (such as `::1`), UDP and TCP on the same free port.
    pub async fn start_on(ip: IpAddr) -> io::Result<Self> {
        let (udp, tcp) = serve::bind_pair(ip).await?;
        let addr = udp.local_addr()?;
        let zone = Arc::new(Mutex::new(Zone::default()));
        let queries = Arc::new(AtomicU64::new(0));
        let tasks = vec![
            tokio::spawn(serve::udp(udp, Arc::clone(&zone), Arc::clone(&queries))),
            tokio::spawn(serve::tcp(tcp, Arc::clone(&zone), Arc::clone(&queries))),
        ];
        Ok(TestDnsServer {
            addr,
            zone,
            queries,
            tasks,
        })
    }

    /// The address the server listens on (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// This server as a nameserver for [`DnsDiscoveryBuilder::nameserver`](crate::DnsDiscoveryBuilder::nameserver),
    /// over UDP with TCP fallback.
    pub fn nameserver(&self) -> Nameserver {
        Nameserver::udp_and_tcp(self.addr)
    }

    /// How many queries the server has received (UDP and TCP, answered or not).
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// Sets the A records of `name`.
    pub fn set_a(&self, name: &str, ttl: u32, ips: impl IntoIterator<Item = Ipv4Addr>) {
        lock(&self.zone).set_a(name, ttl, ips.into_iter().collect());
    }

    /// Sets the AAAA records of `name`.
    pub fn set_aaaa(&self, name: &str, ttl: u32, ips: impl IntoIterator<Item = Ipv6Addr>) {
        lock(&self.zone).set_aaaa(name, ttl, ips.into_iter().collect());
    }

    /// Sets the SRV records of `name`.
    pub fn set_srv(&self, name: &str, ttl: u32, records: impl IntoIterator<Item = SrvSpec>) {
        lock(&self.zone).set_srv(name, ttl, records.into_iter().collect());
    }

    /// Makes `name` an alias of `target`.
    pub fn set_cname(&self, name: &str, ttl: u32, target: &str) {
        lock(&self.zone).set_cname(name, ttl, target);
    }

    /// Removes the records of one kind from `name` (the name keeps its other records; a name
    /// left without records does not exist).
    pub fn remove_records(&self, name: &str, kind: RecordKind) {
        lock(&self.zone).remove_kind(name, kind);
    }

    /// Removes `name` and all its records: it answers NXDOMAIN.
    pub fn remove(&self, name: &str) {
        lock(&self.zone).remove(name);
    }

    /// Injects `fault` for every query of `name` (`None` clears it).
    pub fn set_fault(&self, name: &str, fault: Option<Fault>) {
        lock(&self.zone).set_fault(name, None, fault);
    }

    /// Injects `fault` for queries of one record kind of `name` (`None` clears it). A fault for
    /// the kind wins over one for the whole name.
    pub fn set_fault_for(&self, name: &str, kind: RecordKind, fault: Option<Fault>) {
        lock(&self.zone).set_fault(name, Some(kind), fault);
    }

    /// Whether SRV answers carry the A/AAAA records of their targets in the additional
    /// section (default: no).
    pub fn set_srv_additionals(&self, on: bool) {
        lock(&self.zone).srv_additionals = on;
    }

    /// Whether the server follows CNAME chains within one answer (default: yes). When off, an
    /// answer holds only the first CNAME and the client must query its target.
    pub fn set_follow_cnames(&self, on: bool) {
        lock(&self.zone).follow_cnames = on;
    }

    /// The TTL of the SOA record sent with negative answers, which clients use as the negative
    /// TTL (default: 1 s).
    pub fn set_negative_ttl(&self, ttl: u32) {
        lock(&self.zone).negative_ttl = ttl;
    }
}

impl Drop for TestDnsServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl fmt::Debug for TestDnsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDnsServer")
            .field("addr", &self.addr)
            .field("queries", &self.queries())
            .finish_non_exhaustive()
    }
}
