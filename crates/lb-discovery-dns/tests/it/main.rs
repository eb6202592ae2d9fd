//! Integration tests of lb-discovery-dns against a real DNS server on loopback
//! ([`lb_discovery_dns::testing::TestDnsServer`], UDP and TCP), mostly under tokio's paused
//! clock: TTLs and backoffs elapse in virtual time while queries travel over real sockets.

mod a_aaaa;
mod cname;
mod failover;
mod failures;
mod lifecycle;
mod srv;
mod support;
